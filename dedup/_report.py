"""A standalone HTML page: the document with each cluster's passages highlighted."""

from __future__ import annotations

from html import escape

from dedup._display import colour
from dedup._result import Clusters

__all__ = ["report_html"]


def report_html(text: str, clusters: Clusters, *, title: str = "dedup report") -> str:
    """One self-contained page (no external assets) with highlights and a cluster panel."""
    marks: list[tuple[int, int, int]] = []  # (start, end, cluster)
    for n, c in enumerate(clusters):
        for p in c.passages:
            marks.append((p.span.start, p.span.end, n))
    marks.sort()
    body: list[str] = []
    pos = 0
    for start, end, n in marks:
        if start < pos:  # overlapping passages: keep the first highlight
            continue
        body.append(escape(text[pos:start]))
        body.append(
            f"<mark class='dup c{n}' id='c{n}-{start}' data-cluster='{n}' "
            f"style='background:{colour(n)}' title='cluster {n}'>{escape(text[start:end])}</mark>"
        )
        pos = end
    body.append(escape(text[pos:]))
    panel = []
    for n, c in enumerate(clusters):
        items = "".join(
            f"<li><a href='#c{n}-{p.span.start}'>[{p.span.start}:{p.span.end}]</a> "
            f"{escape(' '.join(p.text.split())[:120])}</li>"
            for p in c.passages
        )
        panel.append(
            f"<section class='cluster' style='border-left:6px solid {colour(n)}'>"
            f"<h3>Cluster {n} · score {c.score:.3f}</h3><ul>{items}</ul></section>"
        )
    if not panel:
        panel.append("<p>No duplicate passages found.</p>")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>"
        "body{margin:0;font-family:sans-serif;display:flex}"
        "main{flex:3;padding:1em 2em;white-space:pre-wrap;line-height:1.5}"
        "aside{flex:2;padding:1em;background:#fafafa;border-left:1px solid #ddd;height:100vh;"
        "overflow:auto;position:sticky;top:0}mark{border-radius:3px;padding:0 1px}"
        "section{padding-left:8px;margin-bottom:1em}h3{margin:0.2em 0;font-size:1em}"
        "</style></head><body>"
        f"<main>{''.join(body)}</main><aside><h2>{len(clusters)} clusters</h2>{''.join(panel)}</aside>"
        "</body></html>\n"
    )
