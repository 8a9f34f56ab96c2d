"""The information boundary split (paper section 3.2, Figure 3): Known / Mixed / Unknown by confidence.

Float handling.  ``conf`` is k/K (the fraction of K samples judged correct) and the thresholds are
decimal numbers typed by the user (0.8, or 0.1 * 7 computed somewhere), so exact float comparison can
put a question on the wrong side of a threshold it sits on (0.7 < 0.1 * 7 = 0.7000000000000001).  The
split compares with an absolute tolerance ``EPS = 1e-9``: Known when ``conf >= delta_k - EPS``, Unknown
when ``conf <= delta_uk + EPS``.  The tolerance is far below the grid step 1/K of any realistic K
(K <= 10^8), so it never merges two grid values; it only makes "on the threshold" mean what the paper
means.  :func:`bucket` is the one place of the rule: the `confidence_report` counts, the constructed sets,
the probe and the report all call it.

The pool.  :func:`assemble_pool` joins the restructured VQA questions (``origin: vqa``) and the kept
unanswerable questions (``origin: unanswerable``; conf = 0 by definition, so always Unknown, whatever the
thresholds) into one list of records, each with its ``bucket``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..errors import DataError
from ..judge import pick_refusal
from ..seeding import stable_random

BUCKETS = ("unknown", "mixed", "known")
EPS = 1e-9  # conf = k/K is compared with the thresholds up to rounding (8/10 >= 0.8)

__all__ = ["BUCKETS", "EPS", "bucket", "assemble_pool", "response", "refusal_of"]


def bucket(conf: float, delta_k: float, delta_uk: float) -> str:
    """``"known"`` if conf >= delta_k, ``"unknown"`` if conf <= delta_uk, ``"mixed"`` otherwise (both
    comparisons up to :data:`EPS`; Known is checked first, which only matters for thresholds that the params
    schema rejects: delta_uk >= delta_k)."""
    if conf >= delta_k - EPS:
        return "known"
    if conf <= delta_uk + EPS:
        return "unknown"
    return "mixed"


def response(rec: dict, key: str) -> str | None:
    """``rec[key]`` when it is a response, else None (missing).  A blank string is a response only as the
    incorrect one: evaluation counts a blank answer as incorrect, so construction does too (a blank correct
    answer or refusal cannot exist)."""
    v = rec.get(key)
    if not isinstance(v, str):
        return None
    return v if v.strip() or key == "incorrect_response" else None


def refusal_of(rec: dict, seed: int) -> str:
    """The record's ``refusal_response``; when it has none (unanswerable records), a template drawn with a
    generator seeded by (seed, id), so the same seed gives the same refusal in every set."""
    return response(rec, "refusal_response") or pick_refusal(stable_random(seed, rec["id"], "refusal"))


_REQUIRED = ("id", "image", "question")


def _check_record(rec: dict, name: str) -> None:
    if not isinstance(rec, dict):
        raise DataError(f"{name}: a record is not a JSON object: {str(rec)[:60]!r}")
    for key in _REQUIRED:
        if not isinstance(rec.get(key), str) or not rec[key]:
            raise DataError(f"{name}: record {rec.get('id')!r} has no {key!r} string")


def assemble_pool(
    restructured: Sequence[dict],
    unanswerable: Sequence[dict],
    delta_k: float,
    delta_uk: float,
    *,
    names: tuple[str, str] = ("restructured", "unanswerable"),
    refusal_templates: int | None = None,
) -> list[dict]:
    """One record per question (new dicts, inputs untouched) with ``origin`` and ``bucket``.

    VQA records need a conf in [0, 1]; unanswerable records get ``conf = 0.0``, ``origin: unanswerable``,
    ``kind: unanswerable`` and no correct response.  Empty inputs, duplicate ids and malformed records are
    one-line DataErrors."""
    for recs, name in zip((restructured, unanswerable), names):
        if not recs:
            raise DataError(f"{name}: empty input (no records)")
    pool: list[dict] = []
    seen: dict[str, str] = {}
    for recs, name, origin in ((restructured, names[0], "vqa"), (unanswerable, names[1], "unanswerable")):
        for r in recs:
            _check_record(r, name)
            if r["id"] in seen:
                raise DataError(f"{name}: duplicate question id {r['id']!r} (also in {seen[r['id']]})")
            seen[r["id"]] = name
            if origin == "vqa":
                conf = r.get("conf")
                if (
                    isinstance(conf, bool)
                    or not isinstance(conf, (int, float))
                    or not 0.0 <= conf <= 1.0
                    or math.isnan(conf)
                ):
                    raise DataError(f"{name}: record {r['id']!r} has conf = {conf!r}; must be a number in [0, 1]")
                rec = {**r, "conf": float(conf), "origin": "vqa"}
                rec["bucket"] = bucket(rec["conf"], delta_k, delta_uk)
            else:
                rec = {
                    **r,
                    "conf": 0.0,
                    "origin": "unanswerable",
                    "kind": "unanswerable",
                    "correct_response": None,
                    "bucket": "unknown",
                }
                if refusal_templates is not None and not response(rec, "refusal_response"):
                    # the restructure stage's template subset (restructure.refusal_templates), one per question
                    rec["refusal_response"] = pick_refusal(stable_random(0, r["id"], "refusal"), refusal_templates)
            pool.append(rec)
    return pool
