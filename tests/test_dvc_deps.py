"""Every src/inbol file a stage can import is covered by that stage's declared deps in dvc.yaml, so that a
change to it re-runs the stage (no stale outputs).  Imports are followed transitively through every import
statement of a module (top level and inside functions), parent packages included; a package with a lazy
module ``__getattr__`` counts as importing all its submodules.

And the deps are narrow: editing one params section's schema or the LLM client re-runs only the stages that
read that section or call an LLM (computed from dvc.yaml and the imports, no dvc run)."""

from __future__ import annotations

import ast
import copy
import functools
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
# modules that find and import every module of their package at run time (importlib), as if imported by name
DISCOVERS = {"inbol.methods.registry": "inbol.methods."}


def _resolve(node: ast.ImportFrom, current: str, is_pkg: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = current.split(".") if is_pkg else current.split(".")[:-1]
    base = parts[: len(parts) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(path: Path, name: str) -> set[str]:
    """The project modules ``path`` (module ``name``) imports directly, with their parent packages."""
    return set(_imports_of(path, name))


@functools.cache  # each file parsed once per session: the walks below visit most modules for every stage
def _imports_of(path: Path, name: str) -> frozenset[str]:
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
    if name in DISCOVERS:
        found |= {m for m in MODULES if m.startswith(DISCOVERS[name])}
    out = {m for m in found if m in MODULES}
    for m in list(out):
        while "." in m:
            m = m.rsplit(".", 1)[0]
            if m in MODULES:
                out.add(m)
    return frozenset(out)


def closure(path: Path, name: str) -> set[str]:
    return set(_closure(path, name))


@functools.cache
def _closure(path: Path, name: str) -> frozenset[str]:
    seen: set[str] = set()
    todo = list(imports_of(path, name))
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(imports_of(MODULES[m], m))
    return frozenset(seen)


def stages() -> dict[str, dict]:
    return copy.deepcopy(_stages())


@functools.cache  # dvc.yaml parsed once per session (read-only: callers get a copy)
def _stages() -> dict[str, dict]:
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
    assert {"inbol.schema.sampling", "inbol", "inbol.sampling.run"} <= sampling


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


# --------------------------------------------------------------------------------------------
# narrow deps: what an edit of one source file re-runs
# --------------------------------------------------------------------------------------------

DPO_SCHEMA = "src/inbol/schema/dpo.py"
LLM_CLIENT = "src/inbol/llm/client.py"
CONSTANT_OUTS = {"metrics/params_ok.json"}  # check_params writes the schema version only: a re-run changes no byte

# the stages with a code path that calls an LLM (why); every other stage must not depend on src/inbol/llm
CALLS_AN_LLM = {
    "sample": "sampling.backend openai: the original model on an OpenAI-compatible server",
    "consistency": "sampling.backend openai",
    "judge": "judge.backend openai: the semantic judge",
    "train_rl": "judge.backend openai: the semantic judge in the RL reward",
    "miniature": "judge.backend openai, and the server's answers with sampling.backend openai",
    "evaluate": "judge.backend openai, and the server's answers with sampling.backend openai",
    "unanswerable_generate": "unanswerable.generate.backend openai",
    "unanswerable_filter": "unanswerable.filter.backend openai",
    "sweep_threshold": "judge.backend openai (each cell is evaluated)",
    "sweep_known_ratio": "judge.backend openai (each cell is evaluated)",
    "sweep_composition": "judge.backend openai (each cell is evaluated)",
    "diagnose": "judge.backend openai, and the server's answers with sampling.backend openai",
}


def _script(spec: dict) -> str:
    return re.search(r"stages/\S+\.py", spec["cmd"]).group(0)


def _imported_files(stage: str) -> set[str]:
    script = _script(stages()[stage])
    return {str(MODULES[m].relative_to(ROOT)) for m in closure(ROOT / script, Path(script).stem)}


def _outs(spec: dict) -> list[str]:
    return [o if isinstance(o, str) else next(iter(o)) for o in spec.get("outs", []) + spec.get("metrics", [])]


def stale_after_editing(stage: str, file: str) -> bool:
    """Whether ``dvc status`` would call ``stage`` changed after an edit of ``file`` (and nothing else): the file is
    one of its deps (or under one), or a dep is an output of an upstream stage that the edit makes stale (an
    output that does not depend on the code, CONSTANT_OUTS, excepted).  Upstream stages are followed through
    plain (not foreach) stages, which is what the stages checked here have above them."""
    spec = stages()[stage]
    deps = [d for d in spec.get("deps", []) if isinstance(d, str)]
    if covered(file, deps):
        return True
    producers = {out: name for name, s in stages().items() if "${" not in str(s) for out in _outs(s)}
    for dep in deps:
        if dep in CONSTANT_OUTS or dep.startswith(("src/", "stages/")):
            continue
        upstream = [name for out, name in producers.items() if dep == out or dep.startswith(out.rstrip("/") + "/")]
        if any(stale_after_editing(name, file) for name in upstream):
            return True
    return False


@pytest.mark.parametrize("stage", ["world", "base_model", "sample", "train_sft"])
def test_editing_the_dpo_schema_leaves_the_stages_before_preference_training_up_to_date(stage):
    assert (ROOT / DPO_SCHEMA).is_file() and "class DPO(" in (ROOT / DPO_SCHEMA).read_text()
    assert DPO_SCHEMA not in _imported_files(stage)
    assert not stale_after_editing(stage, DPO_SCHEMA), f"{stage} re-runs when {DPO_SCHEMA} changes"


@pytest.mark.parametrize("stage", ["world", "base_model"])
def test_editing_the_llm_client_leaves_world_and_base_model_up_to_date(stage):
    assert (ROOT / LLM_CLIENT).is_file() and "class LLMClient" in (ROOT / LLM_CLIENT).read_text()
    assert LLM_CLIENT not in _imported_files(stage)
    assert not stale_after_editing(stage, LLM_CLIENT), f"{stage} re-runs when {LLM_CLIENT} changes"


def test_only_the_stages_that_call_an_llm_depend_on_the_llm_package():
    for stage, spec in stages().items():
        deps = [d for d in spec.get("deps", []) if isinstance(d, str)]
        imports_llm = any(f.startswith("src/inbol/llm/") for f in _imported_files(stage))
        listed = any(
            d == "src/inbol/llm" or d.startswith("src/inbol/llm/") or "src/inbol/llm".startswith(d) for d in deps
        )
        calls = (
            stage in CALLS_AN_LLM
            or re.sub(r"(_val)?(_baseline|_base|_sft|_preference|_rl)?$", "", stage) in CALLS_AN_LLM
        )  # evaluate_sft: evaluate
        if calls:  # the list above is not stale: these do reach the client
            assert imports_llm, f"{stage} is listed as calling an LLM but imports nothing of src/inbol/llm"
        else:
            assert not imports_llm, f"{stage} never calls an LLM but imports src/inbol/llm"
            assert not listed, f"{stage} never calls an LLM but lists src/inbol/llm (or a folder above) in deps"


def test_the_upstream_walk_sees_an_edit_through_an_upstream_output():
    """The stale computation can say yes: an edit of the world's code makes the sampling stale through data/world."""
    assert stale_after_editing("sample", "src/inbol/world/build.py")
    assert not stale_after_editing("world", "stages/sample.py")


def test_the_string_judge_does_not_import_the_llm_client():
    judge = closure(MODULES["inbol.judge"], "inbol.judge")
    assert not {m for m in judge if m == "inbol.llm" or m.startswith("inbol.llm.")}, sorted(judge)
    assert "inbol.judge.llm_judge" not in judge
    assert "inbol.llm.client" in closure(MODULES["inbol.judge.llm_judge"], "inbol.judge.llm_judge")


def test_each_params_section_is_imported_only_by_the_stages_that_read_it():
    """A stage's import closure holds the schema module of a section only when the stage (or the code it runs)
    reads it: the deps a schema edit re-runs.  Checked on the two sections every stage once imported."""
    for stage in stages():
        files = _imported_files(stage)
        assert "src/inbol/params.py" not in files or stage == "check_params", f"{stage} imports the whole schema"
    assert "src/inbol/params.py" in _imported_files("check_params")  # check_params still validates the whole file
