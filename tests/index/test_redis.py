"""The Redis backend against a real redis-server started for these tests on a free loopback port."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import dedup
from tests.index.redis_server import REDIS_SERVER, free_port, start_server

pytest.importorskip("redis")
pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")

STORIES = [
    "The mayor opened the new bridge over the river on Tuesday morning.",
    "Firefighters contained the warehouse blaze after six hours of work.",
    "The central bank left interest rates unchanged for a third month.",
    "Heavy snow is expected across the northern hills this weekend.",
]


@pytest.fixture
def index(redis_url: str, request: pytest.FixtureRequest) -> Iterator[dedup.DedupIndex]:
    ix = dedup.DedupIndex.from_redis(redis_url, name=request.node.name)
    ix.clear()
    yield ix
    ix.clear()
    ix.close()


def test_redis_add_reports_stored_passages_with_spans(index: dedup.DedupIndex) -> None:
    old = f"{STORIES[1]}\n\n{STORIES[0]}"
    new = f"{STORIES[2]}\n\n{STORIES[0]}"
    assert index.add("old", old) == []
    [m] = index.add("new", new)
    assert (m.a.key, m.b.key, m.kind) == ("new", "old", "exact")
    assert new[m.a.span.start : m.a.span.end] == STORIES[0] == old[m.b.span.start : m.b.span.end]
    assert len(index) == 2 and "old" in index and sorted(index) == ["new", "old"]


def test_redis_results_equal_the_in_memory_index(index: dedup.DedupIndex, seed_text: str) -> None:
    memory = dedup.DedupIndex()
    docs = [("seed", seed_text), ("s0", STORIES[0]), ("mix", f"{STORIES[0]}\n\n{seed_text[:1200]}")]
    for n, (key, text) in enumerate(docs):
        assert index.add(key, text, timestamp=float(n)) == memory.add(key, text, timestamp=float(n))
    probe = f"{STORIES[3]}\n\n{seed_text[600:2000]}"
    assert index.query(probe) == memory.query(probe)
    assert index.clusters() == memory.clusters()
    assert list(index.iter_clusters()) == list(memory.iter_clusters()) != []


def test_redis_duplicate_key_raises_and_writes_nothing(index: dedup.DedupIndex) -> None:
    index.add("k", STORIES[0])
    with pytest.raises(dedup.DuplicateKeyError):
        index.add("k", STORIES[1])
    assert index.text("k") == STORIES[0] and index.query(STORIES[1]) == []
    assert index.add("k", STORIES[1], replace=True) == []
    assert index.query(STORIES[0]) == [] and len(index) == 1


def test_redis_remove_and_evict(index: dedup.DedupIndex) -> None:
    for n, story in enumerate(STORIES):
        index.add(f"d{n}", story, timestamp=100.0 * n)
    index.remove("d0")
    with pytest.raises(KeyError):
        index.remove("d0")
    assert index.evict(older_than=150.0) == ["d1"]
    assert list(index) == ["d2", "d3"]
    assert index.query(STORIES[1]) == [] and [m.b.key for m in index.query(STORIES[2])] == ["d2"]
    assert [m.b.key for m in index.query(STORIES[2] + " " + STORIES[3], since=250.0)] == ["d3"]


def test_redis_max_docs_policy(redis_url: str) -> None:
    ix = dedup.DedupIndex.from_redis(redis_url, name="policy", max_docs=2)
    ix.clear()
    for n, story in enumerate(STORIES):
        ix.add(f"d{n}", story, timestamp=float(n))
    assert list(ix) == ["d2", "d3"]
    ix.clear()


def test_redis_index_with_other_settings_is_refused(redis_url: str) -> None:
    dedup.DedupIndex.from_redis(redis_url, name="fp", num_perm=128).clear()
    with pytest.raises(dedup.IncompatibleIndexError, match=r"num_perm 128 \(this client: 64\)"):
        dedup.DedupIndex.from_redis(redis_url, name="fp", num_perm=64)


def test_clients_of_one_redis_index_may_verify_with_their_own_threshold(redis_url: str) -> None:
    """Nothing stored depends on the verification settings: each client keeps its own."""
    strict = dedup.DedupIndex.from_redis(redis_url, name="verify", threshold=0.9)
    strict.clear()
    loose = dedup.DedupIndex.from_redis(redis_url, name="verify", threshold=0.5, fusion=False)
    strict.add("a", "The mayor opened the new bridge over the river on Tuesday morning.")
    reworded = "The mayor opened the new bridge across the river on Tuesday."  # scores ~0.78
    assert strict.query(reworded) == []
    assert [m.b.key for m in loose.query(reworded)] == ["a"]
    assert (strict.options.threshold, loose.options.threshold) == (0.9, 0.5)
    strict.clear()


def test_unreachable_redis_raises_storage_error() -> None:
    with pytest.raises(dedup.StorageError, match="Redis"):
        dedup.DedupIndex.from_redis(f"redis://127.0.0.1:{free_port()}/0", name="down")


_WORKER = textwrap.dedent(
    """
    import json, sys, time
    import dedup
    url, name, worker, start = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    stories = json.loads(sys.argv[5])
    ix = dedup.DedupIndex.from_redis(url, name=name)
    while time.time() < start:
        time.sleep(0.005)
    fresh = []
    for n, story in enumerate(stories):
        key = f"p{worker}-s{n}"
        if not ix.add(key, f"Desk {worker}.\\n\\n{story}"):
            fresh.append(key)
    print(json.dumps(fresh))
    """
)


def test_two_processes_share_one_index_and_never_both_see_new(redis_url: str, tmp_path: Path) -> None:
    name = "two-procs"
    ix = dedup.DedupIndex.from_redis(redis_url, name=name)
    ix.clear()
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    start = time.time() + 4.0  # both processes begin adding at the same moment
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), redis_url, name, str(w), repr(start), json.dumps(STORIES)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(2)
    ]
    fresh: list[str] = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        fresh += json.loads(out)
    assert len(ix) == 2 * len(STORIES)
    # Each story is new for exactly one of the two processes.
    assert sorted(k.split("-")[1] for k in fresh) == [f"s{n}" for n in range(len(STORIES))]
    ix.clear()


def test_redis_going_away_mid_use_raises_storage_error(tmp_path: Path) -> None:
    url, proc = start_server(tmp_path)
    try:
        ix = dedup.DedupIndex.from_redis(url, name="dies", socket_timeout=2.0)
        ix.add("a", STORIES[0])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    with pytest.raises(dedup.StorageError, match="Redis"):
        ix.add("b", STORIES[0])
    with pytest.raises(dedup.StorageError):
        ix.query(STORIES[1])
    with pytest.raises(dedup.StorageError):
        len(ix)


@pytest.mark.parametrize("case", ["mid-sentence", "edited"])
def test_redis_aligns_copied_passages_as_memory_does(index: dedup.DedupIndex, case: str) -> None:
    from tests.test_passage_alignment import SOURCE, _copy, edited_copy

    if case == "edited":
        suspicious, _, in_source = edited_copy()
    else:
        suspicious, _, in_source = _copy("needs new pilings before", "will keep visitors away")
    memory = dedup.DedupIndex()
    got = [index.add("source", SOURCE), index.add("copy", suspicious)]
    assert got == [memory.add("source", SOURCE), memory.add("copy", suspicious)]
    [m] = got[1]
    assert (m.b.start, m.b.end) == in_source
