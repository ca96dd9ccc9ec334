"""The compiled kernels (each stage's _kernels.pyx) compute exactly what the Python and numpy code does."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup import _kernels
from dedup._index import runs as _runs
from dedup._sketch import minhash as _sketch
from dedup._sketch.minhash import permutations, signatures
from dedup._verify import scorer as _scorer
from dedup._verify.batch import COLUMNS, KERNEL_RULES, StemSets, compiled
from dedup._verify.reference import RATIO_CUTOFF

needs_kernels = pytest.mark.skipif(
    _kernels.PURE_PYTHON or compiled is None or _sketch._compiled is None, reason="compiled kernels not built"
)
needs_sketch_kernels = pytest.mark.skipif(_sketch._compiled is None, reason="sketch kernels not built")
needs_verify_kernels = pytest.mark.skipif(not _scorer.COMPILED, reason="verify kernels not usable")
needs_index_kernel = pytest.mark.skipif(_runs._compiled is None, reason="index kernel not built")


def test_compiled_kernels_are_built_where_ci_requires_them() -> None:
    # scripts/test.sh sets DEDUP_REQUIRE_COMPILED=1: a broken C build must fail CI.
    if os.environ.get("DEDUP_REQUIRE_COMPILED") == "1":
        assert _sketch._compiled is not None
        assert _runs._compiled is not None
        assert compiled is not None and compiled.RAPIDFUZZ_CAPI and _scorer.COMPILED


def test_compiled_scorer_is_chosen_only_with_rapidfuzz_c_interface() -> None:
    # Without the kernels, or when rapidfuzz does not export the RF_Scorer structure they call
    # (another version of it), verification runs the reference rules.
    from types import ModuleType

    kernels = ModuleType("kernels")
    assert not _scorer.compiled_usable(None)
    kernels.RAPIDFUZZ_CAPI = False  # type: ignore[attr-defined]
    assert not _scorer.compiled_usable(kernels)
    kernels.RAPIDFUZZ_CAPI = True  # type: ignore[attr-defined]
    assert _scorer.compiled_usable(kernels)
    assert _scorer.compiled_usable(compiled) is _scorer.COMPILED


@pytest.mark.skipif(compiled is None, reason="verify kernels not built")
def test_verify_kernels_find_rapidfuzz_c_interface() -> None:
    from rapidfuzz import fuzz

    assert compiled is not None
    assert compiled.RAPIDFUZZ_CAPI is hasattr(fuzz.ratio, "_RF_Scorer")


def _numpy_signatures(hashes: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    a, b = permutations(num_perm, seed)
    out = np.empty((offsets.size, num_perm), dtype=np.uint32)
    return _sketch._numpy_signatures(hashes, offsets, a, b, out)


@needs_sketch_kernels
@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=30),
    num_perm=st.sampled_from([1, 7, 16, 128, 256]),
    seed=st.integers(0, 2**31),
    data=st.data(),
)
def test_minhash_kernel_equals_numpy(sizes: list[int], num_perm: int, seed: int, data: st.DataObject) -> None:
    values = data.draw(
        st.lists(st.integers(0, 2**32 - 1), min_size=sum(sizes), max_size=sum(sizes)).map(
            lambda v: np.array(v, dtype=np.uint32)
        )
    )
    offsets = np.cumsum([0, *sizes[:-1]]).astype(np.int64)
    assert np.array_equal(
        signatures(values, offsets, num_perm, seed), _numpy_signatures(values, offsets, num_perm, seed)
    )


@needs_sketch_kernels
def test_minhash_kernel_equals_numpy_on_a_large_batch() -> None:
    # Larger than the numpy code's chunk, so its chunking is exercised too.
    rng = np.random.default_rng(3)
    sizes = rng.integers(1, 60, 5000)
    values = rng.integers(0, 2**32, int(sizes.sum()), dtype=np.uint64).astype(np.uint32)
    offsets = np.cumsum(np.r_[0, sizes[:-1]]).astype(np.int64)
    assert np.array_equal(signatures(values, offsets, 128, 1), _numpy_signatures(values, offsets, 128, 1))


@needs_sketch_kernels
def test_minhash_kernel_rejects_inconsistent_arguments() -> None:
    from dedup._sketch import _kernels as kernels

    a, b = permutations(8, 1)
    hashes = np.arange(5, dtype=np.uint32)
    out = np.empty((2, 8), dtype=np.uint32)
    with pytest.raises(ValueError, match="non-empty"):
        kernels.minhash(hashes, np.array([0, 0], dtype=np.int64), a, b, out)  # empty first set
    with pytest.raises(ValueError, match="non-empty"):
        kernels.minhash(hashes, np.array([0, 9], dtype=np.int64), a, b, out)  # offset out of range
    with pytest.raises(ValueError, match="inconsistent"):
        kernels.minhash(hashes, np.array([0, 2], dtype=np.int64), a, b, np.empty((2, 3), dtype=np.uint32))
    with pytest.raises(ValueError, match="dtype"):
        kernels.minhash(hashes.astype(np.uint64), np.array([0, 2], dtype=np.int64), a, b, out)
    with pytest.raises(ValueError, match="contiguous"):
        kernels.minhash(np.arange(10, dtype=np.uint32)[::2], np.array([0, 2], dtype=np.int64), a, b, out)


def _align_ends_both(x: list[int], y: list[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The kernel's alignment ends of two sequences, and rapidfuzz's (via alignment_ends)."""
    from dedup._verify.reference import Shape, alignment_ends

    assert compiled is not None
    # Token positions with gaps, as content words between stop words have: x's at 2k + 1, y's at 3k.
    filler = 1 + max(x + y, default=0)
    stems = [t for v in x for t in (filler, v)] + [t for v in y for t in (v, filler, filler)]
    content = [t for _ in x for t in (False, True)] + [t for _ in y for t in (True, False, False)]
    lengths = np.array([2 * len(x), 3 * len(y)], dtype=np.int64)
    sets = StemSets.empty(2, len(stems))
    flags = np.array(content, dtype=np.uint8)
    compiled.profiles(
        np.array(stems, dtype=np.int64), flags, np.zeros_like(flags), lengths, sets, rules=KERNEL_RULES
    )
    out = np.empty((1, 4), dtype=np.int64)
    compiled.align_ends(sets, np.array([0]), np.array([1]), out)
    pos_x, pos_y = [2 * k + 1 for k in range(len(x))], [3 * k for k in range(len(y))]
    a = Shape(tuple(pos_x), tuple(f"w{v}" for v in x), 2 * len(x) + 1)
    b = Shape(tuple(pos_y), tuple(f"w{v}" for v in y), 3 * len(y))
    expected = alignment_ends(a, b)
    return tuple(out[0].tolist()), (-1, -1, -1, -1) if expected is None else expected


@needs_verify_kernels
@settings(max_examples=500, deadline=None)
@given(
    alphabet=st.integers(1, 6),
    data=st.data(),
)
def test_alignment_kernel_equals_rapidfuzz_lcs(alphabet: int, data: st.DataObject) -> None:
    # Small alphabets make many equally long alignments: the kernel must pick rapidfuzz's.
    seq = st.lists(st.integers(0, alphabet - 1), max_size=30)
    x, y = data.draw(seq), data.draw(seq)
    got, expected = _align_ends_both(x, y)
    assert got == expected


@needs_verify_kernels
def test_alignment_kernel_equals_rapidfuzz_lcs_on_long_sequences() -> None:
    # Longer than one 64-bit word on either side: carries and borrows cross words.
    rng = np.random.default_rng(11)
    for n_x, n_y in [(63, 64), (64, 65), (65, 63), (130, 40), (40, 200), (200, 190), (1, 300)]:
        for alphabet in (2, 5, 50):
            x, y = rng.integers(0, alphabet, n_x).tolist(), rng.integers(0, alphabet, n_y).tolist()
            got, expected = _align_ends_both(x, y)
            assert got == expected, (n_x, n_y, alphabet)


def _clustered_signatures(rng: np.random.Generator, n: int) -> np.ndarray:
    """Signatures of ``n`` rows in groups of near-copies (half their values redrawn), so buckets fill."""
    base = rng.integers(0, 2**32, (n // 4 + 1, 128), dtype=np.uint64).astype(np.uint32)
    sigs = base[rng.integers(0, base.shape[0], n)].copy()
    redraw = rng.random(sigs.shape) < 0.5
    sigs[redraw] = rng.integers(0, 2**32, int(redraw.sum()), dtype=np.uint64).astype(np.uint32)
    sigs[1] = sigs[0]  # one exact copy: its pair shares every band
    return sigs


@needs_sketch_kernels
@pytest.mark.parametrize("n", [2, 3, 40, 300, 600, 12_000])  # tallied; emitted once; numpy per-band
@pytest.mark.parametrize(("bands", "rows"), [(37, 3), (32, 1), (8, 16)])
def test_lsh_kernels_equal_numpy(n: int, bands: int, rows: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(n * bands)
    sigs = _clustered_signatures(rng, n)
    keys = _sketch.band_keys(sigs, bands, rows)
    assert np.array_equal(keys, _sketch._numpy_band_keys(sigs, bands, rows))
    # One large bucket (half the rows share their band-1 key) and small bucket caps, too.
    keys[: max(2, n // 2), 1] = keys[0, 1]
    args = [(2, 64, 1), (256, 64, 2), (256, 1, 1), (3, 64, 1)]
    compiled = [_sketch.candidate_pairs(keys, *a) for a in args]
    # The pair kernel with its bands split over two threads (from 100k rows by default).
    threaded = [_sketch._kernel_pairs(keys, *a, thread_min_rows=0) for a in args]
    monkeypatch.setattr(_sketch, "_compiled", None)
    expected = [_sketch.candidate_pairs(keys, *a) for a in args]
    assert all(np.array_equal(c, e) for c, e in zip(compiled, expected, strict=True))
    assert all(np.array_equal(t, e) for t, e in zip(threaded, expected, strict=True))
    assert compiled[0].size and compiled[1].size


@needs_sketch_kernels
@pytest.mark.parametrize("thread_min_rows", [0, 1 << 62])
def test_pair_kernel_gives_the_same_codes_and_counts_threaded_or_not(thread_min_rows: int) -> None:
    from dedup._sketch import _kernels as kernels

    keys = _sketch.band_keys(_clustered_signatures(np.random.default_rng(8), 3000), 37, 3)
    keys[:500, 1] = keys[0, 1]  # an oversized bucket (over 256 rows)
    codes, counts, is_sorted = kernels.pair_counts(keys, 256, 2, True, thread_min_rows=thread_min_rows)
    alone, _, _ = kernels.pair_counts(keys, 256, 2, False, thread_min_rows=1 << 62)
    assert not is_sorted and counts is not None
    assert codes.tolist() == alone.tolist()  # the same order: no dependence on thread timing
    # The counts are the shared bands outside oversized buckets, as the n x n tally counts them.
    lo, hi = codes // 3000, codes % 3000
    same = keys[lo] == keys[hi]
    same[:, 1] &= ~((lo < 500) & (hi < 500))
    assert counts.tolist() == same.sum(axis=1).tolist()
    assert (counts >= 2).all()


@needs_sketch_kernels
def test_sketch_kernels_reject_inconsistent_arguments() -> None:
    from dedup._sketch import _kernels as kernels

    sigs = np.zeros((4, 16), dtype=np.uint32)
    with pytest.raises(ValueError, match="inconsistent"):
        kernels.band_keys(sigs, 8, 3, np.empty((4, 8), dtype=np.uint64))  # 24 columns > 16
    with pytest.raises(ValueError, match="inconsistent"):
        kernels.band_keys(sigs, 4, 4, np.empty((4, 3), dtype=np.uint64))
    with pytest.raises(ValueError, match="dtype"):
        kernels.band_keys(sigs.astype(np.int64), 4, 4, np.empty((4, 4), dtype=np.uint64))
    keys = np.zeros((4, 2), dtype=np.uint64)
    with pytest.raises(ValueError, match="min_shared"):
        kernels.pair_counts(keys, 8, 0, False, thread_min_rows=0)
    with pytest.raises(ValueError, match="more rows than an article"):
        kernels.lsh_pairs(
            sigs, np.zeros(3, dtype=np.int64), (4, 4), (2, 8), min_shared=2, max_bucket=8, max_per_row=4,
            doc_mix=1,
        )  # fmt: skip


TEXT = st.text(alphabet=st.sampled_from("ab cdé’\u4e2d\U0001f600"), max_size=140)


@needs_verify_kernels
@settings(max_examples=300, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=12), st.data())
def test_ratio_kernel_equals_rapidfuzz_bit_for_bit(texts: list[str], data: st.DataObject) -> None:
    # Small alphabets (ASCII, Latin-1, BMP and astral code points: each kind of str) give near
    # and far pairs; lengths up to 140 cross the 64-character words of rapidfuzz's LCS.
    from rapidfuzz import fuzz, process

    assert compiled is not None
    ids = st.integers(0, len(texts) - 1)
    pairs = data.draw(st.lists(st.tuples(ids, ids), min_size=1, max_size=20))
    pairs.sort()
    i = np.array([a for a, _ in pairs], dtype=np.int64)
    j = np.array([b for _, b in pairs], dtype=np.int64)
    out = np.empty(i.size, dtype=np.float64)
    compiled.ratios(texts, i, j, out, RATIO_CUTOFF)
    expected = process.cpdist(
        [texts[k] for k in i],
        [texts[k] for k in j],
        scorer=fuzz.ratio,
        score_cutoff=RATIO_CUTOFF,
        dtype=np.float64,
    )
    assert out.view(np.uint64).tolist() == expected.view(np.uint64).tolist()
    one_by_one = [fuzz.ratio(texts[a], texts[b], score_cutoff=RATIO_CUTOFF) for a, b in pairs]
    assert out.tolist() == one_by_one  # what the reference rules call


@needs_verify_kernels
def test_ratio_kernel_equals_rapidfuzz_on_real_sentences() -> None:
    import json
    from pathlib import Path

    from rapidfuzz import fuzz, process

    from dedup._text.segment import segment

    assert compiled is not None

    data = Path(__file__).resolve().parent / "data" / "cnn_poc_highlights_40.jsonl"
    norms = [s.norm for line in data.open(encoding="utf-8") for s in segment(json.loads(line)["text"])]
    norms += [n[: len(n) // 2] + "x" + n[len(n) // 2 :] for n in norms[:300]]  # near copies
    rng = np.random.default_rng(5)
    i = np.sort(rng.integers(0, len(norms), 20_000))
    j = rng.integers(0, len(norms), 20_000)
    i = np.r_[i, np.arange(300)]
    j = np.r_[j, np.arange(len(norms) - 300, len(norms))]
    out = np.empty(i.size, dtype=np.float64)
    compiled.ratios(norms, i, j, out, RATIO_CUTOFF)
    expected = process.cpdist(
        [norms[k] for k in i],
        [norms[k] for k in j],
        scorer=fuzz.ratio,
        score_cutoff=RATIO_CUTOFF,
        dtype=np.float64,
    )
    assert np.array_equal(out.view(np.uint64), expected.view(np.uint64))
    assert (out[-300:] > 90).all()  # the near copies were compared, not cut


@pytest.mark.skipif(compiled is None, reason="verify kernels not built")
def test_flatten_kernel_gives_the_token_columns() -> None:
    from dedup._text.segment import segment

    assert compiled is not None
    sents = segment(
        "Lavrov met Blinken in Geneva. The talks, Lavrov said, were useful.\n\nNo deal was reached."
    )
    stems, content, entity, lengths, norms = compiled.flatten(list(sents), COLUMNS)
    flat = [t for s in sents for t in s.stems]
    first: dict[str, int] = {}
    assert stems.tolist() == [first.setdefault(t, len(first)) for t in flat]
    assert content.tolist() == [c for s in sents for c in s.content]
    assert entity.tolist() == [e for s in sents for e in s.entity]
    assert lengths.tolist() == [len(s.stems) for s in sents]
    assert norms == [s.norm for s in sents]
    with pytest.raises(TypeError, match="sentence tuple"):
        compiled.flatten([("not", "a", "sentence")], COLUMNS)


@pytest.mark.skipif(compiled is None, reason="verify kernels not built")
def test_flatten_kernel_continues_a_stem_numbering_across_calls() -> None:
    from dedup._text.segment import segment

    assert compiled is not None
    sents = segment("Lavrov met Blinken in Geneva. Blinken met Lavrov again.\n\nGeneva was calm.")
    whole = compiled.flatten(list(sents), COLUMNS)[0]
    ids: dict[str, int] = {}
    parts = [compiled.flatten([s], COLUMNS, ids)[0] for s in sents]
    assert np.concatenate(parts).tolist() == whole.tolist()
    assert sorted(ids.values()) == list(range(len(ids)))
    with pytest.raises(TypeError):
        compiled.flatten(list(sents), COLUMNS, {"lavrov": "not an id"})  # type: ignore[dict-item]


def _newest_live(
    entries: list[tuple[int, int]], q: np.ndarray, cap: int, truncate: bool, dead: set[int]
) -> tuple[list[int], list[int]]:
    """The reference of ``SortedRuns.lookup``: each key's live ids, newest first, capped."""
    out_q: list[int] = []
    out_s: list[int] = []
    for n, key in enumerate(q.tolist()):
        ids = [s for k, s in reversed(entries) if max(k, 1) == max(key, 1) and s not in dead]
        if len(ids) > cap and not truncate:
            continue
        out_q += [n] * len(ids[:cap])
        out_s += ids[:cap]
    return out_q, out_s


@needs_index_kernel
@settings(max_examples=100, deadline=None)
@given(
    batches=st.lists(st.lists(st.integers(0, 40), max_size=80), min_size=1, max_size=8),
    queries=st.lists(st.integers(0, 45), max_size=40),
    cap=st.integers(0, 9),
    truncate=st.booleans(),
    dead=st.sets(st.integers(0, 400), max_size=60),
)
def test_sorted_runs_lookup_equals_the_reference_with_and_without_the_kernel(
    batches: list[list[int]], queries: list[int], cap: int, truncate: bool, dead: set[int]
) -> None:
    from dedup._index.runs import SortedRuns

    runs = SortedRuns(level0=16)  # small: runs merge across several levels
    entries: list[tuple[int, int]] = []
    small, _runs._SMALL = _runs._SMALL, 24  # runs over 24 entries split into directory and low bits
    try:
        for batch in batches:
            sids = np.arange(len(entries), len(entries) + len(batch), dtype=np.int64) // 2  # ids repeat
            entries += list(zip(batch, sids.tolist(), strict=True))
            runs.insert(np.array(batch, dtype=np.uint64), sids)  # key 0 included (stored as 1)
    finally:
        _runs._SMALL = small
    q = np.array(queries, dtype=np.uint64)
    alive = np.array([s not in dead for s in range(len(entries) + 1)])
    expected = _newest_live(entries, q, cap, truncate, dead)
    for kernel in (_runs._compiled, None):
        saved, _runs._compiled = _runs._compiled, kernel
        try:
            got = runs.lookup(
                q, cap=cap, truncate=truncate, alive=alive.__getitem__ if dead else None, dead=len(dead)
            )
        finally:
            _runs._compiled = saved
        assert got[0].dtype == got[1].dtype == np.int64
        assert (got[0].tolist(), got[1].tolist()) == expected


@needs_index_kernel
def test_run_ranges_kernel_equals_the_numpy_search_on_large_runs() -> None:
    from dedup._index import _kernels as kernels
    from dedup._index import runs

    rng = np.random.default_rng(4)
    for n in (0, 1, 17, 5000, 200_000):
        raw = rng.zipf(1.3, n).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        keys = np.sort(runs.stored_keys(raw))
        lows, cells = runs._Run(keys, np.arange(n, dtype=np.uint32)).parts()
        q = runs.stored_keys(np.r_[raw[:3000:7], rng.integers(0, 2**63, 500).astype(np.uint64), 2**64 - 1])
        lo, hi = kernels.run_ranges(q, lows, cells)
        assert lo.tolist() == np.searchsorted(keys, q, side="left").tolist()
        assert hi.tolist() == np.searchsorted(keys, q, side="right").tolist()
        saved, runs._compiled = runs._compiled, None
        try:
            ref = runs.ranges(q, lows, cells)
        finally:
            runs._compiled = saved
        assert (ref[0].tolist(), ref[1].tolist()) == (lo.tolist(), hi.tolist())


@needs_index_kernel
def test_run_ranges_kernel_rejects_a_directory_that_does_not_fit() -> None:
    from dedup._index import _kernels as kernels
    from dedup._index.runs import _Run

    keys = np.array([3, 5, 5, 9], dtype=np.uint64)
    lows, cells = _Run(keys, np.arange(4, dtype=np.uint32)).parts()
    with pytest.raises(ValueError, match="65,537 offsets"):
        kernels.run_ranges(keys, lows, cells[:-1])
    with pytest.raises(ValueError, match="does not span the run"):
        kernels.run_ranges(keys, lows[:3], cells)
    bad = cells.copy()
    bad[1] = 3
    bad[0] = 0
    bad[2] = 2  # falls back below the previous offset
    with pytest.raises(ValueError, match="directory pointing outside"):
        kernels.run_ranges(np.array([1 << 32], dtype=np.uint64), lows, bad)
    with pytest.raises(ValueError, match="more than 48 bits"):
        kernels.run_ranges(np.array([1 << 48], dtype=np.uint64), lows, cells)


@needs_sketch_kernels
@pytest.mark.parametrize("n", [2, 5, 37, 100])
@pytest.mark.parametrize("n_docs", [1, 3])
def test_lsh_candidates_kernel_equals_numpy(n: int, n_docs: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from dedup._options import Options
    from dedup._sketch import lsh as _engine

    rng = np.random.default_rng(n * 10 + n_docs)
    sigs = _clustered_signatures(rng, n)
    docs = np.sort(rng.integers(0, n_docs, n)).astype(np.int64)
    options = [Options(), Options(lsh_threshold=0.5, local_lsh_threshold=0.1)]
    compiled = [_engine.lsh_candidates(sigs, docs, o) for o in options]
    monkeypatch.setattr(_engine, "_compiled", None)
    monkeypatch.setattr(_sketch, "_compiled", None)
    assert all(
        np.array_equal(c, _engine.lsh_candidates(sigs, docs, o))
        for c, o in zip(compiled, options, strict=True)
    )
    assert compiled[0].size


@needs_sketch_kernels
def test_lsh_pairs_kernel_leaves_row_trimming_to_numpy() -> None:
    from dedup._sketch import _kernels as kernels

    sigs = np.zeros((60, 128), dtype=np.uint32)  # 60 equal rows: every pair shares every band
    docs = np.zeros(60, dtype=np.int64)
    limits = {"min_shared": 2, "max_bucket": 256, "doc_mix": 0xD6E8FEB86659FD93}
    assert kernels.lsh_pairs(sigs, docs, (37, 3), (32, 1), max_per_row=4, **limits) is None  # > 4 a row
    codes = kernels.lsh_pairs(sigs, docs, (37, 3), (32, 1), max_per_row=64, **limits)
    assert codes is not None and codes.tolist() == [i * 60 + j for i in range(60) for j in range(i + 1, 60)]


@needs_sketch_kernels
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_shingle_kernel_equals_numpy(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    from pathlib import Path

    from dedup._sketch import shingle as _shingle
    from dedup._text.segment import segment

    data = Path(__file__).resolve().parent / "data" / "lee_background_40.jsonl"
    texts = [json.loads(line)["text"] for line in data.open(encoding="utf-8")][:10]
    # Sentences shorter than n, of stop words only, of one word, repeated words, non-ASCII.
    texts.append("It is. The of and. Go! Ünïcödé wörds, wörds, wörds. A b c d e f g h.")
    sents = [s for t in texts for s in segment(t)]
    got = _shingle.sentence_shingle_hashes(sents, n)
    monkeypatch.setattr(_shingle, "_compiled", None)
    expected = _shingle.sentence_shingle_hashes(sents, n)
    assert got[0].dtype == expected[0].dtype and got[1].dtype == expected[1].dtype
    assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])


@needs_verify_kernels
def test_verification_kernels_reject_stem_ids_outside_their_tables() -> None:
    # Stem ids and sentence ids index arrays without bounds checks: a bad one must raise first.
    from dedup._text.segment import segment
    from dedup._verify.batch import BatchScorer

    assert compiled is not None
    sents = segment("The cat sat on the mat. The dog sat on the mat too. A bird flew over.")
    scorer = BatchScorer(sents, np.zeros(len(sents), dtype=np.int64))
    cw_stem = scorer._sets.cw_stem.copy()
    cw_stem[0] = -5  # a content stem id
    bad = scorer._sets._replace(cw_stem=cw_stem)
    with pytest.raises(ValueError, match="negative"):
        compiled.Batch(bad, scorer.norms, scorer.norm_id, scorer.n_tokens)
    with pytest.raises(ValueError, match="out of range"):
        compiled.pair_stage(
            scorer._batch, np.array([0]), np.array([len(sents)]), floor=0.3, rules=KERNEL_RULES, dense_limit=0
        )
    with pytest.raises(ValueError, match="one text per sentence"):
        compiled.Batch(scorer._sets, scorer.norms[1:], scorer.norm_id, scorer.n_tokens)


@needs_verify_kernels
def test_cover_kernel_takes_as_many_sources_as_the_python_side_sends_it() -> None:
    # KERNEL_MAX_SOURCES (Python) and COVER_MAX_SOURCES (Cython) are one limit: up to it, the kernel.
    from dedup._text.segment import segment
    from dedup._verify.batch import KERNEL_MAX_SOURCES, BatchScorer

    sents = segment("The cat sat on the mat. The cat sat on a mat today. A dog sat on the mat.")
    scorer = BatchScorer(sents, np.zeros(len(sents), dtype=np.int64))
    a, b, c = np.array([0, 1]), np.array([1, 0]), np.array([0.5, 0.5])
    no = np.zeros(0, np.int64), np.zeros(0)
    assert compiled is not None and compiled.MAX_SOURCES == KERNEL_MAX_SOURCES
    scorer._cover_stage(a, b, c, 0.3, 0.1, KERNEL_MAX_SOURCES, *no)
    with pytest.raises(ValueError, match=f"max_sources must be in \\[1, {KERNEL_MAX_SOURCES}\\]"):
        scorer._cover_stage(a, b, c, 0.3, 0.1, KERNEL_MAX_SOURCES + 1, *no)


def test_kernel_rules_are_the_rules() -> None:
    from dedup import _rules
    from dedup._verify.batch import KERNEL_RULES

    assert KERNEL_RULES._asdict() == {name: getattr(_rules, name.upper()) for name in KERNEL_RULES._fields}


@pytest.mark.skipif(compiled is None, reason="verify kernels not built")
def test_flatten_kernel_equals_the_python_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    # Corpus mode ships its sentences as these columns, made by either; one stem numbering
    # continues across calls.
    from dedup._text.segment import segment
    from dedup._verify import scorer

    texts = ["The cat sat on the mat. The Cat sat, 12 times!", "It is. Ünïcödé wörds, wörds. A b c d e f."]
    batches = [segment(t) for t in texts]
    compiled_ids: dict[str, int] = {}
    compiled = [scorer.flatten(b, compiled_ids) for b in batches]
    monkeypatch.setattr(scorer, "compiled", None)
    python_ids: dict[str, int] = {}
    by_python = [scorer.flatten(b, python_ids) for b in batches]
    assert list(compiled_ids.items()) == list(python_ids.items())
    for got, expected in zip(by_python, compiled, strict=True):
        assert [a.tolist() for a in got[:4]] == [a.tolist() for a in expected[:4]]
        assert [a.dtype for a in got[:4]] == [a.dtype for a in expected[:4]]
        assert got[4] == expected[4]
