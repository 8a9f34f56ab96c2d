"""The one prompt formatter: how a question (and an answer) becomes model text, for every stage.

Sampling, generation (evaluation, the unanswerable filter's base answers), training (IDK-IT, SFT, CA-DPO,
DPO) and the probe all render through the model processor's own chat template, so another
``base_model.source`` changes every prompt the same way.  The conversation is

    [system message (``prompt.system``, when set)] + user: [<image>, question] (+ assistant: answer)

Three renderings of it:

- :meth:`PromptFormat.prompt`: the generation prompt, WITHOUT the tokenizer's BOS text; tokenize it with
  ``add_special_tokens=True`` (what ``processor(text=...)`` does), which puts the BOS token in front;
- :meth:`PromptFormat.bos_prompt`: the same with the BOS text in front, for tokenizers called with
  ``add_special_tokens=False`` (TRL's vision collators); both give the same token ids.  A Llama-family
  (sentencepiece-style, ``Metaspace`` with ``prepend_scheme="first"``) tokenizer puts the word-start mark ``▁``
  only at the very start of the text, so after a BOS written as text ``USER`` would lose the ``▁`` that
  inference gives it (``▁USER``): for such a tokenizer the BOS text is followed by a space, which the tokenizer
  turns into that same ``▁``.  Which of the two the tokenizer needs is found once, on the first prompt, by
  comparing the token ids; when neither gives the inference ids, a one-line DataError says so;
- :meth:`PromptFormat.completion`: what the whole conversation adds after the prompt, ending with EOS: what
  the model has to generate.  A template that closes the assistant's turn with EOS (the embedded tiny
  LLaVA's) is kept as it renders; one that closes it with whitespace only (llava-hf's ``chat_template.json``
  renders ``ASSISTANT: {a} ``) has that whitespace dropped before EOS is appended, since it separates turns
  and is not generated (kept, it would teach a lone ``▁`` token before ``</s>``).

For the embedded tiny LLaVA (``CHAT_TEMPLATE`` of :mod:`inbol.models.build`) without a system sentence
that is ``USER: <image>\\n{q} ASSISTANT:`` and `` {a}</s>``: LLaVA-1.5's conversation format.
:func:`inbol.training.data.check_token_parity` checks, before training, that the ids training sees are the
ids of inference.
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
        self.tokenizer = tok
        self.bos = bos_text(tok)
        self.eos = tok.eos_token or ""
        self.system = system
        self._bos_sep: str | None = None  # "" or " " after the BOS text (found on the first bos_prompt)

    @property
    def image_pad(self) -> tuple[int, ...] | None:
        """The colour the processor pads non-square images with (None: it does not pad); the server path pads
        with it before sending an image (:func:`inbol.llm.image_data_url`)."""
        from .build import square_fill

        return square_fill(self.processor)

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
        """The generation prompt with the BOS text in front (tokenize without special tokens): the same token
        ids as :meth:`prompt` tokenized with them."""
        prompt = self.prompt(question)
        if not self.bos:
            return prompt
        if self._bos_sep is None:
            want = self.tokenizer(prompt)["input_ids"]
            for sep in ("", " "):
                if self.tokenizer(self.bos + sep + prompt, add_special_tokens=False)["input_ids"] == want:
                    self._bos_sep = sep
                    break
            else:
                raise DataError(
                    f"tokenizer {type(self.tokenizer).__name__}: no text form of the BOS token {self.bos!r} gives "
                    f"the inference ids of the prompt {prompt[:40]!r} without special tokens (needed by the "
                    f"training collators, which tokenize with add_special_tokens=False)"
                )
        return self.bos + self._bos_sep + prompt

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
        if not self.eos:
            return out
        end = out.find(self.eos)
        if end >= 0:  # the template closes the turn with EOS: up to and with it
            return out[: end + len(self.eos)]
        return out.rstrip() + self.eos  # closed by whitespace only: it separates turns, EOS ends the answer


__all__ = ["PromptFormat", "bos_text"]
