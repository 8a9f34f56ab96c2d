import collections
import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import section, world_cfg
from inbol.errors import ParamError
from inbol.io import read_json, read_jsonl
from inbol.world import build_world, derive_answer, load_scenes, render
from inbol.world.emblems import exposure_counts, make_catalogue
from inbol.world.questions import LETTERS, answer_variants
from inbol.world.scene import COLORS, cell_center, sample_scene

SIZES = {
    "corpus": 40,
    "pool": 60,
    "test": 30,
    "ood_hard": 12,
    "ood_phrasing": 12,
    "ood_choice": 12,
    "val": 24,
    "val_ood": 6,
}


def small_cfg(sizes=None, **changes):
    return world_cfg(sizes={**SIZES, **(sizes or {})}, n_emblems=8, emblem_max_exposure=6, **changes)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    build_world(small_cfg(), out)
    return out


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_world_is_byte_for_byte_deterministic(world, tmp_path):
    build_world(small_cfg(), tmp_path / "again", image_prefix=world)
    assert _digest(world) == _digest(tmp_path / "again")


def test_other_seed_gives_other_world(world, tmp_path):
    build_world(small_cfg(seed=1), tmp_path / "other", image_prefix=world)
    assert (world / "pool.jsonl").read_bytes() != (tmp_path / "other" / "pool.jsonl").read_bytes()


def test_every_answer_is_derivable_from_its_scene_graph(world):
    scenes = load_scenes(world)
    n = 0
    for split in ("pool", "test", "ood_hard", "ood_phrasing", "ood_choice"):
        for r in read_jsonl(world / f"{split}.jsonl"):
            scene = scenes[r["id"]]
            answer = derive_answer(scene, r["meta"])
            if r["kind"] == "choice":
                assert r["answers"] == [LETTERS[r["choices"].index(answer)]]
                assert f"{r['answers'][0]}. {answer}" in r["question"]
            else:
                assert r["answers"] == answer_variants(answer)
            n += 1
    assert n == 60 + 30 + 12 * 3


def test_corpus_answers_derivable_and_never_refusals(world):
    scenes = load_scenes(world)
    corpus = read_jsonl(world / "corpus.jsonl")
    for r in corpus:
        scene = scenes[Path(r["image"]).stem]
        answer = derive_answer(scene, r["meta"])
        expected = [LETTERS[r["choices"].index(answer)]] if r["kind"] == "choice" else answer_variants(answer)
        assert r["answers"] == expected
        assert r["kind"] in ("open", "choice")


def test_images_show_what_the_scene_graph_says(world):
    """Pixel colour at each visible object's centre matches its colour in the scene graph."""
    checked = 0
    for scene in load_scenes(world).values():
        if scene["emblem"] is not None or scene["noise"] > 0.02 or scene["occluder"] or scene["specks"]:
            continue
        img = np.asarray(Image.open(world / "images" / scene["split"] / f"{scene['id']}.png"))
        for o in scene["objects"]:
            cx, cy = cell_center(o["col"], o["row"], scene["size"])
            if o["shape"] == "triangle":
                cy += 1  # the centroid of the triangle sits a little below the cell centre
            px = img[int(cy), int(cx)].astype(int)
            assert np.abs(px - np.array(COLORS[o["color"]])).max() <= 40, (scene["id"], o)
            checked += 1
    assert checked >= 10


def test_answer_variants():
    assert answer_variants("2") == ["2", "two"]
    assert "grey" in answer_variants("gray")
    assert answer_variants("red") == ["red"]


def test_emblem_exposure_is_long_tailed():
    counts = exposure_counts(30, 300, 1.3)
    assert counts[0] == 300 and counts == sorted(counts, reverse=True)
    assert counts[-1] < 10
    cat = make_catalogue(0, 30, 300, 1.3)
    assert len({e["name"] for e in cat}) == 30 and len({str(e["glyph"]) for e in cat}) == 30


def test_emblem_questions_record_exposure(world):
    catalogue = {e["id"]: e for e in read_json(world / "emblems.json")}
    emblem_qs = [r for r in read_jsonl(world / "pool.jsonl") if r["meta"]["qtype"] == "emblem_name"]
    assert emblem_qs
    for r in emblem_qs:
        assert r["meta"]["exposure"] == catalogue[r["meta"]["emblem_id"]]["exposure"]


def test_corpus_exposures_match_catalogue(world):
    catalogue = read_json(world / "emblems.json")
    corpus = read_jsonl(world / "corpus.jsonl")
    seen = {}
    for r in corpus:
        if r["meta"]["qtype"] == "emblem_name":
            seen[r["meta"]["emblem_id"]] = seen.get(r["meta"]["emblem_id"], 0) + 1
    for e in catalogue:
        assert seen.get(e["id"], 0) == e["exposure"]


def test_ood_sets_use_unseen_phrasings(world):
    corpus_questions = {r["question"] for r in read_jsonl(world / "corpus.jsonl")}
    phr = read_jsonl(world / "ood_phrasing.jsonl")
    assert not any(r["question"] in corpus_questions for r in phr)
    choice = read_jsonl(world / "ood_choice.jsonl")
    assert all(2 <= len(r["choices"]) <= 5 and "letter corresponding" in r["question"] for r in choice)
    assert max(len(r["choices"]) for r in choice) == 5


def test_render_is_pure():
    rng = np.random.default_rng(3)
    scene = sample_scene(rng, "x-1", 32, (2, 4), 0.9, {"noise": 0.3, "clutter": 1.0, "occlusion": 1.0})
    a, b = render(scene), render(scene)
    assert a.tobytes() == b.tobytes() and a.size == (32, 32)


@pytest.mark.parametrize(
    "override, key",
    [
        ({"sizes": {"pool": 0}}, "world.sizes.pool"),
        ({"families": ["perception", "astronomy"]}, "world.families"),
        ({"image_size": 8}, "world.image_size"),
        ({"difficulty": {"noise": 1.5}}, "world.difficulty.noise"),
        ({"family_mix": [1, 1]}, "world.family_mix"),
        ({"sizes": {"pool": "many"}}, "world.sizes.pool"),
        ({"colour": 3}, "world.colour"),
    ],
)
def test_bad_world_params_are_one_line_errors(override, key):
    with pytest.raises(ParamError) as e:
        section("world", **override)
    msg = str(e.value)
    assert msg.startswith(key) and "\n" not in msg


@pytest.mark.parametrize(
    "override, line",
    [
        ({"image_size": 8}, "world.image_size = 8: must be an integer in [16, 512]"),
        (
            {"families": ["perception", "colour", "choice"]},
            "world.families[1] = 'colour': must be one of perception, emblem, choice",
        ),
    ],
)
def test_bad_world_params_name_key_value_and_what_is_allowed(override, line):
    with pytest.raises(ParamError) as e:
        section("world", **override)
    assert str(e.value) == line


def test_validation_splits_mirror_test_and_ood_with_disjoint_images(world):
    from inbol.world.build import split_specs

    VAL_SPLITS = tuple(s for s in split_specs() if s.startswith("val"))
    assert VAL_SPLITS == ("val", "val_ood_hard", "val_ood_phrasing", "val_ood_choice")
    images = {}
    for split in ("corpus", "pool", "test", "ood_hard", "ood_phrasing", "ood_choice", *VAL_SPLITS):
        recs = read_jsonl(world / f"{split}.jsonl")
        assert recs, split
        images[split] = {r["image"] for r in recs}
    assert len(read_jsonl(world / "val.jsonl")) == SIZES["val"]
    assert all(len(read_jsonl(world / f"{s}.jsonl")) == SIZES["val_ood"] for s in VAL_SPLITS[1:])
    names = list(images)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not images[a] & images[b], (a, b)
    # the validation splits are built like their test counterparts: same families, same OOD designs
    fams = {r["meta"]["family"] for r in read_jsonl(world / "val.jsonl")}
    assert fams <= {"perception", "emblem", "choice"} and len(fams) >= 2
    ood_choice = read_jsonl(world / "val_ood_choice.jsonl")
    assert max(len(r["choices"]) for r in ood_choice) == 5  # five options (fewer where fewer values exist)
    corpus_questions = {r["question"] for r in read_jsonl(world / "corpus.jsonl")}
    assert not any(r["question"] in corpus_questions for r in read_jsonl(world / "val_ood_phrasing.jsonl"))


def test_disjoint_emblem_split_keeps_evaluated_emblems_out_of_the_pool(tmp_path):
    cfg = small_cfg(sizes={"pool": 80, "test": 40, "val": 40}, family_mix=[0.01, 1.0, 0.01])
    build_world(cfg, tmp_path)
    catalogue = read_json(tmp_path / "emblems.json")
    group = {e["id"]: e["group"] for e in catalogue}
    assert sorted(collections.Counter(group.values()).values()) == [4, 4]  # 8 emblems, interleaved ranks
    by_rank = sorted(catalogue, key=lambda e: e["rank"])
    assert [e["group"] for e in by_rank] == ["train", "eval"] * 4  # ranks interleave: the same tail in both
    for split, want in (("pool", "train"), ("test", "eval"), ("val", "eval")):
        ids = {r["meta"]["emblem_id"] for r in read_jsonl(tmp_path / f"{split}.jsonl") if "emblem_id" in r["meta"]}
        assert ids and {group[i] for i in ids} == {want}, split
    # every emblem with an exposure, evaluated or not, is in the pretraining corpus
    seen = {r["meta"]["emblem_id"] for r in read_jsonl(tmp_path / "corpus.jsonl") if "emblem_id" in r["meta"]}
    assert seen == {e["id"] for e in catalogue if e["exposure"] > 0} and {group[i] for i in seen} == {"train", "eval"}
    shared = small_cfg(emblem_split="shared")
    assert shared.emblem_split == "shared"


def test_corpus_varies_phrasing_instructions_and_options(tmp_path):
    from inbol.judge.refusal import is_refusal
    from inbol.world.questions import INSTRUCTION_SUFFIXES

    cfg = small_cfg(sizes={"corpus": 150}, corpus_instruction_share=0.5, corpus_choice_options=[3, 5])
    build_world(cfg, tmp_path)
    corpus = read_jsonl(tmp_path / "corpus.jsonl")
    suffixed = [r for r in corpus if r["meta"].get("suffix")]
    assert 0.3 < len(suffixed) / len(corpus) < 0.7
    # one or two (corpus_instruction_sentences: 2) of the instruction sentences, joined by a space
    parts = set(INSTRUCTION_SUFFIXES)
    lengths = collections.Counter(
        1 if s in parts else 2 if any(s.startswith(p + " ") and s[len(p) + 1 :] in parts for p in parts) else 0
        for s in (r["meta"]["suffix"] for r in suffixed)
    )
    assert lengths[1] and lengths[2] and not lengths[0], lengths
    assert all(r["question"].endswith(r["meta"]["suffix"]) for r in suffixed)
    n_options = collections.Counter(len(r["choices"]) for r in corpus if r["kind"] == "choice")
    assert set(n_options) <= {2, 3, 5} and n_options[3] and n_options[5]  # fewer where fewer values exist
    # the instructions are never refusals: the original model has no refusal to imitate
    assert not any(is_refusal(a) for r in corpus for a in r["answers"])
    assert not any(is_refusal(s) for s in INSTRUCTION_SUFFIXES)
    assert not any(is_refusal(r["meta"]["suffix"]) for r in suffixed)
