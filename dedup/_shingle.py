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

import numpy as np
import numpy.typing as npt

from dedup._text import Sentence

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
    picked = tuple(s for s, c in zip(sentence.stems, sentence.content, strict=True) if c)
    return picked or sentence.stems


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


def sentence_shingle_hashes(
    sentences: Sequence[Sentence], n: int
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    """Hash every sentence's shingle set.

    Returns the concatenated unique 32-bit shingle hashes and the start offset
    of each sentence's run in that array (every sentence has at least one).
    """
    parts: list[npt.NDArray[np.uint32]] = []
    offsets = np.empty(len(sentences), dtype=np.int64)
    pos = 0
    for i, sent in enumerate(sentences):
        tok = np.fromiter((token_hash(t) for t in shingle_tokens(sent)), dtype=np.uint64)
        with np.errstate(over="ignore"):
            hashes = np.unique((_ngram_hashes(tok, n) >> np.uint64(32)).astype(np.uint32))
        offsets[i] = pos
        pos += hashes.size
        parts.append(hashes)
    flat = np.concatenate(parts) if parts else np.empty(0, dtype=np.uint32)
    return flat, offsets
