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
correctly).  Each cell has a bootstrap interval over questions (by the units they share,
:mod:`inbol.evaluation.stats`) and seeds.

Paired differences (:func:`paired_cells`), S_trust and Phi_1: each row minus the original model +
self-consistency (the inference-time baseline), and each self-consistency row minus its model as it answers,
on the same question draw (and the same runs for one model); whether training beats abstaining is read from
these (:func:`winner_lines`), not from whether two rows' intervals overlap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ..markdown import table
from ..methods.registry import methods_in, registry
from . import selective as S
from .stats import bootstrap_stat, format_ci, unit_of, units, verdict

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
    unit: Mapping[str, Sequence] | None = None,
) -> dict:
    """One row's cells per scope ({"in_domain": [...sets], "ood": [...]}): S_trust, Phi_c, AURC, AUROC,
    over-refusal, coverage, each ``{mean, lo, hi}``; ``thresholds`` (self-consistency rows): per metric key
    the agreement threshold chosen on validation; ``unit``: per scope the unit of each question of each set
    (the bootstrap's clusters, :func:`scope_units`)."""
    out: dict = {}
    for scope, sets in test.items():
        kw = {"n_boot": n_boot, "level": level, "seed": seed, "units": None if unit is None else unit[scope]}
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
            use = applied(sets, thresholds, key)
            fn = stat_fn("phi" if key.startswith("phi_") else key, c)
            cells[key] = bootstrap_stat(use, scope_stat(fn, how), **kw)
        out[scope] = cells
    return out


def applied(sets: Sequence[np.ndarray], thresholds: Mapping[str, float] | None, key: str) -> list[np.ndarray]:
    """A row's sets for the cell ``key``: as answered, or (self-consistency) after abstaining below the
    threshold chosen for ``key`` (S_trust's where ``key`` has none)."""
    if thresholds is None:
        return list(sets)
    t = thresholds[key] if key in thresholds else thresholds["s_trust"]
    return [abstain_below(s, t) for s in sets]


PAIRED = (("s_trust", None), ("phi_1", 1.0))  # the paired differences' metrics: S_trust and Phi_1


def paired_cells(
    a: Mapping[str, Sequence[np.ndarray]],
    a_thresholds: Mapping[str, float] | None,
    b: Mapping[str, Sequence[np.ndarray]],
    b_thresholds: Mapping[str, float] | None,
    *,
    pair_runs: bool,
    n_boot: int,
    level: float,
    seed: int,
    unit: Mapping[str, Sequence] | None = None,
) -> dict:
    """Per scope, per metric of :data:`PAIRED`, row A - row B (``{mean, lo, hi, ..., verdict}``) on the same
    question (or unit) draw; the runs paired when ``pair_runs`` (the same model's runs), else drawn for each
    side.  Verdict (:func:`inbol.evaluation.stats.verdict`): ``holds`` when A is above B."""
    out: dict = {}

    def threshold(th, key):
        return None if th is None else th.get(key, th["s_trust"])

    for scope, sets in a.items():
        how = "pooled" if scope == "in_domain" else "mean"
        out[scope] = {}
        done: dict = {}  # Phi_1 is S_trust: computed once where both sides use the same thresholds for both
        for key, c in PAIRED:
            same = (threshold(a_thresholds, key), threshold(b_thresholds, key))
            if same in done:
                out[scope][key] = dict(done[same])
                continue
            fn = scope_stat(stat_fn("s_trust" if c is None else "phi", c), how)
            d = bootstrap_stat(
                applied(sets, a_thresholds, key),
                fn,
                other=applied(b[scope], b_thresholds, key),
                pair_runs=pair_runs,
                n_boot=n_boot,
                level=level,
                seed=seed,
                units=None if unit is None else unit[scope],
            )
            out[scope][key] = done[same] = {**d, "verdict": verdict(d)}
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


def _diff(d: Mapping | None) -> str:
    return "—" if not d else f"{format_ci(d)} {d['verdict']}"


def table5_paired(rows: Mapping[str, dict]) -> list[str]:
    """The markdown of Table 5's paired differences: each row - the inference-time baseline (the original
    model + self-consistency), and each self-consistency row - its model without abstention."""
    base = next((r["paired"]["against"] for r in rows.values() if (r.get("paired") or {}).get("against")), None)
    names = {"s_trust": "S_trust", "phi_1": "Phi_1"}
    cols = [(scope, k) for k in names for scope in ("in_domain", "ood")]
    where = {"in_domain": "in-domain", "ood": "OOD"}
    header = ["Method"] + [f"vs {base or 'baseline'}: {where[s]} {names[k]}" for s, k in cols]
    header += [f"vs without abstention: {where[s]} {names[k]}" for s, k in cols]
    body = []
    for label, r in rows.items():
        p = r.get("paired") or {}
        vs_base, vs_own = p.get("vs_baseline") or {}, p.get("vs_without_abstention") or {}
        body.append(
            [label]
            + [_diff((vs_base.get(s) or {}).get(k)) for s, k in cols]
            + [_diff((vs_own.get(s) or {}).get(k)) for s, k in cols]
        )
    return table(header, body)


def winner_lines(rows: Mapping[str, dict]) -> list[str]:
    """Per scope, the claim "does anything beat the inference-time baseline?" from the paired S_trust
    differences (never from overlapping or disjoint intervals)."""
    vs = {lab: (r.get("paired") or {}).get("vs_baseline") for lab, r in rows.items()}
    base = next((r["paired"]["against"] for r in rows.values() if (r.get("paired") or {}).get("against")), None)
    vs = {lab: v for lab, v in vs.items() if v}
    if base is None or not vs:
        return []
    out = []
    for scope, where in (("in_domain", "In domain"), ("ood", "Out of domain")):
        by: dict[str, list[str]] = {"holds": [], "does not hold": [], "inconclusive": [], "not checked": []}
        for lab, v in vs.items():
            by[(v.get(scope) or {}).get("s_trust", {}).get("verdict", "not checked")].append(lab)
        if by["holds"]:
            text = f"{', '.join(by['holds'])} {'beats' if len(by['holds']) == 1 else 'beat'} {base} on S_trust"
        elif by["does not hold"] and not by["inconclusive"]:
            text = f"{base} has the highest S_trust: every other row is below it"
        else:
            text = f"no row beats {base} on S_trust"
        parts = [f"{k}: {', '.join(v)}" for k, v in by.items() if v and k != "not checked"]
        out.append(f"- {where}: {text} (row - {base}, paired interval; {'; '.join(parts)}).")
    return out


__all__ = [
    "pack",
    "abstain_below",
    "applied",
    "stat_fn",
    "scope_stat",
    "choose_sc_threshold",
    "row_cells",
    "PAIRED",
    "paired_cells",
    "table5",
    "table5_paired",
    "winner_lines",
]


# --------------------------------------------------------------------------------------------
# the whole table from the pipeline's files
# --------------------------------------------------------------------------------------------

LABELS = {m: registry()[m].label for m in methods_in("table5")}  # Table 5's rows: the specs that list it
# the rows with a self-consistency variant: those with validation predictions and K samples (dvc.yaml's
# evaluate_val_baseline / evaluate_val and consistency_base / consistency stages)
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


def scopes(testsets: Mapping, packed: Mapping) -> dict[str, list]:
    """Per scope the entries of ``packed`` (per set) of its sets: in domain all, OOD the answerable ones."""
    return {
        "in_domain": [packed[n] for n, ts in testsets.items() if ts.group == "in_domain"],
        "ood": [packed[n] for n, ts in testsets.items() if ts.group == "ood" and ts.answerable],
    }


def scope_units(testsets: Mapping, cluster: str = "unit") -> dict[str, list[np.ndarray]]:
    """Per scope, per set the unit of each question (:func:`inbol.evaluation.stats.units`)."""
    return scopes(testsets, {n: units(ts.records, cluster) for n, ts in testsets.items()})


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
    cluster: str = "unit",
) -> tuple[dict, list[dict]]:
    """Table 5's rows (``{label: {model, self_consistency, thresholds, cells, paired}}``) and the
    risk-coverage rows ``{row, scope, coverage, risk}`` (in domain, runs pooled).  ``test_runs``/``val_runs``:
    per model the predictions of each run; ``agreements``: per model ``{"test": [per run {(set, id): a}],
    "val": [...]}``; ``cluster``: the bootstrap resamples the units questions share, or the questions.
    ``paired``: the row - the original model + self-consistency (``vs_baseline``) and a self-consistency
    row - its model as it answers (``vs_without_abstention``), S_trust and Phi_1 (:func:`paired_cells`)."""
    from .stats import values

    base_correct = {
        n: (values([x["verdict"] for x in _aligned(test_runs["base"][0], n, ts)]) == 1) for n, ts in testsets.items()
    }
    val_base = {n: np.zeros(len(ts.records), dtype=bool) for n, ts in valsets.items()}  # (not used on validation)
    unit = scope_units(testsets, cluster)
    kw = {"costs": costs, "n_boot": n_boot, "level": level, "seed": seed, "unit": unit}
    rows: dict = {}
    built: dict = {}  # label: (model, per scope the test sets, thresholds)
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
            answered = test_p if th is None else {n: abstain_below(v, th["s_trust"]) for n, v in test_p.items()}
            rows[label] = {
                "model": m,
                "self_consistency": th is not None,
                "thresholds": th,
                "runs": len(test_runs[m]),
                "cells": row_cells(scopes(testsets, test_p), thresholds=th, **kw),
                "refusal_by_bucket": bucket_refusals(
                    testsets, answered, thresholds, n_boot=n_boot, level=level, seed=seed, cluster=cluster
                ),
            }
            built[label] = (m, scopes(testsets, test_p), th)
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
    baseline = f"{LABELS['base']} + self-consistency"
    pkw = {"n_boot": n_boot, "level": level, "seed": seed, "unit": unit}
    for label, (m, sets, th) in built.items():
        vs_base = vs_own = None
        if baseline in built and label != baseline:
            bm, bsets, bth = built[baseline]
            vs_base = paired_cells(sets, th, bsets, bth, pair_runs=m == bm, **pkw)
        if th is not None:
            _, osets, _ = built[LABELS[m]]
            vs_own = paired_cells(sets, th, osets, None, pair_runs=True, **pkw)
        rows[label]["paired"] = {
            "against": baseline if baseline in built else None,
            "vs_baseline": vs_base,
            "vs_without_abstention": vs_own,
        }
    return rows, curves


def bucket_refusals(
    testsets: Mapping,
    packed: Mapping[str, np.ndarray],
    thresholds: tuple[float, float],
    *,
    n_boot,
    level,
    seed,
    cluster: str = "unit",
) -> dict:
    """The refusal rate (percent, with its interval) of one row on the answerable in-domain test questions
    of each Known / Mixed / Unknown bucket of the original model's confidence (``conf_base``; questions
    without one are left out); the bucket's questions resampled by unit (within a set) or one by one
    (``cluster``)."""
    from ..boundary.split import bucket

    delta_k, delta_uk = thresholds
    out = {}
    for b in ("known", "mixed", "unknown"):
        parts, keys = [], []
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
                keys += [(n, unit_of(ts.records[i]) if cluster == "unit" else i) for i in idx]
        if not parts:
            out[b] = {"mean": None, "lo": None, "hi": None, "n": 0}
            continue
        ci = bootstrap_stat(
            [np.concatenate(parts, axis=1)],
            lambda s: 100.0 * float((s[0][..., VALUE] == 0).mean()),
            n_boot=n_boot,
            level=level,
            seed=seed,
            units=[_index(keys)],
        )
        out[b] = {**ci, "n": int(sum(p.shape[1] for p in parts))}
    return out


def _index(keys: Sequence) -> np.ndarray:
    """Per key the index of its first appearance (0..n_distinct-1)."""
    index: dict = {}
    return np.array([index.setdefault(k, len(index)) for k in keys], dtype=int)


def _aligned(preds: Sequence[dict], name: str, ts) -> list[dict]:
    by = {x["id"]: x for x in preds if x["set"] == name}
    return [by[r["id"]] for r in ts.records]


__all__ += ["LABELS", "packed_sets", "scopes", "scope_units", "bucket_refusals", "selective_report"]
