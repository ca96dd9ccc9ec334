"""Shingles of normalised sentences, hashed to stable 32-bit integers with numpy.

Shingles are n-grams of a sentence's content-word stems (stop words dropped;
all words when a sentence has nothing else).  Token hashes come from BLAKE2b,
so they are identical in every process and on every platform: Python's
built-in ``hash()`` is never used.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache
from itertools import compress

import numpy as np
import numpy.typing as npt

from dedup._sketch import compiled as _compiled  # the stage's kernels (None without a compiler)
from dedup._text.segment import Sentence

__all__ = ["HASH_SCHEME", "sentence_shingle_hashes", "shingle_tokens", "token_hash"]

#: Recorded in saved indexes: changing any of this changes every signature.
HASH_SCHEME = "blake2b64-token/ngram-mix64/high32"

_MUL = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@lru_cache(maxsize=1 << 18)
def token_hash(token: str) -> int:
    """Stable 64-bit hash of one normalised token.

    Examples
    --------
    >>> token_hash("troop")
    6494362540309858052
    """
    data = token.encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def _mix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    # splitmix64 finaliser: avalanches n-gram combinations before truncation to 32 bits.
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def shingle_tokens(sentence: Sentence) -> tuple[str, ...]:
    """The tokens a sentence's shingles are built from: its content-word stems."""
    return tuple(compress(sentence.stems, sentence.content)) or sentence.stems


def _ngram_hashes(tok: npt.NDArray[np.uint64], n: int) -> npt.NDArray[np.uint64]:
    if n == 1 or tok.size <= 1:
        return tok
    n = min(n, tok.size)
    count = tok.size - n + 1
    acc = tok[:count].copy()
    with np.errstate(over="ignore"):
        for k in range(1, n):
            acc = acc * _MUL + tok[k : k + count]
        return _mix64(acc)


def _token_hashes(tokens: Sequence[str]) -> npt.NDArray[np.uint64]:
    get = _TOKEN_HASHES.get
    values = [get(t) or _remember_hash(t) for t in tokens]
    return np.array(values, dtype=np.uint64)


# Where the compiled ``shingles`` finds the stems and content flags in a sentence tuple.
_COLUMNS = (Sentence._fields.index("stems"), Sentence._fields.index("content"))

# token -> hash; a plain dict is the cheapest cache lookup, bounded by clearing.
_TOKEN_HASHES: dict[str, int] = {}
_TOKEN_HASHES_LIMIT = 1 << 20


def _remember_hash(token: str) -> int:
    value = token_hash(token)
    if len(_TOKEN_HASHES) >= _TOKEN_HASHES_LIMIT:
        _TOKEN_HASHES.clear()
    _TOKEN_HASHES[token] = value
    return value


def sentence_shingle_hashes(
    sentences: Sequence[Sentence], n: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    """Hash every sentence's shingle set.

    Returns the concatenated unique 32-bit shingle hashes (sorted within each
    sentence) and the start offset of each sentence's run in that array (every
    sentence has at least one).  All sentences are hashed in one numpy batch.
    """
    n_sents = len(sentences)
    if n_sents == 0:
        return np.empty(0, dtype=np.uint32), np.empty(0, dtype=np.int64)
    if _compiled is not None:  # the same hashes in one pass over the sentences
        rows = sentences if isinstance(sentences, list) else list(sentences)
        return _compiled.shingles(rows, *_COLUMNS, _TOKEN_HASHES, _remember_hash, n)
    per_sentence = [shingle_tokens(sent) for sent in sentences]
    lengths = np.fromiter(map(len, per_sentence), dtype=np.int64, count=n_sents)
    tok = _token_hashes([t for toks in per_sentence for t in toks])
    starts = np.zeros(n_sents, dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    if n == 1:
        hashes64, owner = tok, np.repeat(np.arange(n_sents, dtype=np.int64), lengths)
    else:
        hashes64, owner = _batch_ngrams(tok, starts, lengths, n)
    with np.errstate(over="ignore"):
        h32 = (hashes64 >> np.uint64(32)).astype(np.uint32)
    # Unique hashes per sentence: sort by (sentence, hash), drop repeats.
    order = np.lexsort((h32, owner))
    h32, owner = h32[order], owner[order]
    keep = np.ones(h32.size, dtype=bool)
    keep[1:] = (h32[1:] != h32[:-1]) | (owner[1:] != owner[:-1])
    h32, owner = h32[keep], owner[keep]
    offsets = np.searchsorted(owner, np.arange(n_sents, dtype=np.int64)).astype(np.int64)
    return h32, offsets


def _batch_ngrams(
    tok: npt.NDArray[np.uint64], starts: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64], n: int
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    """N-gram hashes of every sentence (as :func:`_ngram_hashes` per sentence) and their owners."""
    parts: list[npt.NDArray[np.uint64]] = []
    owners: list[npt.NDArray[np.int64]] = []
    long_rows = np.flatnonzero(lengths >= n)
    if long_rows.size:
        counts = lengths[long_rows] - n + 1
        owner = np.repeat(long_rows, counts)
        first = np.repeat(starts[long_rows] - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        acc = tok[first]
        with np.errstate(over="ignore"):
            for k in range(1, n):
                acc = acc * _MUL + tok[first + k]
            parts.append(_mix64(acc))
        owners.append(owner)
    # Sentences shorter than ``n`` make one shingle of all their words (or the word itself).
    for row in np.flatnonzero(lengths < n).tolist():
        lo = int(starts[row])
        parts.append(_ngram_hashes(tok[lo : lo + int(lengths[row])], n))
        owners.append(np.full(1, row, dtype=np.int64))
    return np.concatenate(parts), np.concatenate(owners)
