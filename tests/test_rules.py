"""Every implementation of a rule reads its constants from ``dedup._rules``: none restates one.

Each test changes one value of :mod:`dedup._rules` before anything else of ``dedup`` is
imported (in a fresh interpreter: the stages bind the values when they import them), then
runs every implementation of the rules that use it on the same inputs: the candidate pairs
of the compiled and the numpy LSH, the links of the reference ``Verifier`` (per pair, and
driven over the batch as the path without a compiler) and of the compiled kernels (with and
without their per-row tables), and the clusters of
``build`` and ``build_table``.  They must agree with each other, and differ from the results
of the unchanged rules (else the change was not seen and the test proves nothing).  A copy
of a constant as a bare number anywhere in those paths makes them disagree.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dedup import _rules

ROOT = Path(__file__).resolve().parent.parent

# Run in a fresh interpreter: argv = [stage, name, value as JSON] (no name: the rules as they are).
_CHILD = r"""
import importlib.util, json, sys

stage, path = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location("dedup._rules", path)
rules = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rules)
if len(sys.argv) > 3:
    name, value = sys.argv[3], json.loads(sys.argv[4])
    assert hasattr(rules, name), name
    setattr(rules, name, value)
sys.modules["dedup._rules"] = rules  # what every stage imports from now on

from tests.test_rules import child_results

print(json.dumps(child_results(stage)))
"""


def child_results(stage: str) -> Any:
    """What the implementations of ``stage``'s rules give (run in the child; asserts they agree)."""
    if stage == "sketch":
        return _sketch_results()
    if stage == "verify":
        return _verify_results()
    return _cluster_results()


def _texts() -> list[str]:
    data = ROOT / "tests" / "data"
    cnn = [json.loads(line)["text"] for line in (data / "cnn_poc_highlights_40.jsonl").open(encoding="utf-8")]
    lee = [json.loads(line)["text"] for line in (data / "lee_background_40.jsonl").open(encoding="utf-8")]
    seed = (ROOT / "seeds" / "000_2e71187361903d7a.txt").read_text(encoding="utf-8")
    return [seed, *cnn[:6], *lee[:6]]


def _sentences(texts: list[str]) -> tuple[list[Any], Any]:
    import numpy as np

    from dedup._text.segment import segment

    sents, docs = [], []
    for d, text in enumerate(texts):
        found = segment(text)
        sents.extend(found)
        docs.extend([d] * len(found))
    return sents, np.asarray(docs, dtype=np.int64)


def _candidates(sents: list[Any], docs: Any, options: Any) -> Any:
    from dedup._sketch.lsh import lsh_candidates
    from dedup._sketch.minhash import signatures
    from dedup._sketch.shingle import sentence_shingle_hashes

    hashes, offsets = sentence_shingle_hashes(sents, options.shingle_size)
    return lsh_candidates(signatures(hashes, offsets, options.num_perm, options.seed), docs, options)


def _sketch_results() -> list[list[int]]:
    from dedup._options import Options
    from dedup._sketch import lsh, minhash

    sents, docs = _sentences(_texts())
    assert len(sents) <= minhash.KERNEL_TALLY_MAX_ROWS  # one compiled ``lsh_pairs`` call
    kernels = minhash._compiled
    compiled = _candidates(sents, docs, Options())
    lsh._compiled = minhash._compiled = None  # type: ignore[assignment]
    by_numpy = _candidates(sents, docs, Options())
    if kernels is not None:
        assert compiled.tolist() == by_numpy.tolist(), "compiled and numpy LSH differ"
    pairs: list[list[int]] = by_numpy.tolist()
    return pairs


def _verify_results() -> list[Any]:
    import numpy as np

    from dedup._options import Options
    from dedup._verify import scorer
    from dedup._verify.batch import BatchScorer
    from dedup._verify.run import verify_candidates
    from tests.verify.test_batchverify import reference_links

    texts = _texts()
    sents, docs = _sentences(texts)
    found = []
    for options in (Options(threshold=0.3), Options(max_sources=3, min_gain=0.05)):
        cases = [(sents, docs, _candidates(sents, docs, options))]
        for text in texts[1:5]:  # one article, every sentence pair a candidate: large pools and covers
            one, one_docs = _sentences([text])
            i, j = np.triu_indices(len(one), 1)
            cases.append((one, one_docs, np.stack((i, j), axis=1).astype(np.int64)))
        for case_sents, case_docs, pairs in cases:
            expected = reference_links(case_sents, case_docs, pairs, options)
            compiled = scorer.COMPILED
            paths: dict[str, int | None] = {"reference": None}
            if compiled:
                paths = {"compiled": BatchScorer.dense_limit, "compiled-merges": 0, **paths}
            for path, dense in paths.items():
                if dense is None:
                    scorer.COMPILED = False
                else:
                    BatchScorer.dense_limit = dense
                got = verify_candidates(case_sents, case_docs, pairs, options)
                assert got == expected, f"{path} scorer differs from the reference Verifier"
            scorer.COMPILED = compiled
            found.append([tuple(link) for link in expected])
    return found


def _cluster_results() -> list[Any]:
    import random

    from dedup._cluster.build import build
    from tests.cluster.test_table import _corpus, _links, test_build_table_equals_build

    found = []
    for seed in range(12):
        test_build_table_equals_build(seed, 0.5)  # asserts that the two cluster builders agree
        rng = random.Random(seed)  # the same corpus and links as that test
        sentences, sent_doc, docs = _corpus(rng)
        if len(sentences) >= 2:
            clusters, _ = build(sorted(_links(rng, sentences)), sentences, sent_doc, docs, 0.5)
            found.append([[(p.key, p.span.start, p.span.end) for p in c.passages] for c in clusters])
    # A copied passage with a reworded sentence inside (the gap rule), through every front end.
    from tests.test_passage_alignment import edited_copy, front_ends

    results = dict(front_ends(edited_copy()[0]))
    assert all(got == results["memory"] for got in results.values()), results
    found.append(results["memory"])
    return found


def _run(stage: str, *change: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, stage, _rules.__file__, *change],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


_BASELINE: dict[str, Any] = {}


def _baseline(stage: str) -> Any:
    if stage not in _BASELINE:
        _BASELINE[stage] = _run(stage)
    return _BASELINE[stage]


#: (stage whose implementations use it, constant, a changed value the inputs above notice).
#: Values are exact binary fractions, so that no path differs from another by rounding.
CHANGES: list[tuple[str, str, object]] = [
    ("sketch", "LSH_MAX_BUCKET", 4),
    ("sketch", "LSH_MAX_PER_ROW", 2),
    ("sketch", "MIN_SHARED_BANDS", 1),
    ("verify", "ENTITY_WEIGHT", 3.0),
    ("verify", "SHRINK", 0.5),
    ("verify", "RATIO_ZERO", 0.25),
    ("verify", "SPREAD", 1.25),
    ("verify", "POOL_RATIO", 0.25),
    ("verify", "MAX_POOL", 3),
    ("verify", "STRONG_FIRST", 0.5),
    ("verify", "ALSO_RESTATES", 0.5),
    ("verify", "MIN_NEW_WORDS", 4),
    ("verify", "WHOLE_SHARE", 0.75),
    ("verify", "EDGE_SLACK_MIN", 1),
    ("verify", "EDGE_SLACK_DIVISOR", 2),
    ("verify", "LINK_FLOOR", 0.25),
    ("cluster", "PASSAGE_OVERLAP", 0.25),
    ("cluster", "PASSAGE_ADJACENT", 0),
    ("cluster", "EDGE_WORDS", 1),
    ("cluster", "PASSAGE_GAP", 0),
    ("cluster", "GAP_RATIO", 0.25),
    ("sketch", "DOC_KEY_MIX", 0),
    # Read by ``segment`` (both tokenisers); the verify stage's sentences come from it.
    ("verify", "TOPIC_SENTENCES", 1),
]


@pytest.mark.parametrize(("stage", "name", "value"), CHANGES, ids=lambda x: str(x))
def test_every_implementation_follows_a_changed_rule(stage: str, name: str, value: object) -> None:
    changed = _run(stage, name, json.dumps(value))
    assert changed != _baseline(stage), f"changing {name} changed nothing: the test inputs do not reach it"


def test_every_rule_constant_is_changed_by_a_test_or_has_one_implementation() -> None:
    # The index's caps are read by one implementation (memory and Redis share the names).
    single = {"INDEX_MAX_BUCKET", "MAX_PER_SENTENCE", "MAX_EXACT"}
    tested = {name for _, name, _ in CHANGES}
    assert set(_rules.__all__) == tested | single
