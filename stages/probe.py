"""Stage `probe`: a linear probe on the last-layer hidden state separates intrinsic from extrinsic unknowns
(paper appendix G.4, Table 7) for the IDK-IT and CA-DPO models (see inbol.probe and docs/probe.md).

    python stages/probe.py
"""
from inbol.boundary import read_records
from inbol.config import load_section, run_stage
from inbol.evaluation import check_model_dir, load_testsets
from inbol.io import write_json
from inbol.probe import MODELS, ProbeConfig, probe_metrics, probe_models, select_examples

POOL, KEPT, TESTSETS = "data/restructured/pool.jsonl", "data/unanswerable/kept.jsonl", "data/testsets"
METRICS = "metrics/probe.json"


def main() -> None:
    cfg = load_section(ProbeConfig, "probe")
    data = select_examples(read_records(POOL), read_records(KEPT), load_testsets(TESTSETS), cfg)  # counts checked
    for name, path in MODELS.items():                                  # before any model is loaded
        check_model_dir(path, name)
    write_json(METRICS, probe_metrics(data, probe_models(data, cfg), cfg))


if __name__ == "__main__":
    run_stage(main)
