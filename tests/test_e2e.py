"""End to end: the real `dvc repro` of the smoke profile in a temporary git repository."""

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from helpers import run
from inbol.io import read_json, read_jsonl

pytestmark = pytest.mark.e2e


def _lock(repo: Path) -> dict:
    return yaml.safe_load((repo / "dvc.lock").read_text())["stages"]


def _out_hash(repo: Path, stage: str, path: str) -> str:
    return next(o["md5"] for o in _lock(repo)[stage]["outs"] if o["path"] == path)


def _tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode() + p.read_bytes())
    return h.hexdigest()


def test_smoke_repro_produces_every_output(smoke_repo):
    repo, _ = smoke_repo
    for split in ("corpus", "pool", "test", "ood_hard", "ood_phrasing", "ood_choice", "val", "val_ood_choice"):
        records = read_jsonl(repo / "data/world" / f"{split}.jsonl")
        assert records and all((repo / r["image"]).is_file() for r in records[:20])
    assert (repo / "models/base/config.json").is_file()
    assert (repo / "models/base/processor_config.json").is_file() or (
        repo / "models/base/preprocessor_config.json"
    ).is_file()
    base = read_json(repo / "metrics/base_model.json")
    assert base["steps"] == 200 and base["final_loss"] > 0
    assert set(base["heldout"]["accuracy_by_family"]) == {"perception", "emblem", "choice"}
    assert (repo / "dvclive/base_model/plots/metrics/train/loss.tsv").is_file()
    assert read_json(repo / "metrics/world.json")["splits"]["pool"]["n"] == 120
    # confidence estimation: K = 4 samples per question on every split, judged and restructured
    samples = read_jsonl(repo / "data/samples/pool.jsonl")
    assert len(samples) == 120 and all(len(s["responses"]) == 4 for s in samples)
    restructured = read_jsonl(repo / "data/restructured/pool.jsonl")
    assert {r["conf"] for r in restructured} <= {0.0, 0.25, 0.5, 0.75, 1.0}
    conf = read_json(repo / "metrics/confidence.json")
    pool = conf["splits"]["pool"]
    assert pool["known"] + pool["mixed"] + pool["unknown"] == 120
    assert (repo / "plots/confidence_hist.png").is_file()
    # unanswerable questions: generated on pool images, filtered, and the evaluation sets
    kept = read_jsonl(repo / "data/unanswerable/kept.jsonl")
    assert kept and all(
        r["kind"] == "unanswerable" and r["conf"] == 0.0 and any(r["meta"]["criteria"].values()) for r in kept
    )
    unanswerable = read_json(repo / "metrics/unanswerable.json")
    assert unanswerable["filter"]["kept"] == len(kept)
    for name, n in (("uavqa", 10), ("beyond", 10), ("vizwiz", 10)):
        records = read_jsonl(repo / "data/unanswerable/sets" / f"{name}.jsonl")
        assert len(records) == n and all((repo / r["image"]).is_file() for r in records)
    # construction, training, evaluation, report
    construct = read_json(repo / "metrics/construct/s0.json")
    assert construct["seed"] == 0
    for name in ("idk_it", "preference", "sft", "dpo_1", "dpo_2", "dpo_3"):
        assert read_jsonl(repo / "data/constructed/s0" / f"{name}.jsonl"), name
    models = ("sft", "idk_it", "ca_dpo", "dpo_1", "dpo_2", "dpo_3")
    for name in models:
        assert (repo / "models" / name / "s0" / "config.json").is_file(), name
        assert (repo / "models" / name / "s0" / "adapter").is_dir(), name
        assert read_json(repo / "metrics/train" / f"{name}-s0.json")["seed"] == 0, name
    for name in ("base", "refusal_prompt") + tuple(f"{m}-s0" for m in models):
        ev = read_json(repo / "metrics/eval" / f"{name}.json")
        assert ev["model"] == name.split("-s")[0], name
        preds = read_jsonl(repo / "data/predictions" / f"{name}.jsonl")
        assert preds and {p["verdict"] for p in preds} <= {"correct", "refusal", "incorrect"}
    assert read_json(repo / "metrics/params_ok.json") == {"params_schema": 1}
    probe = read_json(repo / "metrics/probe/s0.json")
    assert probe["models"].keys() == {"idk_it", "ca_dpo", "base"} and "question_text" in probe["controls"]
    # the validation sets (every choice is made on them) and the miniature's check of the analogues
    val_manifest = read_json(repo / "data/valsets/manifest.json")
    assert val_manifest["split"] == "val" and {"perception", "uavqa", "ood_phrasing"} <= set(val_manifest["sets"])
    test_images = {
        r["image"]
        for n in read_json(repo / "data/testsets/manifest.json")["sets"]
        for r in read_jsonl(repo / "data/testsets" / f"{n}.jsonl")
    }
    assert not test_images & {
        r["image"] for n in val_manifest["sets"] for r in read_jsonl(repo / "data/valsets" / f"{n}.jsonl")
    }
    mini = read_json(repo / "metrics/miniature.json")
    assert mini["split"] == "validation" and set(mini["calibration"]) == {"0.7", "1"}
    assert (repo / "plots/reliability.png").is_file()
    # the shared reference, Table 5 (selective prediction) and the report
    assert read_json(repo / "metrics/train/reference-s0.json")["sequences"] > 0
    assert read_json(repo / "metrics/train/ca_dpo-s0.json")["shared_reference"] is True
    selective = read_json(repo / "metrics/selective.json")
    assert "Original + self-consistency" in selective["rows"] and selective["costs"] == [1, 10, 100]
    tables = (repo / "metrics/tables.md").read_text()
    for title in ("Table 1", "Table 4", "Table 5", "The miniature", "trends on our numbers"):
        assert title in tables, title
    assert (repo / "metrics/seeds.csv").is_file()
    # the smoke run trains and evaluates every model the paper's trend checks compare: each check is made in
    # both scopes, and the verdict counts add up
    trends = read_json(repo / "metrics/trends.json")
    verdicts = [c["verdict"] for scope in ("in_domain", "ood") for c in trends[scope].values()]
    assert verdicts and "not checked" not in verdicts and trends["n_checked"] == len(verdicts)
    assert trends["n_hold"] + trends["n_do_not_hold"] + trends["n_inconclusive"] == trends["n_checked"]
    assert (repo / "plots/figure4.png").is_file() and (repo / "plots/figure4_refusal.csv").is_file()


def test_smoke_repro_leaves_a_clean_status(smoke_repo):
    repo, _ = smoke_repo
    status = run(["dvc", "status"], repo).stdout
    assert "up to date" in status, status
    again = run(["dvc", "repro"], repo).stdout
    assert "didn't change" in again and "Running stage" not in again


def test_world_stage_is_deterministic_across_repositories(smoke_repo, smoke_repo_again):
    repo, _ = smoke_repo
    other, proc = smoke_repo_again  # a second clean run in its own fresh repository (see conftest.py)
    assert "Running stage 'world'" in proc.stdout
    assert _out_hash(other, "world", "data/world") == _out_hash(repo, "world", "data/world")


def test_bad_param_fails_before_work_and_keeps_outputs(smoke_repo, tmp_path):
    repo, _ = smoke_repo
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy, symlinks=True)
    before = _tree_digest(copy / "data/world")
    params = yaml.safe_load((copy / "params.yaml").read_text())
    params["world"]["sizes"]["pool"] = 0
    (copy / "params.yaml").write_text(yaml.safe_dump(params))
    proc = run(["dvc", "repro", "world"], copy, check=False)
    assert proc.returncode != 0
    assert "error: world.sizes.pool = 0: must be an integer >= 1" in proc.stderr + proc.stdout
    assert "Running stage 'world'" not in proc.stdout  # check_params stopped the run first
    assert _tree_digest(copy / "data/world") == before


def test_a_misspelt_param_of_an_experiment_fails_with_one_line(smoke_repo, tmp_path):
    """A misspelt key must never run the wrong experiment. DVC itself refuses `-S idk_it.known_raito=0.5`
    (the key is not in params.yaml); `-S +idk_it.known_raito=0.5` appends it, and then only check_params
    stands between the typo and a run that ignores it: it fails naming the key and the allowed keys."""
    repo, _ = smoke_repo
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy, symlinks=True)
    run(["git", "add", "-A"], copy)
    run(["git", "commit", "-q", "--allow-empty", "-m", "smoke results"], copy)
    before = _tree_digest(copy / "data/constructed")
    proc = run(["dvc", "exp", "run", "-S", "idk_it.known_raito=0.5"], copy, check=False)
    assert proc.returncode != 0 and "known_raito" in proc.stderr + proc.stdout
    proc = run(["dvc", "exp", "run", "-S", "+idk_it.known_raito=0.5"], copy, check=False)
    assert proc.returncode != 0
    assert (
        "error: idk_it.known_raito = 0.5: unknown key; allowed: known_ratio, size, unknown_extrinsic_share"
        in proc.stderr + proc.stdout
    )
    assert _tree_digest(copy / "data/constructed") == before


# the threshold change (`dvc exp run -S delta_k=...`) is tested in test_e2e_sweep.py


def test_world_targets_script_reads_the_runs_metrics(smoke_repo):
    """scripts/world_targets.py (the world/base targets of several runs side by side) prints one row per
    figure with the run's own values, and marks a missed target."""
    repo, _ = smoke_repo
    python = ".venv/bin/python" if (repo / ".venv").exists() else "python"
    out = run([python, "scripts/world_targets.py", ".", "."], repo).stdout
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[1:] for line in out.splitlines()[2:]}
    pool = read_json(repo / "metrics/confidence.json")["splits"]["pool"]
    known = rows["pool known (>= 15%)"]
    assert known[0] == known[1].rstrip(" |") and float(known[0].split()[0]) == pytest.approx(
        100 * pool["known_share"], abs=0.05
    )
    assert ("**missed**" in known[0]) == (100 * pool["known_share"] < 15)
    mini = read_json(repo / "metrics/miniature.json")["targets"]
    assert sum(k.split(":")[0] in mini for k in rows) == sum(len(t) for t in mini.values())


def test_boundary_buckets_script_agrees_with_the_confidence_stage(smoke_repo):
    """scripts/boundary_buckets.py (a quick check of a base model) samples and buckets exactly as the
    sample -> judge -> restructure stages do: same shares on the smoke pool (its K, temperature, length and
    thresholds default to params.yaml's)."""
    repo, _ = smoke_repo
    python = ".venv/bin/python" if (repo / ".venv").exists() else "python"
    out = run([python, "scripts/boundary_buckets.py"], repo).stdout
    rows = {
        line.split()[0]: line.split()[1:]
        for line in out.splitlines()
        if line.split() and line.split()[0] in ("all", "perception", "emblem", "choice")
    }
    pool = read_json(repo / "metrics/confidence.json")["splits"]["pool"]
    assert int(rows["all"][0]) == pool["n"]
    for i, bucket in enumerate(("known", "mixed", "unknown")):
        assert float(rows["all"][1 + i].rstrip("%")) == pytest.approx(100 * pool[bucket] / pool["n"], abs=0.051)
    for fam, vals in rows.items():
        if fam != "all":
            assert int(vals[0]) == pool["families"][fam]["n"]
            assert float(vals[1].rstrip("%")) == pytest.approx(100 * pool["families"][fam]["known_share"], abs=0.06)
