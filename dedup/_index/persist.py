"""Saving and loading a DedupIndex: a versioned binary file of numpy arrays, with a checksum.

Layout (all integers little-endian)::

    b"DEDUPIDX"            8 bytes, magic
    format version         uint32
    header length          uint32
    header                 UTF-8 JSON: build fingerprint, policy, array directory
    arrays                 raw numpy buffers, each 8-byte aligned: documents (keys,
                           texts, timestamps), sentences (document, band and
                           exact-copy keys), the band table's occupied slots and
                           entries (loading scatters them back: no re-hashing)
    SHA-256                32 bytes, of everything before it

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
from dedup._index.memory import MemoryStore
from dedup._index.store import fingerprint
from dedup._io import atomic_write
from dedup._options import VERIFY_ONLY, Options, options_from

__all__ = ["FORMAT_VERSION", "MAGIC", "fingerprint", "load_index", "save_index"]

MAGIC = b"DEDUPIDX"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<8sII")
_DIGEST = 32
_ALIGN = 8
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
    arrays["doc_text_bytes"], arrays["doc_text_offsets"] = _strings(saved["texts"])
    for name in ("doc_timestamp", "doc_slot", "doc_first", "doc_count", "sid_slot", "sid_keys", "sid_ok"):
        arrays[name] = saved[name]
    arrays.update(saved["table"])
    header: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "fingerprint": fingerprint(store.options),
        "policy": {"max_docs": policy["max_docs"], "max_age": policy["max_age"]},
        "n_slots": saved["n_slots"],
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
            data = bytearray(size)
            got = fh.readinto(data)
    except FileNotFoundError as err:
        raise IndexNotFoundError(f"no saved index at {name!r}") from err
    except IsADirectoryError as err:
        raise _bad(name, "it is a directory") from err
    except OSError as err:
        raise StorageError(f"could not read the index {name!r}: {err}") from err
    except MemoryError as err:
        raise _bad(name, f"it is too large to load ({err})") from err
    if got != size or size < _PREFIX.size + _DIGEST:
        raise _bad(name, f"the file is truncated ({size} bytes)")
    magic, version, head_len = _PREFIX.unpack_from(data, 0)
    if magic != MAGIC:
        raise _bad(name, "it does not start with the dedup index signature")
    if version > FORMAT_VERSION:
        raise IncompatibleIndexError(
            f"{name!r} has index format version {version}; this dedup reads up to {FORMAT_VERSION} "
            "(upgrade dedup to load it)"
        )
    body = memoryview(data)[: size - _DIGEST]
    if hashlib.sha256(body).digest() != bytes(data[size - _DIGEST :]):
        raise _bad(name, "its checksum does not match (truncated or corrupted)")
    start = _PREFIX.size + head_len
    try:
        header = json.loads(bytes(data[_PREFIX.size : start]).decode("utf-8"))
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
        return _restore(saved, header, arrays, size)
    except (ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError, OverflowError) as err:
        raise _bad(name, f"its contents are inconsistent ({err})") from err
    except MemoryError as err:  # a size field no check above bounds: never an allocation failure
        raise _bad(name, f"its contents are inconsistent (a size it states is too large: {err})") from err


def _arrays(data: bytearray, start: int, end: int, directory: dict[str, Any]) -> dict[str, npt.NDArray[Any]]:
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
        out[name] = np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(shape)
    return out


def _restore(
    options: Options, header: dict[str, Any], arrays: dict[str, npt.NDArray[Any]], size: int
) -> tuple[MemoryStore, Policy]:
    policy = header["policy"]
    saved: dict[str, Any] = {
        name: arrays[name] for name in ("doc_timestamp", "doc_slot", "doc_first", "doc_count")
    }
    saved["keys"] = _decoded(arrays["doc_key_bytes"], arrays["doc_key_offsets"], saved["doc_slot"].size)
    saved["texts"] = _decoded(arrays["doc_text_bytes"], arrays["doc_text_offsets"], saved["doc_slot"].size)
    saved.update({name: arrays[name] for name in ("sid_slot", "sid_keys", "sid_ok")})
    saved["table"] = {name: arrays[name] for name in _TABLE}
    n_slots = int(header["n_slots"])
    # Slots of removed empty documents stay numbered without data, so the count is not bounded by
    # the file's bytes alone; this bound stops absurd allocations from a crafted header.
    if not 0 <= n_slots <= 8 * size + 65536:
        raise ValueError(f"n_slots {n_slots} does not fit a file of {size} bytes")
    saved["n_slots"] = n_slots
    store = MemoryStore.restore(options, saved)
    return store, {"max_docs": policy["max_docs"], "max_age": policy["max_age"]}


def _decoded(data: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64], n: int) -> list[str]:
    raw, at = bytes(data), offsets.tolist()
    if len(at) != n + 1 or at[-1] != len(raw):
        raise ValueError("document and sentence tables do not fit together")
    return [raw[at[k] : at[k + 1]].decode("utf-8", "surrogatepass") for k in range(n)]
