"""Detector settings: one frozen object, validated once, with the documented defaults."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, TypedDict

from dedup._errors import InvalidOptionError

__all__ = ["VERIFY_ONLY", "OptionValues", "Options", "options_from"]

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
    short_copies : bool, default True
        Report exact copies of sentences under ``min_words`` ("Read more",
        "Skip to content": one-line boilerplate).  False drops them: in a
        corpus of articles, two copies of "he said." or "Yes." are chance.
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
    short_copies: bool = True
    fusion: bool = True
    min_gain: float = 0.1
    max_sources: int = 2

    def __post_init__(self) -> None:
        for name in ("threshold", "lsh_threshold", "local_lsh_threshold", "min_gain"):
            _check_number(name, getattr(self, name), integer=False)
        for name in ("shingle_size", "num_perm", "seed", "min_words", "max_sources"):
            _check_number(name, getattr(self, name), integer=True)
        for name in ("short_copies", "fusion"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {type(getattr(self, name)).__name__}")
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

    def with_verification(self, other: Options) -> Options:
        """These options with ``other``'s verification settings (:data:`VERIFY_ONLY`)."""
        return replace(self, **{name: getattr(other, name) for name in VERIFY_ONLY})


class OptionValues(TypedDict, total=False):
    """The keyword options of :class:`Options`, for ``**options`` signatures (``Unpack``).

    A type checker flags a misspelt option name at the call; at run time
    :func:`options_from` raises :class:`~dedup.InvalidOptionError` for it.
    """

    threshold: float
    shingle_size: int
    num_perm: int
    seed: int
    lsh_threshold: float
    local_lsh_threshold: float
    min_words: int
    short_copies: bool
    fusion: bool
    min_gain: float
    max_sources: int


#: Options that only steer verification: nothing an index stores depends on them, so an
#: index saved (or kept in Redis) with one value can be opened with another.
VERIFY_ONLY = ("threshold", "short_copies", "fusion", "min_gain", "max_sources")

_NAMES = tuple(f.name for f in fields(Options))


def options_from(values: Mapping[str, Any]) -> Options:
    """:class:`Options` from keyword options, with a clear error for a name that is not one.

    Examples
    --------
    >>> options_from({"threshold": 0.7}).threshold
    0.7
    >>> options_from({"treshold": 0.7})
    Traceback (most recent call last):
    ...
    dedup._errors.InvalidOptionError: unknown option 'treshold' (did you mean 'threshold'?); ...
    """
    unknown = [name for name in values if name not in _NAMES]
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, _NAMES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InvalidOptionError(f"unknown option {name!r}{hint}; options are: {', '.join(_NAMES)}")
    return Options(**values)
