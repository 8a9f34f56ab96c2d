"""OpenAI-compatible LLM/MLLM client: the one place that wraps the ``openai`` package.

Used for sampling from a vLLM server, the hybrid evaluator's semantic judge, and the LLM-backed
unanswerable-question generator and filter.  See :mod:`inbol.llm.client` and :mod:`inbol.llm.cache`; the
message helpers are :mod:`inbol.messages` (re-exported here), which code that only formats messages imports.
"""

from ..errors import LLMError
from ..messages import image_data_url, image_message, system_message, user_message
from .cache import ResponseCache, canonical_json, request_key
from .client import DUMMY_API_KEY, GEN_KEYS, Completion, LLMClient, api_key

__all__ = [
    "LLMClient",
    "Completion",
    "LLMError",
    "ResponseCache",
    "request_key",
    "canonical_json",
    "image_message",
    "image_data_url",
    "user_message",
    "system_message",
    "api_key",
    "DUMMY_API_KEY",
    "GEN_KEYS",
]
