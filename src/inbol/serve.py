"""Generation through an OpenAI-compatible server (vLLM) at paper scale: which model a request names, what the
server must list, greedy answers with P(refusal start) from the server's log-probs.

With ``sampling.backend: openai`` every generation (sampling, evaluation, consistency, the miniature, the
unanswerable filter's base answers) goes to the server at ``sampling.openai``.  The server serves the original
model under ``sampling.openai.model`` and every trained model as a LoRA adapter of it (vLLM ``--enable-lora
--lora-modules NAME=PATH``), named by :func:`adapter_name` (``idk_it-s0``).  Each request names the model it
means, so two models never share a request, nor a cache entry (the model is part of the cache key).

Which backend answers is chosen in one place, :func:`load_answerer`: the server's model (:class:`ServerAnswerer`)
or the weights in process (:class:`inbol.models.answerer.Answerer`), both making ``answer(records, desc)``.

A stage checks at start (:func:`require_models`, ``GET /v1/models``) that the server lists every model it
needs, and otherwise stops with one line naming the missing model and what the server lists, before any work.

P(refusal start).  The ``hf`` path computes the probability that the greedy response starts with one of the
refusal templates' first tokens from the full first-step distribution.  Through the server it is the sum of
``exp(logprob)`` over those tokens among the first token's ``evaluate.top_logprobs`` most likely ones (vLLM
returns log-probs of the model's raw distribution; ``return_tokens_as_token_ids`` names each token by its id):
a refusal token outside the top ones counts 0, less than the smallest listed probability.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import DataError, LLMError
from .messages import image_message, system_message

BASELINES = ("base", "refusal_prompt")  # the original model, served under its own name
TOKEN_ID_PREFIX = "token_id:"  # vLLM's token names with return_tokens_as_token_ids


def adapter_name(model: str, seed: int) -> str:
    """The name the server serves a trained model's LoRA adapter under: ``<model>-s<seed>`` (the name of its
    predictions and metrics files)."""
    if not model or seed is None or int(seed) < 0:
        raise ValueError(f"a trained model needs a name and a seed (got {model!r}, {seed!r})")
    return f"{model}-s{int(seed)}"


def served_model(name: str, seed: int | None, base: str) -> str:
    """The model a request for evaluated model ``name`` (seed ``seed``) names: ``base`` (the server's base model)
    for the original model and the Refusal Prompt baseline, the adapter of a trained model otherwise."""
    if name in BASELINES:
        return base
    if seed is None:
        raise DataError(f"model {name!r}: a trained model needs its --seed (its adapter is {name}-s<seed>)")
    return adapter_name(name, seed)


def model_version(name: str, seed: int | None, model_dir: str | Path) -> str | None:
    """A hash of what the server answers for trained model ``name``/``seed``: its adapter chain's files (under
    the models folder that holds ``model_dir``), or, without adapters, the model folder's file names, sizes and
    modification times.  It keys the disk cache with the request, so a model retrained under the same adapter
    name is asked again.  None for the original model (the checkpoint's name says which weights)."""
    import hashlib

    if name in BASELINES:
        return None
    chain = adapter_chain(name, seed, Path(model_dir).parents[1])
    h = hashlib.sha256()
    if all(c.is_dir() for c in chain):
        for c in chain:
            for f in sorted(x for x in c.rglob("*") if x.is_file()):
                h.update(f"{f.relative_to(c)}\x00{f.stat().st_size}\x00".encode())
                h.update(f.read_bytes())
    else:
        root = Path(model_dir)
        for f in sorted(x for x in root.rglob("*") if x.is_file()):
            st = f.stat()
            h.update(f"{f.relative_to(root)}\x00{st.st_size}\x00{st.st_mtime_ns}\x00".encode())
    return h.hexdigest()


def require_models(client, needed: Iterable[str]) -> list[str]:
    """The server's model list, after checking that it holds every model of ``needed``; a one-line DataError
    naming the first missing one and what the server lists otherwise."""
    listed = client.list_models()
    for m in needed:
        if m not in listed:
            where = client.url.removesuffix("/chat/completions")
            shown = ", ".join(listed[:20]) + (f" (+{len(listed) - 20} more)" if len(listed) > 20 else "")
            hint = (
                "start the server with this adapter (vllm serve --enable-lora --lora-modules, docs/gpu.md)"
                if m != client.endpoint.model
                else "serve the base model under sampling.openai.model"
            )
            raise DataError(f"the server at {where} does not list model {m!r} (it lists: {shown or 'nothing'}); {hint}")
    return listed


def p_refusal_start(first_logprobs: dict[str, float] | None, token_ids: Iterable[int]) -> float:
    """The probability of starting with one of ``token_ids`` from the first token's top log-probs (tokens named
    ``token_id:<id>``); a one-line LLMError when the server names tokens otherwise."""
    if not first_logprobs:
        return 0.0
    ids = set(token_ids)
    total = 0.0
    for token, lp in first_logprobs.items():
        if not token.startswith(TOKEN_ID_PREFIX):
            raise LLMError(
                f"the server named a token {token!r}, not 'token_id:<id>': P(refusal start) needs vLLM's "
                "return_tokens_as_token_ids"
            )
        if int(token[len(TOKEN_ID_PREFIX) :]) in ids:
            total += math.exp(lp)
    return min(total, 1.0)


class ServerGenerator:
    """Greedy answers of one served model: ``answer(records, desc)`` as :func:`inbol.models.greedy_answer_fn`
    (a response per record, or ``(response, P(refusal start))`` with ``refusal_ids``)."""

    def __init__(
        self,
        client,
        model: str,
        *,
        system: str | None = None,
        max_new_tokens: int = 12,
        prompt_suffix: str = "",
        refusal_ids: Sequence[int] | None = None,
        top_logprobs: int = 20,
        progress: bool = True,
        version: str | None = None,
        image_pad: tuple[int, ...] | None = None,
    ):
        """``image_pad``: the colour the model's processor pads non-square images with; such images are sent
        padded, as the in-process path sees them (:attr:`inbol.models.PromptFormat.image_pad`)."""
        self.client, self.model, self.system, self.version = client, model, system, version
        self.image_pad = image_pad
        self.max_new_tokens, self.prompt_suffix = max_new_tokens, prompt_suffix
        self.refusal_ids = None if refusal_ids is None else sorted(set(refusal_ids))
        self.top_logprobs, self.progress = top_logprobs, progress

    def request(self, record: dict) -> dict:
        system = [system_message(self.system)] if self.system else []
        extra = {"add_special_tokens": True}  # BOS in front, as the hf path (inbol.sampling.openai_backend)
        req = {
            "model": self.model,
            "messages": system
            + [image_message(record["question"] + self.prompt_suffix, record["image"], self.image_pad)],
            "n": 1,
            "temperature": 0.0,
            "top_p": 1.0,
            "max_tokens": self.max_new_tokens,
        }
        if self.version is not None:
            req["model_version"] = self.version  # the cache key's, not sent
        if self.refusal_ids is not None:
            req.update(logprobs=True, top_logprobs=self.top_logprobs)
            extra["return_tokens_as_token_ids"] = True
        req["extra_body"] = extra
        return req

    def __call__(self, records: Sequence[dict], desc: str = "generate") -> list:
        replies = self.client.complete_many([self.request(r) for r in records], desc=desc, progress=self.progress)
        if self.refusal_ids is None:
            return [reply[0].text.strip() for reply in replies]
        return [
            (reply[0].text.strip(), p_refusal_start(reply[0].first_logprobs, self.refusal_ids)) for reply in replies
        ]


def server_client(endpoint, *, max_tokens: int = 12):
    """An :class:`inbol.llm.LLMClient` on the server of ``endpoint`` (``sampling.openai``)."""
    from .llm import LLMClient

    return LLMClient(endpoint, temperature=0.0, max_tokens=max_tokens, progress=False)


def load_processor(model_dir: str | Path):
    """The processor (tokenizer and chat template) of a model folder, following its ``source.json`` pointer;
    what the server path needs of a model (its weights stay on the server)."""
    from transformers import AutoProcessor

    path = Path(model_dir)
    pointer = path / "source.json"
    target = json.loads(pointer.read_text())["source"] if pointer.exists() else str(path)
    try:
        return AutoProcessor.from_pretrained(str(target))
    except (OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"cannot load the processor of {model_dir!s}: {first}") from e


def server_answer_fn(
    p, name: str, seed: int | None, model_dir: str | Path, *, prompt_suffix: str = "", refusal_score: bool = True
):
    """(``answer(records, desc)``, the served model's name) for evaluated model ``name``/``seed`` of params ``p``
    through the server of ``p.sampling.openai``; the server is checked to list the model first (one-line
    DataError).  With ``refusal_score`` each answer comes with P(refusal start), the refusal templates' first
    tokens taken from the processor of ``model_dir``."""
    from .models.generate import refusal_first_tokens
    from .models.prompt import PromptFormat
    from .refusals import REFUSAL_TEMPLATES

    served = served_model(name, seed, p.sampling.openai.model)
    client = server_client(p.sampling.openai, max_tokens=p.evaluate.max_new_tokens)
    require_models(client, [served])
    fmt = PromptFormat(load_processor(model_dir), p.prompt.system)
    ids = refusal_first_tokens(fmt, REFUSAL_TEMPLATES) if refusal_score else None
    answer = ServerGenerator(
        client,
        served,
        system=p.prompt.system,
        max_new_tokens=p.evaluate.max_new_tokens,
        prompt_suffix=prompt_suffix,
        refusal_ids=ids,
        top_logprobs=p.evaluate.top_logprobs,
        version=model_version(name, seed, model_dir),
        image_pad=fmt.image_pad,
    )
    return answer, served


class ServerAnswerer:
    """Evaluated model ``name``/``seed`` (folder ``model_dir``) as the server of ``p.sampling.openai`` serves it:
    the counterpart of :class:`inbol.models.answerer.Answerer` (nothing loaded in process)."""

    model = fmt = None

    def __init__(self, p, name: str, seed: int | None, model_dir: str | Path):
        self.p, self.name, self.seed, self.model_dir = p, name, seed, model_dir

    def answer_fn(self, *, prompt_suffix: str = "", refusal_score: bool = False):
        """(``answer(records, desc)``, the served model's name); the server is checked to list it first."""
        return server_answer_fn(
            self.p, self.name, self.seed, self.model_dir, prompt_suffix=prompt_suffix, refusal_score=refusal_score
        )


def load_answerer(model_dir: str | Path, p, *, name: str, seed: int | None = None):
    """Evaluated model ``name``/``seed`` of ``model_dir`` ready to answer through ``p.sampling.backend``, the one
    place the backend is chosen: the server's model (``openai``: :class:`ServerAnswerer`, nothing loaded) or the
    weights loaded in process (``hf``: :func:`inbol.models.answerer.load_in_process` on ``evaluate.device``).
    ``p``: an object with the params sections ``sampling``, ``evaluate`` and ``prompt``."""
    if p.sampling.backend == "openai":
        return ServerAnswerer(p, name, seed, model_dir)
    from .models.answerer import load_in_process

    return load_in_process(model_dir, p.evaluate, p.prompt.system)


# --------------------------------------------------------------------------------------------
# the adapters the server serves, and its command
# --------------------------------------------------------------------------------------------

ADAPTER_DIR = "adapter"  # where a training stage saves a model's LoRA adapter (models/<model>/s<seed>/adapter)
# what a trained model's training starts from (dvc.yaml --start): a model absent here starts from the base
STARTS_FROM = {"ca_dpo": "idk_it", "dpo_1": "idk_it", "dpo_2": "idk_it", "dpo_3": "idk_it"}


def adapter_chain(model: str, seed: int, models_dir: str | Path = "models") -> list[Path]:
    """The adapters that make trained model ``model``/``seed`` from the base, in training order: its own, after
    the adapter of the model its training started from (CA-DPO and DPO start from the merged IDK-IT model)."""
    chain = [Path(models_dir) / model / f"s{seed}" / ADAPTER_DIR]
    while model in STARTS_FROM:
        model = STARTS_FROM[model]
        chain.insert(0, Path(models_dir) / model / f"s{seed}" / ADAPTER_DIR)
    return chain


def _read_adapter(folder: Path) -> tuple[dict, dict]:
    from safetensors.torch import load_file

    cfg_path, weights = folder / "adapter_config.json", folder / "adapter_model.safetensors"
    if not cfg_path.is_file() or not weights.is_file():
        raise DataError(f"{folder}: no LoRA adapter (adapter_config.json + adapter_model.safetensors)")
    cfg = json.loads(cfg_path.read_text())
    if cfg.get("peft_type") != "LORA" or cfg.get("use_dora") or cfg.get("modules_to_save"):
        raise DataError(
            f"{folder}: only a plain LoRA adapter (no DoRA, no modules_to_save) can be served as a vLLM LoRA "
            f"adapter of the base (peft_type {cfg.get('peft_type')!r}, modules_to_save {cfg.get('modules_to_save')!r})"
        )
    return cfg, load_file(str(weights))


def combine_adapters(chain: Sequence[str | Path], out_dir: str | Path) -> dict:
    """One LoRA adapter of the base for a chain of adapters each trained on the previous one's merged model:
    the deltas add up (W0 + s1 B1 A1 + s2 B2 A2), which is one LoRA of rank r1 + r2 with A = [A1; A2],
    B = [s1 B1, s2 B2] and scaling 1 (alpha = rank).  Written to ``out_dir`` (PEFT format, which vLLM loads);
    returns its config."""
    import torch
    from safetensors.torch import save_file

    parts = [_read_adapter(Path(c)) for c in chain]
    ranks = [int(cfg["r"]) for cfg, _ in parts]
    scales = [
        float(cfg["lora_alpha"]) / (math.sqrt(r) if cfg.get("use_rslora") else r) for (cfg, _), r in zip(parts, ranks)
    ]
    modules = sorted({k.split(".lora_A.")[0] for _, w in parts for k in w if ".lora_A." in k})
    out: dict[str, torch.Tensor] = {}
    for m in modules:
        a_key, b_key = f"{m}.lora_A.weight", f"{m}.lora_B.weight"
        shapes = [(w[a_key].shape[1], w[b_key].shape[0]) for _, w in parts if a_key in w]
        d_in, d_out = shapes[0]
        a_rows, b_cols = [], []
        for (_, w), r, sc in zip(parts, ranks, scales):
            if a_key in w:
                a_rows.append(w[a_key].float())
                b_cols.append(w[b_key].float() * sc)
            else:  # this adapter leaves the module as it is: a zero block
                a_rows.append(torch.zeros(r, d_in))
                b_cols.append(torch.zeros(d_out, r))
        dtype = parts[-1][1][b_key if b_key in parts[-1][1] else next(iter(parts[-1][1]))].dtype
        out[a_key] = torch.cat(a_rows, 0).to(dtype).contiguous()
        out[b_key] = torch.cat(b_cols, 1).to(dtype).contiguous()
    rank = sum(ranks)
    cfg = {**parts[0][0], "r": rank, "lora_alpha": rank, "use_rslora": False, "lora_dropout": 0.0}
    targets = [c.get("target_modules") for c, _ in parts]
    if all(isinstance(t, str) for t in targets):  # PEFT full-matches a string: the union of the expressions
        cfg["target_modules"] = targets[0] if len(set(targets)) == 1 else "|".join(f"(?:{t})" for t in targets)
    elif all(isinstance(t, list) for t in targets):
        cfg["target_modules"] = sorted({m for t in targets for m in t})
    else:
        raise DataError(f"{chain[0]}: the adapters of the chain name their target modules in different forms")
    cfg.pop("rank_pattern", None), cfg.pop("alpha_pattern", None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(out, str(out_dir / "adapter_model.safetensors"))
    (out_dir / "adapter_config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True))
    return cfg


def served_adapters(p, models_dir: str | Path = "models", out_dir: str | Path = "models/served") -> dict:
    """``{adapter name: folder}`` for every trained model (``models.trained``) and seed whose adapters exist:
    its own adapter, or (a chain) the combined adapter written under ``out_dir``; and the names whose adapters
    are missing (trained later), as ``{name: None}``."""
    out: dict[str, Path | None] = {}
    for model in p.models.trained:
        for seed in p.seeds:
            name, chain = adapter_name(model, seed), adapter_chain(model, seed, models_dir)
            if not all((c / "adapter_config.json").is_file() for c in chain):
                out[name] = None
            elif len(chain) == 1:
                out[name] = chain[0]
            else:
                combine_adapters(chain, Path(out_dir) / name)
                out[name] = Path(out_dir) / name
    return out


def vllm_command(p, adapters: dict[str, Path | None] | None = None) -> str:
    """The ``vllm serve`` command of params ``p``: the base model under ``sampling.openai.model`` on the port of
    ``sampling.openai.base_url``, data-parallel over ``gpus.server``, with every adapter of ``adapters`` that
    exists (``--lora-modules NAME=PATH``)."""
    from urllib.parse import urlparse

    endpoint = p.sampling.openai
    url = urlparse(endpoint.base_url or "http://localhost:8000/v1")
    gpus = list(p.gpus.server) or [0]
    present = {n: f for n, f in (adapters or {}).items() if f is not None}
    ranks = [json.loads((Path(f) / "adapter_config.json").read_text())["r"] for f in present.values()]
    max_rank = next(r for r in (8, 16, 32, 64, 128, 256, 320, 512) if r >= max(ranks, default=p.lora.r))
    lines = [
        f"CUDA_VISIBLE_DEVICES={','.join(map(str, gpus))} vllm serve {p.base_model.source}",
        f"--served-model-name {endpoint.model}",
        f"--dtype {p.evaluate.dtype if p.evaluate.dtype != 'auto' else 'bfloat16'}",
        f"--port {url.port or 8000} --max-model-len 4096 --enable-prefix-caching --gpu-memory-utilization 0.9",
        f"--data-parallel-size {len(gpus)} --max-logprobs {p.evaluate.top_logprobs}",
    ]
    if present:
        lines.append(f"--enable-lora --max-lora-rank {max_rank} --max-loras 4 --max-cpu-loras {max(4, len(present))}")
        groups: dict[str, list[str]] = {}
        for n, f in present.items():  # one line per trained model, its seeds side by side
            groups.setdefault(n.rsplit("-s", 1)[0], []).append(f"{n}={f}")
        lines.append("--lora-modules" + "".join(" \\\n      " + " ".join(g) for g in groups.values()))
    return " \\\n    ".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m inbol.serve``: write the combined adapters of the trained models that exist and print the
    ``vllm serve`` command that serves the base model and all of them (missing adapters named on stderr)."""
    import argparse
    import sys

    from .errors import run_stage
    from .schema.base_model import BaseModelParams
    from .schema.core import load_sections
    from .schema.evaluate import Evaluate
    from .schema.models import Models
    from .schema.sampling import Sampling
    from .schema.training import Lora

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--models", default="models", help="the trained models' folder (dvc.yaml's models/)")
    ap.add_argument("--out", default="models/served", help="where combined adapters (CA-DPO, DPO) are written")
    args = ap.parse_args(argv)

    def run():
        p = load_sections(
            "seeds",
            path=args.params,
            base_model=BaseModelParams,
            evaluate=Evaluate,
            lora=Lora,
            models=Models,
            sampling=Sampling,
        )
        adapters = served_adapters(p, args.models, args.out)
        missing = [n for n, f in adapters.items() if f is None]
        if missing:
            print(f"not trained yet (left out): {', '.join(missing)}", file=sys.stderr)
        print(vllm_command(p, adapters))

    run_stage(run)


__all__ = [
    "BASELINES",
    "adapter_name",
    "served_model",
    "model_version",
    "require_models",
    "p_refusal_start",
    "ServerGenerator",
    "server_answer_fn",
    "ServerAnswerer",
    "load_answerer",
    "server_client",
    "load_processor",
    "ADAPTER_DIR",
    "STARTS_FROM",
    "adapter_chain",
    "combine_adapters",
    "served_adapters",
    "vllm_command",
]


if __name__ == "__main__":
    main()
