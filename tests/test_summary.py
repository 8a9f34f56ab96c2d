"""The headline summary (src/inbol/summary.py, stage `summary`): metrics/summary.json is flat numbers built
from the report's metrics, the README's headline block agrees with it, and only it is declared `metrics:`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from inbol.errors import DataError
from inbol.summary import (
    BEGIN,
    END,
    build_summary,
    check_flat,
    check_readme,
    headline_block,
    replace_block,
    results_page,
)

ROOT = Path(__file__).resolve().parents[1]


def ci(mean, lo=None, hi=None):
    return {"mean": mean, "lo": lo, "hi": hi, "level": 0.95, "n_boot": 10}


def group(acc, refr, st, lo, hi):
    return {"acc": ci(acc, acc - 1, acc + 1), "refr": ci(refr, refr - 1, refr + 1), "s_trust": ci(st, lo, hi)}


def small_trends() -> dict:
    return {
        "cells": {
            "base": {"in_domain": group(50.0, 0.0, 0.0, -3.0, 3.0), "ood": group(40.0, 0.0, -20.0, -25.0, -15.0)},
            "idk_it": {
                "in_domain": group(30.0, 45.0, 5.0, 2.25, 7.75),
                "ood": group(20.0, 50.0, -10.0, -14.0, -6.0),
            },
        },
        "in_domain": {
            "refr_idk_it_gt_base": {"diff": ci(45.0, 40.0, 50.0), "verdict": "holds"},
            "strust_idk_it_gt_base": {"diff": ci(5.0, -1.0, 11.0), "verdict": "inconclusive"},
        },
        "ood": {
            "refr_idk_it_gt_base": {"diff": ci(50.0, 45.0, 55.0), "verdict": "holds"},
            "strust_idk_it_gt_base": {"diff": ci(10.0, 6.0, 14.0), "verdict": "does not hold"},
        },
        "n_hold": 2,
        "n_inconclusive": 1,
        "n_do_not_hold": 1,
    }


def small_selective() -> dict:
    def row(model, sc, st):
        cells = {s: {"s_trust": ci(st, st - 2, st + 2), "aurc": ci(30.0, 28.0, 32.0)} for s in ("in_domain", "ood")}
        return {"model": model, "self_consistency": sc, "cells": cells}

    return {
        "k": 5,
        "temperature": 1.0,
        "rows": {"Original": row("base", False, 99.0), "Original + sc": row("base", True, 12.0)},
    }


def test_build_summary_from_a_small_hand_made_input():
    s = build_summary(small_trends(), small_selective())
    assert s["idk_it.in_domain.acc"] == 30.0
    assert s["idk_it.in_domain.refr"] == 45.0
    assert (s["idk_it.in_domain.s_trust"], s["idk_it.in_domain.s_trust_lo"], s["idk_it.in_domain.s_trust_hi"]) == (
        5.0,
        2.25,
        7.75,
    )
    assert s["base.ood.s_trust"] == -20.0  # from trends.json, not the selective row's 99.0
    assert s["base_sc.in_domain.s_trust"] == 12.0 and s["base_sc.ood.s_trust_lo"] == 10.0
    assert s["trend.in_domain.refr_idk_it_gt_base.holds"] == 1
    assert s["trend.in_domain.strust_idk_it_gt_base.holds"] == 0
    assert s["trend.ood.strust_idk_it_gt_base.holds"] == -1
    assert s["trend.ood.refr_idk_it_gt_base.diff"] == 50.0
    assert (s["trend.n_hold"], s["trend.n_inconclusive"], s["trend.n_do_not_hold"]) == (2, 1, 1)
    assert check_flat(s) == []
    assert "base.in_domain.acc_lo" not in s  # CI bounds for S_trust only: the file stays small


def test_build_summary_leaves_out_undefined_values():
    t = small_trends()
    t["cells"]["idk_it"]["ood"]["s_trust"] = ci(-10.0)  # no interval
    t["ood"]["strust_idk_it_gt_base"]["verdict"] = "not checked"
    s = build_summary(t)
    assert s["idk_it.ood.s_trust"] == -10.0
    assert "idk_it.ood.s_trust_lo" not in s and "trend.ood.strust_idk_it_gt_base.holds" not in s
    assert check_flat(s) == []


def test_build_summary_bad_input_names_the_field():
    t = small_trends()
    del t["cells"]["idk_it"]["ood"]
    with pytest.raises(DataError, match=r"cells\.idk_it\.ood: missing"):
        build_summary(t)


def test_check_flat_names_the_file_and_field():
    bad = check_flat({"a.b": 1.0, "c": [1, 2], "d": {"e": 1}, "f": True, "g": float("nan")}, "x.json")
    assert len(bad) == 4
    assert bad[0] == "x.json: field 'c' is list [1, 2], expected a number"
    assert all(line.startswith("x.json: field '") and "\n" not in line for line in bad)


def test_metrics_summary_is_flat_numbers():
    path = ROOT / "metrics/summary.json"
    bad = check_flat(json.loads(path.read_text()), "metrics/summary.json")
    assert not bad, bad[0]


def test_readme_headline_agrees_with_metrics_summary():
    summary = json.loads((ROOT / "metrics/summary.json").read_text())
    bad = check_readme((ROOT / "README.md").read_text(), summary)
    assert not bad, bad[0]


def test_readme_check_fails_with_one_line_naming_file_and_field():
    summary = build_summary(small_trends(), small_selective())
    text = replace_block(f"# title\n\n{BEGIN}\n{END}\n\nrest\n", headline_block(summary))
    assert check_readme(text, summary) == []
    tampered = text.replace("5.0 [2.2, 7.8]", "5.0 [2.3, 7.8]")  # the +IDK-IT in-domain S_trust cell
    assert tampered != text
    bad = check_readme(tampered, summary)
    assert bad[0] == (
        "README.md: headline '+IDK-IT' 'in-domain S_trust [95% CI]' shows '5.0 [2.3, 7.8]', "
        "metrics/summary.json field 'idk_it.in_domain.s_trust' gives '5.0 [2.2, 7.8]'"
    )
    dropped = "\n".join(line for line in text.splitlines() if not line.startswith("| Original |"))
    assert check_readme(dropped, summary)[0].startswith("README.md: headline row 'Original' is missing")
    prose = text.replace("9 hold" if "9 hold" in text else "2 hold", "3 hold")
    assert check_readme(prose, summary) == [
        "README.md: the headline text differs from what metrics/summary.json renders (run `dvc repro -s summary`)"
    ]


def test_replace_block_keeps_the_rest_and_needs_the_markers():
    text = f"before\n{BEGIN}\nold\n{END}\nafter\n"
    out = replace_block(text, f"{BEGIN}\nnew\n{END}")
    assert out == f"before\n{BEGIN}\nnew\n{END}\nafter\n"
    with pytest.raises(DataError, match="README.md: the headline markers are missing"):
        replace_block("no markers", "x")


def test_results_page_from_a_small_input_quotes_one_source_per_number():
    t, sel = small_trends(), small_selective()
    diag = {"n": 10, "p_refusal_start_before": 0.1, "p_refusal_start_after": 0.25, "chosen_before": -1.0}
    train = [{"stage": "ca_dpo", "diagnostics": {"mixed": diag}}, {"stage": "idk_it"}]
    page = results_page(build_summary(t, sel), t, selective=sel, train=train)
    assert "| CA-DPO, mixed | 10 | 10.0 → 25.0 | -1.00 → – | – → – |" in page
    assert "| +IDK-IT | 30.0 | 45.0 | 5.0 [2.2, 7.8] | 20.0 | 50.0 | -10.0 [-14.0, -6.0] |" in page
    assert (
        "| S_trust(IDK-IT) > S_trust(original) | inconclusive, 5.0 [-1.0, 11.0] | does not hold, 10.0 [6.0, 14.0] |"
        in page
    )
    table5 = page[page.index("## Table 5") :]
    assert "| Original | 0.0 [-3.0, 3.0] |" in table5  # the plain row quotes trends.json, not selective's 99.0
    assert "| Original + self-consistency | 12.0 [10.0, 14.0] |" in table5
    assert "99.0" not in page


def test_only_the_headline_file_is_declared_metrics():
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    declared = []
    for name, stage in spec["stages"].items():
        for entry in stage.get("do", stage).get("metrics", []):
            declared.append((name, next(iter(entry)) if isinstance(entry, dict) else entry))
    assert declared == [("summary", "metrics/summary.json")]
    assert "metrics" not in spec  # no top-level metrics either


def test_summary_stage_reads_committed_metrics_only():
    stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["summary"]
    inputs = [d for d in stage["deps"] if not d.startswith(("src/", "stages/"))]
    assert inputs and all(d.startswith("metrics/") for d in inputs), inputs
    assert all((ROOT / d).exists() for d in stage["deps"])
