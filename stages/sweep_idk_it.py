"""Stage `sweep_idk_it`: the IDK-IT model the CA-DPO composition cells start from (Figure 11b): IDK-IT data
at `sweep.thresholds` with `idk_it.known_ratio`, trained with the sweep budget, so that no sweep cell
depends on the top-level delta_k/delta_uk.  Writes models/sweep/idk_it/ and metrics/train/sweep_idk_it.json.
"""
from inbol.boundary import IDKITDataConfig, load_subset, read_records
from inbol.confidence import RestructureConfig
from inbol.config import load_params, load_section, run_stage
from inbol.io import write_json, write_jsonl
from inbol.sweep import SweepBudget, SweepThresholds, cell_data
from inbol.training import LoraParams, TrainParams, is_main_process, publish_dir, train_sft

POOL, KEPT, OUT, WORK = ("data/restructured/pool.jsonl", "data/unanswerable/kept.jsonl", "models/sweep/idk_it",
                         "models/.ckpt/sweep/idk_it")


def main() -> None:
    params = load_params()
    budget = load_section(SweepBudget, "sweep.budget", params)
    thresholds = load_section(SweepThresholds, "sweep.thresholds", params)
    idk_it = load_subset(IDKITDataConfig, "idk_it", params)
    lora = load_section(LoraParams, "lora", params)
    train = load_section(TrainParams, "train", params)
    refusals = load_section(RestructureConfig, "restructure", params).refusal_templates
    records, report = cell_data("known_ratio", (idk_it.known_ratio,), read_records(POOL), read_records(KEPT),
                                thresholds=thresholds, budget=budget, idk_it=idk_it, preference=None,
                                refusal_templates=refusals)
    data = f"{WORK}.jsonl"
    write_jsonl(data, records)
    with publish_dir(OUT) as out:
        metrics = train_sft(data, "models/base", out, lora=lora, train=budget.train(train), work_dir=WORK,
                            name="sweep_idk_it")
    if is_main_process():
        write_json("metrics/train/sweep_idk_it.json", {**metrics, "data": report,
                                                       "thresholds": vars(thresholds)})


if __name__ == "__main__":
    run_stage(main)
