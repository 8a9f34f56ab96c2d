"""Information-boundary awareness (the idea behind the paper's Figure 4, measured beyond it): does a trained
model refuse the questions its original model gets wrong and answer those it gets right?  Everything here
needs only the original model's greedy correctness (and, for the bins, its K-sample confidence
``conf_base``) on the same questions as each model's predictions.

Figures, on the answerable questions of a scope (the in-domain sets pooled, or one set):

- :func:`auroc` of a refusal score for "the original's greedy answer is wrong": the score is either the
  model's refusal itself (1 refused / 0 answered) or its probability of starting a refusal
  (``p_refusal``).  0.5: refusal unrelated to what the original knows; 1: it refuses exactly the original's
  errors.  As a reference, the original's own confidence (score ``1 - conf_base``);
- per bin of ``conf_base`` (Figure 4a/b): the refusal rate and the answered accuracy of each model beside
  the original's greedy accuracy in the same bin (:func:`pooled_rate`, :func:`bin_rows`);
- on the embedded world, the Spearman correlation of refusing (1/0) with log(1 + exposure) of the emblem
  an open emblem-name question (the OVEN-like family) shows, exposure being how often the emblem appears in
  the pretraining corpus (:func:`exposure_spearman`; negative when rarely seen emblems are refused more).

Intervals (:func:`cluster_bootstrap`) resample the runs (seeds) and the *units* questions share (the
emblem or entity of a name question, else the image: :func:`inbol.evaluation.stats.units`), so that questions about one emblem
count as one draw, through :func:`inbol.evaluation.stats.bootstrap_stat`; a question drawn k times weighs
k.  A figure on fewer than ``min_n`` questions (for an AUROC: of either class; for answered accuracy:
answered questions per run) gets no number (None) and a warning naming the set and the figure.

The AUROC is computed here with weights from the tie groups of the score, ranked once
(:func:`tie_groups`, :func:`auroc_ranked`): a bootstrap replicate only re-weights the questions, so each of
the thousands of replicates costs two ``bincount`` calls instead of the sort a library call
(``sklearn.metrics.roc_auc_score``, which the tests check it against) would repeat.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .evaluate import EXPOSURE_FAMILY
from .metrics import CONF_EDGES, conf_bin, conf_bin_labels, spearman
from .stats import bootstrap_stat, unit_of, units  # noqa: F401  (unit_of re-exported)

# ------------------------------------------------------------------------------------------------
# pure figures (weights: how often each question was drawn; None = once each)
# ------------------------------------------------------------------------------------------------


def _w(n: int, weight) -> np.ndarray:
    return np.ones(n) if weight is None else np.asarray(weight, dtype=float)


def auroc(score, positive, weight=None) -> float | None:
    """The probability that a positive scores above a negative (ties count half), each question weighted
    by ``weight``; None when either class has no weight."""
    s = np.asarray(score, dtype=float)
    if s.ndim != 1 or np.asarray(positive).shape != s.shape:
        raise ValueError("score and positive need one value per question")
    return auroc_ranked(tie_groups(s), positive, weight)


def tie_groups(score) -> np.ndarray:
    """Per question the index of its score among the distinct scores, ascending (ties share one)."""
    return np.unique(np.asarray(score, dtype=float), return_inverse=True)[1].reshape(-1)


def auroc_ranked(group, positive, weight=None) -> float | None:
    """:func:`auroc` from :func:`tie_groups` of the score (computed once for many weightings)."""
    g = np.asarray(group, dtype=int)
    y = np.asarray(positive, dtype=bool)
    w = _w(len(g), weight)
    if y.shape != g.shape or w.shape != g.shape:
        raise ValueError("score, positive and weight need one value per question")
    n_groups = int(g.max()) + 1 if len(g) else 0
    pos = np.bincount(g, weights=w * y, minlength=n_groups)
    neg = np.bincount(g, weights=w * ~y, minlength=n_groups)
    w_pos, w_neg = pos.sum(), neg.sum()
    if w_pos <= 0 or w_neg <= 0:
        return None
    below = np.cumsum(neg) - neg
    return float((pos * (below + 0.5 * neg)).sum() / (w_pos * w_neg))


def weighted_spearman(x, y, weight=None) -> float | None:
    """Spearman's rank correlation of the questions repeated by their (integer) weight; None when either
    side is constant."""
    idx = np.repeat(np.arange(len(x)), np.asarray(_w(len(x), weight), dtype=int))
    return spearman(np.asarray(x, dtype=float)[idx], np.asarray(y, dtype=float)[idx])


def exposure_spearman(refused, exposure, weight=None) -> float | None:
    """Spearman of refusing (1/0) with log(1 + exposure); None when the model never or always refuses."""
    return weighted_spearman(np.asarray(refused, dtype=float), np.log1p(np.asarray(exposure, dtype=float)), weight)


# ------------------------------------------------------------------------------------------------
# units and the cluster bootstrap
# ------------------------------------------------------------------------------------------------


def cluster_bootstrap(
    stat: Callable[[np.ndarray, np.ndarray], float | None],
    n_runs: int,
    n_units: int,
    *,
    n_boot: int,
    level: float,
    seed: int,
) -> dict:
    """``{mean, lo, hi, n_boot, level}`` of ``stat(runs, counts)``: ``runs`` the run indices drawn (with
    replacement), ``counts`` per unit how often it was drawn (units with replacement; a question weighs its
    unit's count); the point estimate has every run and unit once.  Through
    :func:`inbol.evaluation.stats.bootstrap_stat`: its (runs x questions) matrix is here (runs x units) of
    codes ``run * n_units + unit``."""
    codes = np.arange(n_runs)[:, None] * n_units + np.arange(n_units)[None, :]

    def on_draw(sets: Sequence[np.ndarray]) -> float:
        m = sets[0]
        v = stat(m[:, 0] // n_units, np.bincount(m[0] % n_units, minlength=n_units))
        return float("nan") if v is None else float(v)

    return bootstrap_stat([codes], on_draw, n_boot=n_boot, level=level, seed=seed)


def unit_sums(values, unit, n_units: int) -> np.ndarray:
    """(runs x questions) values summed per unit: runs x units."""
    v = np.atleast_2d(np.asarray(values, dtype=float))
    out = np.zeros((v.shape[0], n_units))
    np.add.at(out, (slice(None), np.asarray(unit, dtype=int)), v)
    return out


def pooled_rate(hit, where, unit, n_units: int) -> Callable[[np.ndarray, np.ndarray], float | None]:
    """The statistic "share of ``hit`` among ``where``, pooled over the drawn runs and units" (runs x
    questions arrays), in percent; None when nothing is counted."""
    num = unit_sums(np.asarray(hit, bool) & np.asarray(where, bool), unit, n_units)
    den = unit_sums(np.asarray(where, bool), unit, n_units)

    def stat(runs: np.ndarray, counts: np.ndarray) -> float | None:
        d = float(den[runs].sum(axis=0) @ counts)
        return 100.0 * float(num[runs].sum(axis=0) @ counts) / d if d > 0 else None

    return stat


# ------------------------------------------------------------------------------------------------
# a scope: the arrays of the answerable questions of some sets, every model's runs aligned to them
# ------------------------------------------------------------------------------------------------


class Scope:
    """The answerable questions of ``sets`` (in set order, then question order) with the original's
    greedy correctness, its confidence (NaN where not measured), exposure (emblem-name questions, else
    NaN) and unit."""

    def __init__(self, name: str, testsets: Mapping, sets: Sequence[str], base_run: Sequence[dict]):
        self.name, self.sets = name, list(sets)
        self.records = [(s, r) for s in sets for r in testsets[s].records]
        base = _aligned(base_run, self.records, "base")
        self.base_correct = np.array([p["verdict"] == "correct" for p in base])
        self.conf = np.array([np.nan if r.get("conf_base") is None else float(r["conf_base"]) for _, r in self.records])
        self.exposure = np.array(
            [
                float(r["meta"]["exposure"])
                if (r.get("meta") or {}).get("family") == EXPOSURE_FAMILY and r["meta"].get("exposure") is not None
                else np.nan
                for _, r in self.records
            ]
        )
        self.unit = units([r for _, r in self.records])
        self.n_units = int(self.unit.max()) + 1

    def arrays(self, runs: Sequence[Sequence[dict]], model: str) -> dict[str, np.ndarray]:
        """runs x questions: ``refused``, ``correct``, ``p_refusal`` (NaN where absent)."""
        aligned = [_aligned(run, self.records, model) for run in runs]
        return {
            "refused": np.array([[p["verdict"] == "refusal" for p in a] for a in aligned]),
            "correct": np.array([[p["verdict"] == "correct" for p in a] for a in aligned]),
            "p_refusal": np.array(
                [[np.nan if p.get("p_refusal") is None else float(p["p_refusal"]) for p in a] for a in aligned]
            ),
        }


def _aligned(run: Sequence[dict], records: Sequence[tuple[str, Mapping]], model: str) -> list[dict]:
    by = {(p["set"], p["id"]): p for p in run}
    try:
        return [by[(s, r["id"])] for s, r in records]
    except KeyError as e:
        raise ValueError(f"predictions of {model!r}: no answer to question {e.args[0]!r}") from None


# ------------------------------------------------------------------------------------------------
# the report
# ------------------------------------------------------------------------------------------------

SCORES = {"refused": "refusal", "p_refusal": "P(refusal start)"}
AUROC_FIGURE = "AUROC of {score} for the original's errors"
BIN_FIGURE = "Figure 4 by the original's confidence, bin {bin}: {what}"
EXPOSURE_FIGURE = "Spearman of refusal with log emblem exposure"


class _Report:
    def __init__(self, n_boot: int, level: float, seed: int, min_n: int):
        self.kw = {"n_boot": n_boot, "level": level, "seed": seed}
        self.min_n = min_n
        self.warnings: list[str] = []

    def na(self, scope: str, figure: str, why: str) -> dict:
        self.warnings.append(f"{scope}: {figure}: n/a ({why})")
        return {"mean": None, "lo": None, "hi": None}

    def ci(self, stat, n_runs: int, n_units: int) -> dict:
        return cluster_bootstrap(stat, n_runs, n_units, **self.kw)


def auroc_cells(rep: _Report, scope: Scope, arrays: dict, model: str, seeds: Sequence, per_seed: bool = True) -> dict:
    """Per score: the mean over seeds with its interval (``all``) and, with ``per_seed`` and more than one
    run, each seed's (``s<seed>``)."""
    pos, unit, n_units = ~scope.base_correct, scope.unit, scope.n_units
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    out = {}
    for key, name in SCORES.items():
        fig = f"{model}, " + AUROC_FIGURE.format(score=name)
        score = arrays[key].astype(float)
        if min(n_pos, n_neg) < rep.min_n:
            why = f"{n_pos} errors and {n_neg} right answers of the original, fewer than {rep.min_n}"
            out[key] = {"all": rep.na(scope.name, fig, why)}
            continue
        if np.isnan(score).any():
            out[key] = {"all": rep.na(scope.name, fig, "the predictions carry no p_refusal")}
            continue
        groups = [tie_groups(s) for s in score]

        def stat(runs, counts, groups=groups):
            vals = [auroc_ranked(groups[r], pos, counts[unit]) for r in runs]
            return None if any(v is None for v in vals) else float(np.mean(vals))

        cells = {"all": rep.ci(stat, len(groups), n_units)}
        for i, s in enumerate(seeds if per_seed and len(groups) > 1 else ()):
            cells[f"s{s}"] = rep.ci(lambda runs, c, g=groups[i]: auroc_ranked(g, pos, c[unit]), 1, n_units)
        out[key] = cells
    return out


def reference_auroc(rep: _Report, scope: Scope) -> dict:
    """The original's own K-sample confidence as a score (1 - conf_base) for its errors (the questions
    with a confidence)."""
    fig = "original, " + AUROC_FIGURE.format(score="1 - its K-sample confidence")
    have = ~np.isnan(scope.conf)
    pos = ~scope.base_correct[have]
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if min(n_pos, n_neg) < rep.min_n:
        why = f"{n_pos} errors and {n_neg} right answers with a confidence, fewer than {rep.min_n}"
        return rep.na(scope.name, fig, why)
    g, unit = tie_groups(1.0 - scope.conf[have]), scope.unit[have]
    return rep.ci(lambda runs, c: auroc_ranked(g, pos, c[unit]), 1, scope.n_units)


def bin_rows(rep: _Report, scope: Scope, arrays: dict, model: str, edges: Sequence[float] = CONF_EDGES) -> list[dict]:
    """Per bin of the original's confidence: n, refusal rate, answered accuracy (runs pooled) and the
    original's accuracy, in percent with intervals; a bin too small for an interval gets None and a
    warning."""
    have = ~np.isnan(scope.conf)
    b = np.full(len(scope.conf), -1)
    b[have] = [conf_bin(c, edges) for c in scope.conf[have]]
    refused, correct = arrays["refused"], arrays["correct"]
    unit, n_units = scope.unit, scope.n_units
    rows = []
    for i, label in enumerate(conf_bin_labels(edges)):
        m = np.broadcast_to(b == i, refused.shape)
        n = int(m[0].sum())
        answered = float((m & ~refused).sum(axis=1).mean())
        row = {"scope": scope.name, "bin": label, "model": model, "n": n, "answered_per_run": round(answered, 2)}
        figs = {
            "refusal_rate": (pooled_rate(refused, m, unit, n_units), n, "questions", "refusal rate"),
            "answered_acc": (
                pooled_rate(correct, m & ~refused, unit, n_units),
                answered,
                "answered questions per run",
                "answered accuracy",
            ),
            "original_acc": (
                pooled_rate(scope.base_correct[None, :], m[:1], unit, n_units),
                n,
                "questions",
                "the original's accuracy",
            ),
        }
        for key, (stat, count, of, what) in figs.items():
            if count < rep.min_n:
                fig = f"{model}, " + BIN_FIGURE.format(bin=label, what=what)
                row[key] = rep.na(scope.name, fig, f"{count:g} {of}, fewer than {rep.min_n}")
            else:
                row[key] = rep.ci(stat, 1 if key == "original_acc" else refused.shape[0], n_units)
        rows.append(row)
    return rows


def exposure_cells(rep: _Report, scope: Scope, arrays: dict, model: str, seeds: Sequence) -> dict | None:
    """Spearman of refusal with log(1 + exposure) on the questions with an exposure (the open emblem-name
    questions): mean over seeds and per seed (None when no question carries an exposure)."""
    has = ~np.isnan(scope.exposure)
    if not has.any():
        return None
    fig = f"{model}, {EXPOSURE_FIGURE}"
    if has.sum() < rep.min_n:
        return {"all": rep.na(scope.name, fig, f"{int(has.sum())} questions with an exposure, fewer than {rep.min_n}")}
    refused = arrays["refused"][:, has].astype(float)
    if all(r.min() == r.max() for r in refused):
        return {"all": rep.na(scope.name, fig, "the model refuses all or none of them in every run")}
    expo = scope.exposure[has]
    _, unit = np.unique(scope.unit[has], return_inverse=True)
    n_units = int(unit.max()) + 1

    def stat(runs, counts):
        vals = [exposure_spearman(refused[r], expo, counts[unit]) for r in runs]
        vals = [v for v in vals if v is not None]
        return float(np.mean(vals)) if vals else None

    out = {"all": rep.ci(stat, refused.shape[0], n_units)}
    for i, s in enumerate(seeds if refused.shape[0] > 1 else ()):
        out[f"s{s}"] = rep.ci(lambda runs, c, one=refused[i]: exposure_spearman(one, expo, c[unit]), 1, n_units)
    return out


def awareness_report(
    testsets: Mapping,
    runs: Mapping[str, Sequence[Sequence[dict]]],
    seeds: Mapping[str, Sequence],
    *,
    scopes: Mapping[str, Sequence[str]],
    bin_scopes: Sequence[str] = ("in_domain",),
    exposure_scopes: Sequence[str] = ("in_domain",),
    per_seed_scopes: Sequence[str] = ("in_domain",),
    n_boot: int,
    level: float,
    seed: int,
    min_n: int,
) -> dict:
    """The boundary-awareness metrics of every model with predictions, against the original model
    (``runs["base"]``, its first run): per scope (answerable sets only) the AUROCs (``auroc``), the
    reference (``reference``) and, on ``exposure_scopes``, the exposure Spearman (``exposure``); the bin
    table (``bins``) on ``bin_scopes``; per-seed AUROC intervals on ``per_seed_scopes``; ``warnings``: one
    line per figure left out.  The original itself is in the AUROCs (its P(refusal start)), not in the bins
    or the exposure figure (it never refuses)."""
    if "base" not in runs:
        raise ValueError("boundary awareness needs the original model's predictions (base)")
    rep = _Report(n_boot, level, seed, min_n)
    out: dict = {"min_n": min_n, "scopes": {}, "bins": []}
    for name, sets in scopes.items():
        sets = [s for s in sets if s in testsets and testsets[s].answerable]
        if not sets:
            continue
        sc = Scope(name, testsets, sets, runs["base"][0])
        entry: dict = {
            "sets": sets,
            "n": len(sc.records),
            "original_errors": int((~sc.base_correct).sum()),
            "units": sc.n_units,
            "reference": {"conf": reference_auroc(rep, sc)},
            "auroc": {},
        }
        for m, model_runs in runs.items():
            arr = sc.arrays(model_runs, m)
            run_seeds = [0 if s is None else s for s in (seeds.get(m) or [None] * len(model_runs))]
            entry["auroc"][m] = auroc_cells(rep, sc, arr, m, run_seeds, per_seed=name in per_seed_scopes)
            if m == "base":
                continue  # the original never refuses: its row in the bins is the "original" column
            if name in exposure_scopes:
                ex = exposure_cells(rep, sc, arr, m, run_seeds)
                if ex is not None:
                    entry.setdefault("exposure", {})[m] = ex
            if name in bin_scopes and not np.isnan(sc.conf).all():
                out["bins"] += bin_rows(rep, sc, arr, m)
        out["scopes"][name] = entry
    out["warnings"] = rep.warnings
    return out


def default_scopes(testsets: Mapping) -> dict[str, list[str]]:
    """The in-domain answerable sets pooled (``in_domain``), then each answerable in-domain and OOD set."""
    ind = [n for n, ts in testsets.items() if ts.group == "in_domain" and ts.answerable]
    each = [n for n, ts in testsets.items() if ts.group in ("in_domain", "ood") and ts.answerable]
    return {"in_domain": ind, **{n: [n] for n in each}}


# Figure 4's scopes (as the report's): in domain pooled, and the AOKVQA-like OOD set
BIN_SCOPES = ("in_domain", "ood_phrasing")


def write_awareness(
    testsets: Mapping,
    runs: Mapping[str, Sequence[Sequence[dict]]],
    seeds: Mapping[str, Sequence],
    *,
    n_boot: int,
    level: float,
    seed: int,
    min_n: int,
    json_path,
    csv_path,
) -> dict:
    """Compute (:func:`awareness_report` on :func:`default_scopes`) and write the metrics JSON and the bin
    table's CSV; without the original model's predictions both say so (a warning, no numbers)."""
    from ..io import write_json
    from ..plots import write_csv
    from .metrics import rounded

    if "base" not in runs:
        aw: dict = {"min_n": min_n, "scopes": {}, "bins": [], "warnings": ["no predictions of the original model"]}
    else:
        aw = awareness_report(
            testsets,
            runs,
            seeds,
            scopes=default_scopes(testsets),
            bin_scopes=BIN_SCOPES,
            n_boot=n_boot,
            level=level,
            seed=seed,
            min_n=min_n,
        )
    aw = rounded(aw)
    write_json(json_path, aw)
    write_csv(bin_csv_rows(aw), csv_path, BIN_CSV_FIELDS)
    return aw


def headline(aw: Mapping, scope: str = "in_domain") -> dict:
    """The headline subset: per model the mean-over-seeds AUROC of each score with its interval, and the
    original's confidence reference, on ``scope``."""
    s = (aw.get("scopes") or {}).get(scope)
    if not s:
        return {}
    return {
        "scope": scope,
        "models": {m: {k: c["all"] for k, c in cells.items()} for m, cells in s["auroc"].items()},
        "reference_conf": s["reference"]["conf"],
    }


BIN_CSV_FIELDS = (
    "scope",
    "bin",
    "model",
    "n",
    "answered_per_run",
    "refusal_rate",
    "refusal_rate_lo",
    "refusal_rate_hi",
    "answered_acc",
    "answered_acc_lo",
    "answered_acc_hi",
    "original_acc",
    "original_acc_lo",
    "original_acc_hi",
)


def bin_csv_rows(aw: Mapping) -> list[dict]:
    """The bin table as flat CSV rows (empty cells where n/a)."""
    rows = []
    for r in aw.get("bins", []):
        flat = {k: r[k] for k in ("scope", "bin", "model", "n", "answered_per_run")}
        for key in ("refusal_rate", "answered_acc", "original_acc"):
            c = r[key]
            flat[key], flat[f"{key}_lo"], flat[f"{key}_hi"] = c.get("mean"), c.get("lo"), c.get("hi")
        rows.append(flat)
    return rows


def _cell(c: Mapping | None, digits: int = 3) -> str:
    if not c or c.get("mean") is None or (isinstance(c["mean"], float) and math.isnan(c["mean"])):
        return "n/a"
    if c.get("lo") is None:
        return f"{c['mean']:.{digits}f}"
    return f"{c['mean']:.{digits}f} [{c['lo']:.{digits}f}, {c['hi']:.{digits}f}]"


def markdown(aw: Mapping, label: Callable[[str], str] = str) -> list[str]:
    """The report's section: AUROC per model and scope, the bin table, the exposure correlation, warnings."""
    if not aw or not aw.get("scopes"):
        return []
    L = [
        "## Beyond the paper: information-boundary awareness",
        "",
        "AUROC of a model's refusal (1/0), and of its P(refusal start), for \"the original model's greedy answer "
        "is wrong\" on the answerable questions (0.5: refusal unrelated to the original's knowledge; 1: it "
        "refuses exactly the original's errors); the mean over seeds with a 95% bootstrap interval over seeds "
        "and units (a name question's emblem or entity, else its image). Reference: the original's own "
        "K-sample confidence as the score.",
    ]
    scopes = list(aw["scopes"])
    models = list(next(iter(aw["scopes"].values()))["auroc"])
    for key, name in SCORES.items():
        L += ["", f"AUROC of {name}:", ""]
        rows = [
            [label(m), *[_cell(aw["scopes"][s]["auroc"].get(m, {}).get(key, {}).get("all")) for s in scopes]]
            for m in models
        ]
        rows.append(
            ["original's confidence (reference)", *[_cell(aw["scopes"][s]["reference"]["conf"]) for s in scopes]]
        )
        L += _md_table(["Model", *scopes], rows)
    if aw.get("bins"):
        L += [
            "",
            "Figure 4 a/b as a table: per bin of the original's K-sample confidence, each model's refusal rate and "
            "answered accuracy (percent, runs pooled) beside the original's greedy accuracy in the bin (n/a: too "
            f"few questions for an interval, fewer than {aw['min_n']}).",
            "",
        ]
        rows = [
            [
                r["scope"],
                r["bin"],
                label(r["model"]),
                str(r["n"]),
                *[_cell(r[k], 1) for k in ("refusal_rate", "answered_acc", "original_acc")],
            ]
            for r in aw["bins"]
        ]
        L += _md_table(["Scope", "Original's confidence", "Model", "N", "RefR", "Answered Acc", "Original Acc"], rows)
    exp = [(s, m, c) for s, e in aw["scopes"].items() for m, c in e.get("exposure", {}).items()]
    if exp:
        L += ["", f"{EXPOSURE_FIGURE} (emblem-name questions; negative: rarely seen emblems refused more):", ""]
        L += _md_table(["Scope", "Model", "Spearman"], [[s, label(m), _cell(c.get("all"))] for s, m, c in exp])
    if aw.get("warnings"):
        L += [""] + [f"- warning: {w}" for w in aw["warnings"]]
    return L + [""]


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"] + [
        "| " + " | ".join(r) + " |" for r in rows
    ]


__all__ = [
    "auroc",
    "weighted_spearman",
    "exposure_spearman",
    "tie_groups",
    "auroc_ranked",
    "unit_sums",
    "pooled_rate",
    "unit_of",
    "units",
    "cluster_bootstrap",
    "Scope",
    "awareness_report",
    "headline",
    "default_scopes",
    "BIN_SCOPES",
    "write_awareness",
    "bin_csv_rows",
    "BIN_CSV_FIELDS",
    "markdown",
]
