"""Stage `sample`: K responses per question from the original model (resumable; see inbol.sampling.run)."""
from pathlib import Path

from inbol.config import DataError, load_section, run_stage
from inbol.io import read_jsonl, write_json
from inbol.sampling import SamplingConfig, check_split, make_sampler, model_fingerprint, sample_split, state_path_for

WORLD, MODEL, OUT = Path("data/world"), Path("models/base"), Path("data/samples")
METRICS = "metrics/sampling.json"


def main() -> None:
    cfg = load_section(SamplingConfig, "sampling")
    inputs = {}
    for split in cfg.splits:
        path = WORLD / f"{split}.jsonl"
        if not path.is_file():
            raise DataError(f"{path}: no such question file (sampling.splits names {split!r})")
        records = read_jsonl(path)
        inputs[split] = (records, check_split(records, cfg.max_bad_fraction, str(path)))  # all checked before work
    if cfg.backend == "hf":
        from inbol.models import load_base

        model, processor = load_base(MODEL, cfg.device, cfg.dtype)
        sampler, extra = make_sampler(cfg, model=model, processor=processor), {"model": model_fingerprint(MODEL)}
    else:
        sampler, extra = make_sampler(cfg), {}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "stats.json").unlink(missing_ok=True)   # the completion marker, written last: a killed run has none
    for stale in OUT.glob("*.jsonl"):  # splits of an earlier configuration
        if stale.stem not in cfg.splits:
            stale.unlink()
            state_path_for(stale).unlink(missing_ok=True)
    stats = {split: sample_split(sampler, records, OUT / f"{split}.jsonl", cfg, name=split, extra_fingerprint=extra,
                                 checked=checked)
             for split, (records, checked) in inputs.items()}
    # data/samples stays deterministic (the judge reads it); run-dependent numbers go to the metrics file
    kept = ("n_questions", "n_sampled", "n_bad", "bad")
    write_json(OUT / "stats.json", {"backend": cfg.backend, "k": cfg.k,
                                    "splits": {s: {key: v[key] for key in kept} for s, v in stats.items()}})
    write_json(METRICS, {"backend": cfg.backend, "k": cfg.k,
                         "splits": {s: {key: val for key, val in v.items() if key != "bad"} for s, v in stats.items()}})


if __name__ == "__main__":
    run_stage(main)
