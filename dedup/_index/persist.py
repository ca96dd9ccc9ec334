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
import os
import struct
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from dedup._errors import IncompatibleIndexError, IndexFormatError, StorageError
from dedup._index.bandtable import BandTable
from dedup._io import atomic_write
from dedup._options import Options
from dedup._sketch.minhash import lsh_params
from dedup._sketch.shingle import HASH_SCHEME

if TYPE_CHECKING:
    from dedup._index.index import DedupIndex

__all__ = ["FORMAT_VERSION", "MAGIC", "fingerprint", "load_index", "save_index"]

MAGIC = b"DEDUPIDX"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<8sII")
_DIGEST = 32
_ALIGN = 8


def fingerprint(options: Options) -> dict[str, Any]:
    """How an index with ``options`` is built: everything that changes its keys or scores."""
    from dedup._version import __version__

    bands, rows = lsh_params(options.lsh_threshold, options.num_perm)
    return {
        "options": options.to_dict(),
        "minhash_scheme": "affine32",
        "shingle_hash_scheme": HASH_SCHEME,
        "lsh_bands": bands,
        "lsh_rows": rows,
        "library_version": __version__,
    }


def _strings(values: list[str]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    encoded = [v.encode("utf-8", "surrogatepass") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def save_index(index: DedupIndex, path: str | os.PathLike[str]) -> None:
    """Write ``index`` to ``path`` atomically; the previous file survives any failure."""
    with index._lock:
        if index._dead:
            index._compact()
        entries = list(index._docs.items())
        slots = [e.slot for _, e in entries]
        arrays: dict[str, npt.NDArray[Any]] = {}
        arrays["doc_key_bytes"], arrays["doc_key_offsets"] = _strings([k for k, _ in entries])
        arrays["doc_text_bytes"], arrays["doc_text_offsets"] = _strings([e.text for _, e in entries])
        arrays["doc_timestamp"] = np.array([e.timestamp for _, e in entries], dtype=np.float64)
        arrays["doc_slot"] = np.array(slots, dtype=np.int64)
        arrays["doc_first"] = np.array([e.first for _, e in entries], dtype=np.int64)
        arrays["doc_count"] = np.array([e.count for _, e in entries], dtype=np.int64)
        arrays["sid_slot"] = index._sid_slot[: index._n_sids].copy()
        arrays["sid_keys"] = index._sid_keys[: index._n_sids].copy()
        arrays["sid_ok"] = index._sid_ok[: index._n_sids].copy()
        arrays.update(index._table.export())
        n_slots = index._n_slots
        header: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "fingerprint": fingerprint(index.options),
            "policy": {"max_docs": index.max_docs, "max_age": index.max_age},
            "n_slots": n_slots,
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
            put(arr.data.cast("B"))
            put(b"\0" * (-arr.nbytes % _ALIGN))
        fh.write(digest.digest())

    try:
        atomic_write(path, write)
    except OSError as err:
        raise StorageError(f"could not save the index to {os.fspath(path)!r}: {err}") from err


def _bad(path: str, why: str) -> IndexFormatError:
    return IndexFormatError(f"{path!r} is not a readable dedup index: {why}")


def load_index(cls: type[DedupIndex], path: str | os.PathLike[str], options: dict[str, Any]) -> DedupIndex:
    """Read a file written by :func:`save_index` into a new ``cls`` instance."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            data = bytearray(size)
            got = fh.readinto(data)
    except OSError as err:
        raise StorageError(f"could not read the index {name!r}: {err}") from err
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
    if options:
        asked = Options(**options).to_dict()
        diff = {k: (v, asked[k]) for k, v in saved.to_dict().items() if asked[k] != v}
        if diff:
            detail = ", ".join(f"{k}: saved {a!r}, asked {b!r}" for k, (a, b) in sorted(diff.items()))
            raise IncompatibleIndexError(f"{name!r} was built with other options ({detail})")
    try:
        arrays = _arrays(data, start, size - _DIGEST, header["arrays"])
        return _restore(cls, saved, header, arrays)
    except (ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError) as err:
        raise _bad(name, f"its contents are inconsistent ({err})") from err


def _arrays(data: bytearray, start: int, end: int, directory: dict[str, Any]) -> dict[str, npt.NDArray[Any]]:
    out: dict[str, npt.NDArray[Any]] = {}
    for name, spec in directory.items():
        dtype = np.dtype(spec["dtype"])
        if dtype.hasobject:
            raise ValueError(f"array {name} has an object dtype")
        shape = tuple(int(n) for n in spec["shape"])
        count = int(np.prod(shape)) if shape else 1
        offset = start + int(spec["offset"])
        if offset < start or offset + count * dtype.itemsize > end:
            raise ValueError(f"array {name} lies outside the file")
        out[name] = np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(shape)
    return out


def _restore(
    cls: type[DedupIndex], options: Options, header: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]
) -> DedupIndex:
    from dedup._index.index import _Entry

    policy = header["policy"]
    index = cls(max_docs=policy["max_docs"], max_age=policy["max_age"], **options.to_dict())
    key_bytes, key_off = bytes(arrays["doc_key_bytes"]), arrays["doc_key_offsets"]
    text_bytes, text_off = bytes(arrays["doc_text_bytes"]), arrays["doc_text_offsets"]
    ts, slots = arrays["doc_timestamp"], arrays["doc_slot"]
    first, count = arrays["doc_first"], arrays["doc_count"]
    n_docs = ts.size
    n_slots = int(header["n_slots"])
    sid_slot, sid_keys, sid_ok = arrays["sid_slot"], arrays["sid_keys"], arrays["sid_ok"]
    n_sids = sid_slot.size
    if not (
        key_off.size == text_off.size == n_docs + 1
        and slots.size == first.size == count.size == n_docs
        and sid_keys.shape == (n_sids, index._bands + 1)
        and sid_ok.size == n_sids
        and key_off[-1] == len(key_bytes)
        and text_off[-1] == len(text_bytes)
        and (n_docs == 0 or (slots.min() >= 0 and slots.max() < n_slots))
        and (n_sids == 0 or (sid_slot.min() >= 0 and sid_slot.max() < n_slots))
        and (n_docs == 0 or (first.min() >= 0 and (first + count).max() <= n_sids))
    ):
        raise ValueError("document and sentence tables do not fit together")
    keys_o, text_o = key_off.tolist(), text_off.tolist()
    slot_key: list[str | None] = [None] * n_slots
    alive = np.zeros(n_slots, dtype=bool)
    slot_ts = np.zeros(n_slots, dtype=np.float64)
    for n in range(n_docs):
        key = key_bytes[keys_o[n] : keys_o[n + 1]].decode("utf-8", "surrogatepass")
        text = text_bytes[text_o[n] : text_o[n + 1]].decode("utf-8", "surrogatepass")
        slot = int(slots[n])
        if key in index._docs or alive[slot]:
            raise ValueError(f"document {key!r} is stored twice")
        index._docs[key] = _Entry(slot, text, float(ts[n]), int(first[n]), int(count[n]))
        slot_key[slot] = key
        alive[slot] = True
        slot_ts[slot] = ts[n]
    index._slot_key = slot_key
    index._slot_alive = alive
    index._slot_ts = slot_ts
    index._n_slots = n_slots
    index._sid_slot = sid_slot
    index._sid_keys = sid_keys
    index._sid_ok = sid_ok.astype(bool)
    index._n_sids = n_sids
    index._dead = int(n_sids - sum(e.count for e in index._docs.values()))
    names = ("table_capacity", "table_slots", "table_keys", "table_head", "table_count")
    table = BandTable.restore({k: arrays[k] for k in (*names, "entry_sid", "entry_next")})
    if table.entries and int(arrays["entry_sid"].max()) >= n_sids:
        raise ValueError("band table refers to sentences that are not stored")
    index._table = table
    return index
