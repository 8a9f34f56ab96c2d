"""Stage `base_model`: the original model (a tiny LLaVA pretrained from scratch, or a hub checkpoint)."""

import tempfile

from inbol.errors import run_stage, stage_args
from inbol.io import atomic_dir, write_json
from inbol.live import live_callback
from inbol.models import build_base_model, check_base_inputs
from inbol.schema.base_model import BaseModelParams
from inbol.schema.core import load_sections
from inbol.schema.prompt import Prompt


def main() -> None:
    args = stage_args(__doc__, "world", "out", "live", "metrics")
    p = load_sections(base_model=BaseModelParams, prompt=Prompt)
    check_base_inputs(p.base_model, args.world)  # before Live() clears the dvclive folder
    # dvclive's step is the optimizer step (the Trainer's global step), as for every trained model
    with atomic_dir(args.out) as tmp, tempfile.TemporaryDirectory() as work:
        metrics = build_base_model(
            p.base_model, args.world, tmp, work_dir=work, system=p.prompt.system, callbacks=[live_callback(args.live)]
        )
    write_json(args.metrics, metrics)


if __name__ == "__main__":
    run_stage(main)
