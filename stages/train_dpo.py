"""Stage `train_dpo@N` (N = 1, 2, 3): plain DPO on the paper's data variant (N) (section 4.3.3, Table 4:
Mixed as (1) refusal > incorrect, (2) correct > incorrect, (3) both), with the CA-DPO trainer at weight 1,
from the IDK-IT model (also the reference).

    python stages/train_dpo.py 2

Reads params `lora`, `train`, `dpo`; data/constructed/dpo_N.jsonl and models/idk_it.  Writes models/dpo_N/,
metrics/train/dpo_N.json and dvclive/dpo_N/.  A killed run resumes from models/.ckpt/dpo_N/.
"""
import sys

from inbol.config import ParamError, load_params, load_section, run_stage
from inbol.io import write_json
from inbol.training import DPOParams, LoraParams, TrainParams, is_main_process, publish_dir, train_preference

VARIANTS = ("1", "2", "3")


def main() -> None:
    variant = sys.argv[1] if len(sys.argv) == 2 else None
    if variant not in VARIANTS:
        raise ParamError(f"train_dpo variant = {variant!r}: must be one of {', '.join(VARIANTS)} "
                         f"(usage: python stages/train_dpo.py N)")
    name, data = f"dpo_{variant}", f"data/constructed/dpo_{variant}.jsonl"
    params = load_params()
    lora = load_section(LoraParams, "lora", params)
    train = load_section(TrainParams, "train", params)
    dpo = load_section(DPOParams, "dpo", params)
    with publish_dir(f"models/{name}") as out:
        metrics = train_preference(data, "models/idk_it", out, kind="dpo", lora=lora, train=train, dpo=dpo,
                                   work_dir=f"models/.ckpt/{name}", live_dir=f"dvclive/{name}", name=name)
    if is_main_process():
        write_json(f"metrics/train/{name}.json", metrics)


if __name__ == "__main__":
    run_stage(main)
