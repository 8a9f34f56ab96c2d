"""Stage `train_ca_dpo`: CA-DPO (paper section 3.3, equation 6) from the IDK-IT model, which is also the
frozen reference.

Reads params `lora`, `train`, `dpo`; data/constructed/preference.jsonl and models/idk_it.  Writes
models/ca_dpo/ (merged model + processor; LoRA adapter in adapter/), metrics/train/ca_dpo.json and
dvclive/ca_dpo/.  A killed run resumes from its last checkpoint in models/.ckpt/ca_dpo/.
"""
from inbol.config import load_params, load_section, run_stage
from inbol.io import write_json
from inbol.training import DPOParams, LoraParams, TrainParams, is_main_process, publish_dir, train_preference

NAME, DATA, START = "ca_dpo", "data/constructed/preference.jsonl", "models/idk_it"


def main() -> None:
    params = load_params()
    lora = load_section(LoraParams, "lora", params)
    train = load_section(TrainParams, "train", params)
    dpo = load_section(DPOParams, "dpo", params)
    with publish_dir(f"models/{NAME}") as out:
        metrics = train_preference(DATA, START, out, kind="ca_dpo", lora=lora, train=train, dpo=dpo,
                                   work_dir=f"models/.ckpt/{NAME}", live_dir=f"dvclive/{NAME}", name=NAME)
    if is_main_process():
        write_json(f"metrics/train/{NAME}.json", metrics)


if __name__ == "__main__":
    run_stage(main)
