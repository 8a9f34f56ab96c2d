"""The original model, prompted as it is."""

from .spec import make

SPEC = make(
    name="base",
    label="Original",
    kind="prompt",
    start=None,
    data=None,
    loss=None,
    paper_table1="Original",
    paper_table3="Original",
    paper_table4=None,
    tables=("table1", "table2", "table3", "table5", "figure4"),
    order=0,
)
