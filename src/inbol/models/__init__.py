"""Multimodal models: the tiny LLaVA of the embedded default and any LLaVA checkpoint (see docs/models.md).

The names below are imported from their submodule on first use: a stage that only loads a model and
generates does not pay for the pretraining code's imports (transformers' Trainer, datasets)."""

from __future__ import annotations

import importlib
import sys
import types

# public name -> the submodule that defines it
_WHERE = {
    "build_base_model": "base",
    "check_base_inputs": "base",
    "evaluate_greedy": "base",
    "load_base": "base",
    "CHAT_TEMPLATE": "build",
    "build_processor": "build",
    "build_tiny_llava": "build",
    "load_model": "build",
    "pick_device": "build",
    "pick_dtype": "build",
    "train_tokenizer": "build",
    "generate": "generate",
    "greedy_answer_fn": "generate",
    "open_images": "generate",
    "pretrain": "pretrain",
    "PromptFormat": "prompt",
}

__all__ = list(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


class _Package(types.ModuleType):
    """The import system binds a submodule to its name on this package when it is first imported; where a
    submodule shares its name with the function it defines (``generate``, ``pretrain``), the name stays the
    function's, whichever is imported first (as an eager ``from .generate import generate`` would leave it)."""

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, types.ModuleType) and _WHERE.get(name) == name:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
