"""The faithful miniature: how the original model meets each synthetic analogue, measured on the
validation sets only (the test sets are never consulted for a choice).

Each synthetic set stands for a real one and earns its name only when the original model meets it roughly
as LLaVA-1.5-7B meets the real set.  :func:`miniature_metrics` measures, per validation set:

- the original model's greedy accuracy, without and with the paper's refusal prompt (the drop and the
  refusal rate the prompt causes), and the share of Known questions (K-sample conf >= delta_k);
- calibration: for each sampling temperature of ``calibration.temperatures``, the mean K-sample confidence,
  the Known/Unknown shares and the expected calibration error (ECE) of the confidence against the
  model's own greedy correctness, plus the reliability curve (:func:`reliability`), so that
  ``sampling.temperature`` can be chosen where the confidence means what the paper's means;
- the targets of each set (its calibration in :mod:`inbol.evalsets`), each as ``{value, target, met}``; a target that is not met is a warning naming the
  set and the figure.

The paper's reference figures (its Tables 1 and 2, LLaVA-1.5-7B) stand beside ours in the report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .boundary.split import bucket
from .evalsets import GROUP_TARGETS, Calibration, ordered


def targets() -> dict[str, Calibration]:
    """The original model's targets on each validation set: the registry's calibration targets (inbol.evalsets)."""
    return {s.name: s.calibration for s in ordered(split="validation") if s.calibration is not None}


# the paper's LLaVA-1.5-7B accuracy (%) on the real sets (its Tables 1 and 2), without and with the refusal prompt
PAPER_ORIGINAL = {n: t.paper_acc for n, t in targets().items() if t.paper_acc is not None}
PAPER_REFUSAL_PROMPT = {
    n: t.paper_refusal_prompt_acc for n, t in targets().items() if t.paper_refusal_prompt_acc is not None
}


def _bins(conf: Sequence[float], correct: Sequence[bool], n_bins: int | None = None):
    """(conf, correct, [(key, mask)]): the questions grouped by their exact confidence value (k/K, to 9
    decimals) when ``n_bins`` is None, else by equal-width bin [i/n, (i+1)/n) of [0, 1]; keys ascending."""
    c = np.asarray(conf, dtype=float)
    y = np.asarray(correct, dtype=float)
    if len(c) == 0 or len(c) != len(y):
        raise ValueError(f"ece needs as many confidences as outcomes (got {len(c)} and {len(y)}), at least one")
    keys = np.round(c, 9) if n_bins is None else np.minimum((c * n_bins).astype(int), n_bins - 1)
    return c, y, [(k, keys == k) for k in np.unique(keys)]


def ece(conf: Sequence[float], correct: Sequence[bool], n_bins: int | None = None) -> float:
    """Expected calibration error: sum over bins (:func:`_bins`) of (bin share) x |mean correctness - mean
    conf|."""
    c, y, bins = _bins(conf, correct, n_bins)
    return float(sum(m.mean() * abs(y[m].mean() - c[m].mean()) for _, m in bins))


def reliability(conf: Sequence[float], correct: Sequence[bool]) -> list[dict]:
    """Rows ``{conf, n, accuracy}``: the greedy accuracy of the questions at each exact confidence value
    (the bins of :func:`ece`)."""
    _, y, bins = _bins(conf, correct)
    return [{"conf": float(k), "n": int(m.sum()), "accuracy": float(y[m].mean())} for k, m in bins]


def _share(xs) -> float | None:
    xs = list(xs)
    return float(np.mean(xs)) if xs else None


def set_summary(
    verdicts: Sequence[str], rp_verdicts: Sequence[str], confs: Sequence[float], delta_k: float, delta_uk: float
) -> dict:
    """One validation set: greedy accuracy, with the refusal prompt (accuracy, refusal rate, drop), and
    the Known / Unknown shares of its confidences."""
    acc = _share(v == "correct" for v in verdicts)
    rp = _share(v == "correct" for v in rp_verdicts)
    return {
        "n": len(verdicts),
        "greedy_acc": acc,
        "refusal_prompt_acc": rp,
        "refusal_prompt_refr": _share(v == "refusal" for v in rp_verdicts),
        "refusal_prompt_drop": None if acc is None or rp is None else acc - rp,
        "known_share": _share(bucket(c, delta_k, delta_uk) == "known" for c in confs),
        "unknown_share": _share(bucket(c, delta_k, delta_uk) == "unknown" for c in confs),
        "conf_mean": _share(confs),
    }


def check_targets(sets: dict[str, dict], groups: dict[str, str]) -> tuple[dict, list[str]]:
    """The targets per set (``{set: {figure: {value, target, met}}}``) and a warning per target not met: a
    registered set's own (:func:`targets`), an unregistered one its group's (``groups``: set -> group)."""
    out: dict[str, dict] = {}
    warnings: list[str] = []

    def put(name, figure, value, target, met):
        out.setdefault(name, {})[figure] = {"value": value, "target": target, "met": bool(met)}
        if not met:
            warnings.append(
                f"{name}: {figure} = {value if value is None else round(value, 3)} misses its target {target}"
            )

    cal = targets()
    for name, s in sets.items():
        t = cal.get(name, GROUP_TARGETS.get(groups.get(name)))  # an unregistered set: its group's targets
        if t is None:
            continue
        acc = s["greedy_acc"]
        if t.greedy_acc is not None:
            lo, hi = t.greedy_acc
            put(name, "greedy_acc", acc, [lo, hi], acc is not None and lo <= acc <= hi)
        if t.greedy_acc_min is not None:
            put(name, "greedy_acc", acc, f">= {t.greedy_acc_min}", acc is not None and acc >= t.greedy_acc_min)
        if t.refusal_prompt_max_drop is not None:
            drop = s["refusal_prompt_drop"]
            need = t.refusal_prompt_max_drop
            put(name, "refusal_prompt_drop", drop, f"<= {need}", drop is not None and drop <= need)
        if t.known_share_min is not None:
            k = s["known_share"]
            put(name, "known_share", k, f">= {t.known_share_min}", k is not None and k >= t.known_share_min)
    return out, warnings


def calibration(
    sample_fn: Callable[[list[dict], float], list[float]],
    records: list[dict],
    correct: list[bool],
    temperatures: Sequence[float],
    delta_k: float,
    delta_uk: float,
) -> tuple[dict, list[dict]]:
    """Per temperature the confidence's mean, Known/Unknown shares and ECE against greedy correctness, and
    the reliability rows ``{temperature, conf, n, accuracy}``; ``sample_fn(records, T)`` gives the K-sample
    confidences."""
    summary, rows = {}, []
    for t in temperatures:
        conf = sample_fn(records, float(t))
        summary[f"{t:g}"] = {
            "temperature": float(t),
            "conf_mean": float(np.mean(conf)),
            "greedy_acc": float(np.mean(correct)),
            "ece": ece(conf, correct),
            "known_share": float(np.mean([bucket(c, delta_k, delta_uk) == "known" for c in conf])),
            "unknown_share": float(np.mean([bucket(c, delta_k, delta_uk) == "unknown" for c in conf])),
        }
        rows += [{"temperature": float(t), **r} for r in reliability(conf, correct)]
    return summary, rows


def sample_confidences(
    sampler, records: Sequence[dict], cfg, semantic=None, *, lenient: bool = True, desc: str = "miniature"
) -> list[float]:
    """The K-sample confidence of each record: the share of ``sampler``'s K responses judged correct (batches of
    ``cfg.batch_size``, each question seeded by ``stable_seed(cfg.seed, id)``), with a progress bar."""
    from tqdm.auto import tqdm

    from .judge import judge_samples
    from .seeding import stable_seed

    out: list[float] = []
    with tqdm(total=len(records), desc=desc, unit="q", mininterval=2) as bar:
        for i in range(0, len(records), cfg.batch_size):
            chunk = records[i : i + cfg.batch_size]
            responses = sampler.sample(chunk, [stable_seed(cfg.seed, r["id"]) for r in chunk])
            out += [
                sum(v == "correct" for v in vs) / len(vs)
                for vs in judge_samples(chunk, responses, semantic, lenient=lenient)
            ]
            bar.update(len(chunk))
    return out


__all__ = [
    "sample_confidences",
    "targets",
    "PAPER_ORIGINAL",
    "PAPER_REFUSAL_PROMPT",
    "ece",
    "reliability",
    "set_summary",
    "check_targets",
    "calibration",
]
