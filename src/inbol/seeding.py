"""Seeds derived from strings, stable across runs, platforms and PYTHONHASHSEED."""

from __future__ import annotations

import hashlib
import random


def stable_seed(seed: int, *parts: str) -> int:
    """A 63-bit seed from ``seed`` and strings: sha256 of ``"seed\\x00part1\\x00part2..."``."""
    text = "\x00".join([str(int(seed)), *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") & (2**63 - 1)


def stable_random(seed: int, *parts: str) -> random.Random:
    """A ``random.Random`` seeded by :func:`stable_seed`."""
    return random.Random(stable_seed(seed, *parts))


__all__ = ["stable_seed", "stable_random"]
