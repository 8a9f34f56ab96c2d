"""Multimodal models: the tiny LLaVA of the embedded default and any LLaVA checkpoint (see docs/models.md)."""

from .base import build_base_model, check_base_inputs, evaluate_greedy, load_base
from .build import (
    CHAT_TEMPLATE,
    build_processor,
    build_tiny_llava,
    load_model,
    pick_device,
    pick_dtype,
    train_tokenizer,
)
from .generate import generate, greedy_answer_fn, open_images
from .pretrain import pretrain
from .prompt import PromptFormat

__all__ = [
    "build_base_model",
    "check_base_inputs",
    "evaluate_greedy",
    "load_base",
    "CHAT_TEMPLATE",
    "build_processor",
    "build_tiny_llava",
    "load_model",
    "pick_device",
    "pick_dtype",
    "train_tokenizer",
    "generate",
    "greedy_answer_fn",
    "open_images",
    "pretrain",
    "PromptFormat",
]
