"""Running one sweep cell: its training set (IDK-IT instructions or CA-DPO preferences at the cell's
thresholds/composition), training with the sweep budget and evaluation in domain and out of domain."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import DataError
from ..schema.sweep import SweepBudget, SweepThresholds
from .cells import cell_name, cell_result


def cell_data(
    kind: str,
    values: Sequence[float],
    restructured: list[dict],
    unanswerable: list[dict],
    *,
    thresholds: SweepThresholds | None,
    budget: SweepBudget,
    idk_it,
    preference,
    seed: int,
    refusal_templates: int | None = None,
) -> tuple[list[dict], dict]:
    """The training records of a cell (IDK-IT instructions or CA-DPO preferences) and their report;
    ``thresholds`` are those of the Figure 11 cells (unused by threshold cells)."""
    from ..boundary import assemble_pool

    if kind == "threshold":
        dk, du = values
    else:
        dk, du = thresholds.delta_k, thresholds.delta_uk
    pool = assemble_pool(restructured, unanswerable, dk, du, refusal_templates=refusal_templates)
    records, report = _cell_set(kind, values, pool, budget, idk_it, preference, seed)
    if not records:
        raise DataError(
            f"sweep cell {cell_name(kind, *values)}: the pool gives no training records at "
            f"delta_k = {dk:g}, delta_uk = {du:g} ({report})"
        )
    return records, report


def _cell_set(kind, values, pool, budget, idk_it, preference, seed):
    from ..boundary import idk_it_set, preference_set

    if kind == "composition":
        cfg = preference.replace(ratio=[1.0, 1.0, float(values[0])], size=budget.preference_size or preference.size)
        return preference_set(pool, cfg, seed)
    cfg = idk_it.replace(size=budget.idk_it_size or idk_it.size)
    if kind == "known_ratio":
        cfg = cfg.replace(known_ratio=float(values[0]))
    return idk_it_set(pool, cfg, seed)


def run_cell(
    kind: str,
    values: Sequence[float],
    out_dir: str | Path,
    *,
    records: list[dict],
    start_model: str | Path,
    work_dir: str | Path,
    lora,
    train,
    dpo,
    budget: SweepBudget,
    evaluate_cfg,
    judge_cfg,
    seed: int,
    testsets_dir: str | Path,
    system: str | None = None,
    data_report: Mapping | None = None,
) -> dict | None:
    """Train one cell's model (``seed``) from ``start_model`` on ``records``, evaluate it, and write
    ``out_dir`` (cell.json, predictions.jsonl, adapter/).  Returns the cell summary.  Under a multi-process
    launch every process trains; only the main one writes and evaluates (the others return None)."""
    from ..evaluation import evaluate_model, load_testsets
    from ..io import write_json, write_jsonl
    from ..judge.llm_judge import make_semantic_judge
    from ..models import PromptFormat, greedy_answer_fn, load_base
    from ..training.ca_dpo import train_preference
    from ..training.runtime import is_main_process, wait_for_everyone
    from ..training.sft import train_sft

    testsets = {n: ts for n, ts in load_testsets(testsets_dir).items() if ts.group in budget.groups}
    if not testsets:
        raise DataError(f"{testsets_dir}: no test set in groups {list(budget.groups)}")
    semantic = make_semantic_judge(judge_cfg)
    work_dir, out_dir = Path(work_dir), Path(out_dir)
    data_path = work_dir / "data.jsonl"
    model_dir = work_dir / "model"
    if is_main_process():
        work_dir.mkdir(parents=True, exist_ok=True)
        write_jsonl(data_path, records)
    wait_for_everyone()
    name = f"sweep_{kind}_{cell_name(kind, *values)}"
    if kind == "composition":
        tm = train_preference(
            data_path,
            start_model,
            model_dir,
            kind="ca_dpo",
            lora=lora,
            train=budget.train(train),
            dpo=budget.dpo(dpo),
            seed=seed,
            work_dir=work_dir / "ckpt",
            system=system,
            name=name,
        )
    else:
        tm = train_sft(
            data_path,
            start_model,
            model_dir,
            lora=lora,
            train=budget.train(train),
            seed=seed,
            work_dir=work_dir / "ckpt",
            system=system,
            name=name,
        )
    if not is_main_process():
        return None
    model, processor = load_base(model_dir, evaluate_cfg.device, evaluate_cfg.dtype)
    answer = greedy_answer_fn(
        model,
        PromptFormat(processor, system),
        batch_size=evaluate_cfg.batch_size,
        max_new_tokens=evaluate_cfg.max_new_tokens,
    )
    preds, metrics = evaluate_model(answer, testsets, semantic, lenient=judge_cfg.lenient, model=name)
    summary = cell_result(kind, values, metrics, train=tm, data=data_report)
    summary["seed"] = seed
    write_jsonl(out_dir / "predictions.jsonl", preds)
    shutil.copytree(model_dir / "adapter", out_dir / "adapter")
    write_json(out_dir / "cell.json", summary)
    shutil.rmtree(work_dir, ignore_errors=True)
    return summary


__all__ = ["cell_data", "run_cell"]
