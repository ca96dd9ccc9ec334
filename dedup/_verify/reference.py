"""Verification of candidate sentence pairs: scores, containment and aligned token spans.

This is the only Python module importing rapidfuzz (the compiled kernels call its C
interface).  A candidate pair is scored by how
much of one sentence's content (stemmed content words, names and figures
weighted double) the other contains, and by rapidfuzz's character-level
``ratio``; the aligned stretch of each sentence comes from rapidfuzz's
longest-common-subsequence opcodes over the content words, so spans stay
local even when a word recurs elsewhere in a long sentence.

A sentence that fuses parts of several others (a news highlight built from two
body sentences) is verified by greedy coverage: each source must add a fair
share of the fused sentence's content that earlier sources did not cover, and
together they must cover most of it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from rapidfuzz import fuzz
from rapidfuzz.distance import LCSseq

from dedup._rules import (
    ALSO_RESTATES,
    EDGE_SLACK_DIVISOR,
    EDGE_SLACK_MIN,
    ENTITY_WEIGHT,
    MAX_POOL,
    MIN_NEW_WORDS,
    POOL_RATIO,
    RATIO_ZERO,
    SHRINK,
    SPREAD,
    STRONG_FIRST,
    WHOLE_SHARE,
)
from dedup._text.segment import Sentence

__all__ = [
    "RATIO_CUTOFF",
    "Ends",
    "Link",
    "Profile",
    "Shape",
    "Verifier",
    "aligned_of",
    "alignment_ends",
    "char_ratio",
    "cover_link",
    "locality_of",
    "profile",
    "profile_of",
    "shape",
    "whole",
]


@dataclass(frozen=True, slots=True)
class Shape:
    """Where a sentence's content words are: what alignment needs of it."""

    content_pos: tuple[int, ...]  # token positions of content words
    content_stems: tuple[Hashable, ...]  # stems (strings, or ids of one numbering)
    n_tokens: int


def shape(sent: Sentence) -> Shape:
    """Content-word positions and stems of a sentence (all words when it has no content word)."""
    return _shape(sent.stems, sent.content)


def _shape(stems: Sequence[Hashable], content: Sequence[bool]) -> Shape:
    pos = tuple(i for i, c in enumerate(content) if c) or tuple(range(len(stems)))
    return Shape(pos, tuple(stems[i] for i in pos), len(stems))


@dataclass(frozen=True, slots=True)
class Profile:
    """What verification needs of one sentence, computed once."""

    weights: dict[Hashable, float]  # content stem -> weight
    total: float
    stems: frozenset[Hashable]
    entities: frozenset[Hashable]
    content_pos: tuple[int, ...]  # token positions of content words
    content_stems: tuple[Hashable, ...]
    norm: str
    n_tokens: int


def profile(sent: Sentence) -> Profile:
    """Precompute the verification profile of a sentence."""
    return profile_of(sent.stems, sent.content, sent.entity, sent.norm)


def profile_of(
    stems: Sequence[Hashable], content: Sequence[bool], entity: Sequence[bool], norm: str
) -> Profile:
    """The profile of a sentence given as its token columns.

    Stems may be strings or ids of one numbering (equal stems, equal ids): the
    rules only compare them.
    """
    sh = _shape(stems, content)  # a sentence of stop words only is compared on all of its words
    weights: dict[Hashable, float] = {}
    entities: set[Hashable] = set()
    for i in sh.content_pos:
        s = stems[i]
        w = ENTITY_WEIGHT if entity[i] else 1.0
        if entity[i]:
            entities.add(s)
        weights[s] = max(weights.get(s, 0.0), w)
    return Profile(
        weights=weights,
        total=sum(weights.values()),
        stems=frozenset(stems),
        entities=frozenset(entities),
        content_pos=sh.content_pos,
        content_stems=sh.content_stems,
        norm=norm,
        n_tokens=sh.n_tokens,
    )


def whole(n: int) -> tuple[int, int]:
    """The token span ``(0, n)`` of a whole sentence of ``n`` tokens, one shared tuple per ``n``.

    Most links cover whole sentences: sharing these saves two tuples per link
    (a few hundred MB over the millions of links of a large corpus).
    """
    if n < len(_WHOLE):
        return _WHOLE[n]
    return (0, n)


_WHOLE = tuple((0, n) for n in range(512))


class Link(NamedTuple):
    """A scored sentence pair: sentence ``i`` restates (part of) sentence ``j``.

    ``span_i``/``span_j`` are token-index ranges ``[first, last)`` of the aligned
    stretch in each sentence.  A named tuple, not a dataclass: a corpus run
    makes hundreds of thousands, and a tuple is built ~2.5x faster.
    """

    i: int
    j: int
    score: float
    kind: str
    span_i: tuple[int, int]
    span_j: tuple[int, int]


#: rapidfuzz's ``score_cutoff`` for the character ratio: below it, :func:`char_ratio` is 0 anyway.
RATIO_CUTOFF = 100.0 * RATIO_ZERO


def char_ratio(raw: float) -> float:
    """A rapidfuzz ``ratio`` (0..100) rescaled so that unrelated prose (``RATIO_ZERO``) scores 0."""
    return max(0.0, (raw / 100.0 - RATIO_ZERO) / (1.0 - RATIO_ZERO))


def _containment(a: Profile, b: Profile) -> float:
    shared = sum(w for s, w in a.weights.items() if s in b.stems)
    return shared / (a.total + SHRINK)


def _substitution_factor(a: Profile, b: Profile) -> float:
    """1.0, or the overlap of the two sentences' names and figures when each has some the other lacks."""
    if not (a.entities - b.stems and b.entities - a.stems):
        return 1.0
    shared = len(a.entities & b.entities)
    return shared / len(a.entities | b.entities)


#: Token positions ``(first_a, last_a + 1, first_b, last_b + 1)`` of the first and the last
#: aligned content words of two sentences, or ``None`` when none align.
Ends = tuple[int, int, int, int] | None


def alignment_ends(a: Profile | Shape, b: Profile | Shape) -> Ends:
    """Where the order-preserving alignment of the two sentences' content words starts and ends.

    The alignment is rapidfuzz's longest common subsequence (``LCSseq.editops``).
    """
    blocks = [m for m in LCSseq.editops(a.content_stems, b.content_stems).as_matching_blocks() if m.size]
    if not blocks:
        return None
    last = blocks[-1]
    return (
        a.content_pos[blocks[0].a],
        a.content_pos[last.a + last.size - 1] + 1,
        b.content_pos[blocks[0].b],
        b.content_pos[last.b + last.size - 1] + 1,
    )


def locality_of(ends: Ends, n_a: int, n_b: int) -> float:
    """The locality factor of sentence ``a`` (``n_a`` tokens) inside ``b``, from their alignment ends."""
    if n_b <= SPREAD * n_a or ends is None:
        return 1.0
    return min(1.0, SPREAD * n_a / (ends[3] - ends[2]))


def aligned_of(ends: Ends, n_a: int, n_b: int) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """The aligned token ranges of the two sentences, from their alignment ends."""
    if ends is None:
        return None
    return _trim(ends[0], ends[1], n_a), _trim(ends[2], ends[3], n_b)


def _locality(a: Profile | Shape, b: Profile | Shape) -> float:
    """1.0, or less when ``a``'s words are scattered across a much longer ``b``.

    A restatement of ``a`` inside ``b`` occupies a stretch of ``b`` about as
    long as ``a``; the same words strewn over a long sentence are topic, not
    restatement.
    """
    if b.n_tokens <= SPREAD * a.n_tokens:
        return 1.0
    return locality_of(alignment_ends(a, b), a.n_tokens, b.n_tokens)


def _aligned(a: Profile | Shape, b: Profile | Shape) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Token ranges of the order-preserving alignment of the two sentences' content words."""
    return aligned_of(alignment_ends(a, b), a.n_tokens, b.n_tokens)


def _trim(first: int, last: int, n_tokens: int) -> tuple[int, int]:
    """Aligned token range ``[first, last)``, widened to the sentence edges when little is left out there."""
    if last - first >= WHOLE_SHARE * n_tokens:  # most of the sentence: report all of it
        return 0, n_tokens
    slack = max(EDGE_SLACK_MIN, n_tokens // EDGE_SLACK_DIVISOR)
    if first <= slack:
        first = 0
    if n_tokens - last <= slack:
        last = n_tokens
    return first, last


class Verifier:
    """Scores candidate pairs among a fixed list of sentences."""

    def __init__(
        self, sentences: Sequence[Sentence], *, min_words: int, sent_doc: Sequence[int] | None = None
    ) -> None:
        self._profiles = [profile(s) for s in sentences]
        self._min_words = min_words
        self._doc = list(sent_doc) if sent_doc is not None else [0] * len(sentences)

    @classmethod
    def of_profiles(cls, profiles: list[Profile], *, min_words: int, sent_doc: Sequence[int]) -> Verifier:
        """A verifier of sentences given by their profiles (see :func:`profile_of`)."""
        self = cls.__new__(cls)
        self._profiles = profiles
        self._min_words = min_words
        self._doc = list(sent_doc)
        return self

    def eligible(self, i: int) -> bool:
        """Whether sentence ``i`` is long enough to take part (one word per token)."""
        return self._profiles[i].n_tokens >= self._min_words

    def pair(self, i: int, j: int) -> Link | None:
        """Symmetric score of a candidate pair: exact, or close in characters (rapidfuzz ratio).

        Returns ``None`` for pairs that are not close in both directions; those
        are judged by :meth:`cover`, which sees all partners of a sentence.
        """
        a, b = self._profiles[i], self._profiles[j]
        full_a, full_b = (0, a.n_tokens), (0, b.n_tokens)
        if a.norm == b.norm:
            return Link(i, j, 1.0, "exact", full_a, full_b)
        ratio = char_ratio(fuzz.ratio(a.norm, b.norm, score_cutoff=RATIO_CUTOFF))
        ratio *= _substitution_factor(a, b)
        both = min(self.containment(i, j), self.containment(j, i))
        score = max(ratio, both)
        if score <= 0.0:
            return None
        return Link(i, j, round(score, 6), "near", full_a, full_b)

    def containment(self, i: int, j: int) -> float:
        """Share of sentence ``i``'s content found in sentence ``j``, in [0, 1).

        Names and figures of ``i`` weigh double.  When both sentences carry
        names or figures the other lacks, they make different statements about
        different things ("X will be relegated if they lose and Y win" / "Z ...
        and W draw"), and the share shrinks accordingly.
        """
        a, b = self._profiles[i], self._profiles[j]
        return _containment(a, b) * _substitution_factor(a, b) * _locality(a, b)

    def cover(self, i: int, partners: Sequence[int], *, min_gain: float, max_sources: int) -> list[Link]:
        """Which partners restate sentence ``i`` (contained in them, alone or together).

        Greedy coverage: the partner containing most of ``i``'s content first,
        then each partner adding at least ``min_gain`` of it that earlier ones
        did not cover (a sentence that fuses two others), up to ``max_sources``.
        Only partners of ``i``'s own document with at least half its content
        weight take part; shorter ones are judged in their own turn.  Every link is
        scored with the share of ``i`` covered by all accepted partners together
        (the first one's score also reflects names or figures it substitutes).
        Every other partner containing at least ``ALSO_RESTATES`` of ``i`` alone
        restates it too, and is linked with that containment.
        """
        a = self._profiles[i]
        if a.total <= 0:
            return []
        covered: set[Hashable] = set()
        picks: list[int] = []
        # Across documents, passages must restate each other both ways (``pair``):
        # one-sided containment there links topical neighbours of a news cycle.
        own_doc = self._doc[i]
        pool = sorted(
            j for j in partners if self._doc[j] == own_doc and self._profiles[j].total >= POOL_RATIO * a.total
        )
        if len(pool) > MAX_POOL:  # only the partners containing most of ``i`` can be picked
            closest = sorted(pool, key=lambda j: (-self.containment(i, j), self._profiles[j].norm))
            pool = sorted(closest[:MAX_POOL])
        first_score = 0.0
        while len(picks) < max_sources:
            best, best_gain, best_new = -1, 0.0, 0
            best_rank: tuple[float, float, str] = (0.0, 0.0, "")
            for j in pool:
                if j in picks:
                    continue
                stems = self._profiles[j].stems
                new = [w for s, w in a.weights.items() if s in stems and s not in covered]
                gain = sum(new)
                if gain <= 0:
                    continue
                # Ties go to the closer, then the shorter partner, then by text: never
                # by position, so that reordering paragraphs cannot change the result.
                rank = (-gain, self._profiles[j].total, self._profiles[j].norm)
                if best < 0 or rank < best_rank:
                    best, best_gain, best_new, best_rank = j, gain, len(new), rank
            if best < 0:
                break
            # A further source must add a fair share, and more than one word of it.
            if picks and (best_gain / a.total < min_gain or best_new < MIN_NEW_WORDS):
                break
            if not picks:
                first_score = self.containment(i, best)
            picks.append(best)
            covered.update(s for s in a.weights if s in self._profiles[best].stems)
            # One partner already restating most of ``i`` needs no co-sources.
            if len(picks) == 1 and sum(a.weights[s] for s in covered) / a.total >= STRONG_FIRST:
                break
        if not picks:
            return []
        union = sum(a.weights[s] for s in covered) / (a.total + SHRINK)
        links = []
        for n, j in enumerate(picks):
            aligned = _aligned(a, self._profiles[j])
            if aligned is not None:
                links.append(cover_link(i, j, n, len(picks), first_score, union, aligned))
        # Every other partner restating most of ``i`` alone is a restatement of it too (a fact told in
        # a bullet, the body and a caption): linked with its own containment, after the picks.
        for j in pool:
            if j in picks:
                continue
            alone = self.containment(i, j)
            if alone >= ALSO_RESTATES:
                aligned = _aligned(a, self._profiles[j])
                if aligned is not None:
                    links.append(cover_link(i, j, 0, 1, alone, alone, aligned))
        return links


def cover_link(
    i: int,
    j: int,
    n: int,
    n_picks: int,
    first_score: float,
    union: float,
    aligned: tuple[tuple[int, int], tuple[int, int]],
) -> Link:
    """The link to the ``n``-th of ``n_picks`` partners covering sentence ``i``.

    One partner: its containment of ``i`` (``first_score``).  Several: the
    share of ``i`` they cover together (``union``); the first partner's link
    keeps its own containment if that is higher.
    """
    if n_picks == 1:
        return Link(i, j, round(first_score, 6), "near", aligned[0], aligned[1])
    score = max(union, first_score) if n == 0 else union
    return Link(i, j, round(score, 6), "fusion", aligned[0], aligned[1])
