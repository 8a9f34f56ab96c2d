"""What `dvc plots show` draws: every declared plot is one series per group with named axes and no empty
cells, the page loads nothing from the network, the DVC-ready files are what the dvc_plots stage derives
from the committed long tables, and loss curves are on the optimizer step."""

from __future__ import annotations

import csv
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from inbol.dvc_plots import GROUP, _plot_definitions, check_declared_plots, write_dvc_plot_files, write_groups
from inbol.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
DVC_YAML = yaml.safe_load((ROOT / "dvc.yaml").read_text())
TEMPLATE = ROOT / ".dvc" / "plots" / "offline.html"


def _dvc(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(["dvc", *args], cwd=cwd, capture_output=True, text=True, check=True)


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t" if path.suffix == ".tsv" else ","))


# ---- the committed plots ----------------------------------------------------------------------


def test_declared_plots_are_one_series_per_group_with_named_axes():
    assert check_declared_plots(ROOT) == []


def test_dvc_plots_stage_output_is_what_the_committed_long_tables_give(tmp_path):
    cmd = DVC_YAML["stages"]["dvc_plots"]["cmd"]
    opt = dict(re.findall(r"--([\w-]+) (\S+)", cmd))
    files = write_dvc_plot_files(
        hist_csv=ROOT / opt["hist-csv"],
        reliability_csv=ROOT / opt["reliability-csv"],
        risk_coverage_csv=ROOT / opt["risk-coverage-csv"],
        exposure_csv=ROOT / opt["exposure-csv"],
        out_dir=tmp_path / "dvc",
    )
    fresh = {p.relative_to(tmp_path / "dvc").as_posix(): p.read_text() for p in files}
    out = ROOT / opt["out"]
    committed = {p.relative_to(out).as_posix(): p.read_text() for p in out.rglob("*.csv")}
    assert fresh == committed
    # every group file the stage writes is drawn by a top-level plot
    declared = {f for item in DVC_YAML["plots"] for d in item.values() for f in (d.get("y") or {})}
    undrawn = sorted(f"{opt['out']}/{name}" for name in fresh if f"{opt['out']}/{name}" not in declared)
    assert not undrawn, f"group files no plot in dvc.yaml draws: {undrawn}"


def test_every_declared_plot_renders_a_nonempty_series_per_group(tmp_path):
    """In what `dvc plots show` renders: each declared (file, field) has points, and within one series each
    x (the category, for bars) occurs once: a repeated one is several groups drawn as one line or bar."""
    # (-o: the image plots it copies go to a temporary folder, not the checkout's dvc_plots/)
    shown = json.loads(_dvc("plots", "show", "--json", "-o", str(tmp_path / "shown")).stdout)["data"]
    for title, d, _ in _plot_definitions(DVC_YAML):
        series = {(f, fld) for f, fields in d["y"].items() for fld in ([fields] if isinstance(fields, str) else fields)}
        (rendered,) = [r for r in shown[title] if r["type"] == "vega"]
        template = str(d.get("template") or "linear")
        points: dict[tuple, list] = {}
        for v in rendered["content"].get("data", {}).get("values") or []:
            field, fname = v.get("field") or next(iter(series))[1], v.get("filename")
            key = next((s for s in series if s[1] == field and (fname is None or s[0].endswith(fname))), None)
            assert key is not None, f"{title}: a datapoint of no declared series: {v}"
            y = v.get("dvc_inferred_y_value", v.get(field))
            assert y not in (None, ""), f"{title}: {key} has an empty point (Vega draws 0)"
            x = (y,) if template.startswith("bar_") else (v[d["x"]], y) if template == "heatmap" else (v[d["x"]],)
            points.setdefault(key + ((v[GROUP],) if template.endswith("_by_group") else ()), []).append(x)
        if template.endswith("_by_group"):  # one line per value of the file's group column
            series = {s + (r[GROUP],) for s in series for r in _rows(ROOT / s[0])}
        missing = sorted(series - set(points))
        assert not missing, f"{title}: no points for {missing}"
        for key, xs in points.items():
            assert len(set(xs)) == len(xs), f"{title}: {key}: repeated x, groups drawn as one series"


def test_plots_page_loads_nothing_from_the_network(tmp_path):
    assert TEMPLATE.stat().st_size < 2 * 1024 * 1024
    config = (ROOT / ".dvc" / "config").read_text()
    assert re.search(r"\[plots\]\s*\n\s*html_template\s*=\s*plots/offline.html", config)
    _dvc("plots", "show", "-o", str(tmp_path / "out"))
    page = (tmp_path / "out" / "index.html").read_text()
    # the HTML outside the inline <script> bodies: no tag may load anything over http(s)
    tags = re.sub(r"(<script[^>]*>).*?(</script>)", r"\1\2", page, flags=re.S)
    remote = re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//[^"' >]+""", tags)
    assert not remote, remote
    assert "<script src" not in tags.replace(" = ", "=").replace("<script  src", "<script src")
    assert not re.search(r"@import|url\(\s*['\"]?(?:https?:)?//", tags)
    # the specs have inline data only, and the three libraries are inlined at dvc-render's major versions
    specs = [json.loads(m) for m in re.findall(r"var spec = (\{.*?\});\n", page)]
    assert specs and all("url" not in (s.get("data") or {}) for s in specs)
    from dvc_render.vega import VegaRenderer

    wanted = dict(re.findall(r"npm/([\w-]+)@(\d+)\.", VegaRenderer.SCRIPTS))
    inlined = dict(re.findall(r"/\* ([\w-]+)@(\d+)\.[\d.]+ build/", page))
    assert inlined == wanted
    assert "vegaEmbed(" in page


def test_base_model_loss_is_on_the_optimizer_step():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())["base_model"]["pretrain"]
    steps = [int(r["step"]) for r in _rows(ROOT / "dvclive/base_model/plots/metrics/loss.tsv")]
    assert steps == list(range(params["log_every"], params["steps"] + 1, params["log_every"]))


# ---- bad input ---------------------------------------------------------------------------------


def _repo(tmp_path: Path, plots: list, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {}, "plots": plots}))
    return tmp_path


def test_a_plot_file_missing_a_group_column_is_one_line_naming_file_and_field(tmp_path):
    plot = {"Refusal": {"x": "conf", "y": {"p/wide.csv": ["base", "idk_it"]}, "x_label": "c", "y_label": "r"}}
    _repo(tmp_path, [plot], {"p/wide.csv": "conf,base\n0.1,3\n0.3,4\n"})
    problems = check_declared_plots(tmp_path)
    assert len(problems) == 1 and "\n" not in problems[0]
    assert problems[0].startswith("p/wide.csv: no column 'idk_it'")


def test_a_grouped_plot_file_missing_its_group_column_is_one_line(tmp_path):
    plot = {"Calibration": {"template": "linear_by_group", "x": "conf", "y": {"r.csv": "accuracy"}, "x_label": "c",
                            "y_label": "a"}}  # fmt: skip
    _repo(tmp_path, [plot], {"r.csv": "temperature,conf,accuracy\n0.5,0.1,0.2\n1,0.1,0.3\n"})
    problems = check_declared_plots(tmp_path)
    assert len(problems) == 1 and problems[0].startswith("r.csv: no column 'group'"), problems


def test_empty_cells_long_tables_quotes_and_unnamed_axes_are_reported(tmp_path):
    plots = [
        {"Empty": {"x": "conf", "y": {"a.csv": ["base"]}, "x_label": "c", "y_label": "r"}},
        {"Long": {"x": "conf", "y": {"b.csv": "acc"}, "x_label": "c", "y_label": "r"}},
        {"The model's": {"x": "conf", "y": {"c.csv": ["u", "v"]}}},
    ]
    files = {
        "a.csv": "conf,base\n0.1,\n0.3,4\n",
        "b.csv": "t,conf,acc\n1,0.1,3\n2,0.1,4\n",
        "c.csv": "conf,u,v\n0,1,2\n",
    }
    problems = check_declared_plots(_repo(tmp_path, plots, files))
    assert [p.split(":")[0] for p in problems] == ["a.csv", "b.csv", "dvc.yaml", "dvc.yaml", "dvc.yaml"]
    assert "empty cell" in problems[0] and "repeated value" in problems[1] and "quote" in problems[2]
    assert {"x_label", "y_label"} <= {w for p in problems[3:] for w in p.split()}


def test_long_table_missing_its_group_column_fails_naming_file_and_field(tmp_path):
    good = ROOT / "plots"
    bad = tmp_path / "reliability.csv"
    bad.write_text("conf,n,accuracy\n0,3,0.5\n")
    with pytest.raises(DataError) as e:
        write_dvc_plot_files(
            hist_csv=good / "confidence_hist.csv",
            reliability_csv=bad,
            risk_coverage_csv=good / "risk_coverage.csv",
            exposure_csv=good / "exposure.csv",
            out_dir=tmp_path / "out",
        )
    assert str(e.value).startswith(f"{bad}: no column 'temperature'")
    assert not (tmp_path / "out").exists()


def test_groups_get_their_own_file_and_empty_points_no_row(tmp_path):
    rows = [
        {"row": "CA-DPO", "scope": "ood", "coverage": 0.1, "risk": 0.5},
        {"row": "CA-DPO", "scope": "ood", "coverage": 0.2, "risk": None},
        {"row": "Original + x", "scope": "ood", "coverage": 0.1, "risk": 0.25},
        {"row": "Empty", "scope": "ood", "coverage": 0.1, "risk": ""},
    ]
    files = write_groups(rows, tmp_path / "g", by=["row", "scope"], fields=["coverage", "risk"], required=["risk"])
    assert sorted(p.name for p in files) == ["ca_dpo-ood.csv", "original_x-ood.csv"]
    assert _rows(tmp_path / "g" / "ca_dpo-ood.csv") == [{"coverage": "0.1", "risk": "0.5"}]


def test_exposure_buckets_without_questions_have_no_row(tmp_path):
    src = ROOT / "plots"
    empty = {r["bucket"] for r in _rows(src / "exposure.csv") if r["refusal_rate"] == ""}
    write_dvc_plot_files(
        hist_csv=src / "confidence_hist.csv",
        reliability_csv=src / "reliability.csv",
        risk_coverage_csv=src / "risk_coverage.csv",
        exposure_csv=src / "exposure.csv",
        out_dir=tmp_path / "out",
    )
    drawn = _rows(tmp_path / "out" / "exposure_refusal.csv")
    assert empty and drawn and not empty & {r["bucket"] for r in drawn}
    assert all(v != "" for r in drawn for v in r.values())
    assert len({r[GROUP] for r in drawn}) == len({r["model"] for r in _rows(src / "exposure.csv")})


# ---- dvclive on the optimizer step -------------------------------------------------------------


def test_live_callback_logs_the_optimizer_step(tmp_path):
    import torch
    from transformers import Trainer, TrainingArguments

    from inbol.live import live_callback

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Linear(2, 1)

        def forward(self, x, labels=None):
            return {"loss": ((self.w(x).squeeze(-1) - labels) ** 2).mean()}

    data = [{"x": torch.randn(2), "labels": torch.tensor(1.0)} for _ in range(16)]
    args = TrainingArguments(
        output_dir=str(tmp_path / "work"),
        max_steps=6,
        per_device_train_batch_size=2,
        gradient_accumulation_steps=2,
        logging_steps=3,
        report_to="none",
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
    )
    live = tmp_path / "live"
    Trainer(model=Tiny(), args=args, train_dataset=data, callbacks=[live_callback(live)]).train()
    assert [int(r["step"]) for r in _rows(live / "plots/metrics/loss.tsv")] == [3, 6]
    assert json.loads((live / "metrics.json").read_text())["step"] == 6
