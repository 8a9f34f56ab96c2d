"""The verdicts across worlds (inbol.worlds): a claim holds only where it holds on every world."""

from __future__ import annotations

import json

import pytest
import yaml

from inbol import worlds
from inbol.errors import DataError, ParamError
from inbol.evaluation.tables import CHECKS


def _diff(mean, lo, hi):
    return {"mean": mean, "lo": lo, "hi": hi, "level": 0.95, "n_boot": 10}


def _run(folder, seed, verdicts):
    """A run folder with params.yaml (the world's seeds) and metrics/trends.json holding, in domain, the
    given verdict for each claim key; out of domain nothing was checked."""
    (folder / "metrics").mkdir(parents=True)
    params = {"world": {"seed": seed}, "base_model": {"seed": seed, "pretrain": {"seed": seed}}}
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    ranges = {"holds": (2.0, 1.0, 3.0), "does not hold": (-2.0, -3.0, -1.0), "inconclusive": (0.5, -1.0, 2.0)}
    in_domain = {k: {"diff": _diff(*ranges[v]), "verdict": v} for k, v in verdicts.items()}
    cells = {
        "base": {"in_domain": {"s_trust": _diff(-4.0, -6.0, -2.0)}, "sets": {"emblem": {"acc": _diff(55, 50, 60)}}}
    }
    trends = {"in_domain": in_domain, "ood": {}, "cells": cells, "awareness": {"models": {}}}
    (folder / "metrics" / "trends.json").write_text(json.dumps(trends))
    return folder


def test_across_needs_every_world_to_agree():
    assert worlds.across(["holds", "holds"]) == "holds on every world"
    assert worlds.across(["does not hold", "does not hold"]) == "does not hold on every world"
    assert worlds.across(["holds", "inconclusive"]) == "not established"
    assert worlds.across(["holds", "does not hold"]) == "not established"
    assert worlds.across(["holds", "not checked"]) == "not established"
    assert worlds.across([]) == "not established"


def test_claims_and_page_from_two_worlds(tmp_path):
    k1, k2, k3 = (c[0] for c in CHECKS[:3])
    a = _run(tmp_path / "a", 0, {k1: "holds", k2: "holds", k3: "does not hold"})
    b = _run(tmp_path / "b", 1, {k1: "holds", k2: "inconclusive", k3: "does not hold"})
    runs = {"default": worlds.read_run(a), "world-1": worlds.read_run(b)}
    assert runs["world-1"]["seeds"] == {"world.seed": 1, "base_model.seed": 1, "base_model.pretrain.seed": 1}
    rows = worlds.claims(runs)
    by = {(r["scope"], r["key"]): r["across"] for r in rows}
    assert by[("in_domain", k1)] == "holds on every world"
    assert by[("in_domain", k2)] == "not established"
    assert by[("in_domain", k3)] == "does not hold on every world"
    # every other claim, and every out-of-domain one, was not checked: never counted as holding
    assert worlds.counts(rows) == {
        "holds on every world": 1,
        "does not hold on every world": 1,
        "not established": 2 * len(CHECKS) - 2,
    }
    text = "\n".join(worlds.markdown(runs, rows))
    assert "- default: 2 hold / 0 inconclusive / 1 do not hold" in text
    assert "- world-1: 1 hold / 1 inconclusive / 1 do not hold" in text
    assert "+0.5 [-1.0, +2.0] inconclusive" in text
    assert "| emblem | 55.0 | 55.0 |" in text


def test_main_writes_the_page_and_refuses_bad_runs(tmp_path):
    k1 = CHECKS[0][0]
    a = _run(tmp_path / "a", 0, {k1: "holds"})
    b = _run(tmp_path / "b", 1, {k1: "holds"})
    out = tmp_path / "worlds.md"
    worlds.main(["--run", f"default={a}", "--run", f"world-1={b}", "--out", str(out)])
    assert "holds on every world" in out.read_text()
    with pytest.raises(ParamError, match="NAME=DIR"):
        worlds.main(["--run", str(a), "--out", str(out)])
    with pytest.raises(ParamError, match="names must differ"):
        worlds.main(["--run", f"x={a}", "--run", f"x={b}", "--out", str(out)])
    with pytest.raises(DataError, match="trends.json: not found"):
        worlds.main(["--run", f"x={a}", "--run", f"y={tmp_path / 'none'}", "--out", str(out)])
