"""DedupIndex as a scraper uses it: add/query/remove, eviction, windows, threads, band table."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dedup
import dedup._index.index
import dedup._index.memory
import dedup._index.runs
from dedup._index.runs import SortedRuns
from dedup._text.segment import segment

BRIDGE = "The mayor opened the new bridge over the river on Tuesday morning."
FIRE = "Firefighters contained the warehouse blaze after six hours of work."
RATES = "The central bank left interest rates unchanged for a third month."
WEATHER = "Heavy snow is expected across the northern hills this weekend."


def test_add_reports_nothing_for_a_new_document() -> None:
    index = dedup.DedupIndex()
    assert index.add("a", f"{BRIDGE}\n\n{FIRE}") == []
    assert index.add("b", f"{RATES}\n\n{WEATHER}") == []


def test_add_reports_the_stored_passage_a_new_text_repeats() -> None:
    index = dedup.DedupIndex()
    old = f"{FIRE}\n\n{BRIDGE}"
    new = f"{RATES}\n\n{BRIDGE}"
    index.add("old", old)
    [m] = index.add("new", new)
    assert (m.a.key, m.b.key, m.kind, m.score) == ("new", "old", "exact", 1.0)
    assert new[m.a.span.start : m.a.span.end] == m.a.text == BRIDGE
    assert old[m.b.span.start : m.b.span.end] == m.b.text == BRIDGE


def test_add_reports_a_reworded_passage_as_a_near_match() -> None:
    index = dedup.DedupIndex()
    index.add("old", f"{FIRE}\n\nLavrov chastised NATO for encouraging turmoil in Eastern Europe.")
    matches = index.add("new", "On Friday, Lavrov slammed NATO for fanning turmoil in Eastern Europe.")
    assert [(m.b.key, m.kind) for m in matches] == [("old", "near")]
    assert 0.55 <= matches[0].score < 1.0


def test_query_finds_matches_without_storing() -> None:
    index = dedup.DedupIndex()
    index.add("old", BRIDGE)
    [m] = index.query(f"{RATES} {BRIDGE}")
    assert m.a.key is None and m.b.key == "old"
    assert len(index) == 1 and list(index) == ["old"]


def test_readding_a_key_raises_unless_replaced() -> None:
    index = dedup.DedupIndex()
    index.add("k", BRIDGE)
    with pytest.raises(dedup.DuplicateKeyError, match="replace=True"):
        index.add("k", FIRE)
    # The replaced version is dropped before the check: the new text is not matched to itself.
    assert index.add("k", BRIDGE, replace=True) == []
    assert index.text("k") == BRIDGE and len(index) == 1


def test_removed_documents_are_no_longer_matched() -> None:
    index = dedup.DedupIndex()
    index.add("a", BRIDGE)
    index.remove("a")
    assert "a" not in index and index.query(BRIDGE) == []
    with pytest.raises(KeyError):
        index.remove("a")


def test_matches_agree_with_the_detector_on_the_same_documents() -> None:
    first = f"{FIRE}\n\nLavrov chastised NATO for encouraging turmoil in Eastern Europe.\n\n{RATES}"
    second = f"{WEATHER}\n\nOn Friday, Lavrov slammed NATO for fanning turmoil in Eastern Europe.\n\n{RATES}"
    index = dedup.DedupIndex()
    index.add("first", first)
    added = index.add("second", second)
    detected = index.clusters().matches
    as_pairs = {(m.a.span, m.b.span, m.score) for m in added}
    assert as_pairs == {(m.b.span, m.a.span, m.score) for m in detected}


def test_evict_drops_documents_older_than_a_time() -> None:
    index = dedup.DedupIndex()
    index.add("old", BRIDGE, timestamp=100.0)
    index.add("new", FIRE, timestamp=200.0)
    assert index.evict(older_than=150.0) == ["old"]
    assert list(index) == ["new"] and index.query(BRIDGE) == []


def test_max_docs_keeps_the_newest_documents() -> None:
    index = dedup.DedupIndex(max_docs=2)
    for n, text in enumerate([BRIDGE, FIRE, RATES]):
        index.add(f"d{n}", text, timestamp=float(n))
    assert list(index) == ["d1", "d2"]


def test_max_age_evicts_documents_older_than_the_newest_by_that_much() -> None:
    index = dedup.DedupIndex(max_age=10.0)
    index.add("a", BRIDGE, timestamp=0.0)
    index.add("b", FIRE, timestamp=5.0)
    index.add("c", RATES, timestamp=12.0)
    assert list(index) == ["b", "c"]


def test_window_limits_matches_to_recent_documents() -> None:
    index = dedup.DedupIndex()
    index.add("old", BRIDGE, timestamp=1000.0)
    assert index.add("late", BRIDGE, timestamp=5000.0, window=3600.0) == []
    [m] = index.add("later", BRIDGE, timestamp=5001.0, window=3600.0)
    assert m.b.key == "late"
    assert [m.b.key for m in index.query(BRIDGE, since=4000.0)] == ["late", "later"]


def test_bad_arguments_raise_clear_errors() -> None:
    index = dedup.DedupIndex()
    with pytest.raises(TypeError, match="text must be str"):
        index.add("k", b"bytes")  # type: ignore[arg-type]
    with pytest.raises(dedup.InvalidOptionError, match="timestamp must be finite"):
        index.add("k", BRIDGE, timestamp=float("nan"))
    with pytest.raises(dedup.InvalidOptionError, match="max_docs"):
        dedup.DedupIndex(max_docs=0)
    with pytest.raises(dedup.InvalidOptionError, match="window must be > 0"):
        index.query(BRIDGE, window=-1)


def test_compaction_after_many_removals_keeps_results(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dedup._index.memory, "COMPACT_MIN", 4)
    index = dedup.DedupIndex()
    texts = [BRIDGE, FIRE, RATES, WEATHER, "Lavrov chastised NATO for encouraging turmoil in Eastern Europe."]
    for n, text in enumerate(texts):
        index.add(f"k{n}", f"{text}\n\nItem {n} of the morning bulletin was read aloud.")
    for n in range(3):
        index.remove(f"k{n}")
    store = index._store
    assert isinstance(store, dedup._index.memory.MemoryStore)
    assert store._dead == 0 and store._n_sids == 4  # compacted: only k3 and k4 are left
    [m] = index.query(WEATHER)
    assert m.b.key == "k3" and m.b.text == WEATHER
    assert index.query(BRIDGE) == []
    assert index.add("k0", BRIDGE) == []
    assert [m.b.key for m in index.query(f"{FIRE} {BRIDGE}")] == ["k0"]


def test_concurrent_adds_of_the_same_text_see_it_new_exactly_once() -> None:
    index = dedup.DedupIndex()
    stories = [BRIDGE, FIRE, RATES, WEATHER]
    results: dict[str, list[dedup.Match]] = {}
    barrier = threading.Barrier(8)

    def worker(w: int) -> None:
        barrier.wait()
        for n, story in enumerate(stories):
            key = f"w{w}-s{n}"
            results[key] = index.add(key, f"Update {w}.\n\n{story}")

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(index) == 32
    for n in range(len(stories)):
        fresh = [k for k, ms in results.items() if k.endswith(f"-s{n}") and not ms]
        assert len(fresh) == 1


def _reference(pairs: list[tuple[int, int]], queries: list[int], max_bucket: int) -> list[tuple[int, int]]:
    table: dict[int, list[int]] = {}
    for key, sid in pairs:
        table.setdefault(key, []).append(sid)
    hits = [
        (q, s)
        for q, key in enumerate(queries)
        if 0 < len(table.get(key, [])) <= max_bucket
        for s in table[key]
    ]
    return sorted(hits)


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(st.lists(st.integers(1, 40), max_size=60), min_size=1, max_size=5),
    queries=st.lists(st.integers(1, 45), max_size=30),
    max_bucket=st.integers(1, 8),
)
def test_sorted_runs_lookup_equals_a_dict_of_lists(
    batches: list[list[int]], queries: list[int], max_bucket: int
) -> None:
    runs = SortedRuns(level0=16)  # small, so that merging is exercised
    pairs: list[tuple[int, int]] = []
    small, dedup._index.runs._SMALL = dedup._index.runs._SMALL, 24  # and larger runs are split
    try:
        for batch in batches:
            sids = list(range(len(pairs), len(pairs) + len(batch)))
            pairs += list(zip(batch, sids, strict=True))
            runs.insert(np.array(batch, dtype=np.uint64), np.array(sids, dtype=np.int64))
    finally:
        dedup._index.runs._SMALL = small
    q = np.array(queries, dtype=np.uint64)
    qi, sids_found = runs.lookup(q, cap=max_bucket, truncate=False, alive=None, dead=0)
    got = sorted(zip(qi.tolist(), sids_found.tolist(), strict=True))
    assert got == _reference(pairs, queries, max_bucket)
    lows, ids, cells = runs.export()  # what save/load does
    restored = SortedRuns.restore(lows, ids, cells)
    qi2, sids2 = restored.lookup(q, cap=max_bucket, truncate=False, alive=None, dead=0)
    assert sorted(zip(qi2.tolist(), sids2.tolist(), strict=True)) == got


def test_an_endless_stream_with_max_docs_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dedup._index.memory, "COMPACT_MIN", 16)
    index = dedup.DedupIndex(max_docs=5)
    for n in range(60):
        matches = index.add(f"k{n}", f"Bulletin {n}.\n\n{BRIDGE}\n\nShift number {n} reported {n * 7} calls.")
        seen = {m.b.key for m in matches if m.b.text == BRIDGE}
        assert seen <= {f"k{k}" for k in range(n - 5, n)} and bool(seen) == (n > 0)  # only live documents
    assert list(index) == [f"k{n}" for n in range(55, 60)]
    store = index._store
    assert isinstance(store, dedup._index.memory.MemoryStore)
    assert store._n_sids <= 2 * (5 * 3) + 16 and store._runs.entries <= store._n_sids * 40


def _lee_items(n: int) -> list[tuple[str, str]]:
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "data" / "lee_background_40.jsonl"
    with path.open(encoding="utf-8") as fh:
        docs = [json.loads(line) for line in fh][:n]
    # Real reports plus copies that restate parts of others, so that there is something to find.
    items = [(d["id"], d["text"]) for d in docs]
    items.append(("copy-1", items[3][1][:400] + "\n\n" + FIRE))
    items.append(("copy-2", BRIDGE + "\n\n" + items[7][1][-300:]))
    return items


@pytest.mark.parametrize("jobs", [1, 2])
def test_from_texts_in_parallel_equals_adding_one_by_one(jobs: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dedup._index.index, "_BATCH_DOCS", 4)  # several batches: the worker processes run
    items = _lee_items(20)
    one_by_one = dedup.DedupIndex()
    for key, text in items:
        one_by_one.add(key, text)
    batch = dedup.DedupIndex.from_texts(items, jobs=jobs)
    assert list(batch) == list(one_by_one)
    expected = one_by_one.clusters()
    assert expected and batch.clusters().to_records() == expected.to_records()
    probe = items[5][1][:500]
    assert batch.query(probe) == one_by_one.query(probe) != []
    # The batch-built index goes on like any other.
    assert [m.b.key for m in batch.add("new", FIRE)] == ["copy-1"]


def test_from_texts_rejects_repeated_keys_and_bad_items() -> None:
    with pytest.raises(dedup.DuplicateKeyError, match="'a'"):
        dedup.DedupIndex.from_texts([("a", BRIDGE), ("a", FIRE)])
    with pytest.raises(TypeError, match="key, text"):
        dedup.DedupIndex.from_texts([("a", BRIDGE, "extra")])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="str"):
        dedup.DedupIndex.from_texts([("a", b"bytes")])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="jobs"):
        dedup.DedupIndex.from_texts([("a", BRIDGE)], jobs=0)


def test_from_texts_applies_the_retention_policy() -> None:
    index = dedup.DedupIndex.from_texts([("a", BRIDGE), ("b", FIRE), ("c", RATES)], max_docs=2)
    assert list(index) == ["b", "c"]


def test_iter_clusters_streams_the_same_clusters_group_by_group() -> None:
    index = dedup.DedupIndex.from_texts(_lee_items(30), jobs=1)
    ranked = index.clusters()
    stream = index.iter_clusters()
    assert not isinstance(stream, list)  # a lazy iterator, not a built list
    streamed = list(stream)
    # The same clusters, each exactly once.
    assert len(streamed) == len(ranked) > 2
    assert sorted(streamed, key=repr) == sorted(ranked, key=repr)
    # Documents sharing a cluster form a group: each group's clusters come as one run,
    # best first, and runs come in the order of their first document.
    order = {key: n for n, key in enumerate(index)}
    root = {key: key for key in order}

    def find(key: str) -> str:
        while root[key] != key:
            key = root[key]
        return key

    for cluster in streamed:
        first, *rest = (find(p.key) for p in cluster.passages)
        for other in rest:
            root[other] = first
    runs: list[tuple[str, list[dedup.Cluster]]] = []
    for cluster in streamed:
        group = find(cluster.passages[0].key)
        if not runs or runs[-1][0] != group:
            runs.append((group, []))
        runs[-1][1].append(cluster)
    assert len({group for group, _ in runs}) == len(runs) > 1
    for _, run in runs:
        assert [c.score for c in run] == sorted((c.score for c in run), reverse=True)
    firsts = [min(order[p.key] for c in run for p in c.passages) for _, run in runs]
    assert firsts == sorted(firsts)
    assert list(dedup.DedupIndex().iter_clusters()) == []


def test_stored_sentences_are_rebuilt_from_the_text_as_segmentation_gave_them() -> None:
    """The in-memory store keeps spans, not sentence objects: rebuilt, they equal a new segmentation."""
    data = Path(__file__).resolve().parents[1] / "data"
    texts = [
        json.loads(line)["text"]
        for name in ("cnn_poc_highlights_40.jsonl", "lee_background_40.jsonl")
        for line in (data / name).read_text(encoding="utf-8").splitlines()
    ]
    index = dedup.DedupIndex.from_texts([(f"d{n}", t) for n, t in enumerate(texts)], jobs=1)
    store = index._store
    assert isinstance(store, dedup._index.memory.MemoryStore)
    slots = list(range(len(texts)))
    for doc, text in zip(store.stored(slots), texts, strict=True):
        assert doc.text == text and doc.sentences == tuple(segment(text))
    # Asked for some sentences: their paragraphs whole, the others stubs (paragraph -1).
    [doc] = store.stored([0], [{3}])
    full = segment(texts[0])
    para = full[3].para
    assert [s for s in doc.sentences if s.para == para] == [s for s in full if s.para == para]
    assert [s.para for s in doc.sentences] == [s.para if s.para == para else -1 for s in full]
