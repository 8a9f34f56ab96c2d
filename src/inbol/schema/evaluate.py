"""The ``evaluate`` section: generation on the test sets."""

from __future__ import annotations

from .core import Device, DType, Int, PosInt, Section


class Evaluate(Section):
    vqa_accuracy: bool  # also the official VQA accuracy where records carry the 10 answers
    batch_size: PosInt
    max_new_tokens: Int(1, 4096)
    device: Device
    dtype: DType
    top_logprobs: Int(1, 20)  # sampling.backend openai: P(refusal start) from the first token's top log-probs
