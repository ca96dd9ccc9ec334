"""HTML rendering of clusters for notebooks and standalone reports; all text escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from dedup._types import Cluster

__all__ = ["cluster_html", "clusters_html"]

_PALETTE = ("#ffe08a", "#b5e8ff", "#c8f7c5", "#ffc9de", "#e0ccff", "#ffd6b0", "#d0f0ef", "#f3f0a0")

_STYLE = (
    "<style>.dedup-c{border:1px solid #ccc;border-radius:6px;margin:6px 0;padding:6px;font-family:sans-serif}"
    ".dedup-c table{border-collapse:collapse;width:100%}.dedup-c td{vertical-align:top;padding:4px;"
    "border-top:1px solid #eee}.dedup-c mark{padding:0 2px;border-radius:3px}"
    ".dedup-h{font-weight:bold;margin-bottom:4px}.dedup-m{color:#666;font-size:85%}</style>"
)


def colour(n: int) -> str:
    """Highlight colour of cluster ``n``."""
    return _PALETTE[n % len(_PALETTE)]


def _cluster_body(cluster: Cluster, n: int) -> str:
    rows = []
    for p in cluster.passages:
        key = "" if p.key is None else f"{escape(str(p.key))} "
        rep = " ★" if p == cluster.representative else ""
        rows.append(
            f"<tr><td class='dedup-m'>{key}[{p.span.start}:{p.span.end}]{rep}</td>"
            f"<td><mark style='background:{colour(n)}'>{escape(p.text)}</mark></td></tr>"
        )
    return (
        f"<div class='dedup-c'><div class='dedup-h'>Cluster {n} · score {cluster.score:.3f} · "
        f"{len(cluster.passages)} passages</div><table>{''.join(rows)}</table></div>"
    )


def cluster_html(cluster: Cluster, n: int = 0) -> str:
    """One cluster as an HTML fragment: its passages, highlighted, with spans and score."""
    return _STYLE + _cluster_body(cluster, n)


def clusters_html(clusters: Sequence[Cluster]) -> str:
    """All clusters as one HTML fragment, best first."""
    if not clusters:
        return "<div class='dedup-c'>No duplicate passages found.</div>"
    return _STYLE + "".join(_cluster_body(c, n) for n, c in enumerate(clusters))
