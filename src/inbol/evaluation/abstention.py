"""Table 5, beyond the paper: does training to refuse beat abstaining at inference time?

Rows (each on the test sets, thresholds chosen on the validation sets, never on test):

- the original model, the Refusal Prompt, IDK-IT and CA-DPO as they answer (their own refusals);
- ``+ self-consistency``: the same model answers with its greedy answer unless the agreement of K samples
  with it is below a threshold ``t``, then refuses (:func:`inbol.evaluation.selective.agreement`); on the
  original model this is the inference-time baseline, on IDK-IT and CA-DPO it asks whether abstention stacks
  with training.

Columns, in domain (sets pooled) and out of domain (the mean over the answerable OOD sets): S_trust, Phi_c
(Effective Reliability at each cost c of ``selective.costs``; its threshold chosen on validation for that c,
as Whitehead et al. do, while S_trust's maximises Phi_1), AURC of the abstention score (the probability of
starting a refusal; for the self-consistency rows 1 - agreement), the AUROC of that score for "the original
model would have been wrong", and over-refusal (the refusal rate on questions the original model answers
correctly).  Each cell has a bootstrap interval over questions and seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ..markdown import table
from . import selective as S
from .stats import bootstrap_stat, format_ci

# channels of a packed (runs x questions x 4) array
VALUE, SCORE, BASE_CORRECT, AGREE = 0, 1, 2, 3


def pack(values: np.ndarray, scores: np.ndarray, base_correct: np.ndarray, agree: np.ndarray | None) -> np.ndarray:
    """One set of one model: values (+1/0/-1), abstention scores, the original model's correctness and the
    K-sample agreement (NaN where not measured), runs x questions x 4."""
    bc = np.broadcast_to(base_correct, values.shape)
    ag = np.full(values.shape, np.nan) if agree is None else agree
    return np.stack([values.astype(float), scores, bc.astype(float), ag], axis=-1)


def abstain_below(packed: np.ndarray, threshold: float) -> np.ndarray:
    """The same runs after abstaining wherever the agreement is below ``threshold`` (score: 1 - agreement)."""
    out = packed.copy()
    low = out[..., AGREE] < threshold
    out[..., VALUE] = np.where(low, 0.0, out[..., VALUE])
    out[..., SCORE] = 1.0 - out[..., AGREE]
    return out


def _flat(p: np.ndarray):
    v = p[..., VALUE].reshape(-1)
    return v == 1, v == 0, p[..., SCORE].reshape(-1), p[..., BASE_CORRECT].reshape(-1) > 0


def stat_fn(name: str, cost: float | None = None) -> Callable[[np.ndarray], float]:
    """A statistic of one packed array (pooled over its runs and questions), in percent (AURC, AUROC as
    fractions x 100 too)."""

    def fn(p: np.ndarray) -> float:
        correct, refused, score, base = _flat(p)
        if name == "s_trust":
            return 100.0 * S.effective_reliability(correct, refused, 1.0)
        if name == "phi":
            return 100.0 * S.effective_reliability(correct, refused, cost)
        if name == "aurc":  # per run, then the mean over runs
            per_run = [S.aurc(*_flat(p[i : i + 1])[:3]) for i in range(p.shape[0])]
            per_run = [np.nan if a is None else a for a in per_run]
            return np.nan if all(np.isnan(per_run)) else 100.0 * float(np.nanmean(per_run))
        if name == "auroc":
            val = S.auroc(score, ~base)
            return np.nan if val is None else 100.0 * val
        if name == "over_refusal":
            return 100.0 * float(refused[base].mean()) if base.any() else np.nan
        if name == "coverage":
            return 100.0 * float((~refused).mean())
        raise ValueError(name)

    return fn


def scope_stat(fn, how: str) -> Callable[[Sequence[np.ndarray]], float]:
    """``fn`` over a scope's sets: pooled (the sets concatenated) or the mean over sets."""

    def stat(sets: Sequence[np.ndarray]) -> float:
        if how == "pooled":
            return fn(np.concatenate(list(sets), axis=1))
        vals = [fn(s) for s in sets]
        return float(np.nanmean(vals)) if not all(np.isnan(vals)) else np.nan

    return stat


def choose_sc_threshold(val: Sequence[np.ndarray], cost: float) -> float:
    """The agreement threshold (abstain below it) maximising Phi_c on the validation sets pooled, over the
    agreement values that occur (0: never abstain)."""
    p = np.concatenate(list(val), axis=1)
    agree = p[..., AGREE].reshape(-1)
    agree = agree[~np.isnan(agree)]
    best_t, best = 0.0, -np.inf
    for t in [0.0, *sorted(set(np.round(agree, 6).tolist()))] + [1.000001]:
        correct, refused, _, _ = _flat(abstain_below(p, t))
        phi = S.effective_reliability(correct, refused, cost)
        if phi > best + 1e-12:
            best, best_t = phi, t
    return float(best_t)


def row_cells(
    test: Mapping[str, Sequence[np.ndarray]],
    *,
    costs: Sequence[float],
    n_boot: int,
    level: float,
    seed: int,
    thresholds: Mapping[str, float] | None = None,
    val=None,
) -> dict:
    """One row's cells per scope ({"in_domain": [...sets], "ood": [...]}): S_trust, Phi_c, AURC, AUROC,
    over-refusal, coverage, each ``{mean, lo, hi}``; ``thresholds`` (self-consistency rows): per metric key
    the agreement threshold chosen on validation."""
    out: dict = {}
    kw = {"n_boot": n_boot, "level": level, "seed": seed}
    for scope, sets in test.items():
        how = "pooled" if scope == "in_domain" else "mean"
        cells = {}
        metrics = [
            ("s_trust", None),
            *[(f"phi_{c:g}", c) for c in costs],
            ("aurc", None),
            ("auroc", None),
            ("over_refusal", None),
            ("coverage", None),
        ]
        for key, c in metrics:
            use = sets
            if thresholds is not None:
                t = thresholds[key] if key in thresholds else thresholds["s_trust"]
                use = [abstain_below(s, t) for s in sets]
            fn = stat_fn("phi" if key.startswith("phi_") else key, c)
            cells[key] = bootstrap_stat(use, scope_stat(fn, how), **kw)
        out[scope] = cells
    return out


def table5(rows: Mapping[str, dict], costs: Sequence[float]) -> list[str]:
    """The markdown of Table 5."""
    keys = ["s_trust", *[f"phi_{c:g}" for c in costs], "aurc", "over_refusal"]
    names = {
        "s_trust": "S_trust",
        "aurc": "AURC",
        "over_refusal": "over-refusal",
        **{f"phi_{c:g}": f"Phi_{c:g}" for c in costs},
    }
    header = ["Method"] + [f"{scope} {names[k]}" for scope in ("In-domain", "OOD") for k in keys]
    header += [f"RefR {b}" for b in ("Known", "Mixed", "Unknown")]
    body = []
    for label, r in rows.items():
        cells = [format_ci(r["cells"].get(scope, {}).get(k)) for scope in ("in_domain", "ood") for k in keys]
        cells += [format_ci((r.get("refusal_by_bucket") or {}).get(b)) for b in ("known", "mixed", "unknown")]
        body.append([label, *cells])
    return table(header, body)


__all__ = ["pack", "abstain_below", "stat_fn", "scope_stat", "choose_sc_threshold", "row_cells", "table5"]


# --------------------------------------------------------------------------------------------
# the whole table from the pipeline's files
# --------------------------------------------------------------------------------------------

LABELS = {"base": "Original", "refusal_prompt": "Refusal Prompt", "idk_it": "IDK-IT", "ca_dpo": "CA-DPO"}
WITH_SC = ("base", "idk_it", "ca_dpo")


def packed_sets(
    testsets: Mapping,
    runs: Sequence[Sequence[dict]],
    base_correct: Mapping[str, np.ndarray],
    agreements: Sequence[Mapping] | None,
) -> dict[str, np.ndarray]:
    """Per set the packed (runs x questions x 4) array of one model's runs (and the agreement of each run)."""
    from .stats import values

    out = {}
    for name, ts in testsets.items():
        v, sc, ag = [], [], []
        for i, preds in enumerate(runs):
            by = {x["id"]: x for x in preds if x["set"] == name}
            v.append(values([by[r["id"]]["verdict"] for r in ts.records]))
            sc.append([by[r["id"]].get("p_refusal", np.nan) for r in ts.records])
            if agreements is not None:
                ag.append([agreements[i].get((name, r["id"]), np.nan) for r in ts.records])
        out[name] = pack(
            np.stack(v),
            np.asarray(sc, dtype=float),
            base_correct[name],
            None if agreements is None else np.asarray(ag, dtype=float),
        )
    return out


def scopes(testsets: Mapping, packed: Mapping[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    return {
        "in_domain": [packed[n] for n, ts in testsets.items() if ts.group == "in_domain"],
        "ood": [packed[n] for n, ts in testsets.items() if ts.group == "ood" and ts.answerable],
    }


def selective_report(
    testsets: Mapping,
    valsets: Mapping,
    test_runs: Mapping[str, list],
    val_runs: Mapping[str, list],
    agreements: Mapping[str, dict],
    *,
    costs: Sequence[float],
    n_boot: int,
    level: float,
    seed: int,
    thresholds: tuple[float, float] = (0.8, 0.2),
) -> tuple[dict, list[dict]]:
    """Table 5's rows (``{label: {model, self_consistency, thresholds, cells}}``) and the risk-coverage rows
    ``{row, scope, coverage, risk}`` (in domain, runs pooled).  ``test_runs``/``val_runs``: per model the
    predictions of each run; ``agreements``: per model ``{"test": [per run {(set, id): a}], "val": [...]}``."""
    from .stats import values

    base_correct = {
        n: (values([x["verdict"] for x in _aligned(test_runs["base"][0], n, ts)]) == 1) for n, ts in testsets.items()
    }
    val_base = {n: np.zeros(len(ts.records), dtype=bool) for n, ts in valsets.items()}  # (not used on validation)
    kw = {"costs": costs, "n_boot": n_boot, "level": level, "seed": seed}
    rows: dict = {}
    curves: list[dict] = []
    for m in test_runs:
        ag = agreements.get(m)
        test_p = packed_sets(testsets, test_runs[m], base_correct, None if ag is None else ag["test"])
        variants = [(LABELS[m], None)]
        if ag is not None and m in WITH_SC and m in val_runs:
            val_p = packed_sets(valsets, val_runs[m], val_base, ag["val"])
            val_all = [val_p[n] for n, ts in valsets.items() if ts.answerable or ts.group == "in_domain"]
            th = {
                "s_trust": choose_sc_threshold(val_all, 1.0),
                **{f"phi_{c:g}": choose_sc_threshold(val_all, c) for c in costs},
            }
            variants.append((f"{LABELS[m]} + self-consistency", th))
        for label, th in variants:
            applied = test_p if th is None else {n: abstain_below(v, th["s_trust"]) for n, v in test_p.items()}
            rows[label] = {
                "model": m,
                "self_consistency": th is not None,
                "thresholds": th,
                "runs": len(test_runs[m]),
                "cells": row_cells(scopes(testsets, test_p), thresholds=th, **kw),
                "refusal_by_bucket": bucket_refusals(
                    testsets, applied, thresholds, n_boot=n_boot, level=level, seed=seed
                ),
            }
            ind = np.concatenate(scopes(testsets, test_p)["in_domain"], axis=1)
            if th is not None:
                ind = abstain_below(ind, th["s_trust"])
            correct, refused, score, _ = _flat(ind)
            if not np.isnan(score).any():
                cov, risk = S.risk_coverage(correct, refused, score)
                step = max(1, len(cov) // 200)
                curves += [
                    {"row": label, "scope": "in_domain", "coverage": float(c), "risk": float(r)}
                    for c, r in zip(cov[::step], risk[::step])
                ]
    return rows, curves


def bucket_refusals(
    testsets: Mapping, packed: Mapping[str, np.ndarray], thresholds: tuple[float, float], *, n_boot, level, seed
) -> dict:
    """The refusal rate (percent, with its interval) of one row on the answerable in-domain test questions
    of each Known / Mixed / Unknown bucket of the original model's confidence (``conf_base``; questions
    without one are left out)."""
    from ..boundary.split import bucket

    delta_k, delta_uk = thresholds
    out = {}
    for b in ("known", "mixed", "unknown"):
        parts = []
        for n, ts in testsets.items():
            if ts.group != "in_domain" or not ts.answerable:
                continue
            idx = [
                i
                for i, r in enumerate(ts.records)
                if r.get("conf_base") is not None and bucket(r["conf_base"], delta_k, delta_uk) == b
            ]
            if idx:
                parts.append(packed[n][:, idx])
        if not parts:
            out[b] = {"mean": None, "lo": None, "hi": None, "n": 0}
            continue
        ci = bootstrap_stat(
            [np.concatenate(parts, axis=1)],
            lambda s: 100.0 * float((s[0][..., VALUE] == 0).mean()),
            n_boot=n_boot,
            level=level,
            seed=seed,
        )
        out[b] = {**ci, "n": int(sum(p.shape[1] for p in parts))}
    return out


def _aligned(preds: Sequence[dict], name: str, ts) -> list[dict]:
    by = {x["id"]: x for x in preds if x["set"] == name}
    return [by[r["id"]] for r in ts.records]


__all__ += ["LABELS", "packed_sets", "scopes", "bucket_refusals", "selective_report"]
