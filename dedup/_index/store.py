"""What the index algorithm asks of a store: the storage interface of :class:`~dedup.DedupIndex`.

:class:`~dedup.DedupIndex` (:mod:`dedup._index.index`) holds the one index
algorithm: sketching, candidate selection with its caps and time window,
verification, retention.  A store (:mod:`dedup._index.memory`,
:mod:`dedup._index.redis`) only keeps documents and answers key lookups,
as datasketch's storage layer or httpx's transports do for their clients.

Every read and write happens inside a :class:`View`, handed out by
:meth:`Store.atomic` (reads, then writes that commit together or are redone
against the new state) or :meth:`Store.read` (reads only).  Within one view a
removed document is no longer seen by later lookups, as if removed already.

Documents are numbered in insertion order (their *ordinal*); lookups name
documents by a reference valid within the view, which :meth:`View.resolve`
turns into ordinal and timestamp.  "Newest" means highest ordinal, then
highest sentence number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, NamedTuple, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from dedup._index.crossmatch import Sketch, StoredDoc
from dedup._options import Options
from dedup._sketch.minhash import lsh_params
from dedup._sketch.shingle import HASH_SCHEME
from dedup._text.segment import Sentence

__all__ = ["Document", "Hits", "Store", "View", "fingerprint"]

T = TypeVar("T")
I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]


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


class Hits(NamedTuple):
    """Stored sentences found under looked-up keys, one entry per (key, sentence)."""

    query: I64  #: index of the looked-up key
    doc: I64  #: the sentence's document, as a reference valid within the view
    sentence: I64  #: the sentence's number within its document


class Document(NamedTuple):
    """A stored document as :meth:`Store.documents` lists it."""

    key: str
    text: str
    sentences: tuple[Sentence, ...] | None  #: ``None``: the store keeps none (segment the text)


class View(Protocol):
    """Reads and writes of one atomic step."""

    def has(self, key: str) -> bool:
        """Whether ``key`` is stored."""

    def lookup(self, bands: U64, max_bucket: int, exact: U64, limit: int) -> tuple[Hits, Hits]:
        """Sentences stored under band keys and under exact-copy keys, in one call.

        Under each of ``bands``: every sentence, if its bucket holds at most
        ``max_bucket``; under each of ``exact``: the newest ``limit``.
        """

    def resolve(self, docs: I64) -> tuple[I64, F64]:
        """Ordinal and timestamp of referenced documents (timestamp NaN: gone meanwhile)."""

    def stored(self, docs: Sequence[int], wanted: Sequence[set[int]] | None = None) -> list[StoredDoc]:
        """Referenced documents with their sentences (``ordinal`` as :meth:`resolve` gives it).

        With ``wanted`` (sentence numbers of each document), a store may give only the
        sentences of the paragraphs holding those, and a stub of paragraph -1 for each other
        (:func:`~dedup._index.crossmatch.cross_matches` only takes paragraphs holding candidates).
        """

    def put(
        self, key: str, text: str, timestamp: float, sentences: tuple[Sentence, ...], sketch: Sketch
    ) -> None:
        """Store a new document (the key is not stored) with its sentences' keys."""

    def put_batch(self, docs: Sequence[tuple[str, str, float, tuple[Sentence, ...], Sketch]]) -> None:
        """:meth:`put` for each of ``docs``, in order."""

    def remove(self, key: str) -> None:
        """Drop the stored document ``key``."""

    def count(self) -> int:
        """Number of stored documents."""

    def newest(self) -> float | None:
        """The newest stored timestamp (``None`` when empty)."""

    def older_than(self, limit: float) -> list[str]:
        """Keys of documents with timestamps before ``limit``, oldest first (ties: insertion order)."""

    def oldest(self, n: int) -> list[str]:
        """Keys of the ``n`` oldest documents, oldest first (ties: insertion order)."""


class Store(Protocol):
    """Where an index keeps its documents; built with the index's options."""

    options: Options

    def atomic(self, step: Callable[[View], T]) -> T:
        """Run ``step`` on a consistent view; its writes commit together (``step`` may run again)."""

    def read(self, step: Callable[[View], T]) -> T:
        """Run ``step`` on a view for reading only."""

    def lock(self) -> AbstractContextManager[Any]:
        """Held around an ``add`` and the eviction after it (a no-op for a shared store)."""

    def __len__(self) -> int: ...

    def __contains__(self, key: object) -> bool: ...

    def keys(self) -> list[str]:
        """Stored keys in insertion order."""

    def text(self, key: str) -> str:
        """The text stored under ``key`` (``KeyError`` if absent)."""

    def timestamp(self, key: str) -> float:
        """The timestamp stored with ``key`` (``KeyError`` if absent)."""

    def documents(self) -> list[Document]:
        """Every stored document in insertion order."""

    def clear(self) -> None:
        """Drop every document."""

    def close(self) -> None:
        """Release connections."""
