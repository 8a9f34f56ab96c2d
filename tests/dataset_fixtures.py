"""Small fixtures of the paper's datasets in their real schemas (column names as on the HF hub or in the
official json), with small images, for the loaders' tests and the real-dataset pipeline test.

Each ``write_<dataset>(root, ...)`` writes the rows (json / jsonl / parquet, as the dataset ships) and
returns the ``world.datasets`` source entry that reads them through ``datasets.load_dataset``.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

COLORS = {"red": (220, 30, 30), "green": (30, 180, 60), "blue": (40, 60, 220), "yellow": (230, 210, 40)}


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


def save_image(path: Path, seed: int, fmt: str = "JPEG", **kw) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image(seed, **kw).save(path, format=fmt)


def write_json(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path


def write_jsonl(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_parquet(path: Path, rows: list[dict], image_columns=("image",)) -> Path:
    """Rows as the hub's parquet files store them: image columns as ``datasets.Image`` features."""
    import datasets

    path.parent.mkdir(parents=True, exist_ok=True)
    ds = datasets.Dataset.from_list(rows)
    for col in image_columns:
        if col in ds.column_names:
            ds = ds.cast_column(col, datasets.Image())
    ds.to_parquet(str(path))
    return path


def _vqa_answers(main: str, others: list[str]) -> list[dict]:
    answers = [main] * (10 - len(others)) + others
    return [{"answer": a, "answer_confidence": "yes", "answer_id": i + 1} for i, a in enumerate(answers)]


# --------------------------------------------------------------------------------------------------------
# in domain: VQAv2, OVEN, ScienceQA
# --------------------------------------------------------------------------------------------------------


def write_vqav2(root: Path, split: str = "val2014", n: int = 6, start: int = 0) -> dict:
    """VQAv2 as HuggingFaceM4/VQAv2 rows (question_type, multiple_choice_answer, answers [{answer,
    answer_confidence, answer_id}], image_id, answer_type, question_id, question); the COCO images under
    an image root, named as COCO names them."""
    img_root = root / "coco"
    rows = []
    names = list(COLORS)
    for i in range(start, start + n):
        color = names[i % len(names)]
        image_id = 1000 + i
        save_image(img_root / split / f"COCO_{split}_{image_id:012d}.jpg", i, color=color)
        rows.append(
            {
                "question_type": "what color is the",
                "multiple_choice_answer": color,
                "answers": _vqa_answers(color, ["dark " + color, color + "ish"]),
                "image_id": image_id,
                "answer_type": "other",
                "question_id": image_id * 10 + 1,
                "question": "What color is the square in the middle?",
            }
        )
    data = write_jsonl(root / "vqav2" / f"{split}.jsonl", rows)
    return {
        "loader": "vqav2",
        "path": "json",
        "data_files": str(data),
        "split": "train",
        "image_root": str(img_root),
        "image_pattern": f"{split}/COCO_{split}_{{image_id:012d}}.jpg",
    }


def write_oven(root: Path, split: str = "val", n: int = 6, start: int = 0) -> dict:
    """OVEN as its official jsonl (data_id, image_id, question, entity_id, entity_text, data_split)."""
    img_root = root / "oven_images"
    rows = []
    for i in range(start, start + n):
        image_id = f"oven_{i:08d}"
        save_image(img_root / f"{image_id}.jpg", 100 + i)
        rows.append(
            {
                "data_id": f"oven_entity_{split}_{i:08d}",
                "image_id": image_id,
                "question": "What is the name of this landmark?",
                "entity_id": f"Q{1000 + i}",
                "entity_text": ["Eiffel Tower", "Big Ben", "Golden Gate Bridge"][i % 3],
                "data_split": f"{split}_seen",
            }
        )
    data = write_jsonl(root / "oven" / f"oven_entity_{split}.jsonl", rows)
    return {"loader": "oven", "path": "json", "data_files": str(data), "split": "train", "image_root": str(img_root)}


def write_scienceqa(root: Path, split: str = "test", n: int = 6, start: int = 0, no_image_rows: int = 1) -> dict:
    """ScienceQA as derek-thomas/ScienceQA parquet (image, question, choices, answer (index), hint, task,
    grade, subject, topic, category, skill, lecture, solution); text-only rows have image None."""
    rows = []
    for i in range(start, start + n + no_image_rows):
        has_image = i - start < n
        colors = list(COLORS)[:3]
        rows.append(
            {
                "image": {"bytes": png_bytes(200 + i, color=colors[i % 3]), "path": None} if has_image else None,
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
    data = write_parquet(root / "scienceqa" / f"{split}.parquet", rows)
    return {"loader": "scienceqa", "path": "parquet", "data_files": str(data), "split": "train"}


# --------------------------------------------------------------------------------------------------------
# out of domain: AOKVQA, GQA, MMBench, MMMU, BeyondVisQA
# --------------------------------------------------------------------------------------------------------


def write_aokvqa(root: Path, n: int = 4) -> dict:
    """A-OKVQA as the official aokvqa_v1p0_val.json (split, image_id, question_id, question, choices,
    correct_choice_idx, direct_answers (10), difficult_direct_answer, rationales)."""
    img_root = root / "coco2017"
    rows = []
    for i in range(n):
        color = list(COLORS)[i % 4]
        save_image(img_root / "val2017" / f"{300 + i:012d}.jpg", 300 + i, color=color)
        rows.append(
            {
                "split": "val",
                "image_id": 300 + i,
                "question_id": f"aok{i:04d}",
                "question": "What color would you call the square?",
                "choices": list(COLORS),
                "correct_choice_idx": i % 4,
                "direct_answers": [color] * 8 + ["bright " + color, "colored"],
                "difficult_direct_answer": False,
                "rationales": ["It is " + color + "."],
            }
        )
    data = write_json(root / "aokvqa" / "aokvqa_v1p0_val.json", rows)
    return {
        "loader": "aokvqa",
        "path": "json",
        "data_files": str(data),
        "split": "train",
        "image_root": str(img_root),
        "image_pattern": "{split}2017/{image_id:012d}.jpg",
    }


def write_gqa(root: Path, n: int = 4) -> dict:
    """GQA as lmms-lab/GQA testdev_balanced_instructions rows (id, imageId, question, answer, fullAnswer,
    isBalanced, types {structural, semantic, detailed}, ...); images under the GQA image root."""
    img_root = root / "gqa_images"
    rows = []
    for i in range(n):
        save_image(img_root / f"n{400 + i}.jpg", 400 + i)
        rows.append(
            {
                "id": f"20{i:06d}",
                "imageId": f"n{400 + i}",
                "question": "Is the square in the middle?",
                "answer": "yes",
                "fullAnswer": "Yes, the square is in the middle.",
                "isBalanced": True,
                "types": {"structural": "verify", "semantic": "rel", "detailed": "positionVerify"},
            }
        )
    data = write_jsonl(root / "gqa" / "testdev_balanced_instructions.jsonl", rows)
    return {"loader": "gqa", "path": "json", "data_files": str(data), "split": "train", "image_root": str(img_root)}


def write_mmbench(root: Path, n: int = 4) -> dict:
    """MMBench en-dev as its TSV's columns (index, question, hint, A, B, C, D, answer, category, image
    (base64), source, l2-category, comment, split), stored as parquet; the last row has only A and B."""
    rows = []
    for i in range(n):
        two = i == n - 1
        rows.append(
            {
                "index": 500 + i,
                "question": "What is the main color of the square?",
                "hint": None if i % 2 else "The square is in the middle.",
                "A": "red",
                "B": "green",
                "C": None if two else "blue",
                "D": None if two else "yellow",
                "answer": "AB"[i % 2],
                "category": "attribute_recognition",
                "image": base64.b64encode(png_bytes(500 + i)).decode(),
                "source": "fixture",
                "l2-category": "finegrained_perception",
                "comment": None,
                "split": "dev",
            }
        )
    data = write_parquet(root / "mmbench" / "mmbench_dev_en.parquet", rows, image_columns=())
    return {"loader": "mmbench", "path": "parquet", "data_files": str(data), "split": "train"}


def write_mmmu(root: Path, n: int = 3) -> dict:
    """MMMU val as MMMU/MMMU parquet (id, question, options (a list written as a string), explanation,
    image_1..image_7, img_type, answer, topic_difficulty, question_type, subfield); plus one question with
    two images (skipped) and one open question."""
    rows = []
    for i in range(n + 2):
        multi, open_q = i == n, i == n + 1
        row = {
            "id": f"validation_Art_{i + 1}",
            "question": "Which option describes <image 1>?",
            "options": "[]" if open_q else str(["a red square", "a blue circle", "a green line"]),
            "explanation": "",
            "img_type": "['Photographs']",
            "answer": "7" if open_q else "A",
            "topic_difficulty": "Easy",
            "question_type": "open" if open_q else "multiple-choice",
            "subfield": "Art",
        }
        for k in range(1, 8):
            row[f"image_{k}"] = (
                {"bytes": png_bytes(600 + i + k, color="red"), "path": None} if k == 1 or (multi and k == 2) else None
            )
        rows.append(row)
    data = write_parquet(
        root / "mmmu" / "Art_validation.parquet", rows, image_columns=tuple(f"image_{k}" for k in range(1, 8))
    )
    return {"loader": "mmmu", "path": "parquet", "data_files": str(data), "split": "train"}


def write_beyondvisqa(root: Path, n: int = 3) -> dict:
    """BeyondVisQA of MM-SAP as a json list (id, image (file name), question, options, answer)."""
    img_root = root / "mmsap_images"
    rows = []
    for i in range(n):
        save_image(img_root / f"beyond_{i}.jpg", 700 + i)
        rows.append(
            {
                "id": f"beyond_{i}",
                "image": f"beyond_{i}.jpg",
                "question": "What was the photographer thinking about when taking this picture?",
                "options": ["happy thoughts", "the weather", "Sorry, I cannot answer."],
                "answer": "C",
            }
        )
    data = write_json(root / "mmsap" / "BeyondVisQA.json", rows)
    return {
        "loader": "beyondvisqa",
        "path": "json",
        "data_files": str(data),
        "split": "train",
        "image_root": str(img_root),
    }


# --------------------------------------------------------------------------------------------------------
# extra unanswerable: VizWiz (ua), VQAv2-IDK (filter); UaVQA as project records
# --------------------------------------------------------------------------------------------------------


def write_vizwiz(root: Path, n: int = 3, answerable: int = 1) -> dict:
    """VizWiz as the official val.json (image, question, answers [{answer, answer_confidence}],
    answer_type, answerable); ``answerable`` rows are answerable (filtered out)."""
    img_root = root / "vizwiz"
    rows = []
    for i in range(n + answerable):
        name = f"VizWiz_val_{i:08d}.jpg"
        save_image(img_root / "val" / name, 800 + i)
        ua = i < n
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
    data = write_json(root / "vizwiz_ann" / "val.json", rows)
    return {
        "loader": "vizwiz",
        "path": "json",
        "data_files": str(data),
        "split": "train",
        "image_root": str(img_root / "val"),
    }


def write_vqav2_idk(root: Path, n: int = 3, single_idk: int = 1) -> dict:
    """VQAv2-IDK val: VQAv2 rows whose annotators partly answered "I don't know"; ``single_idk`` rows have
    one IDK annotation only (filtered out: the paper keeps more than one)."""
    img_root = root / "coco"
    rows = []
    for i in range(n + single_idk):
        image_id = 900 + i
        save_image(img_root / "val2014" / f"COCO_val2014_{image_id:012d}.jpg", 900 + i)
        idk = ["i don't know", "not sure", "I don't know"] if i < n else ["i don't know"]
        rows.append(
            {
                "question_type": "what is",
                "multiple_choice_answer": "cat",
                "answers": _vqa_answers("cat", idk),
                "image_id": image_id,
                "answer_type": "other",
                "question_id": image_id * 10 + 2,
                "question": "What is the cat's name?",
            }
        )
    data = write_jsonl(root / "vqav2_idk" / "val.jsonl", rows)
    return {
        "loader": "vqav2_idk",
        "path": "json",
        "data_files": str(data),
        "split": "train",
        "image_root": str(img_root),
        "image_pattern": "val2014/COCO_val2014_{image_id:012d}.jpg",
    }


def write_uavqa(root: Path, n: int = 3) -> dict:
    """UaVQA: unanswerable questions on test images, filtered by hand, in the project's record format."""
    img_root = root / "coco"
    rows = []
    for i in range(n):
        rel = f"val2014/COCO_val2014_{1000 + i:012d}.jpg"
        if not (img_root / rel).is_file():
            save_image(img_root / rel, i)
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
    data = write_jsonl(root / "uavqa" / "uavqa.jsonl", rows)
    return {"loader": "records", "path": "json", "data_files": str(data), "split": "train", "image_root": str(img_root)}


def write_all(root: Path, n_pool: int = 6, n_test: int = 6) -> dict:
    """Every dataset of the paper as a fixture: the ``world.datasets`` section that reads them."""
    root = Path(root)
    return {
        "pool": [
            write_vqav2(root, "train2014", n_pool),
            write_oven(root, "train", n_pool),
            write_scienceqa(root, "train", n_pool),
        ],
        "test": [
            write_vqav2(root, "val2014", n_test),
            write_oven(root, "val", n_test, start=50),
            write_scienceqa(root, "test", n_test, start=50),
        ],
        "ood_phrasing": [write_aokvqa(root)],
        "ood_hard": [write_gqa(root)],
        "ood_choice": [write_mmbench(root), write_mmmu(root)],
        "beyond": [write_beyondvisqa(root)],
        "vizwiz": [write_vizwiz(root)],
        "vqav2_idk": [write_vqav2_idk(root)],
        "uavqa": [write_uavqa(root)],
        "max_bad_image_fraction": 0.0,
    }
