"""Disjoint sets, and the one rule that exact copies are a single unit."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["UnionFind", "exact_units"]


class UnionFind:
    """Disjoint sets over ``0..n-1`` with path halving; the root is the smallest member."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, x: int, y: int) -> None:
        rx, ry = self.find(x), self.find(y)
        if rx != ry:
            lo, hi = (rx, ry) if rx < ry else (ry, rx)
            self.parent[hi] = lo


def exact_units(n: int, a: Sequence[int], b: Sequence[int], exact: Sequence[bool]) -> UnionFind:
    """Nodes ``0..n-1`` joined across every exact-copy edge ``a[k] - b[k]`` (``exact[k]``).

    Copying is transitive and exact copies are linked as chains, not all pairs:
    the cluster model (:mod:`dedup._cluster.cliques`) and the choice of what to drop
    (:mod:`dedup._cluster.repeats`) both treat a chain of copies as one unit.
    """
    units = UnionFind(n)
    for x, y, e in zip(a, b, exact, strict=True):
        if e:
            units.union(x, y)
    return units
