"""Small stand-ins for the paper's dataset releases, written in the releases' own formats: the file names,
column names and types, and image layouts that the sources of ``src/inbol/datasets/loaders.py`` document (the
rows are synthetic, hand-written here; no real row is copied).

:func:`localize` takes the ``world.datasets`` entries of a profile (e.g. configs/llava-1.5-7b.yaml) and writes a
release for each under a temporary root, so that the same ``datasets.load_dataset`` call reads it:

- a path under ``/data`` (``data_files``, ``image_root``, ``image_map``, ``options.annotations``) moves to
  ``<root>/data/...``, and the file the entry names is written there, as the release ships it (json, jsonl,
  csv; images in the release's folder layout, at the entry's ``image_pattern``);
- a hub id (``derek-thomas/ScienceQA``) becomes a local folder (``<root>/hub/derek-thomas__ScienceQA-<tag>``)
  laid out as the hub repo is: parquet files
  ``<config>/<split>-00000-of-00001.parquet`` written by ``datasets`` with the card's features (``Image``
  columns embedded), and a README.md whose ``configs:`` YAML maps each config and split to its files, so
  ``load_dataset(folder, name, split=split)`` is the config's call with the folder for the id.

Everything else of the entry (loader, name, split, options, patterns) stays as the profile has it.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

COLORS = {"red": (220, 30, 30), "green": (30, 180, 60), "blue": (40, 60, 220), "yellow": (230, 210, 40)}
NAMES = list(COLORS)
HUB = "hub"  # <root>/hub/<org>__<name>: the local copies of hub repos
DATA = "/data"  # the configs' download root
REFUSAL_OPTION = "Sorry, I can't help with it"


# --------------------------------------------------------------------------------------------------------
# images and files
# --------------------------------------------------------------------------------------------------------


def image(seed: int, size: int = 32, color: str | None = None) -> Image.Image:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 60, size=(size, size, 3), dtype=np.uint8)
    c = COLORS[color] if color else tuple(int(x) for x in rng.integers(0, 255, 3))
    arr[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = c
    return Image.fromarray(arr)


def png_bytes(seed: int, **kw) -> bytes:
    buf = io.BytesIO()
    image(seed, **kw).save(buf, format="PNG")
    return buf.getvalue()


def embedded(seed: int, **kw) -> dict:
    """An ``Image`` feature value with PNG bytes (what a hub parquet stores)."""
    return {"bytes": png_bytes(seed, **kw), "path": None}


def save_image(path: Path, seed: int, fmt: str | None = None, **kw) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ext = path.suffix.lower()
    image(seed, **kw).save(path, format=fmt or ("PNG" if ext == ".png" else "JPEG"))


def write_json(path: Path, obj) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path


def write_jsonl(path: Path, rows) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def read_json_any(path: Path) -> list[dict]:
    """The rows of a json list or a jsonl file."""
    text = Path(path).read_text()
    return json.loads(text) if text.lstrip().startswith("[") else [json.loads(x) for x in text.splitlines() if x]


def write_hub(folder: Path, config: str, split: str, rows: list[dict], features) -> Path:
    """One config/split of a hub repo as ``datasets`` pushes it, and the README.md ``configs:`` YAML listing
    every config/split of the folder (regenerated, so several calls add up)."""
    import datasets

    folder = Path(folder)
    path = folder / config / f"{split}-00000-of-00001.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list(rows, features=features).to_parquet(str(path))
    configs: dict[str, list[str]] = {}
    for f in sorted(folder.glob("*/*-00000-of-00001.parquet")):
        configs.setdefault(f.parent.name, []).append(f.name.split("-00000-")[0])
    lines = ["---", "configs:"]
    for name, splits in configs.items():
        lines += [f"- config_name: {name}", "  data_files:"]
        lines += [f"  - split: {s}\n    path: {name}/{s}-*" for s in splits]
    (folder / "README.md").write_text("\n".join(lines + ["---", ""]))
    return path


def features(spec: dict):
    """``datasets.Features`` from a compact spec: "string", "int8", "int64", "bool", "image", ["string"]
    (a list), {"a": "string"} (a struct), [{"a": ...}] (a list of structs)."""
    import datasets

    def feat(s):
        if s == "image":
            return datasets.Image()
        if isinstance(s, str):
            return datasets.Value(s)
        if isinstance(s, list):
            return datasets.List(feat(s[0]))
        return {k: feat(v) for k, v in s.items()}

    return datasets.Features({k: feat(v) for k, v in spec.items()})


# --------------------------------------------------------------------------------------------------------
# the releases, one writer per loader: (entry with local paths, root, n, start) -> None
# --------------------------------------------------------------------------------------------------------


def _vqa_answers(main: str, others: list[str]) -> list[dict]:
    answers = [main] * (10 - len(others)) + others
    confidence = ["yes", "maybe", "yes", "no", "yes", "yes", "maybe", "yes", "yes", "yes"]
    return [{"answer": a, "answer_confidence": confidence[i], "answer_id": i + 1} for i, a in enumerate(answers)]


def _coco_image(entry: dict, image_id: int, seed: int, color: str | None = None) -> None:
    rel = entry["image_pattern"].format(image_id=image_id)
    save_image(Path(entry["image_root"]) / rel, seed, color=color)


def write_vqav2(entry: dict, root: Path, n: int, start: int = 0) -> None:
    """VQAv2, official json: ``v2_OpenEnded_mscoco_<subtype>_questions.json`` (``{info, task_type, data_type,
    license, data_subtype, questions: [{image_id, question, question_id}]}``) and, when the entry names one
    (``options.annotations``), ``v2_mscoco_<subtype>_annotations.json`` (``{info, license, data_subtype,
    annotations: [{question_type, multiple_choice_answer, answers: [{answer, answer_confidence, answer_id}],
    image_id, answer_type, question_id}], data_type}``), in another order; COCO images at the entry's
    pattern.  A hub entry (``lmms-lab/VQAv2``) gets that repo's parquet instead (embedded images)."""
    if entry["path"] != "json":
        return _write_vqav2_hub(entry, n, start)
    subtype = "train2014" if "train2014" in str(entry["data_files"]) else "val2014"
    base = 1000 if subtype == "train2014" else 2000
    questions, annotations = [], []
    for i in range(start, start + n):
        color = NAMES[i % len(NAMES)]
        image_id = base + i
        qid = image_id * 1000 + 1  # VQA question ids: image id x 1000 + question number
        _coco_image(entry, image_id, base + i, color)
        questions.append(
            {"image_id": image_id, "question": "What color is the square in the middle?", "question_id": qid}
        )
        annotations.append(
            {
                "question_type": "what color is the",
                "multiple_choice_answer": color,
                "answers": _vqa_answers(color, ["dark " + color, color + "ish"]),
                "image_id": image_id,
                "answer_type": "other",
                "question_id": qid,
            }
        )
    info = {"description": "fixture", "version": "2.0", "year": 2017}
    write_json(
        Path(entry["data_files"]),
        {
            "info": info,
            "task_type": "Open-Ended",
            "data_type": "mscoco",
            "license": {"url": "http://creativecommons.org/licenses/by/4.0/", "name": "CC BY 4.0"},
            "data_subtype": subtype,
            "questions": questions,
        },
    )
    if "annotations" in entry.get("options", {}):
        write_json(
            Path(entry["options"]["annotations"]),
            {
                "info": info,
                "license": {"url": "http://creativecommons.org/licenses/by/4.0/", "name": "CC BY 4.0"},
                "data_subtype": subtype,
                "annotations": annotations[::-1],
                "data_type": "mscoco",
            },
        )


VQAV2_HUB = {
    "question_type": "string",
    "multiple_choice_answer": "string",
    "answers": [{"answer": "string", "answer_confidence": "string", "answer_id": "int64"}],
    "image_id": "int64",
    "answer_type": "string",
    "question_id": "int64",
    "question": "string",
    "image": "image",
}


def _write_vqav2_hub(entry: dict, n: int, start: int) -> None:
    rows = []
    for i in range(start, start + n):
        color = NAMES[i % len(NAMES)]
        rows.append(
            {
                "question_type": "what color is the",
                "multiple_choice_answer": color,
                "answers": _vqa_answers(color, ["dark " + color]),
                "image_id": 3000 + i,
                "answer_type": "other",
                "question_id": (3000 + i) * 1000,
                "question": "What color is the square in the middle?",
                "image": embedded(3000 + i, color=color),
            }
        )
    write_hub(Path(entry["path"]), entry.get("name") or "default", entry["split"], rows, features(VQAV2_HUB))


OVEN_SOURCES = [  # (the source dataset's path in ovenid2impath.csv, its extension)
    ("imagenet/train/n02690373/n02690373_{i}.JPEG", "JPEG"),
    ("gldv2/train/a/b/c/abc{i:04d}.jpg", "JPEG"),
    ("sun397/SUN397/a/abbey/sun_{i:04d}.png", "PNG"),
]


def write_oven(entry: dict, root: Path, n: int, start: int = 0, unmapped: int = 0) -> None:
    """OVEN entity split, official jsonl (``data_id``, ``image_id``, ``question``, ``entity_id``, ``entity_text``,
    ``data_split``); ``ovenid2impath.csv`` (``oven_id,source_path`` lines, no header; the source files'
    extensions vary); the images as merge_oven_images.py leaves them:
    ``<image_root>/oven_images/<2 digits>/<oven_id><ext>``.  ``unmapped`` more rows have an image id the
    csv lacks."""
    split = "train" if "train" in str(entry["data_files"]) else "val"
    offset = 0 if split == "train" else 500
    rows, csv_lines = [], []
    for i in range(start, start + n + unmapped):
        number = 1_000_000 * (i % 3) + offset + i  # ids in several 2-digit shards
        image_id = f"oven_{number:08d}"
        source, fmt = OVEN_SOURCES[i % 3]
        source = source.format(i=offset + i)
        ext = Path(source).suffix
        if i < start + n:
            csv_lines.append(f"{image_id},{source}")
            save_image(
                Path(entry["image_root"]) / "oven_images" / image_id[5:7] / f"{image_id}{ext}", 100 + number, fmt
            )
        rows.append(
            {
                "data_id": f"oven_entity_{split}_{number:08d}",
                "image_id": image_id,
                "question": "What is the name of this landmark?",
                "entity_id": f"Q{1000 + i}",
                "entity_text": ["Eiffel Tower", "Big Ben", "Golden Gate Bridge"][i % 3],
                "data_split": "entity_train" if split == "train" else ["entity_val_seen", "entity_val_unseen"][i % 2],
            }
        )
    write_jsonl(Path(entry["data_files"]), rows)
    csv = Path(entry["image_map"])
    old = csv.read_text().splitlines() if csv.is_file() else []
    csv.parent.mkdir(parents=True, exist_ok=True)
    csv.write_text("".join(line + "\n" for line in sorted(set(old) | set(csv_lines))))


SCIENCEQA = {
    "image": "image",
    "question": "string",
    "choices": ["string"],
    "answer": "int8",
    "hint": "string",
    "task": "string",
    "grade": "string",
    "subject": "string",
    "topic": "string",
    "category": "string",
    "skill": "string",
    "lecture": "string",
    "solution": "string",
}


def write_scienceqa(entry: dict, root: Path, n: int, start: int = 0, no_image_rows: int = 1) -> None:
    """ScienceQA as ``derek-thomas/ScienceQA`` parquet (card features; ``answer`` an int8 index; ``image`` None for
    text-only questions, ``hint`` "" when none)."""
    rows = []
    colors = NAMES[:3]
    for i in range(start, start + n + no_image_rows):
        has_image = i - start < n
        rows.append(
            {
                "image": embedded(200 + i, color=colors[i % 3]) if has_image else None,
                "question": "Which color is the square?",
                "choices": colors,
                "answer": i % 3,
                "hint": "Look at the middle of the picture." if i % 2 else "",
                "task": "closed choice",
                "grade": "grade2",
                "subject": "natural science",
                "topic": "colors",
                "category": "Colors",
                "skill": "Identify colors",
                "lecture": "",
                "solution": "",
            }
        )
    write_hub(Path(entry["path"]), entry.get("name") or "default", entry["split"], rows, features(SCIENCEQA))


AOKVQA = {
    "image": "image",
    "question_id": "string",
    "question": "string",
    "choices": ["string"],
    "correct_choice_idx": "int64",
    "direct_answers": "string",
    "difficult_direct_answer": "bool",
    "rationales": ["string"],
}


def write_aokvqa(entry: dict, root: Path, n: int, start: int = 0) -> None:
    """A-OKVQA as ``HuggingFaceM4/A-OKVQA`` parquet: ``direct_answers`` a string holding a Python list of 10."""
    rows = []
    for i in range(start, start + n):
        color = NAMES[i % 4]
        rows.append(
            {
                "image": embedded(300 + i, color=color),
                "question_id": f"22MexNkBPp{i:04d}",
                "question": "What color would you call the square?",
                "choices": NAMES,
                "correct_choice_idx": i % 4,
                "direct_answers": str([color] * 8 + ["bright " + color, "colored"]),
                "difficult_direct_answer": False,
                "rationales": ["It is " + color + ".", "The square looks " + color + "."],
            }
        )
    write_hub(Path(entry["path"]), entry.get("name") or "default", entry["split"], rows, features(AOKVQA))


GQA = {
    "id": "string",
    "imageId": "string",
    "question": "string",
    "answer": "string",
    "fullAnswer": "string",
    "isBalanced": "bool",
    "types": {"structural": "string", "semantic": "string", "detailed": "string"},
}


def write_gqa(entry: dict, root: Path, n: int, start: int = 0) -> None:
    """GQA as ``lmms-lab-encoder/GQA`` ``testdev_balanced_instructions`` parquet; the images in the official
    folder (``images/<imageId>.jpg``) at the entry's pattern."""
    rows = []
    for i in range(start, start + n):
        image_id = f"n{400000 + i}"
        save_image(Path(entry["image_root"]) / entry["image_pattern"].format(imageId=image_id), 400 + i)
        rows.append(
            {
                "id": f"20{i:06d}",
                "imageId": image_id,
                "question": "Is the square in the middle?",
                "answer": "yes",
                "fullAnswer": "Yes, the square is in the middle.",
                "isBalanced": True,
                "types": {"structural": "verify", "semantic": "rel", "detailed": "positionVerify"},
            }
        )
    write_hub(Path(entry["path"]), entry["name"], entry["split"], rows, features(GQA))


MMBENCH = {
    "index": "int64",
    "question": "string",
    "hint": "string",
    "answer": "string",
    "A": "string",
    "B": "string",
    "C": "string",
    "D": "string",
    "category": "string",
    "image": "image",
    "source": "string",
    "L2-category": "string",
    "comment": "string",
    "split": "string",
}


def write_mmbench(entry: dict, root: Path, n: int, start: int = 0, circular: bool = True) -> None:
    """MMBench en dev as ``lmms-lab-encoder/MMBench`` (config ``en``) parquet: an embedded ``image``,
    ``L2-category``; the last question has options A and B only; with ``circular``, every question also has
    its circular-evaluation copy (``index + 1e6``, options rotated)."""
    rows = []
    for i in range(start, start + n):
        options = ["red", "green"] if i == start + n - 1 else ["red", "green", "blue", "yellow"]
        answer = i % 2
        main = {
            "index": 500 + i,
            "question": "What is the main color of the square?",
            "hint": None if i % 2 else "The square is in the middle.",
            "answer": "AB"[answer],
            **{c: (options[k] if k < len(options) else None) for k, c in enumerate("ABCD")},
            "category": "attribute_recognition",
            "image": embedded(500 + i),
            "source": "fixture",
            "L2-category": "finegrained_perception",
            "comment": None,
            "split": "dev",
        }
        rows.append(main)
        if circular:
            rot = options[1:] + options[:1]
            copy_row = {**main, "index": 1_000_000 + 500 + i, "answer": "ABCD"[(answer - 1) % len(options)]}
            copy_row.update({c: (rot[k] if k < len(rot) else None) for k, c in enumerate("ABCD")})
            rows.append(copy_row)
    write_hub(Path(entry["path"]), entry["name"], entry["split"], rows, features(MMBENCH))


MMMU = {
    "id": "string",
    "question": "string",
    "options": "string",
    "explanation": "string",
    **{f"image_{k}": "image" for k in range(1, 8)},
    "img_type": "string",
    "answer": "string",
    "topic_difficulty": "string",
    "question_type": "string",
    "subfield": "string",
}


def write_mmmu(entry: dict, root: Path, n: int, start: int = 0) -> None:
    """MMMU val as ``MMMU/MMMU`` parquet, one config per subject (the entry's ``name`` list): ``options`` a
    string holding a list, ``image_1``..``image_7``.  Each subject has ``n`` multiple-choice questions; the
    first subject also one with two images (skipped) and one open question."""
    names = entry["name"] if isinstance(entry["name"], list) else [entry["name"]]
    for s, subject in enumerate(names):
        rows = []
        extra = 2 if s == 0 else 0
        for i in range(n + extra):
            multi, open_q = extra and i == n, extra and i == n + 1
            row = {
                "id": f"validation_{subject}_{i + 1}",
                "question": "Which option describes <image 1>?",
                "options": "[]" if open_q else str(["a red square", "a blue circle", "a green line"]),
                "explanation": "",
                "img_type": "['Photographs']",
                "answer": "7" if open_q else "A",
                "topic_difficulty": "Easy",
                "question_type": "open" if open_q else "multiple-choice",
                "subfield": subject,
            }
            for k in range(1, 8):
                row[f"image_{k}"] = (
                    embedded(600 + 10 * s + i + k, color="red") if k == 1 or (multi and k == 2) else None
                )
            rows.append(row)
        write_hub(Path(entry["path"]), subject, entry["split"], rows, features(MMMU))


def write_beyondvisqa(entry: dict, root: Path, n: int, start: int = 0) -> None:
    """BeyondVisQA of MM-SAP: the release's schema is NOT known (see the loader); a json list of {question_id,
    image (file name), question, options (5, one the refusal option), answer, type}, images under the root."""
    rows = []
    for i in range(start, start + n):
        name = f"COCO_val2014_{700000 + i:012d}.jpg"
        save_image(Path(entry["image_root"]) / name, 700 + i)
        options = ["happy thoughts", "the weather", "lunch", "a song"]
        options.insert(i % 5, REFUSAL_OPTION)
        rows.append(
            {
                "question_id": f"beyond_{i}",
                "image": name,
                "question": "What was the photographer thinking about when taking this picture?",
                "options": options,
                "answer": "ABCDE"[i % 5],
                "type": "Other modalities Information",
            }
        )
    write_json(Path(entry["data_files"]), rows)


def write_vizwiz(entry: dict, root: Path, n: int, start: int = 0, answerable: int = 1) -> None:
    """VizWiz val, official ``Annotations/val.json``: a list of {image, question, answers [{answer,
    answer_confidence}], answer_type, answerable}; images ``val/VizWiz_val_<8 digits>.jpg``.  ``answerable``
    more rows are answerable (filtered out)."""
    rows = []
    for i in range(start, start + n + answerable):
        name = f"VizWiz_val_{i:08d}.jpg"
        save_image(Path(entry["image_root"]) / name, 800 + i)
        ua = i < start + n
        ans = ["unanswerable"] * 8 + ["blurry", "unsuitable"] if ua else ["soup"] * 10
        rows.append(
            {
                "image": name,
                "question": "What is in this can?",
                "answers": [{"answer": a, "answer_confidence": "yes"} for a in ans],
                "answer_type": "unanswerable" if ua else "other",
                "answerable": 0 if ua else 1,
            }
        )
    write_json(Path(entry["data_files"]), rows)


def write_vqav2_idk(entry: dict, root: Path, n: int, start: int = 0, single_idk: int = 1) -> None:
    """VQAv2-IDK val as ``data/VQAv2-IDK-val.json`` of ncsoft/idk: a list of {question_id (str), image
    ("val2014/COCO_val2014_<12 digits>.jpg"), question, answer (10 strings), keywords (one per IDK answer)};
    ``single_idk`` more rows have one IDK annotation only (the paper drops them)."""
    rows = []
    for i in range(start, start + n + single_idk):
        image_id = 900000 + i
        rel = f"val2014/COCO_val2014_{image_id:012d}.jpg"
        save_image(Path(entry["image_root"]) / rel, 900 + i)
        idk = ["i don't know", "not sure", "None"] if i < start + n else ["unknown"]
        keywords = ["don't know", "not sure", "none"] if i < start + n else ["unknown"]
        rows.append(
            {
                "question_id": str(image_id * 1000 + 2),
                "image": rel,
                "question": "What is the cat's name?",
                "answer": ["cat"] * (10 - len(idk)) + idk,
                "keywords": keywords,
            }
        )
    write_json(Path(entry["data_files"]), rows)


def write_records(entry: dict, root: Path, n: int, start: int = 0) -> None:
    """UaVQA in the project's record format, on the VQAv2 val (test) images under the COCO root."""
    rows = []
    for i in range(start, start + n):
        rel = f"coco/val2014/COCO_val2014_{2000 + i:012d}.jpg"
        if not (Path(entry["image_root"]) / rel).is_file():
            save_image(Path(entry["image_root"]) / rel, 2000 + i)
        rows.append(
            {
                "id": f"ua{i}",
                "image": rel,
                "question": "What is written on the dog's collar?",
                "answers": [],
                "kind": "unanswerable",
                "meta": {"category": "absent"},
            }
        )
    write_jsonl(Path(entry["data_files"]), rows)


WRITERS = {
    "vqav2": write_vqav2,
    "oven": write_oven,
    "scienceqa": write_scienceqa,
    "aokvqa": write_aokvqa,
    "gqa": write_gqa,
    "mmbench": write_mmbench,
    "mmmu": write_mmmu,
    "beyondvisqa": write_beyondvisqa,
    "vizwiz": write_vizwiz,
    "vqav2_idk": write_vqav2_idk,
    "records": write_records,
}
BUILDERS = ("json", "parquet", "csv")


# --------------------------------------------------------------------------------------------------------
# a profile's sources on the fixtures
# --------------------------------------------------------------------------------------------------------


def relocate(entry: dict, root: Path) -> dict:
    """The entry with its ``/data`` paths under ``<root>/data`` and its hub id a local folder."""
    root = Path(root)

    def move(p):
        if isinstance(p, list):
            return [move(x) for x in p]
        return str(root / "data" / Path(p).relative_to(DATA)) if str(p).startswith(DATA + "/") else p

    e = copy.deepcopy(entry)
    for key in ("data_files", "image_root", "image_map"):
        if e.get(key) is not None:
            e[key] = move(e[key])
    if "annotations" in e.get("options", {}):
        e["options"]["annotations"] = move(e["options"]["annotations"])
    if e["path"] not in BUILDERS and not Path(e["path"]).exists():
        # datasets caches a local folder by its name and config, whatever its path or contents: a name of its
        # own per root keeps one test's copy from being read for another's
        tag = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:8]
        e["path"] = str(root / HUB / f"{e['path'].replace('/', '__')}-{tag}")
    return e


def localize_entry(entry: dict, root: Path, n: int = 4, start: int = 0, **kw) -> dict:
    """Write the release that ``entry`` reads (``n`` questions, row numbers from ``start``) and return the
    entry reading it."""
    e = relocate(entry, root)
    WRITERS[e["loader"]](e, Path(root), n, start, **kw)
    return e


def localize(section: dict, root: Path, n: int = 4, n_in_domain: int | None = None) -> dict:
    """A profile's ``world.datasets`` section with every source on its fixture (``n`` questions each; the
    pool and test sources ``n_in_domain``)."""
    out = copy.deepcopy(section)
    for split, entries in section.items():
        if not isinstance(entries, list):
            continue
        size = n_in_domain or n if split in ("pool", "test") else n
        # distinct rows (and so images) per split: the world drops validation questions on shared images
        start = 50 * (split == "test") + 100 * split.startswith("val")
        out[split] = [localize_entry(e, root, size, start=start) for e in entries]
    return out


def profile_datasets(profile: str = "llava-1.5-7b.yaml") -> dict:
    """The ``world.datasets`` section of a composed profile of configs/."""
    from helpers import ROOT
    from inbol.profiles import compose

    return compose(ROOT / "configs" / profile)["world"]["datasets"]


def profile_entry(split: str, loader: str, profile: str = "llava-1.5-7b.yaml") -> dict:
    return next(e for e in profile_datasets(profile)[split] if e["loader"] == loader)
