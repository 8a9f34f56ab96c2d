"""Confidence estimation (paper section 3.2): judge the K sampled responses, take the fraction judged
correct as the question's confidence, and restructure each question into the paper's Figure 2 format.

- :func:`judge_split` turns samples ``{id, responses}`` into ``{id, responses, correct, refusal}`` with the
  hybrid evaluator (:func:`inbol.judge.judge_samples`: string match first, a semantic judge for the rest);
- :func:`confidence` is the fraction of correct samples;
- :func:`restructure_record` keeps one random correct and one random incorrect (non-refusal) sampled
  response and one refusal drawn from the project's templates, each choice seeded by (seed, question id);
- the Known / Mixed / Unknown rule is :func:`inbol.boundary.bucket`;
- :func:`confidence_metrics`, :func:`histogram_rows` and :func:`plot_histogram` summarise the result.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence
from pathlib import Path

from .boundary.split import bucket
from .errors import DataError
from .judge import judge_samples, pick_refusal
from .seeding import stable_random

# --------------------------------------------------------------------------------------------
# judging
# --------------------------------------------------------------------------------------------


def index_questions(questions: Iterable[dict]) -> dict[str, dict]:
    """Questions by id; a duplicated id keeps its first record (the one the sample stage sampled)."""
    out: dict[str, dict] = {}
    for q in questions:
        out.setdefault(q["id"], q)
    return out


def questions_of(
    questions: Sequence[dict] | dict[str, dict], items: Sequence[dict], name: str, what: str
) -> list[dict]:
    """The question record of each item (by id); a DataError when there is no item or an id is unknown."""
    if not items:
        raise DataError(f"{name}: empty input (no {what} records)")
    by_id = questions if isinstance(questions, dict) else index_questions(questions)
    missing = [s["id"] for s in items if s["id"] not in by_id]
    if missing:
        raise DataError(f"{name}: {len(missing)} {what} question(s) not among the questions, e.g. {missing[0]!r}")
    return [by_id[s["id"]] for s in items]


def judge_split(
    questions: Sequence[dict] | dict[str, dict],
    samples: Sequence[dict],
    semantic=None,
    *,
    lenient: bool = True,
    stats: dict | None = None,
    name: str = "samples",
) -> list[dict]:
    """``{id, responses, correct: [K bools], refusal: [K bools]}`` per sample record (one batch for the
    semantic judge)."""
    records = questions_of(questions, samples, name, "sampled")
    verdicts = judge_samples(records, [s["responses"] for s in samples], semantic, lenient=lenient, stats=stats)
    return [
        {
            "id": s["id"],
            "responses": list(s["responses"]),
            "correct": [v == "correct" for v in vs],
            "refusal": [v == "refusal" for v in vs],
        }
        for s, vs in zip(samples, verdicts)
    ]


# --------------------------------------------------------------------------------------------
# confidence and restructuring
# --------------------------------------------------------------------------------------------


def confidence(correct: Sequence[bool]) -> float:
    """The fraction of the K sampled responses judged correct."""
    if len(correct) == 0:
        raise ValueError("confidence of zero samples is undefined")
    return sum(bool(c) for c in correct) / len(correct)


def _rng(seed: int, qid: str, purpose: str):
    return stable_random(seed, f"{qid}/{purpose}")


def refusal_for(qid: str, seed: int = 0, refusal_templates: int | None = None) -> str:
    """The refusal response of question ``qid``: a template from the first ``refusal_templates`` (all when
    None), drawn with the question's own stream (the restructure stage's choice)."""
    return pick_refusal(_rng(seed, qid, "refusal"), refusal_templates)


def with_refusals(records: Sequence[dict], seed: int = 0, refusal_templates: int | None = None) -> list[dict]:
    """Copies of restructured VQA ``records`` with the refusal response drawn from another template subset,
    as the restructure stage with ``refusal_templates`` would have drawn it (the validation search)."""
    return [{**r, "refusal_response": refusal_for(r["id"], seed, refusal_templates)} for r in records]


def restructure_record(question: dict, judged: dict, seed: int = 0, refusal_templates: int | None = None) -> dict:
    """The paper's Figure 2 record of one question (``origin: vqa``); a response kind that no sample
    has is None."""
    responses, correct, refusal = judged["responses"], judged["correct"], judged["refusal"]
    if not (len(responses) == len(correct) == len(refusal)):
        raise DataError(f"{judged['id']}: responses, correct and refusal differ in length")
    qid = question["id"]
    right = [r for r, c in zip(responses, correct) if c]
    wrong = [r for r, c, f in zip(responses, correct, refusal) if not c and not f]
    # a blank sample is incorrect (as in evaluation); a non-blank incorrect one is preferred as the rejected
    # response when there is one
    wrong = [r for r in wrong if r.strip()] or wrong
    rec = {
        "id": qid,
        "image": question["image"],
        "question": question["question"],
        "answers": list(question["answers"]),
        "kind": question["kind"],
        "meta": question.get("meta", {}),
        "conf": confidence(correct),
        "correct_response": _rng(seed, qid, "correct").choice(right) if right else None,
        "incorrect_response": _rng(seed, qid, "incorrect").choice(wrong) if wrong else None,
        "refusal_response": refusal_for(qid, seed, refusal_templates),
        "origin": "vqa",
    }
    if "choices" in question:
        rec["choices"] = list(question["choices"])
    return rec


def restructure_split(
    questions: Sequence[dict] | dict[str, dict],
    judged: Sequence[dict],
    seed: int = 0,
    name: str = "judged",
    refusal_templates: int | None = None,
) -> list[dict]:
    records = questions_of(questions, judged, name, "judged")
    return [restructure_record(q, j, seed, refusal_templates) for q, j in zip(records, judged)]


# --------------------------------------------------------------------------------------------
# metrics and plots
# --------------------------------------------------------------------------------------------


def _n_correct(j: dict) -> int:
    return sum(bool(c) for c in j["correct"])


def _summary(rows: list[tuple[dict, dict]], k: int, delta_k: float, delta_uk: float) -> dict:
    """rows: (restructured record, judged record) pairs."""
    n = len(rows)
    hist = collections.Counter(_n_correct(j) for _, j in rows)
    buckets = collections.Counter(bucket(r["conf"], delta_k, delta_uk) for r, _ in rows)
    answerable = [j for r, j in rows if r["kind"] != "unanswerable"]
    n_samples = sum(len(j["refusal"]) for j in answerable)
    n_refusals = sum(sum(bool(x) for x in j["refusal"]) for j in answerable)
    out = {
        "n": n,
        "conf_mean": round(sum(r["conf"] for r, _ in rows) / n, 4) if n else None,
        "hist_n_correct": {str(i): hist.get(i, 0) for i in range(k + 1)},
    }
    for b in ("known", "mixed", "unknown"):
        out[b] = buckets.get(b, 0)
        out[f"{b}_share"] = round(buckets.get(b, 0) / n, 4) if n else None
    out["refusal_rate"] = round(n_refusals / n_samples, 4) if n_samples else None
    return out


def confidence_metrics(
    restructured: dict[str, list[dict]],
    judged: dict[str, list[dict]],
    *,
    delta_k: float,
    delta_uk: float,
    bad_images: dict[str, int] | None = None,
    by_family: Sequence[str] | None = ("pool",),
) -> dict:
    """``metrics/confidence.json``: per split the conf distribution (mean; histogram of the number of
    correct samples 0..K, i.e. bins by exact value k/K), the Known/Mixed/Unknown counts and shares at
    the thresholds, and the base model's refusal rate on the sampled responses of answerable questions;
    the same per family for the splits in ``by_family`` (None: every split); and the questions skipped
    for a missing or unreadable image."""
    k = max((len(j["correct"]) for js in judged.values() for j in js), default=0)
    out: dict = {"k": k, "delta_k": delta_k, "delta_uk": delta_uk, "splits": {}}
    for split, recs in restructured.items():
        by_id = {j["id"]: j for j in judged[split]}
        rows = [(r, by_id[r["id"]]) for r in recs]
        summary = _summary(rows, k, delta_k, delta_uk)
        fams = collections.defaultdict(list)
        for r, j in rows:
            fams[r.get("meta", {}).get("family", "unknown")].append((r, j))
        if by_family is None or split in by_family:
            summary["families"] = {f: _summary(v, k, delta_k, delta_uk) for f, v in sorted(fams.items())}
        out["splits"][split] = summary
    bad = dict(bad_images or {})
    out["bad_images"] = {"total": sum(bad.values()), **{s: int(v) for s, v in sorted(bad.items())}}
    return out


def histogram_rows(metrics: dict, split: str) -> list[dict]:
    """CSV rows ``{conf, family, count, share}`` of one split's histogram (family ``all`` and, when the
    metrics have them, each family)."""
    k = metrics["k"]
    s = metrics["splits"][split]
    rows = []
    for fam, summ in [("all", s)] + sorted(s.get("families", {}).items()):
        for i in range(k + 1):
            c = summ["hist_n_correct"][str(i)]
            rows.append(
                {
                    "conf": round(i / k, 4),
                    "family": fam,
                    "count": c,
                    "share": round(c / summ["n"], 4) if summ["n"] else 0.0,
                }
            )
    return rows


def write_histogram_csv(rows: list[dict], path: str | Path) -> None:
    import csv

    from .io import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["conf", "family", "count", "share"])
        w.writeheader()
        w.writerows(rows)


def plot_histogram(rows: list[dict], path: str | Path, *, delta_k: float, delta_uk: float, title: str = "") -> None:
    """Bars of the share of questions per confidence value, one colour per family; dashed lines mark where
    the Unknown and Known regions end/begin at the thresholds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns

    from .io import atomic_path

    df = pd.DataFrame(rows)
    df["conf"] = df["conf"].map(lambda c: f"{c:.2g}")
    fig, ax = plt.subplots(figsize=(7.5, 3.8), dpi=120)
    sns.barplot(data=df, x="conf", y="share", hue="family", ax=ax)
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    confs = sorted(set(r["conf"] for r in rows))
    known = [i for i, c in enumerate(confs) if bucket(c, delta_k, delta_uk) == "known"]
    unknown = [i for i, c in enumerate(confs) if bucket(c, delta_k, delta_uk) == "unknown"]
    top = ax.get_ylim()[1] * 1.15
    ax.set_ylim(0, top)
    if unknown:
        ax.axvline(unknown[-1] + 0.5, color="k", linestyle=":", linewidth=1)
        ax.text(unknown[-1] + 0.45, top * 0.97, f"Unknown (conf <= {delta_uk:g})", fontsize=8, va="top", ha="right")
    if known:
        ax.axvline(known[0] - 0.5, color="k", linestyle="--", linewidth=1)
        ax.text(known[0] - 0.45, top * 0.97, f"Known (conf >= {delta_k:g})", fontsize=8, va="top", ha="left")
    ax.set_xlabel("confidence (fraction of K samples judged correct)")
    ax.set_ylabel("share of questions")
    ax.set_title(title or "Base-model confidence")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
