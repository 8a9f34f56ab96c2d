"""CA-DPO, the confidence-aware DPO of the paper (section 3.3, equation 6), on TRL's ``DPOTrainer``.

For each question x with pairs p1 = (y_w1 > y_l1), p2 = (y_w2 > y_l2) and confidence conf_x:

    L = -E_x[ conf_x * log sigma(beta (D_w1 - D_l1)) + (1 - conf_x) * log sigma(beta (D_w2 - D_l2)) ]
    D_y = log pi(y|x) - log pi_ref(y|x)          (sums over the completion tokens)

Known and Unknown questions have p1 = p2 (the weights sum to 1), Mixed ones p1 = correct > incorrect and
p2 = refusal > incorrect.  Plain DPO is the case conf = 1 with p1 = p2.

How it sits on TRL 1.16 (``CADPOTrainer`` subclasses ``trl.DPOTrainer``):

- TRL's vision path (``DataCollatorForVisionPreference``) handles one (chosen, rejected) pair per row and
  refuses ``precompute_ref_log_probs`` for vision data, so this module brings its own collator
  (:class:`CADPOCollator`) and loss (:meth:`CADPOTrainer.ca_dpo_step`, installed as TRL's loss hook by
  :mod:`inbol.training.trl_compat`, the one place of TRL internals); everything else is TRL's:
  PEFT wrapping, the fused LM head (per-token log-probs without materialising the logits), dropout
  disabled, metric averaging/logging, checkpoints, accelerate handling.
- The collator deduplicates the up-to-four completions of a row (Known/Unknown: 2 distinct sequences;
  Mixed: 3, since l1 = l2 = the incorrect answer), so p1 = p2 costs nothing extra.
- The reference is the starting model = the policy with the LoRA adapter disabled.  Its sequence
  log-probabilities are computed once, before training, in a no-grad pass over the dataset and stored as
  the dataset columns ``ref_w1, ref_l1, ref_w2, ref_l2`` (cached in the work dir for a resumed run);
  training steps run the policy only.  ``precompute_ref=False`` instead runs the reference forward in
  every step (the stock behaviour; kept for the benchmark).
- Logged like TRL: ``rewards/chosen``, ``rewards/rejected``, ``rewards/margins``, ``rewards/accuracies``,
  ``logps/chosen``, ``logps/rejected`` (each the conf-weighted mix of the two pairs, so conf = 1 gives
  TRL's numbers exactly), ``entropy``, ``num_tokens``.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from accelerate.utils import is_peft_model
from torch.utils.data import DataLoader
from tqdm import tqdm
from transformers import set_seed
from trl import DPOConfig, DPOTrainer

from ..errors import DataError, ParamError
from ..models.base import load_base
from ..models.prompt import PromptFormat
from ..schema.dpo import DPO
from ..schema.training import Lora, Train
from . import trl_compat
from .data import PAIR_KEYS, preference_dataset, read_records
from .lora import lora_config
from .runtime import (
    CheckpointDir,
    check_launch,
    checkpoint_step,
    device,
    file_digest,
    fingerprint,
    last_mean,
    live_callback,
    model_stamp,
    summary,
    timed_train,
    train_dtype,
    trainer_kwargs,
)
from .sft import save_outputs
from .trl_compat import disable_gradient_checkpointing, flush_left, use_adapter

REF_COLUMNS = tuple(f"ref_{k}" for k in PAIR_KEYS)  # ref_w1, ref_l1, ref_w2, ref_l2
_NON_MODEL_KEYS = {"completion_mask", "pair_index", "conf", "ref_logps"}
METRIC_KEYS = (
    "rewards/chosen",
    "rewards/rejected",
    "rewards/margins",
    "rewards/accuracies",
    "logps/chosen",
    "logps/rejected",
)


def ca_dpo_loss(
    policy_w1: torch.Tensor,
    policy_l1: torch.Tensor,
    ref_w1: torch.Tensor,
    ref_l1: torch.Tensor,
    policy_w2: torch.Tensor,
    policy_l2: torch.Tensor,
    ref_w2: torch.Tensor,
    ref_l2: torch.Tensor,
    conf: torch.Tensor | float,
    beta: float,
    *,
    sft_weight: float = 0.0,
    chosen_tokens: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Equation (6): the batch mean of ``-(conf log sigma(z1) + (1 - conf) log sigma(z2))`` with
    ``z_i = beta ((pi_wi - ref_wi) - (pi_li - ref_li))`` (sequence log-probabilities, shape ``(B,)``).

    ``sft_weight`` alpha > 0 adds ``alpha * NLL`` of the chosen responses (RPO; TRL's ``loss_type=["sigmoid",
    "sft"]`` with ``loss_weights=[1, alpha]``): the negative log-likelihood per answer token over the batch,
    each question's two chosen responses weighted by conf and 1 - conf,
    ``NLL = -sum(conf pi_w1 + (1-conf) pi_w2) / sum(conf n_w1 + (1-conf) n_w2)`` with ``n`` the token counts
    ``chosen_tokens`` = (n_w1, n_w2); with p1 = p2 (conf = 1) it is TRL's token mean of the chosen NLL.
    0 (the default) is equation (6) exactly.

    Returns ``(loss, metrics)``; ``metrics`` holds detached per-example tensors: the conf-weighted
    rewards (``rewards/chosen`` = beta (conf D_w1 + (1-conf) D_w2), likewise ``rewards/rejected``),
    ``rewards/margins`` = conf z1 + (1-conf) z2, ``rewards/accuracies`` = conf [z1 > 0] + (1-conf)
    [z2 > 0], the weighted policy ``logps/chosen`` / ``logps/rejected``, and ``loss`` (per example)."""
    pw1, pl1, rw1, rl1, pw2, pl2, rw2, rl2 = (
        t.float() for t in (policy_w1, policy_l1, ref_w1, ref_l1, policy_w2, policy_l2, ref_w2, ref_l2)
    )
    c = torch.as_tensor(conf, dtype=torch.float32, device=pw1.device).expand_as(pw1)
    dw1, dl1, dw2, dl2 = pw1 - rw1, pl1 - rl1, pw2 - rw2, pl2 - rl2
    z1, z2 = beta * (dw1 - dl1), beta * (dw2 - dl2)
    per_example = -(c * F.logsigmoid(z1) + (1.0 - c) * F.logsigmoid(z2))
    with torch.no_grad():
        metrics = {
            "rewards/chosen": beta * (c * dw1 + (1 - c) * dw2),
            "rewards/rejected": beta * (c * dl1 + (1 - c) * dl2),
            "rewards/margins": c * z1 + (1 - c) * z2,
            "rewards/accuracies": c * (z1 > 0).float() + (1 - c) * (z2 > 0).float(),
            "logps/chosen": c * pw1 + (1 - c) * pw2,
            "logps/rejected": c * pl1 + (1 - c) * pl2,
            "loss": per_example.detach(),
        }
    loss = per_example.mean()
    if sft_weight:
        if chosen_tokens is None:
            raise ValueError("ca_dpo_loss: sft_weight > 0 needs chosen_tokens (the token counts of w1 and w2)")
        n1, n2 = (torch.as_tensor(t, dtype=torch.float32, device=pw1.device).expand_as(pw1) for t in chosen_tokens)
        nll = -(c * pw1 + (1 - c) * pw2).sum() / (c * n1 + (1 - c) * n2).sum().clamp(min=1.0)
        loss = loss + sft_weight * nll
        metrics["nll/chosen"] = nll.detach().expand_as(pw1)
    return loss, metrics


@dataclass
class CADPOCollator:
    """Batch rows ``{image, prompt, w1, l1, w2, l2, conf[, ref_*]}`` into one padded batch of the distinct
    (prompt + completion) sequences of each row, like TRL's ``DataCollatorForVisionPreference``: the prompt
    (with its image, through the processor once per row, then repeated per sequence) left-padded, the
    completion right-padded, then flushed left.

    Output: ``input_ids``, ``attention_mask``, ``pixel_values`` (one per sequence), ``completion_mask``,
    ``pair_index`` (B x 4: the sequence of w1, l1, w2, l2), ``conf`` (B) and, when the rows carry them,
    ``ref_logps`` (B x 4)."""

    processor: Any
    max_length: int | None = None

    def __call__(self, examples: list[dict]) -> dict[str, torch.Tensor]:
        completions, row_of, index = [], [], []
        for r, ex in enumerate(examples):
            distinct: list[str] = []
            for k in PAIR_KEYS:
                if ex[k] not in distinct:
                    distinct.append(ex[k])
            base = len(completions)
            index.append([base + distinct.index(ex[k]) for k in PAIR_KEYS])
            completions.extend(distinct)
            row_of.extend([r] * len(distinct))
        tok = self.processor.tokenizer
        # each row's prompt and image go through the processor once, then are repeated per sequence
        p = self.processor(
            images=[[ex["image"]] for ex in examples],
            text=[ex["prompt"] for ex in examples],
            padding=True,
            padding_side="left",
            return_tensors="pt",
            add_special_tokens=False,
        )
        if p["pixel_values"].shape[0] != len(examples):
            raise ValueError("CADPOCollator expects one pixel_values row per image (LLaVA-style processors)")
        rows = torch.tensor(row_of, dtype=torch.long)
        p = {k: v[rows] if isinstance(v, torch.Tensor) else v for k, v in p.items()}
        c = tok(completions, padding=True, padding_side="right", return_tensors="pt", add_special_tokens=False)
        input_ids = torch.cat((p["input_ids"], c["input_ids"]), dim=1)
        attention_mask = torch.cat((p["attention_mask"], c["attention_mask"]), dim=1)
        completion_mask = torch.cat((torch.zeros_like(p["attention_mask"]), c["attention_mask"]), dim=1)
        attention_mask, input_ids, completion_mask = flush_left(attention_mask, input_ids, completion_mask)
        if self.max_length is not None:
            input_ids, attention_mask, completion_mask = (
                t[:, : self.max_length] for t in (input_ids, attention_mask, completion_mask)
            )
        out = dict(p)
        out.update(
            input_ids=input_ids,
            attention_mask=attention_mask,
            completion_mask=completion_mask,
            pair_index=torch.tensor(index, dtype=torch.long),
            conf=torch.tensor([float(ex["conf"]) for ex in examples], dtype=torch.float32),
        )
        if REF_COLUMNS[0] in examples[0]:
            out["ref_logps"] = torch.tensor(
                [[float(ex[k]) for k in REF_COLUMNS] for ex in examples], dtype=torch.float32
            )
        return out


class CADPOTrainer(DPOTrainer):
    """``trl.DPOTrainer`` with the CA-DPO loss over rows with two weighted pairs (see the module doc).

    Use it like DPOTrainer with a ``peft_config`` (the reference is the adapter-disabled policy), a dataset
    of :func:`inbol.training.data.preference_dataset` rows and ``args.precompute_ref_log_probs=False`` (the
    reference pass is this class's own).  ``precompute_ref``: compute the reference log-probabilities once
    before training (default) instead of in every step; ``ref_cache``: a file to keep them in between runs
    (a resumed run reads it instead of recomputing); ``sft_weight``: the NLL term of :func:`ca_dpo_loss`
    (``ca_dpo.sft_weight``; 0: equation (6) exactly)."""

    _tag_names = ["trl", "dpo", "ca-dpo"]
    _name = "CA-DPO"

    def __init__(
        self,
        *args,
        precompute_ref: bool = True,
        ref_cache: str | Path | None = None,
        ref_table: Mapping[str, Mapping[str, float]] | None = None,
        sft_weight: float = 0.0,
        **kwargs,
    ):
        self.sft_weight = float(sft_weight)
        if kwargs.get("data_collator") is None:
            if kwargs.get("processing_class") is None:
                raise ValueError("CADPOTrainer needs processing_class= (the model's processor) for its collator")
            kwargs["data_collator"] = CADPOCollator(kwargs["processing_class"])
        super().__init__(*args, **kwargs)
        if self.args.precompute_ref_log_probs:
            raise ValueError(
                "CADPOTrainer computes its own reference log-probs: set precompute_ref_log_probs=False "
                "in the DPOConfig and use precompute_ref=True"
            )
        self.precompute_ref = precompute_ref or ref_table is not None
        if ref_table is not None:
            self.train_dataset = with_reference_table(self.train_dataset, ref_table)
        elif precompute_ref:
            self.train_dataset = self.add_reference_columns(self.train_dataset, ref_cache)

    def _set_signature_columns_if_needed(self):
        trl_compat.set_signature_columns(self, ["image", "prompt", *PAIR_KEYS, "conf", *REF_COLUMNS])

    # ---------------------------------------------------------------------------------------------
    # log-probabilities
    # ---------------------------------------------------------------------------------------------

    def sequence_logps(self, model, inputs: dict) -> tuple[torch.Tensor, Any]:
        """Summed completion log-probabilities of every sequence in the batch (and the fused outputs)."""
        model_kwargs = {k: v for k, v in inputs.items() if k not in _NON_MODEL_KEYS}
        model_kwargs["use_cache"] = False
        completion_mask = inputs["completion_mask"]
        labels = inputs["input_ids"].masked_fill(completion_mask == 0, -100)
        outputs = trl_compat.token_logps(model, model_kwargs, labels)
        per_token = outputs.log_probs[:, -(completion_mask.size(1) - 1) :]  # zero off the completion
        return per_token.sum(dim=1), outputs

    @contextlib.contextmanager
    def reference_context(self):
        """The policy turned into the reference: no grad, LoRA adapter disabled (or a separate ref model)."""
        adapter = contextlib.nullcontext()
        if self.ref_model is None and is_peft_model(self.model):
            unwrapped = self.accelerator.unwrap_model(self.model)
            adapter = use_adapter(unwrapped, adapter_name="ref" if "ref" in unwrapped.peft_config else None)
        checkpointing = contextlib.nullcontext()
        if self.args.gradient_checkpointing:  # (re-entrant checkpointing warns under no_grad)
            checkpointing = disable_gradient_checkpointing(self.model, self.args.gradient_checkpointing_kwargs)
        with torch.no_grad(), checkpointing, adapter:
            yield self.ref_model if self.ref_model is not None else self.model

    def reference_logps(self, inputs: dict, engine=None) -> torch.Tensor:
        """(B, 4) reference log-probabilities of w1, l1, w2, l2 for one collated batch."""
        with self.reference_context() as ref:
            seq, _ = self.sequence_logps(engine if engine is not None else ref, inputs)
        return seq[inputs["pair_index"]].float()

    def compute_reference(self, dataset, batch_size: int | None = None) -> torch.Tensor:
        """(N, 4) reference log-probabilities of ``dataset`` in row order: one no-grad pass (batches of
        ``batch_size``, else DPOConfig's ``precompute_ref_batch_size``, else the training batch), gathered
        across processes."""
        columns = [c for c in REF_COLUMNS if c in dataset.column_names]
        if columns:
            dataset = dataset.remove_columns(columns)
        batch_size = batch_size or self.args.precompute_ref_batch_size or self.args.per_device_train_batch_size
        loader = DataLoader(
            dataset,
            batch_size=batch_size,
            collate_fn=self.data_collator,
            shuffle=False,
            num_workers=self.args.dataloader_num_workers,
            pin_memory=self.args.dataloader_pin_memory,
        )
        loader = self.accelerator.prepare(loader)
        engine = None
        if self.ref_model is None and self.is_deepspeed_enabled:
            # before `train`, DeepSpeed has not placed/gathered the parameters yet: TRL's own precompute
            # wraps the model in an inference engine the same way
            engine = trl_compat.prepare_deepspeed(self.model, self.accelerator)
        was_training = self.model.training
        self.model.eval()
        out = []
        try:
            for batch in tqdm(
                loader, desc="CA-DPO: reference log-probs", disable=not self.is_world_process_zero(), mininterval=2
            ):
                with self.accelerator.autocast():
                    ref = self.reference_logps(batch, engine)
                out.append(self.accelerator.gather_for_metrics(ref).cpu())
        finally:
            self.model.train(was_training)
        return torch.cat(out) if out else torch.zeros((0, 4))

    def add_reference_columns(self, dataset, cache: str | Path | None = None):
        """``dataset`` with the columns ref_w1, ref_l1, ref_w2, ref_l2 (read from ``cache`` when it holds
        them for a dataset of this length, else computed and written there)."""
        ref = None
        if cache is not None and Path(cache).exists():
            loaded = torch.load(cache, map_location="cpu")
            if loaded.shape == (len(dataset), 4):
                ref = loaded
        if ref is None:
            ref = self.compute_reference(dataset)
            if cache is not None and self.accelerator.is_main_process:
                Path(cache).parent.mkdir(parents=True, exist_ok=True)
                tmp = Path(f"{cache}.tmp")
                torch.save(ref, tmp)
                os.replace(tmp, cache)
        for c in REF_COLUMNS:
            if c in dataset.column_names:
                dataset = dataset.remove_columns(c)
        for j, c in enumerate(REF_COLUMNS):
            dataset = dataset.add_column(c, ref[:, j].tolist())
        return dataset

    def reference_table(self, dataset=None) -> dict[str, dict[str, float]]:
        """``{qid: {rendered completion: reference log-prob}}`` of every distinct sequence of ``dataset`` (the
        training set by default): one reference pass that CA-DPO and the DPO variants of the same questions
        share (:func:`with_reference_table`)."""
        dataset = self.train_dataset if dataset is None else dataset
        ref = self.compute_reference(dataset)
        table: dict[str, dict[str, float]] = {}
        for i, row in enumerate(dataset.select_columns(["qid", *PAIR_KEYS])):
            entry = table.setdefault(row["qid"], {})
            for j, k in enumerate(PAIR_KEYS):
                entry[row[k]] = float(ref[i, j])
        return table

    @torch.no_grad()
    def policy_logps(self, dataset) -> torch.Tensor:
        """(N, 4) log-probabilities of w1, l1, w2, l2 under the current policy (adapter on), no grad."""
        loader = DataLoader(
            dataset, batch_size=self.args.per_device_train_batch_size, collate_fn=self.data_collator, shuffle=False
        )
        was_training = self.model.training
        self.model.eval()
        out = []
        try:
            for batch in loader:
                batch = {k: v.to(self.model.device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
                seq, _ = self.sequence_logps(self.model, batch)
                out.append(seq[batch["pair_index"]].float().cpu())
        finally:
            self.model.train(was_training)
        return torch.cat(out) if out else torch.zeros((0, 4))

    def refusal_start(
        self, fmt: PromptFormat, records: Sequence[dict], refusals: Sequence[str], *, reference: bool = False
    ) -> list[float]:
        """:func:`refusal_start_probability` of ``records`` on this process's device, batched: under the
        start model (``reference``: adapter off, eval mode) or the policy as it is; [] without ``refusals``."""
        if not refusals:
            return []
        was_training = self.model.training
        if reference:
            self.model.eval()
        ctx = self.reference_context() if reference else torch.no_grad()
        try:
            with ctx, self.accelerator.autocast():
                return refusal_start_probability(self.accelerator.unwrap_model(self.model), fmt, records, refusals)
        finally:
            self.model.train(was_training)

    # ---------------------------------------------------------------------------------------------
    # loss and metrics
    # ---------------------------------------------------------------------------------------------

    def _chosen_tokens(self, inputs: dict) -> dict:
        """``ca_dpo_loss``'s NLL-term arguments: ``sft_weight`` and the answer-token counts of w1 and w2."""
        idx = inputs["pair_index"]
        n = inputs["completion_mask"][:, 1:].sum(dim=1)  # the tokens sequence_logps sums over
        return {"sft_weight": self.sft_weight, "chosen_tokens": (n[idx[:, 0]], n[idx[:, 2]])}

    def ca_dpo_step(self, model, inputs, return_outputs):
        """The loss of one batch (TRL's loss hook, see trl_compat) and TRL-style metrics."""
        mode = "train" if self.model.training else "eval"
        seq_logps, outputs = self.sequence_logps(model, inputs)
        idx = inputs["pair_index"]
        policy = seq_logps[idx]  # (B, 4)
        ref = inputs["ref_logps"] if "ref_logps" in inputs else self.reference_logps(inputs)
        loss, m = ca_dpo_loss(
            policy[:, 0],
            policy[:, 1],
            ref[:, 0],
            ref[:, 1],
            policy[:, 2],
            policy[:, 3],
            ref[:, 2],
            ref[:, 3],
            inputs["conf"],
            self.beta,
            **(self._chosen_tokens(inputs) if self.sft_weight else {}),
        )

        gather = self.accelerator.gather_for_metrics
        for k in METRIC_KEYS + (("nll/chosen",) if self.sft_weight else ()):
            trl_compat.log_metric(self, mode, k, gather(m[k]).mean().item())
        mask = inputs["completion_mask"][:, 1:]
        entropy = outputs.entropy[:, -mask.size(1) :].detach() if outputs.entropy is not None else None
        if entropy is not None:
            tokens = gather(mask.sum()).sum()
            ent = gather((entropy * mask).sum()).sum()
            trl_compat.log_metric(self, mode, "entropy", (ent / tokens).item() if tokens > 0 else 0.0)
        trl_compat.count_tokens(self, mode, gather(inputs["attention_mask"].sum()).sum().item())
        if return_outputs:
            return loss, outputs
        return loss


trl_compat.install_loss(CADPOTrainer, "ca_dpo_step")


class PairDPOTrainer(CADPOTrainer):
    """Plain DPO and TRL's other pairwise losses on plain-pair rows (p1 = p2 = (chosen > rejected), conf = 1):
    the data, collator and shared reference table of :class:`CADPOTrainer`, and TRL's own loss hook, so
    everything ``DPOConfig`` sets (``loss_type`` such as ``"sigmoid"`` or ``"ipo"``, ``loss_weights``,
    ``label_smoothing``, ``f_divergence_type``, ``ld_alpha``, ``use_weighting``) applies as in stock TRL; and TRL's
    metrics.  Each batch is put in TRL's layout (every chosen sequence, then every rejected one) with the
    reference log-probs as TRL's ``ref_chosen_logps`` / ``ref_rejected_logps``."""

    _tag_names = ["trl", "dpo"]
    _name = "DPO"

    def trl_dpo_step(self, model, inputs, return_outputs):
        idx = inputs["pair_index"]
        if not torch.equal(idx[:, 0], idx[:, 2]) or not torch.equal(idx[:, 1], idx[:, 3]):
            raise DataError("TRL's DPO losses take one (chosen, rejected) pair per row: use plain-pair records")
        n = inputs["input_ids"].shape[0]
        order = torch.cat((idx[:, 0], idx[:, 1]))  # TRL's batch: [chosen; rejected]
        batch = {
            k: v[order] if isinstance(v, torch.Tensor) and v.dim() and v.shape[0] == n else v
            for k, v in inputs.items()
            if k not in _NON_MODEL_KEYS
        }
        batch["completion_mask"] = inputs["completion_mask"][order]
        has_ref = "ref_logps" in inputs
        if has_ref:
            batch["ref_chosen_logps"], batch["ref_rejected_logps"] = (
                inputs["ref_logps"][:, 0],
                inputs["ref_logps"][:, 1],
            )
        precompute = self.precompute_ref_logps
        self.precompute_ref_logps = has_ref  # TRL reads the reference from the batch, or runs it (adapter off)
        try:
            return trl_compat.trl_loss(self, model, batch, return_outputs)
        finally:
            self.precompute_ref_logps = precompute


trl_compat.install_loss(PairDPOTrainer, "trl_dpo_step")


def with_reference_table(dataset, table: Mapping[str, Mapping[str, float]]):
    """``dataset`` (rows with ``qid`` and the rendered w1, l1, w2, l2) with the reference columns looked up
    in ``table`` (:meth:`CADPOTrainer.reference_table`); a DataError naming the row when one is missing."""
    cols: dict[str, list[float]] = {c: [] for c in REF_COLUMNS}
    for row in dataset.select_columns(["id", "qid", *PAIR_KEYS]):
        entry = table.get(row["qid"], {})
        for k, c in zip(PAIR_KEYS, REF_COLUMNS):
            if row[k] not in entry:
                raise DataError(
                    f"reference table: no log-prob for row {row['id']!r} ({k} = {row[k][:40]!r}); "
                    f"compute it from the same preference data and start model"
                )
            cols[c].append(entry[row[k]])
    for c in REF_COLUMNS:
        if c in dataset.column_names:
            dataset = dataset.remove_columns(c)
        dataset = dataset.add_column(c, cols[c])
    return dataset


def refusal_start_probability(
    model, fmt: PromptFormat, records: Sequence[dict], refusals: Sequence[str], batch_size: int = 32
) -> list[float]:
    """Per record (``{question, image}``) the model's probability that its answer starts a refusal: the
    next-token probability, at the end of the generation prompt, of the first tokens of ``refusals``."""
    from ..models.generate import open_images

    tok = fmt.processor.tokenizer
    first = sorted({tok(fmt.completion("x", r), add_special_tokens=False)["input_ids"][0] for r in refusals})
    out: list[float] = []
    device = next(model.parameters()).device
    with torch.no_grad():
        for i in range(0, len(records), batch_size):
            chunk = records[i : i + batch_size]
            batch = fmt.processor(
                images=open_images([r["image"] for r in chunk]),
                text=[fmt.prompt(r["question"]) for r in chunk],
                return_tensors="pt",
                padding=True,
            ).to(device)
            mask = batch["attention_mask"]
            position_ids = (mask.long().cumsum(-1) - 1).clamp(min=0)
            logits = model(**batch, position_ids=position_ids, use_cache=False).logits[:, -1, :].float()
            out += torch.softmax(logits, dim=-1)[:, first].sum(-1).tolist()
    return out


def diagnostic_rows(records: Sequence[dict], n: int) -> list[int]:
    """Indices of at most ``n`` rows, spread evenly over the file (deterministic), for the diagnostics."""
    if len(records) <= n:
        return list(range(len(records)))
    step = len(records) / n
    return sorted({int(i * step) for i in range(n)})


def diagnostics(
    buckets: Sequence[str],
    conf: Sequence[float],
    before: torch.Tensor,
    after: torch.Tensor,
    start_before: Sequence[float],
    start_after: Sequence[float],
) -> dict:
    """Per bucket (Known, Mixed, Unknown): the mean chosen and rejected log-probs (p1 and p2 weighted by
    conf, as TRL logs them) before training (the reference) and after, and the mean probability of starting
    a refusal before and after (likelihood displacement shows as both log-probs falling)."""
    out: dict = {}
    c_all = torch.tensor([float(c) for c in conf])
    for b in ("known", "mixed", "unknown"):
        idx = torch.tensor([i for i, x in enumerate(buckets) if x == b], dtype=torch.long)
        if not len(idx):
            continue
        c = c_all[idx]

        def mix(t, w, lo, _idx=idx, _c=c):
            return float((_c * t[_idx, w] + (1 - _c) * t[_idx, lo]).mean())

        out[b] = {
            "n": int(len(idx)),
            "chosen_before": mix(before, 0, 2),
            "chosen_after": mix(after, 0, 2),
            "rejected_before": mix(before, 1, 3),
            "rejected_after": mix(after, 1, 3),
            "p_refusal_start_before": float(torch.tensor(start_before)[idx].mean()),
            "p_refusal_start_after": float(torch.tensor(start_after)[idx].mean()),
        }
    return out


# -------------------------------------------------------------------------------------------------
# the train_preference@<method> stage's library call
# -------------------------------------------------------------------------------------------------

REF_CACHE = "ref_logps.pt"


def train_preference(
    data: str | Path,
    start_model: str | Path,
    out_dir: str | Path,
    *,
    kind: str,
    lora: Lora,
    train: Train,
    dpo: DPO,
    seed: int,
    work_dir: str | Path,
    system: str | None = None,
    reference: str | Path | None = None,
    live_dir: str | Path | None = None,
    name: str = "ca_dpo",
    diagnostics_n: int = 300,
    callbacks=(),
    loss_type: str = "sigmoid",
    sft_weight: float = 0.0,
) -> dict:
    """CA-DPO (``kind='ca_dpo'``, the preference records, equation 6) or a pairwise TRL loss (``kind='dpo'``,
    plain-pair records such as a DPO variant's, TRL's ``DPOConfig.loss_type`` = ``loss_type``: ``"sigmoid"``
    is plain DPO, ``"ipo"`` IPO, ...) from ``start_model`` (the IDK-IT model), which is also the frozen
    reference (its log-probs read from ``reference``, the table of :func:`write_reference`, when given;
    computed here otherwise).  ``sft_weight``: CA-DPO's NLL term on the chosen responses (``ca_dpo.sft_weight``,
    :func:`ca_dpo_loss`; 0: equation (6); CA-DPO only).
    Writes the adapter and the merged model to ``out_dir`` and returns the metrics (final loss, reward
    accuracy and margin, steps, seconds, and per-bucket diagnostics on ``diagnostics_n`` rows)."""
    from ..io import read_json
    from ..judge import is_refusal

    if kind not in ("ca_dpo", "dpo"):
        raise ParamError(f"preference kind {kind!r}: allowed: ca_dpo, dpo")
    if sft_weight and kind != "ca_dpo":
        raise ParamError(f"sft_weight = {sft_weight:g}: the NLL term is CA-DPO's (kind ca_dpo), not kind {kind!r}'s")
    train = dpo.apply(train)
    if dpo.modules_to_save is not None:
        lora = lora.replace(modules_to_save=dpo.modules_to_save)
    check_launch(train)  # ParamError: several GPUs for one process, or a batch that does not divide
    dtype = train_dtype(train)
    set_seed(seed)
    model, processor = load_base(start_model, device=device(), dtype=dtype)  # DataError if unloadable
    fmt = PromptFormat(processor, system)
    ds = preference_dataset(data, fmt, kind)  # DataError if empty/bad
    peft_config = lora_config(lora, model)  # ParamError if no match
    raw = read_records(data, ())
    diag = diagnostic_rows(raw, diagnostics_n)
    texts = {t for r in raw for t in _texts(r)}
    refusals = sorted(t for t in texts if is_refusal(t))
    diag_recs = [{"question": raw[i]["prompt"], "image": raw[i]["image"]} for i in diag]
    ckpt = CheckpointDir(
        work_dir,
        fingerprint(
            stage=name,
            kind=kind,
            **({} if kind == "ca_dpo" else {"loss_type": loss_type}),
            **({"sft_weight": sft_weight} if sft_weight else {}),
            lora=lora,
            train=train,
            beta=dpo.beta,
            seed=seed,
            system=system,
            data=file_digest(data),
            start=model_stamp(start_model),
            reference=None if reference is None else file_digest(reference),
        ),
    )
    resume = ckpt.prepare()
    args = DPOConfig(
        **trainer_kwargs(train, work_dir, seed),
        beta=dpo.beta,
        precompute_ref_log_probs=False,
        max_length=None,
        **({} if kind == "ca_dpo" else {"loss_type": loss_type}),
    )
    cbs = [c for c in (live_callback(live_dir, checkpoint_step(resume)), *callbacks) if c is not None]
    trainer = (CADPOTrainer if kind == "ca_dpo" else PairDPOTrainer)(
        model=model,
        args=args,
        train_dataset=ds,
        processing_class=processor,
        peft_config=peft_config,
        callbacks=cbs,
        ref_cache=Path(work_dir) / REF_CACHE,
        ref_table=None if reference is None else read_json(reference),
        **({"sft_weight": sft_weight} if sft_weight else {}),
    )
    # the start model's P(refusal start) on the diagnostic rows: the reference (adapter off), on the
    # trainer's device and in the training dtype, before the first step
    start_before = trainer.refusal_start(fmt, diag_recs, refusals, reference=True)
    result, seconds = timed_train(trainer, resume, train)
    sub = trainer.train_dataset.select(diag)
    before = torch.tensor([[row[c] for c in REF_COLUMNS] for row in sub.select_columns(list(REF_COLUMNS))])
    after = trainer.policy_logps(sub.remove_columns(list(REF_COLUMNS)))
    start_after = trainer.refusal_start(fmt, diag_recs, refusals)
    diag_metrics = diagnostics(
        sub["bucket"], sub["conf"], before, after, start_before or [0.0] * len(diag), start_after or [0.0] * len(diag)
    )
    save_outputs(trainer, start_model, out_dir, dtype)
    hist = trainer.state.log_history
    metrics = summary(trainer, result, seconds, len(ds), resume)
    metrics.update(
        stage=name,
        kind=kind,
        **({} if kind == "ca_dpo" else {"loss_type": loss_type}),
        **({"sft_weight": sft_weight} if sft_weight else {}),
        seed=seed,
        diagnostics=diag_metrics,
        shared_reference=reference is not None,
        start_model=str(start_model),
        beta=dpo.beta,
        final_reward_accuracy=last_mean(hist, "rewards/accuracies"),
        final_reward_margin=last_mean(hist, "rewards/margins"),
        buckets=dict(sorted(Counter(ds["bucket"]).items())),
    )
    ckpt.finish()
    return metrics


def _texts(r: dict) -> list[str]:
    if "p1" in r:
        return [r["p1"]["chosen"], r["p1"]["rejected"], r["p2"]["chosen"], r["p2"]["rejected"]]
    return [r["chosen"], r["rejected"]]


def write_reference(
    data: str | Path,
    start_model: str | Path,
    out: str | Path,
    *,
    lora: Lora,
    train: Train,
    dpo: DPO,
    seed: int,
    system: str | None = None,
) -> dict:
    """The reference log-probs (the start model's) of every distinct sequence of the CA-DPO preference
    records ``data``, as the JSON table ``{qid: {rendered completion: log-prob}}`` that CA-DPO and every DPO
    variant of the same questions read (``train_preference(reference=...)``): one reference pass for all
    four preference trainings.  Returns its stats."""
    import tempfile
    import time

    from ..io import write_json

    t0 = time.time()
    check_launch(dpo.apply(train))
    model, processor = load_base(start_model, device=device(), dtype=train_dtype(train))
    ds = preference_dataset(data, PromptFormat(processor, system), "ca_dpo")
    if dpo.modules_to_save is not None:
        lora = lora.replace(modules_to_save=dpo.modules_to_save)
    with tempfile.TemporaryDirectory() as work:
        args = DPOConfig(
            **{**trainer_kwargs(dpo.apply(train), work, seed, resumable=False), "disable_tqdm": True},
            beta=dpo.beta,
            precompute_ref_log_probs=False,
            max_length=None,
        )
        trainer = CADPOTrainer(
            model=model,
            args=args,
            train_dataset=ds,
            processing_class=processor,
            peft_config=lora_config(lora, model),
            precompute_ref=False,
        )
        table = trainer.reference_table()  # gathered: every process holds the whole table
    if trainer.accelerator.is_main_process:
        write_json(out, table)
    trainer.accelerator.wait_for_everyone()
    return {
        "questions": len(table),
        "sequences": sum(len(v) for v in table.values()),
        "seconds": round(time.time() - t0, 2),
    }
