"""Build, save and load the multimodal model: a real ``LlavaForConditionalGeneration``.

The embedded default is a tiny LLaVA (CLIP vision tower + Llama text model) with a byte-level BPE
tokenizer trained locally on the world's text; at paper scale ``source`` is a hub id such as
``llava-hf/llava-1.5-7b-hf``.  Either way, later stages load the model with ``from_pretrained``.

Images: LLaVA-1.5 pads a non-square image to a square with the mean colour of its image processor before the
CLIP preprocessing (``image_aspect_ratio: pad``, ``expand2square``); llava-hf's ``CLIPImageProcessor`` instead
resizes the short side and centre-crops, which cuts off the ends of the long side.  :func:`load_model` with
``image_aspect_ratio="pad"`` swaps in transformers' ``LlavaImageProcessor`` with ``do_pad=True`` (the same
settings, padding first with ``int(255 * image_mean)``), so every in-process path (generation, sampling, the
probe, the training collators) pads; the server path pads the same way before it encodes the image
(:func:`inbol.llm.image_data_url` with :func:`square_fill`'s colour), so a vLLM server, whose llava-hf processor
centre-crops, receives a square image that its crop leaves whole.  ``crop`` keeps the checkpoint's processor.
A square image (the synthetic world's) is the same either way.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    AutoProcessor,
    CLIPVisionConfig,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
    PreTrainedTokenizerFast,
)
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
from transformers.models.llava.image_processing_pil_llava import LlavaImageProcessorPil

from ..errors import DataError, ParamError
from ..schema.base_model import Arch
from ..schema.core import gpu_layout

IMAGE_TOKEN = "<image>"
PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"

# LLaVA-1.5's conversation format: "[system ]USER: <image>\n{question} ASSISTANT: {answer}</s>".  Content may
# be a string or a list of {"type": "image"} / {"type": "text"} parts, as in transformers' chat templates.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}"
    "{% endif %} "
    "{% elif message['role'] == 'user' %}USER: "
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<image>\n{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %} "
    "{% elif message['role'] == 'assistant' %}ASSISTANT: "
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}"
    "{% endif %}</s>"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on ``texts``; any string encodes (refusals included)."""
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, BOS, EOS, UNK, IMAGE_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, tok.token_to_id(BOS))]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        extra_special_tokens={"image_token": IMAGE_TOKEN},
        padding_side="left",
        model_max_length=1024,
    )
    return fast


def build_processor(tokenizer: PreTrainedTokenizerFast, image_size: int, patch_size: int) -> LlavaProcessor:
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": image_size},
        crop_size={"height": image_size, "width": image_size},
        do_center_crop=True,
        do_resize=True,
    )
    return LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=patch_size,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=CHAT_TEMPLATE,
    )


def build_tiny_llava(
    arch: Arch, tokenizer: PreTrainedTokenizerFast, image_size: int, seed: int
) -> LlavaForConditionalGeneration:
    v, t = arch.vision, arch.text
    vision = CLIPVisionConfig(
        hidden_size=v.hidden_size,
        intermediate_size=v.intermediate_size,
        num_hidden_layers=v.num_layers,
        num_attention_heads=v.num_heads,
        image_size=image_size,
        patch_size=v.patch_size,
        projection_dim=v.hidden_size,
    )
    text = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=t.hidden_size,
        intermediate_size=t.intermediate_size,
        num_hidden_layers=t.num_layers,
        num_attention_heads=t.num_heads,
        num_key_value_heads=t.num_heads,
        max_position_embeddings=t.max_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    n_image_tokens = (image_size // v.patch_size) ** 2
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        vision_feature_layer=arch.vision_feature_layer,
        vision_feature_select_strategy="default",
        image_seq_length=n_image_tokens,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    init_from_scratch(model)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    return model


def init_from_scratch(model: torch.nn.Module) -> None:
    """Xavier-uniform init of every linear and convolution weight.  transformers' default (normal, std
    0.02) suits wide models; on a tiny one it keeps the visual path near zero and a from-scratch LLaVA
    then sits at chance on colour questions for hundreds of steps (measured: 22% vs 62% colour accuracy
    after 400 steps on single-colour questions)."""
    for m in model.modules():
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
            torch.nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                torch.nn.init.zeros_(m.bias)


def visible_gpus(env: Mapping[str, str] | None = None) -> list[int] | None:
    """The physical GPU indices this process sees, in CUDA's order (``CUDA_VISIBLE_DEVICES``); None when unset
    (every GPU, in the node's order).  A ParamError for entries that are not indices (e.g. GPU UUIDs)."""
    env = os.environ if env is None else env
    raw = env.get("CUDA_VISIBLE_DEVICES")
    if raw is None:
        return None
    parts = [x.strip() for x in raw.split(",") if x.strip()]
    if not all(x.isdigit() for x in parts):
        raise ParamError(f"CUDA_VISIBLE_DEVICES = {raw!r}: the gpus layout needs GPU indices (e.g. 4,5,6,7)")
    return [int(x) for x in parts]


def check_gpu_layout(index: int, layout, env: Mapping[str, str] | None = None) -> int:
    """The physical GPU that CUDA device ``index`` of this process is (through ``CUDA_VISIBLE_DEVICES`` of
    ``env``), after checking it against the :class:`inbol.params.Gpus` ``layout``: a one-line ParamError when
    it is one of the server's GPUs or, with ``gpus.train`` set, not one of training's."""
    visible = visible_gpus(env)
    if visible is not None and index >= len(visible):
        raise ParamError(f"CUDA device {index} is not visible (CUDA_VISIBLE_DEVICES = {','.join(map(str, visible))})")
    physical = visible[index] if visible is not None else index
    if layout is None:
        return physical
    where = (
        f"set CUDA_VISIBLE_DEVICES to a GPU of gpus.train ({_ids(layout.train)})"
        if layout.train
        else ("set CUDA_VISIBLE_DEVICES to a GPU outside gpus.server")
    )
    if physical in layout.server:
        raise ParamError(
            f"this stage would load a model onto GPU {physical} (CUDA_VISIBLE_DEVICES = "
            f"{_env_text(env)}), which gpus.server ({_ids(layout.server)}) gives to the OpenAI-compatible server; {where}"
        )
    if layout.train and physical not in layout.train:
        raise ParamError(
            f"this stage would load a model onto GPU {physical} (CUDA_VISIBLE_DEVICES = {_env_text(env)}), not one "
            f"of gpus.train ({_ids(layout.train)}); {where}"
        )
    return physical


def _ids(xs) -> str:
    return ", ".join(map(str, xs)) or "none"


def _env_text(env: Mapping[str, str] | None) -> str:
    raw = (os.environ if env is None else env).get("CUDA_VISIBLE_DEVICES")
    return "unset" if raw is None else repr(raw)


def pick_device(preferred: str = "auto", *, layout=None, env: Mapping[str, str] | None = None) -> torch.device:
    """``auto``: CUDA when present, else Apple MPS, else CPU.  A CUDA device is checked against the GPU layout
    (``layout``, else the ``gpus`` section of the params a stage loaded: :func:`inbol.params.gpu_layout`) before
    anything loads onto it: the device of this process (``LOCAL_RANK`` under a launcher, else 0) must not be
    one of the server's GPUs (:func:`check_gpu_layout`)."""
    if preferred != "auto":
        device = torch.device(preferred)
    elif torch.cuda.is_available():
        device = torch.device("cuda")
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    if device.type == "cuda":
        env = os.environ if env is None else env
        index = device.index if device.index is not None else int(env.get("LOCAL_RANK", 0) or 0)
        check_gpu_layout(index, layout if layout is not None else gpu_layout(), env)
    return device


def pick_dtype(device: torch.device, dtype: str = "auto") -> torch.dtype:
    """``auto``: bfloat16 on a CUDA device that supports it, float32 elsewhere."""
    if dtype != "auto":
        return getattr(torch, dtype)
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


ASPECT_RATIOS = ("pad", "crop")
_CLIP_TYPES = ("CLIPImageProcessor", "CLIPImageProcessorPil", "CLIPImageProcessorFast")
_LLAVA_TYPES = ("LlavaImageProcessor", "LlavaImageProcessorPil", "LlavaImageProcessorFast")


def set_image_aspect_ratio(processor, mode: str, where: str = "model") -> None:
    """Make ``processor`` pad non-square images to a square with its mean colour (``pad``, LLaVA-1.5) or keep
    its own resize and centre crop (``crop``).  ``pad`` replaces a CLIP image processor by transformers'
    ``LlavaImageProcessor`` with the same settings and ``do_pad=True``; a one-line DataError for another kind."""
    if mode not in ASPECT_RATIOS:
        raise DataError(f"{where}: image_aspect_ratio = {mode!r}: must be one of {', '.join(ASPECT_RATIOS)}")
    ip = processor.image_processor
    kind = type(ip).__name__
    if kind in _LLAVA_TYPES:
        ip.do_pad = mode == "pad"
        return
    if mode == "crop":
        return
    if kind not in _CLIP_TYPES:
        raise DataError(
            f"{where}: image_aspect_ratio = 'pad' needs a CLIP or LLaVA image processor (pads with its image_mean); "
            f"{kind} has no such padding: use 'crop'"
        )
    settings = {k: v for k, v in ip.to_dict().items() if k not in ("image_processor_type", "processor_class")}
    if isinstance(ip, CLIPImageProcessorPil):
        processor.image_processor = LlavaImageProcessorPil(**settings, do_pad=True)
    else:
        from transformers import LlavaImageProcessor

        processor.image_processor = LlavaImageProcessor(**settings, do_pad=True)


def square_fill(processor) -> tuple[int, int, int] | None:
    """The colour ``processor`` pads non-square images with (``int(255 * image_mean)`` per channel, as
    LLaVA's ``expand2square`` and transformers' ``LlavaImageProcessor``), or None when it does not pad."""
    ip = getattr(processor, "image_processor", None)
    if ip is None or not getattr(ip, "do_pad", False):
        return None
    return tuple(int(x * 255) for x in ip.image_mean)


def load_model(
    path: str | Path, device: str | torch.device = "auto", dtype: str = "auto", image_aspect_ratio: str | None = None
):
    """Load (model, processor) saved with ``save_pretrained`` (a local folder or a hub id); with
    ``image_aspect_ratio`` (``pad`` | ``crop``) the processor is set to it (:func:`set_image_aspect_ratio`),
    otherwise it is the saved one."""
    dev = pick_device(device) if isinstance(device, str) else device

    def fail(e: Exception):
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return DataError(f"cannot load model from {path!s}: {first}")

    try:
        processor = AutoProcessor.from_pretrained(str(path))
    except (OSError, ValueError) as e:
        raise fail(e) from e
    if image_aspect_ratio is not None:  # before the weights: a bad setting costs no load
        set_image_aspect_ratio(processor, image_aspect_ratio, str(path))
    try:
        model = LlavaForConditionalGeneration.from_pretrained(str(path), dtype=pick_dtype(dev, dtype))
    except (OSError, ValueError) as e:
        raise fail(e) from e
    processor.tokenizer.padding_side = "left"
    model.to(dev).eval()
    return model, processor
