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
    cut: list[tuple[int, int]] = []
    sentences = segment(text)
    covered_chars = covered([(sent.start, sent.end) for sent in sentences], drop)
    for sent, covered_n in zip(sentences, covered_chars, strict=True):
        if covered_n >= cover * (sent.end - sent.start):
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


def _less_informative(text: str, matches: Sequence[Match]) -> list[tuple[int, int]]:
    """Spans to drop for repeats within ``text``: every passage matched to a more informative one kept.

    Exact copies (linked as chains) form one group, of which the first is
    kept.  Groups are then decided from the most informative (most words;
    of equals, the first in the text) down: a group is dropped when it is
    matched to a group already kept, and kept otherwise.  A fused highlight
    goes while both sentences it fuses stay; no passage is dropped unless a
    passage that restates it stays.
    """
    spans: dict[tuple[int, int], int] = {}

    def node(span: tuple[int, int]) -> int:
        return spans.setdefault(span, len(spans))

    pairs = [(node((m.a.span.start, m.a.span.end)), node((m.b.span.start, m.b.span.end)), m) for m in matches]
    order = sorted(spans, key=spans.__getitem__)
    group = list(range(len(spans)))

    def root(x: int) -> int:
        while group[x] != x:
            group[x] = group[group[x]]
            x = group[x]
        return x

    for i, j, m in pairs:
        if m.kind == "exact":
            ri, rj = root(i), root(j)
            group[max(ri, rj)] = min(ri, rj)
    first: dict[int, tuple[int, int]] = {}  # group -> its first passage in the text
    for span in sorted(spans):
        first.setdefault(root(spans[span]), span)
    partners: dict[int, set[int]] = {}
    for i, j, _ in pairs:
        ri, rj = root(i), root(j)
        a, b = first[ri], first[rj]
        if ri != rj and not (a[0] < b[1] and b[0] < a[1]):  # overlapping sides: nothing to drop
            partners.setdefault(ri, set()).add(rj)
            partners.setdefault(rj, set()).add(ri)

    def words(g: int) -> int:
        start, end = first[g]
        return len(text[start:end].split())

    kept: set[int] = set()
    dropped_groups: set[int] = set()
    for g in sorted(first, key=lambda g: (-words(g), first[g])):
        if partners.get(g, set()) & kept:
            dropped_groups.add(g)
        else:
            kept.add(g)
    return sorted(
        span for span in order if root(spans[span]) in dropped_groups or span != first[root(spans[span])]
    )


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


def covered(spans: Sequence[tuple[int, int]], drop: list[tuple[int, int]]) -> list[int]:
    """Characters of each of ``spans`` (disjoint, in order) that lie in the union of the ``drop`` ranges.

    One sweep along both (linear after sorting ``drop``): summing every drop
    range for every sentence had made 10,000 repeated lines take 48 s.
    """
    merged = _merged(drop)
    out: list[int] = []
    first = 0
    for start, end in spans:
        while first < len(merged) and merged[first][1] <= start:
            first += 1
        total, k = 0, first
        while k < len(merged) and merged[k][0] < end:
            total += min(end, merged[k][1]) - max(start, merged[k][0])
            k += 1
        out.append(total)
    return out


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out
