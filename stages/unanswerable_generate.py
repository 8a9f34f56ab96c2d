"""Stage `unanswerable_generate`: unanswerable questions on train-pool images (swap + template/LLM)."""
import dataclasses

from inbol.config import load_section, run_stage
from inbol.io import read_jsonl, write_json, write_jsonl
from inbol.llm import LLMClient, LLMConfig
from inbol.unanswerable import UnanswerableGenerateConfig, generate_unanswerable
from inbol.world import load_scenes

WORLD = "data/world"
OUT = "data/unanswerable/generated.jsonl"
STATS = "data/unanswerable/generated_stats.json"


def main() -> None:
    cfg = load_section(UnanswerableGenerateConfig, "unanswerable.generate")
    llm = load_section(LLMConfig, "llm")
    client = None
    if cfg.backend == "openai":
        client = LLMClient(dataclasses.replace(llm, model=cfg.model, temperature=cfg.temperature,
                                               max_tokens=cfg.max_tokens))
    records = read_jsonl(f"{WORLD}/{cfg.source}.jsonl")
    generated, stats = generate_unanswerable(records, load_scenes(WORLD), cfg, client=client)
    write_jsonl(OUT, generated)
    write_json(STATS, stats)


if __name__ == "__main__":
    run_stage(main)
