"""The ``grpo`` section: the RL method on the paper's value function (GRPO, :mod:`inbol.training.grpo`)."""

from __future__ import annotations

from pydantic import model_validator

from .core import Float, Int, LearningRate, NonNegFloat, PosFloat, PosInt, Section, _fail


class GRPO(Section):
    """GRPO with the S_trust reward (+1 correct, 0 refusal, -1 incorrect): its budget and sampling.  The rest
    of the optimisation (warmup, scheduler, checkpoints, logging, dtype, launcher) is the ``train`` section's;
    the seeds are the top-level ``seeds`` (the training seed, the adapter's init and the sampling)."""

    steps: PosInt  # optimiser steps
    num_generations: Int(2)  # completions sampled per prompt (the group GRPO normalises the reward in)
    batch_size: PosInt  # completions per optimiser step (prompts per step x num_generations)
    lr: LearningRate
    beta: NonNegFloat  # the KL penalty to the start model (0: no reference model)
    temperature: PosFloat  # sampling temperature of the completions
    max_completion_length: PosInt  # tokens per completion
    epsilon: Float(0.0, 1.0, lo_open=True, hi_open=True)  # the clipping range of the policy ratio

    @model_validator(mode="after")
    def _groups(self):
        if self.batch_size % self.num_generations:
            raise _fail(
                f"must be a multiple of {{p}}num_generations = {self.num_generations} (whole groups per step)",
                "batch_size",
                self.batch_size,
            )
        return self

    @property
    def prompts_per_step(self) -> int:
        return self.batch_size // self.num_generations
