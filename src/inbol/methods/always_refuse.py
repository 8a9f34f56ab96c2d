"""Reference row "Always refuse": every question refused (no model runs).  S_trust is 0 on every set, answerable
or not: the score a trained method must beat to show that it answers better than it guesses."""

from .spec import InferenceRule, make

SPEC = make(
    name="always_refuse",
    label="Always refuse",
    kind="inference",
    start=None,
    data=None,
    loss=None,
    paper_table1=None,
    paper_table3=None,
    paper_table4=None,
    tables=("table1", "table2", "table3", "table4", "table5", "figure4"),
    order=1,
)

RULE = InferenceRule(answers=lambda conf, t: False, score=lambda conf: 1.0, threshold=None)
