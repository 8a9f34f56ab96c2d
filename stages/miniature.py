"""Stage `miniature`: how the original model meets each synthetic analogue, on the validation sets only:
greedy accuracy (with and without the paper's refusal prompt), Known shares, and the calibration of the
K-sample confidence against greedy correctness at each temperature of `calibration.temperatures` (ECE and
the reliability diagram), with the issue's targets checked (inbol.miniature).  With `sampling.backend:
openai` every answer and sample comes from the server's base model (inbol.serve), checked to be listed before
any work."""

from inbol.errors import run_stage, stage_args
from inbol.evaluation import REFUSAL_SUFFIX, judge_sets, load_testsets
from inbol.io import write_json
from inbol.judge.llm_judge import make_semantic_judge
from inbol.miniature import (
    PAPER_ORIGINAL,
    PAPER_REFUSAL_PROMPT,
    calibration,
    check_targets,
    sample_confidences,
    set_summary,
)
from inbol.plots import plot_reliability, write_csv
from inbol.sampling import make_sampler
from inbol.schema.calibration import Calibration
from inbol.schema.core import load_sections
from inbol.schema.evaluate import Evaluate
from inbol.schema.judge import Judge
from inbol.schema.prompt import Prompt
from inbol.schema.sampling import Sampling
from inbol.serve import load_answerer, require_models


def main() -> None:
    args = stage_args(__doc__, "valsets", "model", "metrics", "csv", "png")
    p = load_sections(
        "delta_k", "delta_uk", calibration=Calibration, evaluate=Evaluate, judge=Judge, prompt=Prompt, sampling=Sampling
    )
    valsets = {n: ts for n, ts in load_testsets(args.valsets).items() if ts.answerable}
    semantic = make_semantic_judge(p.judge)
    answerer = load_answerer(args.model, p, name="base")  # in process, or the server's base model (checked)
    if p.sampling.backend == "openai":
        require_models(make_sampler(p.sampling).client, [p.sampling.openai.model])
    verdicts = {}
    for suffix in ("", REFUSAL_SUFFIX):
        answer, _ = answerer.answer_fn(prompt_suffix=suffix)
        responses = {
            n: answer(ts.records, f"miniature: {n}{' + refusal prompt' if suffix else ''}") for n, ts in valsets.items()
        }
        preds = judge_sets(valsets, responses, semantic, lenient=p.judge.lenient)
        verdicts[suffix] = {n: [x["verdict"] for x in preds if x["set"] == n] for n in valsets}
    sets = {
        n: {
            **set_summary(
                verdicts[""][n],
                verdicts[REFUSAL_SUFFIX][n],
                [r["conf_base"] for r in ts.records if r.get("conf_base") is not None],
                p.delta_k,
                p.delta_uk,
            ),
            "group": ts.group,
            "paper": ts.paper,
            "paper_original_acc": PAPER_ORIGINAL.get(n),
            "paper_refusal_prompt_acc": PAPER_REFUSAL_PROMPT.get(n),
        }
        for n, ts in valsets.items()
    }
    targets, warnings = check_targets(sets, {n: ts.group for n, ts in valsets.items()})

    records = [r for ts in valsets.values() for r in ts.records]
    correct = [v == "correct" for n in valsets for v in verdicts[""][n]]

    def sample_conf(recs, temperature):
        cfg = p.sampling.replace(temperature=temperature)
        sampler = make_sampler(cfg, answerer.fmt, model=answerer.model, system=p.prompt.system)
        return sample_confidences(
            sampler, recs, cfg, semantic, lenient=p.judge.lenient, desc=f"miniature: T={temperature:g}"
        )

    summary, rows = calibration(sample_conf, records, correct, p.calibration.temperatures, p.delta_k, p.delta_uk)
    best = min(summary.values(), key=lambda s: s["ece"])["temperature"]
    write_csv(rows, args.csv, ["temperature", "conf", "n", "accuracy"])
    plot_reliability(rows, args.png, chosen=p.sampling.temperature)
    write_json(
        args.metrics,
        {
            "split": "validation",
            "sets": sets,
            "targets": targets,
            "warnings": warnings,
            "calibration": summary,
            "lowest_ece_temperature": best,
            "sampling_temperature": p.sampling.temperature,
            "k": p.sampling.k,
        },
    )


if __name__ == "__main__":
    run_stage(main)
