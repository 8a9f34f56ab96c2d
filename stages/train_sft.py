"""Stage `train_sft@<method>-<seed>`: LoRA supervised tuning of the original model, for every method of kind
sft in `models.from_base` (IDK instruction tuning, paper section 3.3; the SFT baseline, section 4.1.2).

    python stages/train_sft.py --method idk_it --seed 0 --data data/constructed/s0 --start models/base
        --out models/idk_it/s0 --work models/.ckpt/idk_it/s0 --live dvclive/idk_it/s0 --metrics ...

The method's spec (src/inbol/methods/<method>.py) names its training set: <data>/<spec.data>.jsonl.
dvc.yaml runs it under `accelerate launch --config_file <train.launcher>`; only the main process writes.
Reads params `lora`, `train`, `prompt`.  A killed run resumes from its last checkpoint in the work folder.
"""

from inbol.errors import ParamError, run_stage, stage_args
from inbol.io import write_json
from inbol.methods.spec import load
from inbol.schema.core import load_sections
from inbol.schema.prompt import Prompt
from inbol.schema.training import Lora, Train
from inbol.training.runtime import check_launcher, is_main_process, publish_dir
from inbol.training.sft import train_sft


def main() -> None:
    args = stage_args(__doc__, "method", "data", "start", "out", "work", "live", "metrics", seed=int)
    spec = load(args.method)  # one line when the method is not in the registry
    if spec.kind != "sft":
        raise ParamError(f"--method {spec.name!r}: a {spec.kind} method; this stage trains kind sft (models.from_base)")
    p = load_sections(lora=Lora, train=Train, prompt=Prompt)
    check_launcher(p.train.launcher)  # one line when the launch disagrees with the GPUs
    with publish_dir(args.out) as out:
        metrics = train_sft(
            f"{args.data}/{spec.data}.jsonl",
            args.start,
            out,
            lora=p.lora,
            train=p.train,
            seed=args.seed,
            work_dir=args.work,
            system=p.prompt.system,
            live_dir=args.live,
            name=spec.name,
        )
    if is_main_process():
        write_json(args.metrics, metrics)


if __name__ == "__main__":
    run_stage(main)
