"""Stages `sweep_threshold@<delta_k>-<delta_uk>-<seed>`, `sweep_known_ratio@<r>-<seed>`,
`sweep_composition@<w>-<seed>`: one cell of the appendix-G sweeps (inbol.sweep) for one seed: build the
cell's training set, train (IDK-IT, or CA-DPO for composition cells) with the sweep budget, evaluate in
domain and out of domain.

    python stages/sweep_cell.py threshold 0.8 0.2 --seed 0 --pool ... --unanswerable ... --testsets ...
        --start models/base --out data/sweep/threshold/k0.8_uk0.2/s0 --work models/.ckpt/sweep/...

Reads params `sweep.budget`, `lora`, `train`, `evaluate`, `judge`, `prompt`, and: `idk_it` (threshold
cells); `idk_it` + `sweep.thresholds` (known_ratio cells); `preference` + `dpo` + `ca_dpo` +
`sweep.thresholds` (composition cells); never the top-level thresholds or the grid lists.
"""

import argparse

from inbol.errors import run_stage
from inbol.io import write_json
from inbol.records import read_questions
from inbol.schema.core import load_sections
from inbol.schema.data import IDKITData, PreferenceData
from inbol.schema.dpo import CADPO, DPO
from inbol.schema.evaluate import Evaluate
from inbol.schema.judge import Judge
from inbol.schema.prompt import Prompt
from inbol.schema.restructure import Restructure
from inbol.schema.sweep import Sweep
from inbol.schema.training import Lora, Train
from inbol.sweep import cell_name, cell_result, cell_valid, parse_cell_args
from inbol.sweep.data import cell_data
from inbol.sweep.run import run_cell
from inbol.training.runtime import check_launcher, publish_dir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("cell", nargs="+", help="threshold DELTA_K DELTA_UK | known_ratio R | composition W")
    ap.add_argument("--seed", required=True, type=int)
    ap.add_argument("--pool", required=True)
    ap.add_argument("--unanswerable", required=True)
    ap.add_argument("--testsets", required=True)
    ap.add_argument("--start", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    kind, values = parse_cell_args(args.cell)
    p = load_sections(
        ca_dpo=CADPO,
        dpo=DPO,
        evaluate=Evaluate,
        idk_it=IDKITData,
        judge=Judge,
        lora=Lora,
        preference=PreferenceData,
        prompt=Prompt,
        restructure=Restructure,
        sweep=Sweep,
        train=Train,
    )
    check_launcher(p.train.launcher)  # one line when the launch disagrees with the GPUs
    if not cell_valid(kind, values):  # delta_k <= delta_uk: outside the paper's grid
        with publish_dir(args.out) as tmp:
            write_json(tmp / "cell.json", {**cell_result(kind, values, None), "seed": args.seed})
        return
    thresholds = None if kind == "threshold" else p.sweep.thresholds
    records, report = cell_data(
        kind,
        values,
        read_questions(args.pool, nonempty=True),
        read_questions(args.unanswerable, nonempty=True),
        thresholds=thresholds,
        budget=p.sweep.budget,
        idk_it=p.idk_it,
        preference=p.preference,
        seed=args.seed,
        refusal_templates=p.restructure.refusal_templates,
    )
    with publish_dir(args.out) as tmp:  # the main process writes; the others only train
        summary = run_cell(
            kind,
            values,
            tmp,
            records=records,
            start_model=args.start,
            work_dir=args.work,
            p=p,
            seed=args.seed,
            testsets_dir=args.testsets,
            data_report=report,
        )
    if summary is None:  # not the main process
        return
    print(
        f"{kind} {cell_name(kind, *values)} seed {args.seed}: S_trust in domain {summary['in_domain']['s_trust']}, "
        f"OOD {summary['ood']['s_trust']}"
    )


if __name__ == "__main__":
    run_stage(main)
