"""A sweep cell's training set: IDK-IT instructions or CA-DPO preferences at the cell's thresholds or
composition, built as the construct stage builds its sets (:func:`inbol.boundary.build_training_sets`)."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import DataError
from ..schema.sweep import SweepBudget, SweepThresholds
from .cells import cell_name


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
    """The training records of a cell (IDK-IT instructions, or CA-DPO preferences for a composition cell) and
    their report; ``thresholds`` are those of the Figure 11 cells (unused by threshold cells)."""
    from ..boundary import build_training_sets

    if kind == "threshold":
        dk, du = values
    else:
        dk, du = thresholds.delta_k, thresholds.delta_uk
    if kind == "composition":
        name = "preference"
        cfg = preference.replace(ratio=[1.0, 1.0, float(values[0])], size=budget.preference_size or preference.size)
    else:
        name = "idk_it"
        cfg = idk_it.replace(size=budget.idk_it_size or idk_it.size)
        if kind == "known_ratio":
            cfg = cfg.replace(known_ratio=float(values[0]))
    sets, reports, _ = build_training_sets(
        restructured,
        unanswerable,
        delta_k=dk,
        delta_uk=du,
        seed=seed,
        refusal_templates=refusal_templates,
        **{name: cfg},
        **({"idk_it": idk_it} if name == "preference" and cfg.known_disjoint else {}),
    )
    records, report = sets[name], reports[name]
    if not records:
        raise DataError(
            f"sweep cell {cell_name(kind, *values)}: the pool gives no training records at "
            f"delta_k = {dk:g}, delta_uk = {du:g} ({report})"
        )
    return records, report


__all__ = ["cell_data"]
