"""Parameter profiles that compose: a base file plus small overlays.

A profile in ``configs/`` names its base and holds only what differs from it::

    # configs/llava-1.5-13b.yaml
    _base: llava-1.5-7b.yaml          # relative to this file; the chain ends at the project's params.yaml
    base_model:
      source: llava-hf/llava-1.5-13b-hf

Composition is OmegaConf's merge with the base in struct mode: mappings merge key by key, every other value
(numbers, strings, lists) replaces the base's; ``${...}`` is not interpolated.
An overlay may only set keys its base has (a misspelt key is a one-line :class:`~inbol.errors.ParamError`
naming the profile, the key, the key it likely misspells and the allowed keys); a key whose base value is
null may take a whole mapping (e.g. ``world.datasets``).  The composed result is validated against the params schema.

Apply one with the one documented command (it writes params.yaml, keeping the base's comments)::

    python -m inbol.profiles configs/smoke.yaml            # or -o other.yaml; --check only validates

The chain's root is the ``params.yaml`` next to ``configs/`` as committed (the embedded default); apply a
profile to a clean params.yaml (``git checkout params.yaml``), e.g. on a branch or in an experiment.

Applying a profile and running ``dvc repro`` in the checkout replaces the committed params.yaml, metrics/,
plots/ and dvc.lock.  To try a profile without that, run it in a copy (what ``make smoke`` does)::

    python -m inbol.profiles configs/smoke.yaml --repro-in-copy [--dir DIR]

copies the repository's files (tracked, plus new files git does not ignore) into DIR (default: a new
temporary folder), makes the copy a git repository of its own, applies the profile there and runs
``dvc repro`` there; the checkout is left as it was.  The copy is kept for its results.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .errors import DataError, ParamError, run_stage
from .params import Params, close_match, read_yaml, validate

BASE_KEY = "_base"


def _merge(base: dict, overlay: dict, profile: Path) -> dict:
    """``overlay`` merged onto ``base`` by OmegaConf, the base in struct mode: a key the base lacks is a
    one-line ParamError naming the profile, the key, its likely spelling and the allowed keys."""
    from omegaconf import OmegaConf
    from omegaconf.errors import ConfigKeyError

    objects = {"allow_objects": True}  # any value YAML reads (a date, bytes) is left to the schema to refuse
    conf = OmegaConf.create(base, flags={**objects, "struct": True})
    try:
        return OmegaConf.to_container(OmegaConf.merge(conf, OmegaConf.create(overlay, flags=objects)), resolve=False)
    except ConfigKeyError as e:
        *parents, key = str(e.full_key).split(".")
        for k in parents:  # down to the mappings of the base and the overlay that hold the key
            base, overlay = {str(k): v for k, v in base.items()}[k], {str(k): v for k, v in overlay.items()}[k]
        where, meant = "".join(f"{k}." for k in parents), close_match(key, base)
        hint = f" (did you mean {where}{meant}?)" if meant else ""
        value = {str(k): v for k, v in overlay.items()}[key]
        raise ParamError(
            f"{profile}: {where}{key} = {value!r}: not a key of its base{hint}; allowed: {', '.join(map(str, base))}"
        ) from None


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
        out = _merge(out, overlay, f)
    return out


def load_profile(path: str | Path) -> Params:
    """The composed profile, validated against the schema (a bad value names the profile too)."""
    data = compose(path)
    try:
        return validate(Params, data)
    except ParamError as e:
        raise e.prefixed(f"{path}: ") from None


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


def project_files(root: str | Path) -> list[str]:
    """The files a clone of the repository at ``root`` would have: tracked ones, plus new files git does not
    ignore (relative paths; deleted tracked files left out)."""
    root = Path(root)
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise DataError(f"{root}: not a git checkout, cannot list the project's files ({e})") from None
    return sorted({f for f in out.split("\0") if f and (root / f).is_file()})


def copy_project(root: str | Path, dest: str | Path, profile: str | Path) -> Path:
    """Copy the project at ``root`` into ``dest`` (an empty or new folder), make the copy a git repository
    of its own (one commit: the project as copied) and apply ``profile`` (a path relative to ``root``) to the
    copy's params.yaml.  Nothing under ``root`` is written."""
    root, dest = Path(root).resolve(), Path(dest).resolve()
    rel = Path(profile)
    if rel.is_absolute():
        if root not in rel.resolve().parents:
            raise ParamError(f"{profile}: the profile must be inside the repository {root}")
        rel = rel.resolve().relative_to(root)
    if not (root / rel).is_file():
        raise ParamError(f"{profile}: profile not found under {root}")
    if dest == root or root in dest.parents:
        raise DataError(f"{dest}: the copy must be outside the repository {root}")
    if dest.exists() and any(dest.iterdir()):
        raise DataError(f"{dest}: must be an empty or new folder")
    load_profile(root / rel)  # a bad profile fails here, before anything is copied
    for f in project_files(root):
        if str(f) == "dvc.lock":  # the default run's lock says nothing about a profile's run; DVC rewrites it per stage
            continue
        target = dest / f
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / f, target, follow_symlinks=False)
    git = ["git", "-c", "user.name=inbol", "-c", "user.email=inbol@localhost", "-c", "commit.gpgsign=false"]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "the project as copied"]):
        subprocess.run([*git, *cmd], cwd=dest, check=True, capture_output=True)
    apply(dest / rel, dest / "params.yaml")
    return dest


def repro_in_copy(
    profile: str | Path,
    root: str | Path = ".",
    dest: str | Path | None = None,
    command: list[str] | None = None,
) -> Path:
    """Run ``profile`` end to end in a copy of the project at ``root`` (:func:`copy_project`): ``command``
    (default ``dvc repro``) runs in the copy, with the copy's own ``src/`` first on the Python path, and the
    copy's folder is returned; ``root`` stays as it was."""
    made = dest is None
    dest = Path(tempfile.mkdtemp(prefix="inbol-profile-")) if made else Path(dest)
    try:
        copy_project(root, dest, profile)
    except Exception:
        if made:
            shutil.rmtree(dest, ignore_errors=True)
        raise
    command = command or [sys.executable, "-m", "dvc", "repro"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(dest / "src"), os.environ.get("PYTHONPATH")]))}
    print(f"{profile}: running `{' '.join(command[-2:])}` in a copy of the project: {dest}", file=sys.stderr)
    proc = subprocess.run(command, cwd=dest, env=env)
    if proc.returncode != 0:
        print(f"error: `{' '.join(command)}` failed in {dest} (exit code {proc.returncode})", file=sys.stderr)
        sys.exit(proc.returncode)
    return dest


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m inbol.profiles", description="Compose a parameter profile.")
    ap.add_argument("profile", help="e.g. configs/smoke.yaml")
    ap.add_argument("-o", "--out", default="params.yaml", help="where to write the composed params")
    ap.add_argument("--check", action="store_true", help="only compose and validate")
    ap.add_argument(
        "--repro-in-copy",
        action="store_true",
        help="apply the profile in a copy of the repository and run `dvc repro` there (the checkout stays as it is)",
    )
    ap.add_argument("--dir", help="with --repro-in-copy: the copy's folder (new or empty; default: a temporary one)")
    ap.add_argument("--targets", nargs="+", help="with --repro-in-copy: the stages to reproduce (default: all)")
    args = ap.parse_args(argv)
    if args.targets and not args.repro_in_copy:
        raise ParamError("--targets: only with --repro-in-copy")
    if args.repro_in_copy:
        command = [sys.executable, "-m", "dvc", "repro", *args.targets] if args.targets else None
        dest = repro_in_copy(args.profile, ".", args.dir, command)
        print(f"{args.profile}: done; params.yaml, metrics/, plots/ and dvc.lock of the run are in {dest}")
        return
    if args.check:
        load_profile(args.profile)
        print(f"{args.profile}: ok")
        return
    apply(args.profile, args.out)
    print(f"{args.profile} -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    run_stage(main)
