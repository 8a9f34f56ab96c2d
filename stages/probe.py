"""Stage `probe@<seed>`: a linear probe on the last-layer hidden state separates intrinsic from extrinsic
unknowns (paper appendix G.4, Table 7) for the IDK-IT and CA-DPO models of one seed, with two controls: the
original model (``--model base=models/base``) and the question text alone (inbol.probe, docs/probe.md).

    python stages/probe.py --pool ... --unanswerable ... --testsets ... --model idk_it=models/idk_it/s0
        --model ca_dpo=models/ca_dpo/s0 --metrics metrics/probe-s0.json
"""

import argparse

from inbol.errors import ParamError, run_stage
from inbol.evaluation import check_model_dir, load_testsets
from inbol.io import write_json
from inbol.probe import probe_metrics, probe_models, probe_text_only, select_examples
from inbol.records import read_questions
from inbol.schema.core import load_sections
from inbol.schema.probe import Probe
from inbol.schema.prompt import Prompt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pool", required=True)
    ap.add_argument("--unanswerable", required=True)
    ap.add_argument("--testsets", required=True)
    ap.add_argument("--model", action="append", required=True, help="NAME=FOLDER, once per probed model")
    ap.add_argument("--metrics", required=True)
    args = ap.parse_args()
    p = load_sections(probe=Probe, prompt=Prompt)
    models = dict(m.split("=", 1) for m in args.model if "=" in m)
    if len(models) != len(args.model):
        raise ParamError(f"--model {args.model!r}: each must be NAME=FOLDER")
    data = select_examples(
        read_questions(args.pool, nonempty=True),
        read_questions(args.unanswerable, nonempty=True),
        load_testsets(args.testsets),
        p.probe,
    )  # counts checked before any model loads
    for name, path in models.items():
        check_model_dir(path, name)
    results = probe_models(data, p.probe, models, system=p.prompt.system)
    controls = {"question_text": probe_text_only(data, p.probe)}
    write_json(args.metrics, probe_metrics(data, results, p.probe, controls))


if __name__ == "__main__":
    run_stage(main)
