"""Stage `reference@<seed>`: the reference log-probs (the IDK-IT model's) of every distinct sequence of the
seed's CA-DPO preferences, one pass that CA-DPO and the plain DPO variants (1)(2)(3) all read (they use the
same questions and responses)."""

from inbol.errors import run_stage, stage_args
from inbol.io import write_json
from inbol.schema.core import load_sections
from inbol.schema.dpo import DPO
from inbol.schema.prompt import Prompt
from inbol.schema.training import Lora, Train
from inbol.training.ca_dpo import write_reference
from inbol.training.runtime import check_launcher, is_main_process


def main() -> None:
    args = stage_args(__doc__, "data", "start", "out", "metrics", seed=int)
    p = load_sections(dpo=DPO, lora=Lora, prompt=Prompt, train=Train)
    check_launcher(p.train.launcher)  # one line when the launch disagrees with the GPUs
    stats = write_reference(
        args.data, args.start, args.out, lora=p.lora, train=p.train, dpo=p.dpo, seed=args.seed, system=p.prompt.system
    )
    if is_main_process():
        write_json(args.metrics, {"seed": args.seed, "start_model": args.start, **stats})


if __name__ == "__main__":
    run_stage(main)
