"""Signatures and banding stay interchangeable with datasketch, and never change silently."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH

from dedup._sketch.minhash import band_keys, candidate_pairs, lsh_params, signatures, to_datasketch
from dedup._sketch.shingle import sentence_shingle_hashes, token_hash
from dedup._text.segment import segment


def _identity(value: int) -> int:
    return value


def test_signatures_equal_datasketch_minhash_for_the_same_shingle_hashes() -> None:
    rng = np.random.default_rng(7)
    sets = [np.unique(rng.integers(0, 2**32, size=n, dtype=np.uint64).astype(np.uint32)) for n in (1, 5, 300)]
    flat = np.concatenate(sets)
    offsets = np.cumsum([0] + [s.size for s in sets[:-1]]).astype(np.int64)
    for num_perm, seed in ((128, 1), (64, 42)):
        sigs = signatures(flat, offsets, num_perm, seed)
        for row, values in zip(sigs, sets, strict=True):
            reference = MinHash(num_perm=num_perm, seed=seed, hashfunc=_identity)
            reference.update_batch([int(v) for v in values])
            assert np.array_equal(row, reference.hashvalues)


def test_golden_signature_never_changes() -> None:
    # If this fails, every stored signature and saved index is invalidated:
    # bump the index format version and say so in the changelog.
    sentences = segment("Russian troops are leaving the border region.")
    hashes, offsets = sentence_shingle_hashes(sentences, 1)
    sig = signatures(hashes, offsets, 16, 1)
    assert token_hash("troop") == 6494362540309858052
    assert sig[0, :4].tolist() == GOLDEN


GOLDEN = [114409112, 66667298, 437000475, 1951849605]


def test_banding_finds_the_pairs_datasketch_lsh_finds() -> None:
    text = "\n".join(
        [
            "The council approved a new library for the northern district.",
            "The council approved a new library for the northern district on Monday.",
            "Heavy rain flooded the coastal road overnight.",
            "Heavy rain flooded the coastal road overnight, police said.",
            "An unrelated sentence about orchestras and violins.",
        ]
    )
    sentences = segment(text)
    hashes, offsets = sentence_shingle_hashes(sentences, 1)
    sigs = signatures(hashes, offsets, 128, 1)
    bands, rows = lsh_params(0.5, 128)
    ours = {tuple(p) for p in candidate_pairs(band_keys(sigs, bands, rows)).tolist()}
    lsh = MinHashLSH(threshold=0.5, num_perm=128, params=(bands, rows))
    for n, row in enumerate(sigs):
        lsh.insert(n, to_datasketch(row, 1))
    theirs = {
        tuple(sorted((n, m)))
        for n, row in enumerate(sigs)
        for m in lsh.query(to_datasketch(row, 1))
        if m != n
    }
    assert ours == theirs
    assert (0, 1) in ours and (2, 3) in ours


@pytest.mark.parametrize("per_band", [False, True])
def test_min_shared_keeps_exactly_the_pairs_sharing_that_many_bands(
    per_band: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dedup._sketch.minhash as sketch

    # Both sorting strategies (one sort of all keys; each band on its own, for big batches).
    monkeypatch.setattr(sketch, "_PER_BAND_SORT_MIN", 0 if per_band else 10**9)
    rng = np.random.default_rng(5)
    keys = rng.integers(0, 6, size=(40, 8)).astype(np.uint64)  # few distinct keys: many collisions
    keys += np.arange(8, dtype=np.uint64)[None, :] * np.uint64(1000)  # bands never share keys
    counts: dict[tuple[int, int], int] = {}
    for i in range(40):
        for j in range(i + 1, 40):
            counts[(i, j)] = int((keys[i] == keys[j]).sum())
    for k in (1, 2, 3):
        got = {tuple(p) for p in candidate_pairs(keys, max_per_row=1000, min_shared=k).tolist()}
        assert got == {p for p, c in counts.items() if c >= k}


def test_the_two_lsh_families_give_the_same_pairs_in_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    import dedup._sketch.lsh as engine
    from dedup._options import Options

    lines = [f"Sentence {n % 7} about the harbour, the council and {n % 5} new ferries." for n in range(60)]
    text = "\n".join(lines)
    sentences = segment(text)
    hashes, offsets = sentence_shingle_hashes(sentences, 1)
    sigs = signatures(hashes, offsets, 128, 1)
    docs = np.arange(len(sentences), dtype=np.int64) // 10
    serial = engine.lsh_candidates(sigs, docs, Options())
    monkeypatch.setattr(engine, "_THREADED_LSH_MIN", 0)
    threaded = engine.lsh_candidates(sigs, docs, Options())
    assert serial.size and np.array_equal(serial, threaded)


def test_known_lsh_params_are_datasketchs() -> None:
    from datasketch.lsh import _optimal_param

    from dedup._sketch.minhash import KNOWN_LSH_PARAMS

    for (threshold, num_perm), params in KNOWN_LSH_PARAMS.items():
        assert params == _optimal_param(threshold, num_perm, 0.5, 0.5)


def test_importing_dedup_and_the_default_path_do_not_import_datasketch() -> None:
    import subprocess
    import sys

    code = (
        "import sys, dedup; dedup.find_duplicates('One sentence here now. One sentence here now.'); "
        "print('datasketch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
