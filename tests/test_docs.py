"""The docs are true to the code: every repository path (stages/, scripts/, src/inbol/, configs/, docs/,
tests/), every relative link and every ``inbol.xxx`` name that README.md and docs/*.md mention exists.  A
missing one fails with one line per mention: ``<doc>:<line>: <name>: <what is missing>``."""

from __future__ import annotations

import importlib
import re

import pytest

from helpers import ROOT

DOCS = sorted(str(p.relative_to(ROOT)) for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
PATH = re.compile(r"(?<![\w./-])((?:stages|scripts|src/inbol|configs|docs|tests)/[\w./-]*)")
NAME = re.compile(r"(?<![\w./-])(inbol(?:\.[A-Za-z_]\w*)+)")
LINK = re.compile(r"\]\(([^)\s]+)\)")
PLACEHOLDER = re.compile(r"[<>{}*$…]|\.\.\.")


def paths(line: str) -> list[str]:
    """The repository paths a line mentions (placeholders such as ``metrics/<name>.json`` left out)."""
    out = []
    for m in PATH.finditer(line):
        if line[m.end() : m.end() + 1] in ("<", "{", "*", "$", "…", "["):  # a placeholder: stages/train_<x>.py
            continue
        path = m.group(1).rstrip(".-")
        if not PLACEHOLDER.search(path):
            out.append(path)
    return out


def links(line: str) -> list[str]:
    """The relative link targets of a line (web links and anchors in the same page left out)."""
    out = []
    for target in LINK.findall(line):
        target = target.split("#")[0]
        if target and not re.match(r"^[a-z][a-z0-9+.-]*:", target):
            out.append(target)
    return out


def resolvable(name: str) -> bool:
    """Whether ``inbol.a.b.C`` is a module, or an attribute reached from the longest importable module."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


def problems(doc: str) -> list[str]:
    path = ROOT / doc
    out = []
    in_fence = False
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        for p in paths(line):
            if not (ROOT / p).exists():
                out.append(f"{doc}:{n}: {p}: no such file or folder in the repository")
        if not in_fence:
            for target in links(line):
                if not (path.parent / target).exists():
                    out.append(f"{doc}:{n}: {target}: link to a missing file")
        for name in NAME.findall(line):
            name = name.rstrip(".")
            if name.endswith((".py", ".md", ".yaml", ".json")) or name.startswith("inbol.egg"):
                continue
            if not resolvable(name):
                out.append(f"{doc}:{n}: {name}: not an importable module or attribute")
    return out


def test_the_checks_find_what_they_should():
    line = "see `stages/train_dpo.py`, stages/<name>.py, configs/llava-1.5-*.yaml, `inbol.io.write_json` and "
    line += "[x](world.md#a) [y](https://a.b), docs/."
    assert paths(line) == ["stages/train_dpo.py", "docs/"]
    assert links(line) == ["world.md"]
    assert NAME.findall(line) == ["inbol.io.write_json"]
    assert resolvable("inbol.io.write_json") and resolvable("inbol.unanswerable.oracle")
    assert not resolvable("inbol.io.no_such_function") and not resolvable("inbol.no_such_module.x")


def test_a_stale_mention_is_one_line_naming_the_doc_the_line_and_the_name(tmp_path, monkeypatch):
    import test_docs

    doc = tmp_path / "docs" / "x.md"
    doc.parent.mkdir()
    doc.write_text("ok: `src/inbol/params.py`\nstale: `stages/train_nothing.py`, [a](gone.md), `inbol.io.gone`\n")
    monkeypatch.setattr(test_docs, "ROOT", tmp_path)
    (tmp_path / "src" / "inbol").mkdir(parents=True)
    (tmp_path / "src" / "inbol" / "params.py").write_text("")
    assert problems("docs/x.md") == [
        "docs/x.md:2: stages/train_nothing.py: no such file or folder in the repository",
        "docs/x.md:2: gone.md: link to a missing file",
        "docs/x.md:2: inbol.io.gone: not an importable module or attribute",
    ]


@pytest.mark.parametrize("doc", DOCS)
def test_every_path_link_and_inbol_name_a_doc_mentions_exists(doc):
    found = problems(doc)
    assert not found, "\n".join(found)


def test_citation_and_license_agree_with_the_project():
    import tomllib
    import yaml

    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert str(cff["version"]) == project["version"], "CITATION.cff version differs from pyproject.toml's"
    assert cff["license"] == "MIT" and (ROOT / "LICENSE").read_text().startswith("MIT License")
    paper = cff["preferred-citation"]
    assert all(paper.get(k) == v for k, v in cff["references"][0].items())  # the paper is the first reference
    assert "2412.11196" in paper["url"] and len(paper["authors"]) == 7
