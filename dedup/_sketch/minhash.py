"""MinHash signatures computed in one numpy batch, and LSH banding over them.

Signatures are bit-for-bit those of ``datasketch.MinHash`` (scheme ``affine32``)
fed the same 32-bit shingle hashes with the same ``seed`` and ``num_perm``; the
band/row split comes from datasketch's own optimal-parameter search.  This is
the only module that imports datasketch, and only when it is needed: importing
it (and the scipy it pulls in) costs ~0.75 s, which a command-line run on one
article should not pay.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from dedup._arrays import run_firsts, unique_counts
from dedup._rules import LSH_MAX_BUCKET, LSH_MAX_PER_ROW
from dedup._sketch import compiled as _compiled  # the stage's kernels (None without a compiler)

if TYPE_CHECKING:
    from datasketch import MinHash

__all__ = [
    "KERNEL_TALLY_MAX_ROWS",
    "band_keys",
    "candidate_pairs",
    "lsh_params",
    "permutations",
    "signatures",
    "to_datasketch",
]

_U32 = np.uint32


@lru_cache(maxsize=32)
def permutations(num_perm: int, seed: int) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """The ``(a, b)`` permutation parameters datasketch draws for ``(num_perm, seed)``."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=_U32) * _U32(2) + _U32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint64).astype(_U32)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


def _fmix32(h: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    h = h ^ (h >> _U32(16))
    h = h * _U32(0x85EBCA6B)
    h = h ^ (h >> _U32(13))
    h = h * _U32(0xC2B2AE35)
    return h ^ (h >> _U32(16))


def signatures(
    hashes: npt.NDArray[np.uint32], offsets: npt.NDArray[np.int64], num_perm: int, seed: int
) -> npt.NDArray[np.uint32]:
    """MinHash signatures, one row per set, for sets given as runs of ``hashes``.

    ``offsets[i]`` is where set ``i`` starts in ``hashes``; every set must be non-empty.
    """
    n_sets = offsets.size
    out = np.empty((n_sets, num_perm), dtype=_U32)
    if n_sets == 0:
        return out
    a, b = permutations(num_perm, seed)
    if _compiled is not None:  # same values, one pass over the shingles (no num_perm x shingles product)
        _compiled.minhash(
            np.ascontiguousarray(hashes, dtype=_U32), np.ascontiguousarray(offsets, dtype=np.int64), a, b, out
        )
        return out
    return _numpy_signatures(hashes, offsets, a, b, out)


def _numpy_signatures(
    hashes: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    a: npt.NDArray[np.uint32],
    b: npt.NDArray[np.uint32],
    out: npt.NDArray[np.uint32],
) -> npt.NDArray[np.uint32]:
    """:func:`signatures` in numpy: the reference for the compiled kernel, and its fallback."""
    n_sets, num_perm = out.shape
    mixed = _fmix32(hashes.astype(_U32, copy=False))
    # Chunk the (num_perm x shingles) product so memory stays bounded on big batches.
    chunk = max(1, (1 << 22) // num_perm)
    ends = np.append(offsets[1:], hashes.size)
    first = 0
    while first < n_sets:
        last = first
        while last < n_sets and ends[last] - offsets[first] <= chunk:
            last += 1
        last = max(last, first + 1)
        lo, hi = int(offsets[first]), int(ends[last - 1])
        with np.errstate(over="ignore"):
            phv = a[:, None] * mixed[None, lo:hi] + b[:, None]
        out[first:last] = np.minimum.reduceat(phv, offsets[first:last] - lo, axis=1).T
        first = last
    return out


def to_datasketch(signature: npt.NDArray[np.uint32], seed: int) -> MinHash:
    """Wrap one signature row as a ``datasketch.MinHash`` (same scheme, seed and permutations)."""
    from datasketch import MinHash

    a, b = permutations(signature.size, seed)
    return MinHash(
        seed=seed, hashvalues=signature.copy(), permutations=(a.copy(), b.copy()), scheme="affine32"
    )


#: datasketch's answers for the default options, so that the default path never
#: imports datasketch (``tests/sketch/test_sketch.py`` checks them against datasketch).
KNOWN_LSH_PARAMS: dict[tuple[float, int], tuple[int, int]] = {(0.3, 128): (37, 3), (0.05, 128): (32, 1)}


@lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """``(bands, rows)`` from datasketch's optimal-parameter search (equal FP/FN weights)."""
    known = KNOWN_LSH_PARAMS.get((threshold, num_perm))
    if known is not None:
        return known
    from datasketch.lsh import _optimal_param

    b, r = _optimal_param(threshold, num_perm, 0.5, 0.5)
    return int(b), int(r)


def band_keys(sigs: npt.NDArray[np.uint32], bands: int, rows: int) -> npt.NDArray[np.uint64]:
    """One 64-bit key per (set, band): a stable mix of the band's ``rows`` hash values."""
    n = sigs.shape[0]
    if _compiled is not None and sigs.dtype == np.uint32:
        out = np.empty((n, bands), dtype=np.uint64)
        _compiled.band_keys(np.ascontiguousarray(sigs), bands, rows, out)
        return out
    return _numpy_band_keys(sigs, bands, rows)


def _numpy_band_keys(sigs: npt.NDArray[np.uint32], bands: int, rows: int) -> npt.NDArray[np.uint64]:
    """:func:`band_keys` in numpy: the reference for the compiled kernel, and its fallback."""
    n = sigs.shape[0]
    view = sigs[:, : bands * rows].reshape(n, bands, rows).astype(np.uint64)
    acc = np.zeros((n, bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(rows):
            acc = (acc ^ view[:, :, k]) * np.uint64(0x100000001B3) + np.uint64(k + 1)
        acc ^= acc >> np.uint64(29)
        acc *= np.uint64(0xBF58476D1CE4E5B9)
        acc ^= acc >> np.uint64(32)
    # Distinct bands never share a bucket: fold the band number in.
    with np.errstate(over="ignore"):
        acc += np.arange(bands, dtype=np.uint64)[None, :] * np.uint64(0x9E3779B97F4A7C15)
    return acc


# Rows from which each band's keys are sorted separately (numpy path).
_PER_BAND_SORT_MIN = 10_000
# Rows up to which the compiled kernel tallies pair counts in an n x n table and returns them
# sorted (above, each pair once, unsorted); both LSH families of an article fit in one call.
KERNEL_TALLY_MAX_ROWS = 512
# Rows from which the compiled kernel splits a family's bands over two threads.
KERNEL_THREAD_MIN_ROWS = 100_000


def candidate_pairs(
    keys: npt.NDArray[np.uint64],
    max_bucket: int = LSH_MAX_BUCKET,
    max_per_row: int = LSH_MAX_PER_ROW,
    min_shared: int = 1,
) -> npt.NDArray[np.int64]:
    """Pairs ``(i, j)``, ``i < j``, of rows sharing at least one band key, sorted.

    Pairs sharing fewer than ``min_shared`` bands are dropped.  Buckets
    holding more than ``max_bucket`` rows are skipped, and each row keeps
    only the ``max_per_row`` partners it shares most bands with: both
    limits bound the work on boilerplate or template sentences that share
    common words, which would otherwise make the candidate count quadratic.
    (Exact copies are found apart from LSH.)
    """
    n = keys.shape[0]
    if n < 2:
        return np.empty((0, 2), dtype=np.int64)
    if _compiled is not None:  # rows grouped by key with a hash table per band, in one call
        return _kernel_pairs(np.ascontiguousarray(keys, dtype=np.uint64), max_bucket, max_per_row, min_shared)
    if n >= _PER_BAND_SORT_MIN:
        # Keys of different bands never meet (the band number is folded into each key), so
        # each band is sorted and expanded on its own: 3x faster than one argsort of all
        # keys at 200k rows, and the transient pair arrays are one band's, not all bands'.
        parts = []
        for col in np.ascontiguousarray(keys.T):
            order = np.argsort(col)
            parts.append(_bucket_pairs(col[order], order, n, max_bucket))
        pair_codes = np.concatenate(parts)
        del parts
    else:  # one sort: fewer numpy calls on small batches
        flat = keys.ravel()
        order = np.argsort(flat)
        pair_codes = _bucket_pairs(flat[order], order // keys.shape[1], n, max_bucket)
    if not pair_codes.size:
        return np.empty((0, 2), dtype=np.int64)
    codes, counts = unique_counts(pair_codes)
    del pair_codes
    if min_shared > 1:
        codes, counts = codes[counts >= min_shared], counts[counts >= min_shared]
    return _trimmed(codes, counts, n, max_per_row)


def _kernel_pairs(
    keys: npt.NDArray[np.uint64],
    max_bucket: int,
    max_per_row: int,
    min_shared: int,
    *,
    thread_min_rows: int = KERNEL_THREAD_MIN_ROWS,
) -> npt.NDArray[np.int64]:
    """:func:`candidate_pairs` with the compiled kernel (the same pairs, whatever ``thread_min_rows``)."""
    assert _compiled is not None
    n = keys.shape[0]
    min_shared = max(1, min_shared)
    codes, counts, is_sorted = _compiled.pair_counts(
        keys, max_bucket, min_shared, False, thread_min_rows=thread_min_rows
    )
    if counts is None and codes.size > max_per_row * n // 2:  # the trim needs the counts
        codes, counts, is_sorted = _compiled.pair_counts(
            keys, max_bucket, min_shared, True, thread_min_rows=thread_min_rows
        )
    if not is_sorted and counts is None:
        codes.sort()  # half the time of an argsort, and no gather
    elif not is_sorted:
        assert counts is not None
        order = np.argsort(codes)
        codes = codes[order]
        counts = counts[order]
    return _trimmed(codes, counts, n, max_per_row)


def _trimmed(
    codes: npt.NDArray[np.int64], counts: npt.NDArray[np.int64] | None, n: int, max_per_row: int
) -> npt.NDArray[np.int64]:
    """Sorted pair codes ``lo * n + hi`` as rows ``(lo, hi)``, each row keeping its best partners.

    ``counts`` (shared bands of each pair) may be ``None`` only when no row needs trimming.
    """
    if not codes.size:
        return np.empty((0, 2), dtype=np.int64)
    lo, hi = codes // n, codes % n
    if codes.size > max_per_row * n // 2:
        assert counts is not None
        keep = _top_per_row(lo, counts, max_per_row) | _top_per_row(hi, counts, max_per_row)
        lo, hi = lo[keep], hi[keep]
    return np.stack((lo, hi), axis=1)


def _bucket_pairs(
    flat: npt.NDArray[np.uint64], ids: npt.NDArray[np.int64], n: int, max_bucket: int
) -> npt.NDArray[np.int64]:
    """Codes ``lo * n + hi`` of the row pairs sharing a bucket of the sorted keys ``flat``.

    Buckets are runs of equal keys; each member pairs with the members after it
    in its bucket, generated for all buckets at once (no loop over buckets).
    Buckets larger than ``max_bucket`` are skipped.
    """
    if flat.size < 2:
        return np.empty(0, dtype=np.int64)
    starts = np.flatnonzero(run_firsts(flat))
    sizes = np.diff(np.append(starts, flat.size))
    ok = (sizes > 1) & (sizes <= max_bucket)
    if not ok.any():
        return np.empty(0, dtype=np.int64)
    bucket_end = np.repeat(starts + sizes, sizes)
    after = np.where(np.repeat(ok, sizes), bucket_end - np.arange(flat.size) - 1, 0)
    total = int(after.sum())
    left = np.repeat(np.arange(flat.size, dtype=np.int64), after)
    right = left + 1 + np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(after) - after, after)
    a, b = ids[left].astype(np.int64, copy=False), ids[right].astype(np.int64, copy=False)
    codes: npt.NDArray[np.int64] = (np.minimum(a, b) * n + np.maximum(a, b))[a != b]
    return codes


def _top_per_row(rows: npt.NDArray[np.int64], counts: npt.NDArray[np.int64], k: int) -> npt.NDArray[np.bool_]:
    """Mask of the ``k`` entries with most shared bands for each row (ties: lower index)."""
    order = np.lexsort((np.arange(rows.size), -counts, rows))
    sorted_rows = rows[order]
    first = np.searchsorted(sorted_rows, sorted_rows, side="left")
    rank = np.arange(rows.size) - first
    mask = np.zeros(rows.size, dtype=bool)
    mask[order[rank < k]] = True
    return mask
