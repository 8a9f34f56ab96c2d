"""Parameter profiles (configs/*.yaml, inbol.profiles): overlays on params.yaml that compose into complete
parameter sets the stages accept, so that they cannot rot.  Every profile composes and validates strictly
through inbol.params; an overlay may only set keys its base has; `python -m inbol.profiles` writes a params
file that load_params accepts, with the base's comments; the paper-scale values of the 7B/13B profiles."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from helpers import ROOT, default_dict
from inbol.errors import DataError, ParamError
from inbol.params import Params, load_params, read_yaml, validate
from inbol.profiles import apply, chain, compose, copy_project, load_profile, project_files, repro_in_copy

PROFILES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "configs").glob("*.yaml"))
PAPER = ["configs/llava-1.5-7b.yaml", "configs/llava-1.5-13b.yaml"]


def leaves(node, prefix=""):
    """{dotted key: value} of every non-mapping value."""
    out = {}
    if isinstance(node, dict):
        for k, v in node.items():
            out.update(leaves(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def key_paths(node, prefix=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield f"{prefix}{k}"
            yield from key_paths(v, f"{prefix}{k}.")


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "inbol.profiles", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def overlay(tmp_path: Path, text: str, name: str = "bad.yaml") -> Path:
    """A profile in tmp_path on the project's params.yaml."""
    path = tmp_path / name
    path.write_text(f"_base: {ROOT / 'params.yaml'}\n{text}")
    return path


def test_the_profiles_are_there():
    assert PROFILES == [
        "configs/llava-1.5-13b.yaml",
        "configs/llava-1.5-7b.yaml",
        "configs/paper-hparams.yaml",
        "configs/pretrain-1.yaml",
        "configs/pretrain-2.yaml",
        "configs/smoke.yaml",
        "configs/world-1.yaml",
    ]
    assert [p.name for p in chain(ROOT / "configs/llava-1.5-13b.yaml")] == [
        "params.yaml",
        "llava-1.5-7b.yaml",
        "llava-1.5-13b.yaml",
    ]
    for name in ("smoke.yaml", "llava-1.5-7b.yaml"):
        assert [p.resolve() for p in chain(ROOT / "configs" / name)] == [ROOT / "params.yaml", ROOT / "configs" / name]


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_composes_and_validates_strictly(profile):
    composed = compose(ROOT / profile)
    params = load_profile(ROOT / profile)
    assert isinstance(params, Params) and params == validate(Params, composed)
    assert "_base" not in composed
    # complete: every key of params.yaml, and new keys only where the base has null (world.datasets)
    base_keys, keys = set(key_paths(default_dict())), set(key_paths(composed))
    assert base_keys <= keys, f"{profile} lacks {sorted(base_keys - keys)[:5]}"
    assert all(k.startswith("world.datasets.") for k in keys - base_keys), sorted(keys - base_keys)[:5]
    # what the overlay itself sets is what the composition holds
    own = read_yaml(ROOT / profile)
    own.pop("_base")
    got = leaves(composed)
    for key, value in leaves(own).items():
        assert got[key] == value, key


def test_the_smoke_profile_is_a_small_complete_run():
    p, default = load_profile(ROOT / "configs/smoke.yaml"), load_params(ROOT / "params.yaml")
    assert (p.delta_k, p.delta_uk) == (0.75, 0.25) and p.world.source == "synthetic"
    assert p.world.sizes.corpus == 200 and p.base_model.source == "scratch" and p.sampling.k == 4
    assert p.sweep.thresholds.delta_k == p.delta_k and p.sweep.thresholds.delta_uk == p.delta_uk
    # what the overlay does not set is the default's
    assert p.lora == default.lora and p.dpo == default.dpo and p.models == default.models
    assert p.world.difficulty == default.world.difficulty


@pytest.mark.parametrize("profile", PAPER)
def test_paper_profiles_have_the_papers_settings(profile):
    p = load_profile(ROOT / profile)
    world, base, sampling = p.world, p.base_model, p.sampling
    size = "13b" if "13b" in profile else "7b"
    assert world.source == "datasets" and base.source == f"llava-hf/llava-1.5-{size}-hf"
    assert sampling.backend == "openai" and sampling.k == 10 and sampling.openai.model == base.source
    assert p.judge.backend == "openai"
    assert p.unanswerable.generate.backend == "openai" and p.unanswerable.filter.backend == "openai"
    assert (p.lora.r, p.lora.alpha, p.train.lr, p.train.batch_size, p.train.epochs) == (16, 32, 2e-4, 16, 1)
    assert (p.delta_k, p.delta_uk, p.idk_it.size, p.idk_it.known_ratio, p.preference.ratio) == (
        0.8,
        0.2,
        11000,
        0.75,
        [1, 1, 2],
    )
    assert p.testsets.n_per_family == 300 and p.testsets.n_unanswerable == 100
    assert base.dtype == "bfloat16" and p.evaluate.dtype == "bfloat16"
    assert p.prompt.system.startswith("A chat between a curious user and an artificial intelligence assistant.")
    loaders = {s.loader for specs in world.datasets.sources().values() for s in specs}
    assert loaders == {
        "vqav2",
        "oven",
        "scienceqa",
        "aokvqa",
        "gqa",
        "mmbench",
        "mmmu",
        "beyondvisqa",
        "vizwiz",
        "vqav2_idk",
        "records",
    }


def test_the_13b_profile_differs_from_7b_only_in_its_checkpoint():
    own = read_yaml(ROOT / "configs/llava-1.5-13b.yaml")
    assert own == {
        "_base": "llava-1.5-7b.yaml",
        "base_model": {"source": "llava-hf/llava-1.5-13b-hf"},
        "sampling": {"openai": {"model": "llava-hf/llava-1.5-13b-hf"}},
    }
    a, b = leaves(compose(ROOT / "configs/llava-1.5-7b.yaml")), leaves(compose(ROOT / "configs/llava-1.5-13b.yaml"))
    assert set(a) == set(b)
    assert {k: (a[k], b[k]) for k in a if a[k] != b[k]} == {
        "base_model.source": ("llava-hf/llava-1.5-7b-hf", "llava-hf/llava-1.5-13b-hf"),
        "sampling.openai.model": ("llava-hf/llava-1.5-7b-hf", "llava-hf/llava-1.5-13b-hf"),
    }


@pytest.mark.parametrize(
    "text, where, allowed",
    [
        (
            "idk_it:\n  known_raito: 0.5\n",
            "idk_it.known_raito = 0.5: not a key of its base (did you mean idk_it.known_ratio?)",
            "size, known_ratio",
        ),
        (
            "smapling:\n  k: 3\n",
            "smapling = {'k': 3}: not a key of its base (did you mean sampling?)",
            "delta_k, delta_uk, seeds, world",
        ),
        (
            "world:\n  sizes:\n    tset: 5\n",
            "world.sizes.tset = 5: not a key of its base (did you mean world.sizes.test?)",
            "corpus, pool, test, ood_hard, ood_phrasing, ood_choice",
        ),
        ("zzz: 1\n", "zzz = 1: not a key of its base", "delta_k, delta_uk, seeds, world"),
    ],
)
def test_an_overlay_key_its_base_lacks_is_a_one_line_error(tmp_path, text, where, allowed):
    path = overlay(tmp_path, text)
    with pytest.raises(ParamError) as e:
        compose(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}: {where}; allowed: {allowed}") and "\n" not in msg
    with pytest.raises(ParamError):
        load_profile(path)
    out = tmp_path / "out.yaml"
    with pytest.raises(ParamError):
        apply(path, out)
    assert not out.exists()  # nothing written


def test_an_overlay_on_a_profile_is_checked_against_the_composed_base(tmp_path):
    # world.datasets is a mapping in the 7B profile: an overlay on it may only set that mapping's keys
    path = tmp_path / "mine.yaml"
    path.write_text(f"_base: {ROOT / 'configs/llava-1.5-7b.yaml'}\nworld:\n  datasets:\n    max_bad_fraction: 0.1\n")
    with pytest.raises(
        ParamError,
        match=r"^.*mine.yaml: world.datasets.max_bad_fraction = 0.1: not a key of its base \(did you mean "
        r"world.datasets.max_bad_image_fraction\?\); allowed: max_bad_image_fraction, verify_images, pool, test",
    ):
        compose(path)
    path.write_text(f"_base: {ROOT / 'configs/llava-1.5-7b.yaml'}\nworld:\n  datasets:\n    verify_images: false\n")
    assert load_profile(path).world.datasets.verify_images is False


@pytest.mark.parametrize(
    "text, message",
    [
        ("sampling:\n  k: 0\n", "sampling.k = 0: must be an integer >= 1"),
        ("train:\n  lr: '0.1'\n", "train.lr = '0.1': must be a number"),
        ("delta_uk: 0.9\n", "delta_uk = 0.9: must be < delta_k (0.8)"),
        (
            "world:\n  source: datasets\n",
            "world.datasets = None: must list the dataset sources when world.source = 'datasets'",
        ),
    ],
)
def test_a_composed_profile_is_validated_strictly(tmp_path, text, message):
    path = overlay(tmp_path, text)
    compose(path)  # the keys exist: composing works
    with pytest.raises(ParamError) as e:
        load_profile(path)
    assert str(e.value).endswith(message) and "\n" not in str(e.value)


def test_a_composed_profile_names_every_problem_with_the_profile(tmp_path):
    path = overlay(tmp_path, "sampling:\n  k: 0\ntrain:\n  lr: '0.1'\n")
    with pytest.raises(ParamError) as e:
        load_profile(path)
    assert str(e.value).split("\n") == [
        f"{path}: sampling.k = 0: must be an integer >= 1",
        f"{path}: train.lr = '0.1': must be a number",
    ]
    proc = cli(str(path), "--check", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.splitlines() == [f"error: {ln}" for ln in str(e.value).split("\n")]


def test_composition_leaves_every_value_as_yaml_reads_it(tmp_path):
    # no interpolation of ${...}, and a value no schema field takes (a date) reaches the schema's one-line error
    path = overlay(tmp_path, "prompt:\n  system: ${not.a.key}\nidk_it:\n  size: 2024-01-01\n")
    composed = compose(path)
    assert composed["prompt"]["system"] == "${not.a.key}" and str(composed["idk_it"]["size"]) == "2024-01-01"
    with pytest.raises(ParamError) as e:
        load_profile(path)
    assert str(e.value) == f"{path}: idk_it.size = datetime.date(2024, 1, 1): must be an integer"


def test_base_chain_errors(tmp_path):
    (tmp_path / "a.yaml").write_text("_base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("_base: a.yaml\n")
    with pytest.raises(ParamError, match=r"_base chain loops back to itself"):
        compose(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text("_base: [params.yaml]\n")
    with pytest.raises(ParamError, match=r"c.yaml: _base = \['params.yaml'\]: must be a path relative to"):
        compose(tmp_path / "c.yaml")
    (tmp_path / "d.yaml").write_text("_base: missing.yaml\n")
    with pytest.raises(ParamError, match=r"missing.yaml: file not found"):
        compose(tmp_path / "d.yaml")


@pytest.mark.parametrize("profile", PROFILES)
def test_apply_writes_what_load_params_accepts(tmp_path, profile):
    out = tmp_path / "params.yaml"
    assert apply(ROOT / profile, out) == load_profile(ROOT / profile)
    assert load_params(out) == load_profile(ROOT / profile)
    assert yaml.safe_load(out.read_text()) == compose(ROOT / profile)


def test_the_cli_writes_a_params_file_with_the_bases_comments(tmp_path):
    out = tmp_path / "out.yaml"
    proc = cli("configs/smoke.yaml", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert load_params(out) == load_profile(ROOT / "configs/smoke.yaml")
    text = out.read_text()
    assert text.startswith("# Composed by `python -m inbol.profiles configs/smoke.yaml` from: ")
    base_comments = [
        line.strip() for line in (ROOT / "params.yaml").read_text().splitlines() if line.strip().startswith("#")
    ]
    assert len(base_comments) > 10
    assert all(c in text for c in base_comments), [c for c in base_comments if c not in text][:3]
    assert "# Smoke profile" not in text  # the overlay's own notes are not the base's
    assert "\ndelta_k: 0.75\n" in text and "\n_base:" not in text


def test_the_cli_check_only_validates(tmp_path):
    before = (ROOT / "params.yaml").read_bytes()
    for profile in PROFILES:
        proc = cli(profile, "--check")
        assert proc.returncode == 0 and proc.stdout.strip() == f"{profile}: ok", proc.stderr
    assert (ROOT / "params.yaml").read_bytes() == before
    bad = overlay(tmp_path, "idk_it:\n  known_raito: 0.5\n")
    proc = cli(str(bad), "--check", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert (
        proc.stderr.strip() == f"error: {bad}: idk_it.known_raito = 0.5: not a key of its base (did you mean "
        f"idk_it.known_ratio?); allowed: size, known_ratio, unknown_extrinsic_share"
    )
    assert not (tmp_path / "params.yaml").exists()
    proc = cli(str(bad), cwd=tmp_path)  # applying a bad profile writes nothing
    assert proc.returncode == 2 and not (tmp_path / "params.yaml").exists()


def test_the_accelerate_configs_are_referenced_and_parse():
    shipped = sorted(p.name for p in (ROOT / "configs" / "accelerate").glob("*.yaml"))
    assert shipped == ["multi_gpu.yaml", "single.yaml"]  # each exercised by a test (tests/test_training.py)
    # the paper-scale launcher runs one process per GPU that the 7B profile's layout gives to training
    train_gpus = len(compose(ROOT / "configs" / "llava-1.5-7b.yaml")["gpus"]["train"])
    for name, procs, precision in (("multi_gpu.yaml", train_gpus, "bf16"), ("single.yaml", 1, "no")):
        cfg = yaml.safe_load((ROOT / "configs" / "accelerate" / name).read_text())
        assert cfg["mixed_precision"] == precision and cfg["num_machines"] == 1 and cfg["num_processes"] == procs
    # the 7B profile says how to train at scale; the 13B profile is an overlay on it
    assert "configs/accelerate/multi_gpu.yaml" in (ROOT / "configs/llava-1.5-7b.yaml").read_text()
    assert read_yaml(ROOT / "configs/llava-1.5-13b.yaml")["_base"] == "llava-1.5-7b.yaml"
    assert "configs/accelerate/multi_gpu.yaml" in (ROOT / "docs" / "gpu.md").read_text()


def test_the_paper_hparams_profile_changes_only_the_training_knobs():
    """configs/paper-hparams.yaml: the paper's LoRA-only, 2e-4, one-epoch training (and T = 1.0, beta 0.1) on
    the embedded default, everything else as params.yaml."""
    base, paper = load_params(ROOT / "params.yaml"), load_profile(ROOT / "configs/paper-hparams.yaml")
    assert (paper.train.lr, paper.train.epochs, paper.lora.modules_to_save) == (2e-4, 1, [])
    assert (paper.dpo.lr, paper.dpo.beta, paper.sampling.temperature) == (2e-4, 0.1, 1.0)
    assert paper.world == base.world and paper.testsets == base.testsets and paper.seeds == base.seeds


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True, capture_output=True
    )


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``root`` (git's own included): its bytes and mtime."""
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def source_repo(tmp_path):
    """A small git checkout with the project's params.yaml and smoke profile, results, ignored and new files."""
    src = tmp_path / "src"
    (src / "configs").mkdir(parents=True)
    (src / "metrics").mkdir()
    (src / "stages").mkdir()
    (src / "params.yaml").write_bytes((ROOT / "params.yaml").read_bytes())
    (src / "configs" / "smoke.yaml").write_bytes((ROOT / "configs" / "smoke.yaml").read_bytes())
    (src / "metrics" / "summary.json").write_text('{"acc": 1}')
    (src / "stages" / "gone.py").write_text("")
    (src / ".gitignore").write_text("/data/\n*.log\n")
    _git(src, "init", "-q")
    _git(src, "add", "-A")
    _git(src, "commit", "-q", "-m", "x")
    (src / "stages" / "gone.py").unlink()  # deleted in the checkout: not copied
    (src / "stages" / "new.py").write_text("")  # new, not ignored: copied
    (src / "data").mkdir()
    (src / "data" / "big.bin").write_bytes(b"0" * 100)  # ignored outputs: not copied
    (src / "run.log").write_text("")
    return src


def test_copy_project_copies_what_a_clone_has_and_applies_the_profile_to_the_copy_only(source_repo, tmp_path):
    src = source_repo
    expected = [".gitignore", "configs/smoke.yaml", "metrics/summary.json", "params.yaml", "stages/new.py"]
    assert project_files(src) == expected
    before = _snapshot(src)
    dest = copy_project(src, tmp_path / "copy", "configs/smoke.yaml")
    assert _snapshot(src) == before  # the checkout: not one byte or mtime changed
    copied = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file() and ".git" not in p.parts)
    assert copied == expected
    assert load_params(dest / "params.yaml") == load_profile(ROOT / "configs/smoke.yaml")
    assert (dest / "metrics/summary.json").read_bytes() == (src / "metrics/summary.json").read_bytes()
    # the copy is a git repository of its own whose one commit is the project as copied (the profile on top)
    status = subprocess.run(["git", "status", "--porcelain"], cwd=dest, capture_output=True, text=True, check=True)
    assert status.stdout.split() == ["M", "params.yaml"]


def test_repro_in_copy_runs_the_command_in_the_copy_and_leaves_the_checkout_as_it_was(source_repo, tmp_path):
    src = source_repo
    before = _snapshot(src)
    write = "import os, pathlib, yaml; d = yaml.safe_load(open('params.yaml'))['delta_k']; "
    write += "pathlib.Path('metrics/summary.json').write_text(f\"{d} {os.environ['PYTHONPATH'].split(os.pathsep)[0]}\")"
    dest = repro_in_copy("configs/smoke.yaml", src, tmp_path / "run", [sys.executable, "-c", write])
    assert _snapshot(src) == before
    # the run saw the profile's params and the copy's own code
    assert (dest / "metrics/summary.json").read_text() == f"0.75 {dest.resolve() / 'src'}"
    with pytest.raises(SystemExit) as e:  # a failing run exits with its code
        repro_in_copy("configs/smoke.yaml", src, tmp_path / "fail", [sys.executable, "-c", "raise SystemExit(5)"])
    assert e.value.code == 5 and _snapshot(src) == before


def test_main_passes_targets_to_dvc_repro_in_the_copy_and_refuses_them_alone(monkeypatch, tmp_path):
    import inbol.profiles as profiles

    seen = {}
    monkeypatch.setattr(profiles, "repro_in_copy", lambda p, root, d, command=None: seen.update(c=command) or tmp_path)
    profiles.main(["configs/world-1.yaml", "--repro-in-copy", "--dir", str(tmp_path), "--targets", "report", "probe"])
    assert seen["c"][-4:] == ["dvc", "repro", "report", "probe"]
    profiles.main(["configs/world-1.yaml", "--repro-in-copy", "--dir", str(tmp_path)])
    assert seen["c"] is None  # the default: the whole `dvc repro`
    with pytest.raises(ParamError, match="--targets: only with --repro-in-copy"):
        profiles.main(["configs/world-1.yaml", "--targets", "report"])


def test_copy_project_refuses_a_bad_profile_or_folder_before_copying(source_repo, tmp_path, monkeypatch):
    src = source_repo
    (src / "configs" / "bad.yaml").write_text("_base: ../params.yaml\nsampling:\n  k: 0\n")
    with pytest.raises(ParamError, match=r"sampling\.k = 0: must be an integer >= 1"):
        copy_project(src, tmp_path / "c1", "configs/bad.yaml")
    assert not (tmp_path / "c1").exists()
    with pytest.raises(ParamError, match="profile not found"):
        copy_project(src, tmp_path / "c2", "configs/none.yaml")
    with pytest.raises(ParamError, match="must be inside the repository"):
        copy_project(src, tmp_path / "c2", ROOT / "configs/smoke.yaml")
    with pytest.raises(DataError, match="must be outside the repository"):
        copy_project(src, src / "data" / "copy", "configs/smoke.yaml")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with pytest.raises(DataError, match="must be an empty or new folder"):
        copy_project(src, tmp_path / "full", "configs/smoke.yaml")
    with pytest.raises(DataError, match="not a git checkout"):
        project_files(tmp_path / "full")
    # the default temporary copy of a bad profile is removed again
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    with pytest.raises(ParamError):
        repro_in_copy("configs/bad.yaml", src)
    assert list(temp.iterdir()) == []


def test_make_smoke_runs_the_profile_in_a_copy():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nsmoke:", 1)[1].split("\n\n", 1)[0]
    assert "-m inbol.profiles configs/smoke.yaml --repro-in-copy" in recipe
