"""GRPO on the paper's value function: an RL method beyond the paper, as TruthRL (Meta, 2025) does for text
LLMs, here for the vision-language model.

Reward (:class:`STrustReward`): the project's judge (:func:`inbol.judge.judge_records`: refusal detection,
string matching, the semantic judge when ``judge.backend`` is ``openai``) gives each sampled completion a
verdict, worth +1 correct, 0 refusal, -1 incorrect.  The mean reward over questions is then
``Acc - Wrong = 2*Acc + RefR - 1``: S_trust itself, so GRPO maximises the paper's metric directly.

GRPO (TRL's ``GRPOTrainer``): for each training prompt it samples ``num_generations`` completions at
``temperature``, normalises their rewards within that group (the advantage: reward minus the group mean, over
the group's std) and raises the log-probability of the completions above the group mean, with a clipped
policy ratio (``epsilon``) and a KL penalty ``beta`` to the start model (the LoRA adapter switched off).  A
group whose completions all get the same reward (all correct, all refusals, all wrong) has zero advantage:
no learning signal.  The reward counts those groups, warns (naming the batch) when a whole batch has zero
variance or holds no refusal, and records the refusal share.

Training prompts (:func:`grpo_dataset`): the questions of the seed's constructed set that the method's spec
names (CA-DPO's ``preference`` set: Known, Mixed and Unknown questions, 2:1:1), with their gold answers looked up
by id in the pool the constructed sets draw from (``data/restructured/pool.jsonl`` and
``data/unanswerable/kept.jsonl``).  Prompts are conversational (TRL's vision path: the processor's chat template
puts the image in), and before training the ids TRL's rendering gives are checked against the ids of inference.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import datasets
from transformers import set_seed
from trl import GRPOConfig, GRPOTrainer
from trl.data_utils import prepare_multimodal_messages

from ..errors import DataError, ParamError
from ..io import read_jsonl
from ..judge import VERDICTS, judge_records
from ..models.base import load_base
from ..models.prompt import PromptFormat
from ..schema.grpo import GRPO
from ..schema.training import Lora, Train
from .data import PARITY_EXAMPLES, _diff, read_records
from .lora import lora_config
from .runtime import (
    CheckpointDir,
    check_launch,
    checkpoint_step,
    device,
    file_digest,
    fingerprint,
    live_callback,
    model_stamp,
    state,
    summary,
    timed_train,
    train_dtype,
    trainer_kwargs,
)
from .sft import save_outputs

log = logging.getLogger(__name__)

REWARD = {"correct": 1.0, "refusal": 0.0, "incorrect": -1.0}  # TruthRL's ternary reward; its mean is S_trust
assert set(REWARD) == set(VERDICTS)
GOLD_KEYS = ("question", "answers", "kind", "choices")


def _text(completion) -> str:
    """A completion's text: a string, or (conversational prompts) ``[{"role": "assistant", "content": ...}]``."""
    if isinstance(completion, str):
        return completion
    content = completion[-1]["content"] if completion else ""
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


class STrustReward:
    """TRL reward function: +1 correct, 0 refusal, -1 incorrect (the project's judge), with the statistics the
    training metrics record.  ``num_generations``: the group size (consecutive completions of one prompt)."""

    __name__ = "s_trust"  # TRL logs rewards/<__name__>/mean

    def __init__(self, num_generations: int, *, semantic=None, lenient: bool = True):
        self.num_generations = num_generations
        self.semantic = semantic
        self.lenient = lenient
        self.batches = 0
        self.verdicts: Counter = Counter()
        self.groups = 0
        self.flat_groups = 0
        self.refusal_share_per_batch: list[float] = []
        self.warnings: list[str] = []

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        log.warning(message)

    def __call__(self, prompts=None, completions=(), completion_ids=None, **columns) -> list[float]:
        texts = [_text(c) for c in completions]
        missing = [k for k in ("question", "answers", "kind") if k not in columns]
        if missing:
            raise DataError(f"GRPO reward: the training rows lack {missing[0]!r} (needs {', '.join(GOLD_KEYS)})")
        records = [{k: columns[k][i] if k in columns else None for k in (*GOLD_KEYS, "id")} for i in range(len(texts))]
        verdicts = judge_records(records, texts, self.semantic, lenient=self.lenient)
        rewards = [REWARD[v] for v in verdicts]
        self.batches += 1
        self.verdicts.update(verdicts)
        g = self.num_generations
        groups = [rewards[i : i + g] for i in range(0, len(rewards), g)]
        self.groups += len(groups)
        self.flat_groups += sum(len(set(grp)) == 1 for grp in groups)
        share = verdicts.count("refusal") / len(verdicts) if verdicts else 0.0
        self.refusal_share_per_batch.append(round(share, 4))
        ids = [r["id"] for r in records[::g] if r["id"] is not None]
        where = f"GRPO reward, batch {self.batches} (questions {', '.join(map(str, ids[:3]))}{', ...' if len(ids) > 3 else ''})"
        if len(set(rewards)) == 1 and rewards:
            self._warn(f"{where}: all {len(rewards)} rewards are {rewards[0]:+g} (zero variance): no learning signal")
        if "refusal" not in verdicts and verdicts:
            self._warn(f"{where}: no refusal among {len(verdicts)} completions: refusal share 0")
        log.info("%s: refusal share %.3f, mean reward %+.3f", where, share, sum(rewards) / max(len(rewards), 1))
        return rewards

    def metrics(self) -> dict:
        """The reward statistics over the whole training: mean reward (= S_trust of the sampled completions),
        verdict shares, the share of zero-variance groups; ``None`` with a warning where nothing was judged."""
        n = sum(self.verdicts.values())
        if not n:
            self._warn("GRPO reward: no completion was judged: reward_mean and refusal_share n/a")
        share = {v: (round(self.verdicts[v] / n, 4) if n else None) for v in VERDICTS}
        return {
            "reward_mean": round(sum(REWARD[v] * c for v, c in self.verdicts.items()) / n, 4) if n else None,
            "refusal_share": share["refusal"],
            "correct_share": share["correct"],
            "incorrect_share": share["incorrect"],
            "completions_judged": n,
            "reward_batches": self.batches,
            "zero_variance_group_share": round(self.flat_groups / self.groups, 4) if self.groups else None,
            "refusal_share_first_last": (
                [self.refusal_share_per_batch[0], self.refusal_share_per_batch[-1]]
                if self.refusal_share_per_batch
                else None
            ),
            "warnings": len(self.warnings),
            "first_warnings": self.warnings[:5],
        }


def gold_answers(pool_paths: Sequence[str | Path]) -> dict[str, dict]:
    """``{id: {question, answers, kind, choices}}`` of the pool the constructed sets draw from (restructured VQA
    records and kept unanswerable ones; an unanswerable record has no answers and kind ``unanswerable``)."""
    gold: dict[str, dict] = {}
    for path in pool_paths:
        rows = read_jsonl(path)
        if not rows:
            raise DataError(f"{path}: no records (the pool the constructed sets draw from)")
        for r in rows:
            kind = r.get("kind") or "open"
            gold[str(r["id"])] = {
                "question": r["question"],
                "answers": [str(a) for a in (r.get("answers") or [])],
                "kind": kind,
                "choices": r.get("choices") or (r.get("meta") or {}).get("choices") if kind == "choice" else None,
            }
    return gold


def check_prompt_parity(fmt: PromptFormat, rows: Sequence[dict], where: str) -> None:
    """A one-line DataError unless the prompt ids TRL's GRPO renders (the processor's chat template on the
    conversational prompt, tokenized) are the ids inference gives (``fmt.prompt`` with special tokens)."""
    from PIL import Image

    image = Image.new("RGB", (8, 8))
    tok = fmt.tokenizer
    for row in rows[:PARITY_EXAMPLES]:
        messages = [dict(m) for m in row["prompt"]]
        messages[-1] = {"role": "user", "content": row["question"]}
        conversation = prepare_multimodal_messages(messages, images=[image])
        got = fmt.processor.apply_chat_template(
            conversation=[conversation], add_generation_prompt=True, tokenize=True, return_dict=True
        )
        train = [int(t) for t in got["input_ids"][0]]
        infer = [int(t) for t in fmt.processor(text=[fmt.prompt(row["question"])], images=[image])["input_ids"][0]]
        if train != infer:
            raise DataError(
                f"{where}: record {row['id']!r}: GRPO's rendering of the prompt gives other ids than inference "
                f"({_diff(tok, train, infer)}); expected identical ids"
            )


def grpo_dataset(
    path: str | Path, pool_paths: Sequence[str | Path], fmt: PromptFormat, *, check: bool = True
) -> datasets.Dataset:
    """The questions of the constructed set ``path`` (``{id, image, prompt, bucket}`` records) as TRL's
    conversational vision prompts ``{prompt, image, id, question, answers, kind, choices, bucket}``, their gold
    answers from ``pool_paths``; a one-line DataError when a question is not in the pool."""
    records = read_records(path, ("id", "image", "prompt"))
    gold = gold_answers(pool_paths)
    rows, seen = [], set()
    for r in records:
        qid = str(r.get("qid") or r["id"])
        if qid in seen:
            continue
        seen.add(qid)
        g = gold.get(qid)
        if g is None:
            raise DataError(
                f"{path}: question {qid!r} is not in the pool ({', '.join(map(str, pool_paths))}): no gold answer"
            )
        system = [{"role": "system", "content": fmt.system}] if fmt.system else []
        rows.append(
            {
                "prompt": [*system, {"role": "user", "content": r["prompt"]}],
                "image": r["image"],
                "id": qid,
                **g,
                "question": r["prompt"],
                "bucket": str(r.get("bucket", "")),
            }
        )
    if check:
        check_prompt_parity(fmt, rows, str(path))
    return datasets.Dataset.from_list(rows).cast_column("image", datasets.Image())


def grpo_config(grpo: GRPO, train: Train, work_dir: str | Path, seed: int, *, resumable: bool = True) -> GRPOConfig:
    """TRL's GRPOConfig: ``grpo``'s budget and sampling, the rest of the optimisation from ``train``; one
    generation batch (``grpo.batch_size`` completions) per optimiser step."""
    processes = state().num_processes
    if grpo.batch_size % processes:
        raise ParamError(
            f"grpo.batch_size = {grpo.batch_size}: must be a multiple of the {processes} training processes"
        )
    kw = trainer_kwargs(train, work_dir, seed, resumable=resumable)
    kw.update(
        learning_rate=grpo.lr,
        max_steps=grpo.steps,
        num_train_epochs=1,
        per_device_train_batch_size=grpo.batch_size // processes,
        gradient_accumulation_steps=1,
    )
    return GRPOConfig(
        **kw,
        num_generations=grpo.num_generations,
        beta=grpo.beta,
        temperature=grpo.temperature,
        max_completion_length=grpo.max_completion_length,
        epsilon=grpo.epsilon,
        steps_per_generation=1,
        log_completions=False,
    )


def train_grpo(
    data: str | Path,
    pool: Sequence[str | Path],
    start_model: str | Path,
    out_dir: str | Path,
    *,
    grpo: GRPO,
    lora: Lora,
    train: Train,
    seed: int,
    work_dir: str | Path,
    system: str | None = None,
    semantic=None,
    lenient: bool = True,
    live_dir: str | Path | None = None,
    name: str = "grpo",
    callbacks=(),
) -> dict:
    """GRPO-train ``start_model`` (LoRA) on the questions of ``data`` with the S_trust reward; write the adapter
    and the merged model to ``out_dir``; return the metrics (the training summary, the reward's statistics)."""
    check_launch(train)  # ParamError: several GPUs for one process
    dtype = train_dtype(train)
    set_seed(seed)
    model, processor = load_base(start_model, device=device(), dtype=dtype)  # DataError if unloadable
    ds = grpo_dataset(data, pool, PromptFormat(processor, system))  # DataError if empty/bad/not in the pool
    peft_config = lora_config(lora, model)
    ckpt = CheckpointDir(
        work_dir,
        fingerprint(
            stage=name,
            grpo=grpo,
            lora=lora,
            train=train,
            seed=seed,
            system=system,
            data=file_digest(data),
            pool=[file_digest(p) for p in pool],
            start=model_stamp(start_model),
        ),
    )
    resume = ckpt.prepare()
    reward = STrustReward(grpo.num_generations, semantic=semantic, lenient=lenient)
    cbs = [c for c in (live_callback(live_dir, checkpoint_step(resume)), *callbacks) if c is not None]
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=reward,
        args=grpo_config(grpo, train, work_dir, seed),
        train_dataset=ds,
        processing_class=processor,
        peft_config=peft_config,
        callbacks=cbs,
    )
    result, seconds = timed_train(trainer, resume)
    save_outputs(trainer, start_model, out_dir, dtype)
    metrics = summary(trainer, result, seconds, len(ds), resume)
    metrics.update(
        stage=name,
        seed=seed,
        start_model=str(start_model),
        buckets=dict(sorted(Counter(ds["bucket"]).items())),
        num_generations=grpo.num_generations,
        prompts_per_step=grpo.prompts_per_step,
        beta=grpo.beta,
        **reward.metrics(),
    )
    ckpt.finish()
    return metrics


__all__ = ["REWARD", "STrustReward", "gold_answers", "grpo_dataset", "grpo_config", "train_grpo"]
