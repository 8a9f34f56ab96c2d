"""Training sees what inference sees, with a LLaVA-1.5 (llava-hf) processor built here without a download.

- Token ids: a Llama-family sentencepiece-style tokenizer (transformers' ``LlamaTokenizer``: ``Metaspace`` with
  ``prepend_scheme="first"``, byte fallback, ``<s>``/``</s>``/``<unk>``/``<image>``/``<pad>``; its BPE vocabulary
  trained on a few sentences) with llava-hf/llava-1.5-7b-hf's ``chat_template.json``.  The prompt ids that TRL's
  SFT collator and the CA-DPO collator build equal those generation uses, and the completion ids equal what the
  model has to generate after that prompt: LLaVA-1.5's ``USER: <image>\\n{q} ASSISTANT: {a}</s>``.
- Pixels: for a non-square image, the pixel values of the in-process path (the model's processor on the opened
  image) equal those a server gets (the data URL the OpenAI sampler sends, decoded, through the checkpoint's own
  processor, as vLLM runs it) and LLaVA-1.5's (``expand2square`` with the mean colour, then the processor).
"""

from __future__ import annotations

import base64
import io
import json
import types

import pytest
import torch
from PIL import Image
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import LlamaTokenizer, LlavaProcessor
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

from helpers import LLAVA_HF_TEMPLATE, section
from inbol.errors import DataError, ParamError
from inbol.io import write_json
from inbol.models import PromptFormat, open_images
from inbol.models.base import load_base
from inbol.models.build import set_image_aspect_ratio
from inbol.sampling import make_sampler
from inbol.training.data import check_token_parity, preference_dataset, sft_dataset

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


def test_llava_hf_completion_ends_with_the_answer_then_eos():
    """llava-hf's template closes the assistant turn with a space, not EOS: the space is not generated."""
    proc = llava_hf_processor()
    fmt = PromptFormat(proc)
    assert fmt.completion("What colour is the ball?", "red") == " red</s>"
    ids = proc.tokenizer(fmt.completion("What colour is the ball?", "red"), add_special_tokens=False)["input_ids"]
    assert proc.tokenizer.convert_ids_to_tokens(ids) == ["▁red", "</s>"]
    assert fmt.bos_prompt("Is it?") == "<s> " + fmt.prompt("Is it?")  # the space the Llama tokenizer needs


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


# ------------------------------------------------------------------------------------------------------
# pixels: the in-process path and the server path see LLaVA-1.5's padded square
# ------------------------------------------------------------------------------------------------------


def striped(path, size):
    """An image whose left, middle and right thirds differ (a centre crop loses the outer ones)."""
    w, h = size
    im = Image.new("RGB", size, (20, 200, 40))
    im.paste(Image.new("RGB", (w // 3, h), (230, 20, 20)), (0, 0))
    im.paste(Image.new("RGB", (w // 3, h), (20, 20, 230)), (w - w // 3, 0))
    im.save(path)
    return str(path)


def base_pointing_at(checkpoint, folder, mode):
    """A base-model folder as the base_model stage writes it for a hub/local source."""
    write_json(folder / "source.json", {"source": str(checkpoint), "image_aspect_ratio": mode})
    return folder


def server_pixels(sampler, record, checkpoint):
    """What a vLLM server computes from the sampler's request: the data URL decoded, then the checkpoint's own
    processor (llava-hf ships a centre-cropping CLIP processor)."""
    from transformers import AutoProcessor

    parts = sampler.messages(record)[-1]["content"]
    url = next(p["image_url"]["url"] for p in parts if p["type"] == "image_url")
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")
    served = AutoProcessor.from_pretrained(str(checkpoint))
    return served.image_processor(images=[image], return_tensors="pt")["pixel_values"]


def test_hf_and_server_paths_receive_llava_padded_pixels(tiny_model, tmp_path):
    checkpoint = tiny_model["dir"]
    assert type(AutoProcessorOf(checkpoint).image_processor).__name__.startswith("CLIPImageProcessor")
    record = {"id": "q", "question": "What colour is the left side?", "image": striped(tmp_path / "wide.png", (90, 48))}
    _, processor = load_base(base_pointing_at(checkpoint, tmp_path, "pad"))
    fmt = PromptFormat(processor)
    hf = processor(images=open_images([record["image"]]), text=[fmt.prompt(record["question"])], return_tensors="pt")
    sampler = make_sampler(section("sampling", backend="openai"), fmt, client=object())
    served = server_pixels(sampler, record, checkpoint)
    # LLaVA-1.5: expand2square with int(255 * image_mean), then the CLIP processor (a square: no crop)
    clip = AutoProcessorOf(checkpoint).image_processor
    fill = tuple(int(255 * m) for m in clip.image_mean)
    wide = Image.open(record["image"]).convert("RGB")
    square = Image.new("RGB", (90, 90), fill)
    square.paste(wide, (0, (90 - 48) // 2))
    reference = clip(images=[square], return_tensors="pt")["pixel_values"]
    assert hf["pixel_values"].shape == served.shape == reference.shape
    torch.testing.assert_close(hf["pixel_values"], reference, rtol=0, atol=1e-6)
    torch.testing.assert_close(served, reference, rtol=0, atol=1e-6)
    # and it is not the centre crop the checkpoint's processor gives the raw image
    cropped = clip(images=[wide], return_tensors="pt")["pixel_values"]
    assert (cropped - reference).abs().max() > 0.1


def test_crop_keeps_the_checkpoints_processor_on_both_paths(tiny_model, tmp_path):
    checkpoint = tiny_model["dir"]
    record = {"id": "q", "question": "What is it?", "image": striped(tmp_path / "tall.png", (40, 72))}
    _, processor = load_base(base_pointing_at(checkpoint, tmp_path, "crop"))
    fmt = PromptFormat(processor)
    assert fmt.image_pad is None
    hf = processor.image_processor(images=open_images([record["image"]]), return_tensors="pt")["pixel_values"]
    sampler = make_sampler(section("sampling", backend="openai"), fmt, client=object())
    torch.testing.assert_close(hf, server_pixels(sampler, record, checkpoint), rtol=0, atol=1e-6)


def test_square_images_are_unchanged_by_padding(tiny_model, tiny_world, tmp_path, monkeypatch):
    """The embedded default's synthetic images are square: padding changes neither pixels nor requests."""
    from inbol.io import read_jsonl
    from inbol.llm import image_data_url

    monkeypatch.chdir(tiny_world["root"])
    record = read_jsonl(tiny_world["dir"] / "pool.jsonl")[0]
    assert Image.open(record["image"]).size[0] == Image.open(record["image"]).size[1]
    _, padded = load_base(base_pointing_at(tiny_model["dir"], tmp_path, "pad"))
    assert PromptFormat(padded).image_pad is not None
    images = open_images([record["image"]])
    pad = padded.image_processor(images=images, return_tensors="pt")["pixel_values"]
    crop = tiny_model["processor"].image_processor(images=images, return_tensors="pt")["pixel_values"]
    assert torch.equal(pad, crop)
    assert image_data_url(record["image"], PromptFormat(padded).image_pad) == image_data_url(record["image"])


def test_image_aspect_ratio_bad_values_are_one_line_errors():
    with pytest.raises(ParamError, match=r"^base_model\.image_aspect_ratio = 'square': must be one of"):
        section("base_model", image_aspect_ratio="square")

    class OtherImageProcessor:
        image_mean = (0.5, 0.5, 0.5)

    with pytest.raises(DataError, match=r"^m: image_aspect_ratio = 'pad' needs a CLIP or LLaVA image processor") as e:
        set_image_aspect_ratio(types.SimpleNamespace(image_processor=OtherImageProcessor()), "pad", "m")
    assert "\n" not in str(e.value)


def AutoProcessorOf(path):  # noqa: N802 - reads like the class it calls
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(str(path))
