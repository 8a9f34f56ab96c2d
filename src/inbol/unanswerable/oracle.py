"""The exact oracle: the paper's three filter criteria decided from the scene graph.

Generated questions (template, swap, degraded-image sets) carry a small structured meaning in their
``meta`` so that the oracle can decide without reading the text:

- ``subjects``: the things the question presupposes and asks about, as *references*.  A reference is a
  dict of object attributes (``shape``, ``color``, ``size``, ``col``, ``row``), or ``{"emblem": true}``,
  or ``{"thing": "dog"}`` (something this world never draws), or ``{"any": true}`` (all objects).
- ``claims``: premises that must hold for the question to make sense, each checked on the scene graph:
  ``exists`` / ``unique`` ``{subject}``; ``attr`` ``{subject, attr, value}``; ``compare``
  ``{a, b, attr: "size"}`` (a is bigger than b); ``left_of`` ``{a, b}``; ``count`` ``{subject, n}``;
  ``derivable`` ``{qtype, target, choices?}`` (the world's :func:`derive_answer` gives an answer on this
  scene, and it is among the choices when there are choices).
- ``asks``: what the question wants: ``{"type": "attr", "attr", "subject"}``, ``{"type": "name",
  "subject": {"emblem": true}}``, ``{"type": "count" | "exists", "subject"?}``, or ``{"type":
  "external", "topic"}`` (information no image gives: who drew it, what happens next, ...).

The criteria (paper, appendix D.2):

1. ``not_depicted``: some subject's *head* (its shape; else its colour; the emblem; a thing) is not
   visible in the image.  Visible = in the scene graph, not marked ``hidden`` (fully covered by an
   occluder) and the image is not ``degraded == "blank"``.
2. ``false_premise``: some claim is false on the scene graph (ground truth, hidden objects included).
3. ``not_available``: the asked information is of a kind no image gives (``external``), or it is about a
   subject that exists but cannot be seen: fully occluded, or the image is blank / dark / blurred (a
   blur keeps only the colour and column of a subject referred to by colour).

A question whose subject is absent is *not* counted under criterion 3: that is criterion 1's case.
The strict mode (the paper filtered its in-domain test set by hand) keeps a question only when
criterion 1 or 3 holds and nothing of what it asks can be read off the visible scene (see
:func:`partially_answerable`).
"""

from __future__ import annotations

from ..world.questions import derive_answer

CRITERIA = ("not_depicted", "false_premise", "not_available")
OBJ_ATTRS = ("shape", "color", "size", "col", "row")
SIZE_RANK = {"small": 0, "large": 1}
DEGRADATIONS = ("blank", "blur", "dark")
# what a blurred image still shows about a subject referred to by colour
_BLUR_KEEPS = ("color", "col")


class OracleError(ValueError):
    """A record lacks the structured meta the oracle needs (one-line message)."""


# --------------------------------------------------------------------------------------------
# references
# --------------------------------------------------------------------------------------------


def head(ref: dict) -> dict:
    """The part of a reference that names *what* it is (the rest are premises about it)."""
    if ref.get("emblem"):
        return {"emblem": True}
    if "thing" in ref:
        return {"thing": ref["thing"]}
    if "shape" in ref:
        return {"shape": ref["shape"]}
    if "color" in ref:
        return {"color": ref["color"]}
    return {"any": True}


def _blank(scene: dict) -> bool:
    return scene.get("degraded") == "blank"


def find(scene: dict, ref: dict, visible: bool = False) -> list[dict]:
    """Objects (or the emblem) matching ``ref``; ``visible`` drops what the image cannot show."""
    if ref.get("emblem"):
        e = scene.get("emblem")
        if e is None or (visible and (e.get("hidden") or _blank(scene))):
            return []
        return [e]
    if "thing" in ref:
        return []
    objs = scene.get("objects", [])
    if visible:
        objs = [] if _blank(scene) else [o for o in objs if not o.get("hidden")]
    return [o for o in objs if all(o.get(k) == v for k, v in ref.items() if k in OBJ_ATTRS)]


def depicted(scene: dict, ref: dict) -> bool:
    return bool(find(scene, head(ref), visible=True))


# --------------------------------------------------------------------------------------------
# claims and asks
# --------------------------------------------------------------------------------------------


def _the(scene: dict, ref: dict) -> dict | None:
    found = find(scene, ref)
    return found[0] if len(found) == 1 else None


def claim_holds(scene: dict, claim: dict) -> bool:
    """Whether one premise is true on the scene graph (ground truth)."""
    t = claim["type"]
    if t == "exists":
        return bool(find(scene, claim["subject"]))
    if t == "unique":
        return len(find(scene, claim["subject"])) == 1
    if t == "count":
        return len(find(scene, claim["subject"])) == claim["n"]
    if t == "attr":
        o = _the(scene, claim["subject"])
        return o is not None and o.get(claim["attr"]) == claim["value"]
    if t == "compare":
        a, b = _the(scene, claim["a"]), _the(scene, claim["b"])
        if a is None or b is None or a is b:
            return False
        attr = claim.get("attr", "size")
        if attr != "size":
            raise OracleError(f"compare claim: unknown attr {attr!r}")
        return SIZE_RANK[a["size"]] > SIZE_RANK[b["size"]]
    if t == "left_of":
        a, b = _the(scene, claim["a"]), _the(scene, claim["b"])
        return a is not None and b is not None and a is not b and a["col"] < b["col"]
    if t == "derivable":
        return derivable(scene, claim["qtype"], claim.get("target") or {}, claim.get("choices"))
    raise OracleError(f"unknown claim type {t!r}")


def derivable(scene: dict, qtype: str, target: dict, choices: list[str] | None = None) -> bool:
    """The world's own answerability: derive_answer succeeds (and the answer is an option)."""
    try:
        answer = derive_answer(scene, {"qtype": qtype, "target": target})
    except (ValueError, KeyError):
        return False
    return choices is None or answer in choices


def ask_not_available(scene: dict, ask: dict) -> bool:
    """Criterion 3 for what the question asks (absent subjects are criterion 1, not 3)."""
    t = ask["type"]
    if t == "external":
        return True
    deg = scene.get("degraded")
    if t in ("attr", "name"):
        subj = ask["subject"]
        truth = find(scene, subj)
        if not truth:
            return False
        if deg in ("blank", "dark"):
            return True
        if all(o.get("hidden") for o in truth):
            return True
        if deg == "blur":
            by_color = "color" in subj and "shape" not in subj and not subj.get("emblem") and "thing" not in subj
            return not (t == "attr" and by_color and ask.get("attr") in _BLUR_KEEPS)
        return False
    if t in ("count", "exists"):
        if deg in DEGRADATIONS:
            return True
        return any(o.get("hidden") for o in scene.get("objects", []))
    raise OracleError(f"unknown ask type {t!r}")


def partially_answerable(scene: dict, meta: dict) -> bool:
    """Whether something of what is asked can still be read off the visible scene: the asked attribute
    of a visible subject (a false premise aside: 'What color is the large circle?' on a small circle),
    or a count / existence question on a clear image."""
    ask = meta["asks"]
    if ask["type"] == "external" or ask_not_available(scene, ask):
        return False
    if ask["type"] in ("count", "exists"):
        return True
    return depicted(scene, ask["subject"])


# --------------------------------------------------------------------------------------------
# the oracle
# --------------------------------------------------------------------------------------------


def has_semantics(meta: dict) -> bool:
    return isinstance(meta.get("asks"), dict) and "subjects" in meta and "claims" in meta


def criteria(scene: dict, meta: dict) -> dict[str, bool]:
    """The three criteria for one question (its ``meta``) on one scene graph."""
    if not has_semantics(meta):
        raise OracleError(
            "question meta has no subjects/claims/asks (not generated by template, swap or "
            "the set builders); use the openai filter backend for it"
        )
    return {
        "not_depicted": any(not depicted(scene, s) for s in meta["subjects"]),
        "false_premise": any(not claim_holds(scene, c) for c in meta["claims"]),
        "not_available": ask_not_available(scene, meta["asks"]),
    }


def strict_ok(scene: dict, meta: dict, crit: dict[str, bool] | None = None) -> bool:
    """The in-domain test-set rule: criterion 1 or 3 holds and nothing asked is partly answerable."""
    crit = criteria(scene, meta) if crit is None else crit
    return (crit["not_depicted"] or crit["not_available"]) and not partially_answerable(scene, meta)


def is_unanswerable(scene: dict, meta: dict, strict: bool = False) -> bool:
    crit = criteria(scene, meta)
    if not any(crit.values()):
        return False
    return strict_ok(scene, meta, crit) if strict else True


# --------------------------------------------------------------------------------------------
# the world's question types as structured meaning (for swapped questions)
# --------------------------------------------------------------------------------------------


def qtype_semantics(qtype: str, target: dict, choices: list[str] | None = None) -> dict:
    """``subjects``, ``claims`` and ``asks`` of a world question (see ``world.questions``)."""
    target = dict(target or {})
    derive = {"type": "derivable", "qtype": qtype, "target": target}
    if choices is not None:
        derive["choices"] = list(choices)
    if qtype in ("color", "position", "size"):
        subj = {"shape": target["shape"]}
        attr = {"color": "color", "position": "col", "size": "size"}[qtype]
        return {
            "subjects": [subj],
            "claims": [{"type": "unique", "subject": subj}, derive],
            "asks": {"type": "attr", "attr": attr, "subject": subj},
        }
    if qtype in ("shape", "roll", "corners"):
        subj = {"color": target["color"]}
        return {
            "subjects": [subj],
            "claims": [{"type": "unique", "subject": subj}, derive],
            "asks": {"type": "attr", "attr": "shape", "subject": subj},
        }
    if qtype == "count":
        return {"subjects": [], "claims": [derive], "asks": {"type": "count", "subject": {"any": True}}}
    if qtype == "count_color":
        return {"subjects": [], "claims": [derive], "asks": {"type": "count", "subject": {"color": target["color"]}}}
    if qtype == "exist":
        return {"subjects": [], "claims": [derive], "asks": {"type": "exists", "subject": target}}
    if qtype == "emblem_name":
        subj = {"emblem": True}
        return {
            "subjects": [subj],
            "claims": [{"type": "exists", "subject": subj}, derive],
            "asks": {"type": "name", "subject": subj},
        }
    if qtype == "rel_color":
        subj = {"shape": target["shape"]}
        return {
            "subjects": [subj],
            "claims": [{"type": "unique", "subject": subj}, derive],
            "asks": {"type": "attr", "attr": "color", "subject": {"any": True}},
        }
    raise OracleError(f"unknown qtype {qtype!r}")
