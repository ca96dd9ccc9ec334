"""Saving and loading a DedupIndex: a versioned binary file of numpy arrays, with a checksum.

Layout (all integers little-endian)::

    b"DEDUPIDX"            8 bytes, magic
    format version         uint32 (3; versions 1 and 2 still load: see below)
    header length          uint32
    header                 UTF-8 JSON: build fingerprint, policy, array directory
    arrays                 raw numpy buffers, each 8-byte aligned: documents (keys,
                           UTF-8 texts, timestamps, sentence counts), sentences
                           (paragraph, start, end), the band key entries as one sorted
                           run (low 32 bits of the 48-bit keys, sentence ids) and its
                           directory (each value of the keys' top 16 bits that
                           occurs, and where its entries end)
    SHA-256                32 bytes, of everything before it

Loading maps the file (``numpy.memmap``, copy-on-write): texts, spans and band
key entries stay in the file's pages, read as lookups touch them; only the
document keys become Python strings.  A version-1 file (band keys per sentence,
a hash table) is read whole and converted: its texts are segmented again
(segmentation is deterministic; a count that differs is refused) and its band
keys sorted into a run; saving it again writes the current version.  A version-2
file (64-bit keys, 12 bytes an entry) loads its texts and spans mapped, its keys
cut to 48 bits and sorted into a run in memory.

The fingerprint records how the index was built (options, MinHash scheme,
shingle hash scheme, LSH bands/rows, library version); loading checks it
against the running library and the caller's options.  Nothing in the file is
ever executed (no pickle): a file is only ever read as numbers and text.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import struct
from collections.abc import Mapping
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from dedup._errors import IncompatibleIndexError, IndexFormatError, IndexNotFoundError, StorageError
from dedup._index.crossmatch import Sketch
from dedup._index.memory import MemoryStore
from dedup._index.runs import dense_directory, sparse_directory
from dedup._index.store import fingerprint
from dedup._io import atomic_write
from dedup._options import VERIFY_ONLY, Options, options_from
from dedup._text.segment import segment_with_topic

__all__ = ["FORMAT_VERSION", "MAGIC", "fingerprint", "load_index", "save_index"]

MAGIC = b"DEDUPIDX"
FORMAT_VERSION = 3
_PREFIX = struct.Struct("<8sII")
_DIGEST = 32
_ALIGN = 8
_V3 = (
    "text_bytes",
    "text_offsets",
    "doc_timestamp",
    "doc_count",
    "sent_span",
    "run_lows",
    "run_sids",
    "run_cell_ids",
    "run_cell_ends",
)
#: Format 2 kept 64-bit keys (its directory, ``run_cells``, is not read).
_V2 = (*_V3[:5], "run_keys", "run_sids")
_TABLE = (
    "table_capacity",
    "table_slots",
    "table_keys",
    "table_head",
    "table_count",
    "entry_sid",
    "entry_next",
)
#: Saved policy: ``{"max_docs": int | None, "max_age": float | None}``.
Policy = dict[str, Any]


def _strings(values: list[str]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    encoded = [v.encode("utf-8", "surrogatepass") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def save_index(store: MemoryStore, policy: Policy, path: str | os.PathLike[str]) -> None:
    """Write ``store`` and the index's retention ``policy`` to ``path`` atomically.

    The previous file survives any failure.
    """
    if not isinstance(store, MemoryStore):
        raise TypeError(f"only an in-memory index can be saved to a file, not one in {store!r}")
    saved = store.export()
    arrays: dict[str, npt.NDArray[Any]] = {}
    arrays["doc_key_bytes"], arrays["doc_key_offsets"] = _strings(saved["keys"])
    arrays["doc_topic_bytes"], arrays["doc_topic_offsets"] = _strings(saved["topics"])
    saved["run_cell_ids"], saved["run_cell_ends"] = sparse_directory(saved.pop("run_cells"))
    for name in _V3:
        arrays[name] = saved[name]
    header: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "fingerprint": fingerprint(store.options),
        "policy": {"max_docs": policy["max_docs"], "max_age": policy["max_age"]},
    }
    directory: dict[str, Any] = {}
    pos = 0
    for name, arr in arrays.items():
        arr = np.ascontiguousarray(arr)
        arrays[name] = arr
        directory[name] = {"dtype": arr.dtype.str, "shape": list(arr.shape), "offset": pos}
        pos += -(-arr.nbytes // _ALIGN) * _ALIGN
    header["arrays"] = directory
    head = json.dumps(header, sort_keys=True).encode("utf-8")
    head += b" " * (-(_PREFIX.size + len(head)) % _ALIGN)

    def write(fh: IO[bytes]) -> None:
        digest = hashlib.sha256()

        def put(data: bytes | memoryview) -> None:
            digest.update(data)
            fh.write(data)

        put(_PREFIX.pack(MAGIC, FORMAT_VERSION, len(head)))
        put(head)
        for arr in arrays.values():
            if arr.size:  # an empty array has no bytes (and memoryview.cast refuses its zero shape)
                put(arr.data.cast("B"))
            put(b"\0" * (-arr.nbytes % _ALIGN))
        fh.write(digest.digest())

    try:
        atomic_write(path, write)
    except OSError as err:
        raise StorageError(f"could not save the index to {os.fspath(path)!r}: {err}") from err


def _bad(path: str, why: str) -> IndexFormatError:
    return IndexFormatError(f"{path!r} is not a readable dedup index: {why}")


def opened_with(saved: Options, asked: Mapping[str, Any], name: str) -> Options:
    """The options of a stored index opened with the keyword options ``asked``.

    Options that only steer verification (:data:`~dedup._options.VERIFY_ONLY`, e.g.
    ``threshold``) take the asked value; any other option named must equal the stored one
    (:class:`IncompatibleIndexError` naming each difference otherwise); options not named
    keep the stored value.
    """
    merged = options_from({**saved.to_dict(), **asked})
    diff = [k for k in asked if k not in VERIFY_ONLY and getattr(merged, k) != getattr(saved, k)]
    if diff:
        detail = ", ".join(f"{k}: stored {getattr(saved, k)!r}, asked {asked[k]!r}" for k in sorted(diff))
        raise IncompatibleIndexError(
            f"{name} was built with other options ({detail}); only {', '.join(VERIFY_ONLY)} may differ"
        )
    return merged


def load_index(path: str | os.PathLike[str], options: Mapping[str, Any]) -> tuple[MemoryStore, Policy]:
    """Read a file written by :func:`save_index`: the store and the retention policy."""
    name = os.fspath(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below).
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise _bad(name, "it is not a regular file (a FIFO, device or directory)")
            size = info.st_size
            # Mapped copy-on-write: pages are read as used, and nothing is ever written back.
            data: npt.NDArray[np.uint8] = (
                np.memmap(fh, dtype=np.uint8, mode="c") if size else np.zeros(0, dtype=np.uint8)
            )
    except FileNotFoundError as err:
        raise IndexNotFoundError(f"no saved index at {name!r}") from err
    except IsADirectoryError as err:
        raise _bad(name, "it is a directory") from err
    except OSError as err:
        raise StorageError(f"could not read the index {name!r}: {err}") from err
    except (MemoryError, ValueError) as err:
        raise _bad(name, f"it cannot be mapped ({err})") from err
    if size < _PREFIX.size + _DIGEST:
        raise _bad(name, f"the file is truncated ({size} bytes)")
    magic, version, head_len = _PREFIX.unpack_from(data[: _PREFIX.size].tobytes(), 0)
    if magic != MAGIC:
        raise _bad(name, "it does not start with the dedup index signature")
    if version > FORMAT_VERSION:
        raise IncompatibleIndexError(
            f"{name!r} has index format version {version}; this dedup reads up to {FORMAT_VERSION} "
            "(upgrade dedup to load it)"
        )
    digest = hashlib.sha256()
    for at in range(0, size - _DIGEST, 1 << 24):
        digest.update(data[at : min(at + (1 << 24), size - _DIGEST)].data)
    if digest.digest() != data[size - _DIGEST :].tobytes():
        raise _bad(name, "its checksum does not match (truncated or corrupted)")
    start = _PREFIX.size + head_len
    try:
        if start > size - _DIGEST:
            raise ValueError("the header runs past the end of the file")
        header = json.loads(data[_PREFIX.size : start].tobytes().decode("utf-8"))
        saved = Options(**header["fingerprint"]["options"])
    except (ValueError, KeyError, TypeError) as err:
        raise _bad(name, f"its header is damaged ({err})") from err
    want = fingerprint(saved)
    got_fp = header["fingerprint"]
    for field in ("minhash_scheme", "shingle_hash_scheme", "lsh_bands", "lsh_rows"):
        if got_fp.get(field) != want[field]:
            raise IncompatibleIndexError(
                f"{name!r} was built with {field}={got_fp.get(field)!r}; this dedup uses {want[field]!r}"
            )
    saved = opened_with(saved, options, repr(name))
    try:
        arrays = _arrays(data, start, size - _DIGEST, header["arrays"])
        if version < 2:
            return _restore_v1(saved, header, arrays, size)
        return _restore(saved, header, arrays, _V2 if version == 2 else _V3)
    except (ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError, OverflowError) as err:
        raise _bad(name, f"its contents are inconsistent ({err})") from err
    except MemoryError as err:  # a size field no check above bounds: never an allocation failure
        raise _bad(name, f"its contents are inconsistent (a size it states is too large: {err})") from err


def _arrays(
    data: npt.NDArray[np.uint8], start: int, end: int, directory: dict[str, Any]
) -> dict[str, npt.NDArray[Any]]:
    out: dict[str, npt.NDArray[Any]] = {}
    for name, spec in directory.items():
        dtype = np.dtype(spec["dtype"])
        if dtype.hasobject:
            raise ValueError(f"array {name} has an object dtype")
        shape = tuple(int(n) for n in spec["shape"])
        if any(n < 0 for n in shape):
            raise ValueError(f"array {name} has a negative dimension")
        count = math.prod(shape)  # Python integers: a crafted shape cannot overflow into a small count
        offset = start + int(spec["offset"])
        if offset < start or offset + count * dtype.itemsize > end:
            raise ValueError(f"array {name} lies outside the file")
        if offset % dtype.alignment:
            raise ValueError(f"array {name} is not aligned")
        out[name] = data[offset : offset + count * dtype.itemsize].view(dtype).reshape(shape)
    return out


def _restore(
    options: Options, header: dict[str, Any], arrays: dict[str, npt.NDArray[Any]], names: tuple[str, ...]
) -> tuple[MemoryStore, Policy]:
    policy = header["policy"]
    saved: dict[str, Any] = {name: arrays[name] for name in names}
    if "run_cell_ids" in saved:
        ids, ends = saved.pop("run_cell_ids"), saved.pop("run_cell_ends")
        saved["run_cells"] = dense_directory(ids, ends, saved["run_lows"].size)
    saved["keys"] = _decoded(arrays["doc_key_bytes"], arrays["doc_key_offsets"], saved["doc_timestamp"].size)
    saved["topics"] = _decoded(
        arrays["doc_topic_bytes"], arrays["doc_topic_offsets"], saved["doc_timestamp"].size
    )
    store = MemoryStore.restore(options, saved)
    return store, {"max_docs": policy["max_docs"], "max_age": policy["max_age"]}


def _restore_v1(
    options: Options, header: dict[str, Any], arrays: dict[str, npt.NDArray[Any]], size: int
) -> tuple[MemoryStore, Policy]:
    """A version-1 file (dedup before the compact index): its documents, segmented again."""
    policy = header["policy"]
    ts, slots = arrays["doc_timestamp"], arrays["doc_slot"]
    first, count = arrays["doc_first"], arrays["doc_count"]
    n_docs = ts.size
    keys = _decoded(arrays["doc_key_bytes"], arrays["doc_key_offsets"], n_docs)
    texts = _decoded(arrays["doc_text_bytes"], arrays["doc_text_offsets"], n_docs)
    sid_keys, sid_ok = arrays["sid_keys"], arrays["sid_ok"].astype(bool)
    n_sids = sid_ok.size
    bands = fingerprint(options)["lsh_bands"]
    n_slots = int(header["n_slots"])
    if not 0 <= n_slots <= 8 * size + 65536:
        raise ValueError(f"n_slots {n_slots} does not fit a file of {size} bytes")
    if not (
        slots.size == first.size == count.size == n_docs
        and sid_keys.shape == (n_sids, bands + 1)
        and (n_docs == 0 or (slots.min() >= 0 and slots.max() < n_slots))
        and (n_docs == 0 or (first.min() >= 0 and count.min() >= 0 and (first + count).max() <= n_sids))
        and np.unique(slots).size == n_docs
    ):
        raise ValueError("document and sentence tables do not fit together")
    docs = []
    for n in np.argsort(slots, kind="stable").tolist():
        found, topic = segment_with_topic(texts[n])
        sents = tuple(found)
        lo, hi = int(first[n]), int(first[n]) + int(count[n])
        if len(sents) != hi - lo:
            raise IncompatibleIndexError(
                f"document {keys[n]!r} segments into {len(sents)} sentences, "
                f"the index recorded {hi - lo}: it was built by another dedup version"
            )
        sk = Sketch(sid_keys[lo:hi, :-1], sid_keys[lo:hi, -1], sid_ok[lo:hi], topic)
        docs.append((keys[n], texts[n], float(ts[n]), sents, sk))
    if len(set(keys)) != n_docs:
        raise ValueError("a document is stored twice")
    store = MemoryStore.from_sketched(options, docs)
    return store, {"max_docs": policy["max_docs"], "max_age": policy["max_age"]}


def _decoded(data: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64], n: int) -> list[str]:
    raw, at = data.tobytes(), offsets.tolist()
    if len(at) != n + 1 or at[-1] != len(raw):
        raise ValueError("document and sentence tables do not fit together")
    return [raw[at[k] : at[k + 1]].decode("utf-8", "surrogatepass") for k in range(n)]
