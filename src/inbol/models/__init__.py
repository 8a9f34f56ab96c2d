"""Multimodal models: the tiny LLaVA of the embedded default and any LLaVA checkpoint (see docs/models.md)."""
from .base import BaseEvalConfig, BaseModelConfig, build_base_model, evaluate_greedy, load_base
from .build import (CHAT_TEMPLATE, ArchConfig, TextConfig, VisionConfig, build_processor, build_tiny_llava,
                    format_completion, format_prompt, load_model, pick_device, pick_dtype, train_tokenizer)
from .generate import generate
from .pretrain import PretrainConfig, pretrain

__all__ = ["BaseEvalConfig", "BaseModelConfig", "build_base_model", "evaluate_greedy", "load_base", "CHAT_TEMPLATE",
           "ArchConfig", "TextConfig", "VisionConfig", "build_processor", "build_tiny_llava", "format_completion",
           "format_prompt", "load_model", "pick_device", "pick_dtype", "train_tokenizer", "generate",
           "PretrainConfig", "pretrain"]
