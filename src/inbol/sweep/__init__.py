"""Sweeps of the paper's appendix G: confidence thresholds (Figure 10) and data composition (Figure 11).

Each sweep cell is one DVC ``matrix:`` stage per seed (``stages/sweep_cell.py``, :mod:`inbol.sweep.run`) that
builds its training set, trains and evaluates on the VALIDATION sets (in domain and out of domain: the
sweeps are how thresholds and compositions are chosen), and writes ``data/sweep/<kind>/<cell>/s<seed>/``:

- ``threshold`` cells (Figure 10): IDK-IT data at the cell's (delta_k, delta_uk), IDK-IT from the original
  model; the cells are the list ``sweep.cells`` (``"0.8-0.2"``, delta_k > delta_uk as in the paper).
- ``known_ratio`` cells (Figure 11a): IDK-IT data at ``sweep.thresholds`` with the cell's known ratio.
- ``composition`` cells (Figure 11b): CA-DPO preferences at ``sweep.thresholds`` with Unknown:Mixed:Known
  = 1:1:w (the paper fixes Unknown:Mixed at 1:1 and varies Known), trained from the sweep's own IDK-IT
  model (``models/sweep/idk_it``, stage ``sweep_idk_it``).

Cells never read the top-level ``delta_k``/``delta_uk`` nor the grid lists, so `dvc exp run -S
delta_k=0.7` re-runs no cell and a changed grid only adds or removes cells.  Cells train with their own,
smaller budget (``sweep.budget``), once per seed of ``sweep.seeds``.  The ``heatmap`` and ``figure11``
stages read the cells back, with bootstrap intervals over the validation questions and the seeds; the
heatmap marks every cell whose gap to the best cell's interval contains 0 (not distinguishable from it).
"""

from .cells import (
    KINDS,
    best,
    cell_name,
    cell_result,
    cell_valid,
    cell_values,
    exp_rows,
    figure_value,
    heatmap_rows,
    line_rows,
    mean_over_seeds,
    mean_s_trust,
    normalise,
    parse_cell_args,
    read_cells,
    upper_right_share,
    with_intervals,
)

__all__ = [
    "KINDS",
    "best",
    "cell_name",
    "cell_values",
    "cell_result",
    "cell_valid",
    "exp_rows",
    "figure_value",
    "heatmap_rows",
    "line_rows",
    "mean_over_seeds",
    "mean_s_trust",
    "normalise",
    "parse_cell_args",
    "read_cells",
    "upper_right_share",
    "with_intervals",
]
