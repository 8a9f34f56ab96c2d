"""Template banks of unanswerable questions over a scene graph.

Each candidate is a dict ``{question, explanation, category, template, target, subjects, claims,
asks}``; ``subjects``/``claims``/``asks`` are the structured meaning the oracle
(:mod:`inbol.unanswerable.oracle`) checks.  Categories follow the paper (section 3.2, appendix D.2):

- ``absent``: questions about subjects that are not in the image, with the incorrect premise that they
  are ("What color is the star?", "What is the name of the emblem?" on a scene without one);
- ``false_premise``: questions about subjects that are there, with an incorrect premise about them
  ("Why is the circle bigger than the triangle?" when it is not);
- ``not_available``: questions asking for information no image gives ("Who drew these shapes?").

:data:`BEYOND` is a separate bank of the ``not_available`` kind with other topics and phrasings, for the
out-of-domain BeyondVisQA-like set, so that it does not repeat the training templates.
"""

from __future__ import annotations

from collections.abc import Callable

from ..world.scene import COLOR_NAMES, SHAPES

CATEGORIES = ("absent", "false_premise", "not_available")
# shapes this world never draws: absent from every scene
EXTRA_SHAPES = ("star", "heart", "hexagon", "arrow", "moon")
THINGS = {  # things this world never draws: question, explanation tail, what is asked
    "dog": ("What breed is the dog in the picture?", "there is no dog in the image", "breed"),
    "person": ("What is the person in the picture holding?", "there is no person in the image", "holding"),
    "sign": ("What does the sign say?", "there is no sign in the image", "text"),
    "clock": ("What time does the clock show?", "there is no clock in the image", "time"),
    "car": ("What color is the car?", "there is no car in the image", "color"),
}
LEAD = "This question can not be answered based on the image because"


def plural(shape: str) -> str:
    return shape + "es" if shape.endswith(("s", "x", "ch", "sh")) else shape + "s"


def _expl(reason: str) -> str:
    return f"{LEAD} {reason}."


def _cand(question, reason, template, target, subjects, claims, asks) -> dict:
    return {
        "question": question,
        "explanation": _expl(reason),
        "template": template,
        "target": target,
        "subjects": subjects,
        "claims": claims,
        "asks": asks,
    }


def _exists(ref: dict) -> dict:
    return {"type": "exists", "subject": ref}


def _attr_ask(attr: str, ref: dict) -> dict:
    return {"type": "attr", "attr": attr, "subject": ref}


def _external(topic: str) -> dict:
    return {"type": "external", "topic": topic}


def _unique_colors(objs: list[dict]) -> list[str]:
    return [o["color"] for o in objs if sum(p["color"] == o["color"] for p in objs) == 1]


# --------------------------------------------------------------------------------------------
# (a) absent subjects with incorrect premises
# --------------------------------------------------------------------------------------------


def absent(scene: dict) -> dict[str, list[dict]]:
    objs = scene.get("objects", [])
    present_shapes = [o["shape"] for o in objs]
    absent_shapes = [s for s in SHAPES if s not in present_shapes] + list(EXTRA_SHAPES)
    present_colors = {o["color"] for o in objs}
    absent_colors = [c for c in COLOR_NAMES if c not in present_colors]
    out: dict[str, list[dict]] = {}
    for s in absent_shapes:
        ref = {"shape": s}
        no = f"there is no {s} in the image"
        out.setdefault("absent_color", []).append(
            _cand(f"What color is the {s}?", no, "absent_color", ref, [ref], [_exists(ref)], _attr_ask("color", ref))
        )
        out.setdefault("absent_size", []).append(
            _cand(f"Is the {s} small or large?", no, "absent_size", ref, [ref], [_exists(ref)], _attr_ask("size", ref))
        )
        out.setdefault("absent_position", []).append(
            _cand(
                f"Is the {s} on the left, in the middle or on the right?",
                no,
                "absent_position",
                ref,
                [ref],
                [_exists(ref)],
                _attr_ask("col", ref),
            )
        )
        for c in COLOR_NAMES:
            for o in objs:
                a = {"shape": s, "color": c}
                b = {"shape": o["shape"]}
                out.setdefault("absent_why_bigger", []).append(
                    _cand(
                        f"Why is the {c} {s} bigger than the {o['shape']}?",
                        f"there is no {c} {s} in the image",
                        "absent_why_bigger",
                        a,
                        [a, b],
                        [_exists(a), {"type": "compare", "attr": "size", "a": a, "b": b}],
                        _external("reason"),
                    )
                )
    for c in absent_colors:
        ref = {"color": c}
        out.setdefault("absent_shape", []).append(
            _cand(
                f"What shape is the {c} object?",
                f"there is no {c} object in the image",
                "absent_shape",
                ref,
                [ref],
                [_exists(ref)],
                _attr_ask("shape", ref),
            )
        )
    if scene.get("emblem") is None:
        ref = {"emblem": True}
        no = "there is no emblem in the image"
        out["absent_emblem"] = [
            _cand(
                "What is the name of the emblem?",
                no,
                "absent_emblem",
                ref,
                [ref],
                [_exists(ref)],
                {"type": "name", "subject": ref},
            )
        ]
        for o in objs:
            out.setdefault("absent_emblem_next", []).append(
                _cand(
                    f"Which emblem is printed next to the {o['shape']}?",
                    no,
                    "absent_emblem_next",
                    ref,
                    [ref, {"shape": o["shape"]}],
                    [_exists(ref)],
                    {"type": "name", "subject": ref},
                )
            )
    for thing, (q, reason, what) in THINGS.items():
        ref = {"thing": thing}
        out.setdefault("absent_thing", []).append(
            _cand(q, reason, "absent_thing", ref, [ref], [_exists(ref)], _attr_ask(what, ref))
        )
    return out


# --------------------------------------------------------------------------------------------
# false premises about subjects that are there
# --------------------------------------------------------------------------------------------


def false_premise(scene: dict) -> dict[str, list[dict]]:
    objs = scene.get("objects", [])
    out: dict[str, list[dict]] = {}
    for o in objs:
        s = o["shape"]
        ref = {"shape": s}
        for c in COLOR_NAMES:
            if c == o["color"]:
                continue
            wrong = {"shape": s, "color": c}
            out.setdefault("fp_why_color", []).append(
                _cand(
                    f"Why is the {s} {c}?",
                    f"the {s} in the image is {o['color']}, not {c}",
                    "fp_why_color",
                    ref,
                    [ref],
                    [{"type": "attr", "subject": ref, "attr": "color", "value": c}],
                    _external("reason"),
                )
            )
            out.setdefault("fp_wrong_color", []).append(
                _cand(
                    f"What size is the {c} {s}?",
                    f"the {s} in the image is {o['color']}, not {c}",
                    "fp_wrong_color",
                    wrong,
                    [wrong],
                    [_exists(wrong)],
                    _attr_ask("size", wrong),
                )
            )
        other = "large" if o["size"] == "small" else "small"
        sized = {"shape": s, "size": other}
        out.setdefault("fp_wrong_size", []).append(
            _cand(
                f"What color is the {other} {s}?",
                f"the {s} in the image is {o['size']}, not {other}",
                "fp_wrong_size",
                sized,
                [sized],
                [_exists(sized)],
                _attr_ask("color", sized),
            )
        )
        out.setdefault("fp_count", []).append(
            _cand(
                f"What color are the two {plural(s)}?",
                f"there is only one {s} in the image",
                "fp_count",
                ref,
                [ref],
                [{"type": "count", "subject": ref, "n": 2}],
                _attr_ask("color", ref),
            )
        )
        for p in objs:
            if p is o:
                continue
            b = {"shape": p["shape"]}
            if not (o["size"] == "large" and p["size"] == "small"):  # the premise "s is bigger" is false
                out.setdefault("fp_why_bigger", []).append(
                    _cand(
                        f"Why is the {s} bigger than the {p['shape']}?",
                        f"the {s} is not bigger than the {p['shape']}",
                        "fp_why_bigger",
                        ref,
                        [ref, b],
                        [{"type": "compare", "attr": "size", "a": ref, "b": b}],
                        _external("reason"),
                    )
                )
            if o["col"] >= p["col"]:
                out.setdefault("fp_left_of", []).append(
                    _cand(
                        f"What color is the {s} to the left of the {p['shape']}?",
                        f"the {s} is not to the left of the {p['shape']}",
                        "fp_left_of",
                        ref,
                        [ref, b],
                        [{"type": "left_of", "a": ref, "b": b}],
                        _attr_ask("color", ref),
                    )
                )
    e = scene.get("emblem")
    if e is not None:
        ref = {"emblem": True}
        for c in COLOR_NAMES:
            if c == e["color"]:
                continue
            out.setdefault("fp_emblem_color", []).append(
                _cand(
                    f"Why is the emblem {c}?",
                    f"the emblem in the image is {e['color']}, not {c}",
                    "fp_emblem_color",
                    ref,
                    [ref],
                    [{"type": "attr", "subject": ref, "attr": "color", "value": c}],
                    _external("reason"),
                )
            )
            colored = {"emblem": True, "color": c}
            out.setdefault("fp_emblem_name", []).append(
                _cand(
                    f"What is the name of the {c} emblem?",
                    f"the emblem in the image is {e['color']}, not {c}",
                    "fp_emblem_name",
                    ref,
                    [ref],
                    [{"type": "attr", "subject": ref, "attr": "color", "value": c}],
                    {"type": "name", "subject": colored},
                )
            )
    return out


# --------------------------------------------------------------------------------------------
# (b) information the image cannot give
# --------------------------------------------------------------------------------------------


def _external_bank(scene: dict, scene_level: list, per_object: list, emblem_level: list) -> dict[str, list[dict]]:
    objs = scene.get("objects", [])
    out: dict[str, list[dict]] = {}
    for name, q, reason, topic, needs in scene_level:
        if needs == "objects" and not objs:
            continue
        subjects = [{"any": True}] if needs == "objects" else []
        out[name] = [_cand(q, reason, name, {}, subjects, [], _external(topic))]
    for o in objs:
        for name, q, reason, topic in per_object:
            ref = {"shape": o["shape"]}
            if "{color}" in q:
                ref = {"shape": o["shape"], "color": o["color"]}
            text = q.format(shape=o["shape"], color=o["color"])
            out.setdefault(name, []).append(
                _cand(text, reason.format(shape=o["shape"]), name, ref, [ref], [_exists(ref)], _external(topic))
            )
    if scene.get("emblem") is not None:
        ref = {"emblem": True}
        for name, q, reason, topic in emblem_level:
            out.setdefault(name, []).append(_cand(q, reason, name, ref, [ref], [], _external(topic)))
    return out


_NA_SCENE = [
    ("na_author", "Who drew these shapes?", "the image does not show who drew it", "author", "objects"),
    (
        "na_past",
        "What happened just before this picture was taken?",
        "a single picture does not show what happened before it",
        "past",
        None,
    ),
    ("na_location", "Where was this picture taken?", "the image shows no place", "location", None),
    (
        "na_offframe",
        "What is just outside the right edge of the picture?",
        "the image does not show what lies outside its frame",
        "off_frame",
        None,
    ),
]
_NA_OBJECT = [
    ("na_hidden", "What is hidden behind the {shape}?", "the image does not show what is behind the {shape}", "hidden"),
    ("na_future", "What will the {shape} do next?", "a single picture does not show the future", "future"),
    ("na_weight", "How much does the {color} {shape} weigh?", "weight cannot be seen in a picture", "weight"),
    (
        "na_material",
        "What material is the {shape} made of?",
        "the image does not show what the {shape} is made of",
        "material",
    ),
    (
        "na_reason_color",
        "Why did the artist choose {color} for the {shape}?",
        "the image does not show the artist's reasons",
        "reason",
    ),
]
_NA_EMBLEM = [
    (
        "na_translation",
        "What is the emblem's name in another language?",
        "the image does not give the emblem's name in other languages",
        "translation",
    ),
    ("na_emblem_author", "Who designed this emblem?", "the image does not show who designed the emblem", "author"),
    (
        "na_emblem_year",
        "In which year was this emblem created?",
        "the image does not show when the emblem was created",
        "past",
    ),
]

_BEYOND_SCENE = [
    ("by_city", "Which city was this picture taken in?", "no city can be recognised from the image", "location", None),
    (
        "by_photographer",
        "What is the name of the person who made this picture?",
        "the image does not name its maker",
        "author",
        None,
    ),
    (
        "by_temperature",
        "What was the temperature when this picture was made?",
        "temperature is not visible",
        "weather",
        None,
    ),
    (
        "by_views",
        "How many people have looked at this picture so far?",
        "the image does not record who looked at it",
        "audience",
        None,
    ),
    (
        "by_music",
        "What music was playing when these shapes were drawn?",
        "sound is not part of an image",
        "sound",
        "objects",
    ),
]
_BEYOND_OBJECT = [
    ("by_price", "How much would the {shape} cost in a shop?", "prices cannot be read from the image", "price"),
    ("by_age", "How old is the {shape}?", "the image does not show the age of the {shape}", "age"),
    ("by_yesterday", "What was the {color} {shape} doing yesterday?", "a picture does not show the past", "past"),
    ("by_smell", "What does the {shape} smell like?", "smell cannot be seen", "smell"),
    ("by_owner", "Who owns the {color} {shape}?", "the image does not show who owns the {shape}", "owner"),
]
_BEYOND_EMBLEM = [
    ("by_team", "Which team uses this emblem as its logo?", "the image does not show who uses the emblem", "owner"),
    ("by_meaning", "What does this emblem stand for?", "the image does not explain the emblem's meaning", "meaning"),
]


def not_available(scene: dict) -> dict[str, list[dict]]:
    return _external_bank(scene, _NA_SCENE, _NA_OBJECT, _NA_EMBLEM)


def beyond(scene: dict) -> dict[str, list[dict]]:
    """The out-of-domain bank (BeyondVisQA-like): information beyond the image, new topics/phrasings."""
    return _external_bank(scene, _BEYOND_SCENE, _BEYOND_OBJECT, _BEYOND_EMBLEM)


BANKS: dict[str, Callable[[dict], dict[str, list[dict]]]] = {
    "absent": absent,
    "false_premise": false_premise,
    "not_available": not_available,
}


def candidates(scene: dict, categories=CATEGORIES) -> dict[str, dict[str, list[dict]]]:
    """category -> template name -> candidates (each tagged with its category)."""
    out = {}
    for cat in categories:
        bank = BANKS[cat](scene)
        for cands in bank.values():
            for c in cands:
                c["category"] = cat
        out[cat] = {k: v for k, v in bank.items() if v}
    return out


def sample(rng, bank: dict[str, dict[str, list[dict]]], weights: dict[str, float], n: int) -> list[dict]:
    """``n`` distinct candidates: a category by ``weights`` (among non-empty ones), then a template
    uniformly, then one of its fillings uniformly."""
    used: set[str] = set()
    out: list[dict] = []
    for _ in range(n):
        cats = [
            c
            for c in bank
            if weights.get(c, 0) > 0 and any(cd["question"] not in used for cds in bank[c].values() for cd in cds)
        ]
        if not cats:
            break
        w = [weights[c] for c in cats]
        total = sum(w)
        cat = cats[int(rng.choice(len(cats), p=[x / total for x in w]))]
        names = [k for k, cds in bank[cat].items() if any(cd["question"] not in used for cd in cds)]
        name = names[int(rng.integers(len(names)))]
        free = [cd for cd in bank[cat][name] if cd["question"] not in used]
        cand = free[int(rng.integers(len(free)))]
        used.add(cand["question"])
        out.append(cand)
    return out


__all__ = [
    "CATEGORIES",
    "EXTRA_SHAPES",
    "BANKS",
    "candidates",
    "sample",
    "absent",
    "false_premise",
    "not_available",
    "beyond",
]
