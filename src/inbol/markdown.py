"""The one markdown table of every generated page (Tables 1-5, docs/results.md, the README's headline block,
docs/search.md): ``| a | b |`` rows without padding, so that a changed number changes one line of a diff
and no column of the others (pandas' ``to_markdown`` pads every column to its widest cell).  The first column
is left-aligned, the others as ``align`` says (``"---:"`` right, ``"---"`` left: one for all, or one each)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def table(
    header: Sequence[str], rows: Iterable[Sequence[str]], align: str | Sequence[str] = "---:", *, spaced: bool = False
) -> list[str]:
    """The lines of a table; ``spaced``: separator cells written ``| --- |`` rather than ``|---|``."""
    marks = ["---", *([align] * (len(header) - 1) if isinstance(align, str) else align)]
    sep = "| " + " | ".join(marks) + " |" if spaced else "|" + "|".join(marks) + "|"
    return ["| " + " | ".join(header) + " |", sep, *("| " + " | ".join(r) + " |" for r in rows)]


__all__ = ["table"]
