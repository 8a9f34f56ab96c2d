"""The evaluation sets (paper section 4.1.2 and appendix F), written under ``data/testsets/``.

In domain (Table 1): for each family (perception ~ VQAv2, emblem ~ OVEN, choice ~ ScienceQA)
``n_per_family`` questions chosen from the test candidates so that the original model is about
``target_acc`` accurate, plus ``n_unanswerable`` UaVQA questions.  Out of domain (Table 2): ood_phrasing
(AOKVQA-like), ood_hard (GQA-like), ood_choice (MMBench/MMMU-like, the paper's letter prompt already in the
question text) and beyond (BeyondVisQA-like, unanswerable), each in full.  Extra unanswerable (Table 3):
vizwiz (VizWiz(ua)-like).

The sets, their groups and sources are the registry's (:mod:`inbol.evalsets`); the above are its defaults.

Every record is the question record plus ``conf_base``: the original model's confidence (the fraction of
its K samples judged correct, from ``data/restructured``), or None where it was not measured (the
unanswerable sets, and questions whose image could not be sampled).

The balancing algorithm (:func:`select_balanced`), per family:

1. The candidates are the test questions of the family with a measured conf; they are grouped into
   strata by their exact conf value (conf = k/K takes K + 1 values).
2. The share of each stratum in the set is the candidates' own conf distribution exponentially tilted,
   ``p_j ~ m_j * exp(lambda * c_j)`` (m_j candidates of conf c_j), capped at the stratum's size
   (water-filling), with lambda found by bisection so that the expected mean conf is ``target_acc``.
   Among all distributions with that mean, the tilted one is the closest to the candidates' own
   (minimum KL divergence), so the set keeps as much of the natural spread of difficulty as it can.
   A target outside what the candidates allow ends at the nearest attainable mean (lowest/highest-conf
   questions only).
3. Quotas are rounded by largest remainder (never above a stratum's size), and each stratum's quota is
   drawn uniformly without replacement with a generator seeded by (seed, family), so the result depends
   only on the seed and the candidates.

The mean conf of a question set is the original model's expected accuracy when it samples at
temperature 1; its greedy accuracy (what evaluate@base measures) is usually close, not equal.  A family
with at most ``n_per_family`` candidates is taken whole and reported as short.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..evalsets import GROUPS, SETS, Candidates, UnanswerableSet, WorldSplit, order_sets, ordered
from ..io import read_jsonl
from ..records import read_questions
from ..schema.testsets import Testsets

MANIFEST = "manifest.json"
_VAL_STREAM = 12


def check_disjoint_images(named: dict[str, list[dict]]) -> None:
    """A DataError naming both sets and an image when two groups of sets (e.g. validation, test, pool)
    share an image; ``named``: group name -> records."""
    seen: dict[str, str] = {}
    for group, records in named.items():
        for r in records:
            other = seen.get(r["image"])
            if other is not None and other != group:
                raise DataError(
                    f"{group} and {other} share image {r['image']!r}: the validation, test and pool "
                    f"images must be disjoint"
                )
            seen.setdefault(r["image"], group)


# --------------------------------------------------------------------------------------------
# balancing
# --------------------------------------------------------------------------------------------


def _capped_shares(weights: np.ndarray, caps: np.ndarray, n: int) -> np.ndarray:
    """Split ``n`` in proportion to ``weights`` without exceeding ``caps`` (water-filling)."""
    q = np.zeros(len(weights))
    free = np.ones(len(weights), dtype=bool)
    remaining = float(n)
    while free.any() and remaining > 1e-12:
        w = np.where(free, weights, 0.0)
        if w.sum() <= 0:
            w = np.where(free, caps, 0.0)  # all free weight underflowed: fill by size
        alloc = remaining * w / w.sum()
        over = free & (alloc > caps - q + 1e-12)
        if not over.any():
            q += alloc
            break
        remaining -= float((caps - q)[over].sum())
        q[over] = caps[over]
        free &= ~over
    return q


def tilted_quotas(confs: Sequence[float], counts: Sequence[int], n: int, target: float) -> tuple[list[int], float]:
    """Integer quotas per stratum (conf value ``confs[j]`` with ``counts[j]`` candidates) summing to
    ``min(n, sum(counts))`` whose mean conf is as close to ``target`` as the exponential tilt allows;
    also the tilt lambda."""
    c = np.asarray(confs, dtype=float)
    m = np.asarray(counts, dtype=float)
    total = int(m.sum())
    if n >= total:
        return [int(x) for x in m], 0.0

    def shares(lam: float) -> np.ndarray:
        logw = np.log(np.maximum(m, 1e-300)) + lam * (c - c.max())
        w = np.exp(logw - logw.max()) * (m > 0)
        return _capped_shares(w, m, n)

    def mean(lam: float) -> float:
        return float((shares(lam) * c).sum() / n)

    lo, hi = -200.0, 200.0
    if mean(lo) >= target:
        lam = lo
    elif mean(hi) <= target:
        lam = hi
    else:
        for _ in range(200):
            mid = (lo + hi) / 2
            if mean(mid) < target:
                lo = mid
            else:
                hi = mid
        lam = (lo + hi) / 2
    q = shares(lam)
    base = np.minimum(np.floor(q + 1e-9), m).astype(int)
    short = n - int(base.sum())
    frac = q - base
    # largest remainder first; ties: the stratum whose conf is nearer the target
    order = sorted(range(len(q)), key=lambda j: (-round(frac[j], 9), abs(c[j] - target), j))
    for j in order:
        if short <= 0:
            break
        if base[j] < m[j]:
            base[j] += 1
            short -= 1
    return [int(x) for x in base], float(lam)


def select_balanced(
    candidates: Sequence[dict], n: int, target: float, rng: np.random.Generator, conf_key: str = "conf_base"
) -> tuple[list[dict], dict]:
    """``n`` of ``candidates`` (each with a conf under ``conf_key``) with mean conf near ``target``;
    returned in the candidates' order, with selection statistics."""
    strata: dict[float, list[int]] = {}
    for i, r in enumerate(candidates):
        strata.setdefault(round(float(r[conf_key]), 9), []).append(i)
    confs = sorted(strata)
    quotas, lam = tilted_quotas(confs, [len(strata[cv]) for cv in confs], n, target)
    chosen: list[int] = []
    for cv, q in zip(confs, quotas):
        idx = strata[cv]
        if q >= len(idx):
            chosen += idx
        elif q > 0:
            chosen += [idx[int(k)] for k in rng.choice(len(idx), size=q, replace=False)]
    chosen.sort()
    picked = [candidates[i] for i in chosen]
    all_conf = [float(r[conf_key]) for r in candidates]
    sel_conf = [float(r[conf_key]) for r in picked]
    stats = {
        "n_candidates": len(candidates),
        "n_requested": n,
        "n": len(picked),
        "short": len(picked) < n,
        "target": target,
        "conf_mean_candidates": float(np.mean(all_conf)) if all_conf else None,
        "conf_mean": float(np.mean(sel_conf)) if sel_conf else None,
        "tilt": lam,
        "conf_hist": {f"{cv:g}": q for cv, q in zip(confs, quotas)},
    }
    return picked, stats


# --------------------------------------------------------------------------------------------
# the sets
# --------------------------------------------------------------------------------------------


def _with_conf(records: list[dict], conf: dict[str, float]) -> list[dict]:
    return [{**r, "conf_base": conf.get(r["id"])} for r in records]


def _read_conf(path: Path) -> dict[str, float]:
    return {r["id"]: float(r["conf"]) for r in read_jsonl(path)} if path.is_file() else {}


def _read(path: Path, what: str) -> list[dict]:
    if not path.is_file():
        raise DataError(f"{path}: missing ({what})")
    return read_questions(path)


def build_testsets(
    cfg: Testsets,
    world_dir: str | Path,
    restructured_dir: str | Path,
    unanswerable_dir: str | Path,
    split: str = "test",
) -> tuple[dict[str, list[dict]], dict]:
    """All evaluation sets ``{name: records}`` of ``split`` (``test``: the reported sets; ``val``: the
    validation sets, drawn the same way from the world's validation splits, which choose every knob) and
    their manifest/statistics: every set of the registry (inbol.evalsets) with a twin in ``split``, in the
    report's order.  The in-domain families are balanced from the candidates, UaVQA is subsampled, the other
    sets are taken whole; a set only the real-dataset world has is skipped when its file is absent.  A set
    that would be empty (a family without candidates, no unanswerable questions) is left out and named in
    ``warnings``."""
    world_dir, restructured_dir, unanswerable_dir = Path(world_dir), Path(restructured_dir), Path(unanswerable_dir)
    if split not in ("test", "val"):
        raise ValueError(f"split must be test or val, got {split!r}")
    val = split == "val"
    twin = "validation" if val else "test"
    n_family = cfg.val_per_family if val else cfg.n_per_family
    n_unanswerable = cfg.val_unanswerable if val else cfg.n_unanswerable
    sets: dict[str, list[dict]] = {}
    selection: dict[str, dict] = {}
    warnings: list[str] = []

    candidates = _read(world_dir / f"{split}.jsonl", f"the world's in-domain {split} candidates")
    conf = _read_conf(restructured_dir / f"{split}.jsonl")
    if not conf:
        raise DataError(
            f"{restructured_dir / f'{split}.jsonl'}: missing or empty (the base model's conf of the {split} candidates)"
        )
    unsampled = sum(r["id"] not in conf for r in candidates)
    for spec in ordered(split=twin):
        name, src, file = spec.name, spec.source, spec.file(twin)
        if isinstance(src, Candidates):
            cands = [
                r
                for r in _with_conf(candidates, conf)
                if r["meta"]["family"] == src.family and r["conf_base"] is not None
            ]
            if not cands:
                warnings.append(f"{name}: no {split} candidates with a measured conf; set left out")
                continue
            rng = np.random.default_rng([cfg.seed, src.stream] + ([_VAL_STREAM] if val else []))
            picked, st = select_balanced(cands, n_family, cfg.target_acc, rng)
            if st["short"]:
                warnings.append(f"{name}: only {st['n']} candidates for {n_family} questions per family; all taken")
            if abs(st["conf_mean"] - cfg.target_acc) > 0.02:
                warnings.append(
                    f"{name}: mean conf {st['conf_mean']:.3f} is not the target_acc {cfg.target_acc:g} "
                    f"(the candidates do not allow it)"
                )
            sets[name] = picked
            selection[name] = st
        elif isinstance(src, WorldSplit):
            recs = _read(world_dir / f"{file}.jsonl", f"the world's {spec.label} split")
            if recs:
                sets[name] = _with_conf(recs, _read_conf(restructured_dir / f"{file}.jsonl"))
            else:
                warnings.append(f"{name}: no questions; set left out")
        elif isinstance(src, UnanswerableSet) and src.sample_stream is not None:
            if not n_unanswerable:
                continue
            ua = _read(unanswerable_dir / f"{file}.jsonl", f"{spec.paper}, from the unanswerable_sets stage")
            if len(ua) > n_unanswerable:
                stream = [cfg.seed, src.sample_stream] + ([_VAL_STREAM] if val else [])
                keep = np.random.default_rng(stream).choice(len(ua), n_unanswerable, replace=False)
                ua = [ua[i] for i in sorted(int(k) for k in keep)]
            elif len(ua) < n_unanswerable:
                warnings.append(f"{name}: only {len(ua)} questions for {n_unanswerable} unanswerable; all taken")
            if ua:
                sets[name] = _with_conf(ua, {})
            else:
                warnings.append(f"{name}: no questions; set left out")
        else:
            if src.generator is None and not (unanswerable_dir / f"{file}.jsonl").is_file():
                continue  # a set only the real-dataset world has (the synthetic world has no counterpart)
            recs = _read(unanswerable_dir / f"{file}.jsonl", f"{spec.paper}, from the unanswerable_sets stage")
            if recs:
                sets[name] = _with_conf(recs, {})
            else:
                warnings.append(f"{name}: no questions; set left out")

    for name, recs in sets.items():
        answerable = SETS[name].answerable
        wrong = [r["id"] for r in recs if (r["kind"] == "unanswerable") == answerable]
        if wrong:
            raise DataError(
                f"{name}: question {wrong[0]!r} has kind {'unanswerable' if answerable else 'answerable'} "
                f"in an {'answerable' if answerable else 'unanswerable'} set"
            )
    manifest = {
        "split": split,
        "sets": {},
        "warnings": warnings,
        "n_without_conf": unsampled,
        "config": {
            "n_per_family": n_family,
            "n_unanswerable": n_unanswerable,
            "target_acc": cfg.target_acc,
            "seed": cfg.seed,
        },
    }
    for name, recs in sets.items():
        spec = SETS[name]
        confs = [r["conf_base"] for r in recs if r["conf_base"] is not None]
        manifest["sets"][name] = {
            "group": spec.group,
            "answerable": spec.answerable,
            "paper": spec.paper,
            "n": len(recs),
            "n_conf": len(confs),
            "conf_mean": float(np.mean(confs)) if confs else None,
            **({"selection": selection[name]} if name in selection else {}),
        }
    return sets, manifest


def testsets_metrics(manifest: dict) -> dict:
    """The small, git-tracked summary of the sets (``metrics/testsets.json``)."""
    out: dict = {"sets": {}, "warnings": list(manifest["warnings"])}
    for name, s in manifest["sets"].items():
        row = {"group": s["group"], "n": s["n"], "conf_mean": s["conf_mean"]}
        if "selection" in s:
            sel = s["selection"]
            row.update(
                target=sel["target"],
                n_candidates=sel["n_candidates"],
                short=sel["short"],
                conf_mean_candidates=sel["conf_mean_candidates"],
            )
        out["sets"][name] = row
    ind = [s for s in manifest["sets"].values() if "selection" in s]
    if ind:
        out["in_domain_conf_mean"] = float(sum(s["conf_mean"] * s["n"] for s in ind) / sum(s["n"] for s in ind))
    return out


def gap_to_target(manifest: dict) -> float | None:
    """The largest |mean conf - target| over the balanced families (None without any)."""
    gaps = [
        abs(s["selection"]["conf_mean"] - s["selection"]["target"])
        for s in manifest["sets"].values()
        if "selection" in s and s["selection"]["conf_mean"] is not None
    ]
    return max(gaps) if gaps else None


__all__ = [
    "order_sets",
    "SETS",
    "GROUPS",
    "MANIFEST",
    "tilted_quotas",
    "select_balanced",
    "build_testsets",
    "check_disjoint_images",
    "testsets_metrics",
    "gap_to_target",
]
