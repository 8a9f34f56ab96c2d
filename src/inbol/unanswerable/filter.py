"""Filter generated unanswerable questions (paper section 3.2, appendix D.2).

1. The three criteria: (1) the subject is not depicted; (2) the premise is incorrect or misleading;
   (3) the information is not available in the image.  A question with "no" on all three is dropped.
   Backends: ``oracle`` (exact, from the scene graph; :mod:`inbol.unanswerable.oracle`) and ``openai``
   (an MLLM answers one yes/no question per criterion, the paper's wording).  ``strict`` adds the
   in-domain test-set rule (criterion 1 or 3 holds, and nothing asked is partly answerable).
2. The refusal step: the original model answers each remaining question greedily (``answer_fn``); a
   question it already refuses (``is_refusal``) is dropped, otherwise its answer is kept as the
   ``incorrect_response`` and the question gets ``conf = 0``.

Every kept record gets ``meta.criteria = {not_depicted, false_premise, not_available}`` and keeps its
``meta.method``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import DataError
from ..schema.unanswerable import UnanswerableFilter
from . import oracle
from .generate import ChatClient, image_message, image_path, one_line, run_chats, scene_of

SECTION = "unanswerable.filter"
CRITERIA = oracle.CRITERIA
# the paper's three checks (appendix D.2)
CRITERION_QUESTIONS = {
    "not_depicted": "Does this question inquire about subjects that are not depicted in the image?",
    "false_premise": "Does this question include an incorrect or misleading premise?",
    "not_available": "Does this question ask for information that is not available in the image?",
}
CHECK_PROMPT = "Question: {question}\n\n{check}\nAnswer with yes or no only."
_YES_NO_START = re.compile(r"^\W*(yes|no)\b", re.I)
_YES_NO_ANY = re.compile(r"\b(yes|no)\b", re.I)


# --------------------------------------------------------------------------------------------
# criteria backends
# --------------------------------------------------------------------------------------------


def oracle_criteria(records: Sequence[dict], scenes: dict[str, dict]) -> list[dict[str, bool]]:
    out = []
    for r in records:
        try:
            out.append(oracle.criteria(scene_of(r, scenes), r["meta"]))
        except oracle.OracleError as e:
            raise DataError(f"record {r['id']}: {e}") from None
    return out


def parse_yes_no(text: str) -> bool | None:
    """True / False for a yes / no answer; None when it is neither or both."""
    if not isinstance(text, str):
        return None
    m = _YES_NO_START.match(text)
    if m:
        return m.group(1).lower() == "yes"
    found = {w.lower() for w in _YES_NO_ANY.findall(text)}
    return (found.pop() == "yes") if len(found) == 1 else None


def openai_criteria(
    records: Sequence[dict],
    client: ChatClient,
    *,
    image_root: str | Path = ".",
    max_tokens: int = 8,
    max_unparsed_frac: float = 0.5,
    stats: dict | None = None,
) -> list[dict[str, bool]]:
    """One yes/no check per record and criterion through the chat client; an unreadable answer counts
    as "no" (and is counted); more than ``max_unparsed_frac`` unreadable answers is an error."""
    if not callable(getattr(client, "chat", None)):
        raise TypeError("the openai filter needs a client with a chat(messages, n=1, **gen) method")
    requests = []
    for r in records:
        path = image_path(r, image_root)
        for c in CRITERIA:
            text = CHECK_PROMPT.format(question=r["question"], check=CRITERION_QUESTIONS[c])
            requests.append(
                {"messages": [image_message(text, path)], "n": 1, "temperature": 0.0, "max_tokens": max_tokens}
            )
    answers = run_chats(client, requests)
    out, unparsed, first_bad = [], 0, None
    for i, _ in enumerate(records):
        crit = {}
        for j, c in enumerate(CRITERIA):
            ans = answers[i * len(CRITERIA) + j]
            text = ans[0] if ans else ""
            v = parse_yes_no(text)
            if v is None:
                unparsed += 1
                first_bad = text if first_bad is None else first_bad
            crit[c] = bool(v)
        out.append(crit)
    if stats is not None:
        stats["llm_checks"] = len(requests)
        stats["llm_unparsed"] = unparsed
    if requests and unparsed / len(requests) > max_unparsed_frac:
        raise DataError(
            f"openai filter: {unparsed} of {len(requests)} yes/no answers could not be read "
            f"(more than max_unparsed_frac = {max_unparsed_frac:g}); first: {one_line(first_bad)!r}"
        )
    return out


# --------------------------------------------------------------------------------------------
# steps
# --------------------------------------------------------------------------------------------


def _bump(stats: dict, method: str, key: str) -> None:
    m = stats["by_method"].setdefault(
        method, {"generated": 0, "kept": 0, "no_criterion": 0, "not_strict": 0, "base_refused": 0}
    )
    m[key] += 1


def check_criteria(
    records: Sequence[dict],
    scenes: dict[str, dict] | None,
    cfg: UnanswerableFilter,
    *,
    client: ChatClient | None = None,
    image_root: str | Path = ".",
    stats: dict | None = None,
) -> list[dict]:
    """Records that pass the criteria (and the strict rule), each with ``meta.criteria``."""
    stats = _new_stats(cfg) if stats is None else stats
    if cfg.backend == "oracle":
        if scenes is None:
            raise DataError(f"{SECTION}.backend = 'oracle': the scene graphs are needed")
        crits = oracle_criteria(records, scenes)
    else:
        if client is None:
            raise DataError(f"{SECTION}.backend = 'openai': no LLM client was given")
        crits = openai_criteria(
            records,
            client,
            image_root=image_root,
            max_tokens=cfg.max_tokens,
            max_unparsed_frac=cfg.max_unparsed_frac,
            stats=stats,
        )
    if cfg.strict and scenes is None:
        raise DataError(f"{SECTION}.strict: the scene graphs are needed")
    kept = []
    for r, crit in zip(records, crits):
        method = r["meta"].get("method", "unknown")
        if not any(crit.values()):
            stats["dropped"]["no_criterion"] += 1
            _bump(stats, method, "no_criterion")
            continue
        if cfg.strict:
            scene = scene_of(r, scenes)
            try:
                ok = oracle.strict_ok(scene, r["meta"], crit if cfg.backend == "oracle" else None)
            except oracle.OracleError as e:
                raise DataError(f"record {r['id']}: {e}") from None
            if not ok:
                stats["dropped"]["not_strict"] += 1
                _bump(stats, method, "not_strict")
                continue
        for c in CRITERIA:
            stats["criteria"][c] += int(crit[c])
        kept.append({**r, "meta": {**r["meta"], "criteria": dict(crit)}})
    return kept


def apply_base_answers(
    records: Sequence[dict],
    answer_fn: Callable[[list[dict]], list[str]],
    is_refusal: Callable[[str], bool],
    *,
    drop_refused: bool = True,
    stats: dict | None = None,
) -> list[dict]:
    """Ask the original model (``answer_fn``: records -> greedy answers); drop what it already refuses
    and keep its answer as ``incorrect_response`` with ``conf = 0``."""
    records = list(records)
    answers = list(answer_fn(records)) if records else []
    if len(answers) != len(records):
        raise DataError(f"answer_fn returned {len(answers)} answers for {len(records)} questions")
    stats = {} if stats is None else stats
    stats.setdefault("dropped", {}).setdefault("base_refused", 0)
    stats.setdefault("by_method", {})
    refused = 0
    kept = []
    for r, a in zip(records, answers):
        a = "" if a is None else str(a)
        ref = bool(is_refusal(a))
        refused += ref
        if ref and drop_refused:
            stats["dropped"]["base_refused"] += 1
            _bump(stats, r["meta"].get("method", "unknown"), "base_refused")
            continue
        rec = {
            **r,
            "conf": 0.0,
            "incorrect_response": None if ref else a,
            "meta": {**r["meta"], "base_response": a, "base_refused": ref},
        }
        kept.append(rec)
    stats["base_answered"] = len(records)
    stats["base_refusal_rate"] = refused / len(records) if records else 0.0
    return kept


def _new_stats(cfg: UnanswerableFilter) -> dict:
    return {
        "backend": cfg.backend,
        "strict": cfg.strict,
        "generated": 0,
        "kept": 0,
        "dropped": {"no_criterion": 0, "not_strict": 0, "base_refused": 0},
        "by_method": {},
        "criteria": {c: 0 for c in CRITERIA},
        "base_answered": 0,
        "base_refusal_rate": None,
    }


def filter_unanswerable(
    records: Sequence[dict],
    scenes: dict[str, dict] | None,
    cfg: UnanswerableFilter,
    *,
    client: ChatClient | None = None,
    answer_fn: Callable[[list[dict]], list[str]] | None = None,
    is_refusal: Callable[[str], bool] | None = None,
    image_root: str | Path = ".",
) -> tuple[list[dict], dict]:
    """The whole filter: criteria (+ strict rule), then the refusal step when ``answer_fn`` is given.
    Returns the kept records (``conf = 0``; ``incorrect_response`` when the model answered) and stats:
    generated, kept, dropped by reason, per method, criteria counts among those passing the criteria,
    the base model's refusal rate on them."""
    if answer_fn is not None and is_refusal is None:
        raise DataError(f"{SECTION}: answer_fn needs an is_refusal function")
    stats = _new_stats(cfg)
    stats["generated"] = len(records)
    for r in records:
        _bump(stats, r["meta"].get("method", "unknown"), "generated")
    kept = check_criteria(records, scenes, cfg, client=client, image_root=image_root, stats=stats)
    if answer_fn is not None:
        kept = apply_base_answers(kept, answer_fn, is_refusal, drop_refused=cfg.drop_base_refused, stats=stats)
    else:
        kept = [{**r, "conf": 0.0} for r in kept]
    for r in kept:
        _bump(stats, r["meta"].get("method", "unknown"), "kept")
    stats["kept"] = len(kept)
    return kept, stats
