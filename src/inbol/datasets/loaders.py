"""One loader per dataset of the paper: its real schema (column names as on the HF hub or in the official
json) mapped to the project's question record ``{id, source, image, question, answers, kind, choices?,
meta}``.

Rows are read with ``datasets.load_dataset`` (:func:`load_rows`); :meth:`Loader.convert` maps one row.
A row may be *filtered* (e.g. a ScienceQA question without an image, a VizWiz question that is
answerable): ``convert`` returns ``(None, reason)`` and the build counts it.  A malformed row (a required
field that is null, an empty answer list, an answer index out of range) is a :class:`DataError` naming the
dataset, the record and the field.

| loader | dataset | family | kind | answers |
| --- | --- | --- | --- | --- |
| vqav2 | VQAv2 (train pool, val test) | perception | open | every annotator answer (``meta.vqa_answers``: the 10) |
| oven | OVEN (entity/query split) | emblem | open | ``entity_text`` (+ ``entity_aliases`` when present) |
| scienceqa | ScienceQA (rows with an image) | choice | choice | the letter of ``answer`` |
| aokvqa | A-OKVQA val, direct answers | perception | open | every ``direct_answers`` entry (``meta.vqa_answers``) |
| gqa | GQA test(-dev) | perception | open | ``answer`` |
| mmbench | MMBench en-dev | choice | choice | the letter |
| mmmu | MMMU val (single-image questions) | choice | choice (or open) | the letter (or the answer) |
| beyondvisqa | BeyondVisQA of MM-SAP | - | unanswerable | [] |
| vizwiz | VizWiz, rows annotated unanswerable | - | unanswerable | [] |
| vqav2_idk | VQAv2-IDK val, > ``min_idk - 1`` IDK annotations | - | unanswerable | [] |
| records | the project's own record format (e.g. a hand-filtered UaVQA file) | given | given | given |
"""

from __future__ import annotations

import ast
import collections
import math
import re
from collections.abc import Sequence
from typing import Any

from ..errors import DataError
from ..judge.normalize import normalize_answer
from ..world.questions import CHOICE_INSTRUCTION, OOD_CHOICE_INSTRUCTION

LETTERS = "ABCDEFGHIJ"
ID_COLUMNS = ("question_id", "id", "data_id", "index", "qid")

# VQAv2-IDK (Cha et al., 2024): an annotator answer counts as "I don't know" when it contains one of these
IDK_KEYWORDS = (
    "i don't know",
    "i dont know",
    "don't know",
    "dont know",
    "idk",
    "not sure",
    "unsure",
    "unanswerable",
    "can't tell",
    "cant tell",
    "cannot tell",
    "can't see",
    "cant see",
    "cannot see",
    "not possible",
    "impossible to tell",
    "no idea",
    "unknown",
    "unclear",
    "not clear",
)


def missing(value: Any) -> bool:
    """Null, NaN (pandas-written TSV/parquet) or an empty string."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip() or (isinstance(value, str) and value.strip().lower() == "nan")


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

    def opt(self, options: dict, key: str, default):
        return options.get(key, default)

    def convert(self, row: dict, where: str, options: dict) -> tuple[dict | None, str | None]:
        raise NotImplementedError

    # helpers ------------------------------------------------------------------------------------------
    @staticmethod
    def field(row: dict, names: str | Sequence[str], where: str, required: bool = True):
        names = (names,) if isinstance(names, str) else tuple(names)
        for n in names:
            if n in row and not missing(row[n]):
                return row[n]
        if required:
            raise DataError(f"{where}: field {names[0]!r} is empty or null")
        return None

    @staticmethod
    def answers_of(raw, where: str, field: str) -> list[str]:
        """Annotator answers from a list of strings or of ``{answer, ...}`` dicts (HF also stores a
        list of dicts as a dict of lists)."""
        if isinstance(raw, dict) and "answer" in raw and isinstance(raw["answer"], list):
            raw = raw["answer"]
        if not isinstance(raw, (list, tuple)):
            raise DataError(f"{where}: field {field!r} must be a list of answers, got {type(raw).__name__}")
        out = []
        for a in raw:
            a = a.get("answer") if isinstance(a, dict) else a
            if not missing(a):
                out.append(str(a).strip())
        return out


def _vqa_answers(loader: Loader, row: dict, where: str, field: str = "answers") -> list[str]:
    return loader.answers_of(loader.field(row, field, where, required=False) or [], where, field)


class VQAv2(Loader):
    name, family = "vqav2", "perception"
    required = (("question",), ("answers", "multiple_choice_answer"), ("image", "image_id"))
    default_pattern = "{image_id}.jpg"

    def convert(self, row, where, options):
        raw = _vqa_answers(self, row, where)
        mc = self.field(row, "multiple_choice_answer", where, required=False)
        answers = ranked_unique(([str(mc).strip()] if mc is not None else []) + raw)
        if mc is not None:
            answers = [str(mc).strip()] + [a for a in answers if a != str(mc).strip()]
        if not answers:
            raise DataError(f"{where}: field 'answers' is an empty answer list")
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


class VQAv2IDK(Loader):
    name, kind = "vqav2_idk", "unanswerable"
    required = (("question",), ("answers",), ("image", "image_id"))
    default_pattern = "{image_id}.jpg"

    def convert(self, row, where, options):
        raw = _vqa_answers(self, row, where)
        if not raw:
            raise DataError(f"{where}: field 'answers' is an empty answer list")
        keywords = [normalize_answer(k) for k in self.opt(options, "idk_keywords", IDK_KEYWORDS)]
        pats = [re.compile(rf"(^|\s){re.escape(k)}($|\s)") for k in keywords if k]
        n_idk = sum(any(p.search(normalize_answer(a)) for p in pats) for a in raw)
        if n_idk < int(self.opt(options, "min_idk", 2)):
            return None, "fewer IDK annotations than min_idk"
        return {
            "question": str(self.field(row, "question", where)).strip(),
            "answers": [],
            "kind": "unanswerable",
            "meta": {"qtype": "vqav2_idk", "idk_count": n_idk, "vqa_answers": raw},
        }, None


class OVEN(Loader):
    name, family = "oven", "emblem"
    required = (("question",), ("entity_text",), ("image", "image_id"))
    default_pattern = "{image_id}.jpg"

    def convert(self, row, where, options):
        entity = str(self.field(row, "entity_text", where)).strip()
        aliases = self.field(row, "entity_aliases", where, required=False) or []
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


def _letter_answer(answer, choices: Sequence[str], where: str) -> str:
    """The answer as a letter, from an index (ScienceQA) or a letter (MMBench, MMMU)."""
    if isinstance(answer, (int, float)) and not isinstance(answer, bool) and float(answer).is_integer():
        i = int(answer)
    elif isinstance(answer, str) and answer.strip().upper() in LETTERS:
        i = LETTERS.index(answer.strip().upper())
    else:
        raise DataError(f"{where}: field 'answer' = {answer!r} is neither an option index nor an option letter")
    if not 0 <= i < len(choices):
        raise DataError(f"{where}: field 'answer' = {answer!r} is outside the {len(choices)} options")
    return LETTERS[i]


class ScienceQA(Loader):
    name, family, kind = "scienceqa", "choice", "choice"
    required = (("question",), ("choices",), ("answer",), ("image",))

    def convert(self, row, where, options):
        if row.get("image") is None and self.opt(options, "require_image", True):
            return None, "no image"
        choices = [str(c).strip() for c in (self.field(row, "choices", where) or [])]
        if len(choices) < 2:
            raise DataError(f"{where}: field 'choices' has {len(choices)} options (need at least 2)")
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


class AOKVQA(Loader):
    name, family = "aokvqa", "perception"
    required = (("question",), ("direct_answers",), ("image", "image_id"))
    default_pattern = "{image_id:012d}.jpg"

    def convert(self, row, where, options):
        raw = _vqa_answers(self, row, where, "direct_answers")
        if not raw:
            raise DataError(f"{where}: field 'direct_answers' is an empty answer list")
        choices = self.field(row, "choices", where, required=False)
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
    name, family, kind = "mmbench", "choice", "choice"
    required = (("question",), ("answer",), ("A",), ("B",), ("image",))
    base64_images = True

    def convert(self, row, where, options):
        choices = []
        for letter in LETTERS[:8]:
            if letter in row and not missing(row[letter]):
                choices.append(str(row[letter]).strip())
            else:
                break
        if len(choices) < 2:
            raise DataError(f"{where}: fields 'A', 'B' must hold at least two options")
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
            "l2_category": self.field(row, "l2-category", where, False),
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
    name, family, kind = "mmmu", "choice", "choice"
    required = (("question",), ("options",), ("answer",), ("image_1",))
    image_columns = ("image_1",)

    def convert(self, row, where, options):
        n_images = sum(1 for k in range(1, 8) if not missing(row.get(f"image_{k}")))
        if n_images > 1 and self.opt(options, "multi_image", "skip") == "skip":
            return None, "several images"
        opts = row["options"]
        if isinstance(opts, str):
            try:
                opts = ast.literal_eval(opts) if opts.strip() else []
            except (ValueError, SyntaxError):
                raise DataError(f"{where}: field 'options' = {opts[:60]!r} is not a list") from None
        choices = [str(c).strip() for c in opts or []]
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


class BeyondVisQA(Loader):
    name, kind = "beyondvisqa", "unanswerable"
    required = (("question",), ("image", "image_path", "image_name"))
    image_columns = ("image", "image_path", "image_name")

    def convert(self, row, where, options):
        meta = {"qtype": "beyondvisqa", "options": row.get("options") or row.get("choices")}
        return {
            "question": str(self.field(row, "question", where)).strip(),
            "answers": [],
            "kind": "unanswerable",
            "meta": meta,
        }, None


class VizWiz(Loader):
    name, kind = "vizwiz", "unanswerable"
    required = (("question",), ("image",))

    def convert(self, row, where, options):
        raw = _vqa_answers(self, row, where)
        flags = []
        if "answerable" in row and not missing(row["answerable"]):
            flags.append(int(row["answerable"]) == 0)
        for key in ("answer_type", "category"):
            if key in row and not missing(row[key]):
                flags.append(str(row[key]).strip().lower() == "unanswerable")
        if not flags:
            ranked = ranked_unique([normalize_answer(a) for a in raw])
            if not ranked:
                raise DataError(f"{where}: fields 'answerable', 'answer_type' and 'answers' are all empty")
            flags.append(ranked[0] == "unanswerable")
        if not any(flags):
            return None, "answerable"
        return {
            "question": str(self.field(row, "question", where)).strip(),
            "answers": [],
            "kind": "unanswerable",
            "meta": {"qtype": "vizwiz", "vqa_answers": raw},
        }, None


class Records(Loader):
    """The project's own question records (e.g. UaVQA generated on test images and filtered by hand)."""

    name = "records"
    required = (("question",), ("image",))

    def convert(self, row, where, options):
        kind = row.get("kind") or self.opt(options, "kind", "unanswerable")
        if kind not in ("open", "choice", "unanswerable"):
            raise DataError(f"{where}: field 'kind' = {kind!r}: must be open, choice or unanswerable")
        answers = [str(a) for a in (row.get("answers") or [])]
        if kind != "unanswerable" and not answers:
            raise DataError(f"{where}: field 'answers' is an empty answer list")
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


def load_rows(spec) -> Any:
    """The rows of one source through ``datasets.load_dataset`` (configs of a list concatenated); image
    columns are read undecoded so that a bad image is counted instead of failing the whole read."""
    import datasets

    names = spec.name if isinstance(spec.name, list) else [spec.name]
    parts = []
    for name in names:
        kwargs = {"split": spec.split}
        if spec.data_files is not None:
            kwargs["data_files"] = spec.data_files
        if spec.revision is not None:
            kwargs["revision"] = spec.revision
        ds = (
            datasets.load_dataset(spec.path, name, **kwargs)
            if name is not None
            else datasets.load_dataset(spec.path, **kwargs)
        )
        for col, feat in ds.features.items():
            if isinstance(feat, datasets.Image) and feat.decode:
                ds = ds.cast_column(col, datasets.Image(decode=False))
        parts.append(ds)
    return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)


__all__ = ["LOADERS", "Loader", "IDK_KEYWORDS", "load_rows", "ranked_unique", "missing", "choice_question"]
