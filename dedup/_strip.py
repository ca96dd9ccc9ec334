"""strip_duplicates: a text without the sentences already seen, in itself or in an index."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dedup._api import find_duplicates
from dedup._cluster.repeats import repeats
from dedup._text.cut import without_sentences_in
from dedup._text.segment import check_text
from dedup._types import Match

if TYPE_CHECKING:
    from dedup._index.index import DedupIndex

__all__ = ["strip_duplicates"]


def strip_duplicates(
    text: str,
    index: DedupIndex | None = None,
    *,
    seen: Sequence[Match] | None = None,
    cover: float = 0.5,
    **options: Any,
) -> str:
    """``text`` without the sentences that repeat earlier ones or passages stored in ``index``.

    Within ``text``, of two passages that restate each other the more
    informative one is kept (more words; of equal ones, the first): a short
    highlight goes and the body sentence with the extra facts stays.  With an
    ``index``, every sentence that matches a stored
    passage is dropped too (the index is only queried, never changed: call
    ``index.add`` to store what you keep).  Whole sentences go, never parts of
    them: a sentence is dropped when at least ``cover`` of its characters lie
    in duplicate passages.  Lines and paragraphs left empty disappear.

    Parameters
    ----------
    text : str
        The document, e.g. a scraped article.
    index : DedupIndex, optional
        Stored documents to check against; its options are used.
    seen : list of Match, optional
        Matches of ``text`` already known, e.g. the result of
        ``index.add(key, text)`` (atomic, so use it rather than a separate
        query when several workers share the index): their ``a`` passages
        are dropped, and ``index`` is not queried again.
    cover : float, default 0.5
        Share of a sentence that must be duplicated for it to be dropped.
    **options
        Options of :func:`find_duplicates` when no ``index`` is given.

    Examples
    --------
    >>> import dedup
    >>> text = (
    ...     "Storms closed every school in the county on Monday.\\n\\n"
    ...     "Parents were told on Sunday night.\\n\\n"
    ...     "Storms closed every school in the county on Monday, officials said."
    ... )
    >>> print(dedup.strip_duplicates(text))  # the restatement with more words stays
    Parents were told on Sunday night.
    <BLANKLINE>
    Storms closed every school in the county on Monday, officials said.
    >>> index = dedup.DedupIndex()
    >>> _ = index.add("earlier", "Parents were told on Sunday night by text message.")
    >>> print(dedup.strip_duplicates(text, index))
    Storms closed every school in the county on Monday, officials said.
    >>> seen = index.add("today", text)  # check and store in one step
    >>> print(dedup.strip_duplicates(text, index, seen=seen))
    Storms closed every school in the county on Monday, officials said.
    """
    check_text(text)
    if isinstance(cover, bool) or not isinstance(cover, (int, float)) or not 0.0 < cover <= 1.0:
        raise TypeError(f"cover must be a number in (0, 1], got {cover!r}")
    if index is not None:
        if options:
            raise TypeError("pass options either to the index or here, not both")
        opts = index.options.to_dict()
        opts.pop("max_sources", None)
        options = opts
    drop = _less_informative(text, find_duplicates(text, **options).matches)
    if seen is not None:
        drop.extend((m.a.span.start, m.a.span.end) for m in seen)
    elif index is not None:
        drop.extend((m.a.span.start, m.a.span.end) for m in index.query(text))
    if not drop:
        return text
    return without_sentences_in(text, drop, cover)


def _less_informative(text: str, matches: Sequence[Match]) -> list[tuple[int, int]]:
    """Spans to drop for repeats within ``text``: every passage matched to a more informative one kept
    (most words first; of equals, the first in the text; of exact copies, the first)."""
    dropped = repeats(
        matches,
        first=lambda p: (-len(text[p.span.start : p.span.end].split()), p.span.start),
        position=lambda p: (p.span.start,),
    )
    return [(start, end) for _, start, end in dropped]
