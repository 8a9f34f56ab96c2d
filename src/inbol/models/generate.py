"""Batched generation with an in-process ``transformers`` model (left padding, one image per prompt)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from PIL import Image
from tqdm import tqdm

from .prompt import PromptFormat


def open_images(paths: Sequence[str]) -> list[Image.Image]:
    return [Image.open(p).convert("RGB") for p in paths]


@torch.no_grad()
def generate(
    model,
    processor,
    records: Sequence[dict],
    *,
    fmt: PromptFormat,
    batch_size: int = 64,
    max_new_tokens: int = 12,
    do_sample: bool = False,
    num_return_sequences: int = 1,
    temperature: float = 1.0,
    top_p: float = 1.0,
    seed: int = 0,
    prompt_suffix: str = "",
    desc: str | None = None,
    progress: bool = True,
    first_token_ids: Sequence[int] | None = None,
    scores_out: list | None = None,
) -> list[list[str]]:
    """Responses for each record (a list of ``num_return_sequences`` strings per record); prompts by ``fmt``.

    ``prompt_suffix`` is appended to each question (e.g. the paper's refusal prompt).  Sampling is
    seeded per batch, so results depend only on the seed, the batch size and the data order.  With
    ``first_token_ids`` and a list ``scores_out``, the probability that each response starts with one of those
    tokens (the first generation step's distribution) is appended to ``scores_out`` per record.
    """
    tok = processor.tokenizer
    tok.padding_side = "left"
    device = next(model.parameters()).device
    out: list[list[str]] = []
    it = range(0, len(records), batch_size)
    for bi, start in enumerate(tqdm(it, desc=desc or "generate", disable=not progress, mininterval=2)):
        chunk = records[start : start + batch_size]
        texts = [fmt.prompt(r["question"] + prompt_suffix) for r in chunk]
        batch = processor(
            images=open_images([r["image"] for r in chunk]), text=texts, return_tensors="pt", padding=True
        ).to(device)
        if "pixel_values" in batch:
            batch["pixel_values"] = batch["pixel_values"].to(model.dtype)
        gen = dict(
            max_new_tokens=max_new_tokens,
            do_sample=do_sample,
            num_return_sequences=num_return_sequences,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
        )
        if do_sample:
            gen.update(temperature=temperature, top_p=top_p, top_k=0)
            torch.manual_seed(seed * 1_000_003 + bi)
        else:
            gen.update(temperature=None, top_p=None, top_k=None)
        if scores_out is not None and first_token_ids is not None:
            result = model.generate(**batch, **gen, output_scores=True, return_dict_in_generate=True)
            seqs = result.sequences
            first = torch.softmax(result.scores[0].float(), dim=-1)[:, list(first_token_ids)].sum(-1)
            scores_out.extend(first[::num_return_sequences].tolist())
        else:
            seqs = model.generate(**batch, **gen)
        texts_out = tok.batch_decode(seqs[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
        texts_out = [t.strip() for t in texts_out]
        for i in range(len(chunk)):
            out.append(texts_out[i * num_return_sequences : (i + 1) * num_return_sequences])
    return out


def refusal_first_tokens(fmt: PromptFormat, refusals: Sequence[str]) -> list[int]:
    """The token ids that the completions of ``refusals`` start with (under ``fmt``'s chat template)."""
    tok = fmt.processor.tokenizer
    return sorted({tok(fmt.completion("x", r), add_special_tokens=False)["input_ids"][0] for r in refusals})


def greedy_answer_fn(
    model,
    fmt: PromptFormat,
    *,
    batch_size: int = 64,
    max_new_tokens: int = 12,
    prompt_suffix: str = "",
    refusal_score: bool = False,
):
    """``answer(records, desc) -> [one greedy response per record]`` of an in-process model (the answer
    function of :func:`inbol.evaluation.answer_sets`); with ``refusal_score``, ``[(response, p), ...]`` where
    p is the model's probability of starting one of the refusal templates (an abstention score)."""
    from ..refusals import REFUSAL_TEMPLATES

    first = refusal_first_tokens(fmt, REFUSAL_TEMPLATES) if refusal_score else None

    def answer(records: Sequence[dict], desc: str):
        scores: list[float] = []
        out = [
            o[0]
            for o in generate(
                model,
                fmt.processor,
                records,
                fmt=fmt,
                batch_size=batch_size,
                max_new_tokens=max_new_tokens,
                prompt_suffix=prompt_suffix,
                desc=desc,
                first_token_ids=first,
                scores_out=scores if refusal_score else None,
            )
        ]
        return list(zip(out, scores)) if refusal_score else out

    return answer
