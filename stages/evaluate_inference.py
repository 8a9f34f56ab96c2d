"""Stage `evaluate_inference@<name>`: a reference row of kind inference (models.references; the method's rule in
src/inbol/methods/<name>.py): the original model's greedy answers on the test sets, kept or replaced by the
refusal by the rule on the original's K-sample confidence, its threshold chosen on the validation sets
(inbol.evaluation.references).  No model runs.  Writes the predictions and metrics every evaluated model has.

    python stages/evaluate_inference.py --name original_conf --testsets data/testsets --valsets data/valsets
        --base-predictions data/predictions/base.jsonl --base-val-predictions data/predictions_val/base.jsonl
        --predictions data/predictions/original_conf.jsonl --metrics metrics/eval/original_conf.json
"""

from inbol.errors import ParamError, run_stage, stage_args
from inbol.evaluation import load_testsets
from inbol.evaluation.references import evaluate_reference
from inbol.io import write_json, write_jsonl
from inbol.methods.spec import rule
from inbol.records import read_predictions
from inbol.schema.core import load_sections
from inbol.schema.models import Models
from inbol.schema.sampling import Sampling


def main() -> None:
    args = stage_args(
        __doc__, "name", "testsets", "valsets", "base_predictions", "base_val_predictions", "predictions", "metrics"
    )
    p = load_sections("delta_k", models=Models, sampling=Sampling)
    if args.name not in p.models.references:
        raise ParamError(
            f"--name {args.name!r}: must be one of models.references ({', '.join(p.models.references) or 'none'})"
        )
    how = rule(args.name)
    testsets, valsets = load_testsets(args.testsets), load_testsets(args.valsets)
    base_test, base_val = read_predictions(args.base_predictions), read_predictions(args.base_val_predictions)
    preds, metrics = evaluate_reference(
        args.name, how, testsets, valsets, base_test, base_val, delta_k=p.delta_k, k=p.sampling.k
    )
    write_jsonl(args.predictions, preds)
    write_json(args.metrics, metrics)


if __name__ == "__main__":
    run_stage(main)
