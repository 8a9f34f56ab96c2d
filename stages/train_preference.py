"""Stages `train_ca_dpo@<seed>` and `train_dpo@<variant>-<seed>`: CA-DPO (paper section 3.3, equation 6) on
the preference records, or plain DPO on a DPO data variant (section 4.3.3, Table 4: Mixed as (1) refusal >
incorrect, (2) correct > incorrect, (3) both), from the IDK-IT model, which is also the frozen reference.

    python stages/train_preference.py --kind ca_dpo --name ca_dpo --seed 0 --data .../preference.jsonl
        --start models/idk_it/s0 --out models/ca_dpo/s0 --work ... --live ... --metrics ...

dvc.yaml runs it under `accelerate launch --config_file <train.launcher>`; only the main process writes.
Reads params `lora`, `train`, `dpo`, `prompt`.  A killed run resumes from its last checkpoint.
"""

from inbol.errors import ParamError, run_stage, stage_args
from inbol.io import write_json
from inbol.schema.core import load_sections
from inbol.schema.dpo import DPO
from inbol.schema.prompt import Prompt
from inbol.schema.training import Lora, Train
from inbol.training.ca_dpo import train_preference
from inbol.training.runtime import check_launcher, is_main_process, publish_dir


def main() -> None:
    args = stage_args(__doc__, "kind", "name", "data", "reference", "start", "out", "work", "live", "metrics", seed=int)
    if args.kind not in ("ca_dpo", "dpo"):
        raise ParamError(f"--kind {args.kind!r}: must be ca_dpo or dpo")
    p = load_sections(dpo=DPO, lora=Lora, prompt=Prompt, train=Train)
    check_launcher(p.train.launcher)  # one line when the launch disagrees with the GPUs
    with publish_dir(args.out) as out:
        metrics = train_preference(
            args.data,
            args.start,
            out,
            kind=args.kind,
            lora=p.lora,
            train=p.train,
            dpo=p.dpo,
            seed=args.seed,
            work_dir=args.work,
            system=p.prompt.system,
            reference=args.reference,
            live_dir=args.live,
            name=args.name,
        )
    if is_main_process():
        write_json(args.metrics, metrics)


if __name__ == "__main__":
    run_stage(main)
