"""Uncertainty of the trustworthiness metrics: bootstrap confidence intervals over questions and seeds,
paired differences between models, and verdicts.  Pure numpy; one bootstrap loop (:func:`resample`).

A model's result on a set is a matrix ``V`` of response values, one row per run (training seed), one
column per question: +1 correct, 0 refusal, -1 incorrect (:func:`values`).  Then ``Acc`` is the share of
+1, ``RefR`` of 0, ``S_trust = mean(V)`` (= 2 Acc + RefR - 1) and answered accuracy ``#(+1) / #(!= 0)``,
all in percent, each the mean over the runs.

The bootstrap (:func:`bootstrap`) draws, per replicate, the runs with replacement and the questions with
replacement *within each set* (stratified: a pooled group keeps its sets' sizes) and recomputes the
metric; the interval is the percentile interval of the replicates at ``level``.  A difference between two
models (:func:`paired_difference`) uses the *same* question draw for both (they answered the same
questions), and pairs their runs by seed when both have the same seeds (CA-DPO seed s starts from IDK-IT
seed s), else draws each model's runs independently.  :func:`verdict`: a claim ``A > B`` (or ``>=``)
*holds* when the whole interval of A - B is above 0, *does not hold* when it is below 0, and is
*inconclusive* when it contains 0.

Groups: a set is one matrix; "in domain" pools its sets (counts summed, as the paper's Overall); "OOD" is
the unweighted mean over the answerable out-of-domain sets (as the paper's Table 4), the per-set metric
computed first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

VALUE = {"correct": 1, "refusal": 0, "incorrect": -1}
METRICS = ("acc", "refr", "s_trust", "answered_acc")


def values(verdicts: Sequence[str]) -> np.ndarray:
    """+1 / 0 / -1 for correct / refusal / incorrect."""
    try:
        return np.array([VALUE[v] for v in verdicts], dtype=np.int8)
    except KeyError as e:
        raise ValueError(f"unknown verdict {e.args[0]!r}") from None


def metric_of(v: np.ndarray, metric: str) -> float:
    """One metric (percent) of a value array (any shape: runs x questions, or flat); NaN when undefined."""
    v = np.asarray(v)
    if v.size == 0:
        return float("nan")
    if metric == "acc":
        return 100.0 * float((v == 1).mean())
    if metric == "refr":
        return 100.0 * float((v == 0).mean())
    if metric == "s_trust":
        return 100.0 * float(v.mean())
    if metric == "answered_acc":
        answered = int((v != 0).sum())
        return 100.0 * float((v == 1).sum()) / answered if answered else float("nan")
    raise ValueError(f"unknown metric {metric!r}; one of {', '.join(METRICS)}")


def group_metric(sets: Sequence[np.ndarray], metric: str, how: str) -> float:
    """The metric of a group of sets (each runs x questions): ``pooled`` counts, or the ``mean`` over sets."""
    if how == "pooled":
        return metric_of(np.concatenate([s.reshape(-1) for s in sets]), metric)
    if how == "mean":
        vals = [metric_of(s, metric) for s in sets]
        return float(np.mean(vals))
    raise ValueError(f"how must be pooled or mean, got {how!r}")


def _resample(sets: Sequence[np.ndarray], runs: np.ndarray, questions: Sequence[np.ndarray]) -> list[np.ndarray]:
    return [s[runs][:, q] for s, q in zip(sets, questions)]


def _matrices(sets: Sequence[np.ndarray]) -> list[np.ndarray]:
    sets = [np.atleast_2d(np.asarray(s)) for s in sets]
    if any(s.shape[0] != sets[0].shape[0] for s in sets):
        raise ValueError("every set of a group needs the same number of runs")
    return sets


def resample(
    sets: Sequence[np.ndarray],
    stat,
    *,
    other: Sequence[np.ndarray] | None = None,
    pair_runs: bool = False,
    n_boot: int = 1000,
    seed: int = 0,
    runs_first: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The one bootstrap loop: ``(point, replicates)`` of a vector statistic ``stat(sets) -> [float, ...]``
    of a group of (runs x questions) matrices, or with ``other``, of ``stat(sets) - stat(other)`` on the
    same question draw (paired questions; the runs paired too when ``pair_runs``, else drawn for each side).
    Per replicate the runs are drawn with replacement as clusters (whole rows) and the questions with
    replacement within each set, from one generator seeded by ``seed``: the questions first, then the runs
    (``runs_first``: the runs first, :func:`bootstrap`'s order), then the other side's runs."""
    sets = _matrices(sets)
    if other is not None:
        other = _matrices(other)
        if [s.shape[1] for s in sets] != [s.shape[1] for s in other]:
            raise ValueError("a paired difference needs the same questions on both sides")
        if pair_runs and sets[0].shape[0] != other[0].shape[0]:
            raise ValueError("paired runs need the same number of runs on both sides")

    def value(a, b):
        v = np.asarray(stat(a), dtype=float)
        return v if b is None else v - np.asarray(stat(b), dtype=float)

    rng = np.random.default_rng(seed)
    n_runs = sets[0].shape[0]
    reps = []
    for _ in range(n_boot):
        runs = rng.integers(0, n_runs, n_runs) if runs_first else None
        qs = [rng.integers(0, s.shape[1], s.shape[1]) for s in sets]
        runs = rng.integers(0, n_runs, n_runs) if runs is None else runs
        drawn = None
        if other is not None:
            rb = runs if pair_runs else rng.integers(0, other[0].shape[0], other[0].shape[0])
            drawn = _resample(other, rb, qs)
        reps.append(value(_resample(sets, runs, qs), drawn))
    return value(sets, other), np.asarray(reps, dtype=float).reshape(n_boot, -1)


def bootstrap(
    sets: Sequence[np.ndarray],
    metrics: Sequence[str] = METRICS,
    *,
    how: str = "pooled",
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, dict]:
    """Per metric ``{mean, lo, hi, n_boot, level}`` of a group: the point estimate on the data and the
    percentile interval of ``n_boot`` replicates (runs and questions drawn with replacement, questions within
    each set; one draw serves every metric).  Every set must have the same number of runs."""
    point, reps = resample(
        sets, lambda d: [group_metric(d, m, how) for m in metrics], n_boot=n_boot, seed=seed, runs_first=True
    )
    return {m: _interval(point[j], reps[:, j], n_boot, level) for j, m in enumerate(metrics)}


def paired_difference(
    a: Sequence[np.ndarray],
    b: Sequence[np.ndarray],
    metrics: Sequence[str] = METRICS,
    *,
    how: str = "pooled",
    pair_runs: bool = False,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, dict]:
    """Per metric ``{mean, lo, hi, ...}`` of metric(A) - metric(B) on the same questions (sets in the same
    order and question order); ``pair_runs``: draw the same runs for both (same seeds), else independently."""
    point, reps = resample(
        a, lambda d: [group_metric(d, m, how) for m in metrics], other=b, pair_runs=pair_runs, n_boot=n_boot, seed=seed
    )
    return {m: _interval(point[j], reps[:, j], n_boot, level) for j, m in enumerate(metrics)}


def bootstrap_stat(
    sets: Sequence[np.ndarray],
    stat,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    other: Sequence[np.ndarray] | None = None,
    pair_runs: bool = False,
) -> dict:
    """The interval of any statistic ``stat(sets) -> float`` of a list of (runs x questions) matrices, or,
    with ``other``, of ``stat(sets) - stat(other)`` on the same question draw (runs paired when
    ``pair_runs``), e.g. the mean of in-domain and OOD S_trust of a sweep cell against the best cell."""
    point, reps = resample(sets, lambda d: [stat(d)], other=other, pair_runs=pair_runs, n_boot=n_boot, seed=seed)
    return _interval(point[0], reps[:, 0], n_boot, level)


def _interval(point: float, reps: Sequence[float], n_boot: int, level: float) -> dict:
    r = np.asarray(reps, dtype=float)
    r = r[~np.isnan(r)]
    if len(r) == 0 or np.isnan(point):
        return {"mean": None if np.isnan(point) else point, "lo": None, "hi": None, "n_boot": n_boot, "level": level}
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(r, [alpha, 1.0 - alpha])
    return {"mean": float(point), "lo": float(lo), "hi": float(hi), "n_boot": n_boot, "level": level}


def verdict(diff: Mapping) -> str:
    """``holds`` (the interval of A - B is above 0), ``does not hold`` (below 0) or ``inconclusive``."""
    if diff.get("lo") is None or diff.get("hi") is None:
        return "not checked"
    if diff["lo"] > 0:
        return "holds"
    if diff["hi"] < 0:
        return "does not hold"
    return "inconclusive"


def standard_error(v: np.ndarray, metric: str = "s_trust") -> float:
    """The analytic standard error (percent) of one run's Acc/RefR/S_trust on N questions."""
    x = np.asarray(v, dtype=float).reshape(-1)
    if metric == "s_trust":
        return 100.0 * float(x.std(ddof=1) / np.sqrt(len(x)))
    p = float((x == (1 if metric == "acc" else 0)).mean())
    return 100.0 * float(np.sqrt(p * (1 - p) / len(x)))


def format_ci(ci: Mapping | None, digits: int = 1) -> str:
    """``49.1 [47.8, 50.3]`` (``—`` when undefined)."""
    if not ci or ci.get("mean") is None:
        return "—"
    if ci.get("lo") is None:
        return f"{ci['mean']:.{digits}f}"
    return f"{ci['mean']:.{digits}f} [{ci['lo']:.{digits}f}, {ci['hi']:.{digits}f}]"


__all__ = [
    "VALUE",
    "METRICS",
    "values",
    "metric_of",
    "group_metric",
    "bootstrap",
    "bootstrap_stat",
    "resample",
    "paired_difference",
    "verdict",
    "standard_error",
    "format_ci",
]
