"""Sampling a set of a given size and composition from per-bucket pools.

The rule (:func:`ratio_counts`), for a requested ``size`` and class weights ``w`` (normalised):

1. When every class has enough questions, take the quota of ``size`` by ``w``: ``size * w_i`` rounded by
   the largest-remainder method, so the counts add up to exactly ``size`` (ties go to the larger weight,
   then to the earlier class).  E.g. size 8, known_ratio 0.75 -> 6 Known + 2 Unknown.
2. Otherwise the class that runs out first (the smallest available / (size * w_i); ties to the earlier
   class) is the limiting class ``j``: all of its ``a_j`` questions are taken and every other class gets
   ``round(a_j * w_i / w_j)`` (half up), i.e. the requested composition scaled down to what the limiting
   class allows.  This is the largest set that keeps the ratio (up to the rounding of the other classes),
   and it is never larger than ``size``.  E.g. size 8, known_ratio 0.75, one Unknown question -> 3 Known
   + 1 Unknown = 4, shortfall 4, limited by ``unknown``.  A class with nothing available gives an empty
   set (reported, not an error: a threshold-sweep cell may have no Mixed question at all).

Which questions (:func:`take`): each class's candidates are sorted by id and shuffled with a generator
seeded by (seed, set name, class), and the first n are taken.  The order does not depend on size or
ratio, so a smaller size or another ratio takes a prefix of the same order (sets of a ratio sweep are
nested), and the input file order does not matter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..seeding import stable_random


def _normalise(weights: Sequence[float]) -> list[float]:
    if not weights or any(not math.isfinite(w) or w <= 0 for w in weights):
        raise ValueError(f"weights must be positive numbers, got {list(weights)}")
    total = float(sum(weights))
    return [w / total for w in weights]


def quota(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` split by ``weights`` with the largest-remainder method (sums to ``total`` exactly)."""
    w = _normalise(weights)
    exact = [total * x for x in w]
    counts = [math.floor(e + 1e-9) for e in exact]
    rest = total - sum(counts)
    order = sorted(range(len(w)), key=lambda i: (-(exact[i] - counts[i]), -w[i], i))
    for i in order[: max(rest, 0)]:
        counts[i] += 1
    return counts


def ratio_counts(size: int, weights: Sequence[float], available: Sequence[int]) -> tuple[list[int], int | None]:
    """How many questions to take per class (see the module doc) and the index of the limiting class
    (None when the requested size is met)."""
    if size < 0:
        raise ValueError(f"size must be >= 0, got {size}")
    if len(weights) != len(available):
        raise ValueError(f"{len(weights)} weights but {len(available)} availabilities")
    w = _normalise(weights)
    target = quota(size, w)
    if all(t <= a for t, a in zip(target, available)):
        return target, None
    scale = [a / (size * x) for a, x in zip(available, w)]
    j = min(range(len(w)), key=lambda i: (scale[i], i))
    ideal = [available[j] * x / w[j] for x in w]
    counts = [available[j] if i == j else min(available[i], math.floor(ideal[i] + 0.5 + 1e-9)) for i in range(len(w))]
    while sum(counts) > size:  # rounding several classes up could overshoot; trim the most over-rounded
        i = max((i for i in range(len(w)) if i != j and counts[i] > 0), key=lambda i: (counts[i] - ideal[i], -i))
        counts[i] -= 1
    return counts, j


def shuffled(records: Sequence[dict], seed: int, *tag: str) -> list[dict]:
    """``records`` sorted by id, then shuffled with a generator seeded by (seed, *tag)."""
    out = sorted(records, key=lambda r: r["id"])
    stable_random(seed, *tag).shuffle(out)
    return out


def take(candidates: dict[str, Sequence[dict]], counts: dict[str, int], seed: int, name: str) -> list[dict]:
    """The first ``counts[c]`` of each class's seeded order, then all of them in one seeded order."""
    chosen = []
    for c, n in counts.items():
        pool = shuffled(candidates.get(c, ()), seed, name, c)
        if n > len(pool):
            raise ValueError(f"{name}: {n} {c} questions asked for, {len(pool)} available")
        chosen.extend(pool[:n])
    return shuffled(chosen, seed, name, "order")


def selection_report(
    size: int,
    classes: Sequence[str],
    weights: Sequence[float],
    available: Sequence[int],
    counts: Sequence[int],
    limiting: int | None,
) -> dict:
    target = quota(size, weights)
    n = int(sum(counts))
    return {
        "requested": size,
        "n": n,
        "shortfall": size - n,
        "limited_by": None if limiting is None else classes[limiting],
        "available": dict(zip(classes, map(int, available))),
        "target": dict(zip(classes, target)),
        "taken": dict(zip(classes, map(int, counts))),
    }
