"""The ``base_model`` section: the original model (architecture, pretraining, its check)."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from .core import Device, DType, Int, LearningRate, Name, PosInt, Section, Seed, Unit, _fail

# the original model
# --------------------------------------------------------------------------------------------


class VisionArch(Section):
    hidden_size: PosInt
    intermediate_size: PosInt
    num_layers: PosInt
    num_heads: PosInt
    patch_size: PosInt

    @model_validator(mode="after")
    def _heads(self):
        if self.hidden_size % self.num_heads:
            raise _fail(f"must be divisible by {{p}}num_heads ({self.num_heads})", "hidden_size", self.hidden_size)
        return self


class TextArch(Section):
    hidden_size: PosInt
    intermediate_size: PosInt
    num_layers: PosInt
    num_heads: PosInt
    max_positions: PosInt

    @model_validator(mode="after")
    def _heads(self):
        if self.hidden_size % self.num_heads:
            raise _fail(f"must be divisible by {{p}}num_heads ({self.num_heads})", "hidden_size", self.hidden_size)
        return self


class Arch(Section):
    """The tiny LLaVA built when ``base_model.source`` is ``scratch``."""

    vocab_size: Int(300, 200_000)
    vision_feature_layer: int
    vision: VisionArch
    text: TextArch

    @model_validator(mode="after")
    def _layer(self):
        n = self.vision.num_layers + 1
        if not -n <= self.vision_feature_layer <= -1:
            raise _fail(f"must be in [-{n}, -1]", "vision_feature_layer", self.vision_feature_layer)
        return self


class Pretrain(Section):
    steps: PosInt
    batch_size: PosInt
    lr: LearningRate
    weight_decay: Unit
    warmup_ratio: Unit
    scheduler: Literal["cosine", "linear", "constant"]
    seed: Seed  # data order (base_model.seed: the initial weights)
    log_every: PosInt
    turns_per_example: Int(1, 20)  # >1 packs an image's corpus QAs into one multi-turn example
    sampling: Literal["random", "group_by_length"]
    # >1: each random batch is sorted by length into this many micro-batches (gradient accumulation over the
    # same examples, so the same update up to rounding, with less padding: 1.3x faster steps here)
    micro_batches: Int(1, 64)

    @model_validator(mode="after")
    def _micro(self):
        if self.batch_size % self.micro_batches:
            raise _fail(f"must divide batch_size ({self.batch_size})", "micro_batches", self.micro_batches)
        if self.micro_batches > 1 and self.sampling != "random":
            raise _fail(
                "needs sampling: random (it sorts each random batch itself)", "micro_batches", self.micro_batches
            )
        return self


class BaseEval(Section):
    n_per_family: PosInt  # held-out questions per family (the first ones of the train pool)
    batch_size: PosInt
    max_new_tokens: PosInt


class BaseModelParams(Section):
    source: Name  # scratch | a hub id | a local folder saved with save_pretrained
    image_aspect_ratio: Literal["pad", "crop"]  # non-square images: pad to a square (LLaVA-1.5) | centre-crop
    seed: Seed
    device: Device
    dtype: DType
    arch: Arch
    pretrain: Pretrain
    eval: BaseEval
