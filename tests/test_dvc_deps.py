"""Every src/inbol file a stage can import is covered by that stage's declared deps in dvc.yaml, so that a
change to it re-runs the stage (no stale outputs).  Imports are followed transitively through every import
statement of a module (top level and inside functions), parent packages included; a package with a lazy
module ``__getattr__`` counts as importing all its submodules."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def _modules() -> dict[str, Path]:
    out = {}
    for f in SRC.rglob("*.py"):
        name = ".".join(f.relative_to(SRC).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = f
    return out


MODULES = _modules()


def _resolve(node: ast.ImportFrom, current: str, is_pkg: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = current.split(".") if is_pkg else current.split(".")[:-1]
    base = parts[: len(parts) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(path: Path, name: str) -> set[str]:
    """The project modules ``path`` (module ``name``) imports directly, with their parent packages."""
    is_pkg = path.name == "__init__.py"
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(node, name, is_pkg)
            found.add(target)
            found |= {f"{target}.{a.name}" for a in node.names}
        elif isinstance(node, ast.FunctionDef) and node.name == "__getattr__" and is_pkg:
            found |= {m for m in MODULES if m.startswith(name + ".")}
    out = {m for m in found if m in MODULES}
    for m in list(out):
        while "." in m:
            m = m.rsplit(".", 1)[0]
            if m in MODULES:
                out.add(m)
    return out


def closure(path: Path, name: str) -> set[str]:
    seen: set[str] = set()
    todo = list(imports_of(path, name))
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(imports_of(MODULES[m], m))
    return seen


def stages() -> dict[str, dict]:
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return {name: s.get("do", s) for name, s in spec.items()}


def covered(file: str, deps: list[str]) -> bool:
    return any(file == d or file.startswith(d.rstrip("/") + "/") for d in deps)


@pytest.mark.parametrize("stage", sorted(stages()))
def test_stage_deps_cover_every_imported_source_file(stage):
    spec = stages()[stage]
    script = re.search(r"stages/\S+\.py", spec["cmd"]).group(0)
    deps = [d for d in spec.get("deps", []) if isinstance(d, str)]
    assert script in deps, f"{stage}: its script {script} is not a dep"
    files = {str(MODULES[m].relative_to(ROOT)) for m in closure(ROOT / script, Path(script).stem)}
    missing = sorted(f for f in files if not covered(f, deps))
    assert not missing, f"{stage}: imports {missing} but dvc.yaml does not list them (or a folder above) in deps"


def test_the_import_walk_sees_function_level_and_relative_imports():
    found = closure(SRC / "inbol/errors.py", "inbol.errors")
    assert found <= {"inbol"}  # errors imports nothing of the project
    sampling = imports_of(MODULES["inbol.sampling"], "inbol.sampling")
    assert "inbol.sampling.hf_backend" in sampling  # lazy, inside make_sampler / __getattr__
    assert {"inbol.params", "inbol", "inbol.sampling.run"} <= sampling


def test_the_library_has_no_import_cycles():
    graph = {m: imports_of(f, m) - {m} for m, f in MODULES.items()}
    graph = {m: {d for d in deps if not m.startswith(d + ".") and d != "inbol"} for m, deps in graph.items()}
    # a module importing its own parent package is how Python loads it, not a cycle
    state: dict[str, int] = {}

    def visit(m, stack):
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                raise AssertionError(f"import cycle: {' -> '.join(stack[stack.index(d) :] + [d])}")
            if d not in state:
                visit(d, stack + [d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
