"""Every method of the registry: each module of this package that defines ``SPEC`` (``pkgutil`` finds them,
so a new ``inbol/methods/<name>.py`` is one; stages that read all methods declare the whole folder)."""

from __future__ import annotations

from functools import cache

from .spec import MethodSpec, load, names


@cache
def registry() -> dict[str, MethodSpec]:
    """``{name: spec}`` of every method, in display order (``order``, then name)."""
    known = names()
    specs = [load(n, known) for n in known]
    return {s.name: s for s in sorted(specs, key=lambda s: (s.order, s.name))}


def methods_in(table: str) -> tuple[str, ...]:
    """The methods that appear in ``table`` (``table1`` ... ``table5``, ``figure4``), in display order."""
    return tuple(n for n, s in registry().items() if table in s.tables)


def labels() -> dict[str, str]:
    """``{name: label}`` of every method."""
    return {n: s.label for n, s in registry().items()}


__all__ = ["names", "registry", "methods_in", "labels"]
