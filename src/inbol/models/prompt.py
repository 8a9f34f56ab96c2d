"""The one prompt formatter: how a question (and an answer) becomes model text, for every stage.

Sampling, generation (evaluation, the unanswerable filter's base answers), training (IDK-IT, SFT, CA-DPO,
DPO) and the probe all render through the model processor's own chat template, so another
``base_model.source`` changes every prompt the same way.  The conversation is

    [system message (``prompt.system``, when set)] + user: [<image>, question] (+ assistant: answer)

Three renderings of it:

- :meth:`PromptFormat.prompt`: the generation prompt, WITHOUT the tokenizer's BOS text; tokenize it with
  ``add_special_tokens=True`` (what ``processor(text=...)`` does), which puts the BOS token in front;
- :meth:`PromptFormat.bos_prompt`: the same with the BOS text in front, for tokenizers called with
  ``add_special_tokens=False`` (TRL's vision collators); both give the same token ids;
- :meth:`PromptFormat.completion`: what the whole conversation adds after the prompt, ending with EOS.

For the embedded tiny LLaVA (``CHAT_TEMPLATE`` of :mod:`inbol.models.build`) without a system sentence
that is ``USER: <image>\\n{q} ASSISTANT:`` and `` {a}</s>``: LLaVA-1.5's conversation format.
"""

from __future__ import annotations

from ..errors import DataError


def bos_text(tokenizer) -> str:
    """The BOS text that ``tokenizer(text)`` puts in front by default ('' when it adds none)."""
    bos = tokenizer.bos_token
    if not bos or tokenizer.bos_token_id is None:
        return ""
    with_special = tokenizer("a")["input_ids"]
    return bos if with_special and with_special[0] == tokenizer.bos_token_id else ""


class PromptFormat:
    """Prompt and completion strings of one (question, answer) in the processor's chat template."""

    def __init__(self, processor, system: str | None = None):
        self.processor = processor
        tok = getattr(processor, "tokenizer", processor)
        self.bos = bos_text(tok)
        self.eos = tok.eos_token or ""
        self.system = system

    def messages(
        self, question: str, answer: str | None = None, *, image: bool = True, system: bool = True
    ) -> list[dict]:
        out = []
        if self.system and system:
            out.append({"role": "system", "content": [{"type": "text", "text": self.system}]})
        parts = ([{"type": "image"}] if image else []) + [{"type": "text", "text": question}]
        out.append({"role": "user", "content": parts})
        if answer is not None:
            out.append({"role": "assistant", "content": [{"type": "text", "text": answer}]})
        return out

    def _render(self, messages: list[dict], generation: bool) -> str:
        text = self.processor.apply_chat_template(messages, add_generation_prompt=generation, tokenize=False)
        return text[len(self.bos) :] if self.bos and text.startswith(self.bos) else text

    def prompt(self, question: str) -> str:
        """The generation prompt without the BOS text (tokenize with special tokens)."""
        return self._render(self.messages(question), True)

    def followup(self, question: str) -> str:
        """A later turn's prompt about the same image (no image, no system sentence), for multi-turn text."""
        return self._render(self.messages(question, image=False, system=False), True)

    def bos_prompt(self, question: str) -> str:
        """The generation prompt with the BOS text in front (tokenize without special tokens)."""
        return self.bos + self.prompt(question)

    def completion(self, question: str, answer: str) -> str:
        """The assistant's part after the prompt, ending with EOS."""
        prompt = self.prompt(question)
        full = self._render(self.messages(question, answer), False)
        if not full.startswith(prompt):
            raise DataError(
                f"the chat template does not render the prompt as a prefix of the conversation: "
                f"{prompt[-40:]!r} vs {full[: len(prompt)][-40:]!r}"
            )
        out = full[len(prompt) :]
        return out if (not self.eos or out.endswith(self.eos)) else out + self.eos


__all__ = ["PromptFormat", "bos_text"]
