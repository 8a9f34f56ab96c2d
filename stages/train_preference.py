"""Stage `train_preference@<method>-<seed>`: every preference method of `models.from_idk_it`, from the IDK-IT
model, which is also the frozen reference (its log-probs: the `reference` stage's table).  The method's spec
(src/inbol/methods/<method>.py) names its training set (<data>/<spec.data>.jsonl) and its loss: CA-DPO (paper
section 3.3, equation 6) on the preference records, or a TRL DPOConfig loss_type on plain pairs (plain DPO on
the data variants of Table 4, section 4.3.3: Mixed as (1) refusal > incorrect, (2) correct > incorrect,
(3) both; IPO, ...).

    python stages/train_preference.py --method ca_dpo --seed 0 --data data/constructed/s0
        --reference data/reference/s0.json --start models/idk_it/s0 --out models/ca_dpo/s0 --work ... --live ...
        --metrics ...

dvc.yaml runs it under `accelerate launch --config_file <train.launcher>`; only the main process writes.
Reads params `lora`, `train`, `dpo`, `ca_dpo` (CA-DPO's loss options), `prompt`.  A killed run resumes from its last checkpoint.
"""

from inbol.errors import ParamError, run_stage, stage_args
from inbol.io import write_json
from inbol.methods.spec import CA_DPO_LOSS, load
from inbol.schema.core import load_sections
from inbol.schema.dpo import CADPO, DPO
from inbol.schema.prompt import Prompt
from inbol.schema.training import Lora, Train
from inbol.training.ca_dpo import train_preference
from inbol.training.runtime import check_launcher, is_main_process, publish_dir


def main() -> None:
    args = stage_args(__doc__, "method", "data", "reference", "start", "out", "work", "live", "metrics", seed=int)
    spec = load(args.method)  # one line when the method is not in the registry
    if spec.kind != "preference":
        raise ParamError(
            f"--method {spec.name!r}: a {spec.kind} method; this stage trains kind preference (models.from_idk_it)"
        )
    p = load_sections(ca_dpo=CADPO, dpo=DPO, lora=Lora, prompt=Prompt, train=Train)
    check_launcher(p.train.launcher)  # one line when the launch disagrees with the GPUs
    kind = "ca_dpo" if spec.loss == CA_DPO_LOSS else "dpo"
    with publish_dir(args.out) as out:
        metrics = train_preference(
            f"{args.data}/{spec.data}.jsonl",
            args.start,
            out,
            kind=kind,
            loss_type=spec.loss,
            lora=p.lora,
            train=p.train,
            dpo=p.dpo,
            seed=args.seed,
            work_dir=args.work,
            system=p.prompt.system,
            reference=args.reference,
            live_dir=args.live,
            name=spec.name,
            sft_weight=p.ca_dpo.sft_weight if kind == "ca_dpo" else 0.0,
        )
    if is_main_process():
        write_json(args.metrics, metrics)


if __name__ == "__main__":
    run_stage(main)
