"""Stages `sweep_threshold@<delta_k>-<delta_uk>`, `sweep_known_ratio@<r>`, `sweep_composition@<w>`: one cell
of the appendix-G sweeps (inbol.sweep): build the cell's training set, train (IDK-IT, or CA-DPO for
composition cells) with the sweep budget, evaluate in domain and out of domain.

    python stages/sweep_cell.py threshold 0.8 0.2 | known_ratio 0.75 | composition 2

Reads params `sweep.budget`, `lora`, `train`, `evaluate`, `judge`, and: `idk_it` (threshold cells);
`idk_it` + `sweep.thresholds` (known_ratio cells); `preference` + `dpo` + `sweep.thresholds` (composition
cells); never the top-level thresholds or the grid lists.  Writes
data/sweep/<kind>/<cell>/ (cell.json, predictions.jsonl, adapter/).
"""
import sys

from inbol.config import load_params, load_section, run_stage
from inbol.io import atomic_dir, write_json
from inbol.sweep import (ROOT, SweepBudget, SweepThresholds, cell_data, cell_name, cell_result, cell_valid,
                         parse_cell_args, run_cell)

POOL, KEPT = "data/restructured/pool.jsonl", "data/unanswerable/kept.jsonl"
START = {"threshold": "models/base", "known_ratio": "models/base", "composition": "models/sweep/idk_it"}


def main() -> None:
    kind, values = parse_cell_args(sys.argv[1:])
    name = cell_name(kind, *values)
    out = ROOT / kind / name
    if not cell_valid(kind, values):              # delta_k <= delta_uk: outside the paper's grid
        with atomic_dir(out) as tmp:
            write_json(tmp / "cell.json", cell_result(kind, values, None))
        return
    # the rest imports torch & co. (seconds): not needed by the skipped cells above
    from inbol.boundary import IDKITDataConfig, PreferenceDataConfig, load_subset, read_records
    from inbol.confidence import RestructureConfig
    from inbol.evaluation import EvaluateConfig
    from inbol.judge import JudgeConfig
    from inbol.training import DPOParams, LoraParams, TrainParams

    params = load_params()
    budget = load_section(SweepBudget, "sweep.budget", params)
    if kind == "composition":                  # CA-DPO cells: preferences at sweep.thresholds
        thresholds = load_section(SweepThresholds, "sweep.thresholds", params)
        idk_it, preference = None, load_subset(PreferenceDataConfig, "preference", params)
        dpo = load_section(DPOParams, "dpo", params)
    else:                                      # IDK-IT cells
        thresholds = None if kind == "threshold" else load_section(SweepThresholds, "sweep.thresholds", params)
        idk_it, preference, dpo = load_subset(IDKITDataConfig, "idk_it", params), None, None
    lora = load_section(LoraParams, "lora", params)
    train = load_section(TrainParams, "train", params)
    evaluate_cfg = load_section(EvaluateConfig, "evaluate", params)
    judge_cfg = load_section(JudgeConfig, "judge", params)
    refusals = load_section(RestructureConfig, "restructure", params).refusal_templates
    records, report = cell_data(kind, values, read_records(POOL), read_records(KEPT), thresholds=thresholds,
                                budget=budget, idk_it=idk_it, preference=preference, refusal_templates=refusals)
    with atomic_dir(out) as tmp:
        summary = run_cell(kind, values, tmp, records=records, start_model=START[kind],
                           work_dir=f"models/.ckpt/sweep/{kind}/{name}", lora=lora, train=train, dpo=dpo,
                           budget=budget, evaluate_cfg=evaluate_cfg, judge_cfg=judge_cfg, data_report=report)
    print(f"{kind} {name}: S_trust in domain {summary['in_domain']['s_trust']}, OOD {summary['ood']['s_trust']}")


if __name__ == "__main__":
    run_stage(main)
