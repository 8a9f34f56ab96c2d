"""Real-dataset loaders (src/inbol/datasets): each on a fixture in the dataset's real schema, read through
the same datasets.load_dataset path as at paper scale; bad input; the world.datasets schema (inbol.params);
VQA accuracy; the world.source switch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import dataset_fixtures as F
from helpers import ROOT, section, write_params
from inbol.datasets import build_datasets_world, load_source
from inbol.errors import DataError, ParamError
from inbol.judge.vqa_accuracy import add_vqa_accuracy, vqa_accuracy
from inbol.params import DatasetsConfig, DatasetSource, validate


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


def test_vqav2_keeps_every_annotator_answer(tmp_path):
    recs, st = load(F.write_vqav2(tmp_path / "raw", "val2014", 4), tmp_path)
    check_records(recs, "open", "perception")
    r = recs[0]
    assert r["answers"] == ["red", "dark red", "redish"]  # the consensus answer first, then variants
    assert len(r["meta"]["vqa_answers"]) == 10 and r["meta"]["qtype"] == "other"
    assert r["id"] == "test-vqav2-10001" and r["image"].endswith("val2014/COCO_val2014_000000001000.jpg")
    assert st["kept"] == 4 and st["bad_images"] == 0


def test_oven_entity_is_the_answer(tmp_path):
    recs, _ = load(F.write_oven(tmp_path / "raw"), tmp_path)
    check_records(recs, "open", "emblem")
    assert recs[1]["answers"] == ["Big Ben"] and recs[0]["meta"]["qtype"] == "val_seen"


def test_scienceqa_index_becomes_a_letter_and_text_only_rows_are_filtered(tmp_path):
    recs, st = load(F.write_scienceqa(tmp_path / "raw", n=3), tmp_path)
    check_records(recs, "choice", "choice")
    assert [r["answers"] for r in recs] == [["A"], ["B"], ["C"]]
    assert recs[1]["question"].startswith("Context: Look at the middle")
    assert recs[0]["question"].endswith("Answer with the option's letter from the given choices directly.")
    assert st["filtered"] == {"no image": 1}
    assert recs[0]["image"].startswith(str(tmp_path / "world" / "images" / "test" / "scienceqa"))


def test_aokvqa_direct_answers(tmp_path):
    recs, _ = load(F.write_aokvqa(tmp_path / "raw"), tmp_path)
    check_records(recs, "open", "perception")
    assert recs[0]["answers"][0] == "red" and len(recs[0]["meta"]["vqa_answers"]) == 10
    assert recs[0]["meta"]["mc_answer"] == "red"


def test_gqa(tmp_path):
    recs, _ = load(F.write_gqa(tmp_path / "raw"), tmp_path)
    check_records(recs, "open", "perception")
    assert recs[0]["answers"] == ["yes"] and recs[0]["meta"]["qtype"] == "verify"


def test_mmbench_base64_images_hint_and_missing_options(tmp_path):
    recs, _ = load(F.write_mmbench(tmp_path / "raw"), tmp_path)
    check_records(recs, "choice", "choice")
    assert recs[0]["question"].startswith("The square is in the middle.\nWhat is the main color")
    assert recs[0]["question"].endswith(
        "Answer with the letter corresponding to the correct option from the given choices."
    )
    assert recs[-1]["choices"] == ["red", "green"]


def test_mmmu_single_image_questions_and_open_ones(tmp_path):
    recs, st = load(F.write_mmmu(tmp_path / "raw"), tmp_path)
    check_records(recs, {"choice", "open"}, "choice")
    assert st["filtered"] == {"several images": 1}
    assert "<image 1>" not in recs[0]["question"] and recs[0]["choices"][0] == "a red square"
    assert recs[-1]["kind"] == "open" and recs[-1]["answers"] == ["7"]


def test_unanswerable_sets(tmp_path):
    beyond, _ = load(F.write_beyondvisqa(tmp_path / "raw"), tmp_path, tag="beyond")
    check_records(beyond, "unanswerable", None)
    vizwiz, st = load(F.write_vizwiz(tmp_path / "raw"), tmp_path, tag="vizwiz")
    check_records(vizwiz, "unanswerable", None)
    assert st["filtered"] == {"answerable": 1} and len(vizwiz) == 3
    idk, st = load(F.write_vqav2_idk(tmp_path / "raw"), tmp_path, tag="vqav2_idk")
    check_records(idk, "unanswerable", None)
    assert st["filtered"] == {"fewer IDK annotations than min_idk": 1}  # one IDK annotation is not enough
    assert all(r["meta"]["idk_count"] >= 2 for r in idk)
    ua, _ = load(F.write_uavqa(tmp_path / "raw"), tmp_path, tag="uavqa")
    check_records(ua, "unanswerable", None)


def test_limit_is_a_seeded_sample_in_source_order(tmp_path):
    spec = {**F.write_vqav2(tmp_path / "raw", "val2014", 8), "limit": 3, "seed": 1}
    a, st = load(spec, tmp_path)
    b, _ = load(spec, tmp_path)
    assert a == b and len(a) == 3 and st["visited"] == 3
    ids = [r["meta"]["source_id"] for r in a]
    assert ids == sorted(ids)


def test_build_writes_the_world_files(tmp_path):
    cfg = validate(DatasetsConfig, F.write_all(tmp_path / "raw", 3, 3), "world.datasets")
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
    assert stats["splits"]["ood_choice"]["datasets"] == {"mmbench": 4, "mmmu": 4}


# ------------------------------------------------------------------------------------------------------
# bad input: one clear error naming the dataset, the record and the field
# ------------------------------------------------------------------------------------------------------


def _rewrite(path: Path, fn) -> None:
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    path.write_text("".join(json.dumps(fn(i, r)) + "\n" for i, r in enumerate(rows)))


def test_a_missing_required_column_names_dataset_record_and_field(tmp_path):
    spec = F.write_oven(tmp_path / "raw")
    _rewrite(Path(spec["data_files"]), lambda i, r: {k: v for k, v in r.items() if k != "entity_text"})
    with pytest.raises(DataError) as e:
        load(spec, tmp_path)
    msg = str(e.value)
    assert msg.startswith("oven (json: ") and "oven_entity_val_00000000" in msg and "'entity_text'" in msg
    assert "\n" not in msg


def test_an_empty_answer_list_names_dataset_record_and_field(tmp_path):
    spec = F.write_aokvqa(tmp_path / "raw")
    path = Path(spec["data_files"])
    rows = json.loads(path.read_text())
    rows[1]["direct_answers"] = []
    path.write_text(json.dumps(rows))
    with pytest.raises(
        DataError, match=r"^aokvqa \(json: .*\): record 'aok0001': field 'direct_answers' is an empty answer list$"
    ):
        load(spec, tmp_path)


def test_an_image_path_escaping_the_root_is_an_error(tmp_path):
    spec = F.write_beyondvisqa(tmp_path / "raw")
    F.save_image(tmp_path / "raw" / "outside.jpg", 1)
    path = Path(spec["data_files"])
    rows = json.loads(path.read_text())
    rows[2]["image"] = "../outside.jpg"
    path.write_text(json.dumps(rows))
    with pytest.raises(DataError, match=r"record 'beyond_2': image path '../outside.jpg' escapes the image root"):
        load(spec, tmp_path, max_bad=1.0)


def test_unreadable_images_are_counted_and_skipped_up_to_the_fraction(tmp_path):
    spec = F.write_vqav2(tmp_path / "raw", "val2014", 6)
    img = Path(spec["image_root"]) / "val2014" / "COCO_val2014_000000001002.jpg"
    img.write_bytes(b"not an image")
    recs, st = load(spec, tmp_path, max_bad=0.2)
    assert len(recs) == 5 and st["bad_images"] == 1 and "unreadable" in st["bad_examples"][0]["reason"]
    with pytest.raises(
        DataError,
        match=r"^vqav2 \(json: .*\): 1 of 6 rows .* more than max_bad_image_fraction = 0.1 "
        r"\(first: record test-vqav2-10021, field 'image': unreadable",
    ):
        load(spec, tmp_path, max_bad=0.1)


def test_an_answer_index_out_of_range_is_an_error(tmp_path):
    import datasets

    spec = F.write_scienceqa(tmp_path / "raw", n=2, no_image_rows=0)
    ds = datasets.load_dataset("parquet", data_files=spec["data_files"], split="train")
    ds = ds.map(lambda r, i: {"answer": 7 if i == 1 else r["answer"]}, with_indices=True)
    ds.to_parquet(spec["data_files"])
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
        "uavqa",
        "beyond",
        "vizwiz",
        "vqav2_idk",
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
    datasets = F.write_all(tmp_path / "raw", 2, 2)
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
