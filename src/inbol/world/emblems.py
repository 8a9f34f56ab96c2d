"""The emblem catalogue: distinctive glyphs with invented names and a long-tail (Zipf-like) exposure.

An emblem's name can only be learned from the pretraining corpus, where emblem ``rank`` r appears
``floor(max_exposure * r ** -zipf)`` times.  Frequent emblems end up known, rare ones unknown: the
exposure count is the ground-truth information boundary of the knowledge family (OVEN-like).
"""

from __future__ import annotations

import numpy as np

_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "gr", "kr", "tr", "st")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ou")
_CODAS = ("", "", "n", "r", "s", "k", "x", "th", "l")


def _name(rng: np.random.Generator) -> str:
    parts = []
    for _ in range(int(rng.integers(2, 4))):
        parts.append(_ONSETS[rng.integers(len(_ONSETS))] + _VOWELS[rng.integers(len(_VOWELS))])
    name = "".join(parts) + _CODAS[rng.integers(len(_CODAS))]
    return name.capitalize()


def _glyph(rng: np.random.Generator, n: int = 5) -> list[list[int]]:
    """A horizontally symmetric n x n binary pattern (like an identicon), neither empty nor full."""
    half = (n + 1) // 2
    while True:
        left = rng.integers(0, 2, size=(n, half))
        if 0.3 < left.mean() < 0.75:
            break
    full = np.concatenate([left, left[:, : n - half][:, ::-1]], axis=1)
    return full.astype(int).tolist()


def exposure_counts(n: int, max_exposure: int, zipf: float) -> list[int]:
    """Corpus exposure of the emblems of rank 1..n: floor(max_exposure * rank^-zipf)."""
    return [int(np.floor(max_exposure * (r**-zipf))) for r in range(1, n + 1)]


def make_catalogue(seed: int, n: int, max_exposure: int, zipf: float) -> list[dict]:
    """``n`` emblems with unique names and glyphs; exposures are assigned to a random rank order."""
    rng = np.random.default_rng([seed, 7919])
    names: set[str] = set()
    glyph_keys: set[str] = set()
    emblems = []
    exposures = exposure_counts(n, max_exposure, zipf)
    for i in range(n):
        name = _name(rng)
        while name in names:
            name = _name(rng)
        names.add(name)
        glyph = _glyph(rng)
        while str(glyph) in glyph_keys:
            glyph = _glyph(rng)
        glyph_keys.add(str(glyph))
        emblems.append(
            {
                "id": i,
                "name": name,
                "glyph": glyph,
                "rank": i + 1,
                "exposure": exposures[i],
                "group": "train" if i % 2 == 0 else "eval",
            }
        )
    return emblems


def emblems_for(catalogue: list[dict], split_kind: str, disjoint: bool) -> list[dict]:
    """The emblems a split's questions show: with ``disjoint``, the train pool shows the odd ranks (group
    ``train``) and every evaluation split (validation, test, out of domain) the even ranks (``eval``), so
    fine-tuning data never names an evaluated emblem while both halves have the same exposure distribution
    in the pretraining corpus (ranks interleave); otherwise all of them."""
    if not disjoint:
        return list(catalogue)
    group = "train" if split_kind == "pool" else "eval"
    return [e for e in catalogue if e["group"] == group]
