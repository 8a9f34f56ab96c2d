"""Sampling through an OpenAI-compatible Chat Completions server (vLLM serving LLaVA at paper scale).

One request per question, naming the model sampled (the base model, or a trained model's LoRA adapter:
:mod:`inbol.serve`): the conversation of :class:`inbol.models.PromptFormat` (the system sentence, then the
image as a base64 data URL and the question), ``n = k`` choices, the section's temperature /
top_p / max_tokens, and a per-question ``seed``.  Requests go through :class:`inbol.llm.LLMClient` (bounded
concurrency, retries, optional disk cache).

Prompt parity with the ``hf`` backend.  The ``hf`` backend renders the conversation with the processor's chat
template and tokenizes it with ``add_special_tokens=True`` (BOS in front).  vLLM renders the same template (the
checkpoint's, e.g. llava-hf's ``chat_template.json``, which prints no BOS) but tokenizes a chat request with
``add_special_tokens=False`` unless the request says otherwise (vLLM 0.33.0,
``vllm/entrypoints/openai/chat_completion/protocol.py``: ``add_special_tokens: bool = Field(default=False, ...)``).
So every request carries ``extra_body = {"add_special_tokens": true}`` (a vLLM field; other servers may reject
it: the constructor's ``add_special_tokens=False`` leaves it out), and both backends see the same token ids.

Seeds.  vLLM fans a request with ``n > 1`` out into ``n`` requests whose seeds are ``seed, seed + 1, ...,
seed + n - 1`` (``vllm/v1/engine/parallel_sampling.py``, ``ParentRequest._get_child_sampling_params``).  Each
question's ``seed`` is ``stable_seed(sampling.seed, id) mod 2**31`` (a hash, not a counter, so two questions share
a child stream only by chance: about n / 2**30 per pair of questions), fixed by the question, not its batch.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..messages import image_message, system_message

SEED_MODULUS = 2**31  # a seed range any OpenAI-compatible server accepts (vLLM takes int64)


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
        add_special_tokens: bool = True,
        model: str | None = None,
        model_version: str | None = None,
        image_pad: tuple[int, ...] | None = None,
    ):
        """``model``: the server's name of the model sampled, named in every request (a trained model's LoRA
        adapter, or the base model; None: the client endpoint's model).  ``image_pad``: the colour the model's
        processor pads non-square images with (:attr:`inbol.models.PromptFormat.image_pad`); such images are
        sent padded, as the ``hf`` backend sees them."""
        self.client, self.system, self.image_pad = client, system, image_pad
        self.model = model or client.endpoint.model
        self.model_version = model_version  # a hash of the served weights: keys the disk cache, not sent
        self.k, self.temperature, self.top_p = k, temperature, top_p
        self.max_new_tokens, self.prompt_suffix = max_new_tokens, prompt_suffix
        self.add_special_tokens = add_special_tokens

    def messages(self, record: dict) -> list[dict]:
        """The conversation of :meth:`inbol.models.PromptFormat.messages` (the ``hf`` backend's): the system
        sentence (a string content, which vLLM turns into one text part: vLLM 0.33.0,
        ``vllm/renderers/chat_utils/chat_message.py`` ``parse_chat_message_content``), then the image and the
        question."""
        system = [system_message(self.system)] if self.system else []
        return system + [image_message(record["question"] + self.prompt_suffix, record["image"], self.image_pad)]

    def request(self, record: dict, seed: int) -> dict:
        req = {
            "model": self.model,
            "messages": self.messages(record),
            "n": self.k,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_new_tokens,
            "seed": int(seed) % SEED_MODULUS,
        }
        if self.model_version is not None:
            req["model_version"] = self.model_version
        if self.add_special_tokens:
            req["extra_body"] = {"add_special_tokens": True}
        return req

    def sample(self, records: Sequence[dict], seeds: Sequence[int], images=None) -> list[list[str]]:
        if len(seeds) != len(records):
            raise ValueError(f"{len(records)} records but {len(seeds)} seeds")
        replies = self.client.chat_many(
            [self.request(r, s) for r, s in zip(records, seeds)], desc="sample", progress=False
        )
        return [[str(t).strip() for t in reply] for reply in replies]
