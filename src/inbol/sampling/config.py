"""The ``sampling`` parameter section: K sampled responses per question from the original model."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..config import check, check_choice, check_range

BACKENDS = ("hf", "openai")
DEFAULT_SPLITS = ("pool", "test", "ood_hard", "ood_phrasing", "ood_choice")
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class SamplingOpenAIConfig:
    """An OpenAI-compatible Chat Completions server (a vLLM server at paper scale) serving the original
    model; the generation settings (n=k, temperature, top_p, max_tokens, seed) come from the sampling
    section itself."""
    model: str = "llava-hf/llava-1.5-7b-hf"
    base_url: str | None = None          # e.g. http://localhost:8000/v1; None: the openai package's default
    api_key_env: str = "OPENAI_API_KEY"  # the NAME of the variable holding the key
    timeout_s: float = 120.0
    max_retries: int = 5
    concurrency: int = 16
    cache_dir: str | None = None         # optional on-disk cache of completed requests (by request hash)


@dataclass(frozen=True)
class SamplingConfig:
    backend: str = "hf"                  # hf: in-process transformers | openai: an OpenAI-compatible server
    k: int = 10                          # samples per question (the paper's K)
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 12
    batch_size: int = 32                 # questions per batch (each batch is one append + fsync)
    seed: int = 0
    splits: list[str] = field(default_factory=lambda: list(DEFAULT_SPLITS))
    max_bad_fraction: float = 0.01       # most questions (share) left out as bad: missing/unreadable image,
                                         # no answers, duplicated id (counted in stats; more is an error)
    device: str = "auto"                 # hf backend
    dtype: str = "auto"                  # hf backend
    openai: SamplingOpenAIConfig = field(default_factory=SamplingOpenAIConfig)

    def validate(self, prefix: str = "sampling") -> None:
        check_choice(f"{prefix}.backend", self.backend, BACKENDS)
        check(self.k >= 1, f"{prefix}.k", self.k, "must be an integer >= 1")
        check_range(f"{prefix}.temperature", self.temperature, 0.0, 2.0)
        check_range(f"{prefix}.top_p", self.top_p, 0.0, 1.0, lo_open=True)
        check(self.max_new_tokens >= 1, f"{prefix}.max_new_tokens", self.max_new_tokens, "must be an integer >= 1")
        check(self.batch_size >= 1, f"{prefix}.batch_size", self.batch_size, "must be an integer >= 1")
        check(self.seed >= 0, f"{prefix}.seed", self.seed, "must be an integer >= 0")
        check(len(self.splits) >= 1, f"{prefix}.splits", self.splits, "must name at least one split")
        check(len(set(self.splits)) == len(self.splits), f"{prefix}.splits", self.splits, "must not repeat a split")
        for s in self.splits:
            check(bool(_SPLIT_NAME.match(s)), f"{prefix}.splits", self.splits,
                  f"{s!r} is not a split name (letters, digits, _ . -)")
        check_range(f"{prefix}.max_bad_fraction", self.max_bad_fraction, 0.0, 1.0)
        check_choice(f"{prefix}.device", self.device, ("auto", "cpu", "cuda", "mps"))
        check_choice(f"{prefix}.dtype", self.dtype, ("auto", "float32", "bfloat16", "float16"))
        o = self.openai
        p = f"{prefix}.openai"
        check(bool(o.model.strip()), f"{p}.model", o.model, "must be a non-empty model name")
        check(o.base_url is None or bool(re.match(r"^https?://[^\s/]+", o.base_url)), f"{p}.base_url",
              o.base_url, "must be null or an http(s):// URL")
        check(bool(re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", o.api_key_env)), f"{p}.api_key_env", o.api_key_env,
              "must be an environment variable name (letters, digits, _)")
        check_range(f"{p}.timeout_s", o.timeout_s, 0.0, lo_open=True)
        check_range(f"{p}.max_retries", o.max_retries, 0, 100)
        check_range(f"{p}.concurrency", o.concurrency, 1, 1024)
        check(o.cache_dir is None or bool(o.cache_dir.strip()), f"{p}.cache_dir", o.cache_dir,
              "must be null or a directory path")

    def llm_config(self):
        """The :class:`inbol.llm.LLMConfig` of the ``openai`` backend."""
        from ..llm import LLMConfig

        o = self.openai
        return LLMConfig(base_url=o.base_url, model=o.model, temperature=self.temperature, top_p=self.top_p,
                         max_tokens=self.max_new_tokens, timeout_s=o.timeout_s, max_retries=o.max_retries,
                         concurrency=o.concurrency, cache_dir=o.cache_dir, api_key_env=o.api_key_env,
                         progress=False)

    def fingerprint(self) -> dict:
        """The settings that decide the samples (batch_size, device, dtype, splits and the server's
        address/timeouts do not; see :mod:`inbol.sampling.run` for what holds exactly)."""
        fp = {"backend": self.backend, "k": self.k, "temperature": self.temperature, "top_p": self.top_p,
              "max_new_tokens": self.max_new_tokens, "seed": self.seed}
        if self.backend == "openai":
            fp["model"] = self.openai.model
        return fp
