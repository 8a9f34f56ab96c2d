"""Stage `sweep_idk_it@<seed>`: the IDK-IT model the CA-DPO composition cells start from (Figure 11b): IDK-IT
data at `sweep.thresholds` with `idk_it.known_ratio`, trained with the sweep budget, so that no sweep cell
depends on the top-level delta_k/delta_uk."""

from inbol.errors import run_stage, stage_args
from inbol.io import write_json
from inbol.records import read_questions
from inbol.schema.core import load_sections
from inbol.schema.data import IDKITData
from inbol.schema.prompt import Prompt
from inbol.schema.restructure import Restructure
from inbol.schema.sweep import Sweep
from inbol.schema.training import Lora, Train
from inbol.sweep.data import cell_data
from inbol.training.runtime import check_launcher, is_main_process, publish_dir, write_training_set
from inbol.training.sft import train_sft


def main() -> None:
    args = stage_args(__doc__, "pool", "unanswerable", "start", "out", "work", "metrics", seed=int)
    p = load_sections(idk_it=IDKITData, lora=Lora, prompt=Prompt, restructure=Restructure, sweep=Sweep, train=Train)
    check_launcher(p.train.launcher)  # one line when the launch disagrees with the GPUs
    records, report = cell_data(
        "known_ratio",
        (p.idk_it.known_ratio,),
        read_questions(args.pool, nonempty=True),
        read_questions(args.unanswerable, nonempty=True),
        thresholds=p.sweep.thresholds,
        budget=p.sweep.budget,
        idk_it=p.idk_it,
        preference=None,
        seed=args.seed,
        refusal_templates=p.restructure.refusal_templates,
    )
    data = write_training_set(f"{args.work}.jsonl", records)
    with publish_dir(args.out) as out:
        metrics = train_sft(
            data,
            args.start,
            out,
            lora=p.lora,
            train=p.sweep.budget.train(p.train),
            seed=args.seed,
            work_dir=args.work,
            system=p.prompt.system,
            name="sweep_idk_it",
        )
    if is_main_process():
        write_json(args.metrics, {**metrics, "data": report, "thresholds": p.sweep.thresholds.model_dump()})


if __name__ == "__main__":
    run_stage(main)
