"""IDK instruction tuning (section 3.3): LoRA supervised tuning on Known answers and Unknown refusals."""

from .spec import make

SPEC = make(
    name="idk_it",
    label="IDK-IT",
    kind="sft",
    start="base",
    data="idk_it",
    loss=None,
    paper_table1="+IDK-IT",
    paper_table3="IDK-IT",
    paper_table4=None,
    tables=("table1", "table2", "table3", "table5", "figure4"),
    order=30,
)
