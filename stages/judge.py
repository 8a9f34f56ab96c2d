"""Stage `judge`: the hybrid evaluator's verdicts on the sampled responses (correct / refusal per sample)."""

from pathlib import Path

from inbol.confidence import judge_split
from inbol.errors import run_stage, stage_args
from inbol.io import read_json, write_json, write_jsonl
from inbol.judge.llm_judge import make_semantic_judge
from inbol.records import read_questions, read_samples
from inbol.schema.core import load_sections
from inbol.schema.judge import Judge


def main() -> None:
    args = stage_args(__doc__, "world", "samples", "out")
    cfg = load_sections(judge=Judge).judge
    sampled = read_json(Path(args.samples) / "stats.json")
    semantic = make_semantic_judge(cfg)
    out = Path(args.out)
    stats = {}
    out.mkdir(parents=True, exist_ok=True)
    (out / "stats.json").unlink(missing_ok=True)  # the completion marker, written last: a failed run has none
    for stale in out.glob("*.jsonl"):
        if stale.stem not in sampled["splits"]:
            stale.unlink()
    for split, s in sampled["splits"].items():
        counts: dict = {}
        samples = Path(args.samples) / f"{split}.jsonl"
        judged = judge_split(
            read_questions(Path(args.world) / f"{split}.jsonl"),
            read_samples(samples),
            semantic,
            lenient=cfg.lenient,
            stats=counts,
            name=str(samples),
        )
        write_jsonl(out / f"{split}.jsonl", judged)
        stats[split] = {
            "n": len(judged),
            "verdicts": counts,
            "n_bad_images": s["n_bad"],
            "n_questions": s["n_questions"],
        }
    write_json(
        out / "stats.json",
        {"backend": cfg.backend, "k": sampled["k"], "splits": stats, "semantic": dict(semantic.stats)},
    )


if __name__ == "__main__":
    run_stage(main)
