"""The report: the paper's Tables 1-4 with bootstrap intervals and its headline trends with verdicts
(:mod:`inbol.evaluation.tables`), Figure 4 and the exposure figure, from the predictions of every
evaluated model (each trained model once per seed); beyond the paper, the OVEN-like overlap of the
evaluated emblems with the fine-tuning data and the miniature's analogue check (validation sets).

``tables.md`` lays the tables out like the paper's, with the paper's LLaVA-1.5-7B rows as a labelled
reference (the paper's numbers are on the real datasets with a 7B model; ours on the embedded world unless
configured otherwise).  Models without predictions are skipped with a note.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import DataError
from ..evalsets import order_sets, ordered
from ..io import read_json, write_json
from ..methods.registry import labels, methods_in, registry
from ..plots import plot_exposure, plot_figure4, write_csv
from ..records import read_predictions
from . import tables
from .awareness import headline as awareness_headline
from .awareness import markdown as awareness_md
from .evaluate import check_coverage, score_runs
from .metrics import CONF_EDGES, by_conf_bin, exposure_labels, rounded
from .stats import format_ci
from .tables import label

FIG4_MODELS = methods_in("figure4")  # the methods whose spec lists Figure 4
# Figure 4 scopes: the answerable in-domain sets pooled, and the AOKVQA-like OOD set (as in the paper)
FIG4_SCOPES = {
    "in_domain": tuple(s.name for s in ordered(group="in_domain") if s.answerable),
    "aokvqa": tuple(s.name for s in ordered() if s.paper == "AOKVQA"),
}
FIG4_SCOPE_LABELS = {"in_domain": "in domain", "aokvqa": "AOKVQA-like (OOD)"}

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


def run_seed(path: Path) -> int | None:
    """The seed of a prediction file (None for a baseline's ``<model>.jsonl``)."""
    tail = path.stem.rsplit("-s", 1)
    return int(tail[1]) if len(tail) == 2 and tail[1].isdigit() else None


def load_runs(folder: str | Path, models: Sequence[str], testsets: dict) -> dict[str, list[list[dict]]]:
    """Per model (those with prediction files) the predictions of each run; each must cover every test set
    exactly (a DataError naming the file and the set otherwise)."""
    out = {}
    for m in models:
        runs = []
        for path in run_files(folder, m):
            preds = read_predictions(path)
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
# sections beyond the paper's tables
# --------------------------------------------------------------------------------------------


def _f(v) -> str:
    return "—" if v is None else f"{v:.2f}"


def testsets_section(manifest: dict | None, base_cis: dict | None) -> list[str]:
    if not manifest:
        return []
    rows = []
    for name in order_sets(manifest["sets"]):
        s = manifest["sets"][name]
        sel = s.get("selection") or {}
        acc = ((base_cis or {}).get("sets") or {}).get(name, {}).get("acc") if s["answerable"] else None
        rows.append(
            [
                name,
                s["paper"],
                s["group"],
                str(s["n"]),
                _f(None if s["conf_mean"] is None else 100 * s["conf_mean"]),
                _f(100 * sel["target"]) if sel else "—",
                format_ci(acc) if acc else "—",
            ]
        )
    out = [
        "## Test sets",
        "",
        "Base conf = the original model's mean confidence (K samples) in percent; in domain the families are "
        "balanced towards the target (see inbol.evaluation.testsets). Base greedy Acc = what evaluate@base "
        "measured.",
        "",
    ]
    out += tables._table(["Set", "Stands for", "Group", "N", "Base conf mean", "Target", "Base greedy Acc"], rows)
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
            "In-domain emblem-name questions (the open, OVEN-like set) by how often the emblem appears in the "
            "pretraining corpus (questions per bucket: "
            + ", ".join(f"{b}: {ns[b]['n']}" for b in buckets)
            + "). A model aware of its intrinsic boundary refuses more where exposure is low: Spearman < 0 and "
            "a positive gap (percentage points, lowest minus highest non-empty bucket; runs pooled).",
            "",
        ]
        + tables._table(header, rows)
        + [""]
    )


def emblem_overlap(testsets: dict, construct: Sequence[dict]) -> dict | None:
    """The OVEN-like check: the share of the in-domain emblem test questions whose emblem any fine-tuning
    set (every set, every seed) names."""
    if "emblem" not in testsets or not construct:
        return None
    named = {e for c in construct for name, m in c.items() if isinstance(m, dict) for e in m.get("emblems_named", [])}
    ids = [r.get("meta", {}).get("emblem_id") for r in testsets["emblem"].records]
    ids = [i for i in ids if i is not None]
    if not ids:
        return None
    return {
        "n": len(ids),
        "named_in_fine_tuning": sum(i in named for i in ids),
        "share": sum(i in named for i in ids) / len(ids),
        "emblems_in_fine_tuning": len(named),
    }


def overlap_section(overlap: dict | None, gain: dict | None) -> list[str]:
    if overlap is None:
        return []
    out = [
        "## Beyond the paper: is the OVEN-like set long-tailed relative to the fine-tuning data?",
        "",
        f"{overlap['named_in_fine_tuning']} of {overlap['n']} in-domain emblem test questions "
        f"({100 * overlap['share']:.1f}%) show an emblem that some fine-tuning set names "
        f"({overlap['emblems_in_fine_tuning']} emblems appear in the fine-tuning data).",
    ]
    if gain is not None:
        out.append(
            f"SFT's gain over the original model on that set: {format_ci(gain)} accuracy points "
            "(paper, OVEN: 50.33 -> 50.67)."
        )
    return out + [""]


def miniature_section(mini: dict | None) -> list[str]:
    if not mini:
        return []
    rows = []
    for name, s in mini["sets"].items():
        t = mini["targets"].get(name, {})
        met = (
            "yes"
            if t and all(x["met"] for x in t.values())
            else ("no: " + ", ".join(k for k, x in t.items() if not x["met"]) if t else "—")
        )
        rows.append(
            [
                name,
                s["paper"],
                _f(None if s["greedy_acc"] is None else 100 * s["greedy_acc"]),
                _f(s.get("paper_original_acc")),
                _f(None if s["refusal_prompt_acc"] is None else 100 * s["refusal_prompt_acc"]),
                _f(s.get("paper_refusal_prompt_acc")),
                _f(None if s["known_share"] is None else 100 * s["known_share"]),
                met,
            ]
        )
    cal = mini.get("calibration", {})
    cal_rows = [
        [
            f"{c['temperature']:g}",
            f"{c['ece']:.3f}",
            _f(100 * c["conf_mean"]),
            _f(100 * c["greedy_acc"]),
            _f(100 * c["known_share"]),
            _f(100 * c["unknown_share"]),
        ]
        for c in cal.values()
    ]
    return (
        [
            "## The miniature: the original model on each analogue (validation sets)",
            "",
            "Greedy accuracy of the original model, with the paper's refusal prompt appended, and the share of "
            "Known questions, beside LLaVA-1.5-7B on the real set (the paper's Tables 1-2); targets from "
            "inbol.miniature.",
            "",
        ]
        + tables._table(
            ["Set", "Stands for", "Greedy Acc", "paper", "with refusal prompt", "paper", "Known share", "targets met"],
            rows,
        )
        + [
            "",
            f"Calibration of the K-sample confidence against greedy correctness (sampling.temperature = "
            f"{mini.get('sampling_temperature')}; lowest ECE at T = {mini.get('lowest_ece_temperature')}):",
            "",
        ]
        + tables._table(["T", "ECE", "conf mean", "greedy Acc", "Known", "Unknown"], cal_rows)
        + [""]
    )


def selective_section(sel: dict | None) -> list[str]:
    """Table 5 (beyond the paper) from the selective stage's metrics."""
    if not sel or not sel.get("rows"):
        return []
    from .abstention import table5, table5_paired, winner_lines

    costs = sel["costs"]
    claims = winner_lines(sel["rows"])
    return (
        [
            "## Table 5 (beyond the paper): selective prediction and abstention",
            "",
            f"Effective Reliability Phi_c (c = {', '.join(f'{c:g}' for c in costs)}): +1 per correct answer, -c per "
            "wrong answer, 0 per refusal, over all questions; AURC: area under the risk-coverage curve ranked by "
            "P(refusal start); over-refusal: refusals of questions the original model answers correctly. "
            f"Self-consistency rows refuse when fewer than a threshold of {sel.get('k')} samples at "
            f"T = {sel.get('temperature')} agree with the greedy answer; each threshold chosen on the validation "
            "sets. 95% bootstrap intervals over questions and seeds.",
            "",
        ]
        + table5(sel["rows"], costs)
        + [
            "",
            "Paired differences, row - other (percentage points, the same questions and, for one model, the same seeds drawn "
            "for both sides): each row minus the original model + self-consistency (the inference-time "
            "baseline), and each self-consistency row minus its model without abstention; holds: the interval "
            "above 0, does not hold: below 0, inconclusive: it contains 0.",
            "",
        ]
        + table5_paired(sel["rows"])
        + ([""] + claims if claims else [])
        + [""]
    )


def reference_info(folder: str | Path, models: Sequence[str]) -> dict[str, dict]:
    """Per reference row (a method of kind inference) the ``reference`` block of its metrics file
    (``<folder>/<name>.json``, written by evaluate_inference): its rule's ``t`` and ``delta_k``; rows
    without a metrics file are left out."""
    out = {}
    for m in models:
        spec = registry().get(m)
        path = Path(folder) / f"{m}.json"
        if spec is not None and spec.kind == "inference" and path.is_file():
            out[m] = read_json(path).get("reference") or {}
    return out


def versus_references(
    runs: dict, testsets: dict, *, n_boot: int, level: float, seed: int, cluster: str = "unit"
) -> list[dict]:
    """Each trained method against each reference row (kind inference) present: S_trust(method) - S_trust(row)
    per scope as a paired difference on the same questions (the row's one run drawn beside the method's
    seeds; the same unit draw for both, ``cluster`` as in the trend checks), with its interval and verdict
    (holds: the interval above 0)."""
    from .stats import paired_difference, verdict

    refs = [m for m in runs if m in registry() and registry()[m].kind == "inference"]
    trained = [m for m in runs if m in registry() and registry()[m].trained]
    unit = tables.set_units(testsets, cluster)
    out = []
    for scope, sets in tables.groups(testsets).items():
        if not sets:
            continue
        for a in trained:
            for b in refs:

                def fn(mats_a, metrics, how, _b=runs[b], _sets=sets, **kw):
                    mats_b = [_b.values[s] for s in _sets]
                    return paired_difference(mats_a, mats_b, metrics, how=how, **kw)

                diff = tables._scope(runs[a], sets, scope, fn, unit, n_boot=n_boot, level=level, seed=seed)["s_trust"]
                out.append(
                    {"scope": scope, "a": a, "b": b, "metric": "s_trust", "diff": diff, "verdict": verdict(diff)}
                )
    return out


def references_section(info: dict, versus: Sequence[dict]) -> list[str]:
    """The reference rows' rules (t chosen on validation beside delta_k) and each trained method against them."""
    if not info and not versus:
        return []
    out = [
        "## Beyond the paper: the reference rows",
        "",
        "Rules applied to the original model's greedy answers, no model run: Always refuse (S_trust 0 everywhere), "
        "and Original, conf >= t (its answer where its K-sample confidence is at least t, else the refusal; t "
        "chosen on the validation sets, the highest in-domain S_trust; an oracle reference, the confidence "
        "needs the gold answers). The row is t; the paper's delta_k is shown with the test S_trust it would "
        "give.",
        "",
    ]
    rows = []
    for m, r in info.items():
        if r.get("t") is None:
            continue
        at = r.get("at_delta_k") or {}
        rows.append(
            [
                label(m),
                f"{r['t']:g}",
                _f((r.get("validation_s_trust") or {}).get(f"{r['t']:g}")),
                f"{r.get('delta_k'):g}",
                _f((r.get("validation_s_trust") or {}).get(f"{r.get('delta_k'):g}")),
                _f((at.get("overall") or {}).get("s_trust")),
                _f((at.get("ood") or {}).get("s_trust")),
            ]
        )
    if rows:
        out += tables._table(
            [
                "Row",
                "t (validation)",
                "val in-domain S_trust at t",
                "delta_k",
                "val in-domain S_trust at delta_k",
                "test in-domain S_trust at delta_k",
                "test OOD S_trust at delta_k",
            ],
            rows,
        ) + [""]
    if versus:
        out += [
            "Each trained method against each reference row: S_trust(method) - S_trust(row) on the same questions "
            "(percentage points), mean [95% bootstrap interval over questions and seeds]; holds: the interval "
            "above 0 (the method beats the row), does not hold: below 0, else inconclusive.",
            "",
        ]
        out += tables._table(
            ["Method", "Reference", "Scope", "S_trust difference", "Verdict"],
            [
                [label(c["a"]), label(c["b"]), tables.SCOPES[c["scope"]], format_ci(c["diff"]), c["verdict"]]
                for c in versus
            ],
        ) + [""]
    return out


def versus_json(versus: Sequence[dict]) -> dict:
    """``{scope: {<method>: {<reference>: {diff, verdict}}}}``."""
    out: dict = {}
    for c in versus:
        out.setdefault(c["scope"], {}).setdefault(c["a"], {})[c["b"]] = {"diff": c["diff"], "verdict": c["verdict"]}
    return out


def render_tables(
    cis: dict,
    testsets: dict,
    checks: Sequence[dict],
    evals: dict,
    *,
    models: Sequence[str] = (),
    manifest: dict | None = None,
    notes: Sequence[str] = (),
    extra: Sequence[str] = (),
) -> str:
    missing = [m for m in models if m not in cis]
    lines = [
        "# InBoL reproduction: results",
        "",
        "Metrics in percent (paper section 2.2): Acc = N_c/N, RefR = N_r/N, S_trust = 2 Acc + RefR - 100, "
        "Answered Acc = N_c/(N - N_r). Generated by the report stage from the predictions of every model; a "
        "trained model's numbers are the mean over its seeds, with a 95% bootstrap interval over questions "
        "and seeds; questions that share an emblem or an image are drawn together (stats.cluster).",
        "",
    ]
    if missing:
        lines += [f"Models without predictions (skipped everywhere): {', '.join(missing)}.", ""]
    lines += list(notes) + ([""] if notes else [])
    lines += (
        tables.table1(cis, testsets)
        + tables.table2(cis, testsets)
        + tables.table3(cis, testsets)
        + tables.table4(cis)
        + tables.trends_section(checks)
        + list(extra)
        + testsets_section(manifest, cis.get("base"))
        + exposure_section(evals)
    )
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------------------------
# everything
# --------------------------------------------------------------------------------------------

CSV_FIELDS = ("model", "seed", "set", "n", "acc", "refr", "s_trust", "answered_acc")


def write_report(
    testsets: dict,
    runs: dict[str, list[list[dict]]],
    seeds: dict[str, list],
    *,
    models: Sequence[str],
    stats,
    tables_md: str | Path,
    plots_dir: str | Path,
    trends_path: str | Path | None = None,
    seeds_csv: str | Path | None = None,
    manifest: dict | None = None,
    construct: Sequence[dict] = (),
    miniature: dict | None = None,
    selective: dict | None = None,
    awareness: dict | None = None,
    references: dict | None = None,
) -> dict:
    """Write the tables, the figure CSVs/PNGs, the per-seed CSV and the trends JSON; returns the trends JSON.
    ``runs``: per model the predictions of each run; ``seeds``: per model the seed of each run; ``stats``:
    the params' stats section (n_boot, level, seed); ``references``: per reference row its rule
    (:func:`reference_info`)."""
    from ..io import atomic_path

    plots_dir = Path(plots_dir)
    kw = {"n_boot": stats.n_boot, "level": stats.level, "seed": stats.seed}
    value_runs = {m: tables.Runs(m, testsets, runs[m], seeds[m]) for m in runs}
    cis = {m: tables.model_cis(r, testsets, **kw, cluster=stats.cluster) for m, r in value_runs.items()}
    checks = tables.trend_checks(value_runs, testsets, **kw, cluster=stats.cluster)
    evals = score_models(testsets, runs)
    predictions = {m: [p for preds in r for p in preds] for m, r in runs.items()}
    notes = []
    fig_missing = [m for m in FIG4_MODELS if m not in predictions]
    if fig_missing:
        notes.append(f"Figure 4 leaves out (no predictions): {', '.join(fig_missing)}.")
    fig = figure4_rows(predictions)
    bins = [lab for lab in dict.fromkeys(r["bin"] for r in fig)]
    write_csv(fig, plots_dir / PLOT_FILES["figure4_long"], FIG4_LONG_FIELDS)
    for key, value in (("figure4_refusal", "refusal_rate"), ("figure4_answered_acc", "answered_acc")):
        write_csv(wide_rows(fig, value, "bin", bins, scope="in_domain"), plots_dir / PLOT_FILES[key], FIG4_WIDE_FIELDS)
    plot_figure4(fig, plots_dir / PLOT_FILES["figure4_png"], scope_labels=FIG4_SCOPE_LABELS, model_labels=labels())
    exp = exposure_rows(evals)
    write_csv(exp, plots_dir / PLOT_FILES["exposure_long"], EXPOSURE_LONG_FIELDS)
    write_csv(
        wide_rows(exp, "refusal_rate", "bucket", exposure_labels(), models=list(models), extra=("exposure_index",)),
        plots_dir / PLOT_FILES["exposure_refusal"],
        ("bucket", "exposure_index", *models),
    )
    plot_exposure(exp, plots_dir / PLOT_FILES["exposure_png"], model_labels=labels())
    overlap = emblem_overlap(testsets, construct)
    gain = None
    if overlap is not None and "sft" in value_runs and "base" in value_runs:
        from .stats import paired_difference

        gain = paired_difference(
            [value_runs["sft"].values["emblem"]],
            [value_runs["base"].values["emblem"]],
            ("acc",),
            units=[tables.set_units(testsets, stats.cluster)["emblem"]],
            **kw,
        )["acc"]
    versus = versus_references(value_runs, testsets, **kw, cluster=stats.cluster)
    extra = references_section(references or {}, versus)
    extra += overlap_section(overlap, gain) + selective_section(selective) + miniature_section(miniature)
    extra += awareness_md(awareness or {}, label)
    with atomic_path(tables_md) as tmp:
        Path(tmp).write_text(
            render_tables(cis, testsets, checks, evals, models=models, manifest=manifest, notes=notes, extra=extra)
        )
    if seeds_csv is not None:
        write_csv(
            [row for r in value_runs.values() for row in tables.per_seed_rows(r, testsets)], seeds_csv, CSV_FIELDS
        )
    tj = tables.trends_json(checks)
    tj["cells"] = cis
    if overlap is not None:
        tj["emblem_overlap"] = {**overlap, "sft_gain": gain}
    if references or versus:
        tj["references"] = {"rules": references or {}, "versus": versus_json(versus)}
    if awareness and awareness.get("scopes"):
        tj["awareness"] = awareness_headline(awareness)  # the headline subset of the awareness metrics
    if trends_path is not None:
        write_json(trends_path, rounded(tj))
    return tj


__all__ = [
    "FIG4_MODELS",
    "FIG4_SCOPES",
    "PLOT_FILES",
    "FIG4_LONG_FIELDS",
    "FIG4_WIDE_FIELDS",
    "EXPOSURE_LONG_FIELDS",
    "run_files",
    "run_seed",
    "load_runs",
    "score_models",
    "figure4_rows",
    "wide_rows",
    "exposure_rows",
    "emblem_overlap",
    "reference_info",
    "versus_references",
    "references_section",
    "versus_json",
    "render_tables",
    "write_report",
]
