"""Running one sweep cell: its training set (:mod:`.data`), training with the sweep budget
(:func:`inbol.training.routes.train_method`: IDK-IT, or CA-DPO for composition cells) and evaluation in domain
and out of domain (:func:`inbol.evaluation.evaluate.evaluate_answerer`), the path the pipeline's own
stages take."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import DataError
from .cells import cell_name, cell_result
from .data import cell_data


def run_cell(
    kind: str,
    values: Sequence[float],
    out_dir: str | Path,
    *,
    records: list[dict],
    start_model: str | Path,
    work_dir: str | Path,
    p,
    seed: int,
    testsets_dir: str | Path,
    data_report: Mapping | None = None,
) -> dict | None:
    """Train one cell's model (``seed``) from ``start_model`` on ``records``, evaluate it, and write
    ``out_dir`` (cell.json, predictions.jsonl, adapter/).  ``p``: the params sections ``lora``, ``train``,
    ``dpo``, ``ca_dpo`` (composition cells), ``sweep``, ``evaluate``, ``judge``, ``prompt``.  Returns the cell summary.  Under a multi-process
    launch every process trains; only the main one writes and evaluates (the others return None)."""
    from ..evaluation import load_testsets
    from ..evaluation.evaluate import evaluate_answerer
    from ..io import write_json, write_jsonl
    from ..judge.llm_judge import make_semantic_judge
    from ..models.answerer import load_in_process
    from ..training.routes import train_method
    from ..training.runtime import is_main_process, write_training_set

    budget = p.sweep.budget
    testsets = {n: ts for n, ts in load_testsets(testsets_dir).items() if ts.group in budget.groups}
    if not testsets:
        raise DataError(f"{testsets_dir}: no test set in groups {list(budget.groups)}")
    semantic = make_semantic_judge(p.judge)
    work_dir, out_dir = Path(work_dir), Path(out_dir)
    model_dir = work_dir / "model"
    name = f"sweep_{kind}_{cell_name(kind, *values)}"
    preference = kind == "composition"
    tm = train_method(
        "preference" if preference else "sft",
        write_training_set(work_dir / "data.jsonl", records),
        start_model,
        model_dir,
        kind="ca_dpo" if preference else None,
        lora=p.lora,
        train=budget.train(p.train),
        dpo=budget.dpo(p.dpo) if preference else None,
        ca_dpo=p.ca_dpo if preference else None,
        seed=seed,
        work_dir=work_dir / "ckpt",
        system=p.prompt.system,
        name=name,
    )
    if not is_main_process():
        return None
    answerer = load_in_process(model_dir, p.evaluate, p.prompt.system)  # no server holds a cell's model
    preds, metrics = evaluate_answerer(answerer, testsets, semantic, lenient=p.judge.lenient, model=name)
    summary = cell_result(kind, values, metrics, train=tm, data=data_report)
    summary["seed"] = seed
    write_jsonl(out_dir / "predictions.jsonl", preds)
    shutil.copytree(model_dir / "adapter", out_dir / "adapter")
    write_json(out_dir / "cell.json", summary)
    shutil.rmtree(work_dir, ignore_errors=True)
    return summary


__all__ = ["cell_data", "run_cell"]
