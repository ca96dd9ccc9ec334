"""DedupIndex: many documents, each under a key, clustered together."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any

from dedup._api import check_text
from dedup._cluster import Doc
from dedup._engine import detect
from dedup._errors import DuplicateKeyError
from dedup._options import Options
from dedup._result import Clusters

__all__ = ["DedupIndex"]


def _check_key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"key must be str, got {type(key).__name__}")
    return key


class DedupIndex:
    """Documents under string keys; passages repeated within or across them, clustered.

    Parameters
    ----------
    **options
        Keyword options of :class:`dedup.Options` (``threshold``, ``num_perm``, …).

    Examples
    --------
    >>> import dedup
    >>> index = dedup.DedupIndex()
    >>> index.add("a", "Troops are leaving the border region today.\\nMarkets were calm.")
    >>> index.add("b", "Analysts expect a rebound.\\nTroops are leaving the border region today.")
    >>> for p in index.clusters()[0].passages:
    ...     print(p.key, p.span, p.text)
    a Span(start=0, end=43) Troops are leaving the border region today.
    b Span(start=27, end=70) Troops are leaving the border region today.
    """

    def __init__(self, **options: Any) -> None:
        self.options = Options(**options)
        self._docs: dict[str, str] = {}
        self._lock = threading.RLock()

    @classmethod
    def from_texts(cls, items: Iterable[tuple[str, str]], **options: Any) -> DedupIndex:
        """An index holding every ``(key, text)`` of ``items``."""
        index = cls(**options)
        for key, text in items:
            index.add(key, text)
        return index

    def add(self, key: str, text: str, *, replace: bool = False) -> None:
        """Store ``text`` under ``key``; an existing key raises :class:`DuplicateKeyError`."""
        _check_key(key)
        check_text(text)
        with self._lock:
            if key in self._docs and not replace:
                raise DuplicateKeyError(
                    f"key {key!r} is already in the index (pass replace=True to overwrite)"
                )
            self._docs[key] = text

    def remove(self, key: str) -> None:
        """Drop the document stored under ``key`` (``KeyError`` if absent)."""
        with self._lock:
            del self._docs[_check_key(key)]

    def text(self, key: str) -> str:
        """The text stored under ``key``."""
        return self._docs[key]

    def clusters(self) -> Clusters:
        """Clusters of passages repeated within or across the stored documents, best first."""
        with self._lock:
            docs = [Doc(k, t, n) for n, (k, t) in enumerate(self._docs.items())]
        if not docs:
            return Clusters(threshold=self.options.threshold)
        return Clusters._from_detection(detect(docs, self.options), self.options.threshold)

    def __contains__(self, key: object) -> bool:
        return key in self._docs

    def __len__(self) -> int:
        return len(self._docs)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._docs))

    def __repr__(self) -> str:
        return f"DedupIndex(documents={len(self)}, threshold={self.options.threshold})"
