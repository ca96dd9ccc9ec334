"""strip_duplicates: a text without the sentences already seen, in itself or in an index."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dedup._api import find_duplicates
from dedup._text.segment import _LIST_MARKER, check_text, segment
from dedup._types import Match

if TYPE_CHECKING:
    from dedup._index.index import DedupIndex

__all__ = ["strip_duplicates"]

_EMPTY_LINE = re.compile(rf"^[^\S\n]*(?:{_LIST_MARKER.pattern})?[^\S\n]*(?:\n|$)", re.MULTILINE)
_CLOSERS = ".!?…\"'”’)]"
_BLANK_RUN = re.compile(r"\n(?:[^\S\n]*\n){2,}")


def strip_duplicates(
    text: str,
    index: DedupIndex | None = None,
    *,
    seen: Sequence[Match] | None = None,
    cover: float = 0.5,
    **options: Any,
) -> str:
    """``text`` without the sentences that repeat earlier ones or passages stored in ``index``.

    Within ``text`` the first occurrence of every cluster is kept and the later
    ones are dropped; with an ``index``, every sentence that matches a stored
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
    >>> print(dedup.strip_duplicates(text))
    Storms closed every school in the county on Monday.
    <BLANKLINE>
    Parents were told on Sunday night.
    >>> index = dedup.DedupIndex()
    >>> _ = index.add("earlier", "Parents were told on Sunday night by text message.")
    >>> print(dedup.strip_duplicates(text, index))
    Storms closed every school in the county on Monday.
    >>> seen = index.add("today", text)  # check and store in one step
    >>> print(dedup.strip_duplicates(text, index, seen=seen))
    Storms closed every school in the county on Monday.
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
    drop: list[tuple[int, int]] = []
    for cluster in find_duplicates(text, **options):
        first = cluster.passages[0].span
        drop.extend(
            (p.span.start, p.span.end) for p in cluster.passages[1:] if p.span.overlap(first) < len(p.span)
        )
    if seen is not None:
        drop.extend((m.a.span.start, m.a.span.end) for m in seen)
    elif index is not None:
        drop.extend((m.a.span.start, m.a.span.end) for m in index.query(text))
    if not drop:
        return text
    cut: list[tuple[int, int]] = []
    for sent in segment(text):
        covered = sum(max(0, min(sent.end, e) - max(sent.start, s)) for s, e in _merged(drop))
        if covered >= cover * (sent.end - sent.start):
            start, end = sent.start, sent.end
            while end < len(text) and text[end] in " \t":
                end += 1
            if end == len(text) or text[end] == "\n":  # last on its line: take the space before it
                back = start
                while back > 0 and text[back - 1] in " \t":
                    back -= 1
                if back < start and back > 0 and text[back - 1] in _CLOSERS:
                    start = back
            cut.append((start, end))
    if not cut:
        return text
    return _cut(text, cut)


def _cut(text: str, cut: list[tuple[int, int]]) -> str:
    """``text`` without the ``cut`` ranges; lines emptied by a cut disappear, blank runs shrink."""
    out: list[str] = []
    c = 0
    pos = 0
    for line in text.splitlines(keepends=True):
        end = pos + len(line)
        kept, at, touched = [], pos, False
        while c < len(cut) and cut[c][0] < end:
            s, e = cut[c]
            kept.append(text[at:s])
            at, touched = min(e, end), True
            if e > end:  # a cut running into the next line (never for sentence cuts)
                break
            c += 1
        kept.append(text[at:end])
        piece = "".join(kept)
        if not (touched and _EMPTY_LINE.fullmatch(piece)):
            out.append(piece)
        pos = end
    result = "".join(out)
    if not _BLANK_RUN.search(text):
        result = _BLANK_RUN.sub("\n\n", result)
    body = result.strip("\n")
    return body + "\n" if text.endswith("\n") and body else body


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out
