"""Stage `diagnose`: why trained refusal barely follows the original model's knowledge, on validation only
(inbol.diagnose, docs/evaluation.md): refusal on Known questions seen in training, unseen and in validation; a
probe of the original's hidden state for its own errors; the gold answer's log-probability before and after
each training; and counts of the constructed data, for every seed.

    python stages/diagnose.py --pool data/restructured/pool.jsonl --constructed data/constructed
        --valsets data/valsets --base models/base --models models --metrics metrics/diagnose.json
        --markdown metrics/diagnose.md
"""

from pathlib import Path

from inbol.diagnose import ModelLoader, diagnose, markdown
from inbol.errors import run_stage, stage_args
from inbol.evaluation import check_model_dir, load_testsets
from inbol.io import atomic_path, write_json
from inbol.judge.llm_judge import make_semantic_judge
from inbol.records import Instruction, Preference, read_questions, read_records
from inbol.schema.core import load_sections
from inbol.schema.diagnose import Diagnose
from inbol.schema.evaluate import Evaluate
from inbol.schema.judge import Judge
from inbol.schema.prompt import Prompt
from inbol.schema.sampling import Sampling


def main() -> None:
    args = stage_args(__doc__, "pool", "constructed", "valsets", "base", "models", "metrics", "markdown")
    p = load_sections(
        "delta_k", "seeds", diagnose=Diagnose, evaluate=Evaluate, judge=Judge, prompt=Prompt, sampling=Sampling
    )
    # every input read and checked before any model loads
    pool = read_questions(args.pool, nonempty=True)
    constructed = {
        s: (
            read_records(Path(args.constructed) / f"s{s}" / "idk_it.jsonl", Instruction, nonempty=True),
            read_records(Path(args.constructed) / f"s{s}" / "preference.jsonl", Preference, nonempty=True),
        )
        for s in p.seeds
    }
    valsets = load_testsets(args.valsets)

    def path(name: str, seed: int | None) -> str:
        return args.base if name == "base" else str(Path(args.models) / name / f"s{seed}")

    check_model_dir(args.base, "base")
    for s in p.seeds:
        for name in ("idk_it", "ca_dpo"):
            check_model_dir(path(name, s), f"{name}-s{s}")
    models = ModelLoader(path, p)
    metrics = diagnose(
        pool=pool,
        constructed=constructed,
        valsets=valsets,
        delta_k=p.delta_k,
        cfg=p.diagnose,
        answer=models.answer,
        inproc=models.inproc,
        semantic=make_semantic_judge(p.judge),
        lenient=p.judge.lenient,
        batch_size=p.evaluate.batch_size,
    )
    text = markdown(metrics)
    write_json(args.metrics, metrics)
    with atomic_path(args.markdown) as tmp:
        tmp.write_text(text)


if __name__ == "__main__":
    run_stage(main)
