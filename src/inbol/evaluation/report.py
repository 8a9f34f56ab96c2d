"""The report: the paper's Tables 1-4, Figure 4 and the exposure figure from the predictions of every
evaluated model (each trained model once per seed, pooled), and a list of the paper's headline trends,
each marked as holding or not (no tuning).

``metrics/tables.md`` lays the tables out like the paper's, with the paper's LLaVA-1.5-7B rows as a
labelled reference (the paper's numbers are on the real datasets with a 7B model; ours on the embedded
world unless configured otherwise).  Models without a metrics file are skipped with a note.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import DataError
from ..io import read_jsonl, write_json
from ..plots import label, plot_exposure, plot_figure4, write_csv
from . import paper
from .evaluate import check_coverage, score_runs
from .metrics import CONF_EDGES, by_conf_bin, exposure_labels, rounded
from .testsets import SETS, order_sets

FIG4_MODELS = ("base", "idk_it", "ca_dpo")
# Figure 4 scopes: the answerable in-domain sets pooled, and the AOKVQA-like OOD set (as in the paper)
FIG4_SCOPES = {
    "in_domain": tuple(n for n, (g, a, _) in SETS.items() if g == "in_domain" and a),
    "aokvqa": ("ood_phrasing",),
}
FIG4_SCOPE_LABELS = {"in_domain": "in domain", "aokvqa": "AOKVQA-like (OOD)"}
TABLE1_MODELS = ("base", "refusal_prompt", "sft", "idk_it", "ca_dpo")
TABLE3_MODELS = ("base", "idk_it", "ca_dpo")
TABLE4_MODELS = ("dpo_1", "dpo_2", "dpo_3", "ca_dpo")

FIG4_LONG_FIELDS = ("scope", "bin", "conf", "model", "n", "refusal_rate", "acc", "answered_acc")
FIG4_WIDE_FIELDS = ("bin", "conf", *FIG4_MODELS)
EXPOSURE_LONG_FIELDS = ("model", "bucket", "exposure_index", "n", "refusal_rate", "acc", "answered_acc")

PLOT_FILES = {
    "figure4_long": "figure4.csv",
    "figure4_refusal": "figure4_refusal.csv",
    "figure4_answered_acc": "figure4_answered_acc.csv",
    "figure4_png": "figure4.png",
    "exposure_long": "exposure.csv",
    "exposure_refusal": "exposure_refusal.csv",
    "exposure_png": "exposure_refusal.png",
}


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------


def run_files(folder: str | Path, model: str) -> list[Path]:
    """The prediction files of one model: ``<model>.jsonl`` (a baseline) or ``<model>-s<seed>.jsonl`` (one per
    seed of a trained model), in seed order."""
    folder = Path(folder)
    single = folder / f"{model}.jsonl"
    seeded = sorted(
        (p for p in folder.glob(f"{model}-s*.jsonl") if p.stem.rsplit("-s", 1)[1].isdigit()),
        key=lambda p: int(p.stem.rsplit("-s", 1)[1]),
    )
    return ([single] if single.is_file() else []) + seeded


def load_runs(folder: str | Path, models: Sequence[str], testsets: dict) -> dict[str, list[list[dict]]]:
    """Per model (those with prediction files) the predictions of each run; each must cover every test set
    exactly (a DataError naming the file and the set otherwise)."""
    out = {}
    for m in models:
        runs = []
        for path in run_files(folder, m):
            preds = read_jsonl(path)
            try:
                check_coverage(testsets, preds)
            except DataError as e:
                raise DataError(f"{path}: {e}") from None
            runs.append(preds)
        if runs:
            out[m] = runs
    if not out:
        raise DataError(f"{folder}: no predictions of any model ({', '.join(models)}) to report")
    return out


def score_models(testsets: dict, runs: dict[str, list[list[dict]]]) -> dict[str, dict]:
    """The metrics of each model, its runs pooled (:func:`inbol.evaluation.score_runs`)."""
    return {m: score_runs(testsets, r, model=m) for m, r in runs.items()}


# --------------------------------------------------------------------------------------------
# figure data
# --------------------------------------------------------------------------------------------


def figure4_rows(
    predictions: dict[str, list[dict]],
    models: Sequence[str] = FIG4_MODELS,
    scopes: dict[str, Sequence[str]] = FIG4_SCOPES,
    edges: Sequence[float] = CONF_EDGES,
) -> list[dict]:
    """Long rows ``{scope, bin, conf (bin midpoint), model, n, refusal_rate, acc, answered_acc}`` (percent)."""
    rows = []
    for scope, sets in scopes.items():
        for m in models:
            if m not in predictions:
                continue
            ps = [p for p in predictions[m] if p["set"] in sets]
            if not any(p.get("conf_base") is not None for p in ps):
                continue
            for b in by_conf_bin([p.get("conf_base") for p in ps], [p["verdict"] for p in ps], edges):
                rows.append(
                    {
                        "scope": scope,
                        "bin": b["bin"],
                        "conf": b["mid"],
                        "model": m,
                        "n": b["n"],
                        "refusal_rate": b["refusal_rate"],
                        "acc": b["acc"],
                        "answered_acc": b["answered_acc"],
                    }
                )
    return rounded(rows)


def wide_rows(
    rows: Sequence[dict],
    value: str,
    key: str,
    x: Sequence[str],
    scope: str | None = None,
    models: Sequence[str] = FIG4_MODELS,
    extra=("conf",),
) -> list[dict]:
    """One row per ``key`` value with a column per model (missing: None)."""
    out: dict = {}
    for r in rows:
        if scope is not None and r.get("scope") != scope:
            continue
        row = out.setdefault(r[key], {key: r[key], **{e: r.get(e) for e in extra}, **{m: None for m in models}})
        if r["model"] in models:
            row[r["model"]] = r[value]
    return [out[k] for k in x if k in out]


def exposure_rows(evals: dict[str, dict]) -> list[dict]:
    rows = []
    for m, ev in evals.items():
        exp = ev.get("exposure")
        if not exp:
            continue
        for i, b in enumerate(exposure_labels()):
            r = exp["buckets"].get(b, {})
            rows.append(
                {
                    "model": m,
                    "bucket": b,
                    "exposure_index": i,
                    "n": r.get("n", 0),
                    "refusal_rate": r.get("refusal_rate"),
                    "acc": r.get("acc"),
                    "answered_acc": r.get("answered_acc"),
                }
            )
    return rows


# --------------------------------------------------------------------------------------------
# trends
# --------------------------------------------------------------------------------------------

_SCOPES = (("in_domain", "overall", "in domain (overall)"), ("ood", "ood_avg", "out of domain (avg)"))
_CHECKS = (
    ("refr_idk_it_gt_base", "RefR(IDK-IT) > RefR(original)", "idk_it", "base", "refr", ">"),
    ("strust_idk_it_gt_base", "S_trust(IDK-IT) > S_trust(original)", "idk_it", "base", "s_trust", ">"),
    ("strust_ca_dpo_ge_idk_it", "S_trust(CA-DPO) >= S_trust(IDK-IT)", "ca_dpo", "idk_it", "s_trust", ">="),
    ("acc_ca_dpo_gt_idk_it", "Acc(CA-DPO) > Acc(IDK-IT)", "ca_dpo", "idk_it", "acc", ">"),
    (
        "answered_acc_idk_it_gt_base",
        "Answered Acc(IDK-IT) > Answered Acc(original)",
        "idk_it",
        "base",
        "answered_acc",
        ">",
    ),
    (
        "answered_acc_ca_dpo_gt_base",
        "Answered Acc(CA-DPO) > Answered Acc(original)",
        "ca_dpo",
        "base",
        "answered_acc",
        ">",
    ),
)


def trend_checks(evals: dict[str, dict]) -> list[dict]:
    """The paper's headline trends on our numbers: ``{key, scope, check, left, right, holds}`` where
    ``holds`` is None when a model or a number is missing."""
    out = []
    for scope, block, _ in _SCOPES:
        for key, text, a, b, metric, op in _CHECKS:
            va = (evals.get(a, {}).get(block) or {}).get(metric)
            vb = (evals.get(b, {}).get(block) or {}).get(metric)
            holds = None if va is None or vb is None else (va > vb if op == ">" else va >= vb)
            out.append(
                {
                    "key": key,
                    "scope": scope,
                    "check": text,
                    "left": va,
                    "right": vb,
                    "holds": holds,
                    "missing": [m for m in (a, b) if m not in evals],
                }
            )
    return out


def trends_json(checks: Sequence[dict]) -> dict:
    out: dict = {}
    for c in checks:
        out.setdefault(c["scope"], {})[c["key"]] = c["holds"]
    held = [c["holds"] for c in checks if c["holds"] is not None]
    out["n_checked"], out["n_hold"] = len(held), sum(held)
    return out


# --------------------------------------------------------------------------------------------
# markdown
# --------------------------------------------------------------------------------------------


def _f(v) -> str:
    return "—" if v is None else f"{v:.2f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _skipped(evals: dict, models: Sequence[str]) -> list[str]:
    miss = [m for m in models if m not in evals]
    return [f"_Skipped (no predictions): {', '.join(miss)}._", ""] if miss else []


def _sm(ev: dict, set_name: str, metric: str):
    return ((ev.get("sets") or {}).get(set_name) or {}).get(metric)


def _header(sets, unanswerable_col: str, pooled: str) -> list[str]:
    header = ["Method"]
    for s in sets:
        header += [f"{SETS[s][2]}~ {m}" for m in ("Acc", "RefR", "S_trust")]
    return header + [unanswerable_col] + [f"{pooled} {m}" for m in ("Acc", "RefR", "S_trust")]


def _our_rows(evals: dict, sets, unanswerable: str, pooled: str) -> list[list[str]]:
    """Our rows of Table 1/2: Acc/RefR/S_trust per answerable set, RefR on the unanswerable set, pooled."""
    rows = []
    for m in TABLE1_MODELS:
        if m not in evals:
            continue
        ev = evals[m]
        row = [label(m) if m == "base" else f"+{label(m)}"]
        for s in sets:
            row += [_f(_sm(ev, s, k)) for k in ("acc", "refr", "s_trust")]
        agg = ev.get(pooled) or {}
        row += [_f(_sm(ev, unanswerable, "refr"))] + [_f(agg.get(k)) for k in ("acc", "refr", "s_trust")]
        rows.append(row)
    return rows


def table1(evals: dict) -> list[str]:
    ind = ("perception", "emblem", "choice")
    header = _header(ind, "UaVQA~ RefR", "Overall")
    rows = _our_rows(evals, ind, "uavqa", "overall")
    for m in TABLE1_MODELS:
        p = paper.TABLE1[("7B", paper.TABLE1_METHOD[m])]
        name = "LLaVA1.5-7B" if m == "base" else paper.TABLE1_METHOD[m]
        row = [f"_paper: {name}_"]
        for s in ("vqav2", "oven", "sqa"):
            row += [_f(p[s][k]) for k in ("acc", "refr", "s_trust")]
        row += [_f(p["uavqa"]["refr"])] + [_f(p["overall"][k]) for k in ("acc", "refr", "s_trust")]
        rows.append(row)
    return (
        [
            "## Table 1: in domain",
            "",
            "Ours: perception ~ VQAv2, emblem ~ OVEN, choice ~ ScienceQA, UaVQA (unanswerable; Acc is 0 by "
            "definition). Overall pools the counts over all in-domain questions. Rows in _italics_ are the "
            "paper's LLaVA-1.5-7B numbers on the real datasets, for reference.",
            "",
        ]
        + _skipped(evals, TABLE1_MODELS)
        + _table(header, rows)
        + [""]
    )


def table2(evals: dict) -> list[str]:
    ood = ("ood_phrasing", "ood_hard", "ood_choice")
    header = _header(ood, "BeyondVisQA~ RefR", "OOD avg")
    rows = _our_rows(evals, ood, "beyond", "ood_avg")
    pheader = ["Method (paper, LLaVA-1.5-7B)"]
    for s, n in (("aokvqa", "AOKVQA"), ("gqa", "GQA"), ("mmmu", "MMMU")):
        pheader += [f"{n} {m}" for m in ("Acc", "RefR", "S_trust")]
    pheader += ["BeyondVisQA RefR"] + [f"MMBench {m}" for m in ("Acc", "RefR", "S_trust")]
    prow = []
    for m in TABLE1_MODELS:
        p = paper.TABLE2[("7B", paper.TABLE1_METHOD[m])]
        row = [f"_paper: {'LLaVA1.5-7B' if m == 'base' else paper.TABLE1_METHOD[m]}_"]
        for s in ("aokvqa", "gqa", "mmmu"):
            row += [_f(p[s][k]) for k in ("acc", "refr", "s_trust")]
        row += [_f(p["beyondvisqa"]["refr"])] + [_f(p["mmbench"][k]) for k in ("acc", "refr", "s_trust")]
        prow.append(row)
    return (
        [
            "## Table 2: out of domain",
            "",
            "Ours: ood_phrasing ~ AOKVQA, ood_hard ~ GQA, ood_choice ~ MMBench/MMMU (five options, the paper's "
            "letter prompt), beyond ~ BeyondVisQA (unanswerable); string matching only. OOD avg is the "
            "unweighted mean over the answerable OOD sets, as in the paper's Table 4.",
            "",
        ]
        + _skipped(evals, TABLE1_MODELS)
        + _table(header, rows)
        + ["", "The paper's Table 2, for reference:", ""]
        + _table(pheader, prow)
        + [""]
    )


def table3(evals: dict) -> list[str]:
    header = ["Refusal rate"] + [label(m) for m in TABLE3_MODELS]
    rows = [
        ["VizWiz(ua)-like (ours)"] + [_f(_sm(evals[m], "vizwiz", "refr")) if m in evals else "—" for m in TABLE3_MODELS]
    ]
    for key, name in (("vizwiz_ua", "VizWiz(ua)"), ("vqav2_idk_filter", "VQAv2-IDK(filter)")):
        rows.append(
            [f"_paper, LLaVA-1.5-7B: {name}_"]
            + [_f(paper.TABLE3[("7B", paper.TABLE3_MODEL[m])][key]) for m in TABLE3_MODELS]
        )
    return (
        [
            "## Table 3: extra unanswerable sets",
            "",
            "Ours: vizwiz ~ VizWiz(ua) (blank, dark, blurred or covered images). The embedded world has no "
            "VQAv2-IDK(filter) counterpart; the paper's row is shown for reference.",
            "",
        ]
        + _skipped(evals, TABLE3_MODELS)
        + _table(header, rows)
        + [""]
    )


def table4(evals: dict) -> list[str]:
    header = [
        "Method",
        "Data",
        "In-domain Acc",
        "In-domain RefR",
        "In-domain S_trust",
        "OOD avg Acc",
        "OOD avg RefR",
        "OOD avg S_trust",
    ]
    rows = []
    for m in TABLE4_MODELS:
        if m not in evals:
            continue
        method, data = paper.TABLE4_METHOD[m].split(" ")
        ov, avg = evals[m].get("overall") or {}, evals[m].get("ood_avg") or {}
        rows.append(
            [method, data]
            + [_f(ov.get(k)) for k in ("acc", "refr", "s_trust")]
            + [_f(avg.get(k)) for k in ("acc", "refr", "s_trust")]
        )
    for m in TABLE4_MODELS:
        p = paper.TABLE4[("7B", paper.TABLE4_METHOD[m])]
        method, data = paper.TABLE4_METHOD[m].split(" ")
        rows.append(
            [f"_paper 7B: {method}_", data]
            + [_f(p["in_domain"][k]) for k in ("acc", "refr", "s_trust")]
            + [_f(p["ood"][k]) for k in ("acc", "refr", "s_trust")]
        )
    return (
        [
            "## Table 4: DPO on preference data (1) (2) (3) vs CA-DPO",
            "",
            "(1) refusal > incorrect for Mixed, (2) correct > incorrect for Mixed, (3) both (CA-DPO's data). "
            "In-domain = the pooled Overall of Table 1; OOD avg = the unweighted mean over the answerable OOD "
            "sets (the paper's Table 4 averages follow exactly from its Tables 1 and 2 this way).",
            "",
        ]
        + _skipped(evals, TABLE4_MODELS)
        + _table(header, rows)
        + [""]
    )


def testsets_section(manifest: dict | None, evals: dict) -> list[str]:
    if not manifest:
        return []
    base = evals.get("base", {})
    rows = []
    for name in order_sets(manifest["sets"]):
        s = manifest["sets"][name]
        sel = s.get("selection") or {}
        rows.append(
            [
                name,
                s["paper"],
                s["group"],
                str(s["n"]),
                _f(None if s["conf_mean"] is None else 100 * s["conf_mean"]),
                _f(100 * sel["target"]) if sel else "—",
                _f(_sm(base, name, "acc")) if s["answerable"] else "—",
            ]
        )
    out = [
        "## Test sets",
        "",
        "Base conf = the original model's mean confidence (K samples) in percent; in domain the families are "
        "balanced towards the target (see inbol.evaluation.testsets). Base greedy Acc = what evaluate@base measured.",
        "",
    ]
    out += _table(["Set", "Stands for", "Group", "N", "Base conf mean", "Target", "Base greedy Acc"], rows)
    if manifest.get("warnings"):
        out += [""] + [f"- note: {w}" for w in manifest["warnings"]]
    return out + [""]


def exposure_section(evals: dict) -> list[str]:
    models = [m for m in evals if evals[m].get("exposure")]
    if not models:
        return []
    buckets = exposure_labels()
    header = (
        ["Model"]
        + [f"RefR exp {b}" for b in buckets]
        + [f"Acc exp {b}" for b in buckets]
        + ["Spearman(refusal, log1p exposure)", "RefR gap low-high"]
    )
    rows = []
    for m in models:
        e = evals[m]["exposure"]
        rows.append(
            [label(m)]
            + [_f(e["buckets"][b]["refusal_rate"]) for b in buckets]
            + [_f(e["buckets"][b]["acc"]) for b in buckets]
            + ["—" if e["spearman"] is None else f"{e['spearman']:.3f}", _f(e["refusal_gap"])]
        )
    ns = evals[models[0]]["exposure"]["buckets"]
    return (
        [
            "## Beyond the paper: refusal by ground-truth knowledge",
            "",
            "In-domain emblem-name questions (the open, OVEN-like set) by how often the emblem appears in "
            "the pretraining corpus (questions per bucket: "
            + ", ".join(f"{b}: {ns[b]['n']}" for b in buckets)
            + "). A model aware of its intrinsic "
            "boundary refuses more where exposure is low: Spearman < 0 and a positive gap (percentage points, "
            "lowest minus highest non-empty bucket).",
            "",
        ]
        + _table(header, rows)
        + [""]
    )


def trends_section(checks: Sequence[dict]) -> list[str]:
    out = [
        "## The paper's trends on our numbers",
        "",
        "Each check as stated by the paper, on our metrics, without tuning.",
        "",
    ]
    rows = []
    for scope, _, text in _SCOPES:
        for c in (c for c in checks if c["scope"] == scope):
            res = (
                ("not checked (missing: " + ", ".join(c["missing"]) + ")" if c["missing"] else "not checked")
                if c["holds"] is None
                else ("holds" if c["holds"] else "does not hold")
            )
            rows.append([c["check"], text, f"{_f(c['left'])} vs {_f(c['right'])}", res])
    return out + _table(["Check", "Scope", "Numbers", "Result"], rows) + [""]


def render_tables(
    evals: dict[str, dict],
    manifest: dict | None = None,
    checks: Sequence[dict] | None = None,
    notes: Sequence[str] = (),
    models: Sequence[str] = (),
) -> str:
    checks = trend_checks(evals) if checks is None else checks
    missing = [m for m in models if m not in evals]
    lines = [
        "# InBoL reproduction: results",
        "",
        "Metrics in percent (paper section 2.2): Acc = N_c/N, RefR = N_r/N, S_trust = 2 Acc + RefR - 100, "
        "Answered Acc = N_c/(N - N_r). Generated by the report stage from the predictions of every model; a "
        "trained model's numbers pool its seeds (the mean over seeds).",
        "",
    ]
    if missing:
        lines += [f"Models without metrics (skipped everywhere): {', '.join(missing)}.", ""]
    lines += list(notes) + ([""] if notes else [])
    lines += table1(evals) + table2(evals) + table3(evals) + table4(evals)
    lines += testsets_section(manifest, evals) + exposure_section(evals) + trends_section(checks)
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------------------------
# everything
# --------------------------------------------------------------------------------------------


def write_report(
    evals: dict[str, dict],
    predictions: dict[str, list[dict]],
    *,
    models: Sequence[str],
    tables_md: str | Path,
    plots_dir: str | Path,
    trends_path: str | Path | None = None,
    manifest: dict | None = None,
) -> dict:
    """Write the tables, the figure CSVs/PNGs and (optionally) the trends JSON; returns the trends JSON.
    ``predictions``: per model every prediction of its runs; ``models``: the evaluated models in order."""
    from ..io import atomic_path

    plots_dir = Path(plots_dir)
    notes = []
    fig_missing = [m for m in FIG4_MODELS if m not in predictions]
    if fig_missing:
        notes.append(f"Figure 4 leaves out (no predictions): {', '.join(fig_missing)}.")
    fig = figure4_rows(predictions)
    bins = [lab for lab in dict.fromkeys(r["bin"] for r in fig)]
    write_csv(fig, plots_dir / PLOT_FILES["figure4_long"], FIG4_LONG_FIELDS)
    for key, value in (("figure4_refusal", "refusal_rate"), ("figure4_answered_acc", "answered_acc")):
        write_csv(wide_rows(fig, value, "bin", bins, scope="in_domain"), plots_dir / PLOT_FILES[key], FIG4_WIDE_FIELDS)
    plot_figure4(fig, plots_dir / PLOT_FILES["figure4_png"], scope_labels=FIG4_SCOPE_LABELS)
    exp = exposure_rows(evals)
    write_csv(exp, plots_dir / PLOT_FILES["exposure_long"], EXPOSURE_LONG_FIELDS)
    write_csv(
        wide_rows(exp, "refusal_rate", "bucket", exposure_labels(), models=list(models), extra=("exposure_index",)),
        plots_dir / PLOT_FILES["exposure_refusal"],
        ("bucket", "exposure_index", *models),
    )
    plot_exposure(exp, plots_dir / PLOT_FILES["exposure_png"])
    checks = trend_checks(evals)
    with atomic_path(tables_md) as tmp:
        Path(tmp).write_text(render_tables(evals, manifest, checks, notes, models=models))
    tj = trends_json(checks)
    if trends_path is not None:
        write_json(trends_path, tj)
    return tj


__all__ = [
    "FIG4_MODELS",
    "FIG4_SCOPES",
    "PLOT_FILES",
    "FIG4_LONG_FIELDS",
    "FIG4_WIDE_FIELDS",
    "EXPOSURE_LONG_FIELDS",
    "run_files",
    "load_runs",
    "score_models",
    "figure4_rows",
    "wide_rows",
    "exposure_rows",
    "trend_checks",
    "trends_json",
    "render_tables",
    "write_report",
]
