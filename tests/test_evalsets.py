"""The evaluation-set registry (inbol.evalsets): what derives from it, a set registered in one place reaching
the world, the test and validation sets, the miniature's targets and the tables, and its one-line errors."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import params, section, world_cfg
from inbol import evalsets, summary
from inbol.errors import ParamError
from inbol.evalsets import RegistryError, spec
from inbol.evaluation import tables
from inbol.evaluation.evaluate import make_testset
from inbol.evaluation.testsets import build_testsets
from inbol.io import read_json, read_jsonl, write_jsonl
from inbol.miniature import check_targets
from inbol.world import build
from inbol.world.build import build_world

SIZES = {
    "corpus": 12,
    "pool": 6,
    "test": 30,
    "ood_hard": 4,
    "ood_phrasing": 4,
    "ood_choice": 4,
    "val": 24,
    "val_ood": 3,
}


def _fields(**changes) -> dict:
    """The fields of a new out-of-domain set the synthetic world generates (a test-only set)."""
    return {
        "name": "ood_rotated",
        "group": "ood",
        "answerable": True,
        "paper": "RotVQA",
        "paper_key": None,
        "label": "RotVQA-like",
        "note": "a test-only set",
        "source": {
            "source": "world",
            "generator": "rotated",
            "size": "ood_hard",
            "val_size": "val_ood",
            "stream": 12,
            "val_stream": 13,
        },
        "release": (),
        "validation": True,
        "calibration": {
            "greedy_acc": None,
            "greedy_acc_min": 0.25,
            "known_share_min": None,
            "refusal_prompt_max_drop": None,
            "paper_acc": None,
            "paper_refusal_prompt_acc": None,
        },
        **changes,
    }


@pytest.fixture
def registered(monkeypatch):
    """A new set: one spec, and its question generator (here the AOKVQA-like one's, on its own stream)."""
    monkeypatch.setitem(evalsets.SETS, "ood_rotated", spec(**_fields()))
    monkeypatch.setitem(build.GENERATORS, "rotated", build.GENERATORS["ood_phrasing"])
    return evalsets.SETS["ood_rotated"]


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.jsonl"))}


def test_the_default_registry_gives_the_world_splits_sets_and_families():
    from inbol.datasets.build import VALIDATION
    from inbol.schema.world import FAMILIES, UNANSWERABLE_SETS, WORLD_SPLITS, DatasetsConfig

    assert list(evalsets.SETS) == [
        "perception", "emblem", "choice", "uavqa", "ood_phrasing", "ood_hard", "ood_choice", "beyond", "vizwiz",
        "vqav2_idk",
    ]  # fmt: skip
    assert FAMILIES == ("perception", "emblem", "choice")
    assert WORLD_SPLITS == (
        "pool", "test", "ood_phrasing", "ood_hard", "ood_choice", "val", "val_ood_phrasing", "val_ood_hard",
        "val_ood_choice",
    )  # fmt: skip
    assert UNANSWERABLE_SETS == ("uavqa", "beyond", "vizwiz", "vqav2_idk", "uavqa_val")
    assert VALIDATION == ("val", "val_ood_phrasing", "val_ood_hard", "val_ood_choice", "uavqa_val")
    assert set(DatasetsConfig.model_fields) == {
        *WORLD_SPLITS,
        *UNANSWERABLE_SETS,
        "max_bad_image_fraction",
        "verify_images",
    }
    # the world writes its splits in stream order (the order its scenes file lists them)
    assert list(build.split_specs()) == [
        "pool", "test", "ood_hard", "ood_phrasing", "ood_choice", "val", "val_ood_hard", "val_ood_phrasing",
        "val_ood_choice",
    ]  # fmt: skip
    assert evalsets.order_sets(["vizwiz", "mine", "perception", "beyond"]) == ["perception", "beyond", "vizwiz", "mine"]


def test_every_paper_profile_source_uses_the_release_loaders_of_its_set():
    import yaml

    datasets = yaml.safe_load(Path("configs/llava-1.5-7b.yaml").read_text())["world"]["datasets"]
    for s in evalsets.SETS.values():
        for split in s.splits():
            for source in datasets.get(s.file(split), []) if not isinstance(s.source, evalsets.Candidates) else []:
                assert source["loader"] in s.release, (s.name, split, source["loader"])


def _inputs(root: Path) -> None:
    """What the testsets stage reads besides the world: the base model's conf on the world's splits and the
    unanswerable sets (here a few of the test/validation images asked about)."""
    rng = np.random.default_rng(0)
    for split in evalsets.world_files():
        recs = read_jsonl(root / f"world/{split}.jsonl")
        write_jsonl(
            root / f"restructured/{split}.jsonl", [{"id": r["id"], "conf": rng.integers(0, 5) / 4} for r in recs]
        )
    for name, split in (("uavqa", "test"), ("uavqa_val", "val"), ("beyond", "ood_hard"), ("vizwiz", "test")):
        recs = read_jsonl(root / f"world/{split}.jsonl")[:3]
        rows = [{**r, "id": f"{name}-{i}", "answers": [], "kind": "unanswerable"} for i, r in enumerate(recs)]
        write_jsonl(root / f"unanswerable/{name}.jsonl", rows)


def test_a_registered_set_reaches_the_world_the_testsets_the_targets_and_the_tables(tmp_path, monkeypatch):
    cfg = world_cfg(sizes=SIZES, n_emblems=6, emblem_max_exposure=4)
    build_world(cfg, tmp_path / "default/world", image_prefix="data/world")
    monkeypatch.setitem(evalsets.SETS, "ood_rotated", spec(**_fields()))
    monkeypatch.setitem(build.GENERATORS, "rotated", build.GENERATORS["ood_phrasing"])
    root = tmp_path / "new"
    build_world(cfg, root / "world", image_prefix="data/world")
    # the world: the new split and its validation twin; every default split byte for byte as before
    assert len(read_jsonl(root / "world/ood_rotated.jsonl")) == SIZES["ood_hard"]
    assert len(read_jsonl(root / "world/val_ood_rotated.jsonl")) == SIZES["val_ood"]
    new, old = _digests(root / "world"), _digests(tmp_path / "default/world")
    assert set(new) - set(old) == {"ood_rotated.jsonl", "val_ood_rotated.jsonl"}
    assert {k: new[k] for k in old if k != "scenes.jsonl"} == {k: v for k, v in old.items() if k != "scenes.jsonl"}
    scenes = (root / "world/scenes.jsonl").read_text()
    assert scenes.startswith((tmp_path / "default/world/scenes.jsonl").read_text())  # the new scenes come last
    assert "ood_rotated" in read_json(root / "world/stats.json")["splits"]
    # params may name it; the sets: in the test and the validation sets, last of the out-of-domain ones
    assert params(sampling={"splits": ["pool", "ood_rotated"]}).sampling.splits == ["pool", "ood_rotated"]
    _inputs(root)
    ts = section("testsets", n_per_family=4, n_unanswerable=2, val_per_family=3, val_unanswerable=2)
    built = {}
    for split in ("test", "val"):
        sets, manifest = built[split] = build_testsets(
            ts, root / "world", root / "restructured", root / "unanswerable", split
        )
        ood = [n for n in sets if manifest["sets"][n]["group"] == "ood"]  # the registry's order within the group
        assert ood == [
            "ood_phrasing",
            "ood_hard",
            "ood_choice",
            *(["beyond"] if split == "test" else []),
            "ood_rotated",
        ]
        assert manifest["sets"]["ood_rotated"] | {"n_conf": 0, "conf_mean": 0} == {
            "group": "ood",
            "answerable": True,
            "paper": "RotVQA",
            "n": SIZES["ood_hard" if split == "test" else "val_ood"],
            "n_conf": 0,
            "conf_mean": 0,
        }
    # the miniature's targets on its validation twin
    targets, warnings = check_targets({"ood_rotated": {"greedy_acc": 0.2}}, {"ood_rotated": "ood"})
    assert targets == {"ood_rotated": {"greedy_acc": {"value": 0.2, "target": ">= 0.25", "met": False}}}
    assert warnings == ["ood_rotated: greedy_acc = 0.2 misses its target >= 0.25"]
    # the tables: Table 2 has its columns and names it in the caption; docs/results.md's table too
    testsets = {n: make_testset(n, recs) for n, recs in built["test"][0].items()}
    preds = [
        {"id": r["id"], "set": n, "response": "x", "verdict": "correct" if t.answerable else "refusal"}
        for n, t in testsets.items()
        for r in t.records
    ]
    runs = tables.Runs("base", testsets, [preds], [None])
    cis = {"base": tables.model_cis(runs, testsets, n_boot=20, level=0.95, seed=0)}
    md = "\n".join(tables.table2(cis, testsets))
    header = next(line for line in md.splitlines() if line.startswith("| Method |"))
    assert "| MMBench/MMMU~ S_trust | RotVQA~ Acc | RotVQA~ RefR | RotVQA~ S_trust | BeyondVisQA~ RefR |" in header
    assert "ood_rotated ~ RotVQA (a test-only set)" in md
    assert "| RotVQA-like Acc | RotVQA-like S_trust |" in "\n".join(summary.table2({"cells": cis}))


def test_the_default_world_is_unchanged_once_the_extra_set_is_gone(tmp_path, registered, monkeypatch):
    cfg = world_cfg(sizes=SIZES, n_emblems=6, emblem_max_exposure=4)
    build_world(cfg, tmp_path / "with", image_prefix="w")
    monkeypatch.delitem(evalsets.SETS, "ood_rotated")
    build_world(cfg, tmp_path / "without", image_prefix="w")
    assert "ood_rotated.jsonl" not in _digests(tmp_path / "without")
    assert set(_digests(tmp_path / "with")) - set(_digests(tmp_path / "without")) == {
        "ood_rotated.jsonl",
        "val_ood_rotated.jsonl",
    }


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            {"paper": None},
            "evaluation set 'ood_rotated': paper: Input should be a valid string (a spec's fields: name, group, ",
        ),
        ({"group": "middle"}, "evaluation set 'ood_rotated': group: Input should be 'in_domain', 'ood' or 'extra' ("),
        ({"answerable": "yes"}, "evaluation set 'ood_rotated': answerable: Input should be a valid boolean ("),
        ({"colour": "red"}, "evaluation set 'ood_rotated': colour: Extra inputs are not permitted ("),
        ({"validation": False}, "evaluation set 'ood_rotated': spec: Value error, a world split with a validation "),
    ],
)
def test_a_bad_spec_is_a_one_line_error_naming_the_field(changes, message):
    with pytest.raises(RegistryError) as e:
        spec(**_fields(**changes))
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_a_spec_missing_a_field_names_it_and_the_fields():
    fields = _fields()
    del fields["calibration"]
    with pytest.raises(RegistryError) as e:
        spec(**fields)
    assert str(e.value) == (
        "evaluation set 'ood_rotated': calibration: Field required (a spec's fields: name, group, answerable, "
        "paper, paper_key, label, note, source, release, validation, calibration)"
    )


def test_registry_clashes_and_unknown_names_are_one_line_errors(monkeypatch, registered, tmp_path):
    with pytest.raises(RegistryError, match=r"^unknown evaluation set 'nope'; known: perception, emblem, choice, "):
        evalsets.get("nope")
    clash = spec(**_fields(name="ood_other", source={**_fields()["source"], "stream": 7}))
    with pytest.raises(RegistryError) as e:
        evalsets.check_registry({**evalsets.SETS, "ood_other": clash})
    assert str(e.value) == "evaluation sets 'ood_choice' and 'ood_other' share the world stream 7"
    # a split the registry does not know, named in params: one line listing the world's splits
    with pytest.raises(ParamError) as e:
        params(sampling={"splits": ["pool", "ood_rotatd"]})
    assert str(e.value) == (
        "sampling.splits[1] = 'ood_rotatd': is not a question split of the world; allowed: pool, test, ood_phrasing, "
        "ood_hard, ood_choice, ood_rotated, val, val_ood_phrasing, val_ood_hard, val_ood_choice, val_ood_rotated"
    )
    with pytest.raises(ParamError) as e:
        params(world={"source": "datasets", "datasets": {"pool": [], "test": [], "ood_rotatd": []}})
    assert str(e.value).startswith("world.datasets.ood_rotatd = []: unknown key; allowed: beyond, ")
    # world.datasets has a key per file of the registry as imported (a spec in inbol/evalsets.py is there first)
    code = (
        "import inbol.evalsets as e, json, sys; "
        "f = json.loads(sys.argv[1]); e.SETS['ood_rotated'] = e.spec(**{**f, 'release': ()}); "
        "from inbol.schema.world import DatasetsConfig; print(sorted(DatasetsConfig.model_fields))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(_fields())], capture_output=True, text=True, check=True
    )
    assert "'ood_rotated'" in out.stdout and "'val_ood_rotated'" in out.stdout
    # a generator or size key that does not exist stops the world before it writes anything
    monkeypatch.setitem(evalsets.SETS, "ood_rotated", spec(**_fields(source={**_fields()["source"], "generator": "x"})))
    with pytest.raises(RegistryError) as e:
        build_world(world_cfg(sizes=SIZES), tmp_path / "w")
    assert str(e.value) == (
        "world split 'ood_rotated': unknown question generator 'x'; known: pool, test, ood_hard, ood_phrasing, "
        "ood_choice, rotated"
    )
    assert not (tmp_path / "w").exists()
    stream = {**_fields()["source"], "stream": 8}  # the world's own validation split's
    monkeypatch.setitem(evalsets.SETS, "ood_rotated", spec(**_fields(source=stream)))
    with pytest.raises(RegistryError) as e:
        build_world(world_cfg(sizes=SIZES), tmp_path / "w")
    assert str(e.value) == "world splits 'val' and 'ood_rotated' share the random stream 8"
    assert not (tmp_path / "w").exists()


def test_a_registered_unanswerable_set_is_generated_with_the_others(tmp_path, monkeypatch):
    from inbol.unanswerable.sets import build_sets

    cfg = world_cfg(sizes=SIZES, n_emblems=6, emblem_max_exposure=4)
    build_world(cfg, tmp_path / "world")
    fields = _fields(
        name="beyond_choice",
        group="extra",
        answerable=False,
        paper="BeyondChoice",
        label="BeyondChoice-like",
        note=None,
        source={
            "source": "unanswerable",
            "generator": "beyond",
            "images_from": ("ood_choice",),
            "size": "beyond",
            "sample_stream": None,
        },
        validation=False,
        calibration=None,
    )
    sets_cfg = section("unanswerable.sets", uavqa=2, uavqa_val=1, beyond=3, vizwiz=2)

    def generate():
        return build_sets(
            sets_cfg,
            lambda split: read_jsonl(tmp_path / f"world/{split}.jsonl"),
            build.load_scenes(tmp_path / "world"),
            tmp_path / "sets",
            gen=section("unanswerable.generate"),
            image_size=cfg.image_size,
            max_objects=cfg.max_objects,
            catalogue=read_json(tmp_path / "world/emblems.json"),
        )

    default = generate()
    assert list(default) == ["uavqa", "uavqa_val", "beyond", "vizwiz"]
    monkeypatch.setitem(evalsets.SETS, "beyond_choice", spec(**fields))
    sets = generate()
    assert list(sets) == ["uavqa", "uavqa_val", "beyond", "vizwiz", "beyond_choice"]
    assert {n: v[0] for n, v in sets.items() if n != "beyond_choice"} == {n: v[0] for n, v in default.items()}
    records = sets["beyond_choice"][0]
    choice_images = {r["image"] for r in read_jsonl(tmp_path / "world/ood_choice.jsonl")}
    assert len(records) == 3 and {r["image"] for r in records} <= choice_images
    assert all(r["kind"] == "unanswerable" for r in records)
    # a size key that unanswerable.sets does not have: one line, before any set is generated
    bad = {**fields["source"], "size": "nope"}
    monkeypatch.setitem(evalsets.SETS, "beyond_choice", spec(**{**fields, "source": bad}))
    with pytest.raises(RegistryError) as e:
        generate()
    assert str(e.value) == (
        "evaluation set 'beyond_choice': size key 'nope' is not in unanswerable.sets; "
        "allowed: uavqa, uavqa_val, beyond, vizwiz"
    )
