"""Options that aim CA-DPO's refusals at what the original model does not know: Known questions disjoint
from IDK-IT's (``preference.known_disjoint``) and an NLL term on the chosen responses (``ca_dpo.sft_weight``,
RPO), by hand."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers import section
from inbol.boundary import assemble_pool, build_training_sets, idk_it_set, preference_set
from inbol.errors import DataError, ParamError
from inbol.training.ca_dpo import ca_dpo_loss, train_preference

REF = "Sorry, I can not help with it."


def vqa(qid, conf):
    return {
        "id": qid,
        "image": f"img/{qid}.png",
        "question": f"Q {qid}?",
        "answers": ["red"],
        "kind": "open",
        "meta": {},
        "conf": conf,
        "correct_response": "red",
        "incorrect_response": "blue",
        "refusal_response": REF,
        "origin": "vqa",
    }


def ua(qid):
    return {
        "id": qid,
        "source": "unanswerable/swap",
        "image": f"img/{qid}.png",
        "question": f"U {qid}?",
        "answers": [],
        "kind": "unanswerable",
        "meta": {"method": "swap", "criteria": {}},
        "conf": 0.0,
        "incorrect_response": "a cat",
    }


def make_pool(n_known=40, n_mixed=20, n_unknown=20, n_ua=10):
    restructured = (
        [vqa(f"k{i:02d}", 1.0) for i in range(n_known)]
        + [vqa(f"m{i:02d}", 0.5) for i in range(n_mixed)]
        + [vqa(f"u{i:02d}", 0.0) for i in range(n_unknown)]
    )
    return restructured, [ua(f"x{i:02d}") for i in range(n_ua)]


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert msg and "\n" not in msg
    return msg


# ------------------------------------------------------------------ preference.known_disjoint


def test_known_disjoint_false_keeps_the_set_whatever_idk_it_is():
    restructured, kept = make_pool()
    pool = assemble_pool(restructured, kept, 0.8, 0.2)
    cfg = section("preference", size=20)
    assert cfg.known_disjoint is False  # the default
    idk, _ = idk_it_set(pool, section("idk_it", size=24, known_ratio=0.75), 0)
    alone, rep = preference_set(pool, cfg, 0)
    assert preference_set(pool, cfg, 0, idk) == (alone, rep)
    sets, reports, _ = build_training_sets(
        restructured, kept, delta_k=0.8, delta_uk=0.2, seed=0, idk_it=section("idk_it", size=24), preference=cfg
    )
    assert sets["preference"] == alone and "known_disjoint" not in reports["preference"]
    # the independent draw does overlap IDK-IT here (what the option removes)
    assert {r["id"] for r in alone if r["bucket"] == "known"} & {r["id"] for r in idk}


def test_known_disjoint_draws_known_questions_outside_idk_it_only():
    restructured, kept = make_pool()
    idk_cfg = section("idk_it", size=24, known_ratio=0.75)  # 18 of the 40 Known questions
    for seed in (0, 1, 2):
        kw = {"delta_k": 0.8, "delta_uk": 0.2, "seed": seed, "idk_it": idk_cfg}
        plain, _, _ = build_training_sets(restructured, kept, preference=section("preference", size=20), **kw)
        sets, reports, _ = build_training_sets(
            restructured, kept, preference=section("preference", size=20, known_disjoint=True), **kw
        )
        idk_ids = {r["id"] for r in sets["idk_it"]}
        pref = sets["preference"]
        known = [r for r in pref if r["bucket"] == "known"]
        assert len(known) == 10 and len(pref) == 20  # the same composition as without the option
        assert not idk_ids & {r["id"] for r in known}
        # only the Known draw changes: Mixed and Unknown questions are the same ones
        assert sorted(r["id"] for r in pref if r["bucket"] != "known") == sorted(
            r["id"] for r in plain["preference"] if r["bucket"] != "known"
        )
        assert reports["preference"]["known_disjoint"] == {"known_pool": 40, "known_in_idk_it": 18}
        assert sets["idk_it"] == plain["idk_it"]  # IDK-IT itself is untouched


def test_known_disjoint_errors_when_too_few_known_questions_remain():
    restructured, kept = make_pool(n_known=30)
    pool = assemble_pool(restructured, kept, 0.8, 0.2)
    idk, _ = idk_it_set(pool, section("idk_it", size=32, known_ratio=0.75), 0)  # 24 Known: 6 remain
    cfg = section("preference", size=20, known_disjoint=True)  # 10 Known needed
    with pytest.raises(DataError) as e:
        preference_set(pool, cfg, 0, idk)
    assert one_line(e) == (
        "preference.known_disjoint = true: CA-DPO needs 10 Known questions but only 6 of the 30 eligible Known "
        "ones are not in IDK-IT's set (24 are); lower preference.size (or idk_it.size / known_ratio), or set "
        "preference.known_disjoint: false"
    )
    out, _ = preference_set(pool, cfg.replace(size=12), 0, idk)  # 6 Known needed: fits exactly
    assert sum(r["bucket"] == "known" for r in out) == 6


def test_known_disjoint_needs_the_idk_it_section():
    restructured, kept = make_pool()
    with pytest.raises(ParamError) as e:
        build_training_sets(
            restructured, kept, delta_k=0.8, delta_uk=0.2, seed=0, preference=section("preference", known_disjoint=True)
        )
    assert one_line(e).startswith("preference.known_disjoint = true: needs the same seed's IDK-IT set")


# ------------------------------------------------------------------ ca_dpo.sft_weight (RPO)


def t(*xs):
    return torch.tensor(xs, dtype=torch.float64)


# Known (conf 0.9, p1 = p2) and Mixed (conf 0.3) rows; sequence log-probs and answer-token counts
PW1, PL1, RW1, RL1 = t(-2, -4), t(-5, -6), t(-3, -5), t(-4, -5)
PW2, PL2, RW2, RL2 = t(-2, -8), t(-5, -6), t(-3, -6), t(-4, -5)
CONF = t(0.9, 0.3)
TOKENS = (t(2, 1), t(2, 4))


def test_sft_weight_zero_is_equation_6_exactly():
    base, m0 = ca_dpo_loss(PW1, PL1, RW1, RL1, PW2, PL2, RW2, RL2, CONF, 0.1)
    zero, m1 = ca_dpo_loss(PW1, PL1, RW1, RL1, PW2, PL2, RW2, RL2, CONF, 0.1, sft_weight=0.0, chosen_tokens=TOKENS)
    assert torch.equal(base, zero) and m0.keys() == m1.keys() and "nll/chosen" not in m1
    # equation (6) written out
    z1, z2 = 0.1 * ((PW1 - RW1) - (PL1 - RL1)), 0.1 * ((PW2 - RW2) - (PL2 - RL2))
    assert base.item() == pytest.approx((-(CONF * F.logsigmoid(z1) + (1 - CONF) * F.logsigmoid(z2))).mean().item())


def test_sft_weight_adds_alpha_times_the_chosen_nll_per_answer_token():
    # NLL = -(0.9 (-2) + 0.1 (-2) + 0.3 (-4) + 0.7 (-8)) / (0.9 * 2 + 0.1 * 2 + 0.3 * 1 + 0.7 * 4)
    #     = (1.8 + 0.2 + 1.2 + 5.6) / (1.8 + 0.2 + 0.3 + 2.8) = 8.8 / 5.1
    nll = 8.8 / 5.1
    base, _ = ca_dpo_loss(PW1, PL1, RW1, RL1, PW2, PL2, RW2, RL2, CONF, 0.1)
    loss, m = ca_dpo_loss(PW1, PL1, RW1, RL1, PW2, PL2, RW2, RL2, CONF, 0.1, sft_weight=0.5, chosen_tokens=TOKENS)
    assert loss.item() == pytest.approx(base.item() + 0.5 * nll, abs=1e-6)
    assert m["nll/chosen"].tolist() == pytest.approx([nll, nll])
    # conf = 1 with p1 = p2 is TRL's "sft" term: the token mean of the chosen NLL over the batch
    ones = t(1, 1)
    loss1, _ = ca_dpo_loss(PW1, PL1, RW1, RL1, PW2, PL2, RW2, RL2, ones, 0.1, sft_weight=1.0, chosen_tokens=TOKENS)
    base1, _ = ca_dpo_loss(PW1, PL1, RW1, RL1, PW2, PL2, RW2, RL2, ones, 0.1)
    assert (loss1 - base1).item() == pytest.approx(6 / 3)
    # the term pushes the chosen log-probs up (the gradient of w1 is more negative with it)
    x = [v.clone().requires_grad_() for v in (PW1, PL1, RW1, RL1, PW2, PL2, RW2, RL2)]
    ca_dpo_loss(*x, CONF, 0.1, sft_weight=0.5, chosen_tokens=TOKENS)[0].backward()
    g_with = x[0].grad.clone()
    x = [v.clone().requires_grad_() for v in (PW1, PL1, RW1, RL1, PW2, PL2, RW2, RL2)]
    ca_dpo_loss(*x, CONF, 0.1)[0].backward()
    assert torch.allclose(g_with - x[0].grad, -0.5 * CONF / 5.1)
    with pytest.raises(ValueError, match="needs chosen_tokens"):
        ca_dpo_loss(PW1, PL1, RW1, RL1, PW2, PL2, RW2, RL2, CONF, 0.1, sft_weight=0.5)


# ------------------------------------------------------------------ bad values


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("preference", {"known_disjoint": "yes"}, "preference.known_disjoint = 'yes': must be true or false"),
        ("preference", {"known_disjoint": 1}, "preference.known_disjoint = 1: must be true or false"),
        ("ca_dpo", {"sft_weight": -0.5}, "ca_dpo.sft_weight = -0.5: must be >= 0"),
        ("ca_dpo", {"sft_weight": "0.1"}, "ca_dpo.sft_weight = '0.1': must be a number"),
        ("ca_dpo", {"rpo_alpha": 1.0}, "ca_dpo.rpo_alpha = 1.0: unknown key"),
    ],
)
def test_bad_values_are_one_line_errors(name, value, message):
    with pytest.raises(ParamError) as e:
        section(name, **value)
    assert one_line(e).startswith(message)


def test_the_nll_term_is_ca_dpos_only(tmp_path):
    with pytest.raises(ParamError) as e:
        train_preference(
            tmp_path / "dpo_1.jsonl",
            tmp_path / "base",
            tmp_path / "out",
            kind="dpo",
            lora=section("lora"),
            train=section("train"),
            dpo=section("dpo"),
            seed=0,
            work_dir=tmp_path / "work",
            sft_weight=0.5,
        )
    assert one_line(e) == "sft_weight = 0.5: the NLL term is CA-DPO's (kind ca_dpo), not kind 'dpo''s"


# ------------------------------------------------------------------ ca_dpo.sft_weight outside the stage


class Trained(Exception):
    """Raised by the fake trainer: what it was called with, and no training."""


def fake_train_preference(monkeypatch) -> dict:
    seen: dict = {}

    def fake(*args, **kwargs):
        seen.update(kwargs)
        raise Trained

    monkeypatch.setattr("inbol.training.ca_dpo.train_preference", fake)
    return seen


def test_train_method_hands_ca_dpo_sft_weight_to_ca_dpo_only(monkeypatch, tmp_path):
    from inbol.training.routes import train_method

    seen = fake_train_preference(monkeypatch)
    kw = {"lora": section("lora"), "train": section("train"), "dpo": section("dpo"), "seed": 0, "name": "m"}
    paths = (tmp_path / "d.jsonl", tmp_path / "start", tmp_path / "out")
    with pytest.raises(Trained):
        train_method("preference", *paths, kind="ca_dpo", ca_dpo=section("ca_dpo", sft_weight=0.5),
                     work_dir=tmp_path / "w", **kw)  # fmt: skip
    assert seen["sft_weight"] == 0.5 and seen["kind"] == "ca_dpo"
    seen.clear()
    with pytest.raises(Trained):  # plain DPO has no NLL term, whatever the ca_dpo section says
        train_method("preference", *paths, kind="dpo", ca_dpo=section("ca_dpo", sft_weight=0.5),
                     work_dir=tmp_path / "w", **kw)  # fmt: skip
    assert seen.get("sft_weight", 0.0) == 0.0
    # CA-DPO without its section would train the paper's loss whatever params.yaml says: refused
    with pytest.raises(ParamError) as e:
        train_method("preference", *paths, kind="ca_dpo", work_dir=tmp_path / "w", **kw)
    assert one_line(e).startswith("training 'm' by preference kind ca_dpo: needs the ca_dpo section")


def test_a_composition_sweep_cell_trains_with_ca_dpo_sft_weight(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from inbol.sweep.run import run_cell

    seen = fake_train_preference(monkeypatch)
    sweep = section("sweep")
    group = sweep.budget.groups[0]
    monkeypatch.setattr("inbol.evaluation.load_testsets", lambda d: {"v": SimpleNamespace(group=group)})
    monkeypatch.setattr("inbol.judge.llm_judge.make_semantic_judge", lambda judge: None)
    p = SimpleNamespace(**{n: section(n) for n in ("lora", "train", "dpo", "evaluate", "judge", "prompt")})
    p.sweep, p.ca_dpo = sweep, section("ca_dpo", sft_weight=0.25)
    restructured, _ = make_pool()
    with pytest.raises(Trained):
        run_cell("composition", [1.0], tmp_path / "out", records=restructured[:4], start_model=tmp_path / "start",
                 work_dir=tmp_path / "work", p=p, seed=0, testsets_dir=tmp_path / "valsets")  # fmt: skip
    assert seen["kind"] == "ca_dpo" and seen["sft_weight"] == 0.25


def test_the_validation_search_trains_ca_dpo_with_sft_weight(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from helpers import params
    from inbol import search

    seen = fake_train_preference(monkeypatch)
    monkeypatch.setattr("inbol.evaluation.load_testsets", lambda d: {})
    monkeypatch.setattr("inbol.judge.llm_judge.make_semantic_judge", lambda judge: None)
    monkeypatch.setattr("inbol.training.sft.train_sft", lambda *a, **k: {})
    monkeypatch.setattr("inbol.training.ca_dpo.write_reference", lambda *a, **k: {})
    monkeypatch.setattr("inbol.models.answerer.load_in_process", lambda *a, **k: SimpleNamespace())
    monkeypatch.setattr("inbol.evaluation.evaluate.evaluate_answerer", lambda *a, **k: ([], {}))
    monkeypatch.setattr(search, "score_rows", lambda names, *a, **k: [{"config": names[0], "best": True}])
    p = params(ca_dpo={"sft_weight": 0.75})
    with pytest.raises(Trained):
        search.run_search(p, {"idk_it": [{}], "ca_dpo": [{}]}, constructed=tmp_path / "c", base_model=tmp_path / "b",
                          valsets_dir=tmp_path / "v", work=tmp_path / "work")  # fmt: skip
    assert seen["kind"] == "ca_dpo" and seen["sft_weight"] == 0.75


# ------------------------------------------------------------------ scripts/compare_fixes.py: a re-run on its copy


SEEDS = (0, 1)


def fake_copy(tmp_path, **base):
    """A copy as compare_fixes makes it: the saved base params, and params.yaml left at ``base``'s changes."""
    import yaml

    from inbol.compare_options import BASE, merge

    dest = tmp_path / "copy"
    (dest / BASE).parent.mkdir(parents=True)
    params = {"seeds": list(SEEDS), "idk_it": {"size": 8}, "preference": {"size": 12, "ratio": [1, 1, 2]},
              "ca_dpo": {"sft_weight": 0.0}}  # fmt: skip
    (dest / BASE).write_text(yaml.safe_dump(params, sort_keys=False))
    (dest / "params.yaml").write_text(yaml.safe_dump(merge(params, base), sort_keys=False))  # a stale option
    return dest, params


class FakeDvc:
    """Records the copy's params.yaml at each call and writes what `dvc repro <stage>` would."""

    def __init__(self, dest, known_in_idk_it=3, known=9):
        self.dest, self.calls, self.known_in_idk_it, self.known = dest, [], known_in_idk_it, known

    def __call__(self, *args):
        import json

        import yaml

        params = yaml.safe_load((self.dest / "params.yaml").read_text())
        self.calls.append((args, params))
        m = self.dest / "metrics"
        for seed in SEEDS:
            # known_disjoint: true makes "available" the Known questions outside IDK-IT's set
            known = self.known - (self.known_in_idk_it if params["preference"].get("known_disjoint") else 0)
            construct = {"preference": {"available": {"known": known}}, "idk_it": {"taken": {"known": 3}}}
            (m / "construct").mkdir(parents=True, exist_ok=True)
            (m / "construct" / f"s{seed}.json").write_text(json.dumps(construct))
            if args == ("repro", "evaluate_val"):
                for d in ("train", "eval_val"):
                    (m / d).mkdir(parents=True, exist_ok=True)
                (self.dest / "data" / "predictions_val").mkdir(parents=True, exist_ok=True)
                for model in ("idk_it", "ca_dpo"):
                    stamp = json.dumps({"steps": 1, "params": params})
                    (m / "train" / f"{model}-s{seed}.json").write_text(stamp)
                    (m / "eval_val" / f"{model}-s{seed}.json").write_text(json.dumps({"sets": {}}))
                    (self.dest / "data" / "predictions_val" / f"{model}-s{seed}.jsonl").write_text(stamp + "\n")


def option_changes(names=("baseline", "known_disjoint", "sft_weight"), size=12):
    from inbol.compare_options import merge, overrides

    return {o: merge({"preference": {"size": size}}, overrides(o, 0.5, 0.3)) for o in names}


def test_each_option_runs_on_the_base_params_and_the_copy_ends_at_the_base(tmp_path):
    import yaml

    from inbol.compare_options import merge, run_options

    dest, base = fake_copy(tmp_path, preference={"known_disjoint": True}, ca_dpo={"sft_weight": 2.0})
    run = FakeDvc(dest)
    changes = option_changes()
    kept = run_options(dest, changes, SEEDS, run)
    assert [a for a, _ in run.calls] == [("repro", "evaluate_val")] * 3
    for (_, seen), (option, c) in zip(run.calls, changes.items()):
        assert seen == merge(base, c), option  # nothing of the stale params.yaml nor of the option before
    assert yaml.safe_load((dest / "params.yaml").read_text()) == base
    assert sorted(kept) == sorted(changes) and all((kept[o] / "changes.json").is_file() for o in changes)


def test_the_size_is_read_from_construct_on_the_base_params(tmp_path):
    import yaml

    from inbol.compare_options import auto_size

    # left at known_disjoint: true, construct's "available" would already exclude IDK-IT's Known questions
    dest, base = fake_copy(tmp_path, preference={"known_disjoint": True, "size": 4})
    run = FakeDvc(dest, known_in_idk_it=3, known=9)
    size = auto_size(dest, run)
    assert run.calls == [(("repro", "construct"), base)]
    assert size == 12  # 9 - 3 = 6 Known fit outside IDK-IT: the whole quota of 12 (1:1:2 -> 6 Known)
    assert yaml.safe_load((dest / "params.yaml").read_text()) == base


def test_a_rerun_reuses_the_options_already_finished_with_the_same_changes(tmp_path):
    import json
    import shutil

    from inbol.compare_options import run_options

    dest, _ = fake_copy(tmp_path)
    first = FakeDvc(dest)
    run_options(dest, option_changes(), SEEDS, first)
    saved = {o: (dest / "compare_fixes" / o / "ca_dpo-s1.jsonl").read_text() for o in option_changes()}
    # an interrupted option: its predictions are gone; another's changes differ (a new --sft-weight)
    (dest / "compare_fixes" / "known_disjoint" / "idk_it-s0.jsonl").unlink()
    again = FakeDvc(dest)
    changes = option_changes()
    changes["sft_weight"]["ca_dpo"]["sft_weight"] = 1.0
    kept = run_options(dest, changes, SEEDS, again)
    ran = [json.loads((kept[o] / "train-idk_it-s0.json").read_text())["params"] for o in changes]
    assert len(again.calls) == 2 and [c[1] for c in again.calls] == ran[1:]
    assert (kept["baseline"] / "ca_dpo-s1.jsonl").read_text() == saved["baseline"]  # reused as it was
    assert json.loads((kept["sft_weight"] / "changes.json").read_text())["ca_dpo"]["sft_weight"] == 1.0
    # all done: nothing runs
    third = FakeDvc(dest)
    run_options(dest, changes, SEEDS, third)
    assert third.calls == []
    # a folder without its changes.json (a run stopped while copying) is not reused
    (kept["baseline"] / "changes.json").unlink()
    shutil.rmtree(dest / "data")
    fourth = FakeDvc(dest)
    run_options(dest, changes, SEEDS, fourth)
    assert len(fourth.calls) == 1
