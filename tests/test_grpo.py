"""GRPO with the S_trust reward (inbol.training.grpo, inbol.methods.grpo): the reward on hand cases, its
zero-variance and no-refusal warnings, the training prompts, a 2-step GRPOTrainer run on a tiny LLaVA, the
method's spec and params."""

import logging
import shlex

import pytest
import yaml

from helpers import ROOT, run_stage_in_process, section
from inbol.errors import DataError, ParamError
from inbol.io import read_jsonl, write_jsonl
from inbol.judge import PAPER_REFUSAL
from inbol.methods.spec import load, make
from inbol.models import PromptFormat, load_model
from inbol.training.grpo import STrustReward, grpo_dataset, train_grpo

OPEN = {"id": "q1", "question": "What color is the ball?", "answers": ["red"], "kind": "open", "choices": None}
CHOICE = {
    "id": "q2",
    "question": "Which shape?\nA. circle\nB. square",
    "answers": ["B"],
    "kind": "choice",
    "choices": ["circle", "square"],
}
UNANSWERABLE = {
    "id": "q3",
    "question": "What breed is the dog?",
    "answers": [],
    "kind": "unanswerable",
    "choices": None,
}


def call(reward: STrustReward, rows: list[dict], texts: list[str]) -> list[float]:
    """The reward as TRL calls it: conversational completions, one column list per dataset column."""
    columns = {k: [r[k] for r in rows] for k in rows[0]}
    completions = [[{"role": "assistant", "content": t}] for t in texts]
    return reward(prompts=[[]] * len(texts), completions=completions, completion_ids=None, **columns)


def test_reward_is_plus_one_correct_zero_refusal_minus_one_wrong():
    r = STrustReward(num_generations=2)
    rows = [OPEN, OPEN, CHOICE, CHOICE, UNANSWERABLE, UNANSWERABLE]
    got = call(r, rows, ["red", "blue", "B", PAPER_REFUSAL, "brown", "I don't know."])
    assert got == [1.0, -1.0, 1.0, 0.0, -1.0, 0.0]
    m = r.metrics()
    assert m["reward_mean"] == 0.0 and m["refusal_share"] == round(2 / 6, 4) and m["completions_judged"] == 6
    assert m["correct_share"] == round(2 / 6, 4) and m["zero_variance_group_share"] == 0.0 and m["warnings"] == 0


def test_reward_mean_is_s_trust_of_the_completions():
    r = STrustReward(num_generations=4)
    texts = ["red", "red", "red", PAPER_REFUSAL, "blue", PAPER_REFUSAL, "green", "red"]
    rewards = call(r, [OPEN] * 8, texts)
    acc, refr = texts.count("red") / 8, texts.count(PAPER_REFUSAL) / 8
    assert sum(rewards) / 8 == pytest.approx(2 * acc + refr - 1)
    assert r.metrics()["reward_mean"] == pytest.approx(2 * acc + refr - 1)


def test_zero_variance_batch_warns_once_naming_the_batch(caplog):
    r = STrustReward(num_generations=2)
    with caplog.at_level(logging.WARNING, logger="inbol.training.grpo"):
        call(r, [OPEN] * 4, ["red", PAPER_REFUSAL, "blue", "red"])  # batch 1: signal, refusals
        call(r, [OPEN, OPEN, CHOICE, CHOICE], ["blue", "green", "A", "A"])  # batch 2: all -1
    flat = [m for m in caplog.messages if "zero variance" in m]
    assert len(flat) == 1 and "batch 2" in flat[0] and "q1" in flat[0] and "q2" in flat[0]
    no_refusal = [m for m in caplog.messages if "no refusal" in m]
    assert len(no_refusal) == 1 and "batch 2" in no_refusal[0]
    m = r.metrics()
    assert m["zero_variance_group_share"] == 0.5  # batch 2's two groups are flat; batch 1's two are not
    assert m["warnings"] == 2 and m["refusal_share_first_last"] == [0.25, 0.0]


def test_a_reward_that_judged_nothing_gives_no_number():
    r = STrustReward(num_generations=2)
    m = r.metrics()
    assert m["reward_mean"] is None and m["refusal_share"] is None and m["zero_variance_group_share"] is None
    assert m["warnings"] == 1 and "n/a" in m["first_warnings"][0]


def test_reward_rows_without_gold_answers_are_a_one_line_error():
    r = STrustReward(num_generations=1)
    with pytest.raises(DataError, match="lack 'answers'"):
        r(prompts=[[]], completions=["red"], question=["q"], kind=["open"])


def test_the_spec_validates_and_rl_needs_a_training_set():
    spec = load("grpo")
    assert spec.kind == "rl" and spec.start in ("base", "idk_it") and spec.data == "preference" and spec.loss is None
    with pytest.raises(ParamError, match="kind rl: data must be a set name"):
        make(**{**spec.model_dump(), "data": None})
    with pytest.raises(ParamError, match="kind rl: loss must be None"):
        make(**{**spec.model_dump(), "loss": "ipo"})


def test_grpo_params_are_strict():
    with pytest.raises(ParamError, match="grpo.batch_size = 30: must be a multiple of grpo.num_generations = 4"):
        section("grpo", batch_size=30)
    with pytest.raises(ParamError, match="grpo.num_generations"):
        section("grpo", num_generations=1)
    with pytest.raises(ParamError, match="grpo.stepz"):
        section("grpo", stepz=3)


def test_models_rl_takes_only_rl_methods():
    with pytest.raises(ParamError, match="models.rl\\[0\\] = 'ca_dpo': a preference method"):
        section("models", rl=["ca_dpo"])
    with pytest.raises(ParamError, match="models.from_idk_it\\[0\\] = .grpo.: a rl method"):
        section("models", from_idk_it=["grpo"])


@pytest.fixture(scope="module")
def grpo_world(tmp_path_factory, tiny_world, tiny_model):
    """The tiny world's pool questions as a constructed set (ids, images, questions, buckets), the pool as the
    gold answers, and the untrained tiny model."""
    root = tmp_path_factory.mktemp("grpo")
    pool = [{**r, "image": str(tiny_world["root"] / r["image"])} for r in read_jsonl(tiny_world["dir"] / "pool.jsonl")]
    data = root / "preference.jsonl"
    write_jsonl(
        data,
        [{"id": r["id"], "image": r["image"], "prompt": r["question"], "bucket": "known"} for r in pool[:12]],
    )
    write_jsonl(root / "pool.jsonl", pool)
    return {"root": root, "data": data, "pool": root / "pool.jsonl", "base": tiny_model["dir"], "rows": pool}


def test_training_prompts_carry_gold_answers_and_render_as_inference(grpo_world):
    _, proc = load_model(grpo_world["base"], device="cpu", dtype="float32")
    ds = grpo_dataset(grpo_world["data"], [grpo_world["pool"]], PromptFormat(proc))  # checks the prompt ids
    first = grpo_world["rows"][0]
    assert len(ds) == 12 and ds[0]["id"] == first["id"] and ds[0]["answers"] == [str(a) for a in first["answers"]]
    assert ds[0]["prompt"] == [{"role": "user", "content": first["question"]}] and ds[0]["kind"] == first["kind"]
    bad = grpo_world["root"] / "bad.jsonl"
    write_jsonl(bad, [{"id": "nowhere", "image": first["image"], "prompt": "q?"}])
    with pytest.raises(DataError, match="question 'nowhere' is not in the pool"):
        grpo_dataset(bad, [grpo_world["pool"]], PromptFormat(proc))


def test_two_grpo_steps_train_the_adapter_and_record_the_reward(grpo_world, one_thread):
    out = grpo_world["root"] / "model"
    metrics = train_grpo(
        grpo_world["data"],
        [grpo_world["pool"]],
        grpo_world["base"],
        out,
        grpo=section("grpo", steps=2, batch_size=8, num_generations=4, max_completion_length=4),
        lora=section("lora", modules_to_save=[]),
        train=section("train", logging_steps=1, save_steps=1),
        seed=0,
        work_dir=grpo_world["root"] / "ckpt",
    )
    assert metrics["steps"] == 2 and metrics["completions_judged"] == 16 and metrics["reward_batches"] == 2
    assert -1.0 <= metrics["reward_mean"] <= 1.0 and 0.0 <= metrics["refusal_share"] <= 1.0
    assert metrics["effective_batch_size"] == 8 and metrics["prompts_per_step"] == 2
    assert (out / "adapter" / "adapter_config.json").is_file() and (out / "config.json").is_file()
    load_model(out, device="cpu", dtype="float32")  # the merged model loads like every trained model


def test_the_rl_stage_trains_only_rl_methods(capsys):
    """dvc.yaml's train_rl command with a method of another kind: exit 2 and one line, before any work."""
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["train_rl"]
    cmd = spec["cmd"].replace("${item.method}", "ca_dpo").replace("${item.seed}", "0")
    argv = shlex.split(cmd.replace("${train.launcher}", "configs/accelerate/single.yaml"))
    argv = argv[next(i for i, a in enumerate(argv) if a.startswith("stages/")) :]
    assert argv[0] == "stages/train_rl.py" and spec["matrix"] == {"method": "${models.rl}", "seed": "${seeds}"}
    with pytest.raises(SystemExit) as stop:
        run_stage_in_process(argv)
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: --method 'ca_dpo': a preference method; this stage trains kind rl (models.rl)"
    )
