"""benchmarks/alignment.py: PAN measures (by hand and against a slow reference), generator, baseline."""

from __future__ import annotations

import difflib
import json
import math
import re
import shutil
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.alignment import (
    Annotation,
    Case,
    Document,
    build_cases,
    dedup_detections,
    flatten,
    main,
    moved_span,
    ngram_detections,
    pan_measures,
    read_cnn,
    read_lee,
    sentence_spans,
    wrap,
)

DATA = Path(__file__).resolve().parent / "data"
WORDS = (
    "the council said on tuesday that its members would vote against the plan after a long debate "
    "about money schools roads and the future of the river valley where farmers grow wheat"
).split()


def _measures(cases: list[Annotation], dets: list[Annotation]) -> tuple[float, float, float, float]:
    m = pan_measures([(cases, dets)])
    return m.precision, m.recall, m.granularity, m.plagdet


# ---------------------------------------------------------------------------
# the measures, by hand


def test_an_exact_detection_scores_one_everywhere() -> None:
    s = Annotation(10, 100, 40, 120)
    assert _measures([s], [s]) == (1.0, 1.0, 1.0, 1.0)


def test_half_overlap_in_both_documents_gives_half_precision_and_recall() -> None:
    p, r, g, pd = _measures([Annotation(0, 100, 0, 100)], [Annotation(50, 100, 50, 100)])
    assert (p, r, g) == (0.5, 0.5, 1.0) and pd == 0.5


def test_recall_counts_characters_of_both_documents() -> None:
    # the detection covers all 100 suspicious characters but 100 of the 300 source ones
    p, r, _, _ = _measures([Annotation(0, 100, 0, 300)], [Annotation(0, 100, 0, 100)])
    assert (p, r) == (1.0, 0.5)


def test_overlap_in_the_suspicious_document_alone_detects_nothing() -> None:
    assert _measures([Annotation(0, 100, 0, 100)], [Annotation(0, 100, 500, 100)]) == (0.0, 0.0, 1.0, 0.0)


def test_a_case_split_into_three_detections_has_granularity_three() -> None:
    dets = [Annotation(k * 40, 40, k * 40, 40) for k in range(3)]
    p, r, g, pd = _measures([Annotation(0, 120, 0, 120)], dets)
    assert (p, r, g) == (1.0, 1.0, 3.0) and pd == pytest.approx(1 / math.log2(4))


def test_one_detection_spanning_two_cases_pays_for_the_gap_in_precision() -> None:
    cases = [Annotation(0, 100, 0, 100), Annotation(200, 100, 200, 100)]
    p, r, g, _ = _measures(cases, [Annotation(0, 300, 0, 300)])
    assert p == pytest.approx(400 / 600) and (r, g) == (1.0, 1.0)


def test_precision_and_recall_are_macro_averages_over_detections_and_cases() -> None:
    # pair 1: a short case found whole, a long one missed; pair 2: one false detection
    m = pan_measures(
        [
            ([Annotation(0, 10, 0, 10), Annotation(100, 1000, 100, 1000)], [Annotation(0, 10, 0, 10)]),
            ([], [Annotation(0, 50, 0, 50)]),
        ]
    )
    assert (m.recall, m.precision, m.granularity) == (0.5, 0.5, 1.0)
    assert (m.cases, m.detections, m.detected) == (2, 2, 1)


def test_edge_cases_follow_pans_evaluator() -> None:
    assert pan_measures([]).precision == 1.0 and pan_measures([([], [])]).recall == 1.0
    missed = pan_measures([([Annotation(0, 5, 0, 5)], [])])
    assert (missed.precision, missed.recall, missed.granularity, missed.plagdet) == (0.0, 0.0, 1.0, 0.0)


def test_an_empty_annotation_is_refused() -> None:
    with pytest.raises(ValueError, match="lengths >= 1"):
        Annotation(0, 0, 5, 5)


# ---------------------------------------------------------------------------
# the measures against a slow reference on character sets


def _chars(a: Annotation) -> set[tuple[str, int]]:
    return {("t", i) for i in range(a.this_offset, a.this_end)} | {
        ("s", j) for j in range(a.source_offset, a.source_end)
    }


def _detects(r: Annotation, s: Annotation) -> bool:
    both = _chars(r) & _chars(s)
    return any(d == "t" for d, _ in both) and any(d == "s" for d, _ in both)


def _slow(pairs: list[tuple[list[Annotation], list[Annotation]]]) -> tuple[float, float, float]:
    cases = [(k, s) for k, (ss, _) in enumerate(pairs) for s in ss]
    dets = [(k, r) for k, (_, rs) in enumerate(pairs) for r in rs]
    if not cases and not dets:
        return 1.0, 1.0, 1.0
    found = [[r for k2, r in dets if k2 == k and _detects(r, s)] for k, s in cases]
    recall = sum(
        len(_chars(s) & set().union(*(_chars(r) for r in rs))) / len(_chars(s))
        for (_, s), rs in zip(cases, found, strict=True)
    ) / max(len(cases), 1)
    precision = sum(
        len(_chars(r) & set().union(*(_chars(s) for k2, s in cases if k2 == k and _detects(r, s))))
        / len(_chars(r))
        for k, r in dets
    ) / max(len(dets), 1)
    detected = [len(rs) for rs in found if rs]
    granularity = sum(detected) / len(detected) if detected else 1.0
    if not cases or not dets:
        precision = recall = 0.0
    return precision, recall, granularity


spans = st.builds(Annotation, st.integers(0, 40), st.integers(1, 25), st.integers(0, 40), st.integers(1, 25))
pair_lists = st.lists(st.tuples(st.lists(spans, max_size=3), st.lists(spans, max_size=4)), max_size=3)


@settings(max_examples=200, deadline=None)
@given(pair_lists)
def test_measures_match_a_slow_reference_on_character_sets(
    pairs: list[tuple[list[Annotation], list[Annotation]]],
) -> None:
    m = pan_measures(pairs)
    p, r, g = _slow(pairs)
    assert m.precision == pytest.approx(p) and m.recall == pytest.approx(r) and m.granularity == g
    assert 0.0 <= m.plagdet <= 1.0


# ---------------------------------------------------------------------------
# wrapping with an offset map


texts = st.lists(
    st.lists(st.sampled_from([*WORDS, "x" * 70, "a-b-c", "Mr.", '"Yes,"']), max_size=40).map(" ".join),
    min_size=1,
    max_size=4,
).map("\n".join)


@settings(max_examples=100, deadline=None)
@given(texts, st.integers(20, 90))
def test_wrap_is_textwrap_per_line_and_moves_every_character_to_its_copy(text: str, width: int) -> None:
    wrapped, moved = wrap(text, width)
    expected = "\n".join(
        textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False)
        for line in text.split("\n")
    )
    assert wrapped == expected
    assert all(wrapped[moved[i]] == ch for i, ch in enumerate(text) if not ch.isspace())


@settings(max_examples=50, deadline=None)
@given(texts, st.integers(20, 90), st.data())
def test_a_span_of_words_maps_onto_the_same_words_after_wrapping(
    text: str, width: int, data: st.DataObject
) -> None:
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    if not words:
        return
    i = data.draw(st.integers(0, len(words) - 1))
    j = data.draw(st.integers(i, len(words) - 1))
    start, end = words[i][0], words[j][1]
    wrapped, moved = wrap(text, width)
    a, b = moved_span(text, moved, start, end)
    assert flatten(wrapped[a:b]) == flatten(text[start:end])


# ---------------------------------------------------------------------------
# the generator (on the 40-document copies in tests/data)


@pytest.fixture(scope="module")
def documents() -> tuple[list[Document], list[Document]]:
    return read_lee(DATA / "lee_background_40.jsonl"), read_cnn(DATA / "cnn_poc_highlights_40.jsonl")


@pytest.fixture(scope="module")
def cases(documents: tuple[list[Document], list[Document]]) -> list[Case]:
    return build_cases(*documents, cases=6, seed=3)


def _sliced(case: Case, a: Annotation) -> tuple[str, str]:
    return case.suspicious[a.this_offset : a.this_end], case.source[a.source_offset : a.source_end]


def test_the_generator_is_deterministic_and_a_larger_run_extends_a_smaller_one(
    documents: tuple[list[Document], list[Document]],
    cases: list[Case],
) -> None:
    assert build_cases(*documents, cases=6, seed=3) == cases
    fewer = build_cases(*documents, cases=3, seed=3)
    assert all(c in cases for c in fewer)
    assert build_cases(*documents, cases=3, seed=4) != fewer


def test_every_kind_is_generated(cases: list[Case]) -> None:
    assert sorted({c.kind for c in cases}) == sorted(
        ["verbatim", "trimmed", "rewrapped", "edited", "reordered", "none"]
    )


def test_annotations_slice_back_to_the_pasted_passage_of_each_kind(cases: list[Case]) -> None:
    for case in cases:
        for a in case.annotations:
            assert a.this_end <= len(case.suspicious) and a.source_end <= len(case.source)
            this, source = _sliced(case, a)
            assert this == this.strip() and source == source.strip()
            if case.kind in ("verbatim", "trimmed"):
                assert this == source
            elif case.kind == "rewrapped":
                assert flatten(this) == flatten(source) and this != source
            elif case.kind == "reordered":
                assert sorted(this.split()) == sorted(source.split()) and this != source
            elif case.kind == "edited":
                assert this != source
                assert difflib.SequenceMatcher(None, this.split(), source.split()).ratio() > 0.8


def test_passages_of_one_case_do_not_overlap(cases: list[Case]) -> None:
    for case in cases:
        for a, b in zip(case.annotations, case.annotations[1:], strict=False):
            assert a.this_end <= b.this_offset


def test_trimmed_passages_start_and_end_mid_sentence(cases: list[Case]) -> None:
    for case in (c for c in cases if c.kind == "trimmed"):
        sents = sentence_spans(case.source)
        for a in case.annotations:
            assert a.source_offset not in {s for s, _ in sents} and a.source_end not in {e for _, e in sents}


def test_no_reuse_pairs_have_no_annotations_and_share_no_eight_words(cases: list[Case]) -> None:
    none = [c for c in cases if c.kind == "none"]
    assert len(none) == 6
    for c in none:
        assert c.annotations == () and ngram_detections(c.suspicious, c.source) == []


# ---------------------------------------------------------------------------
# the systems


def test_the_baseline_reports_a_pasted_passage_once_across_a_small_edit() -> None:
    passage = " ".join(WORDS[:30])
    source = "Unrelated opening words here. " + passage + " And an unrelated ending."
    edited = passage.replace("debate", "argument")
    suspicious = "A host sentence comes first. " + edited + " The host goes on."
    found = ngram_detections(suspicious, source)
    assert len(found) == 1
    truth = Annotation(29, len(edited), 30, len(passage))
    m = pan_measures([([truth], found)])
    assert m.recall > 0.95 and m.precision == 1.0


def test_the_baseline_finds_nothing_between_unrelated_texts() -> None:
    assert ngram_detections(" ".join(WORDS[:20]), " ".join(WORDS[20:])) == []


def test_dedup_detections_point_into_the_two_documents() -> None:
    passage = "The council said on Tuesday that its members would vote against the plan after a long debate."
    source = "Farmers grow wheat in the river valley. " + passage
    suspicious = passage + " Schools and roads came next."
    found = dedup_detections(suspicious, source)
    assert found and all(
        suspicious[r.this_offset : r.this_end] and source[r.source_offset : r.source_end] for r in found
    )
    assert pan_measures([([Annotation(0, len(passage), 40, len(passage))], found)]).recall == 1.0


def test_a_small_run_writes_the_table_for_every_kind_and_system(tmp_path: Path) -> None:
    for folder in ("lee_background", "cnn_poc_highlights"):
        (tmp_path / folder).mkdir()
    shutil.copy(DATA / "lee_background_40.jsonl", tmp_path / "lee_background" / "docs.jsonl")
    shutil.copy(DATA / "cnn_poc_highlights_40.jsonl", tmp_path / "cnn_poc_highlights" / "articles.jsonl")
    target = tmp_path / "out.json"
    assert main(["--data", str(tmp_path), "--cases", "2", "--json", str(target), "--show", "1"]) == 0
    rows = json.loads(target.read_text(encoding="utf-8"))["rows"]
    kinds = ["verbatim", "trimmed", "rewrapped", "edited", "reordered", "none", "overall"]
    assert [(r["kind"], r["system"]) for r in rows] == [(k, s) for k in kinds for s in ("dedup", "8-gram")]
    assert all(0 <= r["plagdet"] <= 1 for r in rows if r["kind"] != "none")


def test_without_the_texts_the_benchmark_says_what_to_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data", str(tmp_path / "missing")]) == 2
    assert "pass --data DIR" in capsys.readouterr().err
