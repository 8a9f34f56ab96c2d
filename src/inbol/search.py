"""Hyper-parameter search on the validation sets only (issue: evidence a reviewer accepts).

The grid (``configs/search/grid.yaml``) lists, per method, the same number of configurations (an equal budget):
each is a set of overrides of params.yaml sections (``train``, ``lora``, ``dpo``), validated by the params
schema before any work (an unknown key is a one-line error).  The methods are searched in order, each
from the previous one's winner: IDK-IT from the original model, then CA-DPO from the chosen IDK-IT (the
plain DPO variants (1)(2)(3) share the ``dpo`` section and so CA-DPO's winner).  Every configuration trains
once (the grid's seed) on the pipeline's constructed data of that seed and is evaluated on the validation
sets (``data/valsets``); its score is the figure value of the sweeps: the mean of in-domain S_trust
(pooled) and OOD S_trust (the mean over the answerable OOD sets), with a 95% bootstrap interval, and the
interval of (best - it) on the same questions: a configuration whose interval contains 0 is not
distinguishable from the best.  The test sets are never read.

``python scripts/search.py`` runs it and writes ``metrics/search.json`` and ``docs/search.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import ParamError
from .params import Params

SECTIONS = {  # the methods the search tunes (each one of the method registry), and the sections it varies
    "idk_it": ("train", "lora", "idk_it", "restructure"),
    "ca_dpo": ("dpo", "lora", "preference", "restructure"),
}
METHODS = tuple(SECTIONS)
# a configuration that changes these re-builds its training set (restructure: the refusal templates drawn)
DATA_SECTIONS = ("idk_it", "preference", "restructure")


def apply(p: Params, overrides: Mapping[str, Mapping]) -> Params:
    """``p`` with one configuration's section overrides (each validated by its section's schema)."""
    changes = {}
    for section, values in overrides.items():
        if section not in ("train", "lora", "dpo", *DATA_SECTIONS):
            raise ParamError(
                f"search grid section {section!r}: must be one of train, lora, dpo, {', '.join(DATA_SECTIONS)}"
            )
        if not isinstance(values, Mapping):
            raise ParamError(f"search grid {section} = {values!r}: must be a mapping of keys to values")
        current = getattr(p, section)
        try:
            changes[section] = current.replace(**dict(values))
        except ParamError as e:  # named by its params.yaml section, not the schema class
            cls = type(current).__name__
            msg = str(e)
            raise ParamError(section + msg[len(cls) :] if msg.startswith(cls) else msg) from None
    return p.model_copy(update=changes)


def check_grid(grid: Mapping, p: Params) -> dict[str, list[dict]]:
    """The grid's configurations per method, each validated against ``p``; one-line errors otherwise."""
    unknown = sorted(set(grid) - {"seed", "min_family_acc", *METHODS})
    if unknown:
        raise ParamError(
            f"search grid key {unknown[0]!r}: unknown; allowed: seed, min_family_acc, {', '.join(METHODS)}"
        )
    floor = grid.get("min_family_acc", 0)
    if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not 0 <= floor <= 100:
        raise ParamError(f"search grid min_family_acc = {floor!r}: must be a percentage in [0, 100]")
    out = {}
    sizes = set()
    for m in METHODS:
        configs = grid.get(m) or []
        if not isinstance(configs, list) or not configs:
            raise ParamError(f"search grid {m}: must be a non-empty list of configurations")
        for i, c in enumerate(configs):
            allowed = SECTIONS[m]
            bad = [s for s in c if s not in allowed]
            if bad:
                raise ParamError(f"search grid {m}[{i}].{bad[0]}: not searched for {m}; allowed: {', '.join(allowed)}")
            try:
                apply(p, c)
            except ParamError as e:
                raise ParamError(f"search grid {m}[{i}]: {e}") from None
        out[m] = list(configs)
        sizes.add(len(configs))
    if len(sizes) != 1:
        raise ParamError(
            f"search grid: every method needs the same number of configurations (an equal budget), got {sorted(sizes)}"
        )
    return out


def on_top(before: Mapping[str, Mapping], own: Mapping[str, Mapping]) -> dict[str, dict]:
    """Configuration ``own`` applied on top of ``before`` (section by section, ``own``'s keys win)."""
    return {s: {**before.get(s, {}), **own.get(s, {})} for s in sorted({*before, *own})}


def label(config: Mapping[str, Mapping]) -> str:
    return ", ".join(f"{s}.{k}={v}" for s, vals in config.items() for k, v in vals.items()) or "(params.yaml)"


def score_rows(
    names: Sequence[str],
    runs: Mapping[str, list[dict]],
    valsets: Mapping,
    *,
    n_boot: int,
    level: float,
    seed: int,
    min_family_acc: float = 0.0,
) -> list[dict]:
    """Per configuration the validation figure value with its interval, the in-domain and OOD S_trust, Acc
    and RefR, the accuracy on each answerable in-domain set (``families``), and the gap to the best with
    ``indistinguishable_from_best``.  The best is the highest value among the configurations that answer
    at least ``min_family_acc`` percent of every answerable in-domain set right (``eligible``: a model that
    has lost a whole family, e.g. every emblem name, is not chosen however it scores); when none is
    eligible, the highest value overall."""
    import numpy as np

    from .evaluation.stats import bootstrap_stat, group_metric, values
    from .sweep.cells import figure_value

    set_names = list(valsets)
    mats = {
        n: {
            s: values([{p["id"]: p["verdict"] for p in runs[n] if p["set"] == s}[r["id"]] for r in ts.records])[None]
            for s, ts in valsets.items()
        }
        for n in names
    }

    def stat(sets):
        return figure_value(dict(zip(set_names, sets)), valsets)

    ind = [s for s, ts in valsets.items() if ts.group == "in_domain"]
    ood = [s for s, ts in valsets.items() if ts.group == "ood" and ts.answerable]
    fams = [s for s in ind if valsets[s].answerable]
    family_acc = {n: {s: group_metric([mats[n][s]], "acc", "pooled") for s in fams} for n in names}
    eligible = {n: all(a >= min_family_acc for a in family_acc[n].values()) for n in names}
    best = max([n for n in names if eligible[n]] or names, key=lambda n: figure_value(mats[n], valsets))
    rows = []
    kw = {"n_boot": n_boot, "level": level, "seed": seed}
    for n in names:
        own = [mats[n][s] for s in set_names]
        ci = bootstrap_stat(own, stat, **kw)
        gap = bootstrap_stat([mats[best][s] for s in set_names], stat, other=own, pair_runs=True, **kw)
        rows.append(
            {
                "config": n,
                "value": ci,
                "in_domain": {
                    m: group_metric([mats[n][s] for s in ind], m, "pooled") for m in ("acc", "refr", "s_trust")
                },
                "ood": {
                    m: float(np.mean([group_metric([mats[n][s]], m, "pooled") for s in ood]))
                    for m in ("acc", "refr", "s_trust")
                },
                "families": family_acc[n],
                "eligible": eligible[n],
                "gap_to_best": gap,
                "best": n == best,
                "indistinguishable_from_best": n == best or (gap["lo"] is not None and gap["lo"] <= 0),
            }
        )
    return rows


def markdown(results: Mapping[str, list[dict]], chosen: Mapping[str, str], seed: int, min_family_acc: float = 0) -> str:
    from .evaluation.stats import format_ci
    from .markdown import table

    lines = [
        "# Hyper-parameter search (validation sets only)",
        "",
        "Generated by `python scripts/search.py` (grid: `configs/search/grid.yaml`; library: `inbol.search`). Each "
        f"configuration trained once (seed {seed}) and was evaluated on `data/valsets`; the test sets were not "
        "read. Value: the mean of in-domain S_trust (pooled) and OOD S_trust (mean over the answerable OOD "
        "sets), with a 95% bootstrap interval over questions; 'tied' = the interval of (best - it) contains 0. "
        "IDK-IT was searched first, CA-DPO from the chosen IDK-IT (its configuration applied on top of the "
        "chosen IDK-IT's); DPO (1)(2)(3) share CA-DPO's `dpo` section. Family Acc: the accuracy on each answerable "
        f"in-domain validation set; a configuration below {min_family_acc:g}% on any of them is not eligible "
        "(`min_family_acc`: a collapsed family) and marked 'collapsed'.",
        "",
    ]
    for m, rows in results.items():
        fams = list(rows[0].get("families", {})) if rows else []
        header = ["configuration", "value", "in-domain Acc / RefR / S_trust", f"family Acc ({' / '.join(fams)})"]
        header += ["OOD Acc / RefR / S_trust", "best - it", ""]
        cells = []
        for r in rows:
            i, o = r["in_domain"], r["ood"]
            mark = "**chosen**" if r["config"] == chosen[m] else ("tied" if r["indistinguishable_from_best"] else "")
            if not r.get("eligible", True):
                mark = ", ".join(x for x in (mark, "collapsed") if x)
            cells.append(
                [
                    r["config"],
                    format_ci(r["value"]),
                    f"{i['acc']:.1f} / {i['refr']:.1f} / {i['s_trust']:.1f}",
                    " / ".join(f"{r['families'][f]:.1f}" for f in fams),
                    f"{o['acc']:.1f} / {o['refr']:.1f} / {o['s_trust']:.1f}",
                    format_ci(r["gap_to_best"]),
                    mark,
                ]
            )
        lines += [f"## {m}", "", *table(header, cells, ["---:"] * 5 + ["---"]), ""]
    return "\n".join(lines)


def run_search(
    p: Params,
    grid: Mapping,
    *,
    constructed: str | Path,
    base_model: str | Path,
    valsets_dir: str | Path,
    work: str | Path,
    pool: str | Path = "data/restructured/pool.jsonl",
    unanswerable: str | Path = "data/unanswerable/kept.jsonl",
) -> tuple[dict, dict]:
    """Train and evaluate every configuration; returns (results per method, chosen label per method).  A
    configuration overriding ``idk_it``, ``preference`` (e.g. ``unknown_extrinsic_share``) or ``restructure``
    (``refusal_templates``: the refusals re-drawn as the restructure stage would) trains on its own set,
    built from ``pool`` and ``unanswerable`` as the construct stage builds it.  CA-DPO's configurations
    apply on top of the chosen IDK-IT configuration (e.g. its ``lora``), as the pipeline trains it."""
    from .boundary import build_training_sets
    from .confidence import with_refusals
    from .evaluation import load_testsets
    from .evaluation.evaluate import evaluate_answerer
    from .io import read_jsonl
    from .judge.llm_judge import make_semantic_judge
    from .models.answerer import load_in_process
    from .training.ca_dpo import write_reference
    from .training.routes import train_method
    from .training.runtime import write_training_set

    configs = check_grid(grid, p)
    seed = int(grid.get("seed", 0))
    valsets = load_testsets(valsets_dir)
    semantic = make_semantic_judge(p.judge)
    work = Path(work)
    constructed = Path(constructed)

    def data_file(q: Params, c: Mapping, name: str, out: Path) -> Path:
        """The pipeline's constructed set ``name``, or the configuration's own (built as construct builds)."""
        if not any(s in c for s in DATA_SECTIONS):
            return constructed / f"{name}.jsonl"
        restructured = read_jsonl(pool, nonempty=True)
        if "restructure" in c:
            restructured = with_refusals(restructured, q.restructure.seed, q.restructure.refusal_templates)
        sets, _, _ = build_training_sets(
            restructured,
            read_jsonl(unanswerable, nonempty=True),
            delta_k=q.delta_k,
            delta_uk=q.delta_uk,
            seed=seed,
            refusal_templates=q.restructure.refusal_templates,
            **{name: getattr(q, name)},
            **({"idk_it": q.idk_it} if name == "preference" and q.preference.known_disjoint else {}),
        )
        return write_training_set(out, sets[name])

    results, chosen = {}, {}
    start = Path(base_model)
    before: dict = {}  # the chosen configuration of the method searched before (CA-DPO starts from IDK-IT's)
    for m in METHODS:
        runs, dirs, full = {}, {}, {}
        for i, own in enumerate(configs[m]):
            c = on_top(before, own)
            q = apply(p, c)
            name = label(own)
            full[name] = c
            out = work / m / f"c{i}"
            common = {"lora": q.lora, "seed": seed, "system": q.prompt.system}
            if m == "idk_it":
                data = data_file(q, c, "idk_it", work / m / f"c{i}.jsonl")
                train_method(
                    "sft", data, start, out, train=q.train, work_dir=work / m / f"c{i}.ckpt", name="idk_it", **common
                )
            else:
                ref = work / m / f"c{i}.reference.json"
                data = data_file(q, c, "preference", work / m / f"c{i}.jsonl")
                write_reference(data, start, ref, train=q.train, dpo=q.dpo, **common)
                train_method(
                    "preference",
                    data,
                    start,
                    out,
                    kind="ca_dpo",
                    train=q.train,
                    dpo=q.dpo,
                    ca_dpo=q.ca_dpo,
                    work_dir=work / m / f"c{i}.ckpt",
                    name="ca_dpo",
                    reference=ref,
                    diagnostics_n=1,
                    **common,
                )
            answerer = load_in_process(out, p.evaluate, p.prompt.system)
            runs[name], _ = evaluate_answerer(answerer, valsets, semantic, lenient=p.judge.lenient, model=m)
            dirs[name] = out
        rows = score_rows(
            list(runs),
            runs,
            valsets,
            n_boot=p.stats.n_boot,
            level=p.stats.level,
            seed=p.stats.seed,
            min_family_acc=float(grid.get("min_family_acc", 0)),
        )
        results[m] = rows
        chosen[m] = next(r["config"] for r in rows if r["best"])
        start, before = dirs[chosen[m]], full[chosen[m]]
    return results, chosen


__all__ = ["METHODS", "apply", "check_grid", "label", "on_top", "score_rows", "markdown", "run_search"]
