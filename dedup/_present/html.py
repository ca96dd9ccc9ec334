"""HTML for notebooks: clusters side by side with their shared words highlighted; all text escaped."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # result types render through this module; it needs none at run time
    from dedup._types import Cluster, Match, Passage


__all__ = ["cluster_html", "clusters_html", "colour", "highlight", "match_html", "plural"]

#: Clusters shown in full by :func:`clusters_html`; the rest are summarised in one line.
MAX_SHOWN = 50

_WORD = re.compile(r"\w+")

# Words too common to show as evidence of a match on their own.
_STOP = frozenset(
    "a an and are as at be but by for from has have he her his i in is it its of on or our she so that "
    "the their them they this to was we were which who will with you".split()
)

# Colours are variables: light by default, dark where the page is (the OS setting, JupyterLab's and
# VS Code's dark themes), so text never sits dark on a dark notebook; highlights keep dark text on
# their pale colours in both.
_DARK = "--dd-fg:#e8e8e8;--dd-bg:#1e1e1e;--dd-border:#4a4a4a;--dd-line:#333;--dd-muted:#b0b0b0"
_STYLE = (
    "<style>"
    ".dedup{--dd-fg:#222;--dd-bg:#fff;--dd-border:#d0d0d0;--dd-line:#eee;--dd-muted:#666;"
    "font-family:system-ui,sans-serif;font-size:13px;line-height:1.45;color:var(--dd-fg)}"
    f"@media (prefers-color-scheme:dark){{.dedup{{{_DARK}}}}}"
    "[data-jp-theme-light=true] .dedup,body.vscode-light .dedup"
    "{--dd-fg:#222;--dd-bg:#fff;--dd-border:#d0d0d0;--dd-line:#eee;--dd-muted:#666}"
    f"[data-jp-theme-light=false] .dedup,body.vscode-dark .dedup,body.vscode-high-contrast .dedup{{{_DARK}}}"
    ".dedup-c{border:1px solid var(--dd-border);border-radius:6px;margin:8px 0;padding:8px;"
    "background:var(--dd-bg)}"
    ".dedup-h{font-weight:600;margin-bottom:6px}"
    ".dedup-h .dedup-badge{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}"
    ".dedup-g{display:grid;gap:8px}"
    ".dedup-p{border:1px solid var(--dd-line);border-radius:4px;padding:6px;overflow-wrap:anywhere;"
    "white-space:pre-wrap}"
    ".dedup-m{color:var(--dd-muted);font-size:85%;margin-bottom:3px;white-space:normal}"
    ".dedup mark{color:#111;border-radius:3px;padding:0 1px}"
    ".dedup table{border-collapse:collapse;width:100%;margin-top:6px;font-size:90%}"
    ".dedup td,.dedup th{vertical-align:top;text-align:left;padding:3px 6px;"
    "border-top:1px solid var(--dd-line)}"
    ".dedup details{margin-top:6px}.dedup summary{cursor:pointer;color:var(--dd-muted)}"
    "</style>"
)


def colour(n: int) -> str:
    """Highlight colour of cluster ``n``: pale, and distinct from its neighbours (golden-angle hues).

    Examples
    --------
    >>> colour(0), colour(1) != colour(0)
    ('hsl(48,90%,78%)', True)
    """
    return f"hsl({(48 + round(n * 137.508)) % 360},90%,78%)"


def plural(n: int, noun: str) -> str:
    """``"1 cluster"``, ``"2 clusters"``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _words(text: str) -> set[str]:
    return {w.casefold() for w in _WORD.findall(text)}


def highlight(text: str, shared: Iterable[str], background: str) -> str:
    """``text`` escaped, with each run of words found in ``shared`` wrapped in ``<mark>``.

    A run spans the punctuation between its words; runs made only of common
    words ("the", "of") are left plain: alone they are no evidence of a restatement.

    Examples
    --------
    >>> highlight("Troops <b>left</b> the border.", {"troops", "left", "border"}, "#ff0")
    ... # doctest: +NORMALIZE_WHITESPACE
    "<mark style='background:#ff0'>Troops</mark> &lt;b&gt;<mark style='background:#ff0'>left</mark>&lt;/b&gt;
    the <mark style='background:#ff0'>border</mark>."
    """
    shared = set(shared)
    runs: list[list[int]] = []  # [start, end, has a content word]
    for m in _WORD.finditer(text):
        word = m.group().casefold()
        if word not in shared:
            continue
        content = int(word not in _STOP)
        if runs and not _WORD.search(text, runs[-1][1], m.start()):
            runs[-1][1] = m.end()
            runs[-1][2] |= content
        else:
            runs.append([m.start(), m.end(), content])
    out: list[str] = []
    pos = 0
    for start, end, content in runs:
        if not content:
            continue
        out.append(escape(text[pos:start]))
        out.append(f"<mark style='background:{background}'>{escape(text[start:end])}</mark>")
        pos = end
    out.append(escape(text[pos:]))
    return "".join(out)


def _partners(passage: Passage, cluster: Cluster) -> list[Passage]:
    """The passages ``passage`` is directly matched with (all others when no match says)."""
    linked = [m.b if m.a == passage else m.a for m in cluster.matches if passage in (m.a, m.b)]
    return linked or [p for p in cluster.passages if p != passage]


def _where(p: Passage) -> str:
    key = "" if p.key is None else f"{escape(str(p.key))} · "
    return f"{key}[{p.span.start}:{p.span.end}]"


def _passage_box(p: Passage, partners: Sequence[Passage], background: str, note: str = "") -> str:
    shared: set[str] = set()
    for q in partners:
        shared |= _words(q.text)
    return (
        f"<div class='dedup-p'><div class='dedup-m'>{_where(p)}{note}</div>"
        f"{highlight(p.text, shared & _words(p.text), background)}</div>"
    )


def _grid(boxes: Sequence[str]) -> str:
    cols = min(len(boxes), 3)
    style = f"grid-template-columns:repeat({cols},minmax(0,1fr))"
    return f"<div class='dedup-g' style='{style}'>{''.join(boxes)}</div>"


def _sentence(p: Passage, start: int, end: int) -> str:
    """The text of ``[start, end)`` when it lies inside ``p``, else its offsets."""
    if p.span.start <= start <= end <= p.span.end:
        return p.text[start - p.span.start : end - p.span.start]
    return f"[{start}:{end}]"


def _alignment_rows(match: Match) -> str:
    rows = "".join(
        f"<tr><td>{escape(_sentence(match.a, al.a.start, al.a.end))}</td>"
        f"<td>{escape(_sentence(match.b, al.b.start, al.b.end))}</td><td>{al.score:.3f}</td></tr>"
        for al in match.alignments
    )
    return f"<table><tr><th>{_where(match.a)}</th><th>{_where(match.b)}</th><th>score</th></tr>{rows}</table>"


def _cluster_body(cluster: Cluster, n: int) -> str:
    bg = colour(n)
    boxes = [
        _passage_box(p, _partners(p, cluster), bg, " · ★ representative" * (p == cluster.representative))
        for p in cluster.passages
    ]
    kinds = sorted({m.kind for m in cluster.matches})
    details = "".join(
        f"<details><summary>{escape(m.kind)} match {_where(m.a)} ~ {_where(m.b)}, score {m.score:.3f}"
        f"</summary>{_alignment_rows(m)}</details>"
        for m in cluster.matches
    )
    kind = f" · {escape(', '.join(kinds))}" if kinds else ""
    return (
        f"<div class='dedup-c'><div class='dedup-h'><span class='dedup-badge' style='background:{bg}'></span>"
        f"Cluster {n} · score {cluster.score:.3f} · {plural(len(cluster.passages), 'passage')}{kind}</div>"
        f"{_grid(boxes)}{details}</div>"
    )


def cluster_html(cluster: Cluster, n: int = 0) -> str:
    """One cluster: its passages side by side, shared words highlighted, and its matches.

    Examples
    --------
    >>> import dedup
    >>> line = "Troops said <script>alert(1)</script> they left the border."
    >>> found = dedup.find_duplicates(f"{line}\\nNothing else.\\n{line}")
    >>> html = cluster_html(found[0])
    >>> "&lt;script&gt;" in html and "<script>" not in html
    True
    """
    return f"<div class='dedup'>{_STYLE}{_cluster_body(cluster, n)}</div>"


def clusters_html(clusters: Sequence[Cluster], *, threshold: float | None = None) -> str:
    """All clusters, best first (the first :data:`MAX_SHOWN` in full)."""
    if not clusters:
        return f"<div class='dedup'>{_STYLE}No duplicate passages found.</div>"
    cut = "" if threshold is None else f" at threshold {threshold:g}"
    head = f"<div class='dedup-h'>{plural(len(clusters), 'cluster')}{cut}</div>"
    body = "".join(_cluster_body(c, n) for n, c in enumerate(clusters[:MAX_SHOWN]))
    rest = len(clusters) - MAX_SHOWN
    more = f"<div class='dedup-m'>… and {rest} more (use to_pandas() to see all)</div>" if rest > 0 else ""
    return f"<div class='dedup'>{_STYLE}{head}{body}{more}</div>"


def match_html(match: Match) -> str:
    """One match: both passages side by side, shared words highlighted, then each aligned sentence pair."""
    bg = colour(0)
    boxes = [_passage_box(match.a, [match.b], bg), _passage_box(match.b, [match.a], bg)]
    return (
        f"<div class='dedup'>{_STYLE}<div class='dedup-c'><div class='dedup-h'>{escape(match.kind)} match · "
        f"score {match.score:.3f}</div>{_grid(boxes)}{_alignment_rows(match)}</div></div>"
    )
