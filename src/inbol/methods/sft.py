"""The SFT baseline (section 4.1.2): LoRA supervised tuning on ground truths and refusals."""

from .spec import make

SPEC = make(
    name="sft",
    label="SFT",
    kind="sft",
    start="base",
    data="sft",
    loss=None,
    paper_table1="+SFT",
    paper_table3=None,
    paper_table4=None,
    tables=("table1", "table2"),
    order=20,
)
