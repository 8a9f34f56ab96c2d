"""Stage `base_model`: the original model (a tiny LLaVA pretrained from scratch, or a hub checkpoint)."""
import tempfile

from dvclive.huggingface import DVCLiveCallback
from dvclive import Live

from inbol.config import load_section, run_stage
from inbol.io import atomic_dir, write_json
from inbol.models import BaseModelConfig, build_base_model
from inbol.models.base import check_base_inputs

OUT = "models/base"


def main() -> None:
    cfg = load_section(BaseModelConfig, "base_model")
    check_base_inputs(cfg, "data/world")     # before Live() clears dvclive/base_model
    with atomic_dir(OUT) as tmp, tempfile.TemporaryDirectory() as work, \
            Live("dvclive/base_model", save_dvc_exp=False, dvcyaml=None) as live:
        metrics = build_base_model(cfg, "data/world", tmp, work_dir=work, callbacks=[DVCLiveCallback(live=live)])
    write_json("metrics/base_model.json", metrics)


if __name__ == "__main__":
    run_stage(main)
