"""Evaluation (paper section 2.2, 4.1.2 and appendix F): metrics, test sets, evaluating a model, the report.

- :mod:`.metrics`: Acc, RefR, S_trust, Answered Acc; pooling; confidence bins; exposure buckets (pure);
- :mod:`.testsets`: the in-domain sets balanced to the base model's target accuracy, OOD and extra sets;
- :mod:`.evaluate`: greedy answers, verdicts (hybrid in domain, string matching out of domain), metrics;
- :mod:`.report`: Tables 1-4, Figure 4, the exposure figure and the trend checks;
- :mod:`.paper`: the paper's reported numbers (reference only).
"""

from .evaluate import (
    REFUSAL_SUFFIX,
    TestSet,
    answer_sets,
    check_coverage,
    check_model_dir,
    evaluate_model,
    judge_sets,
    load_testsets,
    make_testset,
    prompt_suffix,
    score,
    score_runs,
)
from .metrics import (
    CONF_EDGES,
    EXPOSURE_BUCKETS,
    by_conf_bin,
    by_exposure,
    conf_bin,
    conf_bin_labels,
    counts_from_percent,
    macro_average,
    pool,
    set_metrics,
    spearman,
    trust_metrics,
)
from .testsets import SETS, build_testsets, gap_to_target, select_balanced, testsets_metrics, tilted_quotas

__all__ = [
    "REFUSAL_SUFFIX",
    "TestSet",
    "answer_sets",
    "check_coverage",
    "check_model_dir",
    "evaluate_model",
    "judge_sets",
    "load_testsets",
    "make_testset",
    "prompt_suffix",
    "score",
    "score_runs",
    "CONF_EDGES",
    "EXPOSURE_BUCKETS",
    "by_conf_bin",
    "by_exposure",
    "conf_bin",
    "conf_bin_labels",
    "counts_from_percent",
    "macro_average",
    "pool",
    "set_metrics",
    "spearman",
    "trust_metrics",
    "SETS",
    "build_testsets",
    "gap_to_target",
    "select_balanced",
    "testsets_metrics",
    "tilted_quotas",
]
