"""The constructed training sets (paper section 3.2, Figure 3; section 4.1.2 SFT baseline; section 4.3.3
DPO data (1)(2)(3)).  Every builder takes the pool of :func:`inbol.boundary.split.assemble_pool`.

Missing responses.  A question is eligible for a set only when it has every response that set needs
(a blank sample is an incorrect response, as in evaluation: restructure prefers a non-blank incorrect
sample, and keeps a blank one when the question has no other):

- IDK-IT: Known needs a ``correct_response``; Unknown needs a refusal, which every question has (VQA
  records carry one from `restructure`; unanswerable records get a template seeded by (seed, id)).
- CA-DPO / DPO: Known needs a correct response (correct > refusal); Unknown an ``incorrect_response``
  (refusal > incorrect); Mixed both (p1 = correct > incorrect, p2 = refusal > incorrect).

Known implies conf >= delta_k > 0, so a Known question lacks a correct sample only with inconsistent
input; an Unknown or Mixed VQA question lacks an incorrect one when all its non-correct samples were
refusals, and a kept unanswerable question when the original model refused it (``drop_base_refused:
false``).  Such a question is left out *before* the size/ratio selection and counted in the metrics per
bucket and reason (``missing_correct``, ``missing_incorrect``, ``missing_both``), over the whole pool.
"""

from __future__ import annotations

import collections
import string
from collections.abc import Sequence

from ..errors import DataError, ParamError
from ..schema.data import IDKITData, PreferenceData, SFTData
from .select import quota, ratio_counts, selection_report, take
from .split import BUCKETS, assemble_pool, refusal_of, response

PREF_CLASSES = ("unknown", "mixed", "known")  # the order of preference.ratio (U:M:K)
IDK_CLASSES = ("known", "unknown")
DPO_VARIANTS = {1: ("p2",), 2: ("p1",), 3: ("p1", "p2")}  # which pair of a Mixed question each variant keeps
SET_NAMES = ("idk_it", "preference", "sft", "dpo_1", "dpo_2", "dpo_3")
LETTERS = string.ascii_uppercase


def _missing_reason(missing: Sequence[str]) -> str:
    return "missing_both" if len(missing) > 1 else f"missing_{missing[0]}"


def _eligible(pool: Sequence[dict], needs: dict[str, tuple[str, ...]]) -> tuple[dict[str, list[dict]], dict]:
    """Per bucket the questions that have every response the bucket needs; skipped counts per bucket and
    reason."""
    ok: dict[str, list[dict]] = {b: [] for b in needs}
    skipped: dict[str, dict[str, int]] = {b: {} for b in needs}
    for r in pool:
        b = r["bucket"]
        if b not in needs:
            continue
        missing = [k for k in needs[b] if response(r, f"{k}_response") is None]
        if missing:
            reason = _missing_reason(missing)
            skipped[b][reason] = skipped[b].get(reason, 0) + 1
        else:
            ok[b].append(r)
    return ok, skipped


def _base(r: dict) -> dict:
    return {"id": r["id"], "image": r["image"], "prompt": r["question"]}


# --------------------------------------------------------------------------------------------
# IDK instructions
# --------------------------------------------------------------------------------------------


def split_unknown(
    ok: dict[str, list[dict]], classes: Sequence[str], weights: Sequence[float], extrinsic_share: float | None
) -> tuple[dict[str, list[dict]], list[str], list[float]]:
    """With ``extrinsic_share`` set, the Unknown class becomes two, ``unknown_intrinsic`` (answerable
    questions the original model does not know) and ``unknown_extrinsic`` (unanswerable questions), sharing
    Unknown's weight as (1 - share) : share; otherwise (null: the pool's own mix) nothing changes."""
    if extrinsic_share is None:
        return ok, list(classes), list(weights)
    out, cls, w = dict(ok), [], []
    for c, x in zip(classes, weights):
        if c != "unknown":
            cls.append(c)
            w.append(x)
            continue
        unknown = out.pop("unknown")
        out["unknown_intrinsic"] = [r for r in unknown if r["origin"] != "unanswerable"]
        out["unknown_extrinsic"] = [r for r in unknown if r["origin"] == "unanswerable"]
        for name, part in (("unknown_intrinsic", 1.0 - extrinsic_share), ("unknown_extrinsic", extrinsic_share)):
            if part > 0:
                cls.append(name)
                w.append(x * part)
    return out, cls, w


def unknown_mix(records: Sequence[dict]) -> dict:
    """How many of a set's Unknown questions are intrinsic (answerable) and extrinsic (unanswerable)."""
    unknown = [r for r in records if r["bucket"] == "unknown"]
    ext = sum(r["origin"] == "unanswerable" for r in unknown)
    return {
        "intrinsic": len(unknown) - ext,
        "extrinsic": ext,
        "extrinsic_share": round(ext / len(unknown), 4) if unknown else None,
    }


def idk_it_set(pool: Sequence[dict], cfg: IDKITData, seed: int) -> tuple[list[dict], dict]:
    """IDK instructions ``{id, image, prompt, completion, bucket, origin}``: Known -> the kept correct
    sampled response, Unknown -> a refusal; Mixed left out.  ``cfg.known_ratio`` of the set is Known, and
    ``cfg.unknown_extrinsic_share`` of its Unknown ones unanswerable (null: as the pool has them)."""
    ok, skipped = _eligible(pool, {"known": ("correct",), "unknown": ()})
    ok, classes, weights = split_unknown(
        ok, IDK_CLASSES, (cfg.known_ratio, 1.0 - cfg.known_ratio), cfg.unknown_extrinsic_share
    )
    counts, lim = ratio_counts(cfg.size, weights, [len(ok[c]) for c in classes])
    chosen = take(ok, dict(zip(classes, counts)), seed, "idk_it")
    out = [
        {
            **_base(r),
            "completion": r["correct_response"] if r["bucket"] == "known" else refusal_of(r, seed),
            "bucket": r["bucket"],
            "origin": r["origin"],
        }
        for r in chosen
    ]
    report = selection_report(cfg.size, classes, weights, [len(ok[c]) for c in classes], counts, lim)
    report.update(
        known_ratio=cfg.known_ratio,
        skipped=skipped,
        unknown_mix=unknown_mix(out),
        unknown_extrinsic_share=cfg.unknown_extrinsic_share,
    )
    return out, report


# --------------------------------------------------------------------------------------------
# CA-DPO preferences and the plain DPO variants
# --------------------------------------------------------------------------------------------


def preference_pairs(r: dict, seed: int) -> tuple[dict, dict]:
    """(p1, p2) of one eligible question (paper section 3.3): Known p1 = p2 = correct > refusal; Unknown
    p1 = p2 = refusal > incorrect; Mixed p1 = correct > incorrect, p2 = refusal > incorrect."""
    b = r["bucket"]
    if b == "known":
        p = {"chosen": r["correct_response"], "rejected": refusal_of(r, seed)}
        return p, dict(p)
    if b == "unknown":
        p = {"chosen": refusal_of(r, seed), "rejected": r["incorrect_response"]}
        return p, dict(p)
    if b == "mixed":
        return (
            {"chosen": r["correct_response"], "rejected": r["incorrect_response"]},
            {"chosen": refusal_of(r, seed), "rejected": r["incorrect_response"]},
        )
    raise ValueError(f"unknown bucket {b!r}")


def preference_set(
    pool: Sequence[dict], cfg: PreferenceData, seed: int, idk_it: Sequence[dict] | None = None
) -> tuple[list[dict], dict]:
    """CA-DPO records ``{id, image, prompt, p1: {chosen, rejected}, p2: {chosen, rejected}, conf, bucket,
    origin}``, one per question; ``cfg.ratio`` is Unknown:Mixed:Known over questions, ``cfg.size`` the
    number of questions (pairs: one per Known/Unknown question, two per Mixed one).

    With ``cfg.known_disjoint`` the Known questions come only from those not in ``idk_it`` (the same seed's
    IDK-IT set, required then); a DataError naming the counts when too few remain for the set that the whole
    Known pool would give."""
    ok, skipped = _eligible(pool, {"unknown": ("incorrect",), "mixed": ("correct", "incorrect"), "known": ("correct",)})
    ok, classes, weights = split_unknown(ok, PREF_CLASSES, cfg.ratio, cfg.unknown_extrinsic_share)
    avail = [len(ok[c]) for c in classes]
    counts, lim = ratio_counts(cfg.size, weights, avail)
    disjoint = None
    if cfg.known_disjoint:
        if idk_it is None:
            raise ParamError("preference.known_disjoint = true: needs the same seed's IDK-IT set (the idk_it section)")
        used = {r["id"] for r in idk_it}
        k = classes.index("known")
        kept = [r for r in ok["known"] if r["id"] not in used]
        full_avail, full_counts = avail, counts
        ok = {**ok, "known": kept}
        avail = [len(ok[c]) for c in classes]
        counts, lim = ratio_counts(cfg.size, weights, avail)
        if counts != full_counts:
            raise DataError(
                f"preference.known_disjoint = true: CA-DPO needs {full_counts[k]} Known questions but only "
                f"{avail[k]} of the {full_avail[k]} eligible Known ones are not in IDK-IT's set "
                f"({full_avail[k] - avail[k]} are); lower preference.size (or idk_it.size / known_ratio), "
                f"or set preference.known_disjoint: false"
            )
        disjoint = {"known_pool": full_avail[k], "known_in_idk_it": full_avail[k] - avail[k]}
    chosen = take(ok, dict(zip(classes, counts)), seed, "preference")
    out = []
    for r in chosen:
        p1, p2 = preference_pairs(r, seed)
        out.append({**_base(r), "p1": p1, "p2": p2, "conf": r["conf"], "bucket": r["bucket"], "origin": r["origin"]})
    report = selection_report(cfg.size, classes, weights, avail, counts, lim)
    report.update(
        ratio=list(cfg.ratio),
        skipped=skipped,
        n_pairs=sum(2 if r["bucket"] == "mixed" else 1 for r in out),
        unknown_mix=unknown_mix(out),
        unknown_extrinsic_share=cfg.unknown_extrinsic_share,
        **({"known_disjoint": disjoint} if disjoint is not None else {}),
    )
    return out, report


def dpo_variant(preferences: Sequence[dict], variant: int) -> list[dict]:
    """Plain-DPO rows ``{id, qid, image, prompt, chosen, rejected, bucket, origin, pair, weight: 1.0}`` of the
    CA-DPO questions (section 4.3.3): Mixed as (1) refusal > incorrect (p2), (2) correct > incorrect (p1),
    (3) both (two rows); Known and Unknown one row each (their p1 = p2).  ``id`` is ``{qid}/{pair}``
    (unique per row)."""
    if variant not in DPO_VARIANTS:
        raise ValueError(f"DPO variant must be one of {sorted(DPO_VARIANTS)}, got {variant!r}")
    rows = []
    for r in preferences:
        pairs = DPO_VARIANTS[variant] if r["bucket"] == "mixed" else ("p1",)
        for p in pairs:
            rows.append(
                {
                    "id": f"{r['id']}/{p}",
                    "qid": r["id"],
                    "image": r["image"],
                    "prompt": r["prompt"],
                    "chosen": r[p]["chosen"],
                    "rejected": r[p]["rejected"],
                    "bucket": r["bucket"],
                    "origin": r["origin"],
                    "pair": p,
                    "weight": 1.0,
                }
            )
    return rows


# --------------------------------------------------------------------------------------------
# SFT baseline
# --------------------------------------------------------------------------------------------


def ground_truth(r: dict) -> str | None:
    """The SFT target of an answerable question: ``answers[0]``; for a choice question its letter (an
    answer given as the option text is turned into its letter)."""
    answers = r.get("answers") or []
    if not answers or not isinstance(answers[0], str) or not answers[0].strip():
        return None
    a = answers[0]
    choices = r.get("choices")
    if r.get("kind") == "choice" and choices:
        letters = LETTERS[: len(choices)]
        if a.strip().upper() in letters and len(a.strip()) == 1:
            return a.strip().upper()
        if a in choices:
            return letters[choices.index(a)]
    return a


def sft_set(pool: Sequence[dict], cfg: SFTData, seed: int) -> tuple[list[dict], dict]:
    """SFT baseline ``{id, image, prompt, completion, bucket, origin}``: answerable (VQA) questions -> the
    ground truth whatever their confidence, unanswerable ones -> a refusal.  The set keeps the pool's own
    answerable:unanswerable composition (a stratified uniform sample; the whole pool when it is smaller than
    ``cfg.size``)."""
    classes = ("vqa", "unanswerable")
    ok: dict[str, list[dict]] = {c: [] for c in classes}
    skipped: dict[str, dict[str, int]] = {c: {} for c in classes}
    for r in pool:
        if r["origin"] == "vqa" and ground_truth(r) is None:
            skipped["vqa"]["missing_answer"] = skipped["vqa"].get("missing_answer", 0) + 1
        else:
            ok[r["origin"]].append(r)
    avail = [len(ok[c]) for c in classes]
    if sum(avail) <= cfg.size:
        counts = list(avail)
    else:  # weights proportional to what is available: the quota never exceeds it
        present = [i for i, a in enumerate(avail) if a > 0]
        counts = [0] * len(classes)
        for i, n in zip(present, quota(cfg.size, [avail[i] for i in present])):
            counts[i] = n
    chosen = take(ok, dict(zip(classes, counts)), seed, "sft")
    out = [
        {
            **_base(r),
            "completion": ground_truth(r) if r["origin"] == "vqa" else refusal_of(r, seed),
            "bucket": r["bucket"],
            "origin": r["origin"],
        }
        for r in chosen
    ]
    report = {
        "requested": cfg.size,
        "n": len(out),
        "shortfall": cfg.size - len(out),
        "limited_by": "pool" if len(out) < cfg.size else None,
        "available": dict(zip(classes, avail)),
        "taken": dict(zip(classes, counts)),
    }
    report.update(skipped=skipped)
    return out, report


# --------------------------------------------------------------------------------------------
# metrics and the whole construction
# --------------------------------------------------------------------------------------------


def _count(records: Sequence[dict], key: str, keys: Sequence[str]) -> dict[str, int]:
    c = collections.Counter(r[key] for r in records)
    return {k: int(c.get(k, 0)) for k in keys}


def _share(a: int, n: int) -> float | None:
    return round(a / n, 4) if n else None


def construct_metrics(
    pool: Sequence[dict], sets: dict[str, list[dict]], reports: dict[str, dict], *, delta_k: float, delta_uk: float
) -> dict:
    """``metrics/construct.json``: the pool per bucket (and origin); per set its size, counts per bucket and
    origin, the IDK/refusal share, the Unknown questions' intrinsic/extrinsic mix, the emblems its questions
    show, the selection (requested, target, available, taken, shortfall, limiting bucket) and the questions
    skipped for a missing response; ``warnings`` lists shortfalls and empty sets."""
    origins = ("vqa", "unanswerable")
    out: dict = {
        "delta_k": delta_k,
        "delta_uk": delta_uk,
        "pool": {
            "n": len(pool),
            "buckets": _count(pool, "bucket", BUCKETS),
            "origins": _count(pool, "origin", origins),
            "by_origin": {o: _count([r for r in pool if r["origin"] == o], "bucket", BUCKETS) for o in origins},
        },
    }
    warnings = []
    emblem_of = {r["id"]: (r.get("meta") or {}).get("emblem_id") for r in pool}
    for name in SET_NAMES:
        recs = sets[name]
        named = {emblem_of.get(r.get("qid", r["id"])) for r in recs} - {None}
        m: dict = {
            "n": len(recs),
            "buckets": _count(recs, "bucket", BUCKETS),
            "origins": _count(recs, "origin", origins),
            "emblems_named": sorted(named),  # the emblems its questions show (OVEN-like overlap, report)
        }
        if name in ("idk_it", "sft"):
            n_refusal = sum(
                1 for r in recs if (r["bucket"] == "unknown" if name == "idk_it" else r["origin"] == "unanswerable")
            )
            m["idk_share"] = _share(n_refusal, len(recs))
        if name == "preference":
            m["n_pairs"] = reports[name]["n_pairs"]
        if name.startswith("dpo_"):
            m["n_pairs"] = len(recs)
            m["n_questions"] = len({r["qid"] for r in recs})
        if name in reports:
            rep = {k: v for k, v in reports[name].items() if k not in ("n", "n_pairs")}
            rep["skipped_total"] = sum(sum(v.values()) for v in rep["skipped"].values())
            m.update(rep)
            if rep["shortfall"] > 0:
                lim = rep["limited_by"]
                why = (
                    f"{rep['available'][lim]} {lim} available"
                    if lim in rep["available"]
                    else f"{sum(rep['available'].values())} available"
                )
                warnings.append(f"{name}: {len(recs)} of {rep['requested']} written ({why})")
        if not recs:
            warnings.append(f"{name}: empty set")
        out[name] = m
    out["warnings"] = warnings
    return out


def build_training_sets(
    restructured: Sequence[dict],
    unanswerable: Sequence[dict],
    *,
    delta_k: float,
    delta_uk: float,
    seed: int,
    idk_it: IDKITData | None = None,
    preference: PreferenceData | None = None,
    sft: SFTData | None = None,
    names: tuple[str, str] = ("restructured", "unanswerable"),
    refusal_templates: int | None = None,
) -> tuple[dict[str, list[dict]], dict[str, dict], list[dict]]:
    """The training sets of data-selection ``seed`` whose config is given (``idk_it``, ``preference`` with the
    plain DPO variants built from it, ``sft``) at the thresholds ``delta_k``/``delta_uk``: (sets, their selection
    reports, the pool).  Each set depends only on the pool, its config and the seed (and, with
    ``preference.known_disjoint``, CA-DPO's on the IDK-IT set of ``idk_it``, which must then be given), so a set
    is the same whichever others are built with it: the construct stage, the sweep cells and the search all
    build here."""
    pool = assemble_pool(
        restructured, unanswerable, delta_k, delta_uk, names=names, refusal_templates=refusal_templates
    )
    sets: dict[str, list[dict]] = {}
    reports: dict[str, dict] = {}
    if idk_it is not None:
        sets["idk_it"], reports["idk_it"] = idk_it_set(pool, idk_it, seed)
    if preference is not None:
        if preference.known_disjoint and idk_it is None:
            raise ParamError("preference.known_disjoint = true: needs the same seed's IDK-IT set (the idk_it section)")
        sets["preference"], reports["preference"] = preference_set(
            pool, preference, seed, sets["idk_it"] if preference.known_disjoint else None
        )
    if sft is not None:
        sets["sft"], reports["sft"] = sft_set(pool, sft, seed)
    if preference is not None:
        for v in DPO_VARIANTS:
            sets[f"dpo_{v}"] = dpo_variant(sets["preference"], v)
    return sets, reports, pool


def construct(
    restructured: Sequence[dict],
    unanswerable: Sequence[dict],
    *,
    delta_k: float,
    delta_uk: float,
    idk_it: IDKITData,
    preference: PreferenceData,
    sft: SFTData,
    seed: int,
    names: tuple[str, str] = ("restructured", "unanswerable"),
    refusal_templates: int | None = None,
) -> tuple[dict[str, list[dict]], dict]:
    """Every constructed set (keys :data:`SET_NAMES`) for data-selection ``seed``, and the metrics."""
    sets, reports, pool = build_training_sets(
        restructured,
        unanswerable,
        delta_k=delta_k,
        delta_uk=delta_uk,
        seed=seed,
        idk_it=idk_it,
        preference=preference,
        sft=sft,
        names=names,
        refusal_templates=refusal_templates,
    )
    metrics = construct_metrics(pool, sets, reports, delta_k=float(delta_k), delta_uk=float(delta_uk))
    metrics["seed"] = seed
    return sets, metrics
