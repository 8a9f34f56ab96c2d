"""The paper's Tables 1-4 and its headline trends, with uncertainty: every cell is a mean over the seeds with
its 95% bootstrap interval over questions (by the unit they share) and seeds (:mod:`inbol.evaluation.stats`),
and every trend is a paired difference on the same questions with its interval and a verdict.

Definitions (one each, docs/evaluation.md):

- a model's result on a set: the runs (one per seed; the untrained baselines have one) x the set's
  questions, values +1 correct / 0 refusal / -1 incorrect (a blank response is incorrect);
- in domain ("Overall", Table 1): the in-domain sets pooled (UaVQA included), counts summed;
- out of domain ("OOD avg", Tables 2 and 4, every trend): Acc / RefR / S_trust are the unweighted mean over
  the answerable OOD sets (BeyondVisQA is reported by its refusal rate only, as in the paper); answered
  accuracy is pooled over those sets (N_c / N_answered), so it is defined whenever any is answered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..evalsets import EvalSet, ordered
from ..markdown import table as _table
from ..methods.registry import methods_in, registry
from . import paper
from .stats import METRICS, bootstrap, format_ci, paired_difference, units, values, verdict

# the rows (columns of Table 3) of each table: the methods whose spec lists it (src/inbol/methods), in their order
TABLE1_MODELS = methods_in("table1")
TABLE2_MODELS = methods_in("table2")
TABLE3_MODELS = methods_in("table3")
TABLE4_MODELS = methods_in("table4")
NO_PAPER = "—"  # a paper column of a method the paper does not have
SCOPES = {"in_domain": "in domain (overall)", "ood": "out of domain (avg)"}
CHECKS = (
    ("refr_idk_it_gt_base", "RefR(IDK-IT) > RefR(original)", "idk_it", "base", "refr"),
    ("strust_idk_it_gt_base", "S_trust(IDK-IT) > S_trust(original)", "idk_it", "base", "s_trust"),
    ("strust_ca_dpo_ge_idk_it", "S_trust(CA-DPO) >= S_trust(IDK-IT)", "ca_dpo", "idk_it", "s_trust"),
    ("acc_ca_dpo_gt_idk_it", "Acc(CA-DPO) > Acc(IDK-IT)", "ca_dpo", "idk_it", "acc"),
    ("answered_acc_idk_it_gt_base", "Answered Acc(IDK-IT) > Answered Acc(original)", "idk_it", "base", "answered_acc"),
    ("answered_acc_ca_dpo_gt_base", "Answered Acc(CA-DPO) > Answered Acc(original)", "ca_dpo", "base", "answered_acc"),
)


class Runs:
    """One model's response values: per test set a (runs x questions) int8 matrix in the set's record order,
    and the seed of each run (None for an untrained baseline)."""

    def __init__(self, model: str, testsets: Mapping, runs: Sequence[Sequence[dict]], seeds: Sequence):
        self.model, self.seeds = model, list(seeds)
        self.values: dict[str, np.ndarray] = {}
        for name, ts in testsets.items():
            rows = []
            for preds in runs:
                by_id = {p["id"]: p["verdict"] for p in preds if p["set"] == name}
                rows.append(values([by_id[r["id"]] for r in ts.records]))
            self.values[name] = np.stack(rows)


def groups(testsets: Mapping) -> dict[str, list[str]]:
    """The sets of each scope: in domain (all), OOD (the answerable out-of-domain sets)."""
    return {
        "in_domain": [n for n, ts in testsets.items() if ts.group == "in_domain"],
        "ood": [n for n, ts in testsets.items() if ts.group == "ood" and ts.answerable],
    }


def set_units(testsets: Mapping, cluster: str = "unit") -> dict[str, np.ndarray]:
    """Per set the unit index of each question (:func:`inbol.evaluation.stats.units`; ``stats.cluster``)."""
    return {name: units(ts.records, cluster) for name, ts in testsets.items()}


def _scope(r: Runs, sets: Sequence[str], scope: str, fn, unit: Mapping | None = None, **kw) -> dict:
    """Per metric the result of ``fn`` on a scope: pooled in domain; OOD Acc/RefR/S_trust as the mean over
    sets, OOD answered accuracy pooled; ``unit``: per set the unit of each question (the bootstrap's
    clusters)."""
    mats = [r.values[s] for s in sets]
    if unit is not None:
        kw["units"] = [unit[s] for s in sets]
    if scope == "in_domain":
        return fn(mats, METRICS, how="pooled", **kw)
    out = fn(mats, ("acc", "refr", "s_trust"), how="mean", **kw)
    out.update(fn(mats, ("answered_acc",), how="pooled", **kw))
    return out


def model_cis(r: Runs, testsets: Mapping, *, n_boot: int, level: float, seed: int, cluster: str = "unit") -> dict:
    """``{"sets": {set: {metric: ci}}, "in_domain": {...}, "ood": {...}, "seeds": [...]}`` of one model; the
    bootstrap resamples the units questions share (``cluster="unit"``) or the questions (``"question"``)."""
    kw = {"n_boot": n_boot, "level": level, "seed": seed}
    unit = set_units(testsets, cluster)
    out = {
        "model": r.model,
        "seeds": r.seeds,
        "sets": {n: bootstrap([r.values[n]], METRICS, units=[unit[n]], **kw) for n in r.values},
    }
    for scope, sets in groups(testsets).items():
        if sets:
            out[scope] = _scope(r, sets, scope, bootstrap, unit, **kw)
    return out


def per_seed_rows(r: Runs, testsets: Mapping) -> list[dict]:
    """CSV rows ``{model, seed, set, n, acc, refr, s_trust, answered_acc}`` of every run on every set and scope."""
    from .stats import group_metric

    rows = []
    g = groups(testsets)
    for i, seed in enumerate(r.seeds):
        for name, v in r.values.items():
            rows.append(
                {
                    "model": r.model,
                    "seed": seed,
                    "set": name,
                    "n": v.shape[1],
                    **{m: group_metric([v[i : i + 1]], m, "pooled") for m in METRICS},
                }
            )
        for scope, sets in g.items():
            if sets:
                mats = [r.values[s][i : i + 1] for s in sets]
                rows.append(
                    {
                        "model": r.model,
                        "seed": seed,
                        "set": scope,
                        "n": sum(m.shape[1] for m in mats),
                        **{
                            m: group_metric(
                                mats, m, "pooled" if scope == "in_domain" or m == "answered_acc" else "mean"
                            )
                            for m in METRICS
                        },
                    }
                )
    return rows


def trend_checks(
    runs: Mapping[str, Runs], testsets: Mapping, *, n_boot: int, level: float, seed: int, cluster: str = "unit"
) -> list[dict]:
    """The paper's headline trends as paired differences with intervals and verdicts (``not checked`` when a
    model is missing); the same unit (or question, ``cluster``) draw for both models."""
    out = []
    unit = set_units(testsets, cluster)
    for scope, sets in groups(testsets).items():
        for key, text, a, b, metric in CHECKS:
            row = {
                "key": key,
                "scope": scope,
                "check": text,
                "a": a,
                "b": b,
                "metric": metric,
                "missing": [m for m in (a, b) if m not in runs],
            }
            if row["missing"] or not sets:
                out.append({**row, "diff": None, "verdict": "not checked"})
                continue
            ra, rb = runs[a], runs[b]
            pair = ra.seeds == rb.seeds and None not in ra.seeds

            def fn(mats_a, metrics, how, _rb=rb, **kw):
                mats_b = [_rb.values[s] for s in sets]
                return paired_difference(mats_a, mats_b, metrics, how=how, pair_runs=pair, **kw)

            diff = _scope(ra, sets, scope, fn, unit, n_boot=n_boot, level=level, seed=seed)[metric]
            out.append({**row, "diff": diff, "paired_runs": pair, "verdict": verdict(diff)})
    return out


def trends_json(checks: Sequence[dict]) -> dict:
    out: dict = {}
    for c in checks:
        out.setdefault(c["scope"], {})[c["key"]] = {"verdict": c["verdict"], "diff": c["diff"]}
    counted = [c["verdict"] for c in checks if c["verdict"] != "not checked"]
    out["n_checked"] = len(counted)
    out["n_hold"] = counted.count("holds")
    out["n_do_not_hold"] = counted.count("does not hold")
    out["n_inconclusive"] = counted.count("inconclusive")
    return out


# --------------------------------------------------------------------------------------------
# markdown
# --------------------------------------------------------------------------------------------


def _p(v) -> str:
    return "—" if v is None else f"{v:.2f}"


def _cell(cis: Mapping, where: str, metric: str) -> str:
    block = cis.get(where) if where in ("in_domain", "ood") else (cis.get("sets") or {}).get(where)
    return format_ci((block or {}).get(metric))


def _skipped(cis: Mapping, models: Sequence[str]) -> list[str]:
    miss = [m for m in models if m not in cis]
    return [f"_Skipped (no predictions): {', '.join(miss)}._", ""] if miss else []


def label(m: str) -> str:
    """A method's display name (its spec's label; the name itself for a model outside the registry)."""
    spec = registry().get(m)
    return m if spec is None else spec.label


def _name(m: str) -> str:
    """A row's name: the original and the reference rows (kind inference) as they are, the others "+<label>"."""
    spec = registry().get(m)
    return label(m) if m == "base" or (spec is not None and spec.kind == "inference") else f"+{label(m)}"


def _paper_name(m: str) -> str:
    """The italic name of a method's paper row in Tables 1-2."""
    row = registry()[m].paper_table1
    return f"_paper: {'LLaVA1.5-7B' if m == 'base' else (row or _name(m) + ' (not in the paper)')}_"


def _table4_row(m: str) -> tuple[str, str]:
    """(method, data) of a method's Table 4 row: its paper name split, or its label and the data column of the
    paper method trained on the same set (else the set's name)."""
    spec = registry()[m]
    if spec.paper_table4 is not None:
        method, data = spec.paper_table4.split(" ")
        return method, data
    same = [s.paper_table4.split(" ")[1] for s in registry().values() if s.data == spec.data and s.paper_table4]
    return spec.label, same[0] if same else (NO_PAPER if spec.data is None else str(spec.data))


def _seeds_note(cis: Mapping) -> str:
    seeds = sorted({len(c["seeds"]) for c in cis.values() if None not in c["seeds"]})
    return f"Trained models: mean over {'/'.join(map(str, seeds))} seed(s)." if seeds else ""


def _columns(testsets: Mapping, group: str) -> tuple[list[EvalSet], list[EvalSet]]:
    """The registered sets of ``group`` present in ``testsets`` (inbol.evalsets, in order): answerable (Acc,
    RefR, S_trust columns) and unanswerable (a RefR column)."""
    specs = ordered(testsets, group=group)
    return [s for s in specs if s.answerable], [s for s in specs if not s.answerable]


def _caption(specs: Sequence[EvalSet], unanswerable: str) -> str:
    """``name ~ paper (note)`` per set (the paper's name alone where it is the set's), joined by commas."""
    out = []
    for s in specs:
        notes = [n for n in ((unanswerable if not s.answerable else None), s.note) if n]
        who = s.paper if s.name.lower() == s.paper.lower() else f"{s.name} ~ {s.paper}"
        out.append(who + (f" ({'; '.join(notes)})" if notes else ""))
    return ", ".join(out)


def _paper_cell(p: Mapping, s: EvalSet, k: str) -> str:
    return _p(p[s.paper_key][k]) if s.paper_key in p else "—"


def table1(cis: Mapping, testsets: Mapping) -> list[str]:
    ind, ua = _columns(testsets, "in_domain")
    header = ["Method"] + [f"{s.paper}~ {m}" for s in ind for m in ("Acc", "RefR", "S_trust")]
    header += [f"{s.paper}~ RefR" for s in ua] + ["Overall Acc", "Overall RefR", "Overall S_trust", "Answered Acc"]
    rows = []
    for m in TABLE1_MODELS:
        if m not in cis:
            continue
        row = [_name(m)] + [_cell(cis[m], s.name, k) for s in ind for k in ("acc", "refr", "s_trust")]
        row += [_cell(cis[m], s.name, "refr") for s in ua] + [_cell(cis[m], "in_domain", k) for k in METRICS]
        rows.append(row)
    for m in TABLE1_MODELS:
        row = [_paper_name(m)]
        if registry()[m].paper_table1 is None:
            rows.append(row + [NO_PAPER] * (len(header) - 1))
            continue
        p = paper.TABLE1[("7B", registry()[m].paper_table1)]
        row += [_paper_cell(p, s, k) for s in ind for k in ("acc", "refr", "s_trust")]
        row += [_paper_cell(p, s, "refr") for s in ua] + [_p(p["overall"][k]) for k in ("acc", "refr", "s_trust")]
        rows.append(row + ["—"])
    return (
        [
            "## Table 1: in domain",
            "",
            f"Ours: {_caption(ind + ua, 'unanswerable; Acc is 0 by definition')}. Overall pools the counts over all "
            "in-domain questions. Each cell: mean [95% bootstrap "
            f"interval over questions and seeds]. {_seeds_note(cis)} Rows in _italics_ are the paper's "
            "LLaVA-1.5-7B numbers on the real datasets, for reference.",
            "",
        ]
        + _skipped(cis, TABLE1_MODELS)
        + _table(header, rows)
        + [""]
    )


def table2(cis: Mapping, testsets: Mapping) -> list[str]:
    ood, ua = _columns(testsets, "ood")
    header = ["Method"] + [f"{s.paper}~ {m}" for s in ood for m in ("Acc", "RefR", "S_trust")]
    header += [f"{s.paper}~ RefR" for s in ua]
    header += ["OOD avg Acc", "OOD avg RefR", "OOD avg S_trust", "OOD Answered Acc"]
    rows = []
    for m in TABLE2_MODELS:
        if m not in cis:
            continue
        row = [_name(m)] + [_cell(cis[m], s.name, k) for s in ood for k in ("acc", "refr", "s_trust")]
        row += [_cell(cis[m], s.name, "refr") for s in ua] + [_cell(cis[m], "ood", k) for k in METRICS]
        rows.append(row)
    pheader = ["Method (paper, LLaVA-1.5-7B)"]
    for n in ("AOKVQA", "GQA", "MMMU"):
        pheader += [f"{n} {m}" for m in ("Acc", "RefR", "S_trust")]
    pheader += ["BeyondVisQA RefR"] + [f"MMBench {m}" for m in ("Acc", "RefR", "S_trust")]
    prow = []
    for m in TABLE2_MODELS:
        row = [_paper_name(m)]
        if registry()[m].paper_table1 is None:
            prow.append(row + [NO_PAPER] * (len(pheader) - 1))
            continue
        p = paper.TABLE2[("7B", registry()[m].paper_table1)]
        for s in ("aokvqa", "gqa", "mmmu"):
            row += [_p(p[s][k]) for k in ("acc", "refr", "s_trust")]
        row += [_p(p["beyondvisqa"]["refr"])] + [_p(p["mmbench"][k]) for k in ("acc", "refr", "s_trust")]
        prow.append(row)
    return (
        [
            "## Table 2: out of domain",
            "",
            f"Ours: {_caption(ood + ua, 'unanswerable')}; string matching only. OOD avg: the unweighted "
            "mean over the answerable OOD sets (as the paper's Table 4); OOD answered accuracy pools them.",
            "",
        ]
        + _skipped(cis, TABLE2_MODELS)
        + _table(header, rows)
        + ["", "The paper's Table 2, for reference:", ""]
        + _table(pheader, prow)
        + [""]
    )


def table3(cis: Mapping, testsets: Mapping) -> list[str]:
    header = ["Refusal rate"] + [label(m) for m in TABLE3_MODELS]
    rows = []
    extra = ordered(group="extra")
    present = [s for s in extra if s.name in testsets]
    for s in present:  # a set the synthetic world has is "-like"; one only the real datasets have is not
        text = f"{s.paper}{'-like' if getattr(s.source, 'generator', None) else ''} (ours)"
        rows.append([text] + [_cell(cis[m], s.name, "refr") if m in cis else "—" for m in TABLE3_MODELS])
    for s in extra:
        if s.paper_key is None:
            continue
        rows.append([f"_paper, LLaVA-1.5-7B: {s.paper}_"] + [_paper3(m, s.paper_key) for m in TABLE3_MODELS])
    note = "".join(
        f" The embedded world has no {s.paper} counterpart (n/a); the paper's row is shown for reference."
        for s in extra
        if s.paper_key is not None and s.name not in testsets
    )
    return (
        [
            "## Table 3: extra unanswerable sets",
            "",
            f"Ours: {_caption([s for s in present if s.source.generator], '')}.{note}",
            "",
        ]
        + _skipped(cis, TABLE3_MODELS)
        + _table(header, rows)
        + [""]
    )


def _paper3(m: str, key: str) -> str:
    column = registry()[m].paper_table3
    return NO_PAPER if column is None else _p(paper.TABLE3[("7B", column)][key])


def table4(cis: Mapping) -> list[str]:
    header = ["Method", "Data"] + [f"In-domain {m}" for m in ("Acc", "RefR", "S_trust")]
    header += [f"OOD avg {m}" for m in ("Acc", "RefR", "S_trust")]
    rows = []
    for m in TABLE4_MODELS:
        if m not in cis:
            continue
        method, data = _table4_row(m)
        rows.append(
            [method, data]
            + [_cell(cis[m], "in_domain", k) for k in ("acc", "refr", "s_trust")]
            + [_cell(cis[m], "ood", k) for k in ("acc", "refr", "s_trust")]
        )
    for m in TABLE4_MODELS:
        method, data = _table4_row(m)
        if registry()[m].paper_table4 is None:
            rows.append([f"_paper 7B: {method}_", data] + [NO_PAPER] * 6)
            continue
        p = paper.TABLE4[("7B", registry()[m].paper_table4)]
        rows.append(
            [f"_paper 7B: {method}_", data]
            + [_p(p["in_domain"][k]) for k in ("acc", "refr", "s_trust")]
            + [_p(p["ood"][k]) for k in ("acc", "refr", "s_trust")]
        )
    return (
        [
            "## Table 4: DPO on preference data (1) (2) (3) vs CA-DPO",
            "",
            "(1) refusal > incorrect for Mixed, (2) correct > incorrect for Mixed, (3) both (CA-DPO's data). "
            "In-domain = the pooled Overall of Table 1; OOD avg = the unweighted mean over the answerable OOD "
            "sets.",
            "",
        ]
        + _skipped(cis, TABLE4_MODELS)
        + _table(header, rows)
        + [""]
    )


def trends_section(checks: Sequence[dict]) -> list[str]:
    rows = []
    for c in checks:
        d = c["diff"]
        numbers = "—" if d is None else format_ci(d)
        missing = f" (missing: {', '.join(c['missing'])})" if c["missing"] else ""
        rows.append([c["check"], SCOPES[c["scope"]], numbers, c["verdict"] + missing])
    return (
        [
            "## The paper's trends on our numbers",
            "",
            "Each claim as a paired difference A - B on the same questions (percentage points): mean [95% "
            "bootstrap interval over questions and seeds]. Holds: the whole interval above 0; does not hold: "
            "below 0; inconclusive: it contains 0. No tuning on these sets.",
            "",
        ]
        + _table(["Check", "Scope", "A - B", "Verdict"], rows)
        + [""]
    )


__all__ = [
    "TABLE1_MODELS",
    "TABLE2_MODELS",
    "TABLE3_MODELS",
    "TABLE4_MODELS",
    "SCOPES",
    "CHECKS",
    "Runs",
    "groups",
    "set_units",
    "model_cis",
    "per_seed_rows",
    "trend_checks",
    "trends_json",
    "table1",
    "table2",
    "table3",
    "table4",
    "trends_section",
]
