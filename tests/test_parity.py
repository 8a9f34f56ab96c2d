"""Training sees what inference sees, with a LLaVA-1.5 (llava-hf) processor built here without a download.

- Token ids: a Llama-family sentencepiece-style tokenizer (transformers' ``LlamaTokenizer``: ``Metaspace`` with
  ``prepend_scheme="first"``, byte fallback, ``<s>``/``</s>``/``<unk>``/``<image>``/``<pad>``; its BPE vocabulary
  trained on a few sentences) with llava-hf/llava-1.5-7b-hf's ``chat_template.json``.  The prompt ids that TRL's
  SFT collator and the CA-DPO collator build equal those generation uses, and the completion ids equal what the
  model has to generate after that prompt: LLaVA-1.5's ``USER: <image>\\n{q} ASSISTANT: {a}</s>``.
"""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import LlamaTokenizer, LlavaProcessor
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

from inbol.errors import DataError
from inbol.models import PromptFormat
from inbol.training.data import check_token_parity, preference_dataset, sft_dataset

# llava-hf/llava-1.5-7b-hf's chat_template.json (also llava-v1.6-vicuna's)
LLAVA_HF_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}{% endif %}"
    "{# Render all images first #}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\n' }}{% endfor %}{# Render all text next #}{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}"
    "{% endfor %}{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
    "detailed, and polite answers to the user's questions."
)
TEXTS = [
    SYSTEM,
    "USER: ASSISTANT: What colour is the ball? red blue green",
    "How many apples are there? 3 two none",
    "Which animal is this? a dog, a cat. I don't know. Sorry, I cannot answer that.",
]
QA = [
    ("What colour is the ball?", "red"),
    ("How many apples are there?", "3"),
    ("Which animal is this?", "I don't know."),
]


def llama_tokenizer() -> LlamaTokenizer:
    """A Llama-1/2-style tokenizer (what llava-hf ships) with a BPE vocabulary trained on TEXTS."""
    bpe = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    specials = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)]
    bpe.train_from_iterator(
        TEXTS * 10, trainers.BpeTrainer(vocab_size=600, special_tokens=specials, show_progress=False)
    )
    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    tok = LlamaTokenizer(
        vocab=model["vocab"], merges=merges, add_bos_token=True, extra_special_tokens={"image_token": "<image>"}
    )
    tok.add_special_tokens({"pad_token": "<pad>"})
    tok.padding_side = "left"
    return tok


def llava_hf_processor(template: str = LLAVA_HF_TEMPLATE) -> LlavaProcessor:
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28}, do_center_crop=True
    )
    return LlavaProcessor(
        image_processor=image_processor,
        tokenizer=llama_tokenizer(),
        patch_size=14,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=template,
    )


@pytest.fixture
def records(tmp_path, monkeypatch):
    """An IDK-IT file and a CA-DPO file over one non-square image (paths relative to tmp_path)."""
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (40, 30), (200, 30, 30)).save(tmp_path / "img.png")
    sft = [{"id": f"q{i}", "image": "img.png", "prompt": q, "completion": a} for i, (q, a) in enumerate(QA)]
    pref = [
        {"id": f"p{i}", "image": "img.png", "prompt": q, "conf": 0.7}
        | {"p1": {"chosen": a, "rejected": "blue"}, "p2": {"chosen": "I don't know.", "rejected": a}}
        for i, (q, a) in enumerate(QA)
    ]
    for name, rows in (("sft.jsonl", sft), ("pref.jsonl", pref)):
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def inference_ids(proc, fmt, question: str, answer: str) -> tuple[list[int], list[int]]:
    """(the prompt ids generation uses, the ids the model has to generate after them for ``answer``)."""
    image = Image.open("img.png").convert("RGB")
    prompt = proc(images=[image], text=[fmt.prompt(question)], return_tensors="pt")["input_ids"][0].tolist()
    # LLaVA-1.5's conversation: "... ASSISTANT: {answer}</s>", tokenized as one text as inference would
    conversation = fmt.prompt(question) + " " + answer + proc.tokenizer.eos_token
    full = proc(images=[image], text=[conversation], return_tensors="pt")["input_ids"][0].tolist()
    assert full[: len(prompt)] == prompt
    return prompt, full[len(prompt) :]


@pytest.mark.parametrize("system", [None, SYSTEM])
def test_llama_tokenizer_sft_collator_ids_equal_inference_ids(records, system):
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    proc = llava_hf_processor()
    assert proc.tokenizer.backend_tokenizer.pre_tokenizer.prepend_scheme == "first"  # the transformers 5 Llama
    fmt = PromptFormat(proc, system)
    ds = sft_dataset("sft.jsonl", fmt)
    collate = DataCollatorForVisionLanguageModeling(proc, completion_only_loss=True)
    for i, (q, a) in enumerate(QA):
        batch = collate([dict(ds[i])])
        ids, labels = batch["input_ids"][0], batch["labels"][0]
        train_prompt, train_completion = ids[labels == -100].tolist(), ids[labels != -100].tolist()
        prompt, completion = inference_ids(proc, fmt, q, a)
        tokens = proc.tokenizer.convert_ids_to_tokens
        assert tokens(train_prompt) == tokens(prompt)
        assert tokens(train_completion) == tokens(completion)
        assert train_completion[-1] == proc.tokenizer.eos_token_id


def test_llama_tokenizer_ca_dpo_collator_ids_equal_inference_ids(records):
    from inbol.training.ca_dpo import CADPOCollator

    proc = llava_hf_processor()
    fmt = PromptFormat(proc, SYSTEM)
    ds = preference_dataset("pref.jsonl", fmt)
    batch = CADPOCollator(proc)([dict(ds[i]) for i in range(len(ds))])
    ids, att, comp = batch["input_ids"], batch["attention_mask"].bool(), batch["completion_mask"].bool()
    for row, (q, a) in enumerate(QA):
        for k, text in zip(range(4), (a, "blue", "I don't know.", a)):
            s = int(batch["pair_index"][row, k])
            prompt, completion = inference_ids(proc, fmt, q, text)
            assert ids[s][att[s] & ~comp[s]].tolist() == prompt
            assert ids[s][comp[s]].tolist() == completion
    assert torch.equal(batch["pixel_values"][0], batch["pixel_values"][1])  # one image per row, repeated


def test_tiny_byte_level_tokenizer_renders_as_before(tiny_model):
    """The embedded default's byte-level tokenizer and template: no space after the BOS text, EOS as rendered."""
    fmt = PromptFormat(tiny_model["processor"])
    tok = tiny_model["processor"].tokenizer
    assert fmt.bos_prompt("What color is it?") == tok.bos_token + fmt.prompt("What color is it?")
    assert fmt.completion("What color is it?", "red") == " red</s>"
    check_token_parity(fmt, [("a", "What color is it?", "red"), ("b", "Is it big?", "I don't know.")], "x")


def test_training_refuses_a_template_whose_training_ids_differ(records):
    """A template that glues the answer to "ASSISTANT:" tokenizes the answer apart as "▁red" but after the prompt
    as "red": the dataset is refused with one line before any training."""
    glued = LLAVA_HF_TEMPLATE.replace(
        "{{ content['text'] + ' '}}{% endgeneration %}", "{{ content['text'] }}{% endgeneration %}"
    )
    glued = glued.replace("{{ message['role'].upper() + ': '}}", "{{ message['role'].upper() + ':' }}")
    fmt = PromptFormat(llava_hf_processor(glued))
    with pytest.raises(DataError) as e:
        sft_dataset("sft.jsonl", fmt)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("sft.jsonl: record 'q0'") and "expected identical ids" in msg
