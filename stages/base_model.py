"""Stage `base_model`: the original model (a tiny LLaVA pretrained from scratch, or a hub checkpoint)."""

import tempfile

from dvclive import Live
from dvclive.huggingface import DVCLiveCallback

from inbol.errors import run_stage, stage_args
from inbol.io import atomic_dir, write_json
from inbol.models import build_base_model, check_base_inputs
from inbol.params import load_params


def main() -> None:
    args = stage_args(__doc__, "world", "out", "live", "metrics")
    p = load_params()
    check_base_inputs(p.base_model, args.world)  # before Live() clears the dvclive folder
    with (
        atomic_dir(args.out) as tmp,
        tempfile.TemporaryDirectory() as work,
        Live(args.live, save_dvc_exp=False, dvcyaml=None) as live,
    ):
        metrics = build_base_model(
            p.base_model, args.world, tmp, work_dir=work, system=p.prompt.system, callbacks=[DVCLiveCallback(live=live)]
        )
    write_json(args.metrics, metrics)


if __name__ == "__main__":
    run_stage(main)
