"""Bad data: a corrupt PNG, a missing image, an answerable question with an empty answer list and
a duplicated id are counted and reported by the `sample` stage (the first stage that reads the question
splits; it leaves them out, so `judge`, `restructure` and what follows never see them), and past
`sampling.max_bad_fraction` the stage fails before any work with one line."""

from __future__ import annotations

import io
import json
import shutil

import pytest
import yaml
from PIL import Image

from fake_openai import FakeOpenAI
from helpers import ROOT, world_cfg
from inbol.errors import DataError
from inbol.io import read_jsonl, write_jsonl
from inbol.sampling import check_split
from inbol.world import build_world
from test_faults import _error_line, _ok, _params, _stage

REASONS = {
    "corrupt": "unreadable (OSError)",
    "missing": "missing",
    "no_answers": "no answers",
    "duplicate": "duplicated id",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("baddata") / "proj"
    cfg = world_cfg(
        sizes={
            "corpus": 4,
            "pool": 20,
            "test": 4,
            "ood_hard": 2,
            "ood_phrasing": 2,
            "ood_choice": 2,
            "val": 4,
            "val_ood": 2,
        },
        n_emblems=5,
        emblem_max_exposure=2,
    )
    build_world(cfg, root / "data" / "world", image_prefix="data/world")
    return root


def _corrupt(root, records: list[dict]) -> tuple[list[dict], dict[str, str]]:
    """pool with one record of each defect: (records, {id of the bad record: defect})."""
    recs = [dict(r) for r in records]
    png = root / recs[1]["image"]
    data = png.read_bytes()
    truncated = root / "data/world/images/truncated.png"
    truncated.write_bytes(data[: len(data) // 2])  # a PNG cut in half: the header still opens
    with pytest.raises(OSError):
        Image.open(io.BytesIO(truncated.read_bytes())).load()
    recs[1]["image"] = "data/world/images/truncated.png"
    recs[4]["image"] = "data/world/images/nowhere.png"
    answerable = next(i for i in range(6, len(recs)) if recs[i]["kind"] != "unanswerable")
    recs[answerable]["answers"] = []
    dup = dict(recs[0], question="a second record with the first record's id")
    recs.append(dup)
    bad = {recs[1]["id"]: "corrupt", recs[4]["id"]: "missing", recs[answerable]["id"]: "no_answers"}
    return recs, bad


def test_check_split_counts_each_kind_of_bad_record(world, monkeypatch):
    monkeypatch.chdir(world)
    recs, bad = _corrupt(world, read_jsonl(world / "data/world/pool.jsonl"))
    good, found = check_split(recs, 4 / len(recs), "pool")
    assert len(good) == len(recs) - 4 and recs[0] in good and recs[-1] not in good
    assert [(b["id"], b["reason"]) for b in found] == [  # in input order
        *[(i, REASONS[k]) for i, k in bad.items()],
        (recs[0]["id"], "duplicated id"),
    ]
    with pytest.raises(DataError) as e:  # 4 of 21 > 0.15
        check_split(recs, 0.15, "pool")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(
        f"pool: 4 of {len(recs)} questions (19.0%) have a missing or unreadable image, no answers or a duplicated id"
    )
    assert "more than sampling.max_bad_fraction = 0.15" in msg


@pytest.mark.e2e
def test_sample_stage_reports_bad_records_and_judge_never_sees_them(world, tmp_path, no_proxy):
    repo = tmp_path / "repo"
    shutil.copytree(world, repo)
    (repo / "stages").symlink_to(ROOT / "stages", target_is_directory=True)
    pool = read_jsonl(repo / "data/world/pool.jsonl")
    recs, bad = _corrupt(repo, pool)
    write_jsonl(repo / "data/world/pool.jsonl", recs)
    n_pool = len(recs)
    with FakeOpenAI(default=_ok) as srv:
        _params(repo, srv.url)
        params = yaml.safe_load((repo / "params.yaml").read_text())
        params["sampling"]["max_bad_fraction"] = 0.15  # 4 of 25 questions (pool + test) is more
        (repo / "params.yaml").write_text(yaml.safe_dump(params))
        proc = _stage(repo, "sample.py")
        assert proc.returncode == 2
        line = _error_line(proc.stderr)
        assert line.startswith(f"error: data/world/pool.jsonl: 4 of {n_pool} questions") and "0.15" in line
        assert srv.n_requests == 0 and not (repo / "data/samples").exists()  # before any work

        params["sampling"]["max_bad_fraction"] = 0.2
        (repo / "params.yaml").write_text(yaml.safe_dump(params))
        proc = _stage(repo, "sample.py")
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert srv.n_requests == n_pool - 4 + 4  # pool's good questions + test
    stats = json.loads((repo / "data/samples/stats.json").read_text())["splits"]["pool"]
    assert stats["n_questions"] == n_pool and stats["n_sampled"] == n_pool - 4 and stats["n_bad"] == 4
    reasons = {(b["id"], b["reason"]) for b in stats["bad"]}
    assert reasons == {(i, REASONS[k]) for i, k in bad.items()} | {(recs[0]["id"], "duplicated id")}
    metrics = json.loads((repo / "metrics/sampling.json").read_text())["splits"]["pool"]
    assert metrics["n_bad"] == 4 and metrics["n_sampled"] == n_pool - 4
    sampled = read_jsonl(repo / "data/samples/pool.jsonl")
    assert len(sampled) == n_pool - 4 and not {s["id"] for s in sampled} & set(bad)

    # the judge (string matching) reads the world split with its duplicate: it keeps the first record
    params["judge"]["backend"] = "none"
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    proc = _stage(repo, "judge.py")
    assert proc.returncode == 0, proc.stderr[-2000:]
    judged = read_jsonl(repo / "data/judged/pool.jsonl")
    assert [j["id"] for j in judged] == [s["id"] for s in sampled]
    judge_stats = json.loads((repo / "data/judged/stats.json").read_text())["splits"]["pool"]
    assert judge_stats["n_bad_images"] == 4 and judge_stats["n_questions"] == n_pool


@pytest.mark.e2e
@pytest.mark.parametrize(
    "field, value, message",
    [
        ("question", None, "lacks field 'question' (expected a string)"),
        ("answers", "red", "field 'answers' = 'red': expected a list of strings"),
    ],
)
def test_a_malformed_question_record_fails_the_stage_before_any_work(world, tmp_path, no_proxy, field, value, message):
    """A record missing a field, or with one of the wrong type, is no bad data to count and skip: the stage
    stops with one line naming the file, the line and the field before any request."""
    repo = tmp_path / "repo"
    shutil.copytree(world, repo)
    (repo / "stages").symlink_to(ROOT / "stages", target_is_directory=True)
    recs = read_jsonl(repo / "data/world/pool.jsonl")
    recs[2] = {k: v for k, v in recs[2].items() if k != field} if value is None else {**recs[2], field: value}
    write_jsonl(repo / "data/world/pool.jsonl", recs)
    with FakeOpenAI(default=_ok) as srv:
        _params(repo, srv.url)
        proc = _stage(repo, "sample.py")
        assert proc.returncode == 2
        assert _error_line(proc.stderr) == f"error: data/world/pool.jsonl:3: record {recs[2]['id']!r} {message}"
        assert srv.n_requests == 0 and not (repo / "data/samples").exists()
