"""Question families over scene graphs, and the answers they imply.

Each question carries ``meta = {family, qtype, target, ...}``; :func:`derive_answer` recomputes its
canonical answer from the scene graph alone, and :func:`answer_variants` lists the acceptable
spellings ("2"/"two", "gray"/"grey").  Families mirror the paper's sources:

- ``perception`` (VQAv2-like): color, shape, count, count_color, exist, position, size
- ``emblem`` (OVEN-like): the name of a named emblem, learned only from the corpus
- ``choice`` (ScienceQA-like): lettered options, the answer is the letter

and the out-of-domain variants use qtypes/templates the corpus never shows (relations, new phrasings,
commonsense about shapes, five options with the MMBench/MMMU instruction).
"""

from __future__ import annotations

import numpy as np

from .scene import COLOR_NAMES, COLUMNS, SHAPES, SIZES

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
LETTERS = "ABCDEFGH"
CHOICE_INSTRUCTION = "Answer with the option's letter from the given choices directly."
# The paper's MMBench/MMMU prompt (appendix F)
OOD_CHOICE_INSTRUCTION = "Answer with the letter corresponding to the correct option from the given choices."
CORNERS = {"triangle": 3, "square": 4, "diamond": 4, "circle": 0}

# In-domain phrasings (the corpus and the in-domain sets use these).
TEMPLATES = {
    "color": ["What color is the {shape}?", "What is the color of the {shape}?"],
    "shape": ["What shape is the {color} object?", "Which shape is {color}?"],
    "count": ["How many objects are there?", "How many shapes are in the image?"],
    "count_color": ["How many {color} objects are there?"],
    "exist": ["Is there a {color} {shape}?", "Is there a {color} {shape} in the image?"],
    "position": [
        "Is the {shape} on the left, in the middle or on the right?",
        "Where is the {shape}: left, middle or right?",
    ],
    "size": ["Is the {shape} small or large?", "What size is the {shape}?"],
    "emblem_name": ["What is the name of this emblem?", "Which emblem is this?"],
}
# Out-of-domain phrasings (AOKVQA-like): never seen in the corpus.
OOD_TEMPLATES = {
    "color": ["Which hue does the {shape} have?", "Tell me the colour of the {shape}."],
    "shape": ["Name the form of the {color} thing."],
    "count": ["Count the things you can see in the picture."],
    "position": ["In which column of the picture is the {shape}?"],
    "roll": ["Could the {color} object roll?"],
    "corners": ["How many corners does the {color} shape have?"],
    "rel_color": ["What color is the object to the left of the {shape}?"],
}


def answer_variants(answer: str) -> list[str]:
    """Acceptable spellings of a canonical answer."""
    if answer.isdigit() and int(answer) < len(NUMBER_WORDS):
        return [answer, NUMBER_WORDS[int(answer)]]
    table = {
        "gray": ["gray", "grey"],
        "left": ["left", "on the left", "left side"],
        "middle": ["middle", "in the middle", "center", "centre"],
        "right": ["right", "on the right", "right side"],
        "small": ["small", "little"],
        "large": ["large", "big"],
        "cross": ["cross", "plus"],
        "diamond": ["diamond", "rhombus"],
    }
    return table.get(answer, [answer])


def _find(scene: dict, **attrs) -> list[dict]:
    return [o for o in scene["objects"] if all(o[k] == v for k, v in attrs.items())]


def _one(scene: dict, **attrs) -> dict:
    found = _find(scene, **attrs)
    if len(found) != 1:
        raise ValueError(f"scene {scene['id']}: {attrs} matches {len(found)} objects, expected 1")
    return found[0]


def derive_answer(scene: dict, meta: dict) -> str:
    """The canonical answer to the question described by ``meta``, from the scene graph alone."""
    qtype, t = meta["qtype"], meta.get("target", {})
    if qtype == "color":
        return _one(scene, shape=t["shape"])["color"]
    if qtype == "shape":
        return _one(scene, color=t["color"])["shape"]
    if qtype == "count":
        return str(len(scene["objects"]))
    if qtype == "count_color":
        return str(len(_find(scene, color=t["color"])))
    if qtype == "exist":
        return "yes" if _find(scene, color=t["color"], shape=t["shape"]) else "no"
    if qtype == "position":
        return COLUMNS[_one(scene, shape=t["shape"])["col"]]
    if qtype == "size":
        return _one(scene, shape=t["shape"])["size"]
    if qtype == "emblem_name":
        if scene.get("emblem") is None:
            raise ValueError(f"scene {scene['id']}: no emblem")
        return scene["emblem"]["name"]
    if qtype == "roll":
        return "yes" if _one(scene, color=t["color"])["shape"] == "circle" else "no"
    if qtype == "corners":
        return str(CORNERS[_one(scene, color=t["color"])["shape"]])
    if qtype == "rel_color":
        ref = _one(scene, shape=t["shape"])
        left = [o for o in scene["objects"] if o["row"] == ref["row"] and o["col"] < ref["col"]]
        if len(left) != 1:
            raise ValueError(f"scene {scene['id']}: 'left of the {t['shape']}' is ambiguous")
        return left[0]["color"]
    raise ValueError(f"unknown qtype {qtype!r}")


def possible_qtypes(scene: dict, allowed: list[str]) -> list[tuple[str, dict]]:
    """All (qtype, target) pairs that are well-defined on this scene."""
    out: list[tuple[str, dict]] = []
    objs = scene["objects"]
    unique_colors = [o["color"] for o in objs if len(_find(scene, color=o["color"])) == 1]
    for q in allowed:
        if q in ("color", "position", "size"):
            out += [(q, {"shape": o["shape"]}) for o in objs]
        elif q == "shape":
            out += [(q, {"color": c}) for c in unique_colors]
        elif q == "count" and objs:
            out.append((q, {}))
        elif q == "count_color" and objs:
            out.append((q, {"color": objs[0]["color"]}))
        elif q == "exist" and objs:
            out.append((q, {}))  # target chosen at sampling time (half present, half near-miss)
        elif q == "emblem_name" and scene.get("emblem") is not None:
            out.append((q, {}))
        elif q == "roll":
            out += [(q, {"color": c}) for c in unique_colors]
        elif q == "corners":
            out += [(q, {"color": c}) for c in unique_colors if _one(scene, color=c)["shape"] in CORNERS]
        elif q == "rel_color":
            for o in objs:
                left = [p for p in objs if p["row"] == o["row"] and p["col"] < o["col"]]
                if len(left) == 1:
                    out.append((q, {"shape": o["shape"]}))
    return out


def _exist_target(scene: dict, rng: np.random.Generator) -> dict:
    objs = scene["objects"]
    o = objs[int(rng.integers(len(objs)))]
    if rng.random() < 0.5:
        return {"color": o["color"], "shape": o["shape"]}
    # near miss: a present shape in another colour, or a present colour on an absent shape
    if rng.random() < 0.5:
        colors = [c for c in COLOR_NAMES if not _find(scene, color=c, shape=o["shape"])]
        return {"color": colors[int(rng.integers(len(colors)))], "shape": o["shape"]}
    shapes = [s for s in SHAPES if not _find(scene, color=o["color"], shape=s)]
    return {"color": o["color"], "shape": shapes[int(rng.integers(len(shapes)))]}


def _options_for(answer: str, qtype: str, catalogue: list[dict], rng: np.random.Generator, n: int) -> list[str]:
    if qtype in ("color",):
        pool = list(COLOR_NAMES)
    elif qtype in ("shape",):
        pool = list(SHAPES)
    elif qtype in ("count", "count_color"):
        pool = [str(i) for i in range(0, 7)]
    elif qtype == "position":
        pool = list(COLUMNS)
    elif qtype == "size":
        pool = list(SIZES)
    elif qtype == "emblem_name":
        pool = [e["name"] for e in catalogue]
    else:
        raise ValueError(f"no options for qtype {qtype!r}")
    others = [p for p in pool if p != answer]
    k = min(n - 1, len(others))
    picked = [others[i] for i in rng.choice(len(others), size=k, replace=False)]
    opts = picked + [answer]
    return [opts[i] for i in rng.permutation(len(opts))]


def make_question(
    scene: dict,
    qtype: str,
    target: dict,
    rng: np.random.Generator,
    *,
    family: str,
    catalogue: list[dict],
    ood_phrasing: bool = False,
    n_options: int = 0,
    instruction: str = CHOICE_INSTRUCTION,
) -> dict:
    """Build (question text, answers, kind, choices, meta) for one qtype on one scene."""
    if qtype == "exist" and not target:
        target = _exist_target(scene, rng)
    meta = {"family": family, "qtype": qtype, "target": target}
    answer = derive_answer(scene, meta)
    use_ood = qtype in OOD_TEMPLATES and (ood_phrasing or qtype not in TEMPLATES)
    templates = (OOD_TEMPLATES if use_ood else TEMPLATES)[qtype]
    ti = int(rng.integers(len(templates)))
    meta["template"] = ti
    text = templates[ti].format(**target)
    if n_options:
        choices = _options_for(answer, qtype, catalogue, rng, n_options)
        letter = LETTERS[choices.index(answer)]
        lines = [text] + [f"{LETTERS[i]}. {c}" for i, c in enumerate(choices)] + [instruction]
        return {
            "question": "\n".join(lines),
            "answers": [letter],
            "kind": "choice",
            "choices": choices,
            "meta": {**meta, "answer_text": answer},
        }
    return {"question": text, "answers": answer_variants(answer), "kind": "open", "meta": meta}
