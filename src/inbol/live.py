"""Training curves for DVC: a dvclive callback for the HF Trainer that logs at the optimizer step.

Used by every trained model and by the original model's pretraining (a module of its own so that the
``base_model`` stage does not depend on the training code)."""

from __future__ import annotations

from pathlib import Path


def trim_live(live_dir: str | Path, step: int) -> None:
    """Drop metric rows logged after ``step`` (a resumed run logs them again from its checkpoint)."""
    for tsv in Path(live_dir).glob("plots/metrics/**/*.tsv"):
        lines = tsv.read_text().splitlines()
        if not lines:
            continue
        head = lines[0].split("\t")
        if "step" not in head:
            continue
        col = head.index("step")

        def kept(line: str) -> bool:
            cell = line.split("\t")[col]
            return cell.isdigit() and int(cell) <= step

        keep = [lines[0]] + [ln for ln in lines[1:] if kept(ln)]
        tsv.write_text("\n".join(keep) + "\n")


def live_callback(live_dir: str | Path | None, resume_step: int = 0):
    """A dvclive callback writing into ``live_dir`` (main process only), with the Trainer's global step as
    the x axis so a resumed run continues the curves; None when ``live_dir`` is None."""
    if live_dir is None:
        return None
    from dvclive import Live
    from transformers.integrations import DVCLiveCallback

    class StepDVCLiveCallback(DVCLiveCallback):
        def on_log(self, args, state, control, model=None, logs=None, **kwargs):
            if state.is_world_process_zero and self.live is not None:
                self.live.step = state.global_step
            super().on_log(args, state, control, model=model, logs=logs, **kwargs)

    live = None
    from accelerate import PartialState

    if PartialState().is_main_process:
        if resume_step:
            trim_live(live_dir, resume_step)
        live = Live(str(live_dir), save_dvc_exp=False, dvcyaml=None, resume=bool(resume_step))
    return StepDVCLiveCallback(live=live)
