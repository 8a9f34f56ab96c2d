"""The files ``dvc plots show`` / ``dvc plots diff`` draw, and a check of dvc.yaml's plot definitions.

DVC's built-in templates draw one series per (file, field, revision), so a group (question family, model)
has to be a column or a file of its own (:func:`write_groups`) to be its own line or bar series.  Where the
groups follow params (sampling temperatures, Table 5 rows, models), dvc.yaml cannot name a file or column
each: those files get a ``group`` column (:func:`grouped_rows`) that the project template ``linear_by_group``
(.dvc/plots/linear_by_group.json: one colour per group, one dash per revision) draws.  The stages write long
tables (one row per group and bin, for pandas and any other tool); :func:`write_dvc_plot_files` derives
these files from them.  DVC reads every cell as a string and Vega draws an empty one as 0, so the files have
no empty cells: a group or bucket with no data has no row.  :func:`check_declared_plots` checks dvc.yaml's
plot definitions against the files they name, one line per problem.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import DataError
from .io import atomic_dir
from .methods.registry import labels
from .plots import write_csv

GROUP = "group"  # the series column of the project templates named *_by_group (.dvc/plots)


def read_csv(path: str | Path, *, required: Sequence[str] = ()) -> list[dict]:
    """The rows of the CSV ``path`` (values as strings); a missing file or column is a one-line DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        columns = reader.fieldnames or []
    missing = [c for c in required if c not in columns]
    if missing:
        raise DataError(f"{path}: no column {missing[0]!r} (columns: {', '.join(columns) or 'none'})")
    return rows


def group_slug(*values: str) -> str:
    """A file name for a group: ``("CA-DPO + self-consistency", "in_domain")`` -> ``ca_dpo_self_consistency-in_domain``."""
    return "-".join(re.sub(r"[^a-z0-9.]+", "_", str(v).lower()).strip("_") for v in values)


def _filled(row: dict, fields: Sequence[str]) -> bool:
    return all(row.get(f) not in (None, "") for f in fields)


def write_groups(rows: Iterable[dict], out_dir: str | Path, *, by: Sequence[str], fields: Sequence[str],
                 required: Sequence[str], prefix: str = "") -> list[Path]:  # fmt: skip
    """One CSV per group of ``rows`` (the values of the columns ``by``), named ``<prefix><group_slug>.csv``,
    with the columns ``fields`` in the rows' order; rows with an empty ``required`` cell are left out (no
    data is no point, not a 0), and so is a group left with no rows.  ``out_dir`` is replaced as a whole."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if _filled(r, required):
            groups.setdefault(tuple(r[b] for b in by), []).append(r)
    names = {}
    for key in groups:
        name = f"{prefix}{group_slug(*key)}.csv"
        if name in names.values():
            raise DataError(
                f"groups {key} and {next(k for k, v in names.items() if v == name)} share the file name {name}"
            )
        names[key] = name
    with atomic_dir(out_dir) as tmp:
        for key, grp in groups.items():
            write_csv(grp, Path(tmp) / names[key], fields)
    return [Path(out_dir) / n for n in names.values()]


def grouped_rows(rows: Iterable[dict], group, *, required: Sequence[str]) -> list[dict]:
    """``rows`` with a ``group`` column (``group(row)``, the series a project ``*_by_group`` template draws),
    leaving out rows with an empty ``required`` cell (no data is no point, not a 0)."""
    return [{**r, GROUP: group(r)} for r in rows if _filled(r, required)]


def write_dvc_plot_files(
    *,
    hist_csv: str | Path,
    reliability_csv: str | Path,
    risk_coverage_csv: str | Path,
    exposure_csv: str | Path,
    out_dir: str | Path,
) -> list[Path]:
    """The DVC-ready files under ``out_dir`` from the long CSVs: the confidence histogram (one file per question
    family, fixed by the world), and with a ``group`` column for the template ``linear_by_group`` (their groups
    follow params, so dvc.yaml cannot name a file each): the reliability curves (one group per sampling
    temperature), the risk-coverage curves (one per Table 5 row) and the refusal rate by exposure bucket (one
    per model; a bucket without questions has no row)."""
    hist = read_csv(hist_csv, required=("conf", "family", "count", "share"))
    rel = read_csv(reliability_csv, required=("temperature", "conf", "n", "accuracy"))
    risk = read_csv(risk_coverage_csv, required=("row", "scope", "coverage", "risk"))
    expo = read_csv(exposure_csv, required=("model", "bucket", "exposure_index", "n", "refusal_rate"))
    out_dir = Path(out_dir)
    one_scope = len({r["scope"] for r in risk}) == 1
    with atomic_dir(out_dir) as tmp:
        tmp = Path(tmp)
        write_groups(hist, tmp / "confidence_hist", by=["family"], fields=["conf", "count", "share"],
                     required=["count"])  # fmt: skip
        rel = grouped_rows(rel, lambda r: f"T = {r['temperature']}", required=["accuracy"])
        write_csv(rel, tmp / "reliability.csv", [GROUP, "conf", "accuracy", "n"])
        risk = grouped_rows(risk, lambda r: r["row"] if one_scope else f"{r['row']} ({r['scope']})", required=["risk"])
        write_csv(risk, tmp / "risk_coverage.csv", [GROUP, "coverage", "risk"])
        expo = grouped_rows(expo, lambda r: labels().get(r["model"], r["model"]), required=["refusal_rate"])
        write_csv(expo, tmp / "exposure_refusal.csv", [GROUP, "exposure_index", "bucket", "refusal_rate", "n"])
    return sorted(p for p in out_dir.rglob("*.csv"))


def _plot_definitions(dvc_yaml: dict) -> list[tuple[str, dict, bool]]:
    """(title, definition, top level?) of every plot dvc.yaml declares with fields: top-level ``plots:``
    and stage ``plots:`` entries of CSV/TSV files (images have no fields)."""
    out = []
    for item in dvc_yaml.get("plots") or []:
        if isinstance(item, str):
            out.append((item, {"y": {item: None}}, True))
            continue
        ((title, d),) = item.items()
        d = dict(d or {})
        if not isinstance(d.get("y"), dict):
            d["y"] = {title: d.get("y")}
        out.append((d.get("title", title), d, True))
    for stage in (dvc_yaml.get("stages") or {}).values():
        for item in stage.get("do", stage).get("plots") or []:
            path, d = next(iter(item.items())) if isinstance(item, dict) else (item, {})
            if Path(path).suffix.lower() in (".csv", ".tsv"):
                d = dict(d or {})
                out.append((path, {**d, "y": {path: d.get("y")}}, False))
    return out


def check_declared_plots(root: str | Path = ".", dvc_yaml: dict | None = None) -> list[str]:
    """One line per problem with the plots dvc.yaml declares under ``root``: a file that is missing or has
    no rows, an x or y field that is not a column, an empty cell in one (Vega draws it as 0), a y column with
    no number, one series with a repeated x (groups of a long table drawn as one line or bar), a top-level
    plot without axis labels (DVC names an axis after its field, "y" for several) or
    with a quote in its title (it breaks the page's script).  Empty when all is well."""
    import yaml

    root = Path(root)
    if dvc_yaml is None:
        dvc_yaml = yaml.safe_load((root / "dvc.yaml").read_text())
    problems = []
    for title, d, top_level in _plot_definitions(dvc_yaml):
        if "'" in title or '"' in title:
            problems.append(f"dvc.yaml: plot {title!r}: a quote in a plot title breaks `dvc plots show`'s page")
        ys = d["y"]
        for lab in ("x_label", "y_label") if top_level else ():
            if not d.get(lab):
                problems.append(f"dvc.yaml: plot {title!r}: no {lab} (DVC names the axis after a field, or 'y')")
        for path, fields in ys.items():
            f = root / path
            if f.suffix.lower() not in (".csv", ".tsv"):
                if not f.exists():
                    problems.append(f"{path}: no such file (plot {title!r})")
                continue
            if not f.is_file():
                problems.append(f"{path}: no such file (plot {title!r})")
                continue
            with open(f, newline="") as fh:
                reader = csv.DictReader(fh, delimiter="\t" if f.suffix.lower() == ".tsv" else ",")
                rows = list(reader)
                columns = reader.fieldnames or []
            if not rows:
                problems.append(f"{path}: no rows (plot {title!r})")
                continue
            ylist = [] if fields is None else [fields] if isinstance(fields, str) else list(fields)
            x = d.get("x")
            x = x.get(path) if isinstance(x, dict) else x
            xs = [x] if x else []
            for field in xs + ylist:
                if field not in columns:
                    problems.append(f"{path}: no column {field!r} (plot {title!r}; columns: {', '.join(columns)})")
                    continue
                empty = sum(r.get(field) in (None, "") for r in rows)
                if empty:
                    problems.append(f"{path}: {empty} empty cell(s) in column {field!r} (plot {title!r}; Vega draws 0)")
            for field in ylist:
                if field in columns and not any(_is_number(r.get(field)) for r in rows):
                    problems.append(f"{path}: column {field!r} has no number (plot {title!r})")
            template = str(d.get("template") or "linear")
            key = ylist if template.startswith("bar_") else xs + ylist if template == "heatmap" else xs
            if template.endswith("_by_group"):
                if GROUP not in columns:
                    problems.append(
                        f"{path}: no column {GROUP!r} (plot {title!r}, template {template}; columns: {', '.join(columns)})"
                    )
                    continue
                empty = sum(r.get(GROUP) in (None, "") for r in rows)
                if empty:
                    problems.append(f"{path}: {empty} empty cell(s) in column {GROUP!r} (plot {title!r})")
                key = [GROUP, *xs]
            if key and all(k in columns for k in key) and not template.startswith("confusion"):
                seen = [tuple(r[k] for k in key) for r in rows]
                if len(set(seen)) < len(seen):
                    problems.append(
                        f"{path}: {len(seen) - len(set(seen))} repeated value(s) of {'/'.join(key)} (plot {title!r}): "
                        "groups drawn as one series; give each group a column or a file"
                    )
    return problems


def _is_number(v) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


__all__ = [
    "read_csv",
    "group_slug",
    "write_groups",
    "grouped_rows",
    "GROUP",
    "write_dvc_plot_files",
    "check_declared_plots",
]
