"""Detector settings: one frozen object, validated once, with the documented defaults."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from dedup._errors import InvalidOptionError

__all__ = ["Options"]

# Upper bounds, so that every option fits the integer types of the engine (a shingle_size of
# 2**63 raised OverflowError deep inside numpy): far above any useful value, each of them.
_MAX_SHINGLE = 32  # words per shingle
_MAX_WORDS = 100_000  # min_words: longer than any sentence
_MAX_SOURCES = 1_000  # sources of one fused sentence


def _check_number(name: str, value: object, *, integer: bool) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        expected = "an int" if integer else "a number"
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__}")
    if not integer and not math.isfinite(float(value)):
        raise InvalidOptionError(f"{name} must be finite, got {value!r}")


@dataclass(frozen=True, slots=True)
class Options:
    """Settings shared by :func:`dedup.find_duplicates` and :class:`dedup.DedupIndex`.

    Parameters
    ----------
    threshold : float, default 0.6
        Verification cut in (0, 1]: sentence pairs scoring below it are not linked.
    shingle_size : int, default 1
        Words per shingle for MinHash (n-grams of content-word stems).  1 was
        measured best: restatements that fuse two sentences share single words
        far more often than word pairs (see ``benchmarks/``).
    num_perm : int, default 128
        MinHash permutations.
    seed : int, default 1
        Seed of the MinHash permutations (datasketch's ``RandomState`` draw).
    lsh_threshold : float, default 0.3
        Jaccard level the LSH banding between documents is tuned for; lower
        finds more candidates (and costs more on large corpora).
    local_lsh_threshold : float, default 0.05
        Jaccard level of the LSH banding within one document, where
        restatements are often partial (a highlight fusing two sentences).
    min_words : int, default 3
        Sentences with fewer words are only matched as exact copies.
    fusion : bool, default True
        Also link a sentence to two or more sources that together restate it.
    min_gain : float, default 0.1
        Share of a fused sentence's content each of its sources must add.
    max_sources : int, default 2
        Most sources one fused sentence is linked to.
    """

    threshold: float = 0.6
    shingle_size: int = 1
    num_perm: int = 128
    seed: int = 1
    lsh_threshold: float = 0.3
    local_lsh_threshold: float = 0.05
    min_words: int = 3
    fusion: bool = True
    min_gain: float = 0.1
    max_sources: int = 2

    def __post_init__(self) -> None:
        for name in ("threshold", "lsh_threshold", "local_lsh_threshold", "min_gain"):
            _check_number(name, getattr(self, name), integer=False)
        for name in ("shingle_size", "num_perm", "seed", "min_words", "max_sources"):
            _check_number(name, getattr(self, name), integer=True)
        if not isinstance(self.fusion, bool):
            raise TypeError(f"fusion must be a bool, got {type(self.fusion).__name__}")
        if not 0.0 < self.threshold <= 1.0:
            raise InvalidOptionError(f"threshold must be in (0, 1], got {self.threshold!r}")
        if not 0.0 < self.lsh_threshold < 1.0:
            raise InvalidOptionError(f"lsh_threshold must be in (0, 1), got {self.lsh_threshold!r}")
        if not 0.0 < self.local_lsh_threshold < 1.0:
            raise InvalidOptionError(
                f"local_lsh_threshold must be in (0, 1), got {self.local_lsh_threshold!r}"
            )
        if not 0.0 < self.min_gain <= 1.0:
            raise InvalidOptionError(f"min_gain must be in (0, 1], got {self.min_gain!r}")
        if not 1 <= self.shingle_size <= _MAX_SHINGLE:
            raise InvalidOptionError(f"shingle_size must be in [1, {_MAX_SHINGLE}], got {self.shingle_size}")
        if not 2 <= self.num_perm <= 4096:
            raise InvalidOptionError(f"num_perm must be in [2, 4096], got {self.num_perm}")
        if not 0 <= self.seed < 2**32:
            raise InvalidOptionError(f"seed must be in [0, 2**32), got {self.seed}")
        if not 1 <= self.min_words <= _MAX_WORDS:
            raise InvalidOptionError(f"min_words must be in [1, {_MAX_WORDS}], got {self.min_words}")
        if not 2 <= self.max_sources <= _MAX_SOURCES:
            raise InvalidOptionError(f"max_sources must be in [2, {_MAX_SOURCES}], got {self.max_sources}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form, e.g. for a saved index's build fingerprint."""
        return asdict(self)
