"""Notebook HTML, match explanations, records and re-thresholding, seen as a user sees them."""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser

import pytest

import dedup
from dedup._present.html import colour
from dedup._present.report import report_html

HOSTILE = "Officials said <script>alert('x')</script> the border crossing closed at noon on Friday."
TEXT = f"{HOSTILE}\nMarkets were calm across the region.\n{HOSTILE}"


class _Tags(HTMLParser):
    """Collects start tags and the text inside <mark> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.marked: list[str] = []
        self._in_mark = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_mark += tag == "mark"

    def handle_endtag(self, tag: str) -> None:
        self._in_mark -= tag == "mark"

    def handle_data(self, data: str) -> None:
        if self._in_mark:
            self.marked.append(data)


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def test_cluster_html_escapes_markup_in_the_text() -> None:
    html = dedup.find_duplicates(TEXT)[0]._repr_html_()
    assert "script" not in _parse(html).tags
    assert "&lt;script&gt;" in html


def test_clusters_html_escapes_markup_in_document_keys() -> None:
    index = dedup.DedupIndex()
    index.add("<b>one</b>' onclick='x", HOSTILE)
    index.add("two", "Other news first. " + HOSTILE)
    html = index.clusters()._repr_html_()
    assert "b" not in _parse(html).tags
    assert "onclick='x" not in html


def test_cluster_html_shows_passages_side_by_side_with_score() -> None:
    cluster = dedup.find_duplicates(TEXT)[0]
    html = cluster._repr_html_()
    assert html.count("class='dedup-p'") == len(cluster.passages)
    assert f"grid-template-columns:repeat({len(cluster.passages)}," in html
    assert f"score {cluster.score:.3f}" in html


def test_cluster_html_highlights_only_words_the_passages_share() -> None:
    text = (
        "Storm damage closed every school in Harlan county on Monday.\n"
        "Nothing else happened.\n"
        "Storm damage closed every school in Harlan county, officials reported."
    )
    found = dedup.find_duplicates(text)
    marked = " ".join(_parse(found[0]._repr_html_()).marked)
    assert "Harlan" in marked and "Storm damage closed" in marked
    assert "Monday" not in marked and "officials" not in marked


def test_clusters_html_lists_every_cluster_with_its_score(seed_text: str) -> None:
    found = dedup.find_duplicates(seed_text)
    html = found._repr_html_()
    assert html.count("class='dedup-c'") == len(found)
    for c in found:
        assert f"score {c.score:.3f}" in html


def test_each_cluster_gets_its_own_colour(seed_text: str) -> None:
    found = dedup.find_duplicates(seed_text)
    colours = [colour(n) for n in range(len(found))]
    assert len(set(colours)) == len(found)
    html = found._repr_html_()
    assert all(f"background:{c}" in html for c in colours)


def test_empty_result_says_nothing_was_found() -> None:
    assert "No duplicate" in dedup.find_duplicates("One sentence only here.")._repr_html_()


def test_match_html_lists_each_aligned_sentence_pair_with_its_score(seed_text: str) -> None:
    match = next(m for m in dedup.find_duplicates(seed_text).matches if len(m.alignments) > 1)
    html = match._repr_html_()
    for al in match.alignments:
        sentence = seed_text[al.a.start : al.a.end]
        assert sentence.replace("“", "").split()[0] in html
        assert f"<td>{al.score:.3f}</td>" in html


def test_match_explain_names_every_alignment_and_its_score(seed_text: str) -> None:
    for match in dedup.find_duplicates(seed_text).matches:
        text = match.explain()
        assert f"{match.score:.3f}" in text.splitlines()[0]
        for al in match.alignments:
            assert f"[{al.a.start}:{al.a.end}] ~ [{al.b.start}:{al.b.end}]  score {al.score:.3f}" in text
            for span in (al.a, al.b):
                words = " ".join(seed_text[span.start : span.end].split())
                assert repr(words if len(words) <= 100 else words[:99] + "…") in text


def test_rethreshold_lower_keeps_every_stricter_match(seed_text: str) -> None:
    found = dedup.find_duplicates(seed_text)
    loose, strict = found.rethreshold(0.4), found.rethreshold(0.9)

    def aligned(result: dedup.Clusters) -> set[tuple[dedup.Span, dedup.Span]]:
        return {(al.a, al.b) for m in result.matches for al in m.alignments}

    assert aligned(strict) <= aligned(found) <= aligned(loose)
    assert aligned(strict) < aligned(loose)
    assert all(al.score >= 0.9 for m in strict.matches for al in m.alignments)
    assert strict.threshold == 0.9 and "threshold 0.9" in strict._repr_html_()


def test_rethreshold_to_one_keeps_only_exact_copies(seed_text: str) -> None:
    exact = dedup.find_duplicates(seed_text).rethreshold(1.0)
    assert exact and all(len({" ".join(p.text.split()) for p in c.passages}) == 1 for c in exact)


def test_rethreshold_rejects_a_cut_below_the_kept_scores(seed_text: str) -> None:
    with pytest.raises(dedup.InvalidOptionError, match="threshold"):
        dedup.find_duplicates(seed_text).rethreshold(0.01)


def test_to_pandas_has_one_row_per_passage_with_the_documented_columns(seed_text: str) -> None:
    found = dedup.find_duplicates(seed_text)
    df = found.to_pandas()
    assert len(df) == sum(len(c) for c in found)
    assert list(df.columns) == [
        "cluster",
        "score",
        "representative",
        "passage",
        "key",
        "start",
        "end",
        "text",
    ]
    row = df.iloc[0]
    assert seed_text[row["start"] : row["end"]] == row["text"]
    reps = df[df["passage"] == df["representative"]]
    assert [r["start"] for _, r in reps.iterrows()] == [c.representative.span.start for c in found]


def test_pandas_is_imported_only_by_to_pandas() -> None:
    code = (
        "import sys, dedup\n"
        "found = dedup.find_duplicates('A cat sat on the mat today.\\nA cat sat on the mat today.')\n"
        "found.to_records(); found._repr_html_()\n"
        "print('pandas' in sys.modules)\n"
        "found.to_pandas()\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_report_marks_every_passage_in_its_cluster_colour(seed_text: str) -> None:
    found = dedup.find_duplicates(seed_text)
    page = report_html(seed_text, found)
    for n, c in enumerate(found):
        assert page.count(f"<mark class='dup c{n}'") >= len(c.passages)
        assert f"background:{colour(n)}" in page
        assert f"Cluster {n} · score {c.score:.3f}" in page


def test_report_is_standalone_and_escaped() -> None:
    page = report_html(TEXT, dedup.find_duplicates(TEXT), title="<title>")
    tags = _parse(page).tags
    assert "script" not in tags and "link" not in tags and "img" not in tags
    assert "src=" not in page and "http" not in page
    assert "&lt;script&gt;" in page


def test_the_repr_of_many_clusters_is_bounded() -> None:
    text = "\n".join(f"Line {n} about the harbour ferry number {n} today.\n" * 2 for n in range(40))
    found = dedup.find_duplicates(text)
    assert len(found) == 40
    shown = repr(found)
    assert shown.count("Cluster(") == 5 and "35 more clusters" in shown and "n=40" in shown
    assert repr(dedup.Clusters(found[:3])).count("Cluster(") == 3
