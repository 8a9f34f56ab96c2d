"""Parameters of the unanswerable-question stages (params.yaml section ``unanswerable``)."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..config import check, check_choice, check_range, check_subset
from .templates import CATEGORIES

GEN_BACKENDS = ("template", "openai")
FILTER_BACKENDS = ("oracle", "openai")
METHODS = ("swap", "generate")                 # keys of UnanswerableGenerateConfig.mix
VIZWIZ_MODES = ("blank", "blur", "dark", "occluder")


def _check_weights(key: str, weights: dict[str, float], allowed) -> None:
    check_subset(key, list(weights), allowed)
    for k, v in weights.items():
        check(v >= 0, f"{key}.{k}", v, "must be a weight >= 0")
    check(sum(weights.values()) > 0, key, weights, "needs at least one positive weight")


@dataclass(frozen=True)
class UnanswerableGenerateConfig:
    seed: int = 0
    source: str = "pool"            # world split whose images are used (records file <source>.jsonl)
    n_images: int = 0               # images drawn from the source split; 0 = all of them
    per_image: int = 2              # questions per image (the paper's prompt asks for two)
    # per image, the method is drawn by these weights: "swap" (another record's question on this image,
    # kept only if unanswerable here) or "generate" (the backend: templates or an MLLM)
    mix: dict[str, float] = field(default_factory=lambda: {"swap": 1.0, "generate": 2.0})
    # template backend: weights of the question categories
    categories: dict[str, float] = field(default_factory=lambda: {"absent": 1.0, "false_premise": 1.0,
                                                                   "not_available": 1.0})
    swap_tries: int = 20            # donors tried per swapped question before giving up
    backend: str = "template"       # template | openai
    model: str = "gpt-4o"           # openai backend: the model the stage's LLM client is built with
    temperature: float = 0.7        # openai backend
    max_tokens: int = 512           # openai backend
    max_unparsed_frac: float = 0.5  # openai backend: fail when more answers than this cannot be parsed

    def validate(self, prefix: str) -> None:
        check(self.seed >= 0, f"{prefix}.seed", self.seed, "must be an integer >= 0")
        check(bool(self.source.strip()), f"{prefix}.source", self.source, "must name a world split, e.g. pool")
        check(self.n_images >= 0, f"{prefix}.n_images", self.n_images, "must be an integer >= 0 (0 = all)")
        check(self.per_image >= 1, f"{prefix}.per_image", self.per_image, "must be an integer >= 1")
        _check_weights(f"{prefix}.mix", self.mix, METHODS)
        _check_weights(f"{prefix}.categories", self.categories, CATEGORIES)
        check(self.swap_tries >= 1, f"{prefix}.swap_tries", self.swap_tries, "must be an integer >= 1")
        check_choice(f"{prefix}.backend", self.backend, GEN_BACKENDS)
        check(bool(self.model.strip()), f"{prefix}.model", self.model, "must be a non-empty model name")
        check_range(f"{prefix}.temperature", self.temperature, 0.0, 2.0)
        check(self.max_tokens >= 1, f"{prefix}.max_tokens", self.max_tokens, "must be an integer >= 1")
        check_range(f"{prefix}.max_unparsed_frac", self.max_unparsed_frac, 0.0, 1.0)


@dataclass(frozen=True)
class UnanswerableFilterConfig:
    backend: str = "oracle"         # oracle (exact, from scene graphs) | openai (an MLLM answers yes/no)
    strict: bool = False            # the in-domain test-set rule (criterion 1 or 3, nothing partly answerable)
    drop_base_refused: bool = True  # drop the questions the original model already refuses (paper)
    model: str = "gpt-4o"           # openai backend
    max_tokens: int = 8             # openai backend: a yes/no answer
    max_unparsed_frac: float = 0.5  # openai backend: fail when more yes/no answers than this are unreadable
    batch_size: int = 64            # the original model's greedy answers (refusal step)
    max_new_tokens: int = 12

    def validate(self, prefix: str) -> None:
        check_choice(f"{prefix}.backend", self.backend, FILTER_BACKENDS)
        check(self.batch_size >= 1, f"{prefix}.batch_size", self.batch_size, "must be an integer >= 1")
        check(self.max_new_tokens >= 1, f"{prefix}.max_new_tokens", self.max_new_tokens, "must be an integer >= 1")
        check(bool(self.model.strip()), f"{prefix}.model", self.model, "must be a non-empty model name")
        check(self.max_tokens >= 1, f"{prefix}.max_tokens", self.max_tokens, "must be an integer >= 1")
        check_range(f"{prefix}.max_unparsed_frac", self.max_unparsed_frac, 0.0, 1.0)


@dataclass(frozen=True)
class UnanswerableSetsConfig:
    seed: int = 0
    uavqa: int = 100                # in-domain UaVQA: unanswerable questions on test images (paper: 100)
    beyond: int = 300               # BeyondVisQA-like (out of domain): information beyond the image
    vizwiz: int = 300               # VizWiz(ua)-like: degraded images whose asked content cannot be seen
    vizwiz_modes: list[str] = field(default_factory=lambda: list(VIZWIZ_MODES))
    vizwiz_emblem_share: float = 0.25   # share of VizWiz-like scenes that show an emblem

    def validate(self, prefix: str) -> None:
        check(self.seed >= 0, f"{prefix}.seed", self.seed, "must be an integer >= 0")
        for k in ("uavqa", "beyond", "vizwiz"):
            v = getattr(self, k)
            check(v >= 0, f"{prefix}.{k}", v, "must be an integer >= 0")
        check(len(self.vizwiz_modes) >= 1, f"{prefix}.vizwiz_modes", self.vizwiz_modes,
              f"must list at least one of {', '.join(VIZWIZ_MODES)}")
        check_subset(f"{prefix}.vizwiz_modes", self.vizwiz_modes, VIZWIZ_MODES)
        check_range(f"{prefix}.vizwiz_emblem_share", self.vizwiz_emblem_share, 0.0, 1.0)


@dataclass(frozen=True)
class UnanswerableConfig:
    """The whole ``unanswerable`` section; stages declare only the sub-keys they read."""
    generate: UnanswerableGenerateConfig = field(default_factory=UnanswerableGenerateConfig)
    filter: UnanswerableFilterConfig = field(default_factory=UnanswerableFilterConfig)
    sets: UnanswerableSetsConfig = field(default_factory=UnanswerableSetsConfig)
