"""Stage `judge`: the hybrid evaluator's verdicts on the sampled responses (correct / refusal per sample)."""
from pathlib import Path

from inbol.config import DataError, load_section, run_stage
from inbol.confidence import judge_split
from inbol.io import read_json, read_jsonl, write_json, write_jsonl
from inbol.judge import JudgeConfig, make_semantic_judge

WORLD, SAMPLES, OUT = Path("data/world"), Path("data/samples"), Path("data/judged")


def main() -> None:
    cfg = load_section(JudgeConfig, "judge")
    if not (SAMPLES / "stats.json").is_file():
        raise DataError(f"{SAMPLES / 'stats.json'}: missing (run the sample stage first)")
    sampled = read_json(SAMPLES / "stats.json")
    semantic = make_semantic_judge(cfg)
    stats = {}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "stats.json").unlink(missing_ok=True)   # the completion marker, written last: a failed run has none
    for stale in OUT.glob("*.jsonl"):
        if stale.stem not in sampled["splits"]:
            stale.unlink()
    for split, s in sampled["splits"].items():
        counts: dict = {}
        judged = judge_split(read_jsonl(WORLD / f"{split}.jsonl"), read_jsonl(SAMPLES / f"{split}.jsonl"), semantic,
                             lenient=cfg.lenient, stats=counts, name=str(SAMPLES / f"{split}.jsonl"))
        write_jsonl(OUT / f"{split}.jsonl", judged)
        stats[split] = {"n": len(judged), "verdicts": counts, "n_bad_images": s["n_bad"],
                        "n_questions": s["n_questions"]}
    write_json(OUT / "stats.json", {"backend": cfg.backend, "k": sampled["k"], "splits": stats,
                                    "semantic": dict(semantic.stats)})


if __name__ == "__main__":
    run_stage(main)
