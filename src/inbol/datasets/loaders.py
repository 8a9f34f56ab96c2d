"""One loader per dataset of the paper: its release's schema (column names and types as the hub card or the
official files publish them) mapped to the project's question record ``{id, source, image, question, answers,
kind, choices?, meta}``.

Rows are read with ``datasets.load_dataset`` (:meth:`Loader.read`, by default :func:`load_rows`);
:meth:`Loader.convert` maps one row.  A row may be *filtered* (a ScienceQA question without an image, an
answerable VizWiz question, an MMBench circular-evaluation copy): ``convert`` returns ``(None, reason)`` and
the build counts it.  A malformed row (a required field that is null, an empty answer list, a list stored as a
string that does not parse, an answer index out of range) raises :class:`BadRow`, one line naming the set, the
row id and the field; the build counts it with the rows whose image is missing or unreadable, against
``world.datasets.max_bad_image_fraction``.  A source whose rows lack a required column altogether stops the
build at once.

| loader | dataset (the config's source) | family | kind | answers |
| --- | --- | --- | --- | --- |
| vqav2 | VQAv2 train pool / val test (official question + annotation json, joined) | perception | open | every annotator answer (``meta.vqa_answers``: the 10) |
| oven | OVEN entity train / val (official jsonl + ``ovenid2impath.csv``) | emblem | open | ``entity_text`` |
| scienceqa | ScienceQA train / test, rows with an image (``derek-thomas/ScienceQA``) | choice | choice | the letter of ``answer`` |
| aokvqa | A-OKVQA val, direct answers (``HuggingFaceM4/A-OKVQA``) | perception | open | every ``direct_answers`` entry (``meta.vqa_answers``) |
| gqa | GQA test-dev balanced (``lmms-lab-encoder/GQA``) | perception | open | ``answer`` |
| mmbench | MMBench en dev, one row per question (``lmms-lab-encoder/MMBench``) | choice | choice | the letter |
| mmmu | MMMU val, single-image questions (``MMMU/MMMU``, 30 subjects) | choice | choice (or open) | the letter (or the answer) |
| beyondvisqa | BeyondVisQA of MM-SAP (schema unverified, see below) | - | unanswerable | [] |
| vizwiz | VizWiz val (official ``Annotations/val.json``), rows annotated unanswerable | - | unanswerable | [] |
| vqav2_idk | VQAv2-IDK val (``ncsoft/idk`` ``data/VQAv2-IDK-val.json``), >= ``min_idk`` IDK annotations | - | unanswerable | [] |
| records | the project's own record format (e.g. a hand-filtered UaVQA file) | given | given | given |

Where each schema fact comes from is said at each loader (a repository and path at a commit, or a dataset
card); docs/gpu.md lists the downloads and what is still unverified.
"""

from __future__ import annotations

import ast
import collections
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..judge.normalize import normalize_answer
from ..world.questions import CHOICE_INSTRUCTION, OOD_CHOICE_INSTRUCTION

LETTERS = "ABCDEFGHIJ"
ID_COLUMNS = ("question_id", "id", "data_id", "index", "qid")

# VQAv2-IDK (Cha et al., 2024): the IDK keywords the authors matched in the annotators' answers, i.e. every value
# of the release's ``keywords`` field (ncsoft/idk @6ae54f2, data/VQAv2-IDK-val.json; counts over its 6,624 rows:
# none 4293, unknown 2184, don't know 1424, not sure 1233, unanswerable 366, uncertain 18, bad question 5,
# depends 4, ambiguous 1).  A case-insensitive substring match of these words reproduces len(keywords) on every
# row of that file; the loader counts len(keywords) itself when the column is there.
IDK_KEYWORDS = (
    "none",
    "unknown",
    "don't know",
    "not sure",
    "unanswerable",
    "uncertain",
    "bad question",
    "depends",
    "ambiguous",
)
CIRCULAR_OFFSET = 1_000_000  # MMBench: rows with index >= 1e6 are option-rotated copies of row index % 1e6


class BadRow(DataError):
    """One malformed row: ``where`` (the set and the row id), the field and what is wrong with it."""

    def __init__(self, where: str, field: str, problem: str):
        self.where, self.field, self.problem = where, field, problem
        super().__init__(f"{where}: field {field!r} {problem}")


def missing(value: Any) -> bool:
    """Null, NaN (pandas-written TSV/parquet), an empty string or the string "nan"."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and (not value.strip() or value.strip().lower() == "nan")


def _clip(value: Any, n: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."


def literal_list(value: Any, where: str, field: str) -> list:
    """A list field that a release may store as a string holding a Python list (A-OKVQA's
    ``direct_answers``, MMMU's ``options``): parsed with ``ast.literal_eval``; a BadRow when it does not parse
    or is no list."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise BadRow(where, field, f"= {_clip(value)} does not parse as a list") from None
        if isinstance(parsed, (list, tuple)):
            return list(parsed)
        raise BadRow(where, field, f"= {_clip(value)} holds a {type(parsed).__name__}, not a list")
    raise BadRow(where, field, f"must be a list, got {type(value).__name__}")


def ranked_unique(answers: Sequence[str]) -> list[str]:
    """Distinct answers, most frequent first (ties: first seen)."""
    counts = collections.Counter(answers)
    order = {a: i for i, a in reversed(list(enumerate(answers)))}
    return sorted(counts, key=lambda a: (-counts[a], order[a]))


def choice_question(text: str, choices: Sequence[str], instruction: str, context: str | None = None) -> str:
    lines = (
        ([context] if context else []) + [text] + [f"{LETTERS[i]}. {c}" for i, c in enumerate(choices)] + [instruction]
    )
    return "\n".join(lines)


class Loader:
    name = ""
    family: str | None = None
    kind = "open"
    required: tuple[tuple[str, ...], ...] = ()  # each entry: alternative column names, one must exist
    image_columns: tuple[str, ...] = ("image",)  # columns holding the image (embedded, or a file name)
    default_pattern: str | None = None  # file name from row fields when no image column exists
    base64_images = False
    map_key = "image_id"  # the column an ``image_map`` is keyed by

    def opt(self, options: dict, key: str, default):
        return options.get(key, default)

    def read(self, spec, label: str):
        """The source's rows (a ``datasets.Dataset``)."""
        return load_rows(spec)

    def convert(self, row: dict, where: str, options: dict) -> tuple[dict | None, str | None]:
        raise NotImplementedError

    def mapped_image(self, key: str, mapped: str) -> str:
        """The image path (under ``image_root``) of a row whose ``image_map`` entry is ``mapped``."""
        return mapped

    def fallback_image(self, row: dict, image_root: str | None) -> str | None:
        """The image path when the row has no image column, no ``image_pattern`` and no ``image_map``."""
        return None

    # helpers ------------------------------------------------------------------------------------------
    @staticmethod
    def field(row: dict, names: str | Sequence[str], where: str, required: bool = True):
        names = (names,) if isinstance(names, str) else tuple(names)
        for n in names:
            if n in row and not missing(row[n]):
                return row[n]
        if required:
            raise BadRow(where, names[0], "is empty or null")
        return None

    @staticmethod
    def answers_of(raw, where: str, field: str) -> list[str]:
        """Annotator answers from a list of strings or of ``{answer, ...}`` dicts (HF also stores a list of
        dicts as a dict of lists; some releases store the list as a string)."""
        if isinstance(raw, dict) and "answer" in raw and isinstance(raw["answer"], list):
            raw = raw["answer"]
        raw = literal_list(raw, where, field)
        out = []
        for a in raw:
            a = a.get("answer") if isinstance(a, dict) else a
            if not missing(a):
                out.append(str(a).strip())
        return out


def _vqa_answers(loader: Loader, row: dict, where: str, field: str = "answers") -> list[str]:
    return loader.answers_of(loader.field(row, field, where, required=False) or [], where, field)


# ----------------------------------------------------------------------------------------------------------
# in domain
# ----------------------------------------------------------------------------------------------------------


class VQAv2(Loader):
    """VQAv2.  No hub copy with a train split, 10 answers and images loads without a script:
    ``HuggingFaceM4/VQAv2`` is a loading script (``VQAv2.py``; ``datasets`` >= 4 refuses it) and
    ``lmms-lab/VQAv2`` has validation/testdev/test only.  So the config reads the official files
    (visualqa.org, "v2_Questions_Train_mscoco.zip" / "v2_Annotations_Train_mscoco.zip", and the Val ones):
    ``v2_OpenEnded_mscoco_<subtype>_questions.json`` = ``{..., "questions": [{image_id, question, question_id}]}``
    and ``v2_mscoco_<subtype>_annotations.json`` = ``{..., "annotations": [{question_type,
    multiple_choice_answer, answers: [{answer, answer_confidence, answer_id}], image_id, answer_type,
    question_id}]}`` (the official VQA API, vqaTools/vqa.py ``createIndex``, reads ``dataset['annotations']``
    and ``questions['questions']`` keyed by ``question_id``).  ``data_files`` is the
    questions file, ``options.annotations`` the annotation file; they are joined on ``question_id`` (a question
    without an annotation is a bad row).  Images: COCO ``<subtype>/COCO_<subtype>_<image_id:012d>.jpg``.

    Without ``options.annotations`` the rows are read as they are: ``lmms-lab/VQAv2`` (card: the same fields,
    ``answers`` a list of {answer, answer_confidence, answer_id}, plus an embedded ``image``) loads that way."""

    name, family = "vqav2", "perception"
    required = (("question",), ("answers", "multiple_choice_answer"), ("image", "image_id"))
    default_pattern = "{image_id}.jpg"

    def read(self, spec, label):
        annotations = spec.options.get("annotations")
        if annotations is None:
            return load_rows(spec)
        return join_vqa(spec, str(annotations), label)

    def convert(self, row, where, options):
        raw = _vqa_answers(self, row, where)
        mc = self.field(row, "multiple_choice_answer", where, required=False)
        answers = ranked_unique(([str(mc).strip()] if mc is not None else []) + raw)
        if mc is not None:
            answers = [str(mc).strip()] + [a for a in answers if a != str(mc).strip()]
        if not answers:
            raise BadRow(where, "answers", "is an empty answer list (no annotation with this question_id?)")
        meta = {
            "family": self.family,
            "qtype": str(self.field(row, "answer_type", where, False) or "vqa"),
            "vqa_answers": raw,
            "question_type": self.field(row, "question_type", where, False),
        }
        return {
            "question": str(self.field(row, "question", where)).strip(),
            "answers": answers,
            "kind": "open",
            "meta": meta,
        }, None


def join_vqa(spec, annotations: str, label: str):
    """The official VQA question file (``data_files``, json field ``questions``) joined on ``question_id`` with
    its annotation file (json field ``annotations``); a question without an annotation keeps null answers."""
    import datasets
    import pyarrow as pa

    if not Path(annotations).is_file():
        raise DataError(f"{label}: field 'options.annotations' = {annotations!r}: no such file")
    questions = load_rows(spec, field="questions")
    answers = load_rows(spec.replace(data_files=annotations), field="annotations")
    for what, ds in (("questions", questions), ("annotations", answers)):
        if "question_id" not in ds.column_names:
            raise DataError(
                f"{label}: the {what} file has no field 'question_id' (columns: {', '.join(ds.column_names)})"
            )
    index: dict = {}
    for i, qid in enumerate(answers["question_id"]):
        index.setdefault(qid, i)
    take = pa.array([index.get(qid) for qid in questions["question_id"]], type=pa.int64())
    extra = [c for c in answers.column_names if c not in questions.column_names]
    table = questions.data.table
    joined = answers.data.table.select(extra).take(take)
    for col in extra:
        table = table.append_column(col, joined.column(col))
    return datasets.Dataset(datasets.table.InMemoryTable(table))


class OVEN(Loader):
    """OVEN entity split, the official jsonl (open-vision-language/oven @d3637c6 README: ``data_id``,
    ``image_id`` ("oven_00000000"), ``question``, ``entity_id`` (Wikidata QID), ``entity_text``, ``data_split``;
    all strings, no aliases).  Images: ``image_downloads/merge_oven_images.py`` of that repo reads
    ``ovenid2impath.csv`` (lines ``oven_id,source_path``, no header) and copies each source image to
    ``oven_images/<first two digits of the id's number>/<oven_id><the source file's extension>`` (.jpg, .JPEG
    for ImageNet, .png, ...).  With ``image_map: <that csv>`` and ``image_root`` = the folder holding
    ``oven_images/``, the loader rebuilds that path; an id missing from the map, or a mapped file missing on
    disk, is a bad image.  Without a map it looks for ``oven_images/<2 digits>/<oven_id>.*``."""

    name, family = "oven", "emblem"
    required = (("question",), ("entity_text",), ("image", "image_id"))
    image_columns = ("image",)

    @staticmethod
    def shard(image_id: str) -> str:
        return f"oven_images/{image_id.split('_')[-1][:2]}"

    def mapped_image(self, key, mapped):
        return f"{self.shard(key)}/{key}{os.path.splitext(mapped)[1]}"

    def fallback_image(self, row, image_root):
        image_id = row.get("image_id")
        if missing(image_id) or image_root is None:
            return None
        folder = Path(image_root) / self.shard(str(image_id))
        found = sorted(folder.glob(f"{glob_escape(str(image_id))}.*")) if folder.is_dir() else []
        return str(found[0].relative_to(image_root)) if found else f"{self.shard(str(image_id))}/{image_id}.jpg"

    def convert(self, row, where, options):
        entity = str(self.field(row, "entity_text", where)).strip()
        aliases = literal_list(self.field(row, "entity_aliases", where, required=False) or [], where, "entity_aliases")
        answers = ranked_unique([entity] + [str(a).strip() for a in aliases if not missing(a)])
        meta = {
            "family": self.family,
            "qtype": str(self.field(row, "data_split", where, False) or "entity"),
            "entity_id": self.field(row, "entity_id", where, False),
        }
        return {
            "question": str(self.field(row, "question", where)).strip(),
            "answers": answers,
            "kind": "open",
            "meta": meta,
        }, None


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]])", r"[\1]", text)


def _letter_answer(answer, choices: Sequence[str], where: str) -> str:
    """The answer as a letter, from an index (ScienceQA) or a letter (MMBench, MMMU)."""
    if isinstance(answer, (int, float)) and not isinstance(answer, bool) and float(answer).is_integer():
        i = int(answer)
    elif isinstance(answer, str) and answer.strip().upper() in LETTERS and answer.strip():
        i = LETTERS.index(answer.strip().upper())
    else:
        raise BadRow(where, "answer", f"= {answer!r} is neither an option index nor an option letter")
    if not 0 <= i < len(choices):
        raise BadRow(where, "answer", f"= {answer!r} is outside the {len(choices)} options")
    return LETTERS[i]


class ScienceQA(Loader):
    """ScienceQA, ``derek-thomas/ScienceQA`` (parquet; card: ``image`` Image (None for text-only questions),
    ``question``, ``choices`` list of strings, ``answer`` int8 index into ``choices``, ``hint`` ("" if none),
    ``task``, ``grade``, ``subject``, ``topic``, ``category``, ``skill``, ``lecture``, ``solution``); splits
    train / validation / test.  No id column: rows are named by their index."""

    name, family, kind = "scienceqa", "choice", "choice"
    required = (("question",), ("choices",), ("answer",), ("image",))

    def convert(self, row, where, options):
        if row.get("image") is None and self.opt(options, "require_image", True):
            return None, "no image"
        choices = [str(c).strip() for c in literal_list(self.field(row, "choices", where), where, "choices")]
        if len(choices) < 2:
            raise BadRow(where, "choices", f"has {len(choices)} options (need at least 2)")
        hint = self.field(row, "hint", where, required=False) if self.opt(options, "with_hint", True) else None
        q = choice_question(
            str(self.field(row, "question", where)).strip(),
            choices,
            CHOICE_INSTRUCTION,
            context=f"Context: {hint}" if hint else None,
        )
        meta = {
            "family": self.family,
            "qtype": str(self.field(row, ("subject", "category"), where, False) or "science"),
            "topic": self.field(row, "topic", where, False),
            "grade": self.field(row, "grade", where, False),
        }
        return {
            "question": q,
            "answers": [_letter_answer(row["answer"], choices, where)],
            "kind": "choice",
            "choices": choices,
            "meta": meta,
        }, None


# ----------------------------------------------------------------------------------------------------------
# out of domain
# ----------------------------------------------------------------------------------------------------------


class AOKVQA(Loader):
    """A-OKVQA, ``HuggingFaceM4/A-OKVQA`` (parquet under ``data/``, splits train / validation / test):
    ``image`` (embedded), ``question_id``, ``question``, ``choices`` (list), ``correct_choice_idx``,
    ``direct_answers`` (a *string* holding a Python list of the 10 answers; partly verified: third-party code
    that reads this copy ``ast.literal_eval``s it and quotes the card's ``dtype: string``; the card itself was
    not read), ``difficult_direct_answer``, ``rationales``; no ``image_id`` (unverified).  The official
    ``aokvqa_v1p0_val.json`` (allenai/aokvqa @83786de, load_aokvqa.py) stores ``direct_answers`` as a real list
    and has ``image_id`` (COCO 2017, ``val2017/<image_id:012d>.jpg``); both are read."""

    name, family = "aokvqa", "perception"
    required = (("question",), ("direct_answers",), ("image", "image_id"))
    default_pattern = "{image_id:012d}.jpg"

    def convert(self, row, where, options):
        raw = _vqa_answers(self, row, where, "direct_answers")
        if not raw:
            raise BadRow(where, "direct_answers", "is an empty answer list")
        choices = self.field(row, "choices", where, required=False)
        choices = literal_list(choices, where, "choices") if choices is not None else None
        idx = self.field(row, "correct_choice_idx", where, required=False)
        meta = {
            "family": self.family,
            "qtype": "aokvqa",
            "vqa_answers": raw,
            "mc_answer": choices[int(idx)]
            if choices is not None and idx is not None and 0 <= int(idx) < len(choices)
            else None,
        }
        return {
            "question": str(self.field(row, "question", where)).strip(),
            "answers": ranked_unique(raw),
            "kind": "open",
            "meta": meta,
        }, None


class GQA(Loader):
    """GQA test-dev balanced, ``lmms-lab-encoder/GQA`` config ``testdev_balanced_instructions`` split ``testdev``
    (lmms-eval @75571cf, lmms_eval/tasks/gqa/gqa.yaml; formerly ``lmms-lab/GQA``): ``id``, ``imageId``,
    ``question``, ``answer``, ``fullAnswer``, ``isBalanced``, ``types`` {structural, semantic, detailed}, ...
    The images are a separate config of that repo (``testdev_balanced_images``, ``id`` = ``imageId``); the
    config reads the official GQA image folder instead (``images/<imageId>.jpg``)."""

    name, family = "gqa", "perception"
    required = (("question",), ("answer",), ("image", "imageId"))
    default_pattern = "{imageId}.jpg"

    def convert(self, row, where, options):
        answer = str(self.field(row, "answer", where)).strip()
        types = row.get("types")
        qtype = (types.get("structural") if isinstance(types, dict) else None) or "gqa"
        return {
            "question": str(self.field(row, "question", where)).strip(),
            "answers": [answer],
            "kind": "open",
            "meta": {"family": self.family, "qtype": str(qtype), "full_answer": row.get("fullAnswer")},
        }, None


class MMBench(Loader):
    """MMBench en dev, ``lmms-lab-encoder/MMBench`` config ``en`` split ``dev`` (lmms-eval @75571cf,
    tasks/mmbench/_default_template_mmbench_en_yaml and mmbench_en_dev.yaml; formerly ``lmms-lab/MMBench``):
    ``index``, ``question``, ``hint``, ``answer`` (a letter), ``A``..``D`` (null or "nan" when absent),
    ``category``, ``image`` (an embedded Image: en_utils.py calls ``doc["image"].convert("RGB")``), ``source``,
    ``L2-category`` (en_utils.py reads ``doc["L2-category"]``; older copies spell it ``l2-category``),
    ``comment``, ``split``.  Rows with ``index >= 1e6`` are circular-evaluation copies of question
    ``index % 1e6`` with rotated options (mmbench_evals.py keeps ``data["index"] < int(1e6)`` as the main rows;
    VLMEvalKit utils/multiple_choice.py likewise): they are filtered, one record per question.  The official
    TSV (and ``HuggingFaceM4/MMBench``) store the image as base64, which is read too."""

    name, family, kind = "mmbench", "choice", "choice"
    required = (("question",), ("answer",), ("A",), ("B",), ("image",))
    base64_images = True

    def convert(self, row, where, options):
        index = row.get("index")
        if not missing(index):
            try:
                number = int(str(index).strip())
            except ValueError:
                raise BadRow(where, "index", f"= {index!r} is not an integer") from None
            if number >= CIRCULAR_OFFSET:
                return None, "circular-evaluation copy (index >= 1e6)"
        choices = []
        for letter in LETTERS[:8]:
            if letter in row and not missing(row[letter]):
                choices.append(str(row[letter]).strip())
            else:
                break
        if len(choices) < 2:
            raise BadRow(where, "A", "and 'B' must hold at least two options")
        hint = self.field(row, "hint", where, required=False)
        q = choice_question(
            str(self.field(row, "question", where)).strip(),
            choices,
            OOD_CHOICE_INSTRUCTION,
            context=str(hint).strip() if hint is not None else None,
        )
        meta = {
            "family": self.family,
            "dataset": "mmbench",
            "qtype": str(self.field(row, "category", where, False) or "mmbench"),
            "l2_category": self.field(row, ("L2-category", "l2-category"), where, False),
        }
        return {
            "question": q,
            "answers": [_letter_answer(self.field(row, "answer", where), choices, where)],
            "kind": "choice",
            "choices": choices,
            "meta": meta,
        }, None


_IMAGE_TAG = re.compile(r"<image\s*(\d+)>")


class MMMU(Loader):
    """MMMU val, ``MMMU/MMMU`` (one config per subject, split ``validation``, 30 each; card: ``id``
    ("validation_<Subject>_<n>"), ``question`` (with ``<image k>`` tags), ``options`` (a *string* holding a
    Python list: lmms-eval @75571cf tasks/mmmu/utils.py ``ast.literal_eval(doc["options"])``),
    ``explanation``, ``image_1``..``image_7`` (Image, None when unused), ``img_type``, ``answer`` (a letter for
    multiple-choice), ``topic_difficulty``, ``question_type`` (multiple-choice / open), ``subfield``)."""

    name, family, kind = "mmmu", "choice", "choice"
    required = (("question",), ("options",), ("answer",), ("image_1",))
    image_columns = ("image_1",)

    def convert(self, row, where, options):
        n_images = sum(1 for k in range(1, 8) if not missing(row.get(f"image_{k}")))
        if n_images > 1 and self.opt(options, "multi_image", "skip") == "skip":
            return None, "several images"
        opts = literal_list(row["options"] if row["options"] is not None else [], where, "options")
        choices = [_IMAGE_TAG.sub("the image", str(c).strip()) for c in opts]
        text = _IMAGE_TAG.sub("the image", str(self.field(row, "question", where)).strip())
        qtype = str(self.field(row, "question_type", where, False) or ("multiple-choice" if choices else "open"))
        meta = {
            "family": self.family,
            "dataset": "mmmu",
            "qtype": qtype,
            "subfield": self.field(row, "subfield", where, False),
            "n_images": n_images,
        }
        answer = self.field(row, "answer", where)
        if qtype == "open" or not choices:
            return {"question": text, "answers": [str(answer).strip()], "kind": "open", "meta": meta}, None
        return {
            "question": choice_question(text, choices, OOD_CHOICE_INSTRUCTION),
            "answers": [_letter_answer(answer, choices, where)],
            "kind": "choice",
            "choices": choices,
            "meta": meta,
        }, None


# ----------------------------------------------------------------------------------------------------------
# unanswerable sets
# ----------------------------------------------------------------------------------------------------------


class BeyondVisQA(Loader):
    """BeyondVisQA of MM-SAP.  UNVERIFIED schema: the MM-SAP README (YHWmz/MM-SAP @9920a49) links the data at
    the hub repo ``Elliotwang/MM-SAP`` but no card, file list or loader of it could be read.  What is known
    (README figures): 368 questions in 6 types, each with 5 options A-E of which one is "Sorry, I can't help
    with it", on COCO-like photos.  The loader therefore accepts the plausible layouts: the image embedded or
    as a file name (``image``, ``image_path``, ``image_name``, ``file_name``); the options as a list, a string
    holding one, or ``A``..``E`` columns (kept in ``meta.options``; the question is asked bare)."""

    name, kind = "beyondvisqa", "unanswerable"
    required = (("question",), ("image", "image_path", "image_name", "file_name"))
    image_columns = ("image", "image_path", "image_name", "file_name")

    def convert(self, row, where, options):
        opts = None
        for key in ("options", "choices"):
            if key in row and not missing(row[key]):
                opts = [str(o) for o in literal_list(row[key], where, key)]
                break
        if opts is None and "A" in row:
            opts = [str(row[c]) for c in "ABCDE" if c in row and not missing(row[c])]
        meta = {"qtype": str(self.field(row, ("type", "category"), where, False) or "beyondvisqa"), "options": opts}
        return {
            "question": str(self.field(row, "question", where)).strip(),
            "answers": [],
            "kind": "unanswerable",
            "meta": meta,
        }, None


class VizWiz(Loader):
    """VizWiz val, the official ``Annotations/val.json`` (a list of {``image`` "VizWiz_val_XXXXXXXX.jpg",
    ``question``, ``answers`` [{answer, answer_confidence}], ``answer_type`` (yes/no, number, other,
    unanswerable), ``answerable`` 0/1}: the row documented in open-mmlab/mmpretrain
    mmpretrain/datasets/vizwiz.py), images under ``val/``.  ``lmms-lab/VizWiz-VQA`` (``answers`` plain strings,
    ``category``) is read too.  Kept: rows annotated unanswerable (``answerable == 0``, answer type or category
    "unanswerable", or else a majority "unanswerable" answer)."""

    name, kind = "vizwiz", "unanswerable"
    required = (("question",), ("image",))

    def convert(self, row, where, options):
        raw = _vqa_answers(self, row, where)
        flags = []
        if "answerable" in row and not missing(row["answerable"]):
            try:
                flags.append(int(row["answerable"]) == 0)
            except (TypeError, ValueError):
                raise BadRow(where, "answerable", f"= {row['answerable']!r} is not 0 or 1") from None
        for key in ("answer_type", "category"):
            if key in row and not missing(row[key]):
                flags.append(str(row[key]).strip().lower() == "unanswerable")
        if not flags:
            ranked = ranked_unique([normalize_answer(a) for a in raw])
            if not ranked:
                raise BadRow(where, "answerable", "and 'answer_type' and 'answers' are all empty")
            flags.append(ranked[0] == "unanswerable")
        if not any(flags):
            return None, "answerable"
        return {
            "question": str(self.field(row, "question", where)).strip(),
            "answers": [],
            "kind": "unanswerable",
            "meta": {"qtype": "vizwiz", "vqa_answers": raw},
        }, None


class VQAv2IDK(Loader):
    """VQAv2-IDK val, ``data/VQAv2-IDK-val.json`` of github ncsoft/idk (@6ae54f2; parsed): a list of 6,624
    {``question_id`` (str), ``image`` (path "val2014/COCO_val2014_<id:012d>.jpg", under the COCO root),
    ``question``, ``answer`` (the annotators' answers: 10, a few rows 7-9), ``keywords`` (the IDK keyword the
    authors matched, one per IDK annotation)}.  The paper keeps the questions with more than one IDK
    annotation (``min_idk: 2``): 1,566 of the 6,624.  The count is ``len(keywords)``; without that column (or
    with ``options.idk_keywords``) it is the number of answers containing one of the keywords
    (case-insensitive substring, as the authors' keywords match)."""

    name, kind = "vqav2_idk", "unanswerable"
    required = (("question",), ("answer", "answers"), ("image", "image_id"))

    def convert(self, row, where, options):
        key = "answer" if "answer" in row else "answers"
        raw = _vqa_answers(self, row, where, key)
        if not raw:
            raise BadRow(where, key, "is an empty answer list")
        words = self.opt(options, "idk_keywords", None)
        matched = None
        if words is None and "keywords" in row:
            if row["keywords"] is None:
                raise BadRow(where, "keywords", "is null")
            matched = [str(k) for k in literal_list(row["keywords"], where, "keywords")]
            n_idk = len(matched)
        else:
            vocab = [str(w).lower() for w in (words if words is not None else IDK_KEYWORDS) if str(w).strip()]
            n_idk = sum(any(w in a.lower() for w in vocab) for a in raw)
        if n_idk < int(self.opt(options, "min_idk", 2)):
            return None, "fewer IDK annotations than min_idk"
        return {
            "question": str(self.field(row, "question", where)).strip(),
            "answers": [],
            "kind": "unanswerable",
            "meta": {"qtype": "vqav2_idk", "idk_count": n_idk, "idk_keywords": matched, "vqa_answers": raw},
        }, None


class Records(Loader):
    """The project's own question records (e.g. UaVQA generated on test images and filtered by hand)."""

    name = "records"
    required = (("question",), ("image",))

    def convert(self, row, where, options):
        kind = row.get("kind") or self.opt(options, "kind", "unanswerable")
        if kind not in ("open", "choice", "unanswerable"):
            raise BadRow(where, "kind", f"= {kind!r}: must be open, choice or unanswerable")
        answers = [str(a) for a in (row.get("answers") or [])]
        if kind != "unanswerable" and not answers:
            raise BadRow(where, "answers", "is an empty answer list")
        rec = {
            "question": str(self.field(row, "question", where)).strip(),
            "answers": answers,
            "kind": kind,
            "meta": dict(row.get("meta") or {}),
        }
        if kind == "choice":
            rec["choices"] = list(row.get("choices") or [])
        return rec, None


LOADERS: dict[str, Loader] = {
    cls.name: cls()
    for cls in (VQAv2, VQAv2IDK, OVEN, ScienceQA, AOKVQA, GQA, MMBench, MMMU, BeyondVisQA, VizWiz, Records)
}


def load_rows(spec, **kwargs) -> Any:
    """The rows of one source through ``datasets.load_dataset`` (configs of a list concatenated; ``kwargs``:
    more builder arguments, e.g. the json builder's ``field``); image columns are read undecoded so that a
    bad image is counted instead of failing the whole read."""
    import datasets

    names = spec.name if isinstance(spec.name, list) else [spec.name]
    parts = []
    for name in names:
        kw = {"split": spec.split, **kwargs}
        if spec.data_files is not None:
            kw["data_files"] = spec.data_files
        if spec.revision is not None:
            kw["revision"] = spec.revision
        ds = (
            datasets.load_dataset(spec.path, name, **kw) if name is not None else datasets.load_dataset(spec.path, **kw)
        )
        for col, feat in ds.features.items():
            if isinstance(feat, datasets.Image) and feat.decode:
                ds = ds.cast_column(col, datasets.Image(decode=False))
        parts.append(ds)
    return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)


__all__ = [
    "LOADERS",
    "Loader",
    "BadRow",
    "IDK_KEYWORDS",
    "load_rows",
    "join_vqa",
    "literal_list",
    "ranked_unique",
    "missing",
    "choice_question",
]
