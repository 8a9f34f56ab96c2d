"""On-disk cache of chat completions, one JSON file per request.

The key is the sha256 of the canonical JSON (sorted keys, no whitespace) of the request: model, messages,
n and the generation settings (temperature, top_p, max_tokens, seed, stop).  The API key and the server
address are not part of a request and never reach this module.  Each entry is written to a temporary
file and renamed into place (``os.replace``), so an interrupted run never leaves an entry that looks
complete, and a re-run repeats no completed call.

Layout: ``<cache_dir>/<key[:2]>/<key>.json`` holding ``{key, model, n, gen, choices[, first_logprobs]}`` (the
messages themselves are not stored: they can hold large base64 images; ``first_logprobs``: each choice's
first-token top log-probs, for requests that asked for them).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path


def canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_key(request: dict) -> str:
    """sha256 hex digest of the canonical JSON of ``request``."""
    return hashlib.sha256(canonical_json(request).encode("utf-8")).hexdigest()


class ResponseCache:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str, n: int | None = None) -> list[str] | None:
        """The cached choices for ``key``, or None when absent, unreadable or not ``n`` long."""
        p = self.path(key)
        try:
            with open(p, encoding="utf-8") as fh:
                entry = json.load(fh)
        except (OSError, ValueError):
            return None
        choices = entry.get("choices") if isinstance(entry, dict) else None
        if entry.get("key") != key or not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            return None
        if n is not None and len(choices) != n:
            return None
        return choices

    def get_completions(self, key: str, n: int | None = None) -> list[tuple[str, dict | None]] | None:
        """``[(text, first-token top log-probs or None), ...]`` for ``key``, or None (as :meth:`get`)."""
        choices = self.get(key, n)
        if choices is None:
            return None
        try:
            with open(self.path(key), encoding="utf-8") as fh:
                first = json.load(fh).get("first_logprobs")
        except (OSError, ValueError):
            return None
        if first is None:
            return [(c, None) for c in choices]
        if not isinstance(first, list) or len(first) != len(choices):
            return None
        return list(zip(choices, first))

    def put(self, key: str, choices: list[str], meta: dict | None = None, first_logprobs: list | None = None) -> Path:
        p = self.path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        entry = {**(meta or {}), "key": key, "choices": list(choices)}
        if first_logprobs is not None:
            entry["first_logprobs"] = list(first_logprobs)
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}.", suffix=".tmp", dir=p.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(entry, fh, sort_keys=True, ensure_ascii=False)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, p)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return p

    def __len__(self) -> int:
        if not self.root.exists():
            return 0
        return sum(1 for _ in self.root.glob("*/*.json"))
