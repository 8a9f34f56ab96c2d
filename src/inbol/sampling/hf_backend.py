"""In-process sampling with ``transformers``: K responses per question, each image encoded once.

For a batch of B questions (left padded):

1. **prefill once**: one forward pass over the B prompts without their last token, with the pixel values,
   so the vision tower and the multimodal projector see each image exactly once and each prompt (image
   tokens included) is prefilled once;
2. **expand the cache**: the KV cache is repeated K times per question (``batch_repeat_interleave``);
3. **decode**: ``model.generate`` continues the B*K rows from the expanded cache (it only runs the last
   prompt token and the new ones), no pixel values are passed again.

Sampling is done by a logits processor, so it is exact ancestral sampling with ``temperature`` and
``top_p`` (transformers' own warpers), but the randomness of question q comes from its own
``torch.Generator`` seeded by (seed, q's id): the Gumbel-max trick, ``argmax(logits/T + G)`` with G drawn
per question and step, picks token i with probability ``softmax(logits/T)_i``, and ``generate`` runs
greedy over those perturbed scores.  A question's samples therefore do not depend on which other questions
share its batch or where it sits in it, except through the floating-point effect of padding on its logits.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import torch
from transformers import (
    LlavaForConditionalGeneration,
    LogitsProcessor,
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopPLogitsWarper,
)

from ..models.generate import open_images

# transformers renamed ``past_key_values`` to ``cache`` (5.2x); use whichever the installed version has
_CACHE_KW = (
    "cache" if "cache" in inspect.signature(LlavaForConditionalGeneration.forward).parameters else "past_key_values"
)


class PerQuestionGumbel(LogitsProcessor):
    """Adds Gumbel noise to row ``b*k + j`` from question b's own generator (k rows per question)."""

    def __init__(self, generators: Sequence[torch.Generator], k: int):
        self.generators = list(generators)
        self.k = k

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        rows, vocab = scores.shape
        if rows != self.k * len(self.generators):
            raise ValueError(f"{rows} rows but {len(self.generators)} questions x k={self.k}")
        noise = torch.cat(
            [
                torch.empty((self.k, vocab), dtype=torch.float32, device=g.device).exponential_(generator=g)
                for g in self.generators
            ]
        ).to(scores.device)
        # -log(E), E ~ Exp(1), is a standard Gumbel; masked (-inf) tokens stay -inf
        return scores.float() - noise.clamp_min(1e-30).log()


class HFSampler:
    """``sample(records, seeds) -> [[k strings], ...]`` with an in-process LLaVA-style model."""

    name = "hf"

    def __init__(
        self,
        model,
        fmt,
        *,
        k: int,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 12,
        prompt_suffix: str = "",
    ):
        """``fmt``: the :class:`inbol.models.PromptFormat` of the model's processor."""
        self.model, self.fmt, self.processor = model, fmt, fmt.processor
        self.k, self.temperature, self.top_p = k, temperature, top_p
        self.max_new_tokens, self.prompt_suffix = max_new_tokens, prompt_suffix
        self.tok = self.processor.tokenizer
        self.tok.padding_side = "left"
        self.device = next(model.parameters()).device

    def _processors(self, seeds: Sequence[int]) -> LogitsProcessorList:
        if self.temperature == 0:  # greedy: K identical answers
            return LogitsProcessorList()
        gen_device = self.device if self.device.type == "cuda" else torch.device("cpu")
        gens = [torch.Generator(device=gen_device).manual_seed(int(s)) for s in seeds]
        procs = [] if self.temperature == 1.0 else [TemperatureLogitsWarper(self.temperature)]
        if self.top_p < 1.0:
            procs.append(TopPLogitsWarper(self.top_p))
        procs.append(PerQuestionGumbel(gens, self.k))
        return LogitsProcessorList(procs)

    @torch.no_grad()
    def sample(self, records: Sequence[dict], seeds: Sequence[int], images=None) -> list[list[str]]:
        """K responses per record; ``seeds[i]`` seeds record i's randomness; ``images`` (optional) are the
        already opened PIL images of the records."""
        if not records:
            return []
        if len(seeds) != len(records):
            raise ValueError(f"{len(records)} records but {len(seeds)} seeds")
        k, model, tok = self.k, self.model, self.tok
        images = images if images is not None else open_images([r["image"] for r in records])
        texts = [self.fmt.prompt(r["question"] + self.prompt_suffix) for r in records]
        batch = self.processor(images=images, text=texts, return_tensors="pt", padding=True).to(self.device)
        ids, mask = batch["input_ids"], batch["attention_mask"]
        pixel_values = batch["pixel_values"].to(model.dtype)
        # positions as generate() computes them from the attention mask (left padding)
        pos = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
        # 1. prefill all but the last prompt token, each image through the vision tower once
        out = model(
            input_ids=ids[:, :-1],
            attention_mask=mask[:, :-1],
            position_ids=pos[:, :-1],
            pixel_values=pixel_values,
            use_cache=True,
            logits_to_keep=1,
        )
        cache = getattr(out, _CACHE_KW)
        # 2. K copies of each question's cache
        cache.batch_repeat_interleave(k)
        # 3. decode the B*K rows from the cache (only the last prompt token is run again, with no image)
        seqs = model.generate(
            input_ids=ids.repeat_interleave(k, 0),
            attention_mask=mask.repeat_interleave(k, 0),
            **{_CACHE_KW: cache},
            do_sample=False,
            num_return_sequences=1,
            temperature=None,
            top_p=None,
            top_k=None,
            max_new_tokens=self.max_new_tokens,
            logits_processor=self._processors(seeds),
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
        )
        texts_out = [t.strip() for t in tok.batch_decode(seqs[:, ids.shape[1] :], skip_special_tokens=True)]
        return [texts_out[i * k : (i + 1) * k] for i in range(len(records))]
