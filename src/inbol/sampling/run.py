"""Sample K responses for every question of a split, resumably.

Output: ``{split}.jsonl``, one ``{id, responses: [K strings]}`` per question, in input order, and a small
``{split}.state.json`` beside it holding the fingerprint of what decides the samples (the sampling
settings, the model, the input questions).

Resume.  Questions are cut into fixed batches of ``batch_size`` over the input order (questions whose
image is missing or unreadable left out).  Each batch is appended to the JSONL in one write, then flushed
and fsync'ed.  A re-run with the same fingerprint keeps the longest valid prefix of the file (a torn or
garbled last line from a kill is cut off), skips the batches it covers, re-runs the batch it ends in and
appends only the questions missing from it.  A different fingerprint (or no state file) starts over.

What is deterministic.  Each question's randomness comes from its own seed, ``stable_seed(seed, id)``,
not from its batch or position:

- ``hf``: on one device and dtype, a resumed run ends byte-identical to an uninterrupted run with the same
  seed and batch size (the batches are the same, so every logit is the same).  Changing the batch size or
  the order of the questions changes only the padding of a question's prompt; its samples stay the same
  up to the floating-point effect of padding on its logits, which can flip a near-tie token now and then.
  Another device or dtype gives other (equally valid) samples.
- ``openai``: the request of a question is fixed by (settings, question, seed), so with a server that
  honours ``seed`` (vLLM: the K samples of one request get the seeds seed .. seed + K - 1) the samples do
  not depend on batching at all; a disk cache (``cache_dir``) replays completed requests exactly.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from ..errors import DataError
from ..io import atomic_path, write_json
from ..schema.sampling import Sampling
from ..seeding import stable_seed

SAMPLER_VERSION = 2  # bump when a change of the code changes the samples (invalidates resumable state);
# 2: the openai backend asks for add_special_tokens (BOS in front, as the hf backend)
MAX_LISTED_BAD = 50


def records_digest(records: Sequence[dict]) -> str:
    h = hashlib.sha256()
    for r in records:
        h.update(json.dumps(r, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n")
    return h.hexdigest()


def model_fingerprint(path: str | Path, max_hash_bytes: int = 1 << 30) -> dict:
    """What identifies a model folder: the pointer of ``source.json``, or a hash of the files (contents
    of files up to ``max_hash_bytes``, name/size/mtime of larger ones)."""
    path = Path(path)
    pointer = path / "source.json"
    if pointer.exists():  # the source and how its processor treats images (base_model.image_aspect_ratio)
        return dict(json.loads(pointer.read_text()))
    if not path.is_dir():
        return {"source": str(path)}
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        st = f.stat()
        h.update(f"{f.relative_to(path)}\x00{st.st_size}\x00".encode())
        if st.st_size <= max_hash_bytes:
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        else:
            h.update(str(st.st_mtime_ns).encode())
    return {"sha256": h.hexdigest()}


# --------------------------------------------------------------------------------------------
# images
# --------------------------------------------------------------------------------------------


def image_problem(path: str | None) -> str | None:
    """None when the image opens and decodes, else a short reason."""
    if not path:
        return "no image path"
    if not os.path.isfile(path):
        return "missing"
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
    except Exception as e:  # noqa: BLE001 - any decoder failure makes the image unreadable
        return f"unreadable ({type(e).__name__})"
    return None


def answers_problem(record: dict) -> str | None:
    """None when an answerable question has at least one non-empty reference answer (an unanswerable
    question needs none), else a short reason: without answers every sample would be judged incorrect."""
    if record.get("kind") == "unanswerable":
        return None
    answers = record.get("answers")
    if not isinstance(answers, list) or not any(isinstance(a, str) and a.strip() for a in answers):
        return "no answers"
    return None


def check_split(records: Sequence[dict], max_bad_fraction: float, name: str) -> tuple[list[dict], list[dict]]:
    """(questions to sample, bad ones ``{id, image, reason}``); a one-line DataError when the split is
    empty or more than ``max_bad_fraction`` of its questions are bad: a missing or unreadable image, an
    answerable question with an empty answer list, or an id seen before in the split (the first record
    with an id is kept, the later ones are bad)."""
    if not records:
        raise DataError(f"{name}: no questions to sample (empty input)")
    good, bad, seen = [], [], set()
    for r in records:
        qid = r.get("id")
        why = "duplicated id" if qid in seen else (answers_problem(r) or image_problem(r.get("image")))
        seen.add(qid)
        if why is None:
            good.append(r)
        else:
            bad.append({"id": qid, "image": r.get("image"), "reason": why})
    if len(bad) > max_bad_fraction * len(records):
        first = bad[0]
        raise DataError(
            f"{name}: {len(bad)} of {len(records)} questions ({len(bad) / len(records):.1%}) have a "
            f"missing or unreadable image, no answers or a duplicated id, more than "
            f"sampling.max_bad_fraction = {max_bad_fraction:g} "
            f"(first: {first['id']} {first['image']}: {first['reason']})"
        )
    return good, bad


# --------------------------------------------------------------------------------------------
# resumable output
# --------------------------------------------------------------------------------------------


def state_path_for(out_path: str | Path) -> Path:
    out_path = Path(out_path)
    return out_path.with_name(out_path.name.removesuffix(".jsonl") + ".state.json")


def _valid_prefix(out_path: Path, expected_ids: Sequence[str], k: int) -> tuple[int, int]:
    """(number of leading records that are complete and expected, their length in bytes)."""
    if not out_path.exists():
        return 0, 0
    data = out_path.read_bytes()
    n, offset = 0, 0
    while n < len(expected_ids):
        end = data.find(b"\n", offset)
        if end < 0:
            break  # a torn last line (no newline): discarded
        try:
            rec = json.loads(data[offset:end])
        except ValueError:
            break
        responses = rec.get("responses") if isinstance(rec, dict) else None
        if rec.get("id") != expected_ids[n] or not isinstance(responses, list) or len(responses) != k:
            break
        n, offset = n + 1, end + 1
    return n, offset


def _open_resumable(out_path: Path, fingerprint: dict, expected_ids: Sequence[str], k: int) -> int:
    """Prepare ``out_path`` for appending; return how many leading questions are already done."""
    state_path = state_path_for(out_path)
    state = None
    if state_path.exists():
        try:
            state = json.loads(state_path.read_text())
        except ValueError:
            state = None
    if state is not None and state.get("fingerprint") == fingerprint:
        n_done, n_bytes = _valid_prefix(out_path, expected_ids, k)
    else:
        n_done, n_bytes = 0, 0
        write_json(state_path, {"fingerprint": fingerprint})
    # rewrite the kept prefix into a fresh file (atomic rename) rather than truncating in place: the old
    # file may be a link into DVC's cache, which appending must never modify
    prefix = out_path.read_bytes()[:n_bytes] if n_bytes else b""
    with atomic_path(out_path) as tmp, open(tmp, "wb") as fh:
        fh.write(prefix)
        fh.flush()
        os.fsync(fh.fileno())
    return n_done


def sample_split(
    sampler,
    records: Sequence[dict],
    out_path: str | Path,
    cfg: Sampling,
    *,
    name: str | None = None,
    extra_fingerprint: dict | None = None,
    checked: tuple[list[dict], list[dict]] | None = None,
    progress: bool = True,
) -> dict:
    """Sample ``cfg.k`` responses per question of ``records`` into ``out_path`` (resuming a previous
    run when its fingerprint matches); returns the split's stats."""
    out_path = Path(out_path)
    name = name or out_path.stem
    good, bad = checked if checked is not None else check_split(records, cfg.max_bad_fraction, name)
    fingerprint = {
        "version": SAMPLER_VERSION,
        **cfg.fingerprint(),
        **(extra_fingerprint or {}),
        "questions": records_digest(good),
    }
    ids = [r["id"] for r in good]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DataError(f"{name}: question id {dup!r} appears more than once")
    n_done = _open_resumable(out_path, fingerprint, ids, cfg.k)
    t0, n_new = time.time(), 0
    bs = cfg.batch_size
    with (
        open(out_path, "ab") as fh,
        tqdm(
            total=len(good), initial=n_done, desc=f"sample: {name}", unit="q", disable=not progress, mininterval=2
        ) as bar,
    ):
        for start in range(0, len(good), bs):
            chunk = good[start : start + bs]
            if start + len(chunk) <= n_done:
                continue
            seeds = [stable_seed(cfg.seed, r["id"]) for r in chunk]
            responses = sampler.sample(chunk, seeds)
            if len(responses) != len(chunk) or any(len(x) != cfg.k for x in responses):
                raise RuntimeError(
                    f"{name}: the sampler returned {[len(x) for x in responses]} responses for "
                    f"{len(chunk)} questions (k = {cfg.k})"
                )
            lines = [
                json.dumps({"id": r["id"], "responses": [str(s) for s in resp]}, sort_keys=True, ensure_ascii=False)
                + "\n"
                for i, (r, resp) in enumerate(zip(chunk, responses))
                if start + i >= n_done
            ]
            fh.write("".join(lines).encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
            n_new += len(lines)
            bar.update(len(lines))
    seconds = time.time() - t0
    return {
        "n_questions": len(records),
        "n_sampled": len(good),
        "n_bad": len(bad),
        "bad": bad[:MAX_LISTED_BAD],
        "n_resumed": n_done,
        "n_new": n_new,
        "seconds": round(seconds, 2),
        "responses_per_s": round(n_new * cfg.k / seconds, 2) if n_new and seconds > 0 else None,
    }
