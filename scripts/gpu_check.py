"""A GPU check of the paper-scale profile (configs/llava-1.5-7b.yaml) before a paper-scale run: one command on one
GPU, no download, a few minutes.

It builds a model with LLaVA-1.5-7B's shapes from a config (random weights): the CLIP ViT-L/14-336 vision tower
(hidden 1024, 16 heads, 336 px, patch 14: 576 image tokens), the 2-layer GELU projector and the Llama-2-7B text
model (hidden 4096, MLP 11008, 32 heads, vocab 32064), with only ``--vision-layers`` / ``--text-layers`` layers
(2 + 2 by default, about 0.75 B parameters), and a tokenizer built locally (byte-level BPE filled to the 32,002
entries of the llava-hf tokenizer).  It saves it like a hub checkpoint, then runs, with the profile's params
(``lora``, ``train``, ``dpo``, ``sampling``, ``evaluate``, ``prompt``, ``gpus``), the project's own functions:

| check | the project's function (what the DAG stage calls) |
| --- | --- |
| launcher + layout | ``training.check_launcher`` on configs/accelerate/single.yaml (this one process on one GPU, as a training stage checks its launch); the profile's ``train.launcher`` against ``gpus.train`` and ``train.batch_size``; ``models.build.check_gpu_layout`` on the profile's ``gpus`` |
| placement: inference load | ``models.load_base`` in ``evaluate.dtype`` (hf-backend evaluate, consistency, sample) |
| idk_it (N steps) | ``training.train_sft`` (train_sft@<method>): LoRA, TRL ``SFTTrainer``, adapter + merge |
| placement: IDK-IT training | a Trainer callback inside ``train_sft``: frozen weights on the device in ``train.dtype`` |
| reference pass | ``training.ca_dpo.write_reference`` (reference@seed), in ``train.dtype`` |
| ca_dpo (N steps) | ``training.train_preference`` (train_preference@<method>), with the shared reference table |
| placement: CA-DPO training | the same callback inside ``train_preference`` |
| evaluate (greedy) | ``models.greedy_answer_fn`` over a batch of questions with images (evaluate_sft@model, evaluate_preference@model) |
| sample (K) | ``sampling.make_sampler`` with ``backend: hf`` (``HFSampler``: prefill once, K from the cache) |

and prints a table of seconds, tokens, tokens/s and peak GPU memory per check; the exit status is 1 when a check
failed (each failure is named on one line).  The placement checks fail when any frozen weight is not on the GPU
or not in its dtype (inference: the profile's ``evaluate.dtype``; training: ``train.dtype`` as
``training.train_dtype`` resolves it; bfloat16 in the profile): a float32 copy of frozen weights is reported
with its size.  ``--dtype`` sets both.

    python scripts/gpu_check.py                       # on one GPU (target: under 8 minutes on an H100)
    python scripts/gpu_check.py --json gpu_check.json # also the rows as JSON
    python scripts/gpu_check.py --dry-run             # CPU, tiny sizes, float32: the same code path (the tests run it)
    python scripts/gpu_check.py --dry-run --dtype bfloat16   # the same in the profile's dtype, on the CPU

Run it on one GPU (``CUDA_VISIBLE_DEVICES=0``): the launcher row fails, with the training stages' own message,
when one process sees several GPUs.

What it does not reach: the vLLM server (at paper scale the sample stage, and wherever the profile routes
generation, go through the OpenAI-compatible server, trained models as LoRA adapters; its throughput is vLLM's,
not measured here: the ``evaluate``/``sample`` rows time the in-process ``hf`` path), ``accelerate launch`` over
several GPUs (it runs one process on one GPU; the launcher row checks the multi-GPU config's numbers only), the
real checkpoint and Llama tokenizer (random weights generate to
``max_new_tokens`` almost always, so the generation rows are the worst case for answer length), the datasets,
the LLM judge and the unanswerable generator/filter.

All uses of the project's interfaces sit in the section "the project's interfaces" below.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import random
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "configs" / "llava-1.5-7b.yaml"

# LLaVA-1.5-7B (llava-hf/llava-1.5-7b-hf config.json): CLIP ViT-L/14-336 + Vicuna-7B (Llama-2-7B shapes)
FULL = {
    "vision": dict(hidden_size=1024, intermediate_size=4096, num_attention_heads=16, image_size=336, patch_size=14),
    "text": dict(hidden_size=4096, intermediate_size=11008, num_attention_heads=32, num_key_value_heads=32),
    "vocab_size": 32064,
    "tokenizer_size": 32002,  # llava-hf: 32,000 sentencepiece pieces + <image> + <pad>; ids beyond decode to ""
    "max_positions": 4096,
}
# the dry run: the same code path at sizes a CPU runs in seconds
TINY = {
    "vision": dict(hidden_size=32, intermediate_size=64, num_attention_heads=4, image_size=56, patch_size=14),
    "text": dict(hidden_size=64, intermediate_size=128, num_attention_heads=4, num_key_value_heads=4),
    "vocab_size": 1024,
    "tokenizer_size": 1000,
    "max_positions": 1024,
}

QUESTIONS = [
    "What color is the car parked in front of the building?",
    "How many people are standing on the platform?",
    "What is the name of this landmark?",
    "Which animal is shown in the picture? A. dog B. cat C. horse D. bird Answer with the option's letter.",
    "What is the man on the left holding in his hand?",
    "Is there a clock on the wall?",
    "What sport is being played?",
    "What is written on the sign above the door?",
]
ANSWERS = ["Red.", "Three.", "The Eiffel Tower.", "B", "An umbrella.", "Yes.", "Tennis.", "Open 24 hours."]


# ------------------------------------------------------------------------------------------------
# the project's interfaces: every call into src/inbol is here (adapt this section when they change)
# ------------------------------------------------------------------------------------------------


def profile_params():
    """The profile composed onto params.yaml, validated (the params the DAG stages read)."""
    from inbol.params import Params, validate
    from inbol.profiles import compose

    return validate(Params, compose(PROFILE))


def build_tokenizer(texts: list[str], size: int):
    """A tokenizer built locally (the project's byte-level BPE), filled up to ``size`` entries."""
    from inbol.models.base import tokenizer_texts
    from inbol.models.build import train_tokenizer

    tok = train_tokenizer(tokenizer_texts([{"question": t, "answers": []} for t in texts]), min(size, 2000))
    return fill_vocab(tok, size)


def build_processor(tok, image_size: int, patch_size: int):
    from inbol.models.build import build_processor as build

    return build(tok, image_size, patch_size)


def image_token(tok) -> int:
    from inbol.models.build import IMAGE_TOKEN

    return tok.convert_tokens_to_ids(IMAGE_TOKEN)


def refusal_texts() -> list[str]:
    from inbol.refusals import REFUSAL_TEMPLATES

    return list(REFUSAL_TEMPLATES)


ONE_PROCESS = ROOT / "configs" / "accelerate" / "single.yaml"


def check_one_process() -> None:
    """What a training stage checks of its launch (dvc.yaml: ``accelerate launch --config_file
    <train.launcher>``), for this one process with the one-process config: a ParamError (one line) when it sees
    several GPUs (the Trainer would wrap the model in nn.DataParallel)."""
    from inbol.training.runtime import check_launcher

    check_launcher(ONE_PROCESS)


def launcher_processes(path: str) -> int:
    """``num_processes`` of the accelerate config ``path`` (relative to the repository, as params name it)."""
    import yaml

    cfg = yaml.safe_load((ROOT / path).read_text())
    return int(cfg.get("num_processes", 1))


def layout_problems(p) -> list[str]:
    """The profile's GPU layout, checked as a stage checks it before loading a model: each training GPU
    (``CUDA_VISIBLE_DEVICES`` = gpus.train, one process per GPU) passes, and a stage on GPU 0 with
    ``CUDA_VISIBLE_DEVICES`` unset is refused when gpus.server holds GPU 0."""
    from inbol.errors import ParamError
    from inbol.models.build import check_gpu_layout

    env = {"CUDA_VISIBLE_DEVICES": ",".join(map(str, p.gpus.train))} if p.gpus.train else {}
    out = []
    for rank in range(len(p.gpus.train)):
        try:
            check_gpu_layout(rank, p.gpus, env)
        except ParamError as e:
            out.append(f"rank {rank}: {e}")
    if 0 in p.gpus.server:
        try:
            check_gpu_layout(0, p.gpus, {})
            out.append("a stage on GPU 0 (the server's) was not refused")
        except ParamError:
            pass
    return out


def per_device_batch(train, processes: int) -> int:
    """The per-GPU batch of ``train`` under ``processes`` training processes (a ParamError when it does not
    divide)."""
    return train.per_device_batch(processes)


def resolved_train_dtype(train) -> str:
    """The dtype a training stage loads, trains (frozen weights) and saves in."""
    from inbol.training.runtime import train_dtype

    return train_dtype(train)


def run_idk_it(p, data: Path, start: Path, out: Path, work: Path, train, callback) -> dict:
    """The train_sft@idk_it stage's library call."""
    from inbol.training.sft import train_sft

    return train_sft(
        data, start, out, lora=p.lora, train=train, seed=0, work_dir=work, system=p.prompt.system,
        name="idk_it", callbacks=[callback],
    )  # fmt: skip


def run_reference(p, data: Path, start: Path, out: Path, train) -> dict:
    """The reference@seed stage's library call."""
    from inbol.training.ca_dpo import write_reference

    return write_reference(data, start, out, lora=p.lora, train=train, dpo=p.dpo, seed=0, system=p.prompt.system)


def run_ca_dpo(p, data: Path, start: Path, out: Path, work: Path, reference: Path, train, callback, diag: int) -> dict:
    """The train_preference@ca_dpo stage's library call (the shared reference table of ``run_reference``)."""
    from inbol.training.ca_dpo import train_preference

    return train_preference(
        data, start, out, kind="ca_dpo", lora=p.lora, train=train, dpo=p.dpo, seed=0, work_dir=work,
        system=p.prompt.system, reference=reference, name="ca_dpo", diagnostics_n=diag, callbacks=[callback],
    )  # fmt: skip


def load_for_inference(path: Path, device: str, dtype: str):
    """(model, prompt format) as the evaluate stage loads them."""
    from inbol.models import PromptFormat, load_base

    model, processor = load_base(path, device, dtype)
    return model, PromptFormat(processor, profile_system())


def run_evaluate(model, fmt, records: list[dict], p, batch_size: int) -> list:
    """The evaluate stage's answer function (greedy, with the refusal-start score) on ``records``."""
    from inbol.models import greedy_answer_fn

    answer = greedy_answer_fn(
        model, fmt, batch_size=batch_size, max_new_tokens=p.evaluate.max_new_tokens, refusal_score=True
    )
    return answer(records, "gpu_check: evaluate")


def run_sample(model, fmt, records: list[dict], p) -> list[list[str]]:
    """K samples per question with the in-process sampler of the sample stage (``backend: hf``)."""
    from inbol.sampling import make_sampler

    sampler = make_sampler(p.sampling.replace(backend="hf"), fmt, model=model)
    out = []
    for i in range(0, len(records), p.sampling.batch_size):
        chunk = records[i : i + p.sampling.batch_size]
        out += sampler.sample(chunk, [1000 + i + j for j in range(len(chunk))])
    return out


_SYSTEM: list[str | None] = [None]


def profile_system() -> str | None:
    return _SYSTEM[0]


# ------------------------------------------------------------------------------------------------
# the model, the data
# ------------------------------------------------------------------------------------------------


def fill_vocab(tok, size: int):
    """``tok`` with filler pieces appended to its BPE vocabulary up to ``size`` entries (no merge produces
    them: encoding is unchanged, decoding covers the ids a random model emits)."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    state = json.loads(tok.backend_tokenizer.to_str())
    vocab = state["model"]["vocab"]
    n_added = len({a["id"] for a in state["added_tokens"]} - set(vocab.values()))
    i = 0
    while len(vocab) + n_added < size:
        piece = f"\u0120w{i}"  # "Ġw<i>": " w<i>" in the byte-level alphabet
        if piece not in vocab:
            vocab[piece] = len(vocab) + n_added
        i += 1
    filled = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(json.dumps(state)),
        bos_token=tok.bos_token,
        eos_token=tok.eos_token,
        pad_token=tok.pad_token,
        unk_token=tok.unk_token,
        extra_special_tokens={"image_token": tok.image_token},
        padding_side="left",
        model_max_length=4096,
    )
    return filled


def build_model(shapes: dict, vision_layers: int, text_layers: int, tok, dtype: torch.dtype, device: str = "cpu"):
    """A LlavaForConditionalGeneration with LLaVA-1.5's layout and ``shapes`` (random weights)."""
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    v = shapes["vision"]
    vision = CLIPVisionConfig(
        **v, num_hidden_layers=vision_layers, projection_dim=768 if v["hidden_size"] == 1024 else v["hidden_size"]
    )
    text = LlamaConfig(
        **shapes["text"],
        vocab_size=shapes["vocab_size"],
        num_hidden_layers=text_layers,
        max_position_embeddings=shapes["max_positions"],
        rms_norm_eps=1e-5,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=image_token(tok),
        projector_hidden_act="gelu",
        vision_feature_layer=-2,  # LLaVA-1.5: the penultimate CLIP layer
        vision_feature_select_strategy="default",
        image_seq_length=(v["image_size"] // v["patch_size"]) ** 2,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    with torch.device(device):  # initialised where it is built (on a GPU: seconds, not a CPU's minute)
        model = LlavaForConditionalGeneration._from_config(config, dtype=dtype)
    gc_ = model.generation_config
    gc_.pad_token_id, gc_.eos_token_id, gc_.bos_token_id = tok.pad_token_id, tok.eos_token_id, tok.bos_token_id
    return model


def write_images(folder: Path, n: int, size: int) -> list[str]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    paths = []
    for i in range(n):
        img = Image.new("RGB", (size + 40 * (i % 3), size), tuple(rng.randrange(256) for _ in range(3)))
        for _ in range(6):  # a few rectangles: something for the vision tower to see
            x, y = rng.randrange(size), rng.randrange(size)
            img.paste(tuple(rng.randrange(256) for _ in range(3)), (x, y, x + size // 4, y + size // 4))
        path = folder / f"img{i:03d}.png"
        img.save(path)
        paths.append(str(path))
    return paths


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_data(folder: Path, images: list[str], n_train: int) -> dict[str, Path]:
    """IDK-IT records (half answers, half refusals) and CA-DPO records (Known, Mixed, Unknown) as the construct
    stage writes them."""
    refusals = refusal_texts()
    sft, pref = [], []
    for i in range(n_train):
        q, a, img = QUESTIONS[i % len(QUESTIONS)], ANSWERS[i % len(ANSWERS)], images[i % len(images)]
        wrong, ref = ANSWERS[(i + 3) % len(ANSWERS)], refusals[i % len(refusals)]
        bucket = ("known", "mixed", "unknown")[i % 3]
        sft.append({"id": f"q{i}", "image": img, "prompt": q, "completion": a if i % 2 else ref, "bucket": bucket})
        if bucket == "known":
            p1 = p2 = {"chosen": a, "rejected": ref}
        elif bucket == "unknown":
            p1 = p2 = {"chosen": ref, "rejected": wrong}
        else:
            p1, p2 = {"chosen": a, "rejected": wrong}, {"chosen": ref, "rejected": wrong}
        pref.append(
            {
                "id": f"q{i}",
                "qid": f"q{i}",
                "image": img,
                "prompt": q,
                "p1": p1,
                "p2": p2,
                "conf": 0.6,
                "bucket": bucket,
            }
        )
    return {"idk_it": write_jsonl(folder / "idk_it.jsonl", sft), "preference": write_jsonl(folder / "pref.jsonl", pref)}


# ------------------------------------------------------------------------------------------------
# measuring
# ------------------------------------------------------------------------------------------------


@dataclass
class Row:
    check: str
    status: str = "ok"  # ok | FAIL | skipped
    seconds: float | None = None
    tokens: int | None = None
    tokens_per_s: float | None = None
    peak_gib: float | None = None
    note: str = ""
    problems: list[str] = field(default_factory=list)

    def fail(self, problem: str) -> None:
        self.status = "FAIL"
        self.problems.append(problem)


def placement_problems(model, device: str, dtype: torch.dtype) -> list[str]:
    """What is wrong with where ``model``'s weights sit: a frozen parameter off ``device`` or not in ``dtype``
    (a float32 copy of frozen weights, with its size), a trainable one off ``device``.  Empty when all is
    well.  Trainable (LoRA) parameters may be float32 (PEFT keeps adapters in float32 for mixed precision)."""
    off, wrong = {}, {}
    for name, t in model.named_parameters():
        if t.device.type != device:
            off.setdefault(str(t.device), []).append(name)
        if not t.requires_grad and t.dtype != dtype:
            wrong.setdefault(str(t.dtype), [0, 0, name])
            wrong[str(t.dtype)][0] += t.numel()
            wrong[str(t.dtype)][1] += t.numel() * t.element_size()
    out = [f"{len(v)} parameters on {d}, not {device} (e.g. {v[0]})" for d, v in off.items()]
    out += [
        f"{n:,} frozen parameters in {d} ({b / 2**30:.2f} GiB), not {str(dtype).removeprefix('torch.')} (e.g. {e})"
        for d, (n, b, e) in wrong.items()
    ]
    return out


class Probe:
    """A Trainer callback: the placement of the weights at the start of training, the pure training time, the
    steps, the last logged loss and TRL's ``num_tokens``."""

    def __init__(self, device: str, dtype: torch.dtype):
        self.device, self.dtype = device, dtype
        self.problems: list[str] | None = None
        self.t0 = self.seconds = None
        self.steps, self.tokens, self.loss = 0, None, None

    def callback(self):
        from transformers import TrainerCallback

        probe = self

        class _Probe(TrainerCallback):
            def on_train_begin(self, args, state, control, model=None, **kwargs):
                probe.problems = placement_problems(model, probe.device, probe.dtype)
                sync()
                probe.t0 = time.perf_counter()

            def on_log(self, args, state, control, logs=None, **kwargs):
                logs = logs or {}
                if "num_tokens" in logs:
                    probe.tokens = int(logs["num_tokens"])
                if "loss" in logs:
                    probe.loss = float(logs["loss"])

            def on_train_end(self, args, state, control, **kwargs):
                sync()
                probe.seconds = time.perf_counter() - probe.t0
                probe.steps = state.global_step

        return _Probe()


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


@contextlib.contextmanager
def measured(row: Row, cuda: bool):
    """Time the block into ``row.seconds`` and its peak GPU memory into ``row.peak_gib``; an exception marks the
    row FAIL with its first line (the traceback goes to stderr)."""
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    try:
        yield
    except Exception as e:  # noqa: BLE001 - a failed check is reported, the others still run
        traceback.print_exc(file=sys.stderr)
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        row.fail(f"{type(e).__name__}: {first}"[:300])
    finally:
        sync()
        row.seconds = round(time.perf_counter() - t0, 2)
        if cuda:
            row.peak_gib = round(torch.cuda.max_memory_allocated() / 2**30, 2)


def rate(row: Row, tokens: int | None, seconds: float | None) -> None:
    row.tokens = tokens
    if tokens is not None and seconds:
        row.tokens_per_s = round(tokens / seconds, 1)


# ------------------------------------------------------------------------------------------------
# the checks
# ------------------------------------------------------------------------------------------------


def run_checks(args) -> list[Row]:
    cuda = not args.dry_run
    if cuda and not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA device visible (use --dry-run on a CPU)")
    device = "cuda" if cuda else "cpu"
    dtype_name = args.dtype or ("float32" if args.dry_run else None)
    p = profile_params()
    dtype_name = dtype_name or (p.evaluate.dtype if p.evaluate.dtype != "auto" else "bfloat16")
    dtype = getattr(torch, dtype_name)
    _SYSTEM[0] = p.prompt.system
    shapes = TINY if args.dry_run else FULL
    steps, batch = args.steps, args.batch_size or p.train.batch_size
    train = p.train.replace(max_steps=steps, batch_size=batch, grad_accum=1, save_steps=10**6, logging_steps=1)
    if args.dtype or args.dry_run:  # --dtype sets the training dtype too; the dry run trains in float32
        train = train.replace(dtype=args.dtype or "float32")
    pref_train = p.dpo.apply(train).replace(max_steps=steps)
    train_dtype_name = resolved_train_dtype(train)
    train_torch_dtype = getattr(torch, train_dtype_name)
    rows: list[Row] = [launcher_row(p, cuda)]
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="gpu_check-"))
    work.mkdir(parents=True, exist_ok=True)

    # the model and the data
    build = Row("build + save model")
    base = work / "base"
    with measured(build, cuda):
        tok = build_tokenizer(QUESTIONS + ANSWERS, shapes["tokenizer_size"])
        v = shapes["vision"]
        model = build_model(shapes, args.vision_layers, args.text_layers, tok, dtype, device)
        n_params = sum(t.numel() for t in model.parameters())
        model.save_pretrained(base)
        build_processor(tok, v["image_size"], v["patch_size"]).save_pretrained(base)
        del model
        images = write_images(work / "images", 16, v["image_size"])
        data = write_data(work, images, steps * batch)
    build.note = (
        f"{n_params / 1e6:,.1f} M parameters ({args.vision_layers} vision + {args.text_layers} text layers), "
        f"{dtype_name}; {steps * batch} training rows, trained in {train_dtype_name}"
    )
    rows.append(build)
    if build.status != "ok":
        return rows

    # inference: load, placement, greedy evaluation, K samples
    place = Row("placement: inference load")
    weights, model, fmt = 0, None, None
    with measured(place, cuda):
        before = torch.cuda.memory_allocated() if cuda else 0
        model, fmt = load_for_inference(base, device, dtype_name)
        for prob in placement_problems(model, device, dtype):
            place.fail(prob)
        weights = sum(t.numel() * t.element_size() for t in model.parameters())
        held = torch.cuda.memory_allocated() - before if cuda else 0
        if held > 1.10 * weights + 2**28:
            place.fail(f"{held / 2**30:.2f} GiB allocated for {weights / 2**30:.2f} GiB of weights (a second copy?)")
    place.note = f"weights {weights / 2**30:.2f} GiB" if place.status == "ok" else ""
    rows.append(place)

    n_eval = args.eval_questions or p.evaluate.batch_size * (1 if args.dry_run else 8)
    records = [
        {"id": f"e{i}", "question": QUESTIONS[i % len(QUESTIONS)], "image": images[i % len(images)]}
        for i in range(n_eval)
    ]
    rows += generation_rows(model, fmt, records, p, args, cuda)
    del model, fmt

    # training: IDK-IT, the reference pass, CA-DPO
    idk = Row(f"idk_it: {steps} steps")
    probe = Probe(device, train_torch_dtype)
    idk_out = work / "models" / "idk_it"
    with measured(idk, cuda):
        m = run_idk_it(p, data["idk_it"], base, idk_out, work / "ckpt" / "idk_it", train, probe.callback())
        check_training(idk, m, probe, steps)
    rows += training_rows(idk, probe, "placement: IDK-IT training", batch)

    ref = Row("reference pass")
    ref_out = work / "reference.json"
    if idk.status != "ok" or not (idk_out / "config.json").is_file():
        ref.status, ref.note = "skipped", "needs the IDK-IT model"
    else:
        with measured(ref, cuda):
            stats = run_reference(p, data["preference"], idk_out, ref_out, pref_train)
            table = json.loads(ref_out.read_text())
            bad = [k for v in table.values() for k, x in v.items() if not math.isfinite(x)]
            if stats["questions"] != steps * batch or bad:
                ref.fail(f"{stats['questions']} questions of {steps * batch}, {len(bad)} non-finite log-probs")
        if ref.status == "ok":
            ref.note = f"{stats['sequences']} sequences; tokens = prompt + completion of each row's distinct sequences"
            rate(ref, reference_tokens(idk_out, data["preference"], p.prompt.system), ref.seconds)
    rows.append(ref)

    dpo = Row(f"ca_dpo: {steps} steps")
    probe = Probe(device, train_torch_dtype)
    if ref.status != "ok":
        dpo.status, dpo.note = "skipped", "needs the reference table"
        rows.append(dpo)
    else:
        with measured(dpo, cuda):
            m = run_ca_dpo(
                p, data["preference"], idk_out, work / "models" / "ca_dpo", work / "ckpt" / "ca_dpo", ref_out,
                pref_train, probe.callback(), args.diagnostics,
            )  # fmt: skip
            check_training(dpo, m, probe, steps)
        rows += training_rows(dpo, probe, "placement: CA-DPO training", batch)
    return rows


def launcher_row(p, cuda: bool) -> Row:
    """This process as a one-process training launch, and the numbers of the profile's multi-GPU launch."""
    row = Row("launcher + layout")
    with measured(row, cuda):
        check_one_process()
        procs = launcher_processes(p.train.launcher)
        if p.gpus.train and procs != len(p.gpus.train):
            row.fail(
                f"train.launcher {p.train.launcher} starts {procs} processes, but gpus.train has "
                f"{len(p.gpus.train)} GPUs ({', '.join(map(str, p.gpus.train))})"
            )
        per_gpu = per_device_batch(p.train, procs)
        for prob in layout_problems(p):
            row.fail(prob)
    if row.status == "ok":
        row.note = (
            f"one process ({ONE_PROCESS.name}); profile: {p.train.launcher} x {procs} on GPUs "
            f"{','.join(map(str, p.gpus.train)) or 'any'}, server on {','.join(map(str, p.gpus.server)) or 'none'}, "
            f"batch {p.train.batch_size} = {per_gpu} per GPU x {p.train.grad_accum} accum x {procs}"
        )
    return row


def generation_rows(model, fmt, records: list[dict], p, args, cuda: bool) -> list[Row]:
    """Greedy evaluation of ``records`` and K samples of the first of them (skipped when the model did not load)."""
    ev, sm = Row("evaluate: greedy"), Row(f"sample: K = {p.sampling.k}")
    if model is None:
        for r in (ev, sm):
            r.status, r.note = "skipped", "the model did not load"
        return [ev, sm]
    with measured(ev, cuda):
        out = run_evaluate(model, fmt, records, p, p.evaluate.batch_size)
        if len(out) != len(records):
            ev.fail(f"{len(out)} answers for {len(records)} questions")
    rate(ev, len(records) * p.evaluate.max_new_tokens, ev.seconds)
    ev.note = (
        f"{len(records)} questions, batch {p.evaluate.batch_size}, max_new_tokens {p.evaluate.max_new_tokens}: "
        f"tokens = generated (upper bound), {len(records) / max(ev.seconds, 1e-9):.1f} questions/s"
    )
    n_sample = args.sample_questions or p.sampling.batch_size * (1 if args.dry_run else 2)
    chosen = records[:n_sample]
    with measured(sm, cuda):
        out = run_sample(model, fmt, chosen, p)
        if len(out) != len(chosen) or any(len(o) != p.sampling.k for o in out):
            sm.fail(f"{len(out)} questions answered of {len(chosen)}, or fewer than K = {p.sampling.k} samples")
    rate(sm, len(chosen) * p.sampling.k * p.sampling.max_new_tokens, sm.seconds)
    sm.note = (
        f"{len(chosen)} questions x K, batch {p.sampling.batch_size}, max_new_tokens {p.sampling.max_new_tokens}: "
        f"tokens = generated (upper bound; hf backend, the profile samples through vLLM)"
    )
    return [ev, sm]


def check_training(row: Row, metrics: dict, probe: Probe, steps: int) -> None:
    if metrics.get("steps") != steps or probe.steps != steps:
        row.fail(f"{metrics.get('steps')} steps, not {steps}")
    loss = metrics.get("final_loss")
    if loss is None or not math.isfinite(loss):
        row.fail(f"final loss {loss}")


def training_rows(row: Row, probe: Probe, placement_name: str, batch: int) -> list[Row]:
    """The training row (tokens/s over the optimiser steps alone; the row's seconds include loading, the
    merge and saving) and the placement row of the weights the trainer trained."""
    rate(row, probe.tokens, probe.seconds)
    if probe.seconds is not None:
        row.note = (
            f"batch {batch}; {probe.seconds:.1f} s in the steps (tokens/s over them), the rest load + merge + save; "
            f"last loss {'-' if probe.loss is None else format(probe.loss, '.4g')}"
        )
    place = Row(placement_name)
    if probe.problems is None:
        place.status, place.note = "skipped", "training did not start"
    for prob in probe.problems or []:
        place.fail(prob)
    return [row, place]


def reference_tokens(model_dir: Path, data: Path, system: str | None) -> int:
    """Tokens of the reference pass: prompt + completion of each row's distinct sequences (the collator's
    attention mask)."""
    from transformers import AutoProcessor

    from inbol.models import PromptFormat
    from inbol.training.ca_dpo import CADPOCollator
    from inbol.training.data import preference_dataset

    processor = AutoProcessor.from_pretrained(str(model_dir))
    ds = preference_dataset(data, PromptFormat(processor, system), "ca_dpo")
    collate = CADPOCollator(processor)
    return sum(int(collate([ds[i]])["attention_mask"].sum()) for i in range(len(ds)))


def table(rows: list[Row]) -> str:
    import pandas as pd

    df = pd.DataFrame(
        [
            {
                "check": r.check,
                "status": r.status,
                "seconds": r.seconds,
                "tokens": r.tokens,
                "tokens/s": r.tokens_per_s,
                "peak GPU GiB": r.peak_gib,
                "note": "; ".join([*r.problems, r.note] if r.note else r.problems),
            }
            for r in rows
        ],
        dtype=object,
    ).fillna("")
    try:
        return df.to_markdown(index=False)
    except ImportError:  # tabulate is not installed
        return df.to_string(index=False)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes (the test suite runs this)")
    ap.add_argument(
        "--dtype", default=None, help="inference and training dtype (default: the profile's; float32 with --dry-run)"
    )
    ap.add_argument("--vision-layers", type=int, default=2)
    ap.add_argument("--text-layers", type=int, default=2)
    ap.add_argument("--steps", type=int, default=None, help="IDK-IT and CA-DPO steps (default 20; dry run 2)")
    ap.add_argument("--batch-size", type=int, default=None, help="training batch (default: train.batch_size)")
    ap.add_argument("--eval-questions", type=int, default=None)
    ap.add_argument("--sample-questions", type=int, default=None)
    ap.add_argument("--diagnostics", type=int, default=None, help="CA-DPO diagnostic rows (default 32; dry run 4)")
    ap.add_argument("--work-dir", default=None, help="where the model and data go (default: a temp folder)")
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = ap.parse_args(argv)
    if args.steps is None:
        args.steps = 2 if args.dry_run else 20
    if args.diagnostics is None:
        args.diagnostics = 4 if args.dry_run else 32
    if args.dry_run and args.batch_size is None:
        args.batch_size = 2
    if args.dry_run and args.eval_questions is None:
        args.eval_questions = 4
    if args.dry_run and args.sample_questions is None:
        args.sample_questions = 2
    if args.dry_run:
        torch.set_num_threads(1)
    t0 = time.perf_counter()
    rows = run_checks(args)
    total = time.perf_counter() - t0
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() and not args.dry_run else "CPU (dry run)"
    print(f"\ngpu_check on {device}, torch {torch.__version__}, {total:.1f} s in all\n")
    print(table(rows))
    if args.json:
        Path(args.json).write_text(
            json.dumps({"device": device, "seconds": round(total, 1), "rows": [asdict(r) for r in rows]}, indent=1)
        )
    failed = [r for r in rows if r.status == "FAIL"]
    for r in failed:
        for prob in r.problems:
            print(f"FAIL {r.check}: {prob}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
