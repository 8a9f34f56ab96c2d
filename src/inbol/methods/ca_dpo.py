"""CA-DPO (section 3.3, equation 6): confidence-weighted DPO on the preference records, from the IDK-IT model."""

from .spec import make

SPEC = make(
    name="ca_dpo",
    label="CA-DPO",
    kind="preference",
    start="idk_it",
    data="preference",
    loss="ca_dpo",
    paper_table1="+CA-DPO",
    paper_table3="CA-DPO",
    paper_table4="CA-DPO (3)",
    tables=("table1", "table2", "table3", "table4", "table5", "figure4"),
    order=50,
)
