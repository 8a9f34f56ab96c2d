"""Stages `train_idk_it` and `train_sft`: LoRA supervised tuning of the original model.

    python stages/train_sft.py idk_it   # IDK instruction tuning (paper section 3.3)
    python stages/train_sft.py sft      # the SFT baseline (section 4.1.2): ground truth / refusals

Reads params `lora`, `train`; data/constructed/<name>.jsonl and models/base.  Writes models/<name>/ (merged
model + processor; LoRA adapter in adapter/), metrics/train/<name>.json and dvclive/<name>/.  A killed run
resumes from its last checkpoint in models/.ckpt/<name>/ when the stage runs again.
"""
import sys

from inbol.config import ParamError, load_params, load_section, run_stage
from inbol.io import write_json
from inbol.training import LoraParams, TrainParams, is_main_process, publish_dir, train_sft

NAMES, START = ("idk_it", "sft"), "models/base"


def main() -> None:
    name = sys.argv[1] if len(sys.argv) == 2 else None
    if name not in NAMES:
        raise ParamError(f"train_sft name = {name!r}: must be one of {', '.join(NAMES)} "
                         f"(usage: python stages/train_sft.py idk_it|sft)")
    params = load_params()
    lora = load_section(LoraParams, "lora", params)
    train = load_section(TrainParams, "train", params)
    with publish_dir(f"models/{name}") as out:
        metrics = train_sft(f"data/constructed/{name}.jsonl", START, out, lora=lora, train=train,
                            work_dir=f"models/.ckpt/{name}", live_dir=f"dvclive/{name}", name=name)
    if is_main_process():
        write_json(f"metrics/train/{name}.json", metrics)


if __name__ == "__main__":
    run_stage(main)
