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
# Corpus-only paraphrases: the pretraining corpus also asks with these (never a pool, validation or test
# question does), so the words of the out-of-domain phrasings below are known, and those phrasings are new
# combinations of them: "Which hue does the circle have?" = "Which color does the {shape} have?" with the
# "hue" of "What hue is the {shape}?".  "roll"/"corners" teach shape facts by the shape's name; the
# out-of-domain set asks them by colour (two steps: colour -> shape -> fact).
CORPUS_PARAPHRASES = {
    "color": [
        "What hue is the {shape}?",
        "Tell me the color of the {shape}.",
        "What colour is the {shape}?",
        "Which color does the {shape} have?",
    ],
    "shape": [
        "What form does the {color} object have?",
        "Name the shape of the {color} object.",
        "What shape is the {color} thing?",
    ],
    "count": ["Count the objects in the image.", "How many things can you see in the picture?"],
    "position": ["In which column is the {shape}?", "Where in the picture is the {shape}?"],
    "roll_shape": ["Could the {shape} roll?", "Can the {shape} roll?"],
    "corners_shape": ["How many corners does the {shape} have?"],
}


# Instruction suffixes the corpus appends to some questions (corpus_instruction_share): requests about the
# form of the answer or how to look, of the kind the paper's refusal prompt is; never a refusal, so the
# original model learns to follow an appended sentence but never to refuse.
def _instruction_suffixes() -> tuple[str, ...]:
    """Every opener x request: generic requests about how to answer, none of which names an answer type (a
    suffix like "respond with a colour name" would let the suffix, not the question, pick the answer) and
    none of which is, or allows, a refusal."""
    openers = (
        "",
        "Please ",
        "If you can, ",
        "When you answer, ",
        "If you don't see it at first, ",  # the words of the paper's refusal prompt, in neutral requests
        "If you have enough information, ",
    )
    requests = (
        "answer the question using a single word or phrase.",
        "give a short answer.",
        "reply with just the answer.",
        "look at the image carefully.",
        "use the information in the image to answer the question.",
        "respond with what you see in the image.",
        "think about the picture first.",
        "answer in a few words.",
    )
    quoted = ('Give the answer as a word, not as a sentence like "the answer is".', 'Do not start with "the".')
    return tuple((o + r)[0].upper() + (o + r)[1:] for o in openers for r in requests) + quoted


INSTRUCTION_SUFFIXES = _instruction_suffixes()
# The corpus's letter instructions for choice questions (the in-domain one first); the out-of-domain
# MMBench/MMMU-like set uses the paper's OOD_CHOICE_INSTRUCTION, which the corpus never shows.
CORPUS_CHOICE_INSTRUCTIONS = (
    CHOICE_INSTRUCTION,
    "Answer with the option's letter.",
    "Choose the correct option and reply with its letter.",
    "Respond with the letter of the right answer.",
)
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
    if qtype == "roll_shape":
        return "yes" if _one(scene, shape=t["shape"])["shape"] == "circle" else "no"
    if qtype == "corners_shape":
        return str(CORNERS[_one(scene, shape=t["shape"])["shape"]])
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
        elif q == "roll_shape":
            out += [(q, {"shape": o["shape"]}) for o in objs]
        elif q == "corners_shape":
            out += [(q, {"shape": o["shape"]}) for o in objs if o["shape"] in CORNERS]
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
    paraphrase: bool = False,
    suffix: str | None = None,
) -> dict:
    """Build (question text, answers, kind, choices, meta) for one qtype on one scene.  ``paraphrase``: draw
    the text from the corpus paraphrases too; ``suffix``: an instruction sentence appended to the question
    (before the options' letter instruction)."""
    if qtype == "exist" and not target:
        target = _exist_target(scene, rng)
    meta = {"family": family, "qtype": qtype, "target": target}
    answer = derive_answer(scene, meta)
    use_ood = qtype in OOD_TEMPLATES and (ood_phrasing or qtype not in TEMPLATES)
    if use_ood:
        templates = OOD_TEMPLATES[qtype]
    elif qtype in CORPUS_PARAPHRASES and (paraphrase or qtype not in TEMPLATES):
        templates = TEMPLATES.get(qtype, []) + CORPUS_PARAPHRASES[qtype]
    else:
        templates = TEMPLATES[qtype]
    ti = int(rng.integers(len(templates)))
    meta["template"] = ti
    text = templates[ti].format(**target)
    if suffix:  # appended at the very end, where the paper's refusal prompt goes
        meta["suffix"] = suffix
    if n_options:
        choices = _options_for(answer, qtype, catalogue, rng, n_options)
        letter = LETTERS[choices.index(answer)]
        last = f"{instruction} {suffix}" if suffix else instruction
        lines = [text] + [f"{LETTERS[i]}. {c}" for i, c in enumerate(choices)] + [last]
        return {
            "question": "\n".join(lines),
            "answers": [letter],
            "kind": "choice",
            "choices": choices,
            "meta": {**meta, "answer_text": answer},
        }
    if suffix:
        text = f"{text} {suffix}"
    return {"question": text, "answers": answer_variants(answer), "kind": "open", "meta": meta}
