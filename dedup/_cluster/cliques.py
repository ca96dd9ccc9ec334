"""The cluster model: groups of passages in which every two restate each other.

A cluster used to be a connected component of matches, so one loose link, or a
bullet fusing two sentences that say different things, chained passages that
do not restate each other into one cluster.  Here a cluster is a *clique* of
the match graph, built greedily:

1. Exact copies are one unit (copying is transitive; copies are linked as
   chains, not all pairs).
2. Matches between units are taken best first.  A match whose two units
   already share a cluster adds nothing.  Otherwise one unit joins a cluster
   of the other when it is matched to *every* member of it (the first such
   cluster, in order of creation; the first unit's clusters are tried first);
   failing that, the two units start a new cluster.

So every two passages of a cluster are directly matched (or exact copies),
every match lies inside at least one cluster, and a passage may belong to
several clusters when that is the honest answer: a bullet fusing two body
sentences forms one cluster with each of them.

This is the one statement of the rule: :func:`dedup._cluster.build.build`
(result objects) and :func:`dedup._cluster.table.build_table` (columns, corpus
mode and Spark) both call :func:`cliques`.
"""

from __future__ import annotations

from collections.abc import Sequence

from dedup._cluster.unionfind import exact_units

__all__ = ["cliques"]


def cliques(
    n: int,
    a: Sequence[int],
    b: Sequence[int],
    exact: Sequence[bool],
    order: Sequence[int],
) -> list[list[int]]:
    """Clusters of the nodes ``0..n-1`` joined by edges ``a[k] - b[k]``, each a sorted list of nodes.

    ``exact[k]``: edge ``k`` joins exact copies.  ``order`` lists the edges best
    first (the caller's ranking: score, then position).  Clusters come in order
    of creation; nodes of no edge are in none.

    Examples
    --------
    A fused bullet (0) restating two sentences (1, 2) that do not restate each
    other is in two clusters; a chain 3-4-5 of exact copies is one:

    >>> cliques(6, [0, 0, 3, 4], [1, 2, 4, 5], [False, False, True, True], [0, 1, 2, 3])
    [[0, 1], [0, 2], [3, 4, 5]]
    """
    unit = exact_units(n, a, b, exact).find
    adjacent: dict[int, set[int]] = {}
    edges: list[tuple[int, int]] = []
    for k in order:
        u, v = unit(a[k]), unit(b[k])
        if u != v:
            adjacent.setdefault(u, set()).add(v)
            adjacent.setdefault(v, set()).add(u)
            edges.append((u, v))
    members: list[list[int]] = []  # each cluster's units
    of_unit: dict[int, list[int]] = {}  # unit -> its clusters, in order of creation
    for u, v in edges:
        mine, theirs = of_unit.get(u, []), of_unit.get(v, [])
        if set(mine).intersection(theirs):
            continue
        for joiner, host in ((v, mine), (u, theirs)):
            near = adjacent[joiner]
            c = next((c for c in host if near.issuperset(members[c])), None)
            if c is not None:
                members[c].append(joiner)
                of_unit.setdefault(joiner, []).append(c)
                break
        else:
            c = len(members)
            members.append([u, v])
            of_unit.setdefault(u, []).append(c)
            of_unit.setdefault(v, []).append(c)
    # Exact copies with no other match are a cluster of their own.
    grouped: dict[int, list[int]] = {}
    for x in sorted({x for k in range(len(a)) for x in (a[k], b[k])}):
        grouped.setdefault(unit(x), []).append(x)
    for u in sorted(grouped):
        if u not in of_unit and len(grouped[u]) > 1:
            members.append([u])
    return [sorted(x for u in units for x in grouped[u]) for units in members]
