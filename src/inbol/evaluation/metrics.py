"""The paper's trustworthiness metrics (section 2.2) and the breakdowns built on them; pure functions.

A response has value +1 (correct), 0 (refusal) or -1 (incorrect).  Over N questions:

- ``Acc = N_c / N``, ``RefR = N_r / N``;
- ``S_trust = Acc - (1 - Acc - RefR) = 2 * Acc + RefR - 1``;
- ``Answered Acc = N_c / (N - N_r)`` (section 4.3.2), undefined (None) when every question is refused.

Everything is in percent.  On an unanswerable set a refusal is the right behaviour but still scores 0 and
any answer is incorrect, so Acc is 0 by definition.  :func:`pool` is the paper's Overall column: the
counts summed over the sets, then the metrics of the sums (Table 1: 300 + 300 + 300 answerable + 100
unanswerable questions).  :func:`macro_average` is the unweighted mean over sets that the paper's Table 4
uses for its out-of-domain "Avg" (over AOKVQA, GQA, MMMU and MMBench; BeyondVisQA is left out there).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

# Base-model confidence bins of Figure 4: [0, .2], (.2, .4], (.4, .6], (.6, .8], (.8, 1].
CONF_EDGES: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
# Ground-truth corpus exposure buckets of emblem questions (the same as inbol.models.base.EXPOSURE_BUCKETS).
EXPOSURE_BUCKETS: tuple[tuple[int, int], ...] = ((0, 0), (1, 4), (5, 14), (15, 49), (50, 10**9))
_EPS = 1e-9  # conf = k/K compared with bin edges up to rounding (2/10 falls in [0, .2])


def _pct(num: int, den: int) -> float:
    return 100.0 * num / den


def trust_metrics(n_correct: int, n_refusal: int, n: int) -> dict:
    """``{n, n_correct, n_refusal, n_incorrect, acc, refr, s_trust, answered_acc}`` in percent."""
    for name, v in (("n_correct", n_correct), ("n_refusal", n_refusal), ("n", n)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{name} = {v!r}: must be an integer >= 0")
    if n == 0:
        raise ValueError("metrics of zero questions are undefined")
    if n_correct + n_refusal > n:
        raise ValueError(f"n_correct + n_refusal = {n_correct + n_refusal} > n = {n}")
    acc, refr = _pct(n_correct, n), _pct(n_refusal, n)
    answered = n - n_refusal
    return {
        "n": int(n),
        "n_correct": int(n_correct),
        "n_refusal": int(n_refusal),
        "n_incorrect": int(n - n_correct - n_refusal),
        "acc": acc,
        "refr": refr,
        "s_trust": 2 * acc + refr - 100.0,
        "answered_acc": _pct(n_correct, answered) if answered else None,
    }


def count_verdicts(verdicts: Iterable[str]) -> tuple[int, int, int]:
    """(n_correct, n_refusal, n) of a list of verdicts ``correct | refusal | incorrect``."""
    vs = list(verdicts)
    bad = [v for v in vs if v not in ("correct", "refusal", "incorrect")]
    if bad:
        raise ValueError(f"unknown verdict {bad[0]!r}")
    return vs.count("correct"), vs.count("refusal"), len(vs)


def set_metrics(verdicts: Sequence[str], answerable: bool = True) -> dict:
    """Metrics of one set; an unanswerable set cannot have correct answers (Acc = 0 by definition)."""
    c, r, n = count_verdicts(verdicts)
    if not answerable and c:
        raise ValueError(f"an unanswerable set has {c} 'correct' verdict(s); only refusals and errors are possible")
    return {**trust_metrics(c, r, n), "answerable": bool(answerable)}


def pool(sets: Iterable[Mapping]) -> dict:
    """The paper's Overall: counts summed over ``sets`` (mappings with n, n_correct, n_refusal and
    optionally ``answerable``), then :func:`trust_metrics` of the sums.  Unanswerable sets contribute
    their refusals and their errors, never correct answers."""
    nc = nr = n = 0
    for s in sets:
        c = int(s.get("n_correct", 0))
        if not s.get("answerable", True) and c:
            raise ValueError(f"an unanswerable set cannot contribute correct answers (n_correct = {c})")
        nc, nr, n = nc + c, nr + int(s["n_refusal"]), n + int(s["n"])
    return trust_metrics(nc, nr, n)


def macro_average(sets: Iterable[Mapping]) -> dict:
    """Unweighted mean of acc, refr, s_trust (and of the defined answered_acc values) over ``sets``."""
    sets = list(sets)
    if not sets:
        raise ValueError("an average over zero sets is undefined")
    out = {k: float(np.mean([s[k] for s in sets])) for k in ("acc", "refr", "s_trust")}
    answered = [s["answered_acc"] for s in sets if s.get("answered_acc") is not None]
    out["answered_acc"] = float(np.mean(answered)) if answered else None
    out["n_sets"] = len(sets)
    return out


def counts_from_percent(acc: float, refr: float, n: int) -> tuple[int, int]:
    """(n_correct, n_refusal) behind percentages reported on ``n`` questions (rounded to the nearest count)."""
    return round(acc * n / 100.0), round(refr * n / 100.0)


# --------------------------------------------------------------------------------------------
# confidence bins (Figure 4) and exposure buckets
# --------------------------------------------------------------------------------------------


def conf_bin_labels(edges: Sequence[float] = CONF_EDGES) -> list[str]:
    return [("[" if i == 0 else "(") + f"{lo:g},{hi:g}]" for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:]))]


def conf_bin(conf: float, edges: Sequence[float] = CONF_EDGES) -> int:
    """Index of the bin holding ``conf``: the first is closed [e0, e1], the others (e_i, e_i+1]."""
    if conf is None or not (edges[0] - _EPS <= conf <= edges[-1] + _EPS):
        raise ValueError(f"conf = {conf!r}: outside [{edges[0]:g}, {edges[-1]:g}]")
    for i, hi in enumerate(edges[1:]):
        if conf <= hi + _EPS:
            return i
    return len(edges) - 2  # pragma: no cover - unreachable


def rates(verdicts: Sequence[str]) -> dict:
    """``{n, refusal_rate, acc, answered_acc}`` in percent; rates are None for an empty group."""
    c, r, n = count_verdicts(verdicts)
    if not n:
        return {"n": 0, "refusal_rate": None, "acc": None, "answered_acc": None}
    m = trust_metrics(c, r, n)
    return {"n": n, "refusal_rate": m["refr"], "acc": m["acc"], "answered_acc": m["answered_acc"]}


def by_conf_bin(
    confs: Sequence[float | None], verdicts: Sequence[str], edges: Sequence[float] = CONF_EDGES
) -> list[dict]:
    """Per bin of the base model's confidence ``{bin, lo, hi, mid, n, refusal_rate, acc, answered_acc}``;
    questions without a confidence (None) are left out."""
    groups: list[list[str]] = [[] for _ in range(len(edges) - 1)]
    for conf, v in zip(confs, verdicts, strict=True):
        if conf is not None:
            groups[conf_bin(conf, edges)].append(v)
    labels = conf_bin_labels(edges)
    return [
        {
            "bin": labels[i],
            "lo": edges[i],
            "hi": edges[i + 1],
            "mid": round((edges[i] + edges[i + 1]) / 2, 6),
            **rates(g),
        }
        for i, g in enumerate(groups)
    ]


def exposure_bucket(exposure: int) -> str:
    for lo, hi in EXPOSURE_BUCKETS:
        if lo <= exposure <= hi:
            return f"{lo}" if lo == hi else (f"{lo}+" if hi >= 10**9 else f"{lo}-{hi}")
    raise ValueError(f"exposure = {exposure!r}: must be an integer >= 0")


def exposure_labels() -> list[str]:
    return [exposure_bucket(lo) for lo, _ in EXPOSURE_BUCKETS]


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation: the Pearson correlation of scipy's average ranks (scipy's ``spearmanr``
    up to the last bit); None when there are fewer than two pairs or either side is constant."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return None
    from scipy.stats import rankdata  # here, not at the top: scipy.stats takes a second to import

    return float(np.corrcoef(rankdata(x), rankdata(y))[0, 1])


def by_exposure(exposures: Sequence[int], verdicts: Sequence[str]) -> dict:
    """Refusal rate and accuracy by ground-truth corpus exposure bucket, plus two summary numbers:

    - ``spearman``: Spearman correlation between refusing (1/0) and log(1 + exposure) (the same as with
      the exposure itself, ranks being invariant under log1p); negative when rarely seen emblems are
      refused more; None when the model never or always refuses;
    - ``refusal_gap``: refusal rate of the lowest minus that of the highest non-empty bucket (percentage
      points; positive when the least exposed are refused more)."""
    groups: dict[str, list[str]] = {b: [] for b in exposure_labels()}
    for e, v in zip(exposures, verdicts, strict=True):
        groups[exposure_bucket(int(e))].append(v)
    buckets = {b: rates(g) for b, g in groups.items()}
    filled = [b for b in buckets if buckets[b]["n"]]
    refused = [1.0 if v == "refusal" else 0.0 for v in verdicts]
    return {
        "n": len(verdicts),
        "buckets": buckets,
        "spearman": spearman(refused, [math.log1p(int(e)) for e in exposures]),
        "refusal_gap": (buckets[filled[0]]["refusal_rate"] - buckets[filled[-1]]["refusal_rate"])
        if len(filled) >= 2
        else None,
        "gap_buckets": [filled[0], filled[-1]] if len(filled) >= 2 else None,
    }


def rounded(obj, ndigits: int = 4):
    """``obj`` with every float rounded (for the metrics JSON files)."""
    if isinstance(obj, float):
        return round(obj, ndigits)
    if isinstance(obj, dict):
        return {k: rounded(v, ndigits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [rounded(v, ndigits) for v in obj]
    return obj
