"""The compiled verifier gives exactly the links of the per-pair reference verifier.

``dedup._verify.reference.Verifier`` states the scoring rules one pair and one sentence
at a time (Spark's executors use it as is); ``verify_candidates`` computes the
same links with the compiled kernels, in batches with bounds that skip hopeless
pairs, or without them by driving the reference over the batch.  Any
difference, even in the sixth decimal of one score, fails here.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dedup._options import Options
from dedup._rules import LINK_FLOOR
from dedup._sketch.lsh import lsh_candidates
from dedup._sketch.minhash import signatures
from dedup._sketch.shingle import sentence_shingle_hashes
from dedup._text.segment import Sentence, segment
from dedup._verify import scorer as _scorer
from dedup._verify.batch import BatchScorer
from dedup._verify.reference import Link, Verifier
from dedup._verify.run import verify_candidates

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(autouse=True, params=["compiled", "compiled-merges", "reference"])
def scorer_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs on the compiled kernels (dedup/_verify/_kernels.pyx) and on the reference
    scorer (the path without them).

    ``compiled-merges``: the kernels without their per-row stem tables (the path of huge vocabularies).
    """
    if request.param.startswith("compiled") and not _scorer.COMPILED:
        pytest.skip("compiled kernels not built")
    if request.param == "reference":
        monkeypatch.setattr(_scorer, "COMPILED", False)
    if request.param == "compiled-merges":
        monkeypatch.setattr(BatchScorer, "dense_limit", 0)
    return str(request.param)


def reference_links(
    sentences: list[Sentence], docs: np.ndarray, pairs: np.ndarray, options: Options
) -> list[Link]:
    """The links as the reference verifier defines them: pairs, then each row's greedy cover."""
    verifier = Verifier(sentences, min_words=options.min_words, sent_doc=docs.tolist())
    eligible = np.array([verifier.eligible(k) for k in range(len(sentences))], dtype=bool)
    pairs = pairs[eligible[pairs[:, 0]] & eligible[pairs[:, 1]]]
    floor = min(LINK_FLOOR, options.threshold)
    best: dict[tuple[int, int], Link] = {}
    copies: dict[str, int] = {}
    for k, sent in enumerate(sentences):
        prev = copies.get(sent.norm)
        if prev is not None:
            spans = (0, len(sentences[prev].words)), (0, len(sent.words))
            best[(prev, k)] = Link(prev, k, 1.0, "exact", *spans)
        copies[sent.norm] = k
    todo = [(i, j) for i, j in pairs.tolist() if (i, j) not in best]
    partners: dict[int, list[int]] = {}
    for i, j in todo:
        partners.setdefault(i, []).append(j)
        partners.setdefault(j, []).append(i)
    for i, j in todo:
        link = verifier.pair(i, j)
        if link is not None and link.score >= floor:
            best[(i, j)] = link
    max_sources = options.max_sources if options.fusion else 1
    for i in sorted(partners):
        covers = verifier.cover(i, sorted(partners[i]), min_gain=options.min_gain, max_sources=max_sources)
        for link in covers:
            key = (min(link.i, link.j), max(link.i, link.j))
            if link.i > link.j:
                link = Link(link.j, link.i, link.score, link.kind, link.span_j, link.span_i)
            old = best.get(key)
            if link.score >= floor and (old is None or link.score > old.score):
                best[key] = link
    return [best[k] for k in sorted(best)]


def _sentences(texts: list[str]) -> tuple[list[Sentence], np.ndarray]:
    sents: list[Sentence] = []
    docs: list[int] = []
    for d, text in enumerate(texts):
        for s in segment(text):
            sents.append(s)
            docs.append(d)
    return sents, np.asarray(docs, dtype=np.int64)


def _check(texts: list[str], options: Options, *, all_pairs: bool = False) -> int:
    sents, docs = _sentences(texts)
    if all_pairs:
        i, j = np.triu_indices(len(sents), 1)
        pairs = np.stack((i, j), axis=1).astype(np.int64)
    else:
        hashes, offsets = sentence_shingle_hashes(sents, options.shingle_size)
        pairs = lsh_candidates(signatures(hashes, offsets, options.num_perm, options.seed), docs, options)
    expected = reference_links(sents, docs, pairs, options)
    assert verify_candidates(sents, docs, pairs, options) == expected
    return len(expected)


def _texts(name: str) -> list[str]:
    with (DATA / name).open(encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in fh]


OPTIONS = [
    Options(),
    Options(threshold=0.2),
    Options(fusion=False),
    Options(max_sources=3, min_gain=0.05),
    # More sources than the compiled cover holds (a cover has at most MAX_POOL of them).
    Options(max_sources=1000, min_gain=0.01),
]


@pytest.mark.parametrize(
    "options", OPTIONS, ids=["default", "threshold-0.2", "no-fusion", "three-sources", "many-sources"]
)
def test_same_links_as_the_reference_on_real_articles(options: Options, seed_text: str) -> None:
    cnn, lee = _texts("cnn_poc_highlights_40.jsonl"), _texts("lee_background_40.jsonl")
    assert _check([seed_text], options) > 10
    assert _check(cnn[:20] + lee[:20], options) > 100  # one corpus: across and within documents
    for text in cnn[20:30]:  # one article at a time, every sentence pair a candidate
        _check([text], options, all_pairs=True)


def test_same_links_on_one_very_long_document() -> None:
    # 80 articles as one text (~1,900 sentences): big buckets, top-k pruning, large pools.
    text = "\n".join(_texts("cnn_poc_highlights_40.jsonl") + _texts("lee_background_40.jsonl"))
    assert _check([text], Options()) > 1000


def test_large_pools_are_trimmed_like_the_reference() -> None:
    # Sixty sentences about the same thing, short and long: every pool exceeds 32
    # partners, and the longer partners need the locality factor to be ranked.
    rnd = random.Random(7)
    words = "troops border region leaving Kyiv Moscow talks envoy said 12 weeks ceasefire".split()
    filler = "the of and a in on with for to from".split() + [f"w{k}" for k in range(30)]
    sents = []
    for _ in range(60):
        core = rnd.sample(words, 6)
        extra = rnd.sample(filler, rnd.choice([0, 2, 12, 25]))
        sents.append(" ".join(core + extra).capitalize() + ".")
    assert _check([" ".join(sents)], Options(), all_pairs=True) > 0
    assert _check([" ".join(sents)], Options(threshold=0.3), all_pairs=True) > 0


WORD = st.sampled_from("Troops troop border the of Kyiv 12 said leaving region envoy us talks March".split())
SENTENCE = st.lists(WORD, min_size=1, max_size=12).map(lambda ws: " ".join(ws) + ".")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(SENTENCE, min_size=1, max_size=8), min_size=1, max_size=3), st.integers(1, 3))
def test_same_links_as_the_reference_on_random_texts(docs: list[list[str]], sources: int) -> None:
    # A tiny vocabulary with names, figures, stop words and plurals: many ties and overlaps.
    options = Options(max_sources=max(sources, 2), fusion=sources > 1, min_words=1, threshold=0.3)
    _check([" ".join(d) for d in docs], options, all_pairs=True)


def test_threads_scoring_at_once_get_the_same_links(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each text brings stems never seen before, so every thread hands out new stem ids
    # at the same time; a tiny switch interval makes the threads interleave often.
    # (A race there is rare: this guards concurrent use in general, it does not
    # reliably catch a missing lock.)
    import sys
    import threading

    import dedup

    rnd = random.Random(3)

    def text(n: int) -> str:
        words = [f"z{n}q{k}" for k in range(40)]
        sents = [" ".join(rnd.sample(words, 9)).capitalize() + "." for _ in range(12)]
        return " ".join(sents + sents[:3])

    texts = [text(n) for n in range(8)]
    expected = [dedup.find_duplicates(t).to_records() for t in texts]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    got: list[object] = [None] * len(texts)
    try:
        threads = [
            threading.Thread(
                target=lambda k=k: got.__setitem__(k, dedup.find_duplicates(texts[k]).to_records())
            )
            for k in range(len(texts))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert got == expected


@pytest.mark.parametrize("processes", [2, 3])
def test_parallel_verification_gives_the_same_links(
    processes: int, monkeypatch: pytest.MonkeyPatch, scorer_path: str
) -> None:
    # The compiled scorer splits large batches over threads (the reference has no parts).
    import dedup._verify.batch as bv

    if scorer_path == "reference":
        pytest.skip("the reference scorer runs in one thread")
    monkeypatch.setattr(bv, "_SPLIT_MIN_PAIRS", 10)  # split even these small batches
    forks: list[int] = []
    real_split = bv.BatchScorer._split

    def counting(self, workers, method, tasks, shared=()):  # type: ignore[no-untyped-def]
        forks.append(len(tasks))
        return real_split(self, workers, method, tasks, shared)

    monkeypatch.setattr(bv.BatchScorer, "_split", counting)
    cnn, lee = _texts("cnn_poc_highlights_40.jsonl"), _texts("lee_background_40.jsonl")
    # One corpus (across and within documents) and one long document (large pools).
    for texts in (cnn[:20] + lee[:20], ["\n".join(cnn[:15])]):
        sents, docs = _sentences(texts)
        options = Options()
        hashes, offsets = sentence_shingle_hashes(sents, options.shingle_size)
        pairs = lsh_candidates(signatures(hashes, offsets, options.num_perm, options.seed), docs, options)
        one = verify_candidates(sents, docs, pairs, options, jobs=1)
        assert verify_candidates(sents, docs, pairs, options, jobs=processes) == one != []
    assert forks == [processes] * 4  # pair scores and covers, twice
