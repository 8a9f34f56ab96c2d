"""The training library (inbol.training): the CA-DPO loss of equation (6), the trainers on a tiny LLaVA,
LoRA placement, the precomputed reference log-probabilities, saving/merging, resume, seeds and bad inputs,
and the training stage scripts as dvc.yaml runs them."""

import json
import math
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml
from PIL import Image
from safetensors.torch import load_file
from transformers import TrainerCallback
from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

from helpers import ROOT, run_stage_in_process, run_stage_script, section, write_params
from inbol.errors import DataError, ParamError
from inbol.io import read_jsonl, write_jsonl
from inbol.models import PromptFormat, load_model
from inbol.models.pretrain import encode_example, n_image_tokens
from inbol.training import trl_compat
from inbol.training.ca_dpo import (
    REF_COLUMNS,
    CADPOCollator,
    CADPOTrainer,
    PairDPOTrainer,
    ca_dpo_loss,
    train_preference,
)
from inbol.training.data import preference_dataset, sft_dataset
from inbol.training.lora import lora_config
from inbol.training.runtime import CheckpointDir, hardware, trainer_kwargs
from inbol.training.sft import train_sft

REFUSAL, WRONG = "Sorry, I can not help with it.", "zebra"
LORA = section("lora", modules_to_save=[])  # plain LoRA: only adapter weights train
TRAIN = {"lr": 0.05, "batch_size": 4, "max_steps": 4, "save_steps": 2, "logging_steps": 1, "warmup_ratio": 0.0}
DPO = section("dpo", lr=None, epochs=None)  # params.yaml beta, lr/epochs inherited from train
SEED = 0


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_world, tiny_model):
    """Constructed IDK-IT, CA-DPO and plain-DPO records on the shared tiny world's 24 pool questions
    (Known/Unknown/Mixed in turn, image paths absolute) and the untrained tiny model as the start model."""
    root = tmp_path_factory.mktemp("train")
    pool = [{**r, "image": str(tiny_world["root"] / r["image"])} for r in read_jsonl(tiny_world["dir"] / "pool.jsonl")]
    idk, pref, dpo = [], [], []
    for i, r in enumerate(pool):
        bucket, ans = ("known", "unknown", "mixed")[i % 3], r["answers"][0]
        base = {"id": r["id"], "image": r["image"], "prompt": r["question"], "bucket": bucket, "origin": "vqa"}
        idk.append({**base, "completion": REFUSAL if bucket == "unknown" else ans})
        if bucket == "known":
            p1 = p2 = {"chosen": ans, "rejected": REFUSAL}
        elif bucket == "unknown":
            p1 = p2 = {"chosen": REFUSAL, "rejected": WRONG}
        else:
            p1, p2 = {"chosen": ans, "rejected": WRONG}, {"chosen": REFUSAL, "rejected": WRONG}
        pref.append({**base, "p1": dict(p1), "p2": dict(p2), "conf": (0.9, 0.1, 0.3)[i % 3]})
        dpo.append({**base, "chosen": p2["chosen"], "rejected": p2["rejected"], "weight": 1.0})
    data = root / "constructed"
    write_jsonl(data / "idk_it.jsonl", idk)
    write_jsonl(data / "preference.jsonl", pref)
    write_jsonl(data / "dpo_1.jsonl", dpo)
    return {"root": root, "base": tiny_model["dir"], "data": data, "pool": pool}


def train_params(**kw):
    return section("train", **{**TRAIN, **kw})


def dpo_trainer(
    world,
    work,
    data="preference.jsonl",
    kind="ca_dpo",
    steps=4,
    precompute=True,
    model_path=None,
    lora_params=None,
    **cfg,
) -> CADPOTrainer:
    model, proc = load_model(model_path or world["base"], device="cpu", dtype="float32")
    ds = preference_dataset(world["data"] / data, PromptFormat(proc), kind)
    args = DPOConfig(
        **{**trainer_kwargs(train_params(max_steps=steps), work, SEED, resumable=False), "disable_tqdm": True, **cfg},
        beta=0.1,
        precompute_ref_log_probs=False,
        max_length=None,
    )
    return CADPOTrainer(
        model=model,
        args=args,
        train_dataset=ds,
        processing_class=proc,
        peft_config=lora_config(lora_params or LORA, model),
        precompute_ref=precompute,
    )


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg and msg
    return msg


# ------------------------------------------------------------------------------------------------
# the loss of equation (6)
# ------------------------------------------------------------------------------------------------


def t(*xs):
    return torch.tensor(xs, dtype=torch.float64)


def test_ca_dpo_loss_matches_equation_6_by_hand():
    beta = 0.1
    # Known (conf 0.9, p1 = p2): D_w = -2 - (-3) = 1, D_l = -5 - (-4) = -1 -> z = 0.1 * 2 = 0.2
    #   loss = -(0.9 + 0.1) log sigma(0.2) = log(1 + e^-0.2) = 0.598138869...
    # Unknown (conf 0.1, p1 = p2): policy = reference -> z = 0 -> loss = log 2
    # Mixed (conf 0.3): p1 z1 = 0.1 * ((-4 + 5) - (-6 + 5)) = 0.2 ; p2 z2 = 0.1 * ((-8 + 6) - (-6 + 5)) = -0.1
    #   loss = -(0.3 log sigma(0.2) + 0.7 log sigma(-0.1)) = 0.3 * 0.598138869 + 0.7 * log(1 + e^0.1)
    #        = 0.179441661 + 0.7 * 0.744396660 = 0.700519323
    pw1, pl1, rw1, rl1 = t(-2, -1, -4), t(-5, -1, -6), t(-3, -1, -5), t(-4, -1, -5)
    pw2, pl2, rw2, rl2 = t(-2, -1, -8), t(-5, -1, -6), t(-3, -1, -6), t(-4, -1, -5)
    conf = t(0.9, 0.1, 0.3)
    loss, m = ca_dpo_loss(pw1, pl1, rw1, rl1, pw2, pl2, rw2, rl2, conf, beta)
    expected = [0.5981388694, 0.6931471806, 0.7005193229]
    assert m["loss"].tolist() == pytest.approx(expected, abs=1e-7)
    assert loss.item() == pytest.approx(sum(expected) / 3, abs=1e-7)
    # metrics of the Mixed row, weighted like the loss: chosen 0.1 (0.3 * 1 + 0.7 * -2) = -0.11,
    # rejected 0.1 (0.3 * -1 + 0.7 * -1) = -0.1, margin 0.3 * 0.2 + 0.7 * -0.1 = -0.01, accuracy 0.3 * 1 + 0.7 * 0
    assert m["rewards/chosen"][2].item() == pytest.approx(-0.11, abs=1e-7)
    assert m["rewards/rejected"][2].item() == pytest.approx(-0.1, abs=1e-7)
    assert m["rewards/margins"][2].item() == pytest.approx(-0.01, abs=1e-7)
    assert m["rewards/accuracies"].tolist() == pytest.approx([1.0, 0.0, 0.3])
    assert m["logps/chosen"][2].item() == pytest.approx(0.3 * -4 + 0.7 * -8)


def test_ca_dpo_loss_is_standard_dpo_when_conf_is_one():
    g = torch.Generator().manual_seed(0)
    pw, pl, rw, rl, junk = (torch.randn(8, generator=g) * 5 for _ in range(5))
    beta = 0.3
    loss, m = ca_dpo_loss(pw, pl, rw, rl, junk, junk * 2, junk * 3, junk, torch.ones(8), beta)
    dpo = -F.logsigmoid(beta * ((pw - rw) - (pl - rl)))
    assert loss.item() == pytest.approx(dpo.mean().item(), rel=1e-6)
    assert torch.allclose(m["rewards/chosen"], beta * (pw - rw))
    assert torch.allclose(m["rewards/rejected"], beta * (pl - rl))
    assert torch.equal(m["rewards/accuracies"], ((pw - rw) > (pl - rl)).float())
    # and p2 gets no gradient at conf = 1, p1 none at conf = 0
    x = [v.clone().requires_grad_() for v in (pw, pl, rw, rl, junk, junk, junk, junk)]
    ca_dpo_loss(*x, 1.0, beta)[0].backward()
    assert x[4].grad.abs().sum() == 0 and x[0].grad.abs().sum() > 0


# ------------------------------------------------------------------------------------------------
# data and collators
# ------------------------------------------------------------------------------------------------


def test_sft_labels_cover_only_the_completion(world):
    model, proc = load_model(world["base"], device="cpu")
    fmt = PromptFormat(proc)
    ds = sft_dataset(world["data"] / "idk_it.jsonl", fmt)
    args = SFTConfig(
        **{**trainer_kwargs(train_params(), world["root"] / "sft_collate", SEED, resumable=False)},
        completion_only_loss=True,
        max_length=None,
    )
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=ds, processing_class=proc, peft_config=lora_config(LORA, model)
    )
    rows = read_jsonl(world["data"] / "idk_it.jsonl")[:3]
    batch = trainer.data_collator([dict(ds[i]) for i in range(3)])
    for i, r in enumerate(rows):
        ids, labels = encode_example(
            fmt, r["prompt"], r["completion"], model.config.image_token_index, n_image_tokens(model)
        )
        n = len(ids)  # right padding after the example
        assert batch["input_ids"][i, :n].tolist() == ids and batch["labels"][i, :n].tolist() == labels
        assert (batch["labels"][i, n:] == -100).all()
        assert proc.tokenizer.decode([x for x in labels if x != -100]) == f" {r['completion']}</s>"
    assert batch["pixel_values"].shape[0] == 3


def test_prompts_use_the_chat_template(world):
    _, proc = load_model(world["base"], device="cpu")
    ds = preference_dataset(world["data"] / "preference.jsonl", PromptFormat(proc))
    r = read_jsonl(world["data"] / "preference.jsonl")[2]
    q = r["prompt"]
    # LLaVA-1.5's conversation format, with the BOS text in front (TRL's collators add no special tokens)
    assert ds[2]["prompt"] == f"<s>USER: <image>\n{q} ASSISTANT:"
    tok = proc.tokenizer
    assert (
        tok(ds[2]["prompt"], add_special_tokens=False)["input_ids"]
        == tok(PromptFormat(proc).prompt(q), add_special_tokens=True)["input_ids"]
    )
    assert ds[2]["w1"] == f" {r['p1']['chosen']}</s>" and ds[2]["w2"] == f" {REFUSAL}</s>"
    assert ds[2]["conf"] == pytest.approx(0.3)
    # a system sentence (prompt.system) goes before the conversation, the completions stay the same
    sys_ds = sft_dataset(world["data"] / "idk_it.jsonl", PromptFormat(proc, "Answer only what you know."))
    plain = sft_dataset(world["data"] / "idk_it.jsonl", PromptFormat(proc))
    assert sys_ds[2]["prompt"] == f"<s>Answer only what you know. USER: <image>\n{q} ASSISTANT:"
    assert (
        sys_ds[2]["completion"]
        == plain[2]["completion"]
        == f" {read_jsonl(world['data'] / 'idk_it.jsonl')[2]['completion']}</s>"
    )


def test_collator_deduplicates_completions(world):
    _, proc = load_model(world["base"], device="cpu")
    ds = preference_dataset(world["data"] / "preference.jsonl", PromptFormat(proc))
    rows = [dict(ds[i]) for i in (0, 1, 2)]  # known, unknown, mixed
    batch = CADPOCollator(proc)(rows)
    # Known and Unknown (p1 = p2): 2 sequences each; Mixed (l1 = l2 = incorrect): 3
    assert batch["input_ids"].shape[0] == 7 == batch["pixel_values"].shape[0]
    assert batch["pair_index"].tolist() == [[0, 1, 0, 1], [2, 3, 2, 3], [4, 5, 6, 5]]
    tok = proc.tokenizer
    for row, idx in zip(rows, batch["pair_index"].tolist()):
        for key, s in zip(("w1", "l1", "w2", "l2"), idx):
            comp = batch["input_ids"][s][batch["completion_mask"][s].bool()]
            assert tok.decode(comp) == row[key]
    assert batch["conf"].tolist() == pytest.approx([0.9, 0.1, 0.3])


# ------------------------------------------------------------------------------------------------
# the trainers
# ------------------------------------------------------------------------------------------------


def _set_lora_b(model, seed=0, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in sorted(model.named_parameters()):
            if "lora_B" in n:
                p.copy_(torch.randn(p.shape, generator=g) * scale)


def test_the_ca_dpo_loss_is_trls_loss_hook():
    assert getattr(CADPOTrainer, trl_compat.LOSS_HOOK) is CADPOTrainer.ca_dpo_step
    assert trl_compat.LOSS_HOOK in DPOTrainer.__dict__  # the hook CA-DPO replaces exists in this TRL
    # plain DPO and TRL's other pairwise losses (loss_type) run TRL's own hook, on a batch in TRL's layout
    assert getattr(PairDPOTrainer, trl_compat.LOSS_HOOK) is PairDPOTrainer.trl_dpo_step


def test_trainer_at_conf_one_equals_stock_trl_dpo(world, tmp_path):
    """Same pairs, same LoRA weights: the CA-DPO trainer at conf = 1 gives TRL DPOTrainer's loss and rewards."""
    ours = dpo_trainer(world, tmp_path / "a", data="dpo_1.jsonl", kind="dpo")
    model, proc = load_model(world["base"], device="cpu", dtype="float32")
    ds = preference_dataset(world["data"] / "dpo_1.jsonl", PromptFormat(proc), "dpo")
    stock_ds = ds.map(lambda r: {"chosen": r["w1"], "rejected": r["l1"]}).select_columns(
        ["image", "prompt", "chosen", "rejected"]
    )
    args = DPOConfig(
        **{**trainer_kwargs(train_params(), tmp_path / "b", SEED, resumable=False), "disable_tqdm": True},
        beta=0.1,
        precompute_ref_log_probs=False,
        max_length=None,
    )
    stock = DPOTrainer(
        model=model, args=args, train_dataset=stock_ds, processing_class=proc, peft_config=lora_config(LORA, model)
    )
    _set_lora_b(ours.model)
    _set_lora_b(stock.model)
    idx = [0, 1, 2, 3, 4, 5]
    with torch.no_grad():
        l_ours = ours.compute_loss(ours.model, ours.data_collator([dict(ours.train_dataset[i]) for i in idx]))
        l_stock = stock.compute_loss(stock.model, stock.data_collator([dict(stock_ds[i]) for i in idx]))
    assert abs(l_ours.item() - math.log(2)) > 1e-3  # the adapter moved the policy off the reference
    assert l_ours.item() == pytest.approx(l_stock.item(), abs=1e-5)
    ours.log({})  # the metrics of that one batch, as TRL logs them
    stock.log({})
    logged_ours, logged_stock = ours.state.log_history[-1], stock.state.log_history[-1]
    for k in ("rewards/chosen", "rewards/rejected", "rewards/margins", "logps/chosen", "logps/rejected"):
        assert logged_ours[k] == pytest.approx(logged_stock[k], abs=1e-4), k


def test_the_nll_term_is_the_chosen_responses_nll_per_answer_token(world, tmp_path):
    """``sft_weight`` alpha adds alpha x the conf-weighted NLL per answer token of the chosen responses
    (computed here from the plain forward's logits); 0 leaves equation (6)'s loss as it was."""
    trainer = dpo_trainer(world, tmp_path)
    _set_lora_b(trainer.model)
    trainer.model.eval()  # no LoRA dropout: the same forward twice
    batch = trainer.data_collator([dict(trainer.train_dataset[i]) for i in (0, 1, 2)])  # Known, Unknown, Mixed
    with torch.no_grad():
        base = trainer.compute_loss(trainer.model, batch)
        trainer.sft_weight = 0.0
        assert torch.equal(trainer.compute_loss(trainer.model, batch), base)
        trainer.sft_weight = 0.5
        with_nll = trainer.compute_loss(trainer.model, batch)
        logits = trainer.model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], pixel_values=batch["pixel_values"]
        ).logits.float()
        lp = torch.log_softmax(logits[:, :-1], -1).gather(-1, batch["input_ids"][:, 1:, None]).squeeze(-1)
        mask = batch["completion_mask"][:, 1:].float()
        seq, n, idx, c = (lp * mask).sum(1), mask.sum(1), batch["pair_index"], batch["conf"]
        nll = -(c * seq[idx[:, 0]] + (1 - c) * seq[idx[:, 2]]).sum() / (c * n[idx[:, 0]] + (1 - c) * n[idx[:, 2]]).sum()
    assert nll.item() > 0.1
    assert (with_nll - base).item() == pytest.approx(0.5 * nll.item(), rel=1e-4)


def test_training_updates_only_lora_and_keeps_reference_columns(world, tmp_path):
    trainer = dpo_trainer(world, tmp_path)
    peft_model = trainer.model
    lora_names = [n for n, _ in peft_model.named_modules() if n.endswith("lora_A")]
    assert lora_names and all(".language_model." in n for n in lora_names)  # not vision, not projector
    assert {n for n, p in peft_model.named_parameters() if p.requires_grad} == {
        n for n, _ in peft_model.named_parameters() if "lora_" in n
    }
    before = {n: p.detach().clone() for n, p in peft_model.named_parameters()}
    ref_before = torch.tensor([trainer.train_dataset[c] for c in REF_COLUMNS]).T
    assert ref_before.shape == (24, 4) and torch.isfinite(ref_before).all() and (ref_before < 0).all()

    trainer.train()

    changed = {n for n, p in peft_model.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all("lora_" in n for n in changed)
    assert any("lora_B" in n for n in changed)
    ref_after = torch.tensor([trainer.train_dataset[c] for c in REF_COLUMNS]).T
    assert torch.equal(ref_before, ref_after)
    fresh = trainer.compute_reference(trainer.train_dataset)  # adapter disabled, no grad
    assert torch.allclose(fresh, ref_after, atol=1e-4)
    batch = trainer.data_collator([dict(trainer.train_dataset[i]) for i in range(4)])
    with torch.no_grad():
        policy, _ = trainer.sequence_logps(peft_model, batch)
    assert not torch.allclose(policy[batch["pair_index"]], ref_after[:4], atol=1e-3)  # the policy did move
    logged = [h for h in trainer.state.log_history if "rewards/accuracies" in h]
    assert logged and logged[0]["loss"] == pytest.approx(math.log(2), abs=1e-4)  # step 1: policy = reference
    assert all(k in logged[-1] for k in ("rewards/chosen", "rewards/rejected", "rewards/margins"))


# ------------------------------------------------------------------------------------------------
# the stage functions: outputs, merge, resume
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def idk_run(world):
    out = world["root"] / "idk_it"
    out.mkdir()
    metrics = train_sft(
        world["data"] / "idk_it.jsonl",
        world["base"],
        out,
        lora=LORA,
        train=train_params(),
        seed=SEED,
        work_dir=world["root"] / "ckpt" / "idk_it",
        live_dir=world["root"] / "live" / "idk_it",
    )
    return out, metrics


def test_train_sft_writes_adapter_merged_model_metrics_and_curves(world, idk_run):
    out, m = idk_run
    assert m["steps"] == 4 and m["examples"] == 24 and m["final_loss"] is not None and m["resumed_from_step"] == 0
    assert m["buckets"] == {"known": 8, "mixed": 8, "unknown": 8} and m["device"] == hardware()["device"]
    assert m["seed"] == SEED and m["stage"] == "idk_it" and m["start_model"] == str(world["base"])
    assert (out / "adapter" / "adapter_config.json").is_file() and (out / "config.json").is_file()
    assert not (world["root"] / "ckpt" / "idk_it").exists()  # finished: no stale checkpoint
    loss = (world["root"] / "live" / "idk_it" / "plots" / "metrics" / "loss.tsv").read_text().splitlines()
    assert loss[0] == "step\tloss" and [ln.split("\t")[0] for ln in loss[1:]] == ["1", "2", "3", "4"]


def test_merged_model_equals_peft_model_and_only_the_language_model_changed(world, idk_run):
    from peft import PeftModel

    out, _ = idk_run
    merged, proc = load_model(out, device="cpu")
    base, _ = load_model(world["base"], device="cpu")
    peft = PeftModel.from_pretrained(load_model(world["base"], device="cpu")[0], str(out / "adapter")).eval()
    recs = world["pool"][:3]
    fmt = PromptFormat(proc)
    batch = proc(
        images=[Image.open(r["image"]) for r in recs],
        text=[fmt.prompt(r["question"]) for r in recs],
        return_tensors="pt",
        padding=True,
    )
    with torch.no_grad():
        lm, lp, lb = merged(**batch).logits, peft(**batch).logits, base(**batch).logits
    assert torch.allclose(lm, lp, atol=1e-5) and not torch.allclose(lm, lb, atol=1e-3)
    sb, sm = base.state_dict(), merged.state_dict()
    differ = {k for k in sb if not torch.equal(sb[k], sm[k])}
    assert differ and all(".language_model." in k and k.rsplit(".", 2)[-2] in LORA.target_modules for k in differ)


class Kill(TrainerCallback):
    def on_step_end(self, args, state, control, **kw):
        if state.global_step == 3:
            raise KeyboardInterrupt("killed")


def test_killed_training_resumes_from_its_last_checkpoint(world, idk_run):
    out_full, _ = idk_run
    work, out = world["root"] / "ckpt" / "idk_resume", world["root"] / "idk_resume"
    kw = dict(lora=LORA, train=train_params(), seed=SEED, work_dir=work, live_dir=world["root"] / "live" / "idk_resume")
    with pytest.raises(KeyboardInterrupt):
        train_sft(world["data"] / "idk_it.jsonl", world["base"], out, callbacks=[Kill()], **kw)
    assert (work / "checkpoint-2").is_dir()
    m = train_sft(world["data"] / "idk_it.jsonl", world["base"], out, **kw)
    assert m["resumed_from_step"] == 2 and m["steps"] == 4
    a = load_file(out_full / "adapter" / "adapter_model.safetensors")
    b = load_file(out / "adapter" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)  # = uninterrupted run
    steps = (world["root"] / "live" / "idk_resume" / "plots" / "metrics" / "loss.tsv").read_text().split("\n")[1:]
    assert [s.split("\t")[0] for s in steps if s] == ["1", "2", "3", "4"]  # no duplicated step 3


def test_a_stale_checkpoint_is_never_resumed(tmp_path):
    ck = CheckpointDir(tmp_path / "w", {"a": 1})
    assert ck.prepare() is None
    (tmp_path / "w" / "checkpoint-2").mkdir()
    assert CheckpointDir(tmp_path / "w", {"a": 1}).prepare().endswith("checkpoint-2")
    assert CheckpointDir(tmp_path / "w", {"a": 2}).prepare() is None  # params/data/model changed
    assert not (tmp_path / "w" / "checkpoint-2").exists()


def test_train_preference_from_the_idk_model(world, idk_run):
    out = world["root"] / "ca_dpo"
    out.mkdir()
    m = train_preference(
        world["data"] / "preference.jsonl",
        idk_run[0],
        out,
        kind="ca_dpo",
        lora=LORA,
        train=train_params(),
        dpo=DPO,
        seed=SEED,
        work_dir=world["root"] / "ckpt" / "ca_dpo",
        live_dir=world["root"] / "live" / "ca_dpo",
    )
    assert m["steps"] == 4 and 0.0 <= m["final_reward_accuracy"] <= 1.0 and m["beta"] == DPO.beta
    assert m["seed"] == SEED and m["kind"] == "ca_dpo" and m["buckets"] == {"known": 8, "mixed": 8, "unknown": 8}
    assert (out / "adapter" / "adapter_config.json").is_file()
    cfg = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == str(idk_run[0]) and cfg["r"] == 16 and cfg["lora_alpha"] == 32
    assert (world["root"] / "live" / "ca_dpo" / "plots" / "metrics" / "rewards" / "accuracies.tsv").is_file()


def test_one_shared_reference_pass_serves_ca_dpo_and_every_dpo_variant(world, idk_run, tmp_path):
    """write_reference's table (one pass over the CA-DPO records) gives exactly the log-probs each trainer would
    compute for itself, for CA-DPO and for a DPO variant of the same questions; training with it logs the
    same reward accuracies, and the diagnostics cover every bucket."""
    from inbol.training.ca_dpo import with_reference_table, write_reference

    table_path = tmp_path / "reference.json"
    stats = write_reference(
        world["data"] / "preference.jsonl", idk_run[0], table_path, lora=LORA, train=train_params(), dpo=DPO, seed=SEED
    )
    table = json.loads(table_path.read_text())
    assert stats["questions"] == 24 and stats["sequences"] == len({(q, c) for q, v in table.items() for c in v})
    for data, kind in (("preference.jsonl", "ca_dpo"), ("dpo_1.jsonl", "dpo")):
        own = dpo_trainer(world, tmp_path / kind, data=data, kind=kind, model_path=idk_run[0]).train_dataset
        shared = with_reference_table(own.remove_columns(list(REF_COLUMNS)), table)
        for c in REF_COLUMNS:
            assert shared[c] == pytest.approx(own[c], abs=1e-5), (kind, c)
    runs = {}
    for ref in (None, table_path):
        out = tmp_path / f"out-{ref is None}"
        runs[ref is None] = train_preference(
            world["data"] / "preference.jsonl",
            idk_run[0],
            out,
            kind="ca_dpo",
            lora=LORA,
            train=train_params(),
            dpo=DPO,
            seed=SEED,
            reference=ref,
            work_dir=tmp_path / f"ckpt-{ref is None}",
        )
    assert runs[True]["final_reward_accuracy"] == pytest.approx(runs[False]["final_reward_accuracy"], abs=1e-6)
    assert runs[False]["shared_reference"] and not runs[True]["shared_reference"]
    diag = runs[False]["diagnostics"]
    assert set(diag) == {"known", "mixed", "unknown"} and sum(d["n"] for d in diag.values()) == 24
    for d in diag.values():
        assert d["chosen_before"] < 0 and 0.0 <= d["p_refusal_start_after"] <= 1.0


def test_a_missing_reference_entry_is_a_one_line_error(world, idk_run, tmp_path):
    from inbol.training.ca_dpo import with_reference_table

    ds = dpo_trainer(world, tmp_path / "a", precompute=False).train_dataset
    with pytest.raises(DataError, match="reference table: no log-prob for row"):
        with_reference_table(ds, {})


def test_the_adapter_off_reference_uses_the_original_lm_head(world, tmp_path):
    """With lm_head in modules_to_save, training changes a copy of the LM head; the reference (the policy
    with its adapter disabled) must still compute with the original head."""
    lora = section("lora", modules_to_save=["lm_head"])
    trainer = dpo_trainer(world, tmp_path / "w", precompute=False, lora_params=lora)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    ref_before = trainer.reference_logps(batch)
    model = trainer.accelerator.unwrap_model(trainer.model)
    copies = [m for n, m in model.named_modules() if n.endswith("lm_head.modules_to_save.default")]
    assert copies, "lm_head is not wrapped by modules_to_save"
    with torch.no_grad():
        copies[0].weight.mul_(0.0)  # the trained copy: now very different from the original
    policy = trainer.sequence_logps(trainer.model, batch)[0][batch["pair_index"]]
    assert not torch.allclose(policy, ref_before)  # the policy uses the (changed) copy ...
    assert torch.allclose(trainer.reference_logps(batch), ref_before)  # ... the reference the original head


def test_dpo_modules_to_save_overrides_lora(world, idk_run, tmp_path):
    out = tmp_path / "o"
    train_preference(
        world["data"] / "dpo_1.jsonl",
        idk_run[0],
        out,
        kind="dpo",
        lora=section("lora"),
        train=train_params(max_steps=1),
        dpo=DPO.replace(modules_to_save=[]),
        seed=SEED,
        work_dir=tmp_path / "ck",
    )
    cfg = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert not cfg.get("modules_to_save")


# ------------------------------------------------------------------------------------------------
# bad inputs: one line, before any training
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("train", {"lr": 0.0}, "train.lr = 0.0: must be in (0, 1]"),
        ("train", {"batch_size": 16, "grad_accum": 3}, "train.grad_accum = 3: must divide train.batch_size (16)"),
        ("train", {"max_steps": 0}, "train.max_steps = 0: must be null or an integer >= 1"),
        ("train", {"scheduler": "cosine_warm"}, "train.scheduler = 'cosine_warm': must be one of"),
        ("train", {"seed": 0}, "train.seed = 0: unknown key"),  # seeds are arguments now
        ("lora", {"r": 0}, "lora.r = 0: must be an integer >= 1"),
        ("lora", {"target_modules": []}, "lora.target_modules = []"),
        ("lora", {"dropout": 1.0}, "lora.dropout = 1.0: must be in [0, 1)"),
        ("dpo", {"beta": 0}, "dpo.beta = 0: must be > 0"),
        ("dpo", {"gamma": 1}, "dpo.gamma = 1: unknown key"),
    ],
)
def test_bad_params_are_one_line_errors(name, value, message):
    with pytest.raises(ParamError) as e:
        section(name, **value)
    assert one_line(e).startswith(message)


def test_per_device_batch_must_divide():
    tp = section("train", batch_size=16, grad_accum=2)
    assert tp.per_device_batch(2) == 4
    with pytest.raises(ParamError, match=r"^train.batch_size = 16: must be a multiple of grad_accum x processes"):
        tp.per_device_batch(3)


def test_bad_inputs_fail_before_training(world, tmp_path):
    kw = dict(lora=LORA, train=train_params(), seed=SEED, work_dir=tmp_path / "w")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(DataError) as e:
        train_sft(empty, world["base"], tmp_path / "o", **kw)
    assert "no examples" in one_line(e)
    with pytest.raises(DataError) as e:
        train_sft(world["data"] / "idk_it.jsonl", tmp_path / "no-model", tmp_path / "o", **kw)
    assert one_line(e).startswith("cannot load model from")
    bad_lora = LORA.replace(target_modules=["q_proj", "qkv"])
    with pytest.raises(ParamError) as e:
        train_sft(world["data"] / "idk_it.jsonl", world["base"], tmp_path / "o", **{**kw, "lora": bad_lora})
    assert one_line(e).startswith("lora.target_modules = ['q_proj', 'qkv']: 'qkv' matches no linear layer")
    vision_only = LORA.replace(target_modules=["out_proj"])  # CLIP's, not the LM's
    with pytest.raises(ParamError, match="'out_proj' matches no linear layer of the language model"):
        train_sft(world["data"] / "idk_it.jsonl", world["base"], tmp_path / "o", **{**kw, "lora": vision_only})
    assert not (tmp_path / "w").exists() and not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "record, kind, message",
    [
        (
            {"id": "x", "image": "IMG", "prompt": "q", "p1": {"chosen": "a", "rejected": "b"}},
            "ca_dpo",
            "lacks field 'p2'",
        ),
        (
            {
                "id": "x",
                "image": "IMG",
                "prompt": "q",
                "p1": {"chosen": "a", "rejected": "b"},
                "p2": {"chosen": "a", "rejected": "b"},
                "conf": 1.5,
            },
            "ca_dpo",
            "must be in [0, 1]",
        ),
        (
            {"id": "x", "image": "IMG", "prompt": "q", "chosen": "a", "rejected": "b", "weight": 0.5},
            "dpo",
            "plain-DPO rows must have weight 1",
        ),
        ({"id": "x", "image": "missing.png", "prompt": "q", "chosen": "a", "rejected": "b"}, "dpo", "not found"),
    ],
)
def test_bad_records_are_one_line_errors(world, tmp_path, record, kind, message):
    _, proc = load_model(world["base"], device="cpu")
    if record["image"] == "IMG":
        record = {**record, "image": world["pool"][0]["image"]}
    write_jsonl(tmp_path / "d.jsonl", [record])
    with pytest.raises(DataError) as e:
        preference_dataset(tmp_path / "d.jsonl", PromptFormat(proc), kind)
    assert message in one_line(e)


def test_precision_and_device_follow_the_hardware(tmp_path):
    kw = trainer_kwargs(train_params(), tmp_path, SEED)
    if torch.cuda.is_available():
        assert not kw["use_cpu"] and kw["bf16"] == torch.cuda.is_bf16_supported()
    else:
        assert kw["use_cpu"] and not kw["bf16"] and not kw["fp16"]


def test_the_seed_is_an_argument_of_the_trainer_config(tmp_path):
    for seed in (0, 7):
        kw = trainer_kwargs(train_params(), tmp_path, seed)
        assert kw["seed"] == kw["data_seed"] == seed
    assert trainer_kwargs(train_params(), tmp_path, 0, resumable=False)["save_strategy"] == "no"


def dvc_stage_argv(stage: str, **items) -> list[str]:
    """The arguments of a training stage's ``cmd`` in dvc.yaml (``accelerate launch ... stages/X.py``: from the
    script on), with the
    foreach/matrix items filled in (``item=0`` for ``${item}``, ``method="ca_dpo"`` for ``${item.method}``)."""
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][stage]
    cmd = (spec.get("do") or spec)["cmd"]
    for k, v in items.items():
        cmd = cmd.replace("${item}" if k == "item" else f"${{item.{k}}}", str(v))
    argv = shlex.split(cmd.replace("${train.launcher}", "configs/accelerate/single.yaml"))
    assert argv[:5] == ["accelerate", "launch", "-q", "--config_file", "configs/accelerate/single.yaml"], cmd
    assert argv[5].startswith("stages/") and "${" not in cmd.replace("${train.launcher}", ""), cmd
    return argv[5:]


def _with_option(argv: list[str], option: str, value: str) -> list[str]:
    out = list(argv)
    out[out.index(option) + 1] = value
    return out


@pytest.mark.e2e
def test_training_stages_reject_an_unknown_method_or_one_of_another_kind(capsys):
    """The dvc.yaml command with a --method outside the registry, or of the other stage's kind: exit 2 and one
    line, before params.yaml is read."""
    from inbol.methods.spec import names

    for argv, message in [
        (
            _with_option(dvc_stage_argv("train_preference", method="dpo_1", seed=0), "--method", "dpo4"),
            "error: method 'dpo4': not in the method registry (src/inbol/methods/<name>.py); allowed: "
            + ", ".join(names()),
        ),
        (
            _with_option(dvc_stage_argv("train_sft", method="idk_it", seed=0), "--method", "ca_dpo"),
            "error: --method 'ca_dpo': a preference method; this stage trains kind sft (models.from_base)",
        ),
        (
            _with_option(dvc_stage_argv("train_preference", method="dpo_1", seed=0), "--method", "sft"),
            "error: --method 'sft': a sft method; this stage trains kind preference (models.from_idk_it)",
        ),
    ]:
        with pytest.raises(SystemExit) as stop:  # in this process: no second torch import per case
            run_stage_in_process(argv)
        assert stop.value.code == 2
        assert capsys.readouterr().err.strip().splitlines()[-1] == message


@pytest.mark.e2e
def test_stage_scripts_train_and_write_their_outputs(world, tmp_path):
    """train_sft@idk_it-1, reference@1 then train_preference@dpo_1-1 as dvc.yaml runs them (repository root = cwd), on seed 1."""
    (tmp_path / "stages").symlink_to(ROOT / "stages", target_is_directory=True)
    (tmp_path / "configs").symlink_to(ROOT / "configs", target_is_directory=True)
    shutil.copytree(world["base"], tmp_path / "models" / "base")
    shutil.copytree(world["data"], tmp_path / "data" / "constructed" / "s1")
    write_params(
        tmp_path,
        lora={"r": 4, "alpha": 8, "dropout": 0.0, "modules_to_save": []},
        train={**TRAIN, "max_steps": 2},
        dpo={"beta": 0.2, "lr": None, "epochs": None},
    )
    for argv in (
        dvc_stage_argv("train_sft", method="idk_it", seed=1),
        dvc_stage_argv("reference", item=1),
        dvc_stage_argv("train_preference", method="dpo_1", seed=1),
    ):
        proc = run_stage_script(tmp_path, argv[0].removeprefix("stages/"), *argv[1:])
        assert proc.returncode == 0, proc.stderr[-2000:]
    for name in ("idk_it", "dpo_1"):
        m = json.loads((tmp_path / "metrics" / "train" / f"{name}-s1.json").read_text())
        assert m["steps"] == 2 and m["stage"] == name and m["seed"] == 1
        assert (tmp_path / "models" / name / "s1" / "model.safetensors").is_file()
        assert json.loads((tmp_path / "models" / name / "s1" / "adapter" / "adapter_config.json").read_text())["r"] == 4
        assert (tmp_path / "dvclive" / name / "s1" / "plots" / "metrics" / "loss.tsv").is_file()
        assert not (tmp_path / "models" / ".ckpt" / name / "s1").exists()
    assert m["final_reward_accuracy"] is not None and m["beta"] == 0.2 and m["start_model"] == "models/idk_it/s1"
    assert m["kind"] == "dpo" and m["loss_type"] == "sigmoid"  # dpo_1's spec: TRL's sigmoid loss
    assert not [p for p in (tmp_path / "models").rglob("*") if p.name.endswith(".tmp")]


# ------------------------------------------------------------------------------------------------
# processes and devices: no silent nn.DataParallel, the launcher config agrees with the GPUs
# ------------------------------------------------------------------------------------------------


def _gpus(monkeypatch, n: int) -> None:
    """Make this process see ``n`` CUDA devices (nothing is ever placed on them: the checks stop first)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: n)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)


@pytest.mark.parametrize("train_fn", ["sft", "ca_dpo"])
def test_one_process_on_several_gpus_refuses_before_any_work(world, tmp_path, monkeypatch, train_fn):
    """One process that sees 8 GPUs would be wrapped by the Trainer in nn.DataParallel (batch x8, 8x fewer
    steps): the training call stops with one line before it loads anything or writes anything."""
    _gpus(monkeypatch, 8)
    out, work = tmp_path / "out", tmp_path / "work"
    kw = dict(lora=LORA, train=train_params(), seed=SEED, work_dir=work)
    with pytest.raises(ParamError) as e:
        if train_fn == "sft":
            train_sft(world["data"] / "idk_it.jsonl", world["base"], out, **kw)
        else:
            train_preference(world["data"] / "preference.jsonl", world["base"], out, kind="ca_dpo", dpo=DPO, **kw)
    assert "nn.DataParallel" in one_line(e) and "8 GPUs" in one_line(e)
    assert not out.exists() and not work.exists()


def test_the_global_batch_is_the_params_batch_whatever_the_process_count():
    from types import SimpleNamespace

    from inbol.training.runtime import check_global_batch, launch_error

    tr = train_params(batch_size=16, grad_accum=2)
    assert tr.per_device_batch(1) == 8 and tr.per_device_batch(2) == 4 and tr.per_device_batch(8) == 1
    with pytest.raises(ParamError) as e:
        tr.per_device_batch(3)
    assert one_line(e) == "train.batch_size = 16: must be a multiple of grad_accum x processes (2 x 3)"
    # a trainer whose batch per process covers 8 GPUs (nn.DataParallel) is refused before training
    dp = SimpleNamespace(args=SimpleNamespace(train_batch_size=64, gradient_accumulation_steps=2))
    with pytest.raises(ParamError) as e:
        check_global_batch(dp, tr)
    assert "global batch of 128" in one_line(e)
    check_global_batch(SimpleNamespace(args=SimpleNamespace(train_batch_size=8, gradient_accumulation_steps=2)), tr)
    assert launch_error(1, 0) is None and launch_error(2, 0) is None and launch_error(8, 8) is None
    assert launch_error(1, 1) is None and "DataParallel" in launch_error(1, 2) and "4 visible" in launch_error(8, 4)


@pytest.mark.parametrize(
    "config, gpus, message",
    [
        ("single.yaml", 8, "one training process sees 8 GPUs"),
        ("multi_gpu.yaml", 0, "4 GPU processes (MULTI_GPU) but no GPU is visible"),
        ("multi_gpu.yaml", 8, "4 training processes but 8 visible GPU(s)"),
        ("multi_gpu.yaml", 4, "says num_processes: 4 but 1 process(es) run"),
        ("missing.yaml", 0, "not a readable accelerate config"),
    ],
)
def test_a_launcher_config_that_disagrees_with_the_gpus_is_a_one_line_error(monkeypatch, config, gpus, message):
    from inbol.training.runtime import check_launcher

    _gpus(monkeypatch, gpus)
    with pytest.raises(ParamError) as e:
        check_launcher(ROOT / "configs" / "accelerate" / config)
    assert message in one_line(e) and one_line(e).startswith("train.launcher = ")


def test_the_single_process_launcher_passes_on_this_machine(monkeypatch):
    from inbol.training.runtime import check_launcher

    _gpus(monkeypatch, 1)
    assert check_launcher(ROOT / "configs" / "accelerate" / "single.yaml")["num_processes"] == 1
    monkeypatch.undo()
    if not torch.cuda.is_available():
        check_launcher(ROOT / "configs" / "accelerate" / "single.yaml")


def test_training_stages_are_launched_by_dvc_through_the_configured_accelerate_config():
    """Every training stage's dvc.yaml command is `accelerate launch` with train.launcher; the embedded
    default names the one-process config, the 7B profile the multi-GPU one; both files exist."""
    from inbol.profiles import compose

    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    scripts = {"train_sft.py", "train_preference.py", "train_rl.py", "reference.py", "sweep_cell.py", "sweep_idk_it.py"}
    launched = set()
    for spec in stages.values():
        cmd = (spec.get("do") or spec)["cmd"]
        script = cmd.split("stages/", 1)[1].split()[0]
        if script in scripts:
            assert cmd.startswith("accelerate launch -q --config_file ${train.launcher} stages/"), cmd
            launched.add(script)
        else:
            assert "accelerate" not in cmd, cmd
    assert launched == scripts
    default = yaml.safe_load((ROOT / "params.yaml").read_text())["train"]["launcher"]
    paper = compose(ROOT / "configs" / "llava-1.5-7b.yaml")["train"]
    assert default == "configs/accelerate/single.yaml" and paper["launcher"] == "configs/accelerate/multi_gpu.yaml"
    assert paper["dtype"] == "bfloat16"
    for name in (default, paper["launcher"]):
        assert (ROOT / name).is_file()


def test_docs_and_accelerate_configs_name_only_existing_stage_scripts():
    import re

    files = [*(ROOT / "configs" / "accelerate").glob("*.yaml"), *(ROOT / "docs").glob("*.md"), ROOT / "README.md"]
    named = {(f.name, m) for f in files for m in re.findall(r"stages/[\w/]+\.py", f.read_text())}
    assert named and not {(f, m) for f, m in named if not (ROOT / m).is_file()}


def _train_repo(root, world, launcher: dict | None) -> Path:
    """A project folder (stages, configs, the tiny base model, seed 0's constructed data) whose params name
    ``launcher`` (written to launch.yaml) or the shipped one-process config."""
    root.mkdir()
    (root / "stages").symlink_to(ROOT / "stages", target_is_directory=True)
    (root / "configs").symlink_to(ROOT / "configs", target_is_directory=True)
    shutil.copytree(world["base"], root / "models" / "base")
    shutil.copytree(world["data"], root / "data" / "constructed" / "s0")
    if launcher:
        (root / "launch.yaml").write_text(yaml.safe_dump(launcher))
    write_params(
        root,
        lora={"r": 4, "alpha": 8, "dropout": 0.0, "modules_to_save": []},
        train={
            **TRAIN,
            "max_steps": None,
            "epochs": 1,
            "lr": 0.01,
            "save_steps": 100,
            "launcher": "launch.yaml" if launcher else "configs/accelerate/single.yaml",
        },
        dpo={"beta": 0.1, "lr": None, "epochs": None},
    )
    return root


def _curve(repo, name) -> list[float]:
    lines = (repo / "dvclive" / name / "s0" / "plots" / "metrics" / "loss.tsv").read_text().splitlines()[1:]
    return [float(ln.split("\t")[1]) for ln in lines]


def _outputs(repo) -> set[str]:
    return {str(p.relative_to(repo)) for d in ("models", "data", "metrics", "dvclive") for p in (repo / d).rglob("*")}


@pytest.mark.e2e
def test_two_gloo_processes_train_like_one_with_the_same_global_batch(world, tmp_path):
    """train_sft@idk_it-0, reference@0 and train_preference@ca_dpo-0 as dvc.yaml runs them (accelerate launch, one process)
    and the same stages under 2 CPU processes (torchrun, gloo) with the same global batch of 4 (2 per
    process): the same steps, loss curves, reference log-probs and merged weights within 1e-4, and the same
    output files, written once (only rank 0 writes)."""
    one = _train_repo(tmp_path / "one", world, None)
    two = _train_repo(tmp_path / "two", world, {"distributed_type": "MULTI_CPU", "num_processes": 2, "use_cpu": True})
    stages = [
        dvc_stage_argv("train_sft", method="idk_it", seed=0),
        dvc_stage_argv("reference", item=0),
        dvc_stage_argv("train_preference", method="ca_dpo", seed=0),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    for argv in stages:
        launch = ["accelerate", "launch", "-q", "--config_file", "configs/accelerate/single.yaml"]
        p1 = subprocess.run([*launch, *argv], cwd=one, env=env, capture_output=True, text=True, timeout=300)
        assert p1.returncode == 0, p1.stderr[-3000:]
        # torchrun would read the stage's own options (--start ...) as abbreviations of its own: the argv
        # reaches the script through the environment
        torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m"]
        env2 = {
            **env,
            "STAGE_ARGV": json.dumps(argv),
            "PYTHONPATH": f"{ROOT / 'tests'}{os.pathsep}{env.get('PYTHONPATH', '')}",
        }
        p2 = subprocess.run([*torchrun, "stage_argv"], cwd=two, env=env2, capture_output=True, text=True, timeout=300)
        assert p2.returncode == 0, p2.stderr[-3000:]
    assert _outputs(one) == _outputs(two)
    assert not [p for p in two.rglob("*") if p.name.endswith(".tmp") or p.name.startswith("tmp")]
    worst = {}
    for name in ("idk_it", "ca_dpo"):
        m1, m2 = (json.loads((r / "metrics" / "train" / f"{name}-s0.json").read_text()) for r in (one, two))
        assert m1["steps"] == m2["steps"] == 6 and m1["effective_batch_size"] == m2["effective_batch_size"] == 4
        assert (m1["processes"], m2["processes"]) == (1, 2)
        c1, c2 = _curve(one, name), _curve(two, name)
        assert len(c1) == len(c2) == 6
        worst[f"{name} loss"] = max(abs(a - b) for a, b in zip(c1, c2))
        w1, w2 = (load_file(r / "models" / name / "s0" / "model.safetensors") for r in (one, two))
        worst[f"{name} weights"] = max((w1[k] - w2[k]).abs().max().item() for k in w1)
    r1, r2 = (json.loads((r / "data" / "reference" / "s0.json").read_text()) for r in (one, two))
    worst["reference"] = max(abs(r1[q][c] - r2[q][c]) for q in r1 for c in r1[q])
    print("1 vs 2 processes, max abs difference:", {k: f"{v:.2e}" for k, v in worst.items()})
    assert all(v <= 1e-4 for v in worst.values()), worst


class Dtypes(TrainerCallback):
    """The dtypes of the frozen and the trainable parameters as training starts."""

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.frozen = {p.dtype for p in model.parameters() if not p.requires_grad}
        self.trainable = {p.dtype for p in model.parameters() if p.requires_grad}


def test_bf16_from_load_to_save_with_adapters_always_saved(world, tmp_path):
    """train.dtype bfloat16 (the 7B profile's), here on the CPU: the frozen weights are bf16 while training
    (no fp32 copy), PEFT's LoRA weights fp32, the adapter is saved and the merged model is saved in bf16;
    for IDK-IT and for CA-DPO from it."""
    tr = train_params(max_steps=2, dtype="bfloat16")
    seen = {}
    for name in ("idk_it", "ca_dpo"):
        cb, out = Dtypes(), tmp_path / name
        kw = dict(lora=LORA, train=tr, seed=SEED, work_dir=tmp_path / "work" / name, callbacks=[cb])
        if name == "idk_it":
            m = train_sft(world["data"] / "idk_it.jsonl", world["base"], out, **kw)
        else:
            m = train_preference(
                world["data"] / "preference.jsonl", tmp_path / "idk_it", out, kind="ca_dpo", dpo=DPO, **kw
            )
        assert m["steps"] == 2 and math.isfinite(m["train_loss"])
        assert cb.frozen == {torch.bfloat16} and cb.trainable == {torch.float32}, (cb.frozen, cb.trainable)
        adapter = load_file(out / "adapter" / "adapter_model.safetensors")
        assert adapter and all("lora_" in k and t.dtype == torch.float32 for k, t in adapter.items())
        merged = load_file(out / "model.safetensors")
        seen[name] = {t.dtype for t in merged.values()}
        assert json.loads((out / "config.json").read_text())["text_config"]["dtype"] == "bfloat16"
    assert seen == {"idk_it": {torch.bfloat16}, "ca_dpo": {torch.bfloat16}}


def test_preference_diagnostics_run_on_the_trainers_model_in_the_training_dtype(world, tmp_path, monkeypatch):
    """The P(refusal start) diagnostics (up to 300 forward passes) use the trainer's model, on its device and
    in train.dtype, batched; never a separate fp32 copy on the CPU before the trainer exists."""
    from peft import PeftModel

    import inbol.training.ca_dpo as ca_dpo

    seen, real = [], ca_dpo.refusal_start_probability

    def spy(model, *args, **kwargs):
        base = {p.dtype for n, p in model.named_parameters() if "lora_" not in n}  # the frozen weights
        seen.append((isinstance(model, PeftModel), base))
        return real(model, *args, **kwargs)

    monkeypatch.setattr(ca_dpo, "refusal_start_probability", spy)
    # a refusal among the responses makes the diagnostics run
    train_preference(
        world["data"] / "preference.jsonl",
        world["base"],
        tmp_path / "out",
        kind="ca_dpo",
        lora=LORA,
        train=train_params(max_steps=1, dtype="bfloat16"),
        dpo=DPO,
        seed=SEED,
        work_dir=tmp_path / "work",
    )
    assert seen == [(True, {torch.bfloat16}), (True, {torch.bfloat16})]  # before and after training
