"""Generate unanswerable questions (paper section 3.2, appendix D.2).

Two methods, mixed per image by ``UnanswerableGenerate.mix``:

- ``swap``: random image-question swapping.  A question of another record is put on this record's image
  and kept only if the scene graph makes it unanswerable there (the oracle's criteria; e.g. it asks about
  a shape that is not in this scene, or for an emblem's name on an image without one).
- ``generate``: a question generator backend, ``template`` (the embedded default: template banks over the
  scene graph, :mod:`inbol.unanswerable.templates`) or ``openai`` (an MLLM behind an OpenAI-compatible
  chat client, prompted in the spirit of the paper's Figure 8).

Output records: ``{id, source, image, question, answers: [], kind: "unanswerable", meta}`` with
``meta = {method, scene_id, source_id, explanation, category, ...}``; template and swap questions also
carry the structured meaning the oracle filter needs (``target``, ``subjects``, ``claims``, ``asks``).
Everything is deterministic from ``seed`` (one random stream per source image).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import DataError
from ..schema.unanswerable import UnanswerableGenerate
from . import oracle, templates

SECTION = "unanswerable.generate"


class ChatClient(Protocol):
    def chat(self, messages: Sequence[dict], n: int = 1, **gen) -> list[str]: ...


# --------------------------------------------------------------------------------------------
# helpers shared with the filter and the set builders
# --------------------------------------------------------------------------------------------


def scene_of(record: dict, scenes: dict[str, dict]) -> dict:
    """The scene graph of a record's image (``meta.scene_id``, else the record id)."""
    sid = (record.get("meta") or {}).get("scene_id", record["id"])
    try:
        return scenes[sid]
    except KeyError:
        raise DataError(f"record {record['id']}: no scene graph {sid!r} in scenes.jsonl") from None


def image_path(record: dict, image_root: str | Path = ".") -> Path:
    p = Path(record["image"])
    return p if p.is_absolute() else Path(image_root) / p


def image_message(text: str, path: str | Path) -> dict:
    """An OpenAI vision user message; :func:`inbol.messages.image_message` when that module is present."""
    try:
        from ..messages import image_message as llm_image_message
    except ImportError:  # pragma: no cover - the llm package is part of the project
        llm_image_message = None
    if llm_image_message is not None:
        return llm_image_message(text, path)
    import base64

    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return {
        "role": "user",
        "content": [
            {"type": "text", "text": text},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}},
        ],
    }


def run_chats(client: ChatClient, requests: list[dict]) -> list[list[str]]:
    """``requests`` are ``{messages, n, **gen}``; uses the client's ``chat_many`` when it has one."""
    if not requests:
        return []
    many = getattr(client, "chat_many", None)
    if callable(many):
        return list(many(requests))
    out = []
    for r in requests:
        gen = {k: v for k, v in r.items() if k not in ("messages", "n")}
        out.append(list(client.chat(r["messages"], n=r.get("n", 1), **gen)))
    return out


def one_line(text: Any, limit: int = 120) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _describe(ref: dict) -> str:
    if ref.get("emblem"):
        return "emblem"
    if "thing" in ref:
        return ref["thing"]
    words = [ref[k] for k in ("size", "color") if k in ref]
    return " ".join(words + [ref.get("shape", "object")])


def explain(scene: dict, sem: dict, crit: dict[str, bool]) -> str:
    """An explanation string for a question whose criteria were computed by the oracle."""
    lead = templates.LEAD
    if crit["not_depicted"]:
        ref = next(s for s in sem["subjects"] if not oracle.depicted(scene, s))
        return f"{lead} there is no {_describe(oracle.head(ref))} in the image."
    if crit["false_premise"]:
        bad = next(c for c in sem["claims"] if not oracle.claim_holds(scene, c))
        if bad["type"] == "unique":
            return f"{lead} more than one {_describe(bad['subject'])} is in the image, so it is unclear which one is meant."
        if bad["type"] == "derivable" and bad.get("choices") is not None:
            return f"{lead} none of the options fits the image."
        return f"{lead} its premise does not hold for this image."
    if crit["not_available"]:
        return f"{lead} the image does not show the information it asks for."
    return ""


def _record(src: dict, scene: dict, k: int, method: str, question: str, meta: dict) -> dict:
    return {
        "id": f"ua-{src['id']}-{k}",
        "source": f"unanswerable/{method}",
        "image": src["image"],
        "question": question,
        "answers": [],
        "kind": "unanswerable",
        "meta": {"method": method, "scene_id": scene["id"], "source_id": src["id"], **meta},
    }


def _weighted(rng: np.random.Generator, weights: dict[str, float], order: Sequence[str]) -> str:
    keys = [k for k in order if weights.get(k, 0) > 0]
    w = np.asarray([weights[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=w / w.sum()))]


# --------------------------------------------------------------------------------------------
# swap
# --------------------------------------------------------------------------------------------


def swap_questions(
    idx: int, records: list[dict], scenes: dict[str, dict], rng: np.random.Generator, n: int, tries: int, stats: dict
) -> list[tuple[str, dict]]:
    """Up to ``n`` questions of other records that are unanswerable on record ``idx``'s scene."""
    target = records[idx]
    scene = scene_of(target, scenes)
    out: list[tuple[str, dict]] = []
    seen = {target["question"]}
    for _ in range(n):
        for _ in range(tries):
            j = int(rng.integers(len(records)))
            donor = records[j]
            stats["swap_tried"] += 1
            if j == idx or donor["question"] in seen or "qtype" not in (donor.get("meta") or {}):
                continue
            dm = donor["meta"]
            choices = donor.get("choices")
            sem = oracle.qtype_semantics(dm["qtype"], dm.get("target") or {}, choices)
            crit = oracle.criteria(scene, sem)
            if not any(crit.values()):
                stats["swap_answerable"] += 1
                continue
            seen.add(donor["question"])
            meta = {
                "category": "swap",
                "template": None,
                "target": dm.get("target") or {},
                **sem,
                "explanation": explain(scene, sem, crit),
                "orig_id": donor["id"],
                "orig_qtype": dm["qtype"],
                "orig_family": dm.get("family"),
            }
            if choices is not None:
                meta["choices"] = list(choices)
            out.append((donor["question"], meta))
            break
        else:
            stats["swap_gave_up"] += 1
    return out


# --------------------------------------------------------------------------------------------
# template backend
# --------------------------------------------------------------------------------------------


class TemplateGenerator:
    """Questions from the template banks over a scene graph (the embedded default backend)."""

    name = "template"

    def __init__(self, categories: dict[str, float]):
        self.categories = {k: float(v) for k, v in categories.items() if v > 0}

    def questions(self, scene: dict, rng: np.random.Generator, n: int) -> list[tuple[str, dict]]:
        bank = templates.candidates(scene, [c for c in templates.CATEGORIES if c in self.categories])
        out = []
        for c in templates.sample(rng, bank, self.categories, n):
            meta = {k: c[k] for k in ("category", "template", "target", "subjects", "claims", "asks", "explanation")}
            out.append((c["question"], meta))
        return out


# --------------------------------------------------------------------------------------------
# openai backend
# --------------------------------------------------------------------------------------------

GENERATION_PROMPT = """<task>
Please generate {n} unanswerable questions based on the provided image. These questions should be related to the image but impossible to answer correctly based on the image. Specifically, create:
- questions about non-existing subjects with incorrect premises;
- questions asking for information that cannot be derived from the image.
Additionally, for each question, provide an explanation beginning with "This question can not be answered based on the image because".
</task>
<output format>
A JSON list with one object per question and nothing else:
[{{"question": "<the generated question 1>", "explanation": "<the corresponding explanation>"}}, ...]
</output format>"""

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.S)
_Q_LABEL = re.compile(r"^\s*(?:\d+\s*[.):]\s*)?(?:[-*\u2022]\s*)?(?:q|question)\s*\d*\s*[:.)\-]\s*(?P<q>.*)$", re.I)
_NUMBERED = re.compile(r"^\s*(?:\d+\s*[.)]|[-*\u2022])\s+(?P<q>.*)$")
_E_LABEL = re.compile(r"^\s*(?:[-*\u2022]\s*)?(?:explanation|reason)\s*\d*\s*[:.)\-]\s*(?P<e>.*)$", re.I)
_E_INLINE = re.compile(r"\s*[(\[\-\u2013\u2014]*\s*(?:explanation|reason)\s*:\s*", re.I)


def _items_from_json(obj) -> list[dict]:
    if isinstance(obj, dict):
        for key in ("questions", "items", "data", "results"):
            if isinstance(obj.get(key), list):
                return _items_from_json(obj[key])
        obj = [obj]
    if not isinstance(obj, list):
        return []
    out = []
    for it in obj:
        if isinstance(it, str):
            out.append({"question": it.strip(), "explanation": ""})
        elif isinstance(it, dict):
            low = {str(k).lower(): v for k, v in it.items()}
            q = low.get("question", low.get("q"))
            e = low.get("explanation", low.get("reason", ""))
            if isinstance(q, str) and q.strip():
                out.append({"question": q.strip(), "explanation": str(e or "").strip()})
    return out


def _json_candidates(text: str) -> list[str]:
    cands = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for open_, close in (("[", "]"), ("{", "}")):
        i, j = text.find(open_), text.rfind(close)
        if 0 <= i < j:
            cands.append(text[i : j + 1])
    return cands


def _clean_q(q: str) -> str:
    return q.strip().strip("\"\u201c\u201d'").strip()


def _items_from_lines(text: str) -> list[dict]:
    items: list[dict] = []
    cur: dict | None = None
    for raw in text.replace("**", "").splitlines():
        line = raw.strip()
        if not line:
            continue
        m_e = _E_LABEL.match(line)
        if m_e:
            if cur is not None:
                cur["explanation"] = (cur["explanation"] + " " + m_e.group("e")).strip()
            continue
        m_q = _Q_LABEL.match(line)
        m_n = None if m_q else _NUMBERED.match(line)
        if m_q or (m_n and "?" in m_n.group("q")):
            q = (m_q or m_n).group("q")
            parts = _E_INLINE.split(q, maxsplit=1)
            cur = {
                "question": _clean_q(parts[0]),
                "explanation": parts[1].strip(" )]") if len(parts) > 1 else "",
                "_labelled": bool(m_q),
            }
            items.append(cur)
            continue
        if cur is not None:
            key = "explanation" if cur["explanation"] else "question"
            cur[key] = (cur[key] + " " + line).strip()
    return [
        {"question": it["question"], "explanation": it["explanation"]}
        for it in items
        if it["question"] and (it["_labelled"] or "?" in it["question"])
    ]


def parse_generated(text: str) -> list[dict]:
    """``[{question, explanation}]`` from an MLLM answer: a JSON list/object (also inside a code fence
    or surrounded by prose), or "Question: ... Explanation: ..." blocks, or numbered lines
    ("1. Q? Explanation: ...").  ``[]`` when nothing can be read."""
    if not isinstance(text, str) or not text.strip():
        return []
    for cand in _json_candidates(text):
        try:
            obj = json.loads(cand)
        except (json.JSONDecodeError, ValueError):
            continue
        items = _items_from_json(obj)
        if items:
            return items
    return _items_from_lines(text)


class OpenAIGenerator:
    """Questions from an MLLM behind any object with ``chat(messages, n=1, **gen) -> list[str]``
    (:class:`inbol.llm.LLMClient`; ``chat_many`` is used when present).  Unparseable answers are counted
    and skipped; more than ``max_unparsed_frac`` of them is an error."""

    name = "openai"

    def __init__(
        self,
        client: ChatClient,
        *,
        temperature: float = 0.7,
        max_tokens: int = 512,
        seed: int | None = None,
        max_unparsed_frac: float = 0.5,
        image_root: str | Path = ".",
    ):
        if not callable(getattr(client, "chat", None)):
            raise TypeError("the openai backend needs a client with a chat(messages, n=1, **gen) method")
        self.client = client
        self.gen = {"temperature": temperature, "max_tokens": max_tokens}
        if seed is not None:
            self.gen["seed"] = seed
        self.max_unparsed_frac = max_unparsed_frac
        self.image_root = image_root

    def request(self, record: dict, n: int) -> dict:
        msg = image_message(GENERATION_PROMPT.format(n=n), image_path(record, self.image_root))
        return {"messages": [msg], "n": 1, **self.gen}

    def questions_many(self, records: list[dict], n: int, stats: dict) -> list[list[tuple[str, dict]]]:
        answers = run_chats(self.client, [self.request(r, n) for r in records])
        out, unparsed, first_bad = [], 0, None
        for ans in answers:
            text = ans[0] if ans else ""
            items = parse_generated(text)
            if not items:
                unparsed += 1
                first_bad = text if first_bad is None else first_bad
            out.append(
                [
                    (it["question"], {"category": None, "template": None, "explanation": it["explanation"]})
                    for it in items[:n]
                ]
            )
        stats["llm_answers"] = stats.get("llm_answers", 0) + len(answers)
        stats["llm_unparsed"] = stats.get("llm_unparsed", 0) + unparsed
        if answers and unparsed / len(answers) > self.max_unparsed_frac:
            raise DataError(
                f"openai generator: {unparsed} of {len(answers)} answers could not be parsed "
                f"(more than max_unparsed_frac = {self.max_unparsed_frac:g}); first: {one_line(first_bad)!r}"
            )
        return out


# --------------------------------------------------------------------------------------------
# the generator
# --------------------------------------------------------------------------------------------


def select_images(n_records: int, cfg: UnanswerableGenerate) -> list[int]:
    """Indices of the source records whose images are used (in source order)."""
    n = n_records if cfg.n_images == 0 else min(cfg.n_images, n_records)
    order = np.random.default_rng([cfg.seed, 1]).permutation(n_records)
    return sorted(int(i) for i in order[:n])


def generate_unanswerable(
    records: list[dict],
    scenes: dict[str, dict] | None,
    cfg: UnanswerableGenerate,
    *,
    client: ChatClient | None = None,
    image_root: str | Path = ".",
) -> tuple[list[dict], dict]:
    """Unanswerable questions on the images of ``records`` (a world split) and stats.

    ``scenes`` (id -> scene graph, :func:`inbol.world.load_scenes`) are needed for swap and the template
    backend; ``client`` for the openai backend."""
    use_swap = cfg.mix.get("swap", 0) > 0
    use_gen = cfg.mix.get("generate", 0) > 0
    if use_gen and cfg.backend == "openai" and client is None:
        raise DataError(f"{SECTION}.backend = 'openai': no LLM client was given")
    if (use_swap or cfg.backend == "template") and scenes is None:
        raise DataError(f"{SECTION}: swap and the template backend need the scene graphs")
    if not records:
        raise DataError(f"{SECTION}: no source records")

    stats: dict = {"images": 0, "swap_tried": 0, "swap_answerable": 0, "swap_gave_up": 0}
    chosen = select_images(len(records), cfg)
    stats["images"] = len(chosen)
    template_gen = TemplateGenerator(cfg.categories)
    per_image: dict[int, tuple[str, list[tuple[str, dict]]]] = {}
    llm_todo: list[int] = []
    for i in chosen:
        rng = np.random.default_rng([cfg.seed, 2, i])
        method = _weighted(rng, cfg.mix, ("swap", "generate"))
        if method == "swap":
            per_image[i] = ("swap", swap_questions(i, records, scenes, rng, cfg.per_image, cfg.swap_tries, stats))
        elif cfg.backend == "template":
            per_image[i] = ("template", template_gen.questions(scene_of(records[i], scenes), rng, cfg.per_image))
        else:
            llm_todo.append(i)
    if llm_todo:
        gen = OpenAIGenerator(
            client,
            temperature=cfg.temperature,
            max_tokens=cfg.max_tokens,
            seed=cfg.seed,
            max_unparsed_frac=cfg.max_unparsed_frac,
            image_root=image_root,
        )
        for i, qs in zip(llm_todo, gen.questions_many([records[i] for i in llm_todo], cfg.per_image, stats)):
            per_image[i] = ("openai", qs)

    out: list[dict] = []
    for i in chosen:
        method, qs = per_image[i]
        src = records[i]
        sid = (src.get("meta") or {}).get("scene_id", src["id"])
        scene = scenes[sid] if scenes is not None and sid in scenes else {"id": sid}
        for k, (question, meta) in enumerate(qs):
            out.append(_record(src, scene, k, method, question, meta))
    by_method: dict[str, int] = {}
    for r in out:
        by_method[r["meta"]["method"]] = by_method.get(r["meta"]["method"], 0) + 1
    by_category: dict[str, int] = {}
    for r in out:
        c = r["meta"].get("category") or "none"
        by_category[c] = by_category.get(c, 0) + 1
    stats.update(
        generated=len(out),
        by_method=dict(sorted(by_method.items())),
        by_category=dict(sorted(by_category.items())),
        backend=cfg.backend,
    )
    return out, stats
