"""Result types: frozen, slotted dataclasses for spans, passages, matches and clusters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

__all__ = ["Alignment", "Cluster", "Doc", "Match", "Passage", "Span", "maker"]

_T = TypeVar("_T")


def _short(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """Half-open character range ``[start, end)`` into the caller's original text.

    Examples
    --------
    >>> text = "Hello world."
    >>> span = Span(6, 11)
    >>> text[span.start:span.end]
    'world'
    >>> len(span)
    5
    """

    start: int
    end: int

    def __post_init__(self) -> None:
        if not (isinstance(self.start, int) and isinstance(self.end, int)):
            raise TypeError(f"Span bounds must be int, got {self.start!r}, {self.end!r}")
        if not 0 <= self.start <= self.end:
            raise ValueError(f"Span needs 0 <= start <= end, got ({self.start}, {self.end})")

    def __len__(self) -> int:
        return self.end - self.start

    def overlap(self, other: Span) -> int:
        """Number of characters shared with ``other``."""
        return max(0, min(self.end, other.end) - max(self.start, other.start))


@dataclass(frozen=True, slots=True, order=True)
class Passage:
    """A stretch of one document: its ``key``, its ``span`` and the text it covers.

    ``text == document[span.start:span.end]`` always holds, where ``document`` is
    the string the caller passed in.  ``key`` is ``None`` for :func:`find_duplicates`
    and the document key for :class:`DedupIndex`.
    """

    key: str | None
    span: Span
    text: str

    @property
    def start(self) -> int:
        """Shortcut for ``span.start``."""
        return self.span.start

    @property
    def end(self) -> int:
        """Shortcut for ``span.end``."""
        return self.span.end

    def __repr__(self) -> str:
        key = "" if self.key is None else f"key={self.key!r}, "
        return f"Passage({key}span=({self.span.start}, {self.span.end}), text={_short(self.text)!r})"


@dataclass(frozen=True, slots=True, order=True)
class Alignment:
    """One aligned pair of sentences inside a :class:`Match`, with its score in [0, 1]."""

    a: Span
    b: Span
    score: float

    def __repr__(self) -> str:
        return (
            f"Alignment(a=({self.a.start}, {self.a.end}), b=({self.b.start}, {self.b.end}), "
            f"score={self.score:.3f})"
        )


@dataclass(frozen=True, slots=True, order=True)
class Match:
    """A verified pair of passages: ``a`` restates ``b`` (or the other way round).

    ``score`` is in [0, 1]; ``kind`` says why the pair was accepted:
    ``"exact"`` (same normalised words), ``"near"`` (one passage's content words
    are largely contained in the other's) or ``"fusion"`` (a passage that fuses
    parts of several sentences, each of which adds to its coverage).  A match of
    several sentence pairs is ``"exact"`` only when every pair is; otherwise it
    takes the kind of its first pair that is not.
    ``alignments`` lists the sentence pairs behind the match, each with its score.
    """

    a: Passage
    b: Passage
    score: float
    kind: str = "near"
    alignments: tuple[Alignment, ...] = field(default=(), compare=False)

    def explain(self) -> str:
        """Describe why these passages match: each aligned sentence pair, its score and its text.

        The text of a sentence is shown when it lies inside its passage (it
        always does for matches this library builds).
        """
        lines = [f"{self.kind} match, score {self.score:.3f}"]
        for al in self.alignments:
            lines.append(f"  [{al.a.start}:{al.a.end}] ~ [{al.b.start}:{al.b.end}]  score {al.score:.3f}")
            for passage, span in ((self.a, al.a), (self.b, al.b)):
                if passage.span.start <= span.start <= span.end <= passage.span.end:
                    inner = passage.text[span.start - passage.span.start : span.end - passage.span.start]
                    lines.append(f"    {_short(inner, 100)!r}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Match(score={self.score:.3f}, kind={self.kind!r}, a={self.a!r}, b={self.b!r})"

    def _repr_html_(self) -> str:
        from dedup._present.html import match_html

        return match_html(self)


@dataclass(frozen=True, slots=True)
class Cluster:
    """Passages that restate each other, best-scored first in a result list.

    ``passages`` are sorted by position (document, then offset);
    ``representative`` is the passage most strongly linked to the others
    (the earliest one on ties); ``score`` is the mean score of the matches
    that link the cluster, in [0, 1]; ``matches`` are those matches.
    """

    score: float
    passages: tuple[Passage, ...]
    representative: Passage
    matches: tuple[Match, ...] = field(default=(), compare=False)

    def __len__(self) -> int:
        return len(self.passages)

    def __repr__(self) -> str:
        inner = ", ".join(repr(p) for p in self.passages)
        return f"Cluster(score={self.score:.3f}, passages=[{inner}])"

    def _repr_html_(self) -> str:
        from dedup._present.html import cluster_html

        return cluster_html(self)


def maker(cls: type[_T]) -> Callable[..., _T]:
    """A constructor of ``cls`` taking every field positionally, without ``__init__``'s checks.

    For the cluster stage, which builds millions of these from values that are
    valid by construction: it sets the slots directly (half the cost of the
    frozen dataclass ``__init__``, and no ``__post_init__``).  Results equal
    those of ``cls(*values)``.
    """
    setters = tuple(getattr(cls, f.name).__set__ for f in fields(cls))  # type: ignore[arg-type]
    new = object.__new__
    if len(setters) == 2:
        s0, s1 = setters

        def make2(v0: Any, v1: Any) -> _T:
            obj = new(cls)
            s0(obj, v0)
            s1(obj, v1)
            return obj

        return make2
    if len(setters) == 3:
        s0, s1, s2 = setters

        def make3(v0: Any, v1: Any, v2: Any) -> _T:
            obj = new(cls)
            s0(obj, v0)
            s1(obj, v1)
            s2(obj, v2)
            return obj

        return make3

    def make(*values: Any) -> _T:
        obj = new(cls)
        for setter, value in zip(setters, values, strict=True):
            setter(obj, value)
        return obj

    return make


@dataclass(frozen=True, slots=True)
class Doc:
    """A document as the detector sees it: key, original text, ordinal for sorting."""

    key: str | None
    text: str
    ordinal: int
