"""scripts/gpu_check.py: its CPU dry run (tiny sizes, the same code path as on the GPU) so that it cannot rot, and
the checks that make it fail."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import torch

from helpers import ROOT

SCRIPT = ROOT / "scripts" / "gpu_check.py"


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = mod  # (dataclasses look their module up)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.e2e  # 15-40 s of wall time on a busy 2-core machine (about 9 s of CPU time)
def test_dry_run_passes_every_check_and_prints_the_table(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    out = tmp_path / "rows.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run", "--work-dir", str(tmp_path / "work"), "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {r["check"]: r for r in json.loads(out.read_text())["rows"]}
    assert set(rows) == {
        "launcher + layout",
        "build + save model",
        "placement: inference load",
        "evaluate: greedy",
        "sample: K = 10",
        "idk_it: 2 steps",
        "placement: IDK-IT training",
        "reference pass",
        "ca_dpo: 2 steps",
        "placement: CA-DPO training",
    }
    assert all(r["status"] == "ok" for r in rows.values()), rows
    for name in ("evaluate: greedy", "sample: K = 10", "idk_it: 2 steps", "reference pass", "ca_dpo: 2 steps"):
        assert rows[name]["tokens"] > 0 and rows[name]["tokens_per_s"] > 0, rows[name]
    # the trainings wrote what the DAG's stages write: the adapter and the merged model
    for m in ("idk_it", "ca_dpo"):
        assert (tmp_path / "work" / "models" / m / "adapter" / "adapter_config.json").is_file()
    assert "| check" in proc.stdout and "tokens/s" in proc.stdout


def test_placement_names_frozen_float32_weights_and_weights_off_the_device():
    gc = load_script()
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
    for t in model[0].parameters():
        t.requires_grad_(False)  # frozen, float32
    model[1].to(torch.bfloat16)  # trainable: its dtype is free
    problems = gc.placement_problems(model, "cpu", torch.bfloat16)
    assert len(problems) == 1 and "20 frozen parameters in torch.float32" in problems[0], problems
    assert gc.placement_problems(model, "cpu", torch.float32) == []
    off = gc.placement_problems(model, "cuda", torch.float32)
    assert len(off) == 1 and "4 parameters on cpu, not cuda" in off[0], off


def test_a_failed_check_exits_non_zero_and_names_it(monkeypatch, capsys):
    gc = load_script()
    bad = gc.Row("placement: IDK-IT training")
    bad.fail("123 frozen parameters in torch.float32 (0.10 GiB), not bfloat16 (e.g. x)")
    monkeypatch.setattr(gc, "run_checks", lambda args: [gc.Row("build + save model"), bad])
    assert gc.main(["--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "FAIL placement: IDK-IT training: 123 frozen parameters" in err
    monkeypatch.setattr(gc, "run_checks", lambda args: [gc.Row("build + save model")])
    assert gc.main(["--dry-run"]) == 0


def test_launcher_row_checks_the_profile_launch_against_the_layout_and_the_batch(monkeypatch):
    """The launcher row passes on the profile (one process here; 4 training processes on gpus.train 4-7, batch
    16 = 4 per GPU) and names a launcher whose processes differ from the layout's training GPUs, a batch that
    does not divide, and a layout that puts training on the server's GPU."""
    gc = load_script()
    p = gc.profile_params()
    row = gc.launcher_row(p, cuda=False)
    assert row.status == "ok" and "x 4 on GPUs 4,5,6,7" in row.note and "= 4 per GPU" in row.note, row
    bad = gc.launcher_row(p.replace(gpus=p.gpus.replace(train=[4, 5, 6])), cuda=False)
    assert bad.status == "FAIL" and "starts 4 processes, but gpus.train has 3 GPUs" in bad.problems[0], bad
    bad = gc.launcher_row(p.replace(train=p.train.replace(batch_size=18)), cuda=False)
    assert bad.status == "FAIL" and "train.batch_size = 18" in bad.problems[0], bad
    assert gc.layout_problems(p) == []
    # a guard that let a stage onto the server's GPU 0 would be named
    monkeypatch.setattr("inbol.models.build.check_gpu_layout", lambda index, layout, env=None: index)
    assert gc.layout_problems(p) == ["a stage on GPU 0 (the server's) was not refused"]
