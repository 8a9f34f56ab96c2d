"""Stage `consistency@<model>[-<seed>]`: the self-consistency of a model's greedy answers: K sampled responses
per question of the test and validation sets, and the share of them that agree with the greedy answer
(its canonical form: the letter of a choice question, the VQA-normalised text otherwise, "refusal" for any
refusal).  Read by the selective stage (Table 5, self-consistency abstention).  With `sampling.backend:
openai` the samples come from the server's model of this name and seed (a trained model's LoRA adapter,
inbol.serve), checked to be listed before any work."""

import argparse
from pathlib import Path

from inbol.consistency import consistency_rows
from inbol.errors import run_stage
from inbol.evaluation import load_testsets
from inbol.io import write_jsonl
from inbol.records import read_predictions
from inbol.sampling import make_sampler
from inbol.schema.core import load_sections
from inbol.schema.evaluate import Evaluate
from inbol.schema.prompt import Prompt
from inbol.schema.sampling import Sampling
from inbol.schema.selective import Selective


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for opt in ("model", "testsets", "valsets", "test-predictions", "val-predictions", "out"):
        ap.add_argument(f"--{opt}", required=True)
    ap.add_argument("--name", required=True, help="the evaluated model's name (base, idk_it, ca_dpo, ...)")
    ap.add_argument("--seed", type=int, default=None, help="the training seed of a trained model")
    args = ap.parse_args()
    p = load_sections(evaluate=Evaluate, prompt=Prompt, sampling=Sampling, selective=Selective)
    cfg = p.sampling.replace(k=p.selective.k, temperature=p.selective.temperature)
    splits = []
    for split, sets_dir, preds_path in (
        ("test", args.testsets, args.test_predictions),
        ("val", args.valsets, args.val_predictions),
    ):
        greedy = {(x["set"], x["id"]): x["response"] for x in read_predictions(preds_path)}
        splits.append((split, load_testsets(sets_dir), greedy))  # all inputs read before any model
    if cfg.backend == "openai":
        from inbol.serve import model_version, require_models, served_model

        served = served_model(args.name, args.seed, cfg.openai.model)
        version = model_version(args.name, args.seed, args.model)
        sampler = make_sampler(cfg, system=p.prompt.system, served=served, served_version=version)
        require_models(sampler.client, [served])
    else:
        from inbol.models import PromptFormat, load_base

        model, processor = load_base(args.model, p.evaluate.device, p.evaluate.dtype)
        sampler = make_sampler(cfg, PromptFormat(processor, p.prompt.system), model=model)
    rows = []
    for split, testsets, greedy in splits:
        rows += consistency_rows(sampler, split, testsets, greedy, cfg.batch_size, cfg.seed)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(args.out, rows)


if __name__ == "__main__":
    run_stage(main)
