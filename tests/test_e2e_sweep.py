"""End to end, the appendix-G sweeps (Figure 10/11 cells, the heatmap, the experiment queue) and the
incrementality of a threshold change, on the smoke profile's `dvc repro`."""

import csv
import shutil
import time

import pytest
import yaml

from helpers import run
from inbol.io import read_json

pytestmark = pytest.mark.e2e

UPSTREAM = {
    "world",
    "base_model",
    "sample",
    "judge",
    "restructure",
    "unanswerable_generate",
    "unanswerable_filter",
    "unanswerable_sets",
    "testsets",
}
SWEEP_CELLS = {"sweep_threshold", "sweep_known_ratio", "sweep_composition", "sweep_idk_it"}
# what a threshold change reaches, run for real on one chain of each kind: the thresholds' table, IDK-IT and
# CA-DPO from construct to their evaluations, and the two sweep figures, which have every sweep cell and
# every stage above the training in their upstream (so the run would repeat any of them that changed).
# The other methods' chains are the same stages on other items: `dvc status` shows the threshold change
# reaches them and the report without running them.
EXP_TARGETS = [
    "confidence_report",
    "evaluate_sft@idk_it-0",
    "evaluate_preference@ca_dpo-0",
    "heatmap",
    "figure11",
]
# what the run leaves out but the threshold change makes stale: the other methods' trainings, the retrained
# models' validation and consistency stages, Table 5 and the report
STALE_AFTER = [
    "train_sft@sft-0",
    "train_preference@dpo_1-0",
    "train_preference@ipo-0",
    "evaluate_val@idk_it-0",
    "consistency@ca_dpo-0",
    "selective",
    "report",
]


def _stages_in(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")}


def _changed(status: str) -> set[str]:
    return {line.rstrip(":") for line in status.splitlines() if line and not line.startswith((" ", "\t"))}


def _upstream(repo, targets: list[str]) -> set[str]:
    """The stages ``targets`` and every stage above them, in DVC's own graph of ``repo``."""
    import networkx as nx
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc:
        graph = dvc.index.graph  # an edge from each stage to a stage it depends on
        by_name = {s.name: s for s in graph}
        return {s.name for t in targets for s in nx.descendants(graph, by_name[t]) | {by_name[t]}}


def _committed_copy(repo, dest):
    shutil.copytree(repo, dest, symlinks=True)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-q", "--allow-empty", "-m", "smoke results"], dest)
    return dest


def test_sweep_cells_heatmap_and_figure11(smoke_repo):
    repo, _ = smoke_repo
    cells = {
        p.parent.name: read_json(p / "cell.json")
        for p in (repo / "data/sweep/threshold").glob("*/s0")
        if (p / "cell.json").is_file()
    }
    assert set(cells) == {"0.5-0.25", "0.75-0.25", "0.75-0.5"}  # sweep.cells (delta_k > delta_uk only)
    for name in ("0.5-0.25", "0.75-0.25", "0.75-0.5"):
        c = cells[name]
        assert c["valid"] and c["train"]["steps"] == 3 and c["seed"] == 0
        assert c["in_domain"]["s_trust"] is not None and c["ood"]["s_trust"] is not None
        assert (repo / "data/sweep/threshold" / name / "s0" / "adapter").is_dir()
    with open(repo / "plots/figure10.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["delta_k"], r["delta_uk"]) for r in rows} == {("0.5", "0.25"), ("0.75", "0.25"), ("0.75", "0.5")}
    norm = [float(r["normalized"]) for r in rows]
    assert min(norm) >= 0 and max(norm) == 1.0
    for r in rows:  # each cell's interval on the validation sets, and whether it is tied with the best
        assert float(r["value_lo"]) <= float(r["value"]) <= float(r["value_hi"])
    assert sum(r["indistinguishable_from_best"] == "True" for r in rows) >= 1
    summary = read_json(repo / "metrics/sweep_thresholds.json")
    assert summary["cells"] == 3 and summary["current"] == {"delta_k": 0.75, "delta_uk": 0.25}
    assert summary["split"] == "validation" and summary["indistinguishable_from_best"]
    assert (repo / "plots/figure10.png").stat().st_size > 1000
    assert read_json(repo / "data/sweep/known_ratio/r0.75/s0/cell.json")["valid"]
    assert read_json(repo / "data/sweep/composition/w2/s0/cell.json")["data"]["ratio"] == [1.0, 1.0, 2.0]
    assert read_json(repo / "metrics/sweep_composition.json")["composition"]["best"] == "1:1:2"
    assert (repo / "plots/figure11.png").is_file() and (repo / "plots/figure11a.csv").is_file()


def test_exp_run_delta_k_reruns_construct_and_after_but_no_sweep_cell(smoke_repo, tmp_path):
    # smoke K = 4 puts confidences on {0, .25, .5, .75, 1}: delta_k 0.7 would split exactly like the smoke
    # 0.75 (DVC then rightly skips every training, its data unchanged), so the test moves to 0.5 / 0.0
    # (Mixed = conf 0.25; with delta_uk 0.25 no Mixed question would be left for CA-DPO)
    repo, _ = smoke_repo
    copy = _committed_copy(repo, tmp_path / "copy")
    status = run(["dvc", "status"], copy).stdout
    assert "up to date" in status, status
    in_scope = {s.split("@")[0] for s in _upstream(copy, EXP_TARGETS)}
    assert UPSTREAM | SWEEP_CELLS <= in_scope, in_scope  # the targets would re-run any of them that changed
    out = run(["dvc", "exp", "run", "-S", "delta_k=0.5", "-S", "delta_uk=0.0", *EXP_TARGETS], copy).stdout
    ran = _stages_in(out)
    bare = {s.split("@")[0] for s in ran}
    assert not bare & UPSTREAM, ran
    assert not bare & SWEEP_CELLS, ran
    assert {
        "confidence_report",
        "construct@0",
        "train_sft@idk_it-0",
        "reference@0",
        "train_preference@ca_dpo-0",
        "evaluate_sft@idk_it-0",
        "evaluate_preference@ca_dpo-0",
        "heatmap",
    } <= ran, ran
    assert read_json(copy / "metrics/sweep_thresholds.json")["current"]["delta_k"] == 0.5
    stale = _changed(run(["dvc", "status", *STALE_AFTER], copy).stdout)
    assert stale == set(STALE_AFTER), stale


def test_changing_the_grid_adds_or_removes_cells_only(smoke_repo, tmp_path):
    repo, _ = smoke_repo
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy, symlinks=True)
    params = yaml.safe_load((copy / "params.yaml").read_text())
    params["sweep"]["cells"] += ["0.9-0.25", "0.9-0.5"]  # adds two cells
    params["sweep"]["known_ratio"] = [0.6, 0.75]  # adds one
    (copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    changed = _changed(run(["dvc", "status"], copy).stdout)
    assert changed == {
        "check_params",
        "sweep_threshold@0.9-0.25-0",
        "sweep_threshold@0.9-0.5-0",
        "sweep_known_ratio@0.6-0",
        "heatmap",
        "figure11",
    }, changed
    params["sweep"]["cells"] = ["0.75-0.25", "0.75-0.5"]  # removes a cell: only the drawing re-runs
    params["sweep"]["known_ratio"] = [0.75]  # (back to the committed value: nothing to do)
    (copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    ran = _stages_in(run(["dvc", "repro"], copy).stdout)
    assert ran == {"check_params", "heatmap", "summary"}, ran  # summary: the results page quotes the sweep
    with open(copy / "plots/figure10.csv") as fh:
        assert {(r["delta_k"], r["delta_uk"]) for r in csv.DictReader(fh)} == {("0.75", "0.25"), ("0.75", "0.5")}


def test_experiment_queue_and_heatmap_from_experiments(smoke_repo, tmp_path):
    repo, _ = smoke_repo
    copy = _committed_copy(repo, tmp_path / "copy")
    run(["dvc", "exp", "run", "--queue", "-S", "delta_k=0.7", "-S", "delta_uk=0.3"], copy)
    run(["dvc", "queue", "start", "-j", "1"], copy)
    deadline = time.time() + 600
    while time.time() < deadline:
        status = run(["dvc", "queue", "status"], copy).stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(3)
    assert "Success" in status, status + run(["dvc", "queue", "logs", "-f"], copy, check=False).stdout[-2000:]
    table = run(["dvc", "exp", "show", "--csv"], copy).stdout
    header, *lines = list(csv.reader(table.splitlines()))
    col = next(i for i, h in enumerate(header) if h in ("delta_k", "params.yaml:delta_k"))
    assert any(line[col] == "0.7" for line in lines), table
    out = run(
        [".venv/bin/python" if (copy / ".venv").exists() else "python", "scripts/heatmap_from_exps.py"], copy
    ).stdout
    assert "delta_k 0.7  delta_uk 0.3" in out and "delta_k 0.75  delta_uk 0.25" in out, out
    with open(copy / "plots/figure10_exps.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["delta_k"], r["delta_uk"]) for r in rows} == {("0.7", "0.3"), ("0.75", "0.25")}
    assert (copy / "plots/figure10_exps.png").is_file()
