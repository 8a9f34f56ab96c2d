"""Stage `construct`: the Known/Mixed/Unknown split at delta_k/delta_uk and the training sets built from it
(IDK instructions, CA-DPO preferences, plain-DPO variants (1)(2)(3), SFT baseline) + metrics."""
import sys

from inbol.boundary import (SET_NAMES, IDKITDataConfig, PreferenceDataConfig, SFTDataConfig, check_thresholds,
                            construct, load_subset, read_records)
from inbol.config import load_params, load_section, run_stage
from inbol.confidence import RestructureConfig
from inbol.io import atomic_dir, write_json, write_jsonl

POOL, KEPT = "data/restructured/pool.jsonl", "data/unanswerable/kept.jsonl"
OUT, METRICS = "data/constructed", "metrics/construct.json"


def main() -> None:
    params = load_params()
    delta_k, delta_uk = check_thresholds(params.get("delta_k"), params.get("delta_uk"))
    idk_it = load_subset(IDKITDataConfig, "idk_it", params)
    preference = load_subset(PreferenceDataConfig, "preference", params)
    sft = load_subset(SFTDataConfig, "sft", params)
    refusals = load_section(RestructureConfig, "restructure", params).refusal_templates
    sets, metrics = construct(read_records(POOL), read_records(KEPT), delta_k=delta_k, delta_uk=delta_uk,
                              idk_it=idk_it, preference=preference, sft=sft, names=(POOL, KEPT),
                              refusal_templates=refusals)
    with atomic_dir(OUT) as tmp:
        for name in SET_NAMES:
            write_jsonl(tmp / f"{name}.jsonl", sets[name])
    write_json(METRICS, metrics)
    for w in metrics["warnings"]:
        print(f"warning: {w}", file=sys.stderr)


if __name__ == "__main__":
    run_stage(main)
