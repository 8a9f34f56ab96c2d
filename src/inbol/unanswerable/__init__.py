"""Unanswerable questions: generation (image-question swapping, templates over scene graphs, or an MLLM),
the paper's three-criterion filter (an exact scene-graph oracle, or an MLLM) with the base-model refusal
step, and the unanswerable evaluation sets (UaVQA, BeyondVisQA-like, VizWiz-like).  See section 3.2 and
appendix D.2 of the paper."""

from .filter import (
    CRITERION_QUESTIONS,
    apply_base_answers,
    check_criteria,
    filter_unanswerable,
    openai_criteria,
    oracle_criteria,
    parse_yes_no,
)
from .generate import (
    GENERATION_PROMPT,
    OpenAIGenerator,
    TemplateGenerator,
    generate_unanswerable,
    parse_generated,
    scene_of,
)
from .oracle import CRITERIA, OracleError, criteria, is_unanswerable, qtype_semantics, strict_ok
from .sets import build_beyond, build_sets, build_uavqa, build_vizwiz

__all__ = [
    "CRITERIA",
    "CRITERION_QUESTIONS",
    "GENERATION_PROMPT",
    "generate_unanswerable",
    "TemplateGenerator",
    "OpenAIGenerator",
    "parse_generated",
    "scene_of",
    "filter_unanswerable",
    "check_criteria",
    "apply_base_answers",
    "oracle_criteria",
    "openai_criteria",
    "parse_yes_no",
    "criteria",
    "strict_ok",
    "is_unanswerable",
    "qtype_semantics",
    "OracleError",
    "build_uavqa",
    "build_beyond",
    "build_vizwiz",
    "build_sets",
]
