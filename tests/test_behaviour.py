"""Behaviour of find_duplicates beyond the seed: templates, captions, scripts, edge cases."""

from __future__ import annotations

import dedup


def test_template_sentences_with_other_names_are_not_duplicates() -> None:
    text = (
        "Burnley will be relegated if they lose and Leeds win.\n"
        "Watford will be relegated if they lose and Everton draw.\n"
        "Norwich will be relegated if they lose and Brentford win on Sunday."
    )
    assert dedup.find_duplicates(text) == []


def test_photo_caption_repeating_a_body_sentence_is_found() -> None:
    text = (
        "Firefighters battled the blaze for six hours before it was brought under control.\n\n"
        "The fire started in a warehouse near the harbour late on Tuesday evening. "
        "Firefighters battled the blaze for six hours before it was finally brought under control. "
        "Nobody was injured, the city council said.\n\n"
        "Photo: Firefighters battled the blaze for six hours."
    )
    clusters = dedup.find_duplicates(text)
    assert len(clusters) == 1
    assert len(clusters[0].passages) >= 2


def test_bullet_restating_one_sentence_of_a_long_paragraph_gets_the_sentence_span() -> None:
    body = (
        "The council met on Monday to discuss the budget. "
        "It approved a new library for the northern district after a long debate. "
        "Residents had campaigned for the library for over a decade."
    )
    text = "- The council approved a new library for the northern district.\n" + body
    clusters = dedup.find_duplicates(text)
    assert len(clusters) == 1
    spans = [p.text for p in clusters[0].passages]
    assert "It approved a new library for the northern district after a long debate." in spans


def test_unrelated_sentences_on_one_topic_are_not_linked() -> None:
    text = (
        "The central bank raised interest rates by half a point on Wednesday.\n"
        "Inflation has stayed above the bank's target for two years.\n"
        "Mortgage holders will feel the rate rise within weeks, analysts said.\n"
        "The governor said further increases could not be ruled out."
    )
    assert dedup.find_duplicates(text) == []


def test_text_without_spaces_is_shingled_by_character() -> None:
    sentence = "東京都は新しい図書館を北区に建設することを決定した。"
    text = sentence + "\n天気は晴れです。\n" + sentence
    clusters = dedup.find_duplicates(text)
    assert len(clusters) == 1


def test_empty_and_whitespace_text_give_no_clusters() -> None:
    assert dedup.find_duplicates("") == []
    assert dedup.find_duplicates(" \n\t\n ") == []


def test_odd_text_does_not_crash() -> None:
    odd = [
        "no punctuation at all " * 400,
        "lone surrogate \ud800 in text. lone surrogate \ud800 in text.",
        "control\x00chars\x07 here and there.\n control\x00chars\x07 here and there.",
        "Mixed Кириллица and Ελληνικά and 中文 in one line. " * 2,
        "!!!???...\n\n\n---",
    ]
    for text in odd:
        for c in dedup.find_duplicates(text):
            for p in c.passages:
                assert text[p.span.start : p.span.end] == p.text


def test_very_long_paragraph_is_handled() -> None:
    sentence = "The committee reviewed the annual report of the regional water authority. "
    filler = " ".join(f"Item {n} was discussed by member {n * 7} at length." for n in range(2000))
    text = sentence + filler + " " + sentence
    clusters = dedup.find_duplicates(text)
    assert any(len(c.passages) == 2 for c in clusters)


def test_rethreshold_is_stricter_without_reindexing(seed_text: str) -> None:
    found = dedup.find_duplicates(seed_text)
    strict = found.rethreshold(0.95)
    assert 0 < len(strict) < len(found)
    assert all(c.score >= 0.95 for c in strict)
    assert found.rethreshold(found.threshold) == found


def test_records_have_one_row_per_passage(seed_text: str) -> None:
    found = dedup.find_duplicates(seed_text)
    records = found.to_records()
    assert len(records) == sum(len(c.passages) for c in found)
    assert set(records[0]) >= {"cluster", "score", "key", "start", "end", "text"}


def test_match_explains_itself(seed_text: str) -> None:
    match = dedup.find_duplicates(seed_text).matches[0]
    assert "score" in match.explain()


def test_results_are_readable_in_repr(seed_text: str) -> None:
    cluster = dedup.find_duplicates(seed_text)[0]
    assert repr(cluster).startswith("Cluster(score=")
    assert "Passage(span=" in repr(cluster)


def test_index_links_passages_across_documents() -> None:
    index = dedup.DedupIndex()
    index.add("one", "Storms closed every school in the county on Monday morning.\nOther news.")
    index.add("two", "Officials say storms closed every school in the county on Monday morning.")
    clusters = index.clusters()
    assert len(clusters) == 1
    assert {p.key for p in clusters[0].passages} == {"one", "two"}


def test_index_rejects_a_duplicate_key() -> None:
    index = dedup.DedupIndex()
    index.add("k", "Some text here.")
    try:
        index.add("k", "Other text.")
    except dedup.DuplicateKeyError as err:
        assert isinstance(err, KeyError)
    else:
        raise AssertionError("DuplicateKeyError not raised")
    index.add("k", "Other text.", replace=True)
    assert len(index) == 1 and "k" in index and list(index) == ["k"]
