"""Stage `sample`: K responses per question from the original model (resumable; see inbol.sampling.run)."""

from pathlib import Path

from inbol.errors import DataError, run_stage, stage_args
from inbol.io import write_json
from inbol.records import read_questions
from inbol.sampling import check_split, make_sampler, model_fingerprint, sample_split, state_path_for
from inbol.schema.core import load_sections
from inbol.schema.prompt import Prompt
from inbol.schema.sampling import Sampling


def main() -> None:
    args = stage_args(__doc__, "world", "model", "out", "metrics")
    p = load_sections(sampling=Sampling, prompt=Prompt)
    cfg = p.sampling
    if cfg.backend == "openai":  # the server's base model, checked to be listed before any work (inbol.serve)
        from inbol.serve import require_models

        sampler, extra = make_sampler(cfg, system=p.prompt.system), {"system": p.prompt.system}
        require_models(sampler.client, [cfg.openai.model])
    inputs = {}
    for split in cfg.splits:
        path = Path(args.world) / f"{split}.jsonl"
        if not path.is_file():
            raise DataError(f"{path}: no such question file (sampling.splits names {split!r})")
        records = read_questions(path)
        inputs[split] = (records, check_split(records, cfg.max_bad_fraction, str(path)))  # all checked before work
    if cfg.backend == "hf":
        from inbol.models import PromptFormat, load_base

        model, processor = load_base(args.model, cfg.device, cfg.dtype)
        sampler = make_sampler(cfg, PromptFormat(processor, p.prompt.system), model=model)
        extra = {"model": model_fingerprint(args.model), "system": p.prompt.system}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "stats.json").unlink(missing_ok=True)  # the completion marker, written last: a killed run has none
    for stale in out.glob("*.jsonl"):  # splits of an earlier configuration
        if stale.stem not in cfg.splits:
            stale.unlink()
            state_path_for(stale).unlink(missing_ok=True)
    stats = {
        split: sample_split(
            sampler, records, out / f"{split}.jsonl", cfg, name=split, extra_fingerprint=extra, checked=checked
        )
        for split, (records, checked) in inputs.items()
    }
    # the samples folder stays deterministic (the judge reads it); run-dependent numbers go to the metrics file
    kept = ("n_questions", "n_sampled", "n_bad", "bad")
    write_json(
        out / "stats.json",
        {"backend": cfg.backend, "k": cfg.k, "splits": {s: {key: v[key] for key in kept} for s, v in stats.items()}},
    )
    write_json(
        args.metrics,
        {
            "backend": cfg.backend,
            "k": cfg.k,
            "splits": {s: {key: val for key, val in v.items() if key != "bad"} for s, v in stats.items()},
        },
    )


if __name__ == "__main__":
    run_stage(main)
