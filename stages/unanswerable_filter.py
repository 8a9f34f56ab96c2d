"""Stage `unanswerable_filter`: the paper's three criteria, then drop what the original model already
refuses; keep its answer as the incorrect response (conf = 0).  With `sampling.backend: openai` the original
model's answers come from the server's base model (inbol.serve), checked to be listed before any work."""

from inbol.errors import run_stage, stage_args
from inbol.io import read_json, write_json, write_jsonl
from inbol.judge import is_refusal
from inbol.records import read_questions
from inbol.schema.core import Endpoint, load_sections
from inbol.schema.prompt import Prompt
from inbol.schema.sampling import Sampling
from inbol.schema.unanswerable import Unanswerable
from inbol.unanswerable import filter_unanswerable
from inbol.world import load_scenes


def main() -> None:
    args = stage_args(__doc__, "world", "generated", "generated_stats", "model", "out", "metrics")
    p = load_sections(llm=Endpoint, prompt=Prompt, sampling=Sampling, unanswerable=Unanswerable)
    cfg = p.unanswerable.filter
    client = None
    if cfg.backend == "openai":
        from inbol.llm import LLMClient

        client = LLMClient(p.llm.replace(model=cfg.model), max_tokens=cfg.max_tokens)
    records = read_questions(args.generated)
    if p.sampling.backend == "openai":  # the server's base model (inbol.serve), checked before any work
        from inbol.serve import ServerGenerator, require_models, server_client

        server = server_client(p.sampling.openai, max_tokens=cfg.max_new_tokens)
        require_models(server, [p.sampling.openai.model])
        generator = ServerGenerator(
            server, p.sampling.openai.model, system=p.prompt.system, max_new_tokens=cfg.max_new_tokens
        )

        def answer_fn(recs):
            return generator(recs, "unanswerable: base answers")

    else:
        from inbol.models import PromptFormat, generate, load_base

        model, processor = load_base(args.model)
        fmt = PromptFormat(processor, p.prompt.system)

        def answer_fn(recs):
            return [
                o[0]
                for o in generate(
                    model,
                    processor,
                    recs,
                    fmt=fmt,
                    batch_size=cfg.batch_size,
                    max_new_tokens=cfg.max_new_tokens,
                    desc="unanswerable: base answers",
                )
            ]

    kept, stats = filter_unanswerable(
        records, load_scenes(args.world), cfg, client=client, answer_fn=answer_fn, is_refusal=is_refusal
    )
    write_jsonl(args.out, kept)
    write_json(args.metrics, {"generate": read_json(args.generated_stats), "filter": stats})


if __name__ == "__main__":
    run_stage(main)
