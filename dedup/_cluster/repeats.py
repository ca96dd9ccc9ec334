"""Which passages are repeats: the rule behind ``strip_duplicates`` and ``Clusters.deduplicate``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dedup._cluster.unionfind import exact_units
from dedup._types import Match, Passage

__all__ = ["repeats"]

#: A passage's place: its document key, start and end.
Place = tuple[str | None, int, int]


def repeats(
    matches: Sequence[Match],
    first: Callable[[Passage], tuple[int, ...]],
    position: Callable[[Passage], tuple[int, ...]] | None = None,
) -> list[Place]:
    """The places of the passages of ``matches`` to drop so that one of each restatement stays.

    Exact copies (linked as chains) form one group, of which the passage
    ``position`` ranks lowest stays (default: ``first``).  Groups are then decided
    in the order of ``first`` applied to that passage: a group is dropped when it
    is matched to a group already kept, and kept otherwise.  So no passage is
    dropped unless a passage that restates it stays, and a passage that fuses
    two kept sentences goes while both stay.  Matches between overlapping
    passages of one document drop nothing.  Direct matches decide, never the
    transitive closure of a cluster: A ~ B ~ C with A kept drops B and keeps C
    unless C restates A.

    ``strip_duplicates`` ranks by information (most words first); ``deduplicate``
    by document order.
    """
    index: dict[Place, int] = {}
    passages: list[Passage] = []

    def node(p: Passage) -> int:
        place = (p.key, p.span.start, p.span.end)
        if place not in index:
            index[place] = len(passages)
            passages.append(p)
        return index[place]

    pairs = [(node(m.a), node(m.b)) for m in matches]
    root = exact_units(
        len(passages), [i for i, _ in pairs], [j for _, j in pairs], [m.kind == "exact" for m in matches]
    ).find
    rank = [first(p) for p in passages]
    place = rank if position is None else [position(p) for p in passages]
    head: dict[int, int] = {}  # group -> the passage of it that stays
    for n in sorted(range(len(passages)), key=lambda n: (place[n], n)):
        head.setdefault(root(n), n)
    partners: dict[int, set[int]] = {}
    for i, j in pairs:
        gi, gj = root(i), root(j)
        a, b = passages[head[gi]], passages[head[gj]]
        same_place = a.key == b.key and a.span.start < b.span.end and b.span.start < a.span.end
        if gi != gj and not same_place:
            partners.setdefault(gi, set()).add(gj)
            partners.setdefault(gj, set()).add(gi)
    kept: set[int] = set()
    dropped: set[int] = set()
    for g in sorted(head, key=lambda g: (rank[head[g]], head[g])):
        if partners.get(g, set()) & kept:
            dropped.add(g)
        else:
            kept.add(g)
    places = list(index)
    return [places[n] for n in range(len(passages)) if root(n) in dropped or head[root(n)] != n]
