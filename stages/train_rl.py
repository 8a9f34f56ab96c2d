"""Stage `train_rl@<method>-<seed>`: every RL method of `models.rl` (GRPO with the S_trust reward, beyond the
paper: +1 correct, 0 refusal, -1 incorrect by the project's judge), from the model its spec starts from (the
original model or the seed's IDK-IT model), on the questions of the constructed set its spec names, their gold
answers from the pool the constructed sets draw from.

    python stages/train_rl.py --method grpo --seed 0 --data data/constructed/s0 --pool data/restructured/pool.jsonl
        --unanswerable data/unanswerable/kept.jsonl --base models/base --idk-it models/idk_it/s0
        --out models/grpo/s0 --work ... --live ... --metrics ...

dvc.yaml runs it under `accelerate launch --config_file <train.launcher>`; only the main process writes.
Reads params `grpo`, `lora`, `train`, `prompt`, `judge`.  A killed run resumes from its last checkpoint.
"""

from inbol.errors import ParamError, run_stage, stage_args
from inbol.io import write_json
from inbol.judge.llm_judge import make_semantic_judge
from inbol.methods.spec import load
from inbol.schema.core import load_sections
from inbol.schema.grpo import GRPO
from inbol.schema.judge import Judge
from inbol.schema.prompt import Prompt
from inbol.schema.training import Lora, Train
from inbol.training.grpo import train_grpo
from inbol.training.runtime import check_launcher, is_main_process, publish_dir


def main() -> None:
    args = stage_args(
        __doc__, "method", "data", "pool", "unanswerable", "base", "idk_it", "out", "work", "live", "metrics", seed=int
    )
    spec = load(args.method)  # one line when the method is not in the registry
    if spec.kind != "rl":
        raise ParamError(f"--method {spec.name!r}: a {spec.kind} method; this stage trains kind rl (models.rl)")
    p = load_sections(grpo=GRPO, lora=Lora, train=Train, prompt=Prompt, judge=Judge)
    check_launcher(p.train.launcher)  # one line when the launch disagrees with the GPUs
    semantic = make_semantic_judge(p.judge)
    with publish_dir(args.out) as out:
        metrics = train_grpo(
            f"{args.data}/{spec.data}.jsonl",
            [args.pool, args.unanswerable],
            args.base if spec.start == "base" else args.idk_it,
            out,
            grpo=p.grpo,
            lora=p.lora,
            train=p.train,
            seed=args.seed,
            work_dir=args.work,
            system=p.prompt.system,
            semantic=semantic,
            lenient=p.judge.lenient,
            live_dir=args.live,
            name=spec.name,
        )
    if is_main_process():
        write_json(args.metrics, metrics)


if __name__ == "__main__":
    run_stage(main)
