"""Plain DPO on data (1) of Table 4 (Mixed as refusal > incorrect), from the IDK-IT model (TRL's sigmoid loss)."""

from .spec import make

SPEC = make(
    name="dpo_1",
    label="DPO (1)",
    kind="preference",
    start="idk_it",
    data="dpo_1",
    loss="sigmoid",
    paper_table1=None,
    paper_table3=None,
    paper_table4="DPO (1)",
    tables=("table4",),
    order=41,
)
