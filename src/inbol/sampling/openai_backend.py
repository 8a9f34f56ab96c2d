"""Sampling through an OpenAI-compatible Chat Completions server (vLLM serving LLaVA at paper scale).

One request per question: the image as a base64 data URL and the question text, ``n = k`` choices,
the section's temperature / top_p / max_tokens, and a per-question ``seed`` derived from (seed, id)
(vLLM honours a per-request seed, which makes its samples reproducible; OpenAI treats it as best effort).
Requests go through :class:`inbol.llm.LLMClient` (bounded concurrency, retries, optional disk cache).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..llm import image_message, system_message


class OpenAISampler:
    name = "openai"

    def __init__(
        self,
        client,
        *,
        k: int,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_new_tokens: int = 12,
        prompt_suffix: str = "",
        system: str | None = None,
    ):
        self.client, self.system = client, system
        self.k, self.temperature, self.top_p = k, temperature, top_p
        self.max_new_tokens, self.prompt_suffix = max_new_tokens, prompt_suffix

    def request(self, record: dict, seed: int) -> dict:
        messages = ([system_message(self.system)] if self.system else []) + [
            image_message(record["question"] + self.prompt_suffix, record["image"])
        ]
        return {
            "messages": messages,
            "n": self.k,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_new_tokens,
            "seed": int(seed) % 2**31,
        }

    def sample(self, records: Sequence[dict], seeds: Sequence[int], images=None) -> list[list[str]]:
        if len(seeds) != len(records):
            raise ValueError(f"{len(records)} records but {len(seeds)} seeds")
        replies = self.client.chat_many(
            [self.request(r, s) for r, s in zip(records, seeds)], desc="sample", progress=False
        )
        return [[str(t).strip() for t in reply] for reply in replies]
