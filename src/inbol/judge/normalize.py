r"""VQA-style answer normalisation, after the official VQA evaluation script (``vqaEval.py``:
``processPunctuation`` then ``processDigitArticle``).

Differences from the official script, all deliberate and small:

- the period rule is written as what the script effectively does (its look-behind ``(?!<=\d)`` is
  malformed, so it drops every period not followed by a digit: "2.5" and ".5" stay, "red." and "2."
  lose it), without the script's slip of passing ``re.UNICODE`` as ``re.sub``'s count;
- a few characters a chat model emits that the official list lacks (``:``, ``*``, ``#``, ``|``, ``~``,
  curly quotes) are treated like the official punctuation, and curly apostrophes become ``'``;
- newlines/tabs become spaces and whitespace is collapsed (the script does this before normalising).

As in the script, "none" becomes "0" (so refusal detection must run on the raw text, see
:mod:`inbol.judge.refusal`), the articles a/an/the are dropped and number words up to ten become digits.
"""

from __future__ import annotations

import re

# The official table, in part: the common contractions written without their apostrophe.
CONTRACTIONS = {
    "aint": "ain't",
    "arent": "aren't",
    "cant": "can't",
    "couldve": "could've",
    "couldnt": "couldn't",
    "couldn'tve": "couldn't've",
    "couldnt've": "couldn't've",
    "didnt": "didn't",
    "doesnt": "doesn't",
    "dont": "don't",
    "hadnt": "hadn't",
    "hadnt've": "hadn't've",
    "hadn'tve": "hadn't've",
    "hasnt": "hasn't",
    "havent": "haven't",
    "hed": "he'd",
    "hed've": "he'd've",
    "he'dve": "he'd've",
    "hes": "he's",
    "howd": "how'd",
    "howll": "how'll",
    "hows": "how's",
    "Id've": "I'd've",
    "I'dve": "I'd've",
    "Im": "I'm",
    "Ive": "I've",
    "isnt": "isn't",
    "itd": "it'd",
    "itd've": "it'd've",
    "it'dve": "it'd've",
    "itll": "it'll",
    "let's": "let's",
    "maam": "ma'am",
    "mightnt": "mightn't",
    "mightve": "might've",
    "mustnt": "mustn't",
    "mustve": "must've",
    "neednt": "needn't",
    "notve": "not've",
    "oclock": "o'clock",
    "oughtnt": "oughtn't",
    "shant": "shan't",
    "shed've": "she'd've",
    "she'dve": "she'd've",
    "she's": "she's",
    "shouldve": "should've",
    "shouldnt": "shouldn't",
    "shouldnt've": "shouldn't've",
    "shouldn'tve": "shouldn't've",
    "somebodyd": "somebody'd",
    "someoned": "someone'd",
    "somethingd": "something'd",
    "thats": "that's",
    "thered": "there'd",
    "therere": "there're",
    "theres": "there's",
    "theyd": "they'd",
    "theyll": "they'll",
    "theyre": "they're",
    "theyve": "they've",
    "twas": "'twas",
    "wasnt": "wasn't",
    "wed've": "we'd've",
    "we'dve": "we'd've",
    "weve": "we've",
    "werent": "weren't",
    "whatll": "what'll",
    "whatre": "what're",
    "whats": "what's",
    "whatve": "what've",
    "whens": "when's",
    "whered": "where'd",
    "wheres": "where's",
    "whereve": "where've",
    "whod": "who'd",
    "whos": "who's",
    "whove": "who've",
    "wholl": "who'll",
    "whyll": "why'll",
    "whyre": "why're",
    "whys": "why's",
    "wont": "won't",
    "wouldve": "would've",
    "wouldnt": "wouldn't",
    "yall": "y'all",
    "youd": "you'd",
    "youll": "you'll",
    "youre": "you're",
    "youve": "you've",
}
# The script looks words up after lowercasing, so its capitalised keys ("Im", "Ive") never fire there;
# we lowercase the keys so they do.
CONTRACTIONS = {k.lower(): v.lower() for k, v in CONTRACTIONS.items()}

# Official manualMap: number words -> digits, and "none" -> "0".
NUMBER_MAP = {
    "none": "0",
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}
ARTICLES = frozenset({"a", "an", "the"})

# Official punctuation list, then the extras named in the module docstring.
PUNCT = [";", r"/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!"] + [
    ":",
    "*",
    "#",
    "|",
    "~",
    "\u201c",
    "\u201d",
]
_PERIOD_STRIP = re.compile(r"\.(?!\d)")  # a period not followed by a digit
_COMMA_STRIP = re.compile(r"(\d)(,)(\d)")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00b4": "'"})


def process_punctuation(text: str) -> str:
    """``processPunctuation``: a punctuation mark next to a space (or any mark when the text has a
    digit,digit comma as in "1,000") is deleted; otherwise it becomes a space ("black/white" ->
    "black white").  Then periods not followed by a digit are deleted."""
    out = text
    has_number_comma = _COMMA_STRIP.search(text) is not None
    for p in PUNCT:
        if (p + " " in text or " " + p in text) or has_number_comma:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return _PERIOD_STRIP.sub("", out)


def process_digit_article(text: str) -> str:
    """``processDigitArticle``: lowercase, number words -> digits, drop articles, add apostrophes."""
    words = []
    for w in text.lower().split():
        w = NUMBER_MAP.get(w, w)
        if w not in ARTICLES:
            words.append(CONTRACTIONS.get(w, w))
    return " ".join(words)


def normalize_answer(text: str) -> str:
    """VQA normalisation of an answer or a response (see the module docstring)."""
    if text is None:
        return ""
    s = str(text).translate(_APOSTROPHES).replace("\n", " ").replace("\t", " ").strip()
    s = process_punctuation(s)
    return process_digit_article(s)
