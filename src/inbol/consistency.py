"""Self-consistency (Table 5, beyond the paper): when two answers to a question count as the same.

The consistency stage samples K responses per test and validation question and scores the share that
agree with the greedy answer (:func:`inbol.evaluation.selective.agreement`) in the form given here."""

from __future__ import annotations

from .judge import extract_choice, is_refusal, normalize_answer


def canonical_answer(response: str, record: dict) -> str:
    """ "<refusal>" for any refusal; the option letter for a choice question (its options bound the letters;
    the normalised text when no letter is found); the VQA-normalised text otherwise."""
    if is_refusal(response):
        return "<refusal>"
    if record.get("kind") == "choice":
        return extract_choice(response, record.get("choices")) or normalize_answer(response)
    return normalize_answer(response)


def consistency_rows(sampler, split: str, testsets: dict, greedy: dict, batch_size: int, seed: int) -> list[dict]:
    """``{split, set, id, agreement}`` per question of ``testsets``: the share of the sampler's K responses that
    agree with the greedy response ``greedy[(set, id)]`` (each question seeded by ``stable_seed(seed, id)``),
    with a progress bar over the questions."""
    from tqdm.auto import tqdm

    from .evaluation.selective import agreement
    from .seeding import stable_seed

    rows: list[dict] = []
    total = sum(len(ts.records) for ts in testsets.values())
    with tqdm(total=total, desc=f"consistency: {split}", unit="q", mininterval=2) as bar:
        for name, ts in testsets.items():
            recs = ts.records
            for i in range(0, len(recs), batch_size):
                chunk = recs[i : i + batch_size]
                samples = sampler.sample(chunk, [stable_seed(seed, r["id"]) for r in chunk])
                rows += [
                    {
                        "split": split,
                        "set": name,
                        "id": r["id"],
                        "agreement": agreement(greedy[(name, r["id"])], s, lambda text, r=r: canonical_answer(text, r)),
                    }
                    for r, s in zip(chunk, samples)
                ]
                bar.update(len(chunk))
    return rows
