"""Saving and loading an index: round trip, fingerprint checks, damaged files, atomic writes."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dedup
from dedup._index.persist import FORMAT_VERSION, MAGIC

STORIES = [
    "The mayor opened the new bridge over the river on Tuesday morning.",
    "Firefighters contained the warehouse blaze after six hours of work.",
    "The central bank left interest rates unchanged for a third month.",
    "Heavy snow is expected across the northern hills this weekend.",
]


def _index(**options: object) -> dedup.DedupIndex:
    index = dedup.DedupIndex(**options)  # type: ignore[arg-type]
    for n, story in enumerate(STORIES):
        index.add(f"doc{n}", f"Bulletin {n} follows.\n\n{story}", timestamp=1000.0 + n)
    index.add("gone", "Lavrov chastised NATO for encouraging turmoil in Eastern Europe.")
    index.remove("gone")
    return index


def test_a_loaded_index_answers_like_the_saved_one(tmp_path: Path, seed_text: str) -> None:
    index = _index()
    index.add("seed", seed_text, timestamp=2000.0)
    path = tmp_path / "news.idx"
    index.save(path)
    loaded = dedup.DedupIndex.load(path)
    assert list(loaded) == list(index) and "gone" not in loaded
    assert [loaded.timestamp(k) for k in loaded] == [index.timestamp(k) for k in index]
    probe = f"{STORIES[2]}\n\n{seed_text[:800]}"
    assert loaded.query(probe) == index.query(probe)
    assert loaded.clusters() == index.clusters()
    assert loaded.add("more", STORIES[0]) == index.add("more", STORIES[0])


def test_loading_with_other_storage_options_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.idx"
    _index(threshold=0.6, num_perm=64).save(path)
    assert dedup.DedupIndex.load(path).options.num_perm == 64
    assert dedup.DedupIndex.load(path, num_perm=64).options.num_perm == 64
    with pytest.raises(dedup.IncompatibleIndexError, match=r"num_perm: stored 64, asked 128.*only threshold"):
        dedup.DedupIndex.load(path, num_perm=128)
    with pytest.raises(dedup.InvalidOptionError, match=r"unknown option 'treshold' \(did you mean"):
        dedup.DedupIndex.load(path, treshold=0.7)  # type: ignore[call-arg]


def test_loading_with_another_verification_threshold(tmp_path: Path) -> None:
    """Nothing stored depends on the verification settings: a saved index opens with others,
    and gives what an index built with them gives."""
    path = tmp_path / "a.idx"
    reworded = "The mayor opened the new bridge across the river on Tuesday."  # scores ~0.78 with doc0
    saved = _index(threshold=0.6, num_perm=64)
    saved.add("reworded", reworded, timestamp=1010.0)
    saved.save(path)
    loaded = dedup.DedupIndex.load(path, threshold=0.9, fusion=False)
    assert (loaded.options.threshold, loaded.options.fusion, loaded.options.num_perm) == (0.9, False, 64)
    built = _index(threshold=0.9, fusion=False, num_perm=64)
    built.add("reworded", reworded, timestamp=1010.0)
    assert loaded.clusters() == built.clusters()
    assert loaded.clusters() != dedup.DedupIndex.load(path).clusters()
    probe = f"{STORIES[2]}\n\n{STORIES[0]}"
    assert loaded.query(probe) == built.query(probe)


def _rewrite_header(path: Path, change: dict[str, object], version: int = FORMAT_VERSION) -> None:
    data = path.read_bytes()
    _, _, head_len = struct.unpack_from("<8sII", data)
    header = json.loads(data[16 : 16 + head_len])
    header["fingerprint"].update(change)
    head = json.dumps(header).encode().ljust(head_len)
    assert len(head) == head_len
    path.write_bytes(struct.pack("<8sII", MAGIC, version, head_len) + head + data[16 + head_len :])


def test_a_newer_format_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.idx"
    _index().save(path)
    _rewrite_header(path, {}, version=FORMAT_VERSION + 1)
    with pytest.raises(dedup.IncompatibleIndexError, match=f"format version {FORMAT_VERSION + 1}"):
        dedup.DedupIndex.load(path)


def test_a_damaged_byte_is_reported_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a.idx"
    _index().save(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(dedup.IndexFormatError, match=r"a\.idx.*checksum"):
        dedup.DedupIndex.load(path)


def test_a_changed_hash_scheme_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.idx"
    _index().save(path)
    _rewrite_header(path, {"shingle_hash_scheme": "md5-words"})
    with pytest.raises((dedup.IncompatibleIndexError, dedup.IndexFormatError)):
        dedup.DedupIndex.load(path)  # checksum or fingerprint: never silently loaded


@pytest.mark.parametrize("keep", [0, 10, 100, 1000, -1])
def test_a_truncated_file_is_reported(tmp_path: Path, keep: int) -> None:
    path = tmp_path / "a.idx"
    _index().save(path)
    data = path.read_bytes()
    path.write_bytes(data[:keep])
    with pytest.raises(dedup.IndexFormatError, match=r"a\.idx"):
        dedup.DedupIndex.load(path)


def test_a_file_that_is_not_an_index_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("just some notes, long enough to pass the size check ........." * 3)
    with pytest.raises(dedup.IndexFormatError, match="signature"):
        dedup.DedupIndex.load(path)


def test_a_missing_file_raises_storage_error(tmp_path: Path) -> None:
    with pytest.raises(dedup.StorageError, match=r"missing\.idx"):
        dedup.DedupIndex.load(tmp_path / "missing.idx")


def test_a_save_that_fails_midway_leaves_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "a.idx"
    _index().save(path)
    before = path.read_bytes()
    # A child process whose file-size limit is hit mid-write: the disk is "full".
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        import dedup
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        index = dedup.DedupIndex()
        for n, story in enumerate({STORIES!r}):
            index.add(f"k{{n}}", story)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({len(before)} // 2, resource.RLIM_INFINITY))
        try:
            index.save({str(path)!r})
        except dedup.StorageError as err:
            print("StorageError", err)
            sys.exit(0)
        sys.exit(1)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "could not save" in done.stdout
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.idx"]  # no temporary file left behind
    assert list(dedup.DedupIndex.load(path)) == [f"doc{n}" for n in range(4)]


def _craft(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    """Change the header of a saved index and recompute its checksum, as a crafted file would."""
    data = path.read_bytes()
    _, version, head_len = struct.unpack_from("<8sII", data)
    header = json.loads(data[16 : 16 + head_len])
    edit(header)
    head = json.dumps(header).encode()
    head += b" " * (-(16 + len(head)) % 8)
    body = struct.pack("<8sII", MAGIC, version, len(head)) + head + data[16 + head_len : -32]
    path.write_bytes(body + hashlib.sha256(body).digest())


def _set_array(name: str, **spec: object) -> Callable[[dict[str, Any]], None]:
    def edit(header: dict[str, Any]) -> None:
        header["arrays"][name].update(spec)

    return edit


def _set(field: str, value: object) -> Callable[[dict[str, Any]], None]:
    def edit(header: dict[str, Any]) -> None:
        header[field] = value

    return edit


@pytest.mark.parametrize(
    "edit",
    [
        _set_array("run_cell_ids", shape=[1]),  # a directory of the wrong size
        _set_array("run_cell_ends", dtype="<i8"),
        _set_array("run_lows", dtype="<u8"),
        _set_array("sent_span", shape=[2**33, 2**33]),  # a count that overflows int64 (was OverflowError)
        _set_array("sent_span", shape=[-1, 3]),
        _set_array("sent_span", shape=[1, 3]),
        _set_array("run_sids", shape=[1]),
        _set_array("text_offsets", dtype="<i4"),
        _set_array("doc_timestamp", dtype="O"),
        _set_array("doc_timestamp", dtype="not-a-dtype"),
        _set_array("doc_timestamp", offset=2**62),
        _set_array("doc_timestamp", offset=3),
        _set_array("doc_timestamp", shape="oops"),
    ],
)
def test_crafted_headers_with_a_valid_checksum_are_format_errors(
    tmp_path: Path, edit: Callable[[dict[str, Any]], None]
) -> None:
    path = tmp_path / "a.idx"
    _index().save(path)
    _craft(path, edit)
    with pytest.raises(dedup.IndexFormatError, match=r"a\.idx"):
        dedup.DedupIndex.load(path)


def test_crafted_arrays_with_a_valid_checksum_are_format_errors(tmp_path: Path) -> None:
    """Array contents that do not fit (not only headers) are refused when loading, naming the file."""
    path = tmp_path / "a.idx"
    _index().save(path)
    data = path.read_bytes()
    _, _, head_len = struct.unpack_from("<8sII", data)
    header = json.loads(data[16 : 16 + head_len])
    start = 16 + head_len

    def poke(name: str, value: int, dtype: str, index: int = 0) -> None:
        spec = header["arrays"][name]
        raw = bytearray(data[:-32])
        at = start + spec["offset"] + index * np.dtype(dtype).itemsize
        raw[at : at + np.dtype(dtype).itemsize] = np.array([value], dtype=dtype).tobytes()
        path.write_bytes(bytes(raw) + hashlib.sha256(raw).digest())
        with pytest.raises(dedup.IndexFormatError, match=r"a\.idx"):
            dedup.DedupIndex.load(path)

    def array(name: str) -> np.ndarray:
        spec = header["arrays"][name]
        at = start + spec["offset"]
        return np.frombuffer(data, np.dtype(spec["dtype"]), int(np.prod(spec["shape"])), at)

    ends, lows = array("run_cell_ends").astype(np.int64), array("run_lows")
    cell = int(np.flatnonzero(np.diff(ends) >= 2)[0]) + 1  # a cell of two keys or more
    first = int(ends[cell - 1])
    poke("run_lows", int(lows[first + 1]) + 1, "<u4", index=first)  # keys no longer sorted in it
    poke("run_cell_ends", int(ends[-1]) + 1, "<u4", index=cell)  # offsets past the run
    poke("run_cell_ids", 0, "<u2", index=1)  # cells not increasing
    poke("run_sids", 10**6, "<u4")  # an entry of a sentence not stored
    poke("sent_span", 10**6, "<i4", index=2)  # a sentence ending past its text
    poke("sent_span", -1, "<i4", index=1)  # a negative start
    poke("text_offsets", 5, "<i8")  # offsets not starting at 0
    poke("doc_count", 10**6, "<i4")  # sentence counts that do not add up


def test_the_crafting_helper_alone_leaves_a_loadable_index(tmp_path: Path) -> None:
    path = tmp_path / "a.idx"
    _index().save(path)
    _craft(path, lambda header: None)
    assert sorted(dedup.DedupIndex.load(path)) == [f"doc{n}" for n in range(4)]


def test_loading_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.idx"
    os.mkfifo(fifo)
    with pytest.raises(dedup.IndexFormatError, match="not a regular file"):
        dedup.DedupIndex.load(fifo)  # it used to wait forever for a writer


def test_a_missing_file_is_also_a_file_not_found_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        dedup.DedupIndex.load(tmp_path / "missing.idx")


@pytest.mark.parametrize("how", ["new", "blank text", "all removed"])
def test_an_empty_index_saves_and_loads(tmp_path: Path, how: str) -> None:
    index = dedup.DedupIndex()
    if how == "blank text":
        index.add("a", "")
    elif how == "all removed":
        index.add("a", STORIES[0])
        index.remove("a")
    index.save(tmp_path / "e.idx")
    loaded = dedup.DedupIndex.load(tmp_path / "e.idx")
    assert sorted(loaded) == sorted(index)
    loaded.add("b", STORIES[0])
    assert loaded.add("c", STORIES[0])  # the loaded index works


def _v1_documents() -> list[tuple[str, str, float]]:
    """What ``tests/data/index_v1.idx`` holds: written by dedup at a76bcd9 (format version 1) from these."""
    lee = Path(__file__).resolve().parents[1] / "data" / "lee_background_40.jsonl"
    arts = [json.loads(line)["text"] for line in lee.read_text(encoding="utf-8").splitlines()[:3]]
    docs = [(f"doc{n}", f"Bulletin {n} follows.\n\n{story}", 1000.0 + n) for n, story in enumerate(STORIES)]
    docs += [(f"lee{n}", a, 1100.0 + n) for n, a in enumerate(arts)]
    return [*docs, ("empty", "", 1200.0)]


def _old_file(version: int, docs: list[tuple[str, str, float]]) -> tuple[dedup.DedupIndex, dedup.DedupIndex]:
    """``tests/data/index_v{version}.idx`` loaded, and an index of its ``docs`` built anew."""
    path = Path(__file__).resolve().parents[1] / "data" / f"index_v{version}.idx"
    assert struct.unpack_from("<8sI", path.read_bytes())[1] == version
    loaded = dedup.DedupIndex.load(path)
    rebuilt = dedup.DedupIndex(max_docs=50)
    for key, text, ts in docs:
        rebuilt.add(key, text, timestamp=ts)
    assert list(loaded) == [key for key, _, _ in docs] and loaded.max_docs == 50
    return loaded, rebuilt


def test_a_version_1_file_loads_and_answers_like_a_rebuilt_index(tmp_path: Path) -> None:
    """Files of the earlier format (a hash table of band keys) still load: converted on reading."""
    docs = _v1_documents()
    loaded, rebuilt = _old_file(1, docs)
    assert [loaded.timestamp(k) for k in loaded] == [ts for _, _, ts in docs]
    probe = f"{STORIES[1]}\n\n{docs[5][1][:600]}"
    got = loaded.query(probe)
    assert [(m.a.span.start, m.a.span.end, m.b.key, m.b.span.start, m.score) for m in got] == [
        (0, 67, "doc1", 21, 1.0),
        (69, 666, "lee1", 0, 1.0),  # to the last whole word of the 600 characters copied (mid-sentence)
    ]
    assert got == rebuilt.query(probe)
    assert loaded.clusters() == rebuilt.clusters()
    again = tmp_path / "v2.idx"
    loaded.save(again)
    assert struct.unpack_from("<8sI", again.read_bytes())[1] == FORMAT_VERSION
    assert dedup.DedupIndex.load(again).query(probe) == got


def test_a_version_2_file_loads_and_answers_like_a_rebuilt_index(tmp_path: Path) -> None:
    """Files of format 2 (64-bit band keys, 12 bytes an entry) load: their keys cut to 48 bits."""
    docs = [d for d in _v1_documents() if d[0] != "doc2"]  # it was removed before saving
    loaded, rebuilt = _old_file(2, docs)
    probe = f"{STORIES[1]}\n\n{docs[4][1][:600]}"
    got = loaded.query(probe)
    assert {m.b.key for m in got} == {"doc1", "lee1"}
    assert got == rebuilt.query(probe)
    assert loaded.clusters() == rebuilt.clusters()
    again = tmp_path / "v3.idx"
    loaded.save(again)
    assert struct.unpack_from("<8sI", again.read_bytes())[1] == FORMAT_VERSION == 3
    assert dedup.DedupIndex.load(again).query(probe) == got
