"""Stage `unanswerable_generate`: unanswerable questions on train-pool images (swap + template/LLM)."""

from pathlib import Path

from inbol.errors import run_stage, stage_args
from inbol.io import write_json, write_jsonl
from inbol.records import read_questions
from inbol.schema.core import Endpoint, load_sections
from inbol.schema.unanswerable import Unanswerable
from inbol.unanswerable import generate_unanswerable
from inbol.world import load_scenes


def main() -> None:
    args = stage_args(__doc__, "world", "out", "stats")
    p = load_sections(llm=Endpoint, unanswerable=Unanswerable)
    cfg = p.unanswerable.generate
    client = None
    if cfg.backend == "openai":
        from inbol.llm import LLMClient

        client = LLMClient(p.llm.replace(model=cfg.model), temperature=cfg.temperature, max_tokens=cfg.max_tokens)
    records = read_questions(Path(args.world) / f"{cfg.source}.jsonl")
    generated, stats = generate_unanswerable(records, load_scenes(args.world), cfg, client=client)
    write_jsonl(args.out, generated)
    write_json(args.stats, stats)


if __name__ == "__main__":
    run_stage(main)
