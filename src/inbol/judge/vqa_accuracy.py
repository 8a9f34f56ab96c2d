"""VQA accuracy exactly as the official VQA evaluation scores it (Antol et al., 2015; GT-Vision-Lab/VQA,
``PythonEvaluationTools/vqaEvaluation/vqaEval.py``), next to the paper's plain matching.

For a response and the annotators' answers of a question (VQAv2: 10):

1. the response: newlines and tabs become spaces, it is stripped, then ``processPunctuation`` and
   ``processDigitArticle`` (lower case, number words up to ten become digits, "none" becomes "0", the articles
   a/an/the are dropped, apostrophe-less contractions get their apostrophe);
2. the annotators' answers are compared as they are stored, except that when they are not all the same
   answer each goes through ``processPunctuation`` (only: no lower-casing, no digit or article rule);
3. for each annotator i, acc_i = min(1, #{j != i: answer_j == response} / 3), and the question scores the mean
   of acc_i (with 10 annotators: 4 or more matching give 1, 3 give 0.9, 2 give 0.6, 1 gives 0.3).

So the response "none" never matches an annotator's "none" (it becomes "0"), and "two" matches "2" only.  This
is the script as released in 2016 (commit 458a8b2, in place until 2021), which ``VERSION_2016`` names and the
default follows.  The repository's later revision (2021, commit a013f00, "Fixed processing answers bug")
normalises the response and the annotators' answers alike, with both rules, and only when the annotators
disagree (unanimous answers are compared raw after stripping): pass ``version=VERSION_2021`` for it.

Every quirk of the script is kept: its punctuation rule (a mark is deleted when it is next to a space or the
text has a digit-comma-digit, else replaced by a space), its period rule (its malformed look-behind makes it
drop every period not followed by a digit) with ``re.UNICODE`` passed as ``re.sub``'s count (at most 32
periods go), and its leave-one-annotator-out loop.  Unlike the paper's plain matching
(:mod:`inbol.judge.match`), there is no refusal rule: a refusal scores what its text scores.

The plain matching of the paper (``verdict == correct``: the response gives any one annotator's answer)
stays the verdict and what Acc/RefR/S_trust are computed from; this score is reported beside it as
``vqa_acc`` (percent) for the sets whose records carry the annotators' answers (``meta.vqa_answers``:
VQAv2, A-OKVQA, VizWiz, VQAv2-IDK), when ``evaluate.vqa_accuracy`` is true.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .normalize import ARTICLES, NUMBER_MAP

VERSION_2016 = "2016"  # 458a8b2: the 2016 release (default)
VERSION_2021 = "2021"  # a013f00: the repository's current revision
VERSIONS = (VERSION_2016, VERSION_2021)

# processPunctuation's marks (the same list in both revisions)
PUNCT = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!")
PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")  # the script's pattern, malformed look-behind included
COMMA_STRIP = re.compile(r"(\d)(\,)(\d)")
PERIOD_COUNT = int(re.UNICODE)  # the script passes re.UNICODE where re.sub takes the count
NUMBERS = NUMBER_MAP  # processDigitArticle's manualMap and articles: the tables of inbol.judge.normalize
# processDigitArticle's contraction table: each spelling the script restores, with the words it restores it from
_RESTORED = {
    "ain't": ("aint",),
    "aren't": ("arent",),
    "can't": ("cant",),
    "could've": ("couldve",),
    "couldn't": ("couldnt",),
    "couldn't've": ("couldn'tve", "couldnt've"),
    "didn't": ("didnt",),
    "doesn't": ("doesnt",),
    "don't": ("dont",),
    "hadn't": ("hadnt",),
    "hadn't've": ("hadnt've", "hadn'tve"),
    "hasn't": ("hasnt",),
    "haven't": ("havent",),
    "he'd": ("hed",),
    "he'd've": ("hed've", "he'dve"),
    "he's": ("hes",),
    "how'd": ("howd",),
    "how'll": ("howll",),
    "how's": ("hows",),
    "I'd've": ("Id've", "I'dve"),
    "I'm": ("Im",),
    "I've": ("Ive",),
    "isn't": ("isnt",),
    "it'd": ("itd",),
    "it'd've": ("itd've", "it'dve"),
    "it'll": ("itll",),
    "let's": ("let's",),
    "ma'am": ("maam",),
    "mightn't": ("mightnt",),
    "mightn't've": ("mightnt've", "mightn'tve"),
    "might've": ("mightve",),
    "mustn't": ("mustnt",),
    "must've": ("mustve",),
    "needn't": ("neednt",),
    "not've": ("notve",),
    "o'clock": ("oclock",),
    "oughtn't": ("oughtnt",),
    "'ow's'at": ("ow's'at", "'ows'at", "'ow'sat"),
    "shan't": ("shant",),
    "she'd've": ("shed've", "she'dve"),
    "she's": ("she's",),
    "should've": ("shouldve",),
    "shouldn't": ("shouldnt",),
    "shouldn't've": ("shouldnt've", "shouldn'tve"),
    "somebodyd": ("somebody'd",),
    "somebody'd've": ("somebodyd've", "somebody'dve"),
    "somebody'll": ("somebodyll",),
    "somebody's": ("somebodys",),
    "someone'd": ("someoned",),
    "someone'd've": ("someoned've", "someone'dve"),
    "someone'll": ("someonell",),
    "someone's": ("someones",),
    "something'd": ("somethingd",),
    "something'd've": ("somethingd've", "something'dve"),
    "something'll": ("somethingll",),
    "that's": ("thats",),
    "there'd": ("thered",),
    "there'd've": ("thered've", "there'dve"),
    "there're": ("therere",),
    "there's": ("theres",),
    "they'd": ("theyd",),
    "they'd've": ("theyd've", "they'dve"),
    "they'll": ("theyll",),
    "they're": ("theyre",),
    "they've": ("theyve",),
    "'twas": ("twas",),
    "wasn't": ("wasnt",),
    "we'd've": ("wed've", "we'dve"),
    "we've": ("weve",),
    "weren't": ("werent",),
    "what'll": ("whatll",),
    "what're": ("whatre",),
    "what's": ("whats",),
    "what've": ("whatve",),
    "when's": ("whens",),
    "where'd": ("whered",),
    "where's": ("wheres",),
    "where've": ("whereve",),
    "who'd": ("whod",),
    "who'd've": ("whod've", "who'dve"),
    "who'll": ("wholl",),
    "who's": ("whos",),
    "who've": ("whove",),
    "why'll": ("whyll",),
    "why're": ("whyre",),
    "why's": ("whys",),
    "won't": ("wont",),
    "would've": ("wouldve",),
    "wouldn't": ("wouldnt",),
    "wouldn't've": ("wouldnt've", "wouldn'tve"),
    "y'all": ("yall",),
    "y'all'll": ("yall'll", "y'allll"),
    "y'all'd've": ("yall'd've", "y'alld've", "y'all'dve"),
    "you'd": ("youd",),
    "you'd've": ("youd've", "you'dve"),
    "you'll": ("youll",),
    "you're": ("youre",),
    "you've": ("youve",),
}
CONTRACTIONS = {word: full for full, words in _RESTORED.items() for word in words}


def process_punctuation(text: str) -> str:
    """The script's ``processPunctuation``."""
    out = text
    comma_digits = COMMA_STRIP.search(text) is not None
    for p in PUNCT:
        if (p + " " in text or " " + p in text) or comma_digits:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return PERIOD_STRIP.sub("", out, count=PERIOD_COUNT)


def process_digit_article(text: str) -> str:
    """The script's ``processDigitArticle``."""
    words = [NUMBERS.get(w, w) for w in text.lower().split()]
    words = [w for w in words if w not in ARTICLES]
    return " ".join(CONTRACTIONS.get(w, w) for w in words)


def _clean(text: str) -> str:
    return str(text).replace("\n", " ").replace("\t", " ").strip()


def vqa_accuracy(response: str, gt_answers: Sequence[str], version: str = VERSION_2016) -> float:
    """The official VQA accuracy of one response (in [0, 1]) against the annotators' answers; 0 without
    annotator answers (the script would divide by zero)."""
    if version not in VERSIONS:
        raise ValueError(f"version = {version!r}: must be one of {', '.join(VERSIONS)}")
    gts = [str(a) for a in gt_answers]
    if not gts:
        return 0.0
    res = _clean("" if response is None else response)
    disagree = len(set(gts)) > 1
    if version == VERSION_2016:
        res = process_digit_article(process_punctuation(res))
        if disagree:
            gts = [process_punctuation(a) for a in gts]
    else:
        gts = [_clean(a) for a in gts]
        if len(set(gts)) > 1:
            gts = [process_digit_article(process_punctuation(a)) for a in gts]
            res = process_digit_article(process_punctuation(res))
    scores = [min(1.0, sum(a == res for a in gts[:i] + gts[i + 1 :]) / 3.0) for i in range(len(gts))]
    return sum(scores) / len(scores)


def add_vqa_accuracy(metrics: dict, testsets: dict, predictions: Sequence[dict]) -> dict:
    """``metrics`` with ``sets.<name>.vqa_acc`` (percent, 4 decimals) and ``sets.<name>.vqa_acc_n`` for
    each set that has records with ``meta.vqa_answers``."""
    by_id = {(p["set"], p["id"]): p["response"] for p in predictions}
    for name, ts in testsets.items():
        scored = [
            vqa_accuracy(by_id[(name, r["id"])], r["meta"]["vqa_answers"])
            for r in ts.records
            if (r.get("meta") or {}).get("vqa_answers") and (name, r["id"]) in by_id
        ]
        if scored and name in metrics.get("sets", {}):
            metrics["sets"][name]["vqa_acc"] = round(100.0 * sum(scored) / len(scored), 4)
            metrics["sets"][name]["vqa_acc_n"] = len(scored)
    return metrics


__all__ = [
    "vqa_accuracy",
    "add_vqa_accuracy",
    "process_punctuation",
    "process_digit_article",
    "VERSION_2016",
    "VERSION_2021",
]
