"""The information boundary (paper section 3.2, Figure 3): the Known / Mixed / Unknown split of the
restructured questions by confidence, and the training data built from it.

- :mod:`.split`: :func:`bucket` (Known: conf >= delta_k; Unknown: conf <= delta_uk; Mixed otherwise, with
  a 1e-9 tolerance so a confidence on a threshold counts as on it) and :func:`assemble_pool` (restructured
  VQA questions + kept unanswerable questions, conf 0 -> Unknown);
- :mod:`.select`: the size/ratio selection (:func:`ratio_counts`, the largest set keeping the ratio when
  the pool falls short) and the seeded choice of questions;
- :mod:`.sets`: IDK instructions, CA-DPO preferences (p1, p2 per question), the plain DPO variants
  (1)(2)(3) of section 4.3.3, the SFT baseline, and :func:`construct_metrics`.
"""

from .select import quota, ratio_counts, shuffled, take
from .sets import (
    DPO_VARIANTS,
    IDK_CLASSES,
    PREF_CLASSES,
    SET_NAMES,
    build_training_sets,
    construct,
    construct_metrics,
    dpo_variant,
    ground_truth,
    idk_it_set,
    preference_pairs,
    preference_set,
    sft_set,
)
from .split import BUCKETS, EPS, assemble_pool, bucket, refusal_of, response

__all__ = [
    "BUCKETS",
    "EPS",
    "bucket",
    "assemble_pool",
    "refusal_of",
    "response",
    "quota",
    "ratio_counts",
    "shuffled",
    "take",
    "DPO_VARIANTS",
    "IDK_CLASSES",
    "PREF_CLASSES",
    "SET_NAMES",
    "build_training_sets",
    "construct",
    "construct_metrics",
    "dpo_variant",
    "ground_truth",
    "idk_it_set",
    "preference_pairs",
    "preference_set",
    "sft_set",
]
