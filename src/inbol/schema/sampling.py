"""The ``sampling`` section: the K responses per question of the confidence estimation."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator

from ..evalsets import world_files
from .core import Device, DType, Endpoint, Float, PosInt, Section, Seed, SplitName, UniqueList, Unit, _fail


def _world_file(v: str) -> str:
    allowed = world_files()  # the registry's (inbol.evalsets), read when validated
    if v not in allowed:
        raise _fail(f"is not a question split of the world; allowed: {', '.join(allowed)}")
    return v


WorldFile = Annotated[SplitName, AfterValidator(_world_file)]


class Sampling(Section):
    backend: Literal["hf", "openai"]
    k: PosInt  # samples per question (the paper's K)
    temperature: Float(0.0, 2.0)
    top_p: Float(0.0, 1.0, lo_open=True)
    max_new_tokens: PosInt
    batch_size: PosInt  # questions per batch (each batch is one append + fsync)
    seed: Seed
    splits: UniqueList(WorldFile)  # the world's question splits to sample (inbol.evalsets.world_files)
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
