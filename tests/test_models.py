import copy
import subprocess
import sys

import pytest
import torch
from PIL import Image

from helpers import section
from inbol.errors import DataError, ParamError
from inbol.io import read_jsonl, write_json
from inbol.models import PromptFormat, generate, load_model, pick_device, pretrain
from inbol.models.base import check_image_size, heldout_slice, load_base
from inbol.models.pretrain import LengthSortedBatchSampler, encode_example, n_image_tokens

QUESTION = "What color is the circle?"


@pytest.fixture
def tiny(tiny_world, tiny_model, monkeypatch):
    """The shared tiny world and untrained tiny LLaVA; record image paths resolve from the world's root."""
    monkeypatch.chdir(tiny_world["root"])
    return {
        "world": tiny_world["dir"],
        "model": tiny_model["model"],
        "processor": tiny_model["processor"],
        "fmt": PromptFormat(tiny_model["processor"]),
        "corpus": read_jsonl(tiny_world["dir"] / "corpus.jsonl"),
        "pool": read_jsonl(tiny_world["dir"] / "pool.jsonl"),
    }


def test_processor_image_tokens_match_vision_tower(tiny):
    model, proc, fmt = tiny["model"], tiny["processor"], tiny["fmt"]
    r = tiny["pool"][0]
    batch = proc(images=[Image.open(r["image"])], text=[fmt.prompt(r["question"])], return_tensors="pt")
    n_tokens = int((batch["input_ids"] == model.config.image_token_index).sum())
    with torch.no_grad():
        feats = model.get_image_features(pixel_values=batch["pixel_values"])
    feats = feats.pooler_output if hasattr(feats, "pooler_output") else feats
    n_features = sum(f.shape[0] for f in feats) if isinstance(feats, (list, tuple)) else feats.shape[-2]
    assert n_tokens == n_features == (48 // 16) ** 2 == n_image_tokens(model)


def test_chat_template_matches_prompt_format(tiny):
    proc, fmt = tiny["processor"], tiny["fmt"]
    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": QUESTION}]}]
    assert (
        proc.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        == fmt.prompt(QUESTION)
        == "USER: <image>\nWhat color is the circle? ASSISTANT:"
    )
    full = msgs + [{"role": "assistant", "content": [{"type": "text", "text": "red"}]}]
    assert fmt.completion(QUESTION, "red") == " red</s>"
    assert proc.apply_chat_template(full, tokenize=False) == fmt.prompt(QUESTION) + fmt.completion(QUESTION, "red")
    # the BOS text that the tokenizer adds by itself is not in prompt(), and is in front of bos_prompt()
    tok = proc.tokenizer
    assert fmt.bos_prompt(QUESTION) == tok.bos_token + fmt.prompt(QUESTION)
    assert (
        tok(fmt.prompt(QUESTION))["input_ids"] == tok(fmt.bos_prompt(QUESTION), add_special_tokens=False)["input_ids"]
    )
    # a later turn about the same image: no image token
    assert fmt.followup("And the square?") == "USER: And the square? ASSISTANT:"


def test_system_sentence_goes_before_the_conversation(tiny):
    fmt = PromptFormat(tiny["processor"], system="Answer briefly.")
    assert fmt.prompt(QUESTION) == "Answer briefly. USER: <image>\nWhat color is the circle? ASSISTANT:"
    assert fmt.completion(QUESTION, "red") == " red</s>"
    assert fmt.followup("And the square?") == "USER: And the square? ASSISTANT:"


def test_tokenizer_encodes_refusals_and_round_trips(tiny):
    tok = tiny["processor"].tokenizer
    text = "Sorry, I can not help with it."
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text and tok.unk_token_id not in ids


def test_labels_cover_only_the_completion(tiny):
    model, tok = tiny["model"], tiny["processor"].tokenizer
    ids, labels = encode_example(tiny["fmt"], QUESTION, "red", model.config.image_token_index, n_image_tokens(model))
    completion = [t for t in labels if t != -100]
    assert tok.decode(completion) == " red</s>"
    assert len(ids) == len(labels) and labels[: len(ids) - len(completion)] == [-100] * (len(ids) - len(completion))


def test_save_load_round_trip_gives_identical_logits(tiny, tmp_path):
    model, proc, fmt = tiny["model"], tiny["processor"], tiny["fmt"]
    model.save_pretrained(tmp_path)
    proc.save_pretrained(tmp_path)
    m2, p2 = load_model(tmp_path, device="cpu")
    recs = tiny["pool"][:3]
    kw = dict(
        images=[Image.open(r["image"]) for r in recs],
        text=[fmt.prompt(r["question"]) for r in recs],
        return_tensors="pt",
        padding=True,
    )
    b1, b2 = proc(**kw), p2(**kw)
    assert torch.equal(b1["input_ids"], b2["input_ids"])
    with torch.no_grad():
        assert torch.equal(model.eval()(**b1).logits, m2(**b2).logits)


def test_pretraining_lowers_the_loss_and_generation_is_batched(tiny, tmp_path):
    model, proc, fmt = copy.deepcopy(tiny["model"]), tiny["processor"], tiny["fmt"]  # the fixture stays untrained
    cfg = section("base_model.pretrain", steps=30, batch_size=8, lr=0.005, log_every=5)
    res = pretrain(model, fmt, tiny["corpus"], cfg, tmp_path)
    losses = [h["loss"] for h in res["history"]]
    assert res["steps"] == 30 and losses[-1] < losses[0]
    out_batched = generate(model, proc, tiny["pool"][:6], fmt=fmt, batch_size=6, max_new_tokens=4, progress=False)
    out_single = generate(model, proc, tiny["pool"][:6], fmt=fmt, batch_size=1, max_new_tokens=4, progress=False)
    assert out_batched == out_single  # left padding does not change greedy answers
    samples = generate(
        model,
        proc,
        tiny["pool"][:2],
        fmt=fmt,
        batch_size=2,
        max_new_tokens=4,
        do_sample=True,
        num_return_sequences=5,
        seed=1,
        progress=False,
    )
    assert len(samples) == 2 and all(len(s) == 5 for s in samples)


def test_length_sorted_batch_sampler_sorts_each_random_batch():
    lengths = [7, 3, 9, 1, 4, 8, 2, 6, 5, 10, 11]
    sampler = LengthSortedBatchSampler(lengths, batch_size=4, seed=0)
    first, second = list(sampler), list(sampler)
    assert len(sampler) == len(first) == 8  # the remainder (11 % 4) is dropped, a different one each pass
    for order in (first, second):
        assert len(set(order)) == 8
        for b in range(0, 8, 4):
            batch = [lengths[i] for i in order[b : b + 4]]
            assert batch == sorted(batch)
    assert first != second  # a fresh permutation each pass
    again = LengthSortedBatchSampler(lengths, batch_size=4, seed=0)
    assert list(again) == first and list(again) == second
    assert list(LengthSortedBatchSampler(lengths, batch_size=4, seed=1)) != first


def _first_step_gradients(tiny, tmp_path, micro_batches: int) -> dict:
    from transformers import TrainerCallback

    grads = {}

    class Grab(TrainerCallback):
        def on_pre_optimizer_step(self, args, state, control, model=None, **kw):
            grads.update({n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None})

    model = copy.deepcopy(tiny["model"])
    cfg = section("base_model.pretrain", steps=1, batch_size=8, micro_batches=micro_batches, warmup_ratio=0.0)
    pretrain(model, tiny["fmt"], tiny["corpus"][:8], cfg, tmp_path / str(micro_batches), callbacks=[Grab()])
    return grads


def test_micro_batches_give_the_gradient_of_the_whole_batch(tiny, tmp_path):
    """One batch of all 8 examples, as one batch or as 4 length-sorted micro-batches of 2: the accumulated
    gradient is the whole batch's (the loss is normalised by the batch's answer tokens, not per micro-batch)."""
    lengths = {len(encode_example(tiny["fmt"], r["question"], r["answers"][0], 0, 1)[0]) for r in tiny["corpus"][:8]}
    assert len(lengths) > 1  # otherwise the micro-batches would not differ in padding
    whole, micro = _first_step_gradients(tiny, tmp_path, 1), _first_step_gradients(tiny, tmp_path, 4)
    assert whole.keys() == micro.keys() and len(whole) > 10
    for name in whole:
        assert torch.allclose(whole[name], micro[name], rtol=1e-4, atol=1e-6), name


def test_heldout_slice_takes_n_per_family(tiny):
    held = heldout_slice(tiny["pool"], 3)
    fams = [r["meta"]["family"] for r in held]
    assert all(fams.count(f) <= 3 for f in set(fams)) and len(held) == 3 * len(set(fams))


def test_external_source_is_a_pointer(tiny, tmp_path):
    model, proc = tiny["model"], tiny["processor"]
    ext = tmp_path / "external"
    model.save_pretrained(ext)
    proc.save_pretrained(ext)
    write_json(tmp_path / "base" / "source.json", {"source": str(ext)})
    m, _ = load_base(tmp_path / "base", device="cpu")
    assert m.config.text_config.hidden_size == 32


def test_unloadable_model_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="cannot load model from"):
        load_model(tmp_path / "nothing-here", device="cpu")


@pytest.mark.parametrize(
    "cuda, mps, expected",
    [(True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_auto_device_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert pick_device("auto").type == expected


@pytest.mark.parametrize("name", ["cpu", "cuda", "mps"])
def test_a_named_device_is_taken_as_is(monkeypatch, name):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # named: taken even where it is absent
    assert pick_device(name).type == name


@pytest.mark.parametrize(
    "override, key",
    [
        ({"arch": {"vision": {"hidden_size": 30, "num_heads": 4}}}, "base_model.arch.vision.hidden_size"),
        ({"pretrain": {"steps": 0}}, "base_model.pretrain.steps"),
        ({"pretrain": {"lr": -1.0}}, "base_model.pretrain.lr"),
        ({"device": "tpu"}, "base_model.device"),
        ({"arch": {"vision_feature_layer": -9}}, "base_model.arch.vision_feature_layer"),
        ({"pretrain": {"micro_batches": 5}}, "base_model.pretrain.micro_batches = 5: must divide batch_size (64)"),
        ({"pretrain": {"sampling": "group_by_length"}}, "base_model.pretrain.micro_batches = 4: needs sampling"),
    ],
)
def test_bad_model_params_are_one_line_errors(override, key):
    with pytest.raises(ParamError) as e:
        section("base_model", **override)
    assert str(e.value).startswith(key) and "\n" not in str(e.value)


def test_patch_size_must_divide_image_size():
    cfg = section("base_model", arch={"vision": {"patch_size": 5}})
    with pytest.raises(ParamError, match=r"^base_model.arch.vision.patch_size = 5: must divide"):
        check_image_size(cfg, 32)


def test_the_lazy_package_names_are_the_functions_whichever_is_imported_first():
    # the submodules generate.py and pretrain.py define functions of the same name: importing a submodule
    # first must not leave `from inbol.models import generate` bound to the module (a fresh interpreter)
    code = (
        "import inbol.models.generate, inbol.models.pretrain, inbol.models.base\n"
        "from inbol.models import generate, pretrain, load_base\n"
        "print(all(callable(f) and f.__module__.startswith('inbol.models.') for f in (generate, pretrain, load_base)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
