"""Diagnostics, on validation only: why trained refusal barely follows the original model's knowledge.

Three readings per training seed, and two counts of the constructed data (docs/evaluation.md, "Diagnostics"):

(i) **Refusal on Known questions** (:func:`known_buckets`).  Known = the original model's confidence >=
    ``delta_k`` (up to :data:`inbol.boundary.split.EPS`, the construct stage's rule).  Buckets:

    - ``idk_it_train``: the Known questions of IDK-IT's training set (``idk_it.jsonl``, bucket known);
    - ``ca_dpo_train``: the Known questions of CA-DPO's preference set (``preference.jsonl``, bucket known);
    - ``pool_unseen``: Known pool questions in neither file (drawn from the same pool, never trained on);
    - ``val_known``: the validation sets' answerable in-domain questions with ``conf_base >= delta_k``.

    Each bucket is a seeded sample of at most ``diagnose.max_per_bucket`` questions; the original model, IDK-IT
    and CA-DPO answer them greedily through the evaluation's own path (:func:`inbol.serve.load_answerer`,
    :func:`inbol.evaluation.answer_sets` and :func:`inbol.evaluation.judge_sets`: the hybrid evaluator).  A model
    that refuses its own training questions as often as unseen ones has not memorised "answer these"; one that
    refuses validation Known questions far more often than pool ones fails to carry the rule to new images.

(ii) **The ceiling: a linear probe of the original model** (:func:`probe_errors`).  Label = the original
    model's greedy answer is wrong (not judged correct); feature = its last hidden state at the prompt's last
    token (:func:`inbol.probe.extract_features`, the probe stage's feature); classifier = scikit-learn's
    StandardScaler + LogisticRegression with C chosen by cross-validated AUROC on the pool
    (``diagnose.probe_c``, ``diagnose.cv_folds``); trained on a sample of the answerable pool questions
    (``diagnose.probe_train``), scored on the answerable in-domain validation questions: AUROC with a bootstrap
    interval beside the AUROC of the original's own K-sample confidence (score 1 - conf) on the same questions.
    What a linear read-out of this model's state can tell about its errors bounds what refusal training on
    that state can learn.

(iii) **Knowledge loss versus refusal** (:func:`answer_logprobs`, :func:`lost_answers`).  The teacher-forced
    log-probability of the gold answer (``answers[0]``: its tokens only, without EOS, given the generation
    prompt) on the ``val_known`` sample, for the original model, IDK-IT and CA-DPO, with the paired difference
    to the original; and the questions the original answers right that a trained model does not, split into
    refusals and wrong answers.

Counts of the constructed data (:func:`construction_counts`): the overlap of CA-DPO's Known questions with
IDK-IT's (and the overlap two independent draws from the pool's Known questions would give), and IDK-IT's
refusal examples split into intrinsic (answerable, Unknown) and extrinsic (unanswerable) ones.

Small samples: a rate or a mean on fewer than ``diagnose.min_n`` questions, or an AUROC with fewer than
``min_n`` of either class (a probe whose training labels hold one class included), is reported as ``null``
with a line in ``warnings`` naming the set and the figure; it never stops the stage.
"""

from __future__ import annotations

import math
import warnings as _warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

from .boundary.split import EPS
from .errors import DataError

BUCKETS = ("idk_it_train", "ca_dpo_train", "pool_unseen", "val_known")
BUCKET_LABELS = {
    "idk_it_train": "IDK-IT's Known training questions",
    "ca_dpo_train": "CA-DPO's Known training questions",
    "pool_unseen": "Known pool questions never trained on",
    "val_known": "validation Known questions",
}
_SAMPLE_STREAM, _PROBE_STREAM, _BOOT_STREAM = 51, 52, 53


# --------------------------------------------------------------------------------------------
# small-sample rules and intervals
# --------------------------------------------------------------------------------------------


class Notes:
    """The warnings of one run: one line each, naming the set and the figure."""

    def __init__(self):
        self.lines: list[str] = []

    def add(self, line: str) -> None:
        if line not in self.lines:
            self.lines.append(line)


def _round(x: float | None, digits: int = 4) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), digits)


def _boot_rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng([seed, _BOOT_STREAM, *key])


def mean_ci(
    values: Sequence[float], *, n_boot: int, seed: int, min_n: int, where: str, notes: Notes, key: int = 0
) -> dict:
    """``{n, mean, ci}`` of ``values`` (a 95% percentile bootstrap interval over the values); ``mean`` and ``ci``
    are null (and a warning names ``where``) on fewer than ``min_n`` values."""
    v = np.asarray(values, dtype=float)
    if len(v) < min_n:
        notes.add(f"{where}: n/a, {len(v)} questions < diagnose.min_n = {min_n}")
        return {"n": len(v), "mean": None, "ci": None}
    rng = _boot_rng(seed, key)
    reps = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1)
    lo, hi = np.percentile(reps, [2.5, 97.5])
    return {"n": len(v), "mean": _round(v.mean()), "ci": [_round(lo), _round(hi)]}


def auroc(score: Sequence[float], positive: Sequence[bool]) -> float | None:
    """scikit-learn's ROC AUC of ``score`` for ``positive``; None when a class is empty."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(positive, dtype=bool)
    if y.all() or not y.any():
        return None
    return float(roc_auc_score(y, np.asarray(score, dtype=float)))


def auroc_cis(
    scores: Mapping[str, Sequence[float]],
    positive: Sequence[bool],
    *,
    n_boot: int,
    seed: int,
    min_n: int,
    where: str,
    notes: Notes,
) -> dict:
    """AUROC of each named score for ``positive`` on the same questions, each with a 95% bootstrap interval,
    and (two scores) their paired difference (first minus second) on the same resamples.  Null, with a
    warning naming ``where``, when either class has fewer than ``min_n`` questions."""
    y = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    out: dict = {"n": len(y), "n_positive": n_pos, "n_negative": n_neg}
    names = list(scores)
    if min(n_pos, n_neg) < min_n:
        notes.add(
            f"{where}: AUROC n/a, {n_pos} positive and {n_neg} negative questions (each needs diagnose.min_n = {min_n})"
        )
        return {**out, **{k: None for k in names}, **({"difference": None} if len(names) == 2 else {})}
    s = {k: np.asarray(v, dtype=float) for k, v in scores.items()}
    rng = _boot_rng(seed, len(y))
    reps: dict[str, list[float]] = {k: [] for k in names}
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), size=len(y))
        if y[idx].all() or not y[idx].any():
            continue
        for k in names:
            reps[k].append(auroc(s[k][idx], y[idx]))
    for k in names:
        lo, hi = np.percentile(reps[k], [2.5, 97.5])
        out[k] = {"auroc": _round(auroc(s[k], y)), "ci": [_round(lo), _round(hi)]}
    if len(names) == 2:
        a, b = names
        d = np.asarray(reps[a]) - np.asarray(reps[b])
        lo, hi = np.percentile(d, [2.5, 97.5])
        out["difference"] = {
            "of": f"{a} - {b}",
            "value": _round(out[a]["auroc"] - out[b]["auroc"]),
            "ci": [_round(lo), _round(hi)],
        }
    return out


# --------------------------------------------------------------------------------------------
# the buckets and the constructed data
# --------------------------------------------------------------------------------------------


def is_known(conf, delta_k: float) -> bool:
    """conf >= delta_k up to :data:`EPS` (the construct stage's Known rule); None is never Known."""
    return conf is not None and float(conf) >= delta_k - EPS


def answerable(r: Mapping) -> bool:
    return r.get("origin") != "unanswerable" and r.get("kind") != "unanswerable" and bool(r.get("answers"))


def _known_ids(records: Sequence[Mapping]) -> list[str]:
    """Question ids of the bucket-known records (a preference record's ``qid`` when it has one), in order."""
    out, seen = [], set()
    for r in records:
        if r.get("bucket") == "known":
            q = r.get("qid") or r["id"]
            if q not in seen:
                seen.add(q)
                out.append(q)
    return out


def construction_counts(
    pool: Sequence[Mapping], idk_it: Sequence[Mapping], preference: Sequence[Mapping], delta_k: float
) -> dict:
    """How the seed's constructed sets use the pool: CA-DPO's Known questions that are IDK-IT's Known training
    questions too (and the share two independent draws would share: IDK-IT's Known count over the pool's),
    and IDK-IT's refusal examples by kind (intrinsic: answerable questions of the Unknown bucket; extrinsic:
    unanswerable questions)."""
    pool_known = {r["id"] for r in pool if answerable(r) and is_known(r.get("conf"), delta_k)}
    idk_known, pref_known = set(_known_ids(idk_it)), set(_known_ids(preference))
    both = idk_known & pref_known
    refusals = [r for r in idk_it if r.get("bucket") != "known"]
    extrinsic = sum(r.get("origin") == "unanswerable" for r in refusals)
    return {
        "pool_known": len(pool_known),
        "idk_it_known": len(idk_known),
        "ca_dpo_known": len(pref_known),
        "ca_dpo_known_in_idk_it": len(both),
        "share_ca_dpo_known_in_idk_it": _round(len(both) / len(pref_known)) if pref_known else None,
        "share_expected_if_independent": _round(len(idk_known & pool_known) / len(pool_known)) if pool_known else None,
        "idk_it_examples": len(idk_it),
        "idk_it_refusals": len(refusals),
        "idk_it_refusals_intrinsic": len(refusals) - extrinsic,
        "idk_it_refusals_extrinsic": extrinsic,
        "share_refusals_extrinsic": _round(extrinsic / len(refusals)) if refusals else None,
    }


def val_known(valsets: Mapping, delta_k: float) -> list[dict]:
    """The answerable in-domain validation questions with ``conf_base >= delta_k`` (each with its ``set``)."""
    return [
        {**r, "set": name}
        for name, ts in valsets.items()
        if ts.group == "in_domain" and ts.answerable
        for r in ts.records
        if is_known(r.get("conf_base"), delta_k)
    ]


def val_answerable(valsets: Mapping) -> list[dict]:
    """Every answerable in-domain validation question (each with its ``set``)."""
    return [
        {**r, "set": name}
        for name, ts in valsets.items()
        if ts.group == "in_domain" and ts.answerable
        for r in ts.records
    ]


def known_buckets(
    pool: Sequence[Mapping], idk_it: Sequence[Mapping], preference: Sequence[Mapping], valsets: Mapping, delta_k: float
) -> dict[str, list[dict]]:
    """Every question of each bucket of :data:`BUCKETS` (pool records for the first three, in pool order)."""
    by_id = {r["id"]: r for r in pool}
    out: dict[str, list[dict]] = {}
    for name, recs in (("idk_it_train", idk_it), ("ca_dpo_train", preference)):
        ids = set(_known_ids(recs))
        missing = sorted(ids - set(by_id))
        if missing:
            raise DataError(
                f"diagnose: {len(missing)} Known question(s) of {name.removesuffix('_train')}'s training set are not "
                f"in the pool, e.g. {missing[0]!r} (re-run construct on this pool)"
            )
        out[name] = [dict(r) for r in pool if r["id"] in ids]
    trained = {r.get("qid") or r["id"] for r in (*idk_it, *preference)}
    out["pool_unseen"] = [
        dict(r) for r in pool if answerable(r) and is_known(r.get("conf"), delta_k) and r["id"] not in trained
    ]
    out["val_known"] = val_known(valsets, delta_k)
    return out


def sample(records: Sequence[dict], n: int, seed: int, key: int) -> list[dict]:
    """At most ``n`` of ``records`` (a generator seeded by (seed, key)), in their input order."""
    if len(records) <= n:
        return list(records)
    idx = np.random.default_rng([seed, _SAMPLE_STREAM, key]).choice(len(records), size=n, replace=False)
    return [records[i] for i in sorted(int(i) for i in idx)]


# --------------------------------------------------------------------------------------------
# answers, verdicts, refusal rates
# --------------------------------------------------------------------------------------------


def verdicts(
    answer_fn: Callable, records: Sequence[dict], name: str, semantic=None, *, lenient: bool = True
) -> list[str]:
    """The verdict of each record's greedy answer, through the evaluation's path (answer, then the hybrid
    evaluator as on an in-domain set)."""
    from .evaluation import answer_sets, judge_sets, make_testset

    if not records:
        return []
    ts = {name: make_testset(name, records, "in_domain", True, name)}
    preds = judge_sets(ts, answer_sets(answer_fn, ts), semantic, lenient=lenient)
    return [p["verdict"] for p in preds]


def family(r: Mapping) -> str:
    """The question family (``meta.family``; else its kind)."""
    return (r.get("meta") or {}).get("family") or r.get("kind") or "unknown"


def bucket_rates(
    v: Sequence[str],
    *,
    n_boot: int,
    seed: int,
    min_n: int,
    where: str,
    notes: Notes,
    families: Sequence[str] | None = None,
) -> dict:
    """Refusal rate and accuracy (fractions) of verdicts ``v``, each with a bootstrap interval; with
    ``families`` (one per verdict) the refusal rate per family too."""
    v = list(v)
    ref = mean_ci(
        [x == "refusal" for x in v], n_boot=n_boot, seed=seed, min_n=min_n, where=f"{where}: refusal rate", notes=notes
    )
    acc = mean_ci(
        [x == "correct" for x in v],
        n_boot=n_boot,
        seed=seed,
        min_n=min_n,
        where=f"{where}: accuracy",
        notes=notes,
        key=1,
    )
    out = {
        "n": len(v),
        "refusal_rate": ref["mean"],
        "refusal_ci": ref["ci"],
        "accuracy": acc["mean"],
        "accuracy_ci": acc["ci"],
    }
    if families is not None:
        out["by_family"] = {}
        for fam in sorted(set(families)):
            fv = [x for x, f in zip(v, families, strict=True) if f == fam]
            r = mean_ci(
                [x == "refusal" for x in fv],
                n_boot=n_boot,
                seed=seed,
                min_n=min_n,
                where=f"{where}, family {fam}: refusal rate",
                notes=notes,
            )
            out["by_family"][fam] = {"n": len(fv), "refusal_rate": r["mean"], "refusal_ci": r["ci"]}
    return out


def lost_answers(original: Sequence[str], trained: Sequence[str]) -> dict:
    """The questions the original answers right that the trained model does not: refused or answered wrong."""
    lost = [t for o, t in zip(original, trained, strict=True) if o == "correct" and t != "correct"]
    right = sum(o == "correct" for o in original)
    refused = sum(t == "refusal" for t in lost)
    return {
        "original_right": right,
        "lost": len(lost),
        "lost_to_refusal": refused,
        "lost_to_wrong_answer": len(lost) - refused,
        "share_lost_to_refusal": _round(refused / len(lost)) if lost else None,
    }


# --------------------------------------------------------------------------------------------
# teacher-forced log-probability of the gold answer
# --------------------------------------------------------------------------------------------


def answer_text(fmt, question: str, answer: str) -> str:
    """The completion of ``answer`` in the chat template without its EOS: the answer tokens only."""
    c = fmt.completion(question, answer)
    return c[: -len(fmt.eos)] if fmt.eos and c.endswith(fmt.eos) else c


@torch.no_grad()
def answer_logprobs(
    model, fmt, records: Sequence[dict], answers: Sequence[str], *, batch_size: int = 32
) -> list[tuple[float, int]]:
    """Per record ``(log P(answer | prompt), number of answer tokens)``: the generation prompt
    (``fmt.prompt``) followed by the answer's tokens (:func:`answer_text`) in one forward pass (right padding),
    the log-probabilities of the answer tokens summed."""
    from .models.generate import open_images

    processor, tok = fmt.processor, fmt.processor.tokenizer
    device = next(model.parameters()).device
    out: list[tuple[float, int]] = []
    for start in range(0, len(records), batch_size):
        chunk, golds = records[start : start + batch_size], answers[start : start + batch_size]
        prompts = [fmt.prompt(r["question"]) for r in chunk]
        tails = [answer_text(fmt, r["question"], a) for r, a in zip(chunk, golds)]
        n_ans = [len(tok(t, add_special_tokens=False)["input_ids"]) for t in tails]
        tok.padding_side = "right"
        batch = processor(
            images=open_images([r["image"] for r in chunk]),
            text=[p + t for p, t in zip(prompts, tails)],
            return_tensors="pt",
            padding=True,
        ).to(device)
        if "pixel_values" in batch:
            batch["pixel_values"] = batch["pixel_values"].to(model.dtype)
        logits = model(**batch, use_cache=False).logits.float()
        logp = torch.log_softmax(logits[:, :-1], dim=-1)
        ids = batch["input_ids"]
        lengths = batch["attention_mask"].sum(-1).tolist()
        for i, (length, n) in enumerate(zip(lengths, n_ans)):
            if n < 1:
                raise DataError(f"diagnose: the gold answer {golds[i]!r} of question {chunk[i]['id']!r} has no tokens")
            pos = torch.arange(length - n - 1, length - 1, device=logp.device)
            total = logp[i, pos, ids[i, pos + 1]].sum().item()
            out.append((total, n))
    tok.padding_side = "left"
    return out


def logprob_summary(
    lp: Sequence[tuple[float, int]],
    base: Sequence[tuple[float, int]] | None,
    *,
    n_boot: int,
    seed: int,
    min_n: int,
    where: str,
    notes: Notes,
) -> dict:
    """Mean log P(gold) per question and per answer token, each with an interval, and (``base`` given) the
    paired mean difference to the original model's on the same questions."""
    total = [t for t, _ in lp]
    per_token = [t / n for t, n in lp]
    out = {
        "logprob": mean_ci(total, n_boot=n_boot, seed=seed, min_n=min_n, where=f"{where}: log P(gold)", notes=notes),
        "logprob_per_token": mean_ci(
            per_token, n_boot=n_boot, seed=seed, min_n=min_n, where=f"{where}: log P(gold) per token", notes=notes
        ),
    }
    if base is not None:
        d = [t - b for t, (b, _) in zip(total, base, strict=True)]
        out["difference_to_original"] = mean_ci(
            d, n_boot=n_boot, seed=seed, min_n=min_n, where=f"{where}: log P(gold) minus the original's", notes=notes
        )
    return out


# --------------------------------------------------------------------------------------------
# the probe of the original model's errors
# --------------------------------------------------------------------------------------------


def probe_errors(
    x_train,
    wrong_train: Sequence[bool],
    x_val,
    wrong_val: Sequence[bool],
    conf_val: Sequence[float],
    cfg,
    notes: Notes,
    families: Sequence[str] | None = None,
) -> dict:
    """StandardScaler + LogisticRegression (C by stratified cross-validated AUROC over ``cfg.probe_c``) trained to
    predict "the original is wrong" on the training features, and its validation AUROC beside that of the
    original's K-sample confidence (score 1 - conf) on the same questions (and per family, ``families``: one
    per validation question).  A class with fewer than ``cfg.min_n`` training questions gives n/a (and a
    warning), not a fit."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.asarray(wrong_train, dtype=int)
    yv = np.asarray(wrong_val, dtype=bool)
    n_wrong, n_right = int(y.sum()), int(len(y) - y.sum())
    out: dict = {
        "label": "the original model's greedy answer is wrong",
        "feature": "the original model's last hidden state at the prompt's last token",
        "train": {"split": "pool", "n": len(y), "wrong": n_wrong, "right": n_right},
        "val": {
            "split": "validation (answerable, in domain)",
            "n": len(yv),
            "wrong": int(yv.sum()),
            "right": int((~yv).sum()),
        },
        "c": None,
        "cv_auroc": None,
    }
    conf_score = 1.0 - np.asarray(conf_val, dtype=float)
    need = max(cfg.min_n, 2)  # a cross-validation needs two questions of each class at least
    if min(n_wrong, n_right) < need:
        notes.add(
            f"probe (pool training questions): n/a, {n_wrong} wrong and {n_right} right answers of the original "
            f"(each class needs {need}: diagnose.min_n = {cfg.min_n}, and 2 for the cross-validation)"
        )
        aur = auroc_cis(
            {"confidence": conf_score},
            yv,
            n_boot=cfg.n_boot,
            seed=cfg.seed,
            min_n=cfg.min_n,
            where="probe (validation): confidence",
            notes=notes,
        )
        return {**out, **aur, "probe": None, "difference": None}
    folds = min(cfg.cv_folds, n_wrong, n_right)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        {"logisticregression__C": list(cfg.probe_c)},
        scoring="roc_auc",
        cv=StratifiedKFold(folds, shuffle=True, random_state=cfg.seed),
    )
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(np.asarray(x_train, dtype=np.float32), y)
    out["c"] = float(search.best_params_["logisticregression__C"])
    out["cv_folds"] = folds
    out["cv_auroc"] = _round(search.best_score_)
    p_wrong = search.predict_proba(np.asarray(x_val, dtype=np.float32))[:, 1]
    aur = auroc_cis(
        {"probe": p_wrong, "confidence": conf_score},
        yv,
        n_boot=cfg.n_boot,
        seed=cfg.seed,
        min_n=cfg.min_n,
        where="probe (validation)",
        notes=notes,
    )
    out = {**out, **aur, "by_family": {}}
    fams = np.asarray(families if families is not None else [], dtype=object)
    for fam in sorted(set(fams.tolist())):
        m = fams == fam
        out["by_family"][fam] = auroc_cis(
            {"probe": p_wrong[m], "confidence": conf_score[m]},
            yv[m],
            n_boot=cfg.n_boot,
            seed=cfg.seed,
            min_n=cfg.min_n,
            where=f"probe (validation, family {fam})",
            notes=notes,
        )
    return out


# --------------------------------------------------------------------------------------------
# the whole diagnosis
# --------------------------------------------------------------------------------------------


def greedy_correct(v: str) -> bool:
    return v == "correct"


class ModelLoader:
    """The models the diagnosis reads: ``answer(name, seed)`` gives a greedy answer function through
    :func:`inbol.serve.load_answerer` (in process or the server's, ``sampling.backend``), ``inproc(name, seed)``
    the weights in process (the same loaded model where the answerer is in process).  ``paths(name, seed)``:
    the model's folder; ``p``: params with the sections sampling, evaluate and prompt."""

    def __init__(self, paths: Callable[[str, int | None], str], p):
        self.paths, self.p = paths, p
        self._loaded: dict = {}

    def answer(self, name: str, seed: int | None) -> Callable:
        from .serve import load_answerer

        a = load_answerer(self.paths(name, seed), self.p, name=name, seed=seed)
        self._loaded = {(name, seed): a}  # one model held at a time
        return a.answer_fn()[0]

    def inproc(self, name: str, seed: int | None) -> tuple:
        from .models import PromptFormat, load_base

        a = self._loaded.pop((name, seed), None)
        if a is not None and hasattr(a, "model"):
            return a.model, a.fmt
        model, processor = load_base(self.paths(name, seed), self.p.evaluate.device, self.p.evaluate.dtype)
        return model, PromptFormat(processor, self.p.prompt.system)


def diagnose(
    *,
    pool: Sequence[dict],
    constructed: Mapping[int, tuple[Sequence[dict], Sequence[dict]]],
    valsets: Mapping,
    delta_k: float,
    cfg,
    answer: Callable[[str, int | None], Callable],
    inproc: Callable[[str, int | None], tuple],
    semantic=None,
    lenient: bool = True,
    batch_size: int = 32,
    progress: bool = True,
) -> dict:
    """The metrics of :mod:`inbol.diagnose`.  ``constructed``: seed -> (IDK-IT records, preference records);
    ``answer(name, seed)``: a greedy answer function of model ``name`` (``base``, ``idk_it``, ``ca_dpo``);
    ``inproc(name, seed)``: (model, prompt format) of it loaded in process."""
    from .probe import extract_features

    notes = Notes()
    kw = dict(n_boot=cfg.n_boot, seed=cfg.seed, min_n=cfg.min_n, notes=notes)
    seeds = sorted(constructed)
    out: dict = {
        "delta_k": delta_k,
        "seeds": seeds,
        "max_per_bucket": cfg.max_per_bucket,
        "units": "fractions; log-probabilities in nats",
        "buckets": dict(BUCKET_LABELS),
        "construction": {},
        "refusal": {},
        "logprob": {},
        "lost": {},
    }
    # every input checked (buckets, ids) before any model answers
    if not seeds:
        raise DataError("diagnose: no training seed to diagnose (seeds is empty)")
    buckets, sampled = {}, {}
    for s in seeds:
        idk, pref = constructed[s]
        out["construction"][f"s{s}"] = construction_counts(pool, idk, pref, delta_k)
        buckets[s] = known_buckets(pool, idk, pref, valsets, delta_k)
        # the pool buckets drawn per training seed; the validation sample is the same for every seed
        sampled[s] = {
            b: sample(buckets[s][b], cfg.max_per_bucket, cfg.seed, 10**6 if b == "val_known" else 100 * s + k)
            for k, b in enumerate(BUCKETS)
        }
    val_sample = sampled[seeds[0]]["val_known"]
    answerable_pool = [r for r in pool if answerable(r)]
    probe_pool = sample(answerable_pool, cfg.probe_train, cfg.seed, _PROBE_STREAM)
    val_all = val_answerable(valsets)
    if not val_all:
        raise DataError("diagnose: the validation sets hold no answerable in-domain question")
    out["sizes"] = {
        f"s{s}": {b: {"available": len(buckets[s][b]), "used": len(sampled[s][b])} for b in BUCKETS} for s in seeds
    }

    # the original model: its greedy verdicts on every bucket, the probe, log P(gold) on val_known
    held = {"answer": answer("base", None)}
    cache: dict[tuple, str] = {}  # the original's verdict per question, answered once

    def base_verdicts(records: Sequence[dict], name: str) -> list[str]:
        key = lambda r: (r["id"], r["image"], r["question"])  # noqa: E731
        todo = list({key(r): r for r in records if key(r) not in cache}.values())
        for r, v in zip(todo, verdicts(held["answer"], todo, name, semantic, lenient=lenient)):
            cache[key(r)] = v
        return [cache[key(r)] for r in records]

    wrong_train = [not greedy_correct(v) for v in base_verdicts(probe_pool, "diagnose: original, probe pool")]
    wrong_val = [not greedy_correct(v) for v in base_verdicts(val_all, "diagnose: original, validation")]
    base_v = {s: {b: base_verdicts(sampled[s][b], f"diagnose: original, {b}") for b in BUCKETS} for s in seeds}
    held.clear()  # every answer of the original is in: one model in memory at a time from here
    model, fmt = inproc("base", None)
    x_train = extract_features(
        model, fmt, probe_pool, batch_size=batch_size, desc="diagnose: probe features (pool)", progress=progress
    )
    x_val = extract_features(
        model, fmt, val_all, batch_size=batch_size, desc="diagnose: probe features (validation)", progress=progress
    )
    out["probe"] = probe_errors(
        x_train,
        wrong_train,
        x_val,
        wrong_val,
        [r.get("conf_base") for r in val_all],
        cfg,
        notes,
        families=[family(r) for r in val_all],
    )
    golds = [r["answers"][0] for r in val_sample]
    base_lp = answer_logprobs(model, fmt, val_sample, golds, batch_size=batch_size) if val_sample else []
    del model
    out["logprob"]["base"] = logprob_summary(base_lp, None, where="val_known, original", **kw)

    fams = {s: {b: [family(r) for r in sampled[s][b]] for b in BUCKETS} for s in seeds}
    for s in seeds:
        tag = f"s{s}"
        out["refusal"][tag] = {
            "base": {
                b: bucket_rates(base_v[s][b], where=f"{b} (seed {s}), original", families=fams[s][b], **kw)
                for b in BUCKETS
            }
        }
        out["logprob"][tag], out["lost"][tag] = {}, {}
        for name in ("idk_it", "ca_dpo"):
            fn = answer(name, s)
            v = {
                b: verdicts(fn, sampled[s][b], f"diagnose: {name}-s{s}, {b}", semantic, lenient=lenient)
                for b in BUCKETS
            }
            out["refusal"][tag][name] = {
                b: bucket_rates(v[b], where=f"{b} (seed {s}), {name}", families=fams[s][b], **kw) for b in BUCKETS
            }
            out["lost"][tag][name] = lost_answers(base_v[s]["val_known"], v["val_known"])
            model, fmt = inproc(name, s)
            lp = answer_logprobs(
                model,
                fmt,
                sampled[s]["val_known"],
                [r["answers"][0] for r in sampled[s]["val_known"]],
                batch_size=batch_size,
            )
            del model
            out["logprob"][tag][name] = logprob_summary(lp, base_lp, where=f"val_known (seed {s}), {name}", **kw)
    out["warnings"] = notes.lines
    return out


# --------------------------------------------------------------------------------------------
# markdown
# --------------------------------------------------------------------------------------------


def _label(name: str) -> str:
    """A model's display name: its method spec's label (the registry), the name itself when it has none."""
    from .methods.spec import load

    try:
        return load(name).label
    except Exception:  # noqa: BLE001 - a name outside the registry is shown as it is
        return name


def _pct(x, ci=None) -> str:
    if x is None:
        return "n/a"
    s = f"{100 * x:.1f}"
    return s + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "")


def _num(x, ci=None, digits: int = 2) -> str:
    if x is None:
        return "n/a"
    return f"{x:.{digits}f}" + (f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]" if ci else "")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" if i == 0 else "---:" for i in range(len(header))) + " |",
    ]
    return out + ["| " + " | ".join(r) + " |" for r in rows]


def markdown(m: Mapping) -> str:
    """A section for the report (validation only): the tables of :func:`diagnose`'s metrics."""
    lines = ["## Diagnostics (validation only)", ""]
    lines += [
        f"Known: the original model's K-sample confidence >= {m['delta_k']:g}. At most {m['max_per_bucket']} "
        "questions per bucket; 95% bootstrap intervals over questions; n/a: too few questions "
        "(`diagnose.min_n`).",
        "",
        "**(i) Refusal rate (%) on Known questions**",
        "",
    ]
    rows = []
    for tag, per in m["refusal"].items():
        for name, b in per.items():
            rows.append([f"{_label(name)} {tag}", *(_pct(b[k]["refusal_rate"], b[k]["refusal_ci"]) for k in BUCKETS)])
    lines += _table(["model", *(BUCKET_LABELS[b] for b in BUCKETS)], rows)
    fam_names = sorted(
        {
            f
            for per in m["refusal"].values()
            for b in per.values()
            for k in ("pool_unseen", "val_known")
            for f in b[k].get("by_family", {})
        }
    )
    if fam_names:
        lines += [
            "",
            "By question family, Known pool questions never trained on -> validation Known questions (refusal %, n):",
            "",
        ]
        rows = []
        for tag, per in m["refusal"].items():
            for name, b in per.items():
                if name == "base":
                    continue
                cells = []
                for f in fam_names:
                    a, v = b["pool_unseen"].get("by_family", {}).get(f), b["val_known"].get("by_family", {}).get(f)
                    cells.append(
                        " -> ".join("–" if x is None else f"{_pct(x['refusal_rate'])} ({x['n']})" for x in (a, v))
                    )
                rows.append([f"{_label(name)} {tag}", *cells])
        lines += _table(["model", *fam_names], rows)
    p = m["probe"]
    lines += ["", "**(ii) Can the original model's hidden state tell its own errors?** (validation AUROC)", ""]
    prow = [
        _num(p["probe"]["auroc"], p["probe"]["ci"], 3) if p.get("probe") else "n/a",
        _num(p["confidence"]["auroc"], p["confidence"]["ci"], 3) if p.get("confidence") else "n/a",
        _num(p["difference"]["value"], p["difference"]["ci"], 3) if p.get("difference") else "n/a",
        f"{p['train']['n']} ({p['train']['wrong']} wrong)",
        f"{p['val']['n']} ({p['val']['wrong']} wrong)",
        "n/a" if p.get("c") is None else f"{p['c']:g}",
    ]
    prow.append(_num(p.get("cv_auroc"), None, 3))
    rows = [["all", *prow]]
    for fam, f in (p.get("by_family") or {}).items():
        rows.append(
            [
                fam,
                _num(f["probe"]["auroc"], f["probe"]["ci"], 3) if f.get("probe") else "n/a",
                _num(f["confidence"]["auroc"], f["confidence"]["ci"], 3) if f.get("confidence") else "n/a",
                _num(f["difference"]["value"], f["difference"]["ci"], 3) if f.get("difference") else "n/a",
                "",
                f"{f['n']} ({f['n_positive']} wrong)",
                "",
                "",
            ]
        )
    lines += _table(
        [
            "questions",
            "linear probe",
            "K-sample confidence",
            "probe - confidence",
            "pool (train)",
            "validation",
            "C",
            "probe CV AUROC (pool)",
        ],
        rows,
    )
    lines += ["", "**(iii) Gold answer log-probability on validation Known questions, and the answers lost**", ""]
    rows = []
    base = m["logprob"]["base"]
    rows.append(["original", _num(base["logprob"]["mean"], base["logprob"]["ci"]), "", "", "", ""])
    for tag, per in m["logprob"].items():
        if tag == "base":
            continue
        for name, lp in per.items():
            lost = m["lost"][tag][name]
            d = lp["difference_to_original"]
            rows.append(
                [
                    f"{_label(name)} {tag}",
                    _num(lp["logprob"]["mean"], lp["logprob"]["ci"]),
                    _num(d["mean"], d["ci"]),
                    str(lost["original_right"]),
                    str(lost["lost_to_refusal"]),
                    str(lost["lost_to_wrong_answer"]),
                ]
            )
    lines += _table(
        ["model", "mean log P(gold)", "minus the original's", "original right", "lost: refused", "lost: wrong answer"],
        rows,
    )
    lines += ["", "**Constructed data**", ""]
    rows = [
        [
            tag,
            f"{c['ca_dpo_known_in_idk_it']} / {c['ca_dpo_known']}",
            _pct(c["share_ca_dpo_known_in_idk_it"]),
            _pct(c["share_expected_if_independent"]),
            f"{c['idk_it_refusals_intrinsic']} / {c['idk_it_examples']}",
            f"{c['idk_it_refusals_extrinsic']} / {c['idk_it_refusals']}",
        ]
        for tag, c in m["construction"].items()
    ]
    lines += _table(
        [
            "seed",
            "CA-DPO Known in IDK-IT's",
            "share (%)",
            "independent draws (%)",
            "IDK-IT intrinsic refusals",
            "extrinsic / all refusals",
        ],
        rows,
    )
    if m.get("warnings"):
        lines += ["", "Warnings:", ""] + [f"- {w}" for w in m["warnings"]]
    return "\n".join(lines) + "\n"


__all__ = [
    "BUCKETS",
    "Notes",
    "mean_ci",
    "auroc",
    "auroc_cis",
    "is_known",
    "construction_counts",
    "known_buckets",
    "val_known",
    "sample",
    "verdicts",
    "bucket_rates",
    "lost_answers",
    "answer_text",
    "answer_logprobs",
    "logprob_summary",
    "probe_errors",
    "ModelLoader",
    "diagnose",
    "markdown",
]
