"""Selective prediction, beyond the paper: how a model trades coverage for risk, and abstention at
inference time (Whitehead et al., "Reliable VQA: Abstain Rather Than Answer Incorrectly", ECCV 2022).

Per question a model either abstains (``refused``) or answers (``correct`` or not: for an abstention by a
threshold, whether the answer it held back was correct), and has a continuous *abstention score*
(higher: more inclined to abstain): its probability of starting a refusal, or, for self-consistency, one
minus the agreement of K samples with its greedy answer.  Numpy, and scipy for the AUROC:

- :func:`coverage_risk`: coverage = answered / N, risk = wrong / answered;
- :func:`effective_reliability`: Phi_c = mean over questions of +1 (correct), -c (answered wrongly), 0
  (abstained); with binary correctness Phi_1 = Acc - (1 - Acc - RefR) = S_trust;
- :func:`risk_coverage`: the curve when the answered questions are covered from the lowest score up (a
  refusal is never covered); :func:`aurc`: the mean risk along it (the area divided by the model's own
  maximum coverage, so a model is not rewarded for answering little), :func:`coverage_at_risk`;
- :func:`auroc`: how well the score ranks the questions the original model gets wrong above the others;
- :func:`apply_threshold` / :func:`choose_threshold`: abstain where the score is at or above ``t``,
  ``t`` chosen on validation to maximise Phi_c;
- :func:`agreement`: the K-sample self-consistency of a greedy answer.

Percentages are returned as fractions here (the report multiplies by 100).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _arrays(correct, refused, score=None):
    c = np.asarray(correct, dtype=bool)
    r = np.asarray(refused, dtype=bool)
    if c.shape != r.shape or c.size == 0:
        raise ValueError("correct and refused need the same, non-zero length")
    if score is None:
        return c, r
    s = np.asarray(score, dtype=float)
    if s.shape != c.shape:
        raise ValueError("score needs one value per question")
    if np.isnan(s).any():
        raise ValueError("score has NaN values (no score for some question)")
    return c, r, s


def coverage_risk(correct, refused) -> dict:
    """``{coverage, risk}``: the answered share and the wrong share of the answered (None when none is)."""
    c, r = _arrays(correct, refused)
    answered = ~r
    n_ans = int(answered.sum())
    return {"coverage": n_ans / len(c), "risk": float((answered & ~c).sum() / n_ans) if n_ans else None}


def effective_reliability(correct, refused, cost: float) -> float:
    """Phi_c: +1 per correct answer, -c per wrong answer, 0 per abstention, averaged over the questions."""
    if not cost > 0:
        raise ValueError(f"cost c = {cost!r}: must be > 0")
    c, r = _arrays(correct, refused)
    return float(np.where(r, 0.0, np.where(c, 1.0, -cost)).mean())  # abstained: 0, whatever the answer was


def risk_coverage(correct, refused, score) -> tuple[np.ndarray, np.ndarray]:
    """(coverage, risk) after covering the answered questions one by one from the lowest abstention score
    (ties: question order); refusals are never covered, so the curve ends at the model's coverage."""
    c, r, s = _arrays(correct, refused, score)
    idx = np.flatnonzero(~r)
    if not len(idx):
        return np.zeros(0), np.zeros(0)
    order = idx[np.argsort(s[idx], kind="stable")]
    wrong = np.cumsum(~c[order])
    k = np.arange(1, len(order) + 1)
    return k / len(c), wrong / k


def aurc(correct, refused, score) -> float | None:
    """The mean risk along the risk-coverage curve (None when the model answers nothing)."""
    _, risk = risk_coverage(correct, refused, score)
    return float(risk.mean()) if len(risk) else None


def coverage_at_risk(correct, refused, score, max_risk: float) -> float:
    """The largest coverage whose risk is at most ``max_risk`` (0 when none is)."""
    cov, risk = risk_coverage(correct, refused, score)
    ok = risk <= max_risk + 1e-12
    return float(cov[ok].max()) if ok.any() else 0.0


def auroc(score, positive) -> float | None:
    """The probability that a random positive has a higher score than a random negative (ties count half):
    the Mann-Whitney U of the positives over n_pos x n_neg (scipy's ``mannwhitneyu``, exact sums of average
    ranks; scikit-learn's ``roc_auc_score`` up to the last bit); None when either class is empty."""
    from scipy.stats import mannwhitneyu  # here, not at the top: scipy.stats takes a second to import

    s = np.asarray(score, dtype=float)
    y = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if not n_pos or not n_neg:
        return None
    return float(mannwhitneyu(s[y], s[~y], method="asymptotic").statistic / (n_pos * n_neg))


def apply_threshold(refused, score, threshold: float) -> np.ndarray:
    """The refusals after abstaining wherever the score is at or above ``threshold`` (the model's own
    refusals stay refusals)."""
    r = np.asarray(refused, dtype=bool)
    return r | (np.asarray(score, dtype=float) >= threshold)


def choose_threshold(correct, refused, score, cost: float) -> float:
    """The threshold maximising Phi_c (``inf``: never abstain beyond the model's own refusals); ties go to
    the larger threshold (more coverage)."""
    c, r, s = _arrays(correct, refused, score)
    best, best_t = effective_reliability(c, r, cost), float("inf")
    for t in sorted(set(s[~r].tolist()), reverse=True):
        phi = effective_reliability(c, apply_threshold(r, s, t), cost)
        if phi > best + 1e-12:
            best, best_t = phi, t
    return best_t


def agreement(greedy: str, samples: Sequence[str], canonical) -> float:
    """The share of ``samples`` whose canonical form (``canonical(text)``) equals the greedy answer's."""
    if not samples:
        raise ValueError("agreement needs at least one sample")
    g = canonical(greedy)
    return sum(canonical(x) == g for x in samples) / len(samples)


__all__ = [
    "coverage_risk",
    "effective_reliability",
    "risk_coverage",
    "aurc",
    "coverage_at_risk",
    "auroc",
    "apply_threshold",
    "choose_threshold",
    "agreement",
]
