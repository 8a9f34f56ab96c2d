"""Real-dataset loaders (src/inbol/datasets): each on a fixture written in its release's format (file names,
columns, types and image layout; tests/dataset_fixtures.py), read through the source entry of the paper-scale
profile (configs/llava-1.5-7b.yaml) with only its paths moved to the fixture; bad input; the world.datasets
schema (inbol.params); VQA accuracy; the world.source switch."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import dataset_fixtures as F
from helpers import ROOT, section, write_params
from inbol.datasets import build_datasets_world, load_source
from inbol.datasets.loaders import IDK_KEYWORDS
from inbol.errors import DataError, ParamError
from inbol.io import read_jsonl
from inbol.judge.vqa_accuracy import add_vqa_accuracy, vqa_accuracy
from inbol.params import DatasetsConfig, DatasetSource, validate

PROFILE = F.profile_datasets()  # the paper-scale sources, as the 7B profile lists them


def entry(split: str, loader: str, **changes) -> dict:
    e = copy.deepcopy(next(e for e in PROFILE[split] if e["loader"] == loader))
    e.update(changes)
    return e


def local(split: str, loader: str, root: Path, n: int = 4, **kw) -> dict:
    """The profile's source of ``loader`` in ``split`` on its fixture (``kw``: the writer's extras)."""
    return F.localize_entry(entry(split, loader), root, n, **kw)


def load(spec: dict, tmp_path: Path, max_bad: float = 0.0, tag: str = "test"):
    src = validate(DatasetSource, spec, "world.datasets.test[0]")
    return load_source(src, tmp_path / "world", tmp_path / "world", tag=tag, max_bad_fraction=max_bad)


def check_records(records: list[dict], kind: str | set, family: str | None) -> None:
    kinds = {kind} if isinstance(kind, str) else kind
    assert records
    assert len({r["id"] for r in records}) == len(records)
    for r in records:
        assert set(r) >= {"id", "source", "image", "question", "answers", "kind", "meta"}
        assert r["kind"] in kinds and r["question"]
        assert (r["answers"] == []) == (r["kind"] == "unanswerable")
        if r["kind"] == "choice":
            assert r["answers"][0] in "ABCDEFGH"[: len(r["choices"])]
        assert r["meta"].get("family") == family
        with Image.open(r["image"]) as im:
            im.load()


def one_line_error(fn) -> str:
    with pytest.raises(DataError) as e:
        fn()
    msg = str(e.value)
    assert "\n" not in msg
    return msg


# ------------------------------------------------------------------------------------------------------
# in domain: VQAv2, OVEN, ScienceQA
# ------------------------------------------------------------------------------------------------------


def test_vqav2_joins_the_official_questions_and_annotations(tmp_path):
    spec = local("test", "vqav2", tmp_path / "raw")
    assert spec["options"]["annotations"].endswith("v2_mscoco_val2014_annotations.json")
    recs, st = load(spec, tmp_path)
    check_records(recs, "open", "perception")
    r = recs[0]  # the annotation file lists the questions in another order: joined by question_id
    assert r["answers"] == ["red", "dark red", "redish"]  # the consensus answer first, then variants
    assert len(r["meta"]["vqa_answers"]) == 10 and r["meta"]["qtype"] == "other"
    assert r["id"] == "test-vqav2-2000001" and r["image"].endswith("val2014/COCO_val2014_000000002000.jpg")
    assert st["kept"] == 4 and st["bad_images"] == st["bad_fields"] == 0


def test_vqav2_question_without_an_annotation_is_a_counted_bad_row(tmp_path):
    spec = local("pool", "vqav2", tmp_path / "raw")
    ann = Path(spec["options"]["annotations"])
    data = json.loads(ann.read_text())
    data["annotations"] = [a for a in data["annotations"] if a["question_id"] != 1001001]
    ann.write_text(json.dumps(data))
    recs, st = load(spec, tmp_path, max_bad=0.5)
    assert len(recs) == 3 and st["bad_fields"] == 1 and st["bad_examples"][0]["field"] == "answers"
    msg = one_line_error(lambda: load(spec, tmp_path))
    assert re.match(r"^vqav2 \(json: .*train2014_questions\.json\): 1 of 4 rows \(25\.0%\) are bad", msg), msg
    assert "(first: record '1001001': field 'answers' is an empty answer list" in msg


def test_vqav2_reads_the_lmms_lab_parquet_too(tmp_path):
    spec = F.localize_entry({"loader": "vqav2", "path": "lmms-lab/VQAv2", "split": "validation"}, tmp_path / "raw", 3)
    recs, _ = load(spec, tmp_path)
    check_records(recs, "open", "perception")
    assert recs[0]["answers"] == ["red", "dark red"] and len(recs[0]["meta"]["vqa_answers"]) == 10


def test_oven_images_follow_the_release_path_map(tmp_path):
    spec = local("test", "oven", tmp_path / "raw", n=6, unmapped=1)
    recs, st = load(spec, tmp_path, max_bad=0.2)
    check_records(recs, "open", "emblem")
    assert len(recs) == 6 and st["bad_images"] == 1
    assert "is not in the image map" in st["bad_examples"][0]["reason"]
    rel = [Path(r["image"]).relative_to(spec["image_root"]).as_posix() for r in recs]
    assert rel[:3] == [
        "oven_images/00/oven_00000500.JPEG",
        "oven_images/01/oven_01000501.jpg",
        "oven_images/02/oven_02000502.png",
    ]
    assert recs[1]["answers"] == ["Big Ben"] and recs[0]["meta"]["qtype"] == "entity_val_seen"
    msg = one_line_error(lambda: load(spec, tmp_path))
    assert re.search(r"\(first: record 'oven_entity_val_00000506': field 'image': image id 'oven_00000506'", msg), msg


def test_oven_mapped_file_missing_on_disk_is_a_bad_image_and_no_map_finds_the_shard(tmp_path):
    spec = local("pool", "oven", tmp_path / "raw")
    (Path(spec["image_root"]) / "oven_images" / "01" / "oven_01000001.jpg").unlink()
    recs, st = load(spec, tmp_path, max_bad=0.5)
    assert len(recs) == 3 and "missing file" in st["bad_examples"][0]["reason"]
    recs, st = load({**spec, "image_map": None}, tmp_path, max_bad=0.5)  # the shard folder, any extension
    assert [Path(r["image"]).suffix for r in recs] == [".JPEG", ".png", ".JPEG"] and st["bad_images"] == 1


def test_scienceqa_index_becomes_a_letter_and_text_only_rows_are_filtered(tmp_path):
    recs, st = load(local("test", "scienceqa", tmp_path / "raw", n=3), tmp_path)
    check_records(recs, "choice", "choice")
    assert [r["answers"] for r in recs] == [["A"], ["B"], ["C"]]
    assert recs[1]["question"].startswith("Context: Look at the middle")
    assert recs[0]["question"].endswith("Answer with the option's letter from the given choices directly.")
    assert st["filtered"] == {"no image": 1}
    assert recs[0]["image"].startswith(str(tmp_path / "world" / "images" / "test" / "scienceqa"))


# ------------------------------------------------------------------------------------------------------
# out of domain: A-OKVQA, GQA, MMBench, MMMU
# ------------------------------------------------------------------------------------------------------


def test_aokvqa_direct_answers_stored_as_a_list_string_are_parsed(tmp_path):
    recs, _ = load(local("ood_phrasing", "aokvqa", tmp_path / "raw"), tmp_path)
    check_records(recs, "open", "perception")
    assert recs[0]["answers"][0] == "red" and len(recs[0]["meta"]["vqa_answers"]) == 10
    assert recs[0]["meta"]["mc_answer"] == "red"


def test_gqa(tmp_path):
    recs, _ = load(local("ood_hard", "gqa", tmp_path / "raw"), tmp_path)
    check_records(recs, "open", "perception")
    assert recs[0]["answers"] == ["yes"] and recs[0]["meta"]["qtype"] == "verify"


def test_mmbench_keeps_one_row_per_question_and_reads_the_l2_category(tmp_path):
    recs, st = load(local("ood_choice", "mmbench", tmp_path / "raw"), tmp_path)
    check_records(recs, "choice", "choice")
    assert st["rows"] == 8 and st["filtered"] == {"circular-evaluation copy (index >= 1e6)": 4}
    assert [r["meta"]["source_id"] for r in recs] == [500, 501, 502, 503]
    assert recs[0]["meta"]["l2_category"] == "finegrained_perception"
    assert recs[0]["question"].startswith("The square is in the middle.\nWhat is the main color")
    assert recs[0]["question"].endswith(
        "Answer with the letter corresponding to the correct option from the given choices."
    )
    assert recs[-1]["choices"] == ["red", "green"]


def test_mmmu_single_image_questions_and_open_ones(tmp_path):
    spec = entry("ood_choice", "mmmu")
    spec["name"] = spec["name"][:3]  # three of the 30 subject configs, read and concatenated the same way
    recs, st = load(F.localize_entry(spec, tmp_path / "raw", 1), tmp_path)
    check_records(recs, {"choice", "open"}, "choice")
    assert st["filtered"] == {"several images": 1} and st["rows"] == 5
    assert "<image 1>" not in recs[0]["question"] and recs[0]["choices"][0] == "a red square"
    assert [r["kind"] for r in recs] == ["choice", "open", "choice", "choice"] and recs[1]["answers"] == ["7"]


# ------------------------------------------------------------------------------------------------------
# the unanswerable sets: BeyondVisQA, VizWiz, VQAv2-IDK, UaVQA
# ------------------------------------------------------------------------------------------------------


def test_unanswerable_sets(tmp_path):
    beyond, _ = load(local("beyond", "beyondvisqa", tmp_path / "raw", 3), tmp_path, tag="beyond")
    check_records(beyond, "unanswerable", None)
    assert F.REFUSAL_OPTION in beyond[0]["meta"]["options"]
    vizwiz, st = load(local("vizwiz", "vizwiz", tmp_path / "raw", 3), tmp_path, tag="vizwiz")
    check_records(vizwiz, "unanswerable", None)
    assert st["filtered"] == {"answerable": 1} and len(vizwiz) == 3
    ua, _ = load(local("uavqa", "records", tmp_path / "raw", 3), tmp_path, tag="uavqa")
    check_records(ua, "unanswerable", None)


def test_vqav2_idk_keeps_questions_with_more_than_one_idk_annotation(tmp_path):
    spec = local("vqav2_idk", "vqav2_idk", tmp_path / "raw", 3)
    assert spec["options"] == {"min_idk": 2} and "image_pattern" not in spec
    idk, st = load(spec, tmp_path, tag="vqav2_idk")
    check_records(idk, "unanswerable", None)
    assert st["filtered"] == {"fewer IDK annotations than min_idk": 1}  # one IDK annotation is not enough
    assert [r["meta"]["idk_count"] for r in idk] == [3, 3, 3]
    assert idk[0]["meta"]["idk_keywords"] == ["don't know", "not sure", "none"]
    assert idk[0]["image"].endswith("coco/val2014/COCO_val2014_000000900000.jpg")
    # without the authors' keywords column, their keywords are matched in the answers (case-insensitive)
    path = Path(spec["data_files"])
    path.write_text(json.dumps([{k: v for k, v in r.items() if k != "keywords"} for r in json.loads(path.read_text())]))
    again, _ = load(spec, tmp_path, tag="vqav2_idk")
    assert [r["meta"]["idk_count"] for r in again] == [3, 3, 3] and again[0]["meta"]["idk_keywords"] is None
    assert "none" in IDK_KEYWORDS and "don't know" in IDK_KEYWORDS and len(IDK_KEYWORDS) == 9


def test_limit_is_a_seeded_sample_in_source_order(tmp_path):
    spec = {**local("test", "vqav2", tmp_path / "raw", 8), "limit": 3, "seed": 1}
    a, st = load(spec, tmp_path)
    b, _ = load(spec, tmp_path)
    assert a == b and len(a) == 3 and st["visited"] == 3
    ids = [r["meta"]["source_id"] for r in a]
    assert ids == sorted(ids)


def test_build_writes_the_world_files_from_every_source_of_the_profile(tmp_path):
    profile = copy.deepcopy(PROFILE)
    for split in ("ood_choice", "val_ood_choice"):
        mmmu = next(e for e in profile[split] if e["loader"] == "mmmu")
        mmmu["name"] = mmmu["name"][:2]
    datasets = F.localize(profile, tmp_path / "raw", n=3)
    cfg = validate(DatasetsConfig, {**datasets, "max_bad_image_fraction": 0.0}, "world.datasets")
    stats = build_datasets_world(cfg, tmp_path / "world")
    files = {p.name for p in (tmp_path / "world").iterdir()}
    assert files >= {
        "pool.jsonl",
        "test.jsonl",
        "ood_phrasing.jsonl",
        "ood_hard.jsonl",
        "ood_choice.jsonl",
        "uavqa.jsonl",
        "beyond.jsonl",
        "vizwiz.jsonl",
        "vqav2_idk.jsonl",
        "stats.json",
        "scenes.jsonl",
    }
    assert stats["source"] == "datasets"
    assert stats["splits"]["test"]["families"] == {"choice": 3, "emblem": 3, "perception": 3}
    assert stats["splits"]["ood_choice"]["datasets"] == {"mmbench": 3, "mmmu": 7}
    assert {name: s["n"] for name, s in stats["sets"].items()} == {
        "uavqa": 3,
        "beyond": 3,
        "vizwiz": 3,
        "vqav2_idk": 3,
        "uavqa_val": 0,  # the profile has no validation UaVQA
    }
    # the validation splits: their own sources, and never an image of another split or set
    assert {"val.jsonl", "val_ood_phrasing.jsonl", "val_ood_hard.jsonl", "val_ood_choice.jsonl"} <= files
    assert stats["splits"]["val"]["n"] > 0 and set(stats["splits"]["val_ood_choice"]["datasets"]) == {"mmmu"}
    others = {
        r["image"] for p in (tmp_path / "world").glob("*.jsonl") if not p.stem.startswith("val") for r in read_jsonl(p)
    }
    assert not others & {r["image"] for r in read_jsonl(tmp_path / "world" / "val.jsonl")}
    assert set(stats["dropped_shared_image"]) >= {"val", "val_ood_hard", "uavqa_val"}
    # val reads the pool's VQAv2 and OVEN releases (as the profile does): its questions on pool images are
    # left out and counted
    loaded = sum(st["kept"] for st in stats["sources"]["val"].values())
    dropped = stats["dropped_shared_image"]["val"]
    assert 0 < dropped < loaded and stats["splits"]["val"]["n"] == loaded - dropped


# ------------------------------------------------------------------------------------------------------
# bad input: one clear error naming the dataset, the record and the field
# ------------------------------------------------------------------------------------------------------


def _rewrite_jsonl(path: Path, fn) -> None:
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    path.write_text("".join(json.dumps(fn(i, r)) + "\n" for i, r in enumerate(rows)))


def _rewrite_parquet(path: str, fn) -> None:
    import datasets

    ds = datasets.load_dataset("parquet", data_files=path, split="train")
    fn(ds).to_parquet(path)


def test_a_missing_required_column_names_dataset_record_and_field(tmp_path):
    spec = local("test", "oven", tmp_path / "raw")
    _rewrite_jsonl(Path(spec["data_files"]), lambda i, r: {k: v for k, v in r.items() if k != "entity_text"})
    msg = one_line_error(lambda: load(spec, tmp_path, max_bad=1.0))
    assert msg.startswith("oven (json: ") and "oven_entity_val_00000500" in msg and "'entity_text'" in msg


def test_a_renamed_column_of_a_hub_parquet_names_dataset_and_field(tmp_path):
    spec = local("ood_choice", "mmbench", tmp_path / "raw")
    _rewrite_parquet(
        str(next(Path(spec["path"]).glob("en/dev-*.parquet"))), lambda ds: ds.rename_column("answer", "Answer")
    )
    msg = one_line_error(lambda: load(spec, tmp_path, max_bad=1.0))
    assert re.match(
        r"^mmbench \(.*MMBench-\w+/en, split dev\): record 500 \(and every other\): missing required field "
        r"'answer'; columns: .*Answer",
        msg,
    ), msg


def test_a_list_string_that_does_not_parse_is_a_counted_bad_row(tmp_path):
    spec = local("ood_phrasing", "aokvqa", tmp_path / "raw")
    parquet = str(next(Path(spec["path"]).glob("default/validation-*.parquet")))
    _rewrite_parquet(
        parquet,
        lambda ds: ds.map(
            lambda r, i: {"direct_answers": "['red', 'red'" if i == 1 else r["direct_answers"]}, with_indices=True
        ),
    )
    recs, st = load(spec, tmp_path, max_bad=0.3)
    assert len(recs) == 3 and st["bad_fields"] == 1
    msg = one_line_error(lambda: load(spec, tmp_path))
    assert msg.endswith(
        "(first: record '22MexNkBPp0001': field 'direct_answers' = \"['red', 'red'\" does not parse as a list)"
    ), msg
    assert msg.startswith("aokvqa (") and "1 of 4 rows" in msg


def test_an_empty_answer_list_names_dataset_record_and_field(tmp_path):
    spec = local("vizwiz", "vizwiz", tmp_path / "raw", answerable=0)
    path = Path(spec["data_files"])
    rows = json.loads(path.read_text())
    rows[1].update(answers=[], answer_type=None, answerable=None)
    path.write_text(json.dumps(rows))
    msg = one_line_error(lambda: load(spec, tmp_path))
    assert re.match(
        r"^vizwiz \(json: .*val\.json\): 1 of 4 rows .*\(first: record '1': field 'answerable' and "
        r"'answer_type' and 'answers' are all empty\)$",
        msg,
    ), msg


def test_an_image_path_escaping_the_root_is_an_error(tmp_path):
    spec = local("beyond", "beyondvisqa", tmp_path / "raw", 3)
    F.save_image(tmp_path / "raw" / "outside.jpg", 1)
    path = Path(spec["data_files"])
    rows = json.loads(path.read_text())
    rows[2]["image"] = "../../../outside.jpg"
    path.write_text(json.dumps(rows))
    with pytest.raises(DataError, match=r"record 'beyond_2': image path '../../../outside.jpg' escapes the image root"):
        load(spec, tmp_path, max_bad=1.0)


def test_unreadable_images_are_counted_and_skipped_up_to_the_fraction(tmp_path):
    spec = local("test", "vqav2", tmp_path / "raw", 6)
    img = Path(spec["image_root"]) / "val2014" / "COCO_val2014_000000002002.jpg"
    img.write_bytes(b"not an image")
    recs, st = load(spec, tmp_path, max_bad=0.2)
    assert len(recs) == 5 and st["bad_images"] == 1 and "unreadable" in st["bad_examples"][0]["reason"]
    msg = one_line_error(lambda: load(spec, tmp_path, max_bad=0.1))
    assert re.match(
        r"^vqav2 \(json: .*\): 1 of 6 rows .* more than max_bad_image_fraction = 0.1 "
        r"\(first: record '2002001': field 'image': unreadable",
        msg,
    ), msg


def test_an_answer_index_out_of_range_is_an_error(tmp_path):
    spec = local("test", "scienceqa", tmp_path / "raw", 2, no_image_rows=0)
    _rewrite_parquet(
        str(next(Path(spec["path"]).glob("default/test-*.parquet"))),
        lambda ds: ds.map(lambda r, i: {"answer": 7 if i == 1 else r["answer"]}, with_indices=True),
    )
    with pytest.raises(DataError, match=r"record '1': field 'answer' = 7 is outside the 3 options"):
        load(spec, tmp_path)


@pytest.mark.parametrize(
    "spec, message",
    [
        (
            {"loader": "coco", "path": "x"},
            "loader = 'coco': must be one of vqav2, vqav2_idk, oven, scienceqa, aokvqa, gqa, "
            "mmbench, mmmu, beyondvisqa, vizwiz, records",
        ),
        (
            {"loader": "mmmu", "path": "x", "options": {"multi_image": "all"}},
            "options.multi_image = 'all': must be one of skip, first",
        ),
        (
            {"loader": "gqa", "path": "x", "options": {"foo": 1}},
            "options.foo = 1: unknown option for loader gqa; allowed: none",
        ),
        (
            {"loader": "vqav2_idk", "path": "x", "options": {"min_idk": True}},
            "options.min_idk = True: must be of type int",
        ),
        (
            {"loader": "vqav2_idk", "path": "x", "options": {"min_idk": "2"}},
            "options.min_idk = '2': must be of type int",
        ),
        (
            {"loader": "vqav2_idk", "path": "x", "options": {"min_2": 2}},
            "options.min_2 = 2: unknown option for loader vqav2_idk; allowed: idk_keywords, min_idk",
        ),
        (
            {"loader": "vqav2_idk", "path": "x", "options": {"min_idk": 0}},
            "options.min_idk = 0: must be an integer >= 1",
        ),
        (
            {"loader": "vqav2", "path": "json", "options": {"annotations": " "}},
            "options.annotations = ' ': must be a non-empty string",
        ),
        (
            {"loader": "vqav2", "path": "json", "options": {"annotation": "a.json"}},
            "options.annotation = 'a.json': unknown option for loader vqav2; allowed: annotations",
        ),
        ({"loader": "gqa", "path": "x", "limit": 0}, "limit = 0: must be null or an integer >= 1"),
        ({"loader": "gqa", "path": "x", "limit": "3"}, "limit = '3': must be an integer"),
        ({"loader": "gqa", "path": " "}, "path = ' ': must be a non-empty string"),
        (
            {"loader": "gqa", "path": "x", "family": "colour"},
            "family = 'colour': must be one of perception, emblem, choice",
        ),
        (
            {"loader": "gqa", "path": "x", "sed": 1},
            "sed = 1: unknown key; allowed: data_files, family, image_map, "
            "image_pattern, image_root, limit, loader, name, options, path, "
            "revision, seed, split",
        ),
    ],
)
def test_bad_source_params_are_one_line_errors(spec, message):
    with pytest.raises(ParamError) as e:
        validate(DatasetSource, spec, "world.datasets.test[0]")
    assert str(e.value) == f"world.datasets.test[0].{message}"


def test_a_source_has_defaults_and_accepts_its_loaders_options():
    src = validate(DatasetSource, {"loader": "vqav2_idk", "path": "json", "options": {"min_idk": 3}}, "s")
    assert (src.split, src.name, src.limit, src.seed, src.family, src.options) == (
        "train",
        None,
        None,
        0,
        None,
        {"min_idk": 3},
    )
    assert validate(DatasetSource, {"loader": "mmmu", "path": "x", "options": {"multi_image": "first"}}, "s")
    assert validate(DatasetSource, {"loader": "records", "path": "x", "options": {"kind": "choice"}}, "s")
    cfg = validate(
        DatasetsConfig,
        {"pool": [{"loader": "gqa", "path": "x"}], "test": [{"loader": "oven", "path": "y"}]},
        "world.datasets",
    )
    assert (cfg.max_bad_image_fraction, cfg.verify_images) == (0.01, True)
    assert list(cfg.sources()) == [
        "pool",
        "test",
        "ood_phrasing",
        "ood_hard",
        "ood_choice",
        "val",
        "val_ood_phrasing",
        "val_ood_hard",
        "val_ood_choice",
        "uavqa",
        "beyond",
        "vizwiz",
        "vqav2_idk",
        "uavqa_val",
    ]
    assert [s.loader for s in cfg.sources()["test"]] == ["oven"] and cfg.sources()["vizwiz"] == []


def test_world_source_switch_is_validated():
    assert section("world").source == "synthetic" and section("world").datasets is None
    with pytest.raises(
        ParamError,
        match=r"^world.datasets = None: must list the dataset sources when "
        r"world.source = 'datasets'$",
    ):
        section("world", source="datasets")
    with pytest.raises(ParamError, match=r"^world.source = 'hub': must be one of synthetic, datasets$"):
        section("world", source="hub")
    with pytest.raises(ParamError, match=r"^world.datasets.pool = \[\]: must list at least one dataset source$"):
        section("world", source="datasets", datasets={"pool": [], "test": [{"loader": "gqa", "path": "x"}]})
    with pytest.raises(ParamError, match=r"^world.datasets.pool is missing: required key$"):
        section("world", source="datasets", datasets={"test": [{"loader": "gqa", "path": "x"}]})
    with pytest.raises(ParamError, match=r"^world.datasets.test\[1\].options.multi_image = 'all': must be one of"):
        section(
            "world",
            source="datasets",
            datasets={
                "pool": [{"loader": "gqa", "path": "x"}],
                "test": [
                    {"loader": "gqa", "path": "x"},
                    {"loader": "mmmu", "path": "y", "options": {"multi_image": "all"}},
                ],
            },
        )
    world = section(
        "world",
        source="datasets",
        datasets={"pool": [{"loader": "gqa", "path": "x"}], "test": [{"loader": "gqa", "path": "y"}]},
    )
    assert isinstance(world.datasets, DatasetsConfig) and world.datasets.pool[0].path == "x"


def _stage_argv(stage: str) -> list[str]:
    """The command of a dvc.yaml stage (a stage without foreach/matrix), as dvc runs it."""
    import shlex

    import yaml

    argv = shlex.split(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][stage]["cmd"])
    assert argv[0] == "python"
    return [sys.executable, str(ROOT / argv[1]), *argv[2:]]


@pytest.mark.e2e
def test_world_stage_builds_from_datasets_and_fails_cleanly(tmp_path):
    profile = copy.deepcopy(PROFILE)
    next(e for e in profile["ood_choice"] if e["loader"] == "mmmu")["name"] = ["Art"]
    datasets = F.localize(profile, tmp_path / "raw", n=2)
    write_params(tmp_path, world={"source": "datasets", "datasets": datasets})
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    argv = _stage_argv("world")
    proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((tmp_path / "metrics" / "world.json").read_text())["source"] == "datasets"
    rec = json.loads((tmp_path / "data" / "world" / "test.jsonl").read_text().splitlines()[-1])
    assert rec["image"].startswith("data/world/images/test/scienceqa/") and (tmp_path / rec["image"]).is_file()
    before = (tmp_path / "data" / "world" / "test.jsonl").read_bytes()
    datasets["test"][0]["image_root"] = str(tmp_path / "nowhere")
    datasets["max_bad_image_fraction"] = 0.0
    write_params(tmp_path, world={"source": "datasets", "datasets": datasets})
    proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: vqav2 (json: ")
    assert (tmp_path / "data" / "world" / "test.jsonl").read_bytes() == before  # outputs kept


# ------------------------------------------------------------------------------------------------------
# VQA accuracy
# ------------------------------------------------------------------------------------------------------


def test_vqa_accuracy_follows_the_official_definition():
    gts = ["red"] * 3 + ["dark red"] * 2 + ["maroon"] + ["blue"] * 4
    assert vqa_accuracy("Red.", gts) == pytest.approx(1.0 * 7 / 10 + (2 / 3) * 3 / 10)  # 3 matches: leave-one-out
    assert vqa_accuracy("dark red", gts) == pytest.approx((8 * (2 / 3) + 2 * (1 / 3)) / 10)
    assert vqa_accuracy("maroon", gts) == pytest.approx(9 * (1 / 3) / 10)
    assert vqa_accuracy("blue", gts) == 1.0
    assert vqa_accuracy("two", ["2"] * 10) == 1.0  # normalised on both sides
    assert vqa_accuracy("green", gts) == 0.0
    assert vqa_accuracy("Sorry, I can not help with it.", gts) == 0.0
    assert vqa_accuracy("red", []) == 0.0


def test_vqa_accuracy_is_reported_beside_plain_matching():
    from inbol.evaluation import make_testset

    recs = [
        {"id": "a", "kind": "open", "answers": ["red"], "meta": {"vqa_answers": ["red"] * 10}},
        {"id": "b", "kind": "open", "answers": ["red", "pink"], "meta": {"vqa_answers": ["red"] * 9 + ["pink"]}},
        {"id": "c", "kind": "open", "answers": ["x"], "meta": {}},
    ]
    ts = {"perception": make_testset("perception", recs), "ood_hard": make_testset("ood_hard", recs[2:])}
    preds = [
        {"set": "perception", "id": "a", "response": "red"},
        {"set": "perception", "id": "b", "response": "pink"},
        {"set": "perception", "id": "c", "response": "x"},
        {"set": "ood_hard", "id": "c", "response": "x"},
    ]
    m = add_vqa_accuracy({"sets": {"perception": {"acc": 100.0}, "ood_hard": {"acc": 100.0}}}, ts, preds)
    assert m["sets"]["perception"]["vqa_acc"] == pytest.approx(100 * (1 + 0.3) / 2, abs=1e-3)
    assert m["sets"]["perception"]["vqa_acc_n"] == 2 and "vqa_acc" not in m["sets"]["ood_hard"]


def test_evaluate_section_accepts_the_option():
    assert section("evaluate", vqa_accuracy=True).vqa_accuracy is True
    assert section("evaluate", vqa_accuracy=False).vqa_accuracy is False
    with pytest.raises(ParamError, match=r"^evaluate.vqa_accuracy = 'yes': must be true or false$"):
        section("evaluate", vqa_accuracy="yes")
