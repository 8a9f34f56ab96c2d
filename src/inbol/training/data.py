"""The constructed training sets as HF ``datasets`` with the prompt and completions rendered by the
model's own chat template.

Records (JSON Lines under ``data/constructed/``, written by the ``construct`` stage):

- IDK-IT / SFT: ``{id, image, prompt, completion, ...}`` (prompt = the question, completion = the answer);
- CA-DPO:       ``{id, image, prompt, p1: {chosen, rejected}, p2: {chosen, rejected}, conf, ...}``;
- plain DPO:    ``{id, image, prompt, chosen, rejected, weight: 1, ...}`` (read as p1 = p2, conf = 1).

Rendering: :class:`inbol.models.PromptFormat` (the one prompt formatter): the prompt is its
:meth:`~inbol.models.PromptFormat.bos_prompt` (TRL's vision collators tokenize with
``add_special_tokens=False``, while generation tokenizes with them) and the completion what the full
conversation adds after the prompt, ending with EOS.  For the embedded tiny LLaVA that is
``<s>USER: <image>\\n{q} ASSISTANT:`` + `` {a}</s>``, token for token the sequence the base model was
pretrained on and is prompted with.

Token parity: before a dataset is built, :func:`check_token_parity` tokenizes its first examples as the
collators do (prompt and completion apart, without special tokens) and as inference does (the prompt with
special tokens; the answer as the continuation of that prompt, then EOS), and stops with a one-line DataError
when the ids differ.  That catches a tokenizer or chat template for which the rendering above does not hold
(e.g. a sentencepiece-style Llama tokenizer, ``▁A`` vs ``A`` after the BOS; a template whose assistant turn
ends in a space, a lone ``▁`` before ``</s>``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import datasets

from ..errors import DataError
from ..io import read_jsonl
from ..models.prompt import PromptFormat
from ..records import Instruction, Preference, PreferencePair, Record
from ..records import read_records as read_checked

PAIR_KEYS = ("w1", "l1", "w2", "l2")  # chosen/rejected of p1, then of p2
PARITY_EXAMPLES = 32  # examples whose training ids are checked against inference before a dataset is built


def _diff(tok, a: list[int], b: list[int]) -> str:
    i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    show = lambda ids: tok.convert_ids_to_tokens(ids[max(0, i - 1) : i + 2])  # noqa: E731
    return f"at token {i}: training {show(a)} vs inference {show(b)}"


def check_token_parity(fmt: PromptFormat, examples: Sequence[tuple[str, str, str]], where: str) -> None:
    """A one-line DataError unless, for each ``(id, question, answer)``, the ids the training collators build
    (``fmt.bos_prompt`` and ``fmt.completion`` tokenized apart, without special tokens) are those of inference:
    the prompt as generation tokenizes it (``fmt.prompt`` with special tokens), and a completion that is the
    continuation of that prompt up to EOS with no whitespace-only token before EOS."""
    tok = fmt.tokenizer
    for rid, question, answer in examples:
        prompt = fmt.prompt(question)
        infer = tok(prompt)["input_ids"]
        train = tok(fmt.bos_prompt(question), add_special_tokens=False)["input_ids"]
        if train != infer:
            raise DataError(
                f"{where}: record {rid!r}: the tokenizer gives the prompt other ids in training than at inference "
                f"({_diff(tok, train, infer)}); expected identical ids"
            )
        completion_text = fmt.completion(question, answer)
        completion = tok(completion_text, add_special_tokens=False)["input_ids"]
        joint = tok(prompt + completion_text)["input_ids"]
        if train + completion != joint:
            raise DataError(
                f"{where}: record {rid!r}: the completion {completion_text!r} tokenizes apart into other ids than "
                f"as the prompt's continuation ({_diff(tok, train + completion, joint)}); expected identical ids"
            )
        if fmt.eos and (
            completion[-1:] != [tok.eos_token_id] or (len(completion) > 1 and not tok.decode(completion[-2:-1]).strip())
        ):
            raise DataError(
                f"{where}: record {rid!r}: the completion {completion_text!r} gives "
                f"{tok.convert_ids_to_tokens(completion[-2:])} at its end; expected the answer's last token, then EOS"
            )


def read_records(path: str | Path, fields: Sequence[str] | type[Record]) -> list[dict]:
    """The records of ``path``; a one-line DataError when the file is missing, empty, not JSON Lines, or
    a record does not fit its schema (``fields``: an :mod:`inbol.records` schema, or just the fields it needs)
    or points at a missing image."""
    path = Path(path)
    schema = fields if isinstance(fields, type) else None
    rows = read_checked(path, schema) if schema else read_jsonl(path)
    if not rows:
        raise DataError(f"{path}: no examples (the constructed set is empty; check the construct stage's metrics)")
    for i, r in enumerate(rows if schema is None else (), 1):
        missing = [f for f in fields if f not in r or r[f] is None]
        if missing:
            raise DataError(
                f"{path}:{i}: record {r.get('id', '?')!r} lacks field {missing[0]!r} (needs {', '.join(fields)})"
            )
    for img in dict.fromkeys(r["image"] for r in rows):
        if not Path(img).is_file():
            raise DataError(f"{path}: image {img!r} not found (paths are relative to the repository root)")
    return rows


def _with_images(rows: list[dict]) -> datasets.Dataset:
    return datasets.Dataset.from_list(rows).cast_column("image", datasets.Image())


def sft_dataset(path: str | Path, fmt: PromptFormat) -> datasets.Dataset:
    """IDK-IT / SFT records as TRL's vision prompt-completion dataset ``{id, image, prompt, completion,
    bucket}`` (``image`` decoded by ``datasets.Image``, texts rendered by ``fmt``)."""
    render = fmt
    records = read_records(path, Instruction)
    check_token_parity(fmt, [(r["id"], r["prompt"], r["completion"]) for r in records[:PARITY_EXAMPLES]], str(path))
    rows = [
        {
            "id": str(r["id"]),
            "image": r["image"],
            "prompt": render.bos_prompt(r["prompt"]),
            "completion": render.completion(r["prompt"], r["completion"]),
            "bucket": str(r.get("bucket", "")),
        }
        for r in records
    ]
    return _with_images(rows)


def _conf(path, r, value) -> float:
    try:
        c = float(value)
    except (TypeError, ValueError):
        c = math.nan
    if not (0.0 <= c <= 1.0):
        raise DataError(f"{path}: record {r.get('id', '?')!r} has conf/weight {value!r}: must be in [0, 1]")
    return c


def preference_dataset(path: str | Path, fmt: PromptFormat, kind: str = "ca_dpo") -> datasets.Dataset:
    """CA-DPO (``kind='ca_dpo'``) or plain-DPO (``kind='dpo'``) records as ``{id, image, prompt, w1, l1,
    w2, l2, conf, bucket}``: (w1 > l1) is p1 with weight conf, (w2 > l2) is p2 with weight 1 - conf.  A plain-DPO
    row is p1 = p2 = (chosen > rejected) with conf = 1 (its ``weight``, which must be 1): the standard DPO
    loss."""
    if kind not in ("ca_dpo", "dpo"):
        raise ValueError(f"kind must be 'ca_dpo' or 'dpo', got {kind!r}")
    render = fmt
    records = read_records(path, Preference if kind == "ca_dpo" else PreferencePair)
    rows, parity = [], []
    for r in records:
        q = r["prompt"]
        if kind == "ca_dpo":
            for p in ("p1", "p2"):
                if not isinstance(r[p], dict) or not {"chosen", "rejected"} <= set(r[p]):
                    raise DataError(f"{path}: record {r['id']!r} field {p!r} must be {{chosen, rejected}}")
            texts = (r["p1"]["chosen"], r["p1"]["rejected"], r["p2"]["chosen"], r["p2"]["rejected"])
            conf = _conf(path, r, r["conf"])
        else:
            texts = (r["chosen"], r["rejected"], r["chosen"], r["rejected"])
            if _conf(path, r, r.get("weight", 1.0)) != 1.0:
                raise DataError(
                    f"{path}: record {r['id']!r} has weight {r.get('weight')!r}: plain-DPO rows must have weight 1"
                )
            conf = 1.0
        row = {
            "id": str(r["id"]),
            "qid": str(r.get("qid", r["id"])),
            "image": r["image"],
            "prompt": render.bos_prompt(q),
            "conf": conf,
            "bucket": str(r.get("bucket", "")),
        }
        row.update({k: render.completion(q, t) for k, t in zip(PAIR_KEYS, texts)})
        rows.append(row)
        if len(parity) < PARITY_EXAMPLES:
            parity += [(row["id"], q, t) for t in dict.fromkeys(texts)]
    check_token_parity(fmt, parity, str(path))
    return _with_images(rows)
