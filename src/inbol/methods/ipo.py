"""IPO (Azar et al. 2023), a preference baseline beyond the paper: TRL's ``loss_type="ipo"`` on CA-DPO's pairs
(data (3) of Table 4: every pair of the preference records, unweighted), from the IDK-IT model and against the
same reference; ``dpo.beta`` is IPO's regularisation tau."""

from .spec import make

SPEC = make(
    name="ipo",
    label="IPO",
    kind="preference",
    start="idk_it",
    data="dpo_3",
    loss="ipo",
    paper_table1=None,
    paper_table3=None,
    paper_table4=None,
    tables=("table1", "table2", "table3", "table4"),
    order=45,
)
