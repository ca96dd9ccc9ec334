"""Candidate pairs from LSH: two band families over the same MinHash signatures."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt

from dedup._arrays import run_firsts
from dedup._options import Options
from dedup._rules import DOC_KEY_MIX, LSH_MAX_BUCKET, LSH_MAX_PER_ROW, MIN_SHARED_BANDS
from dedup._sketch import compiled as _compiled  # the stage's kernels (None without a compiler)
from dedup._sketch.minhash import KERNEL_TALLY_MAX_ROWS, band_keys, candidate_pairs, lsh_params

# Sentences from which the two LSH families are banded in two threads.
_THREADED_LSH_MIN = 50_000


def keyed_by_document(
    keys: npt.NDArray[np.uint64], sent_doc: npt.NDArray[np.int64]
) -> npt.NDArray[np.uint64]:
    """Band ``keys`` (modified in place) mixed with each row's document: rows of different documents
    never share a key (the within-document family of :func:`lsh_candidates`)."""
    with np.errstate(over="ignore"):
        keys ^= (np.asarray(sent_doc).astype(np.uint64) + np.uint64(1))[:, None] * np.uint64(DOC_KEY_MIX)
    return keys


def lsh_candidates(
    sigs: npt.NDArray[np.uint32] | list[npt.NDArray[np.uint32]],
    sent_doc: npt.NDArray[np.int64],
    options: Options,
) -> npt.NDArray[np.int64]:
    """Candidate sentence pairs from two LSH families over the same signatures.

    ``sigs`` may come in a one-element list, which is emptied once the
    band keys are made: a caller that keeps no other reference lets the
    signatures go before the pairs are found (corpus mode: 0.9 GB of 1.7M
    signatures at 1M paragraphs, the peak of the run when they were kept).

    Within a document, restatements are often partial (a highlight shares
    only part of its words with each body sentence it fuses), so the bands
    are tuned for ``options.local_lsh_threshold`` and keyed by document, so
    that only sentences of the same document collide.  Across documents the
    bands are tuned for ``options.lsh_threshold`` and a pair must share at
    least ``MIN_SHARED_BANDS`` of them: on 10k paragraphs of real prose one
    shared band makes 8x more candidates, and the links they add above the
    default threshold are 3.5% (measured with ``benchmarks/speed.py`` data;
    on the labelled sets: one more Clough answer found, five more false lee
    document pairs).  The index (:mod:`dedup._index.index`) applies the same rule.
    """
    box = sigs if isinstance(sigs, list) else None
    sigs = sigs[0] if isinstance(sigs, list) else sigs
    bands, rows = lsh_params(options.lsh_threshold, options.num_perm)
    l_bands, l_rows = lsh_params(options.local_lsh_threshold, options.num_perm)
    n = sigs.shape[0]
    if _compiled is not None and 2 <= n <= KERNEL_TALLY_MAX_ROWS:
        # An article: both families in one compiled call (same pairs; tested against this function's
        # numpy path).  None: a family needs its rows' best partners chosen, done below.
        codes = _compiled.lsh_pairs(
            np.ascontiguousarray(sigs, dtype=np.uint32),
            np.ascontiguousarray(sent_doc, dtype=np.int64),
            (bands, rows),
            (l_bands, l_rows),
            min_shared=MIN_SHARED_BANDS,
            max_bucket=LSH_MAX_BUCKET,
            max_per_row=LSH_MAX_PER_ROW,
            doc_mix=DOC_KEY_MIX,
        )
        if codes is not None:
            if box is not None:
                box.clear()
            return np.stack((codes // n, codes % n), axis=1)

    across_keys = band_keys(sigs, bands, rows)
    local_keys = keyed_by_document(band_keys(sigs, l_bands, l_rows), sent_doc)
    del sigs
    if box is not None:
        box.clear()

    # Each family's keys are let go as soon as its pairs are found (popped, not held here).
    keys = {"across": across_keys, "within": local_keys}
    del across_keys, local_keys

    def across() -> npt.NDArray[np.int64]:
        return candidate_pairs(keys.pop("across"), min_shared=MIN_SHARED_BANDS)

    def within() -> npt.NDArray[np.int64]:
        return candidate_pairs(keys.pop("within"))

    if n >= _THREADED_LSH_MIN:  # numpy sorts release the GIL: one family per thread
        with ThreadPoolExecutor(2) as pool:
            parts = [f.result() for f in [pool.submit(across), pool.submit(within)]]
    else:
        parts = [across(), within()]
    pairs = np.concatenate(parts)
    del parts
    if not pairs.size:
        return pairs
    # Sorted unique rows via one integer code per pair (``np.unique(axis=0)`` is far slower).
    # Each family's pairs come sorted: a stable sort (timsort) merges the two runs in linear time.
    n = np.int64(max(int(pairs.max()) + 1, 1))
    codes = pairs[:, 0] * n + pairs[:, 1]
    del pairs
    codes.sort(kind="stable")
    codes = codes[run_firsts(codes)]
    out = np.empty((codes.size, 2), dtype=np.int64)
    np.floor_divide(codes, n, out=out[:, 0])
    np.remainder(codes, n, out=out[:, 1])
    return out
