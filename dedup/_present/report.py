"""A standalone HTML page: the document with each cluster's passages highlighted in its own colour."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from dedup._present.html import colour, plural

if TYPE_CHECKING:  # result types render through this module; it needs none at run time
    from dedup._types import Cluster

__all__ = ["report_html"]

_CSS = (
    "*{box-sizing:border-box}"
    "body{margin:0;font-family:system-ui,sans-serif;display:flex;color:#222;background:#fff}"
    "main{flex:3;min-width:0;padding:1em 2em;white-space:pre-wrap;line-height:1.6;overflow-wrap:anywhere}"
    "aside{flex:2;min-width:16em;max-width:32em;padding:1em;background:#f7f7f7;border-left:1px solid #ddd;"
    "height:100vh;overflow:auto;position:sticky;top:0}"
    "h1{font-size:1.1em;margin:0 0 .8em 0;white-space:normal}h2{font-size:1em;margin:0 0 .6em 0}"
    "mark.dup{color:inherit;border-radius:3px;padding:0 1px}"
    "mark.dup:target{outline:2px solid #333}"
    "section.cluster{padding:4px 8px;margin-bottom:.8em;border-left:8px solid #ccc;background:#fff}"
    "section.cluster h3{margin:.2em 0;font-size:.95em}"
    "section.cluster ol{margin:.2em 0;padding-left:1.4em;font-size:.88em}"
    "section.cluster a{color:#224;text-decoration:none}section.cluster a:hover{text-decoration:underline}"
    ".where{color:#666;font-variant-numeric:tabular-nums}"
)


def _segments(text: str, clusters: Sequence[Cluster]) -> list[tuple[int, int, list[int]]]:
    """Cut ``text`` at every passage boundary: ``(start, end, clusters covering it)``, best first."""
    cuts = {0, len(text)}
    spans: list[tuple[int, int, int]] = []
    for n, c in enumerate(clusters):
        for p in c.passages:
            spans.append((p.span.start, p.span.end, n))
            cuts.update((p.span.start, p.span.end))
    points = sorted(cuts)
    out = []
    for start, end in itertools.pairwise(points):
        covering = sorted({n for s, e, n in spans if s <= start and end <= e})
        out.append((start, end, covering))
    return out


def report_html(text: str, clusters: Sequence[Cluster], *, title: str = "dedup report") -> str:
    """One self-contained page (inline CSS, no script, no external assets).

    The document is on the left with every passage highlighted in its cluster's
    colour (where passages of two clusters overlap, the better cluster's colour
    wins and both are named in the tooltip); a side panel lists the clusters,
    best first, with scores and links to each passage.  All text is escaped.

    Examples
    --------
    >>> import dedup
    >>> text = "Troops <left> the border.\\nMarkets were calm.\\nTroops <left> the border."
    >>> page = report_html(text, dedup.find_duplicates(text))
    >>> page.count("<mark class='dup c0'"), "&lt;left&gt;" in page, "<left>" in page
    (2, True, False)
    """
    anchors: dict[tuple[int, int], str] = {}
    body: list[str] = []
    for start, end, covering in _segments(text, clusters):
        chunk = escape(text[start:end])
        if not covering:
            body.append(chunk)
            continue
        n = covering[0]
        anchor = f"c{n}-{start}"
        for m in covering:
            for p in clusters[m].passages:
                if p.span.start == start:
                    anchors.setdefault((m, start), anchor)
        tip = "; ".join(f"cluster {m} (score {clusters[m].score:.3f})" for m in covering)
        body.append(
            f"<mark class='dup c{n}' id='{anchor}' data-cluster='{n}' style='background:{colour(n)}' "
            f"title='{escape(tip)}'>{chunk}</mark>"
        )
    panel = []
    for n, c in enumerate(clusters):
        items = []
        for p in c.passages:
            anchor = anchors.get((n, p.span.start), f"c{n}-{p.span.start}")
            flat = " ".join(p.text.split())
            short = flat if len(flat) <= 140 else flat[:139] + "…"
            star = " ★" if p == c.representative else ""
            items.append(
                f"<li><a href='#{anchor}'><span class='where'>[{p.span.start}:{p.span.end}]{star}</span> "
                f"{escape(short)}</a></li>"
            )
        kinds = ", ".join(sorted({m.kind for m in c.matches}))
        panel.append(
            f"<section class='cluster' id='cluster-{n}' style='border-left-color:{colour(n)}'>"
            f"<h3>Cluster {n} · score {c.score:.3f} · {plural(len(c.passages), 'passage')}"
            f"{' · ' + escape(kinds) if kinds else ''}</h3><ol>{''.join(items)}</ol></section>"
        )
    if not panel:
        panel.append("<p>No duplicate passages found.</p>")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<main><h1>{escape(title)}</h1>{''.join(body)}</main>"
        f"<aside><h2>{plural(len(clusters), 'cluster')}</h2>{''.join(panel)}</aside>"
        "</body></html>\n"
    )
