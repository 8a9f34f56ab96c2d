"""Sampling K responses per question: config checks, the hf backend (image encoded once, per-question
seeds, exact sampling), resume after a kill, bad images, the openai backend against a fake server."""

from __future__ import annotations

import base64
import json

import pytest
import torch
from PIL import Image

from helpers import LLAVA_HF_TEMPLATE, section
from inbol.errors import DataError, ParamError
from inbol.io import read_jsonl
from inbol.models import PromptFormat, generate
from inbol.sampling import (
    HFSampler,
    OpenAISampler,
    PerQuestionGumbel,
    check_split,
    make_sampler,
    model_fingerprint,
    sample_split,
    state_path_for,
)
from inbol.seeding import stable_seed

K = 4
N_POOL = 14  # questions of the resume test: batches of 4, 4, 4, 2

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def tiny(tiny_world, tiny_model, monkeypatch):
    """The shared tiny world and untrained tiny LLaVA; record image paths resolve from the world's root."""
    monkeypatch.chdir(tiny_world["root"])
    return {
        "world": tiny_world["dir"],
        "model": tiny_model["model"],
        "processor": tiny_model["processor"],
        "fmt": PromptFormat(tiny_model["processor"]),
        "pool": read_jsonl(tiny_world["dir"] / "pool.jsonl")[:N_POOL],
    }


def cfg_of(**kw):
    return section("sampling", **{"k": K, "max_new_tokens": 4, "batch_size": 4, **kw})


def hf(tiny, cfg) -> HFSampler:
    return make_sampler(cfg, tiny["fmt"], model=tiny["model"])


def openai_cfg(url: str, **kw):
    """The openai backend on ``url`` (no response cache: every call reaches the server)."""
    return section(
        "sampling",
        **{
            "backend": "openai",
            "k": K,
            "max_new_tokens": 4,
            "batch_size": 4,
            "openai": {"model": "llava-test", "base_url": url, "max_retries": 0, "cache_dir": None},
            **kw,
        },
    )


# ------------------------------------------------------------------ config


@pytest.mark.parametrize(
    "override, key, allowed",
    [
        ({"k": 0}, "sampling.k", "must be an integer >= 1"),
        ({"temperature": -0.5}, "sampling.temperature", "must be in [0, 2]"),
        ({"backend": "vllm"}, "sampling.backend", "must be one of hf, openai"),
        ({"top_p": 0.0}, "sampling.top_p", "must be in (0, 1]"),
        ({"max_bad_fraction": 1.5}, "sampling.max_bad_fraction", "must be in [0, 1]"),
        ({"splits": []}, "sampling.splits", "must be a non-empty list"),
        ({"splits": ["pool", "pool"]}, "sampling.splits", "must not repeat a value"),
        ({"openai": {"base_url": "localhost:8000"}}, "sampling.openai.base_url", "http(s)://"),
    ],
)
def test_bad_sampling_params_are_one_line_errors(override, key, allowed):
    with pytest.raises(ParamError) as e:
        section("sampling", **override)
    msg = str(e.value)
    assert msg.startswith(f"{key} = ") and allowed in msg and "\n" not in msg


def test_params_follow_the_paper_and_the_openai_client_gets_the_sampling_settings(default_params):
    cfg = default_params.sampling
    # K as the paper; the temperature chosen on validation (lowest ECE, metrics/miniature.json; the paper: 1.0)
    assert (cfg.k, cfg.temperature, cfg.backend) == (10, 0.5, "hf")
    assert cfg.splits == [
        "pool",
        "test",
        "ood_hard",
        "ood_phrasing",
        "ood_choice",
        "val",
        "val_ood_hard",
        "val_ood_phrasing",
        "val_ood_choice",
    ]
    endpoint = cfg.openai.replace(base_url="http://h:8000/v1")
    client = make_sampler(cfg.replace(backend="openai", openai=endpoint)).client
    assert client.endpoint == endpoint and client.url == "http://h:8000/v1/chat/completions"
    assert (client.defaults["max_tokens"], client.defaults["temperature"], client.defaults["top_p"]) == (
        12,
        cfg.temperature,
        1.0,
    )
    client.close()


def test_empty_input_is_a_one_line_data_error(tmp_path):
    with pytest.raises(DataError, match=r"^pool: no questions to sample") as e:
        sample_split(object(), [], tmp_path / "pool.jsonl", cfg_of(), name="pool")
    assert "\n" not in str(e.value)


def test_question_seed_is_stable_and_per_question():
    assert stable_seed(0, "pool-00001") == stable_seed(0, "pool-00001")
    assert len({stable_seed(s, q) for s in (0, 1) for q in ("a", "b", "c")}) == 6
    assert stable_seed(3, "x") == 3566925723642938459  # fixed across runs and platforms (sha256)


# ------------------------------------------------------------------ hf backend


def test_hf_samples_are_valid_and_each_image_is_encoded_once(tiny):
    recs = tiny["pool"][:6]
    model = tiny["model"]
    seen: list[int] = []
    handle = model.model.vision_tower.register_forward_hook(lambda m, args, out: seen.append(args[0].shape[0]))
    try:
        out = hf(tiny, cfg_of()).sample(recs, [stable_seed(0, r["id"]) for r in recs])
    finally:
        handle.remove()
    assert seen == [len(recs)]  # one vision pass, one image per question (not K per question)
    assert len(out) == len(recs) and all(len(o) == K and all(isinstance(s, str) for s in o) for o in out)
    assert len({s for o in out for s in o}) > len(recs)  # random model, temperature 1: samples differ


def test_hf_expanded_cache_equals_plain_generation_with_the_same_noise(tiny):
    """Prefill-once + expanded cache gives exactly what generate() gives on K copies of each input."""
    recs, model, proc = tiny["pool"][:3], tiny["model"], tiny["processor"]
    sampler = hf(tiny, cfg_of(max_new_tokens=5, top_p=0.9, temperature=0.8))
    seeds = [11, 12, 13]
    ours = sampler.sample(recs, seeds)
    fmt = tiny["fmt"]
    b = proc(
        images=[Image.open(r["image"]).convert("RGB") for r in recs],
        text=[fmt.prompt(r["question"]) for r in recs],
        return_tensors="pt",
        padding=True,
    )
    with torch.no_grad():
        seqs = model.generate(
            input_ids=b["input_ids"].repeat_interleave(K, 0),
            attention_mask=b["attention_mask"].repeat_interleave(K, 0),
            pixel_values=b["pixel_values"].repeat_interleave(K, 0),
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            max_new_tokens=5,
            logits_processor=sampler._processors(seeds),
            pad_token_id=proc.tokenizer.pad_token_id,
            eos_token_id=proc.tokenizer.eos_token_id,
        )
    ref = [t.strip() for t in proc.tokenizer.batch_decode(seqs[:, b["input_ids"].shape[1] :], skip_special_tokens=True)]
    assert ours == [ref[i * K : (i + 1) * K] for i in range(3)]


def test_temperature_zero_is_greedy(tiny):
    recs = tiny["pool"][:4]
    out = hf(tiny, cfg_of(temperature=0.0)).sample(recs, [1, 2, 3, 4])
    greedy = generate(
        tiny["model"], tiny["processor"], recs, fmt=tiny["fmt"], batch_size=4, max_new_tokens=4, progress=False
    )
    assert out == [[g[0]] * K for g in greedy]


def test_gumbel_processor_samples_the_softmax():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0, float("-inf")]])
    n = 4000
    gens = [torch.Generator().manual_seed(i) for i in range(n)]
    proc = PerQuestionGumbel(gens, k=1)
    picks = proc(None, logits.repeat(n, 1)).argmax(-1)
    freq = torch.bincount(picks, minlength=5).float() / n
    expected = torch.softmax(logits[0], -1)
    assert freq[4] == 0 and torch.allclose(freq, expected, atol=0.03), (freq, expected)


def test_samples_do_not_depend_on_batching(tiny):
    recs = tiny["pool"][:6]
    seeds = [stable_seed(0, r["id"]) for r in recs]
    sampler = hf(tiny, cfg_of())
    whole = sampler.sample(recs, seeds)
    one_by_one = [sampler.sample([r], [s])[0] for r, s in zip(recs, seeds)]
    reordered = sampler.sample(recs[::-1], seeds[::-1])[::-1]
    same = sum(a == b for x, y in zip(whole, one_by_one) for a, b in zip(x, y))
    assert same >= 0.9 * len(recs) * K  # up to the floating-point effect of padding (in practice: all)
    assert reordered == whole  # same padding, other positions: identical


# ------------------------------------------------------------------ resume


class Killed(RuntimeError):
    pass


class KillAfter:
    """Wraps a sampler; raises after ``n`` batches (a kill midway)."""

    def __init__(self, inner, n):
        self.inner, self.n, self.calls = inner, n, 0

    def sample(self, records, seeds, images=None):
        if self.calls >= self.n:
            raise Killed()
        self.calls += 1
        return self.inner.sample(records, seeds)


def test_resume_after_a_kill_ends_byte_identical(tiny, tmp_path):
    recs, cfg = tiny["pool"], cfg_of(batch_size=4)  # 14 questions: batches of 4, 4, 4, 2
    full = tmp_path / "full.jsonl"
    stats = sample_split(hf(tiny, cfg), recs, full, cfg, progress=False)
    assert stats["n_sampled"] == 14 and stats["n_new"] == 14 and stats["n_resumed"] == 0
    lines = full.read_bytes().splitlines(keepends=True)
    assert [json.loads(x)["id"] for x in lines] == [r["id"] for r in recs]
    assert all(set(json.loads(x)) == {"id", "responses"} and len(json.loads(x)["responses"]) == K for x in lines)

    part = tmp_path / "part.jsonl"
    killer = KillAfter(hf(tiny, cfg), 2)
    with pytest.raises(Killed):
        sample_split(killer, recs, part, cfg, progress=False)
    assert part.read_bytes() == b"".join(lines[:8])  # two whole batches, each flushed
    with open(part, "ab") as fh:  # a torn line, as if killed while writing
        fh.write(lines[8][:17])
    again = KillAfter(hf(tiny, cfg), 99)
    stats = sample_split(again, recs, part, cfg, progress=False)
    assert part.read_bytes() == full.read_bytes()
    assert again.calls == 2 and stats["n_resumed"] == 8 and stats["n_new"] == 6

    # killed in the middle of a batch's lines: that batch is re-run whole, only its missing lines appended
    part.write_bytes(b"".join(lines[:9]) + b'{"id": "garb')
    stats = sample_split(hf(tiny, cfg), recs, part, cfg, progress=False)
    assert part.read_bytes() == full.read_bytes() and stats["n_resumed"] == 9 and stats["n_new"] == 5

    # complete: nothing to do
    idle = KillAfter(hf(tiny, cfg), 0)
    assert sample_split(idle, recs, part, cfg, progress=False)["n_new"] == 0 and idle.calls == 0


def test_other_settings_start_over(tiny, tmp_path):
    recs, out = tiny["pool"][:6], tmp_path / "s.jsonl"
    sample_split(hf(tiny, cfg_of()), recs, out, cfg_of(), progress=False)
    first = out.read_bytes()
    stats = sample_split(hf(tiny, cfg_of(seed=1)), recs, out, cfg_of(seed=1), progress=False)
    assert stats["n_resumed"] == 0 and out.read_bytes() != first and len(read_jsonl(out)) == 6
    # a batch size change keeps what is done (batching does not decide the samples)
    stats = sample_split(
        hf(tiny, cfg_of(seed=1, batch_size=5)), recs, out, cfg_of(seed=1, batch_size=5), progress=False
    )
    assert stats["n_resumed"] == 6
    state = json.loads(state_path_for(out).read_text())
    assert state["fingerprint"]["seed"] == 1 and "questions" in state["fingerprint"]


def test_model_fingerprint_tracks_the_weights(tiny, tmp_path):
    tiny["model"].save_pretrained(tmp_path / "m")
    a = model_fingerprint(tmp_path / "m")
    (tmp_path / "m" / "extra.txt").write_text("x")
    assert model_fingerprint(tmp_path / "m") != a
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "source.json").write_text('{"source": "llava-hf/llava-1.5-7b-hf"}')
    assert model_fingerprint(tmp_path / "p") == {"source": "llava-hf/llava-1.5-7b-hf"}


# ------------------------------------------------------------------ bad images


def test_missing_or_unreadable_images_are_skipped_and_counted(tiny, tmp_path):
    recs = [dict(r) for r in tiny["pool"][:8]]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png at all")
    recs[2]["image"] = str(tmp_path / "nowhere.png")
    recs[5]["image"] = str(broken)
    with pytest.raises(DataError) as e:
        sample_split(hf(tiny, cfg_of()), recs, tmp_path / "x.jsonl", cfg_of(max_bad_fraction=0.2), name="pool")
    msg = str(e.value)
    assert msg.startswith("pool: 2 of 8 questions (25.0%) have a missing or unreadable image") and "\n" not in msg
    assert "sampling.max_bad_fraction = 0.2" in msg and not (tmp_path / "x.jsonl").exists()
    stats = sample_split(
        hf(tiny, cfg_of()), recs, tmp_path / "x.jsonl", cfg_of(max_bad_fraction=0.25), name="pool", progress=False
    )
    assert stats["n_bad"] == 2 and stats["n_sampled"] == 6
    assert {b["id"]: b["reason"] for b in stats["bad"]} == {
        recs[2]["id"]: "missing",
        recs[5]["id"]: "unreadable (UnidentifiedImageError)",
    }
    assert [r["id"] for r in read_jsonl(tmp_path / "x.jsonl")] == [
        r["id"] for i, r in enumerate(recs) if i not in (2, 5)
    ]
    good, bad = check_split(recs, 1.0, "pool")
    assert len(good) == 6 and len(bad) == 2


# ------------------------------------------------------------------ openai backend

LLAVA_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
    "detailed, and polite answers to the user's questions."
)


def vllm_prompt_ids(body: dict, processor) -> list[int]:
    """The token ids vLLM builds from a chat request: string contents become text parts, image parts become
    image placeholders, the processor's template renders them with the generation prompt, and the text is
    tokenized with the request's ``add_special_tokens`` (False when absent)."""
    messages = []
    for m in body["messages"]:
        parts = [{"type": "text", "text": m["content"]}] if isinstance(m["content"], str) else m["content"]
        parts = [{"type": "image"} if p["type"] == "image_url" else p for p in parts]
        messages.append({"role": m["role"], "content": parts})
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return processor.tokenizer(text, add_special_tokens=body.get("add_special_tokens", False))["input_ids"]


def test_openai_backend_sends_model_image_n_and_temperature(tiny, tmp_path, fake_openai):
    recs = tiny["pool"][:3]
    fake_openai.answer = lambda req, i: f"{req['seed']}-{i}"
    cfg = openai_cfg(fake_openai.url, k=5, temperature=0.7, top_p=0.95, max_new_tokens=9, batch_size=2)
    sampler = make_sampler(cfg)
    assert isinstance(sampler, OpenAISampler)
    stats = sample_split(sampler, recs, tmp_path / "o.jsonl", cfg, progress=False)
    assert stats["n_new"] == 3 and fake_openai.n_requests == 3
    bodies = sorted(fake_openai.bodies(), key=lambda b: b["messages"][0]["content"][1]["text"])
    by_question = {r["question"]: r for r in recs}
    for body in bodies:
        assert body["model"] == "llava-test" and body["n"] == 5 and body["temperature"] == 0.7
        assert body["top_p"] == 0.95 and body["max_tokens"] == 9
        assert body["add_special_tokens"] is True  # vLLM: tokenize the rendered prompt with BOS, as hf does
        assert len(body["messages"]) == 1  # no system sentence
        image_part, text_part = body["messages"][0]["content"]
        rec = by_question[text_part["text"]]
        url = image_part["image_url"]["url"]
        assert url.startswith("data:image/png;base64,")
        assert base64.b64decode(url.split(",", 1)[1]) == open(rec["image"], "rb").read()
        assert body["seed"] == stable_seed(0, rec["id"]) % 2**31
    out = read_jsonl(tmp_path / "o.jsonl")
    assert [o["id"] for o in out] == [r["id"] for r in recs]
    assert out[0]["responses"] == [f"{stable_seed(0, recs[0]['id']) % 2**31}-{i}" for i in range(5)]


def test_openai_backend_sends_the_system_sentence_first(tiny, tmp_path, fake_openai):
    recs = tiny["pool"][:2]
    cfg = openai_cfg(fake_openai.url)
    sampler = make_sampler(cfg, PromptFormat(tiny["processor"], system="Answer briefly."))
    sample_split(sampler, recs, tmp_path / "o.jsonl", cfg, progress=False)
    assert fake_openai.n_requests == 2
    for body in fake_openai.bodies():
        system, user = body["messages"]
        assert system == {"role": "system", "content": "Answer briefly."}
        assert user["role"] == "user" and user["content"][1]["text"] in {r["question"] for r in recs}


@pytest.mark.parametrize("template", ["embedded", "llava-hf"])
def test_openai_requests_tokenize_like_the_hf_backend(tiny, tmp_path, fake_openai, template):
    """What the server renders and tokenizes from a request equals the hf backend's prompt ids: the same
    template, the system sentence first, BOS in front (without add_special_tokens vLLM would drop it)."""
    import copy

    processor = copy.deepcopy(tiny["processor"])
    if template == "llava-hf":
        processor.chat_template = LLAVA_HF_TEMPLATE
    fmt = PromptFormat(processor, system=LLAVA_SYSTEM)
    recs = tiny["pool"][:3]
    cfg = openai_cfg(fake_openai.url, k=2)
    sample_split(
        make_sampler(cfg, fmt, prompt_suffix=" Answer briefly."), recs, tmp_path / "o.jsonl", cfg, progress=False
    )
    tok = processor.tokenizer
    by_question = {r["question"] + " Answer briefly.": r for r in recs}
    for body in fake_openai.bodies():
        question = body["messages"][1]["content"][1]["text"]
        hf_ids = tok(fmt.prompt(question))["input_ids"]  # what HFSampler's processor(text=...) tokenizes
        assert question in by_question and hf_ids[0] == tok.bos_token_id
        assert vllm_prompt_ids(body, processor) == hf_ids
        assert vllm_prompt_ids({**body, "add_special_tokens": False}, processor) == hf_ids[1:]
    if template == "llava-hf":
        assert fmt.prompt("Q?") == f"{LLAVA_SYSTEM} USER: <image>\nQ? ASSISTANT:"


def test_vllm_child_seeds_of_different_questions_rarely_meet():
    """vLLM gives the K samples of a request the seeds seed .. seed + K - 1; per-question seeds are hashed,
    so two questions' seed ranges overlap only by chance."""
    seeds = sorted(stable_seed(0, f"pool-{i:05d}") % 2**31 for i in range(20000))
    assert sum(b - a < 10 for a, b in zip(seeds, seeds[1:])) <= 3


def test_openai_sampler_names_the_served_model_in_every_request(tiny, tmp_path, fake_openai):
    """A trained model's samples are asked of its adapter (``served``), the original model's of the endpoint's
    model; the two runs share no cache entry."""
    recs = tiny["pool"][:2]
    cfg = openai_cfg(fake_openai.url)
    cfg = cfg.replace(openai=cfg.openai.replace(cache_dir=str(tmp_path / "cache")))
    sample_split(make_sampler(cfg), recs, tmp_path / "base.jsonl", cfg, progress=False)
    sample_split(make_sampler(cfg, served="idk_it-s0"), recs, tmp_path / "idk.jsonl", cfg, progress=False)
    assert [b["model"] for b in fake_openai.bodies()] == ["llava-test"] * 2 + ["idk_it-s0"] * 2
