"""The ``base_model`` stage's library: the 'original model' that InBoL starts from.

``source: scratch`` trains a tokenizer and pretrains a tiny LLaVA on the world's corpus; any other value
is a hub id or a local folder (e.g. ``llava-hf/llava-1.5-7b-hf``) that is loaded with ``from_pretrained``
and recorded in ``models/base/source.json`` instead of being copied.  :func:`load_base` resolves both.
"""

from __future__ import annotations

import collections
import json
import time
from pathlib import Path

import numpy as np

from ..errors import DataError, ParamError
from ..io import read_json, write_json
from ..records import read_questions
from ..schema.base_model import BaseEval, BaseModelParams
from .build import build_processor, build_tiny_llava, load_model, pick_device, train_tokenizer
from .generate import generate
from .prompt import PromptFormat

EXPOSURE_BUCKETS = ((0, 0), (1, 4), (5, 14), (15, 49), (50, 10**9))
SOURCE_FILE = "source.json"


def check_image_size(cfg: BaseModelParams, image_size: int) -> None:
    p = cfg.arch.vision.patch_size
    if image_size % p:
        raise ParamError(f"base_model.arch.vision.patch_size = {p}: must divide the world's image size ({image_size})")


def tokenizer_texts(corpus: list[dict]) -> list[str]:
    """The world's text (corpus questions and answers) plus the project's refusal phrasings, so that
    refusals taught later tokenize compactly (the corpus itself never contains one)."""
    from ..judge import PAPER_REFUSAL, REFUSAL_PROMPT, REFUSAL_TEMPLATES

    texts = [f"{r['question']} {' '.join(r['answers'])} {' '.join(r.get('choices', []))}" for r in corpus]
    return texts + list(REFUSAL_TEMPLATES) + [PAPER_REFUSAL, REFUSAL_PROMPT]


def exposure_bucket(exposure: int) -> str:
    for lo, hi in EXPOSURE_BUCKETS:
        if lo <= exposure <= hi:
            return f"{lo}" if lo == hi else (f"{lo}+" if hi >= 10**9 else f"{lo}-{hi}")
    raise ValueError(exposure)


def heldout_slice(pool: list[dict], n_per_family: int) -> list[dict]:
    per: dict[str, list[dict]] = collections.defaultdict(list)
    for r in pool:
        if len(per[r["meta"]["family"]]) < n_per_family:
            per[r["meta"]["family"]].append(r)
    return [r for fam in sorted(per) for r in per[fam]]


def evaluate_greedy(model, fmt: PromptFormat, records: list[dict], cfg: BaseEval) -> dict:
    """Greedy accuracy per family/qtype, emblem accuracy by corpus exposure, refusal rate."""
    from ..judge import is_refusal, string_match

    responses = [
        o[0]
        for o in generate(
            model,
            fmt.processor,
            records,
            fmt=fmt,
            batch_size=cfg.batch_size,
            max_new_tokens=cfg.max_new_tokens,
            desc="base_model: eval",
        )
    ]
    acc: dict[str, dict[str, list[bool]]] = {
        "family": collections.defaultdict(list),
        "qtype": collections.defaultdict(list),
        "exposure": collections.defaultdict(list),
    }
    refusals = 0
    for r, resp in zip(records, responses):
        ok = (not is_refusal(resp)) and string_match(resp, r)
        refusals += is_refusal(resp)
        acc["family"][r["meta"]["family"]].append(ok)
        acc["qtype"][r["meta"]["qtype"]].append(ok)
        if "exposure" in r["meta"]:
            acc["exposure"][exposure_bucket(r["meta"]["exposure"])].append(ok)

    def summary(d):
        return {k: {"acc": round(float(np.mean(v)), 4), "n": len(v)} for k, v in sorted(d.items())}

    order = [exposure_bucket(lo) for lo, _ in EXPOSURE_BUCKETS]
    by_exp = summary(acc["exposure"])
    return {
        "n": len(records),
        "refusal_rate": round(refusals / max(1, len(records)), 4),
        "accuracy_by_family": summary(acc["family"]),
        "accuracy_by_qtype": summary(acc["qtype"]),
        "emblem_accuracy_by_exposure": {k: by_exp[k] for k in order if k in by_exp},
    }


def build_base_model(
    cfg: BaseModelParams,
    world_dir: str | Path,
    out_dir: str | Path,
    work_dir: str | Path,
    *,
    system: str | None = None,
    callbacks=None,
) -> dict:
    """Create the original model in ``out_dir`` and return its metrics (prompts with ``system``, the
    ``prompt.system`` sentence)."""
    world_dir, out_dir = Path(world_dir), Path(out_dir)
    stats = read_json(world_dir / "stats.json")
    t0 = time.time()
    metrics: dict = {"source": cfg.source}
    if cfg.source == "scratch":
        if stats.get("source") == "datasets":
            raise DataError(
                "base_model.source = 'scratch': a model is pretrained from scratch only on the synthetic "
                "world's corpus; with world.source = 'datasets' give a hub id or a local model folder"
            )
        check_image_size(cfg, stats["image_size"])
        corpus = read_questions(world_dir / "corpus.jsonl")
        if not corpus:
            raise DataError(f"{world_dir / 'corpus.jsonl'}: the pretraining corpus is empty")
        tokenizer = train_tokenizer(tokenizer_texts(corpus), cfg.arch.vocab_size)
        processor = build_processor(tokenizer, stats["image_size"], cfg.arch.vision.patch_size)
        model = build_tiny_llava(cfg.arch, tokenizer, stats["image_size"], cfg.seed)
        model.to(pick_device(cfg.device))
        from .pretrain import pretrain  # transformers' Trainer and datasets: only a model built here needs them

        result = pretrain(
            model,
            PromptFormat(processor, system),
            corpus,
            cfg.pretrain,
            work_dir,
            device=cfg.device,
            callbacks=callbacks,
        )
        model.to("cpu")
        model.save_pretrained(out_dir)
        processor.save_pretrained(out_dir)
        metrics.update(
            final_loss=result["final_loss"],
            steps=result["steps"],
            epochs=result["epochs"],
            parameters=int(sum(p.numel() for p in model.parameters())),
            corpus_examples=len(corpus),
            train_seconds=round(time.time() - t0, 1),
        )
    else:
        # fails early when unloadable or when the processor cannot follow image_aspect_ratio
        model, processor = load_model(cfg.source, cfg.device, cfg.dtype, cfg.image_aspect_ratio)
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json(out_dir / SOURCE_FILE, {"source": cfg.source, "image_aspect_ratio": cfg.image_aspect_ratio})
    model, processor = load_base(out_dir, cfg.device, cfg.dtype)
    held = heldout_slice(read_questions(world_dir / "pool.jsonl"), cfg.eval.n_per_family)
    metrics["heldout"] = evaluate_greedy(model, PromptFormat(processor, system), held, cfg.eval)
    return metrics


def load_base(path: str | Path, device: str = "auto", dtype: str = "auto"):
    """Load (model, processor) from a model folder, following ``source.json`` when the folder points at
    an external model (hub id or path) instead of holding weights; the pointer's ``image_aspect_ratio`` (the
    ``base_model`` setting) sets how the processor treats non-square images (a folder with weights holds its
    processor as saved)."""
    path = Path(path)
    pointer = path / SOURCE_FILE
    if not pointer.exists():
        return load_model(path, device, dtype)
    info = json.loads(pointer.read_text())
    return load_model(info["source"], device, dtype, info.get("image_aspect_ratio"))


def check_base_inputs(cfg: BaseModelParams, world_dir: str | Path) -> None:
    """The checks of ``cfg`` against the world (``stats.json``) that the stage runs before it opens any
    output: dvclive's ``Live()`` clears ``dvclive/base_model`` as it starts, so a bad value found later
    would lose the previous curves."""
    stats_path = Path(world_dir) / "stats.json"
    if not stats_path.is_file():
        raise DataError(f"{stats_path}: missing (run the world stage first)")
    if cfg.source == "scratch":
        check_image_size(cfg, read_json(stats_path)["image_size"])
