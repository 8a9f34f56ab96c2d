"""Reference row "Original, conf >= t": the original model's greedy answer where its K-sample confidence (the
share of its K samples judged correct, the paper's boundary of section 3.2) is at least ``t``, else the
refusal; ``t`` is chosen on the validation sets (inbol.evaluation.references), ``delta_k`` shown beside it.
No model runs: it reads the original's greedy predictions and the confidences of the test and validation
sets.  The confidence needs the gold answers, so the row is an oracle reference, not a deployable method."""

from .spec import InferenceRule, make

EPS = 1e-9  # confidences are k/K floats: 0.7 >= 0.7 whatever the rounding

SPEC = make(
    name="original_conf",
    label="Original, conf >= t",
    kind="inference",
    start=None,
    data=None,
    loss=None,
    paper_table1=None,
    paper_table3=None,
    paper_table4=None,
    tables=("table1", "table2", "table3", "table4", "table5", "figure4"),
    order=2,
)

RULE = InferenceRule(answers=lambda conf, t: conf >= t - EPS, score=lambda conf: 1.0 - conf, threshold="validation")
