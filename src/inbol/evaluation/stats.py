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

Clusters (:func:`units`): questions that share a unit are not independent draws.  On the embedded world the
1,000 OVEN-like test questions show 24 emblems, so an interval that resamples them one by one is too narrow.
With ``units`` (per set the unit index of each question), a replicate draws the *units* of each set with
replacement (as many as the set has) and a drawn unit brings all its questions (a cluster bootstrap; sets
stay stratified, the runs are drawn as before, and a paired difference uses the same unit draw for both
sides).  A set whose questions are all distinct units is drawn exactly as without units (the same random
numbers), so its intervals do not move.  ``stats.cluster: question`` makes every question its own unit.

Groups: a set is one matrix; "in domain" pools its sets (counts summed, as the paper's Overall); "OOD" is
the unweighted mean over the answerable out-of-domain sets (as the paper's Table 4), the per-set metric
computed first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

VALUE = {"correct": 1, "refusal": 0, "incorrect": -1}
METRICS = ("acc", "refr", "s_trust", "answered_acc")
CLUSTERS = ("unit", "question")  # stats.cluster: resample the units questions share, or the questions


def unit_of(record: Mapping) -> str:
    """The unit a question shares with others: the entity (real OVEN) or the emblem (embedded world) of a
    name question, else its image, else the question itself."""
    meta = record.get("meta") or {}
    if meta.get("entity_id") is not None:
        return f"entity:{meta['entity_id']}"
    if meta.get("qtype") == "emblem_name" and meta.get("emblem_id") is not None:
        return f"emblem:{meta['emblem_id']}"
    if record.get("image") is not None:
        return f"image:{record['image']}"
    return f"question:{record['id']}"


def units(records: Sequence[Mapping], cluster: str = "unit") -> np.ndarray:
    """Per question the index of its unit (:func:`unit_of`), 0..n_units-1 in order of first appearance;
    ``cluster="question"``: every question its own unit (0..n-1)."""
    if cluster == "question":
        return np.arange(len(records))
    if cluster != "unit":
        raise ValueError(f"cluster must be one of {', '.join(CLUSTERS)}, got {cluster!r}")
    index: dict[str, int] = {}
    return np.array([index.setdefault(unit_of(r), len(index)) for r in records], dtype=int)


class _Draw:
    """The questions of one replicate of one set: ``n`` questions with replacement, or, when questions share
    units, the set's units with replacement, each bringing all its questions (in question order)."""

    def __init__(self, n: int, unit=None):
        self.n = n
        u = None if unit is None else np.asarray(unit).reshape(-1)
        if u is not None and len(u) != n:
            raise ValueError(f"units: {len(u)} unit labels for a set of {n} questions; one per question")
        if u is None or len(np.unique(u)) == n:  # every question its own unit: the plain question draw
            self.order = None
            return
        _, inv = np.unique(u, return_inverse=True)
        self.order = np.argsort(inv, kind="stable")  # the questions grouped by unit
        self.sizes = np.bincount(inv)
        self.starts = np.cumsum(self.sizes) - self.sizes

    def __call__(self, rng: np.random.Generator) -> np.ndarray:
        if self.order is None:
            return rng.integers(0, self.n, self.n)
        k = len(self.sizes)
        drawn = rng.integers(0, k, k)
        size = self.sizes[drawn]
        shift = np.repeat(self.starts[drawn] - (np.cumsum(size) - size), size)
        return self.order[np.arange(int(size.sum())) + shift]


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
    units: Sequence | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The one bootstrap loop: ``(point, replicates)`` of a vector statistic ``stat(sets) -> [float, ...]``
    of a group of (runs x questions) matrices, or with ``other``, of ``stat(sets) - stat(other)`` on the
    same question draw (paired questions; the runs paired too when ``pair_runs``, else drawn for each side).
    Per replicate the runs are drawn with replacement as clusters (whole rows) and the questions with
    replacement within each set, from one generator seeded by ``seed``: the questions first, then the runs
    (``runs_first``: the runs first, :func:`bootstrap`'s order), then the other side's runs.  ``units``: per
    set None or the unit index of each question (:func:`units`); a set whose questions share units draws its
    units instead of its questions (the module docstring)."""
    sets = _matrices(sets)
    units = [None] * len(sets) if units is None else list(units)
    if len(units) != len(sets):
        raise ValueError(f"units: {len(units)} entries for {len(sets)} sets; one per set (None: no clusters)")
    draws = [_Draw(s.shape[1], u) for s, u in zip(sets, units)]
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
        qs = [draw(rng) for draw in draws]
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
    units: Sequence | None = None,
) -> dict[str, dict]:
    """Per metric ``{mean, lo, hi, n_boot, level}`` of a group: the point estimate on the data and the
    percentile interval of ``n_boot`` replicates (runs and questions drawn with replacement, questions within
    each set, by unit where ``units`` groups them; one draw serves every metric).  Every set must have the
    same number of runs."""
    point, reps = resample(
        sets,
        lambda d: [group_metric(d, m, how) for m in metrics],
        n_boot=n_boot,
        seed=seed,
        runs_first=True,
        units=units,
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
    units: Sequence | None = None,
) -> dict[str, dict]:
    """Per metric ``{mean, lo, hi, ...}`` of metric(A) - metric(B) on the same questions (sets in the same
    order and question order; the same unit draw for both); ``pair_runs``: draw the same runs for both (same
    seeds), else independently."""
    point, reps = resample(
        a,
        lambda d: [group_metric(d, m, how) for m in metrics],
        other=b,
        pair_runs=pair_runs,
        n_boot=n_boot,
        seed=seed,
        units=units,
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
    units: Sequence | None = None,
) -> dict:
    """The interval of any statistic ``stat(sets) -> float`` of a list of (runs x questions) matrices, or,
    with ``other``, of ``stat(sets) - stat(other)`` on the same question (or unit) draw (runs paired when
    ``pair_runs``), e.g. the mean of in-domain and OOD S_trust of a sweep cell against the best cell."""
    point, reps = resample(
        sets, lambda d: [stat(d)], other=other, pair_runs=pair_runs, n_boot=n_boot, seed=seed, units=units
    )
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
    "CLUSTERS",
    "unit_of",
    "units",
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
