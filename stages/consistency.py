"""Stage `consistency@<model>[-<seed>]`: the self-consistency of a model's greedy answers: K sampled responses
per question of the test and validation sets, and the share of them that agree with the greedy answer
(its canonical form: the letter of a choice question, the VQA-normalised text otherwise, "refusal" for any
refusal).  Read by the selective stage (Table 5, self-consistency abstention)."""

from pathlib import Path

from inbol.consistency import canonical_answer
from inbol.errors import run_stage, stage_args
from inbol.evaluation import load_testsets
from inbol.evaluation.selective import agreement
from inbol.io import read_jsonl, write_jsonl
from inbol.models import PromptFormat, load_base
from inbol.params import load_params
from inbol.sampling import make_sampler
from inbol.seeding import stable_seed


def main() -> None:
    args = stage_args(__doc__, "model", "testsets", "valsets", "test_predictions", "val_predictions", "out")
    p = load_params()
    model, processor = load_base(args.model, p.evaluate.device, p.evaluate.dtype)
    sampler = make_sampler(
        p.sampling.replace(k=p.selective.k, temperature=p.selective.temperature),
        PromptFormat(processor, p.prompt.system),
        model=model,
    )
    rows = []
    for split, sets_dir, preds_path in (
        ("test", args.testsets, args.test_predictions),
        ("val", args.valsets, args.val_predictions),
    ):
        greedy = {(x["set"], x["id"]): x["response"] for x in read_jsonl(preds_path)}
        for name, ts in load_testsets(sets_dir).items():
            recs = ts.records
            for i in range(0, len(recs), p.sampling.batch_size):
                chunk = recs[i : i + p.sampling.batch_size]
                samples = sampler.sample(chunk, [stable_seed(p.sampling.seed, r["id"]) for r in chunk])
                rows += [
                    {
                        "split": split,
                        "set": name,
                        "id": r["id"],
                        "agreement": agreement(greedy[(name, r["id"])], s, lambda text, r=r: canonical_answer(text, r)),
                    }
                    for r, s in zip(chunk, samples)
                ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(args.out, rows)


if __name__ == "__main__":
    run_stage(main)
