"""The Refusal Prompt baseline (section 4.1.2): the original model with the paper's refusal instruction appended."""

from .spec import make

SPEC = make(
    name="refusal_prompt",
    label="Refusal Prompt",
    kind="prompt",
    start=None,
    data=None,
    loss=None,
    paper_table1="+Refusal Prompt",
    paper_table3=None,
    paper_table4=None,
    tables=("table1", "table2", "table5"),
    order=10,
)
