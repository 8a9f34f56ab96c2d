"""Stage `train_idk_it`: IDK instruction tuning (paper section 3.3) of the original model with LoRA.

Reads params `lora`, `train`; data/constructed/idk_it.jsonl and models/base.  Writes models/idk_it/ (merged
model + processor; LoRA adapter in adapter/), metrics/train/idk_it.json and dvclive/idk_it/.  A killed run
resumes from its last checkpoint in models/.ckpt/idk_it/ when the stage runs again.
"""
from inbol.config import load_params, load_section, run_stage
from inbol.io import write_json
from inbol.training import LoraParams, TrainParams, is_main_process, publish_dir, train_sft

NAME, DATA, START = "idk_it", "data/constructed/idk_it.jsonl", "models/base"


def main() -> None:
    params = load_params()
    lora = load_section(LoraParams, "lora", params)
    train = load_section(TrainParams, "train", params)
    with publish_dir(f"models/{NAME}") as out:
        metrics = train_sft(DATA, START, out, lora=lora, train=train, work_dir=f"models/.ckpt/{NAME}",
                            live_dir=f"dvclive/{NAME}", name=NAME)
    if is_main_process():
        write_json(f"metrics/train/{NAME}.json", metrics)


if __name__ == "__main__":
    run_stage(main)
