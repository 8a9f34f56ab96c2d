"""Parameter profiles that compose: a base file plus small overlays.

A profile in ``configs/`` names its base and holds only what differs from it::

    # configs/llava-1.5-13b.yaml
    _base: llava-1.5-7b.yaml          # relative to this file; the chain ends at the project's params.yaml
    base_model:
      source: llava-hf/llava-1.5-13b-hf

Composition: mappings merge key by key, every other value (numbers, strings, lists) replaces the base's.
An overlay may only set keys its base has (a misspelt key is a one-line :class:`~inbol.errors.ParamError`
naming the profile, the key and the allowed keys); a key whose base value is null may take a whole
mapping (e.g. ``world.datasets``).  The composed result is validated against the params schema.

Apply one with the one documented command (it writes params.yaml, keeping the base's comments)::

    python -m inbol.profiles configs/smoke.yaml            # or -o other.yaml; --check only validates

The chain's root is the ``params.yaml`` next to ``configs/`` as committed (the embedded default); apply a
profile to a clean params.yaml (``git checkout params.yaml``), e.g. on a branch or in an experiment.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import Any

from .errors import ParamError, run_stage
from .params import Params, read_yaml, validate

BASE_KEY = "_base"


def _merge(base: Any, overlay: Any, where: str, profile: Path) -> Any:
    if isinstance(overlay, dict) and isinstance(base, dict):
        out = dict(base)
        for k, v in overlay.items():
            if k not in base:
                raise ParamError(
                    f"{profile}: {where}{k} = {v!r}: not a key of its base; allowed: {', '.join(map(str, base))}"
                )
            out[k] = _merge(base[k], v, f"{where}{k}.", profile)
        return out
    return overlay


def chain(path: str | Path) -> list[Path]:
    """The files a profile composes, root first."""
    path = Path(path)
    seen: list[Path] = []
    while True:
        if path.resolve() in [p.resolve() for p in seen]:
            raise ParamError(f"{path}: {BASE_KEY} chain loops back to itself")
        seen.append(path)
        data = read_yaml(path)
        base = data.get(BASE_KEY)
        if base is None:
            return list(reversed(seen))
        if not isinstance(base, str):
            raise ParamError(f"{path}: {BASE_KEY} = {base!r}: must be a path relative to {path.parent}")
        path = path.parent / base


def compose(path: str | Path) -> dict:
    """The composed (plain) params mapping of a profile; overlays checked key by key."""
    files = chain(path)
    out = read_yaml(files[0])
    out.pop(BASE_KEY, None)
    for f in files[1:]:
        overlay = read_yaml(f)
        overlay.pop(BASE_KEY, None)
        out = _merge(out, overlay, "", f)
    return out


def load_profile(path: str | Path) -> Params:
    """The composed profile, validated against the schema (a bad value names the profile too)."""
    data = compose(path)
    try:
        return validate(Params, data)
    except ParamError as e:
        raise ParamError(f"{path}: {e}") from None


def _roundtrip(files: list[Path]) -> str:
    """The composed YAML text with the root file's comments (ruamel.yaml, which DVC itself uses)."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.width = 120
    root = yaml.load(files[0].read_text())
    root.pop(BASE_KEY, None)

    def put(node, overlay):
        for k, v in overlay.items():
            if isinstance(v, dict) and isinstance(node.get(k), dict):
                put(node[k], v)
            else:
                node[k] = v

    for f in files[1:]:
        overlay = read_yaml(f)
        overlay.pop(BASE_KEY, None)
        put(root, overlay)
    buf = io.StringIO()
    yaml.dump(root, buf)
    return buf.getvalue()


def apply(path: str | Path, out: str | Path = "params.yaml") -> Params:
    """Compose ``path``, validate it, and write it to ``out`` (atomically)."""
    from .io import atomic_path

    params = load_profile(path)
    files = chain(path)
    header = f"# Composed by `python -m inbol.profiles {path}` from: {' <- '.join(str(f) for f in files)}\n"
    text = header + _roundtrip(files)
    with atomic_path(out) as tmp:
        Path(tmp).write_text(text)
    return params


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m inbol.profiles", description="Compose a parameter profile.")
    ap.add_argument("profile", help="e.g. configs/smoke.yaml")
    ap.add_argument("-o", "--out", default="params.yaml", help="where to write the composed params")
    ap.add_argument("--check", action="store_true", help="only compose and validate")
    args = ap.parse_args(argv)
    if args.check:
        load_profile(args.profile)
        print(f"{args.profile}: ok")
        return
    apply(args.profile, args.out)
    print(f"{args.profile} -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    run_stage(main)
