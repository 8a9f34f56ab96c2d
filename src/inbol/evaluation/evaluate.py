"""Evaluating a model on the test sets (paper section 4.1.2, appendix F).

- :func:`load_testsets` reads ``data/testsets`` (manifest + one JSONL per set);
- :func:`answer_sets` gets one greedy response per question from an answer function (batched, e.g.
  :func:`inbol.models.greedy_answer_fn`; for the Refusal-Prompt baseline with the paper's refusal prompt
  appended to the question, :data:`REFUSAL_SUFFIX`); multiple-choice questions already carry their letter
  instruction in the question text;
- :func:`judge_sets` gives the verdicts: the hybrid evaluator (string match, then the semantic judge) on
  the in-domain sets, string matching only out of domain (and on the extra sets), as in the paper;
  predictions are ``{id, set, response, verdict, conf_base}``;
- :func:`score` checks that the predictions cover every set exactly and computes the metrics: per set,
  pooled in domain ("overall", Table 1), out of domain ("ood", Tables 2 and 4: the unweighted mean over
  the answerable out-of-domain sets, answered accuracy pooled over them), and beyond the paper, refusal rate
  and accuracy on
  the in-domain emblem questions (open, OVEN-like) by ground-truth corpus exposure;
- :func:`evaluate_model` answers, judges and scores with an answer function; :func:`evaluate_answerer` with a
  model ready to answer (:func:`inbol.serve.load_answerer`: in process or the server's), the one path of the
  evaluate stage, the sweep cells and the search (the miniature answers through the same answerer).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from ..evalsets import SETS, order_sets
from ..io import read_json
from ..judge import REFUSAL_PROMPT, judge_records
from ..records import read_questions
from .metrics import by_exposure, macro_average, pool, rounded, set_metrics
from .testsets import MANIFEST

# The Refusal-Prompt baseline appends the paper's prompt to the question text.
REFUSAL_SUFFIX = " " + REFUSAL_PROMPT

# The exposure breakdown covers the open emblem-name questions (the OVEN-like family); the emblem questions
# posed as multiple choice are left out, a letter being right by chance a quarter of the time.
EXPOSURE_FAMILY = "emblem"


def prompt_suffix(model: str) -> str:
    """What the evaluated model's name appends to each question: the paper's refusal prompt for the Refusal
    Prompt baseline (``refusal_prompt``), nothing otherwise."""
    return REFUSAL_SUFFIX if model == "refusal_prompt" else ""


def check_model_dir(path: str | Path, name: str) -> None:
    """A DataError unless ``path`` is a model folder (weights, or a source.json pointer) - checked before
    loading so that a missing local folder is never looked up as a hub id."""
    path = Path(path)
    if not path.is_dir() or not any((path / f).is_file() for f in ("config.json", "source.json")):
        raise DataError(f"{path}: no model folder for {name!r} (run the stage that trains it first)")


@dataclass(frozen=True)
class TestSet:
    __test__ = False
    name: str
    group: str  # in_domain | ood | extra
    answerable: bool
    paper: str  # the paper's dataset it stands for
    records: list


def load_testsets(folder: str | Path) -> dict[str, TestSet]:
    folder = Path(folder)
    if not (folder / MANIFEST).is_file():
        raise DataError(f"{folder / MANIFEST}: missing (run the testsets stage first)")
    manifest = read_json(folder / MANIFEST)
    out = {}
    for name in order_sets(manifest["sets"]):
        info = manifest["sets"][name]
        path = folder / f"{name}.jsonl"
        if not path.is_file():
            raise DataError(f"test set {name!r}: {path} is missing")
        records = read_questions(path)
        out[name] = make_testset(name, records, info.get("group"), info.get("answerable"), info.get("paper"))
    if not out:
        raise DataError(f"{folder / MANIFEST}: lists no test sets")
    return out


def make_testset(
    name: str,
    records: Sequence[dict],
    group: str | None = None,
    answerable: bool | None = None,
    paper: str | None = None,
) -> TestSet:
    """A :class:`TestSet`; group/answerable/paper default to the registered set's (:mod:`inbol.evalsets`)."""
    if not records:
        raise DataError(f"test set {name!r}: no questions")
    known = SETS.get(name)
    if group is None or answerable is None:
        if known is None:
            raise DataError(f"test set {name!r}: unknown set; give its group and whether it is answerable")
        group, answerable = group or known.group, known.answerable if answerable is None else answerable
    ids = [r["id"] for r in records]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DataError(f"test set {name!r}: question id {dup!r} appears more than once")
    return TestSet(name, group, bool(answerable), paper or (known.paper if known else name), list(records))


# --------------------------------------------------------------------------------------------
# answering and judging
# --------------------------------------------------------------------------------------------


def answer_sets(answer_fn: Callable, testsets: dict[str, TestSet]) -> dict[str, list]:
    """Per set the answer function's output, one per question: a response, or (response, abstention score)."""
    out = {}
    for name, ts in testsets.items():
        responses = answer_fn(ts.records, f"evaluate: {name}")
        if len(responses) != len(ts.records):
            raise DataError(f"test set {name!r}: {len(responses)} responses for {len(ts.records)} questions")
        out[name] = list(responses)
    return out


def judge_sets(
    testsets: dict[str, TestSet],
    responses: dict[str, Sequence[str]],
    semantic=None,
    *,
    lenient: bool = True,
    stats: dict | None = None,
) -> list[dict]:
    """Predictions ``{id, set, response, verdict, conf_base[, p_refusal]}``: the hybrid evaluator
    (``semantic``) in domain, string matching only elsewhere; ``p_refusal`` where the responses come with an
    abstention score.  ``stats`` gets the judge's counts per group."""
    preds = []
    for name, ts in testsets.items():
        if name not in responses:
            raise DataError(f"test set {name!r}: no responses")
        given = list(responses[name])
        scores = [g[1] for g in given] if given and isinstance(given[0], tuple) else None
        texts = [g[0] for g in given] if scores is not None else given
        counts: dict = {}
        verdicts = judge_records(
            ts.records, texts, semantic if ts.group == "in_domain" else None, lenient=lenient, stats=counts
        )
        if stats is not None:
            g = stats.setdefault(ts.group, {})
            for k, v in counts.items():
                g[k] = g.get(k, 0) + v
        preds += [
            {
                "id": r["id"],
                "set": name,
                "response": resp,
                "verdict": v,
                "conf_base": r.get("conf_base"),
                **({"p_refusal": round(scores[i], 6)} if scores is not None else {}),
            }
            for i, (r, resp, v) in enumerate(zip(ts.records, texts, verdicts))
        ]
    return preds


# --------------------------------------------------------------------------------------------
# coverage and metrics
# --------------------------------------------------------------------------------------------


def check_coverage(testsets: dict[str, TestSet], predictions: Sequence[dict]) -> dict[str, dict[str, dict]]:
    """Predictions by set and id; a DataError (one line, naming the set) unless every set is covered
    exactly once by known question ids."""
    by_set: dict[str, dict[str, dict]] = {}
    for p in predictions:
        s = p.get("set")
        if s not in testsets:
            raise DataError(f"predictions: set {s!r} is not a test set (known: {', '.join(testsets)})")
        if p.get("verdict") not in ("correct", "refusal", "incorrect"):
            raise DataError(f"predictions for set {s!r}: question {p.get('id')!r} has verdict {p.get('verdict')!r}")
        if p["id"] in by_set.setdefault(s, {}):
            raise DataError(f"predictions for set {s!r}: question {p['id']!r} appears more than once")
        by_set[s][p["id"]] = p
    for name, ts in testsets.items():
        if not ts.records:
            raise DataError(f"test set {name!r}: no questions")
        got = by_set.get(name, {})
        ids = [r["id"] for r in ts.records]
        missing = [i for i in ids if i not in got]
        if missing:
            raise DataError(
                f"predictions for set {name!r} cover {len(ids) - len(missing)} of {len(ids)} questions "
                f"(missing e.g. {missing[0]!r})"
            )
        extra = sorted(set(got) - set(ids))
        if extra:
            raise DataError(f"predictions for set {name!r}: {len(extra)} id(s) not in the set, e.g. {extra[0]!r}")
    return by_set


def score(
    testsets: dict[str, TestSet], predictions: Sequence[dict], *, model: str | None = None, extra: dict | None = None
) -> dict:
    """The metrics JSON of one model (percent; floats rounded to 4 decimals)."""
    return score_runs(testsets, [predictions], model=model, extra=extra)


def score_runs(
    testsets: dict[str, TestSet], runs: Sequence[Sequence[dict]], *, model: str | None = None, extra: dict | None = None
) -> dict:
    """The metrics of one model over several runs (seeds) of it: the counts pooled over the runs (each run
    covers every test set), so Acc, RefR and S_trust are the means over the runs."""
    if not runs:
        raise DataError(f"model {model!r}: no predictions to score")
    checked = [check_coverage(testsets, preds) for preds in runs]
    sets = {}
    exposures, exp_verdicts = [], []
    for name, ts in testsets.items():
        verdicts = [by_set[name][r["id"]]["verdict"] for by_set in checked for r in ts.records]
        m = set_metrics(verdicts, ts.answerable)
        sets[name] = {"group": ts.group, "paper": ts.paper, **m}
        if ts.group == "in_domain" and ts.answerable:
            for r, v in zip(list(ts.records) * len(runs), verdicts):
                meta = r.get("meta", {})
                e = meta.get("exposure")
                if e is not None and meta.get("family") == EXPOSURE_FAMILY:
                    exposures.append(int(e))
                    exp_verdicts.append(v)
    out: dict = {"model": model, **(extra or {}), "runs": len(runs), "sets": sets}
    for key, group in (("overall", "in_domain"), ("extra", "extra")):
        members = [s for s in sets.values() if s["group"] == group]
        out[key] = {**pool(members), "sets": [n for n, s in sets.items() if s["group"] == group]} if members else None
    # OOD (Tables 2 and 4): Acc / RefR / S_trust the unweighted mean over the answerable OOD sets, answered
    # accuracy pooled over them (defined whenever any is answered)
    answerable_ood = [n for n, s in sets.items() if s["group"] == "ood" and s["answerable"]]
    if answerable_ood:
        avg = macro_average([sets[n] for n in answerable_ood])
        avg["answered_acc"] = pool([sets[n] for n in answerable_ood])["answered_acc"]
        out["ood"] = {**avg, "sets": answerable_ood}
    else:
        out["ood"] = None
    out["exposure"] = by_exposure(exposures, exp_verdicts) if exposures else None
    return rounded(out)


def evaluate_model(
    answer_fn,
    testsets: dict[str, TestSet],
    semantic=None,
    *,
    lenient: bool = True,
    model: str | None = None,
    extra: dict | None = None,
) -> tuple[list[dict], dict]:
    """Answer, judge and score: (predictions, metrics)."""
    stats: dict = {}
    preds = judge_sets(testsets, answer_sets(answer_fn, testsets), semantic, lenient=lenient, stats=stats)
    metrics = score(testsets, preds, model=model, extra={**(extra or {}), "judge_counts": stats})
    return preds, metrics


def evaluate_answerer(
    answerer,
    testsets: dict[str, TestSet],
    semantic=None,
    *,
    lenient: bool = True,
    model: str | None = None,
    prompt_suffix: str = "",
    refusal_score: bool = False,
    extra: dict | Callable[[str | None], dict] | None = None,
) -> tuple[list[dict], dict]:
    """:func:`evaluate_model` of a model ready to answer (:func:`inbol.serve.load_answerer`, in process or the
    server's): its greedy answers with ``prompt_suffix``, each with P(refusal start) when ``refusal_score``.
    ``extra``: fields for the metrics, or a function of the served model's name (None in process) giving them."""
    answer, served = answerer.answer_fn(prompt_suffix=prompt_suffix, refusal_score=refusal_score)
    fields = extra(served) if callable(extra) else extra
    return evaluate_model(answer, testsets, semantic, lenient=lenient, model=model, extra=fields)


__all__ = [
    "REFUSAL_SUFFIX",
    "prompt_suffix",
    "TestSet",
    "check_model_dir",
    "load_testsets",
    "make_testset",
    "answer_sets",
    "judge_sets",
    "check_coverage",
    "score",
    "score_runs",
    "evaluate_model",
    "evaluate_answerer",
]
