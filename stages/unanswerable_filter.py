"""Stage `unanswerable_filter`: the paper's three criteria, then drop what the original model already
refuses; keep its answer as the incorrect response (conf = 0)."""
import dataclasses

from inbol.config import load_section, run_stage
from inbol.io import read_json, read_jsonl, write_json, write_jsonl
from inbol.judge import is_refusal
from inbol.llm import LLMClient, LLMConfig
from inbol.models import generate, load_base
from inbol.unanswerable import UnanswerableFilterConfig, filter_unanswerable
from inbol.world import load_scenes

OUT = "data/unanswerable/kept.jsonl"


def main() -> None:
    cfg = load_section(UnanswerableFilterConfig, "unanswerable.filter")
    llm = load_section(LLMConfig, "llm")
    client = LLMClient(dataclasses.replace(llm, model=cfg.model, max_tokens=cfg.max_tokens)) \
        if cfg.backend == "openai" else None
    records = read_jsonl("data/unanswerable/generated.jsonl")
    model, processor = load_base("models/base")

    def answer_fn(recs):
        return [o[0] for o in generate(model, processor, recs, batch_size=cfg.batch_size,
                                       max_new_tokens=cfg.max_new_tokens, desc="unanswerable: base answers")]

    kept, stats = filter_unanswerable(records, load_scenes("data/world"), cfg, client=client,
                                      answer_fn=answer_fn, is_refusal=is_refusal)
    write_jsonl(OUT, kept)
    write_json("metrics/unanswerable.json",
               {"generate": read_json("data/unanswerable/generated_stats.json"), "filter": stats})


if __name__ == "__main__":
    run_stage(main)
