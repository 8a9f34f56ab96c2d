"""Plain DPO on data (3) of Table 4 (Mixed as both pairs (CA-DPO's pairs)), from the IDK-IT model (TRL's sigmoid loss)."""

from .spec import make

SPEC = make(
    name="dpo_3",
    label="DPO (3)",
    kind="preference",
    start="idk_it",
    data="dpo_3",
    loss="sigmoid",
    paper_table1=None,
    paper_table3=None,
    paper_table4="DPO (3)",
    tables=("table4",),
    order=43,
)
