"""The ``diagnose`` section: diagnostics of refusal against the original model's knowledge, validation only
(inbol.diagnose)."""

from __future__ import annotations

from .core import Float, Int, PosInt, Section, Seed, UniqueList


class Diagnose(Section):
    max_per_bucket: PosInt  # questions per bucket (a seeded sample) that each model answers / is scored on
    probe_train: PosInt  # pool questions (a seeded sample) the probe of the original model is trained on
    probe_c: UniqueList(Float(0.0, lo_open=True))  # LogisticRegression C values, the best by CV on the pool
    cv_folds: Int(2, 20)  # folds of that CV (fewer when a class has fewer questions)
    n_boot: PosInt  # bootstrap replicates of every interval (questions resampled)
    min_n: PosInt  # a figure on fewer questions (an AUROC: of either class) is n/a with a warning
    seed: Seed  # the samples, the CV split and the bootstrap
