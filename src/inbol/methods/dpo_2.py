"""Plain DPO on data (2) of Table 4 (Mixed as correct > incorrect), from the IDK-IT model (TRL's sigmoid loss)."""

from .spec import make

SPEC = make(
    name="dpo_2",
    label="DPO (2)",
    kind="preference",
    start="idk_it",
    data="dpo_2",
    loss="sigmoid",
    paper_table1=None,
    paper_table3=None,
    paper_table4="DPO (2)",
    tables=("table4",),
    order=42,
)
