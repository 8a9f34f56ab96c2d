"""Figures of the report (matplotlib/seaborn, Agg backend) and their CSV data.

CSV files come in two shapes: a long table (one row per model and bin, for pandas/seaborn and any other
tool) and a wide table per figure panel (one column per model) for ``dvc plots``: DVC's built-in
templates draw one series per (file, field, revision), so a model has to be a column to be its own line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

from .io import atomic_path


def _cell(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4f}".rstrip("0").rstrip(".") if v == v else ""
    return v


def write_csv(rows: Iterable[dict], path: str | Path, fields: Sequence[str]) -> None:
    """``rows`` as CSV with exactly ``fields`` (missing values and None are empty cells)."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(fields), extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: _cell(r.get(k)) for k in fields})


def _setup():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="paper")
    return plt, sns


def _save(fig, path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def plot_figure4(
    rows: Sequence[dict],
    path: str | Path,
    *,
    scope_labels: dict[str, str] | None = None,
    model_labels: dict[str, str] | None = None,
) -> None:
    """The paper's Figure 4 from long rows ``{scope, bin, conf, model, refusal_rate, answered_acc}``:
    (a) refusal rate and (b) answered accuracy by the original model's confidence bin, one colour per
    model, one line style per scope (in domain / AOKVQA-like)."""
    plt, sns = _setup()
    import pandas as pd

    scope_labels = scope_labels or {}
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), dpi=120)
    df = pd.DataFrame(list(rows))
    mids = dict((r["bin"], r["conf"]) for r in rows)
    panels = (
        ("refusal_rate", "(a) Refusal rate by confidence", "refusal rate (%)"),
        ("answered_acc", "(b) Answered accuracy by confidence", "answered accuracy (%)"),
    )
    for ax, (col, title, ylab) in zip(axes, panels):
        if not df.empty:
            d = df.dropna(subset=[col]).copy()
            d["model"] = d["model"].map(lambda m: (model_labels or {}).get(m, m))
            d["scope"] = d["scope"].map(lambda s: scope_labels.get(s, s))
            d[col] = d[col].astype(float)
            if not d.empty:
                sns.lineplot(data=d, x="conf", y=col, hue="model", style="scope", markers=True, dashes=True, ax=ax)
        ax.set_xticks(list(mids.values()))
        ax.set_xticklabels(list(mids), fontsize=7)
        ax.set_xlabel("original model's confidence")
        ax.set_ylabel(ylab)
        ax.set_ylim(-2, 102)
        ax.set_title(title)
        if ax.get_legend() is not None:
            ax.legend(fontsize=7)
    _save(fig, path)


def plot_exposure(rows: Sequence[dict], path: str | Path, *, model_labels: dict[str, str] | None = None) -> None:
    """Refusal rate on emblem questions by ground-truth corpus exposure bucket, one line per model."""
    plt, sns = _setup()
    import pandas as pd

    fig, ax = plt.subplots(figsize=(6.5, 3.8), dpi=120)
    df = pd.DataFrame(list(rows))
    buckets = list(dict.fromkeys(r["bucket"] for r in rows))
    if not df.empty:
        d = df.dropna(subset=["refusal_rate"]).copy()
        d["model"] = d["model"].map(lambda m: (model_labels or {}).get(m, m))
        d["refusal_rate"] = d["refusal_rate"].astype(float)
        if not d.empty:
            sns.lineplot(data=d, x="exposure_index", y="refusal_rate", hue="model", marker="o", ax=ax)
    ax.set_xticks(range(len(buckets)))
    ax.set_xticklabels(buckets)
    ax.set_xlabel("emblem's exposure in the pretraining corpus (examples)")
    ax.set_ylabel("refusal rate (%)")
    ax.set_ylim(-2, 102)
    ax.set_title("Refusal by ground-truth knowledge (emblem questions, in domain)")
    if ax.get_legend() is not None:
        ax.legend(fontsize=7)
    _save(fig, path)


def plot_heatmap(
    rows: Sequence[dict],
    path: str | Path,
    *,
    current: tuple[float, float] | None = None,
    value: str = "normalized",
    title: str = "Figure 10: normalised mean S_trust (in domain + OOD)",
) -> None:
    """The paper's Figure 10: ``value`` over delta_uk (x, high at the left) and delta_k (y, high at the top), cells with
    delta_k <= delta_uk blank; the current (delta_k, delta_uk) in a red box, the best cell starred."""
    plt, sns = _setup()
    import pandas as pd

    df = pd.DataFrame(list(rows))
    fig, ax = plt.subplots(figsize=(5.6, 4.6), dpi=120)
    if not df.empty:
        grid = df.pivot(index="delta_k", columns="delta_uk", values=value).astype(float)
        grid = grid.sort_index(ascending=False)  # delta_k high at the top and
        grid = grid[sorted(grid.columns, reverse=True)]  # delta_uk low at the right: the paper's
        # "upper right" is strict-Known, strict-Unknown
        sns.heatmap(
            grid, annot=True, fmt=".2f", cmap="viridis", ax=ax, cbar_kws={"label": value}, annot_kws={"fontsize": 7}
        )
        ks, us = list(grid.index), list(grid.columns)

        def box(k, u, **kw):
            if k in ks and u in us:
                ax.add_patch(plt.Rectangle((us.index(u), ks.index(k)), 1, 1, fill=False, **kw))

        b = df.loc[df[value].astype(float).idxmax()]
        box(b["delta_k"], b["delta_uk"], edgecolor="white", lw=2, ls="--")
        if "indistinguishable_from_best" in df:
            for _, r in df[df["indistinguishable_from_best"].astype(bool)].iterrows():
                if r["delta_k"] in ks and r["delta_uk"] in us:
                    ax.plot(
                        us.index(r["delta_uk"]) + 0.85,
                        ks.index(r["delta_k"]) + 0.2,
                        marker="*",
                        color="white",
                        markersize=7,
                    )
        if current is not None:
            box(current[0], current[1], edgecolor="red", lw=2.5)
    ax.set_xlabel("delta_uk (Unknown if conf <= delta_uk)")
    ax.set_ylabel("delta_k (Known if conf >= delta_k)")
    ax.set_title(
        title + "\nred: current params, dashed: best, *: not distinguishable from the best (95% CI)", fontsize=8
    )
    _save(fig, path)


def plot_figure11(ratio_rows: Sequence[dict], weight_rows: Sequence[dict], path: str | Path) -> None:
    """The paper's Figure 11: S_trust in domain and OOD against (a) the IDK-IT known ratio and (b) the
    CA-DPO Unknown:Mixed:Known composition, with their mean and its 95% interval (band) where the rows
    carry one."""
    plt, sns = _setup()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), dpi=120)
    panels = (
        (ratio_rows, "known_ratio", "(a) Data composition for IDK-IT", "ratio of Known data"),
        (weight_rows, "label", "(b) Data composition for CA-DPO", "Unknown : Mixed : Known"),
    )
    for ax, (rows, x, title, xlabel) in zip(axes, panels):
        xs = list(range(len(rows))) if x == "label" else [r[x] for r in rows]
        for scope, name in (("in_domain", "In-domain"), ("ood", "OOD")):
            ax.plot(xs, [r[f"s_trust_{scope}"] for r in rows], marker="o", label=name)
        if rows and rows[0].get("value_lo") is not None:
            ax.plot(xs, [r["value"] for r in rows], color="k", linewidth=1, label="mean (95% CI)")
            ax.fill_between(xs, [r["value_lo"] for r in rows], [r["value_hi"] for r in rows], color="k", alpha=0.12)
        if x == "label":
            ax.set_xticks(xs)
            ax.set_xticklabels([r["label"] for r in rows])
        ax.set_xlabel(xlabel)
        ax.set_ylabel("S_trust (%), validation sets")
        ax.set_title(title)
        ax.legend(fontsize=7)
    _save(fig, path)


def plot_reliability(rows: Sequence[dict], path: str | Path, *, chosen: float | None = None) -> None:
    """Reliability diagram: the original model's greedy accuracy against its K-sample confidence, one line
    per sampling temperature (the chosen one bold), the diagonal for perfect calibration."""
    plt, sns = _setup()
    fig, ax = plt.subplots(figsize=(5.2, 4.4), dpi=120)
    ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", linewidth=1, label="calibrated")
    for t in sorted({r["temperature"] for r in rows}):
        pts = sorted((r["conf"], r["accuracy"]) for r in rows if r["temperature"] == t)
        ax.plot(
            [x for x, _ in pts],
            [y for _, y in pts],
            marker="o",
            markersize=3,
            linewidth=2.5 if chosen is not None and abs(t - chosen) < 1e-9 else 1.0,
            label=f"T = {t:g}" + (" (sampling.temperature)" if chosen is not None and abs(t - chosen) < 1e-9 else ""),
        )
    ax.set_xlabel("K-sample confidence (fraction of samples judged correct)")
    ax.set_ylabel("greedy accuracy")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Calibration of the original model (validation sets)", fontsize=9)
    ax.legend(fontsize=7)
    _save(fig, path)


def plot_risk_coverage(rows: Sequence[dict], path: str | Path) -> None:
    """Risk-coverage curves (in domain): one line per Table 5 row."""
    plt, sns = _setup()
    fig, ax = plt.subplots(figsize=(6.2, 4.2), dpi=120)
    for name in dict.fromkeys(r["row"] for r in rows):
        pts = [(r["coverage"], r["risk"]) for r in rows if r["row"] == name]
        ax.plot([c for c, _ in pts], [100 * x for _, x in pts], label=name, linewidth=1.2)
    ax.set_xlabel("coverage (share of questions answered)")
    ax.set_ylabel("risk (% of the answered that are wrong)")
    ax.set_xlim(0, 1)
    ax.set_title(
        "Risk-coverage, in domain (test sets; abstention score: P(refusal start) or 1 - agreement)", fontsize=8
    )
    ax.legend(fontsize=7)
    _save(fig, path)


__all__ = [
    "write_csv",
    "plot_figure4",
    "plot_exposure",
    "plot_heatmap",
    "plot_figure11",
    "plot_reliability",
    "plot_risk_coverage",
]
