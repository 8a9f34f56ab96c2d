"""The ``sampling`` section: the K responses per question of the confidence estimation."""

from __future__ import annotations

from typing import Literal

from .core import Device, DType, Endpoint, Float, PosInt, Section, Seed, SplitName, UniqueList, Unit


class Sampling(Section):
    backend: Literal["hf", "openai"]
    k: PosInt  # samples per question (the paper's K)
    temperature: Float(0.0, 2.0)
    top_p: Float(0.0, 1.0, lo_open=True)
    max_new_tokens: PosInt
    batch_size: PosInt  # questions per batch (each batch is one append + fsync)
    seed: Seed
    splits: UniqueList(SplitName)
    max_bad_fraction: Unit  # most questions (share) left out as bad (image, answers, duplicate id)
    device: Device
    dtype: DType
    openai: Endpoint  # backend openai: the server of the original model (vLLM)

    def fingerprint(self) -> dict:
        """The settings that decide the samples (batch_size, device, dtype, splits and the server's
        address/timeouts do not; see :mod:`inbol.sampling.run`)."""
        fp = {
            "backend": self.backend,
            "k": self.k,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_new_tokens": self.max_new_tokens,
            "seed": self.seed,
        }
        if self.backend == "openai":
            fp["model"] = self.openai.model
        return fp
