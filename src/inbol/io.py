"""JSON / JSON Lines helpers.  Reads give one-line :class:`~inbol.errors.DataError`\\ s; writes are atomic
(temp file + rename), so an interrupted stage never leaves a file that looks complete."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import DataError


def iter_jsonl_lines(path: str | Path) -> Iterator[tuple[int, dict]]:
    """(line number, record) of each record of a JSON Lines file; a missing file or a line that is not JSON
    is a DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: not found (run the stage that writes it first)")
    with open(path) as fh:
        for i, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield i, json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataError(f"{path}:{i}: not valid JSON ({e.msg})") from None


def iter_jsonl(path: str | Path) -> Iterator[dict]:
    """The records of a JSON Lines file; a missing file or a line that is not JSON is a DataError."""
    for _, record in iter_jsonl_lines(path):
        yield record


def read_jsonl(path: str | Path, *, nonempty: bool = False) -> list[dict]:
    """All records of a JSON Lines file (``nonempty``: no records is a DataError too)."""
    out = list(iter_jsonl(path))
    if nonempty and not out:
        raise DataError(f"{path}: empty input (no records)")
    return out


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path next to ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_jsonl(path: str | Path, records: Iterable[dict]) -> int:
    n = 0
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        for r in records:
            fh.write(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n")
            n += 1
    return n


def write_json(path: str | Path, obj) -> None:
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True, ensure_ascii=False)
        fh.write("\n")


def read_json(path: str | Path):
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: not found (run the stage that writes it first)")
    try:
        with open(path) as fh:
            return json.load(fh)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON ({e.msg})") from None


@contextmanager
def atomic_dir(path: str | Path):
    """Build a directory under a temporary name and swap it in only when the block succeeds;
    on failure the previous directory is left exactly as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
