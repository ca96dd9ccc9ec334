"""Corpus mode: streamed many-document detection equals the in-memory detector, on every input kind."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import dedup
import dedup._cli.corpus as cli
import dedup._corpus.run as corpus
import dedup._verify.run as engine
from dedup._cluster.result import Clusters
from dedup._corpus.run import find_corpus_duplicates, open_source
from dedup._engine import detect
from dedup._options import Options
from dedup._sketch.lsh import lsh_candidates
from dedup._types import Doc
from dedup._verify.scorer import COMPILED

ROOT = Path(__file__).resolve().parents[2]

DOCS = [
    ("a", "Troops are leaving the border region today, officials said.\nMarkets were calm."),
    (
        "b",
        "Analysts expect a rebound in exports.\n\nTroops are leaving the border region today, officials said",
    ),
    ("c", "The council approved a new library for the northern district on Monday."),
    (
        "d",
        "Heavy rain flooded the coastal road overnight.\nThe council approved a new library for the north.",
    ),
    (
        "e",
        "An unrelated sentence about orchestras and violins. Heavy rain flooded the coastal road overnight.",
    ),
]


def _dump(clusters: Clusters) -> list[Any]:
    return [
        [(p.key, p.span.start, p.span.end, p.text) for p in c.passages] + [c.score, c.representative.span]
        for c in clusters
    ] + [(m.a, m.b, m.score, m.kind, m.alignments) for m in clusters.matches]


def _reference(docs: list[tuple[str, str]], **kwargs: Any) -> Clusters:
    options = Options(**kwargs)
    detection = detect([Doc(k, t, n) for n, (k, t) in enumerate(docs)], options)
    return Clusters._from_detection(detection, options.threshold)


def _write_jsonl(path: Path, docs: list[tuple[str, str]]) -> None:
    path.write_text("".join(json.dumps({"id": k, "text": t}) + "\n" for k, t in docs), encoding="utf-8")


def _cnn(n: int) -> list[tuple[str, str]]:
    # The first 40 articles of ../shared/datasets/cnn_poc_highlights (copied: tests must not need shared/).
    path = Path(__file__).resolve().parents[1] / "data" / "cnn_poc_highlights_40.jsonl"
    out = []
    with path.open(encoding="utf-8") as fh:
        for line, _ in zip(fh, range(n), strict=False):
            obj = json.loads(line)
            out.append((obj["id"], obj["text"]))
    return out


def test_corpus_equals_the_in_memory_detector() -> None:
    found = find_corpus_duplicates(DOCS, jobs=1)
    assert found and _dump(found) == _dump(_reference(DOCS))


def test_corpus_equals_the_in_memory_detector_on_real_articles() -> None:
    docs = _cnn(40)
    assert _dump(find_corpus_duplicates(docs, jobs=1)) == _dump(_reference(docs))


@pytest.mark.parametrize("threshold", [0.35, 0.5, 0.8])
def test_corpus_equals_the_in_memory_detector_at_other_thresholds(threshold: float) -> None:
    # Corpus mode keeps no links under the threshold (the scorer's bounds then skip more
    # work): what it keeps must be exactly what the detector finds at that threshold.
    docs = _cnn(40)
    found = find_corpus_duplicates(docs, jobs=1, threshold=threshold)
    assert found and _dump(found) == _dump(_reference(docs, threshold=threshold))


@pytest.mark.parametrize("block_tokens", [1, 300, 5000])
def test_verification_in_blocks_of_documents_gives_the_detector_links(
    block_tokens: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Corpus mode keeps sentences as token columns and scores a pair of blocks at a time;
    # the smallest budget makes every document a block of its own.
    monkeypatch.setattr(engine, "BLOCK_TOKENS", block_tokens)
    docs = _cnn(40)
    found = find_corpus_duplicates(docs, jobs=1, threshold=0.5)
    assert found and _dump(found) == _dump(_reference(docs, threshold=0.5))


@pytest.mark.skipif(not COMPILED, reason="compares the compiled scorer with the reference")
@pytest.mark.parametrize("block_tokens", [300, 10**9])
def test_without_the_kernels_the_reference_scorer_gives_the_same_result(
    block_tokens: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dedup._verify import scorer

    monkeypatch.setattr(engine, "BLOCK_TOKENS", block_tokens)
    docs = _cnn(40)
    found = _dump(find_corpus_duplicates(docs, jobs=1))
    monkeypatch.setattr(scorer, "COMPILED", False)
    assert _dump(find_corpus_duplicates(docs, jobs=1)) == found


def test_two_jobs_give_the_same_result_as_one() -> None:
    docs = _cnn(40)
    assert _dump(find_corpus_duplicates(docs, jobs=2)) == _dump(find_corpus_duplicates(docs, jobs=1))


def test_passages_without_text_keep_their_offsets() -> None:
    with_text = find_corpus_duplicates(DOCS, jobs=1)
    offsets_only = find_corpus_duplicates(DOCS, jobs=1, with_text=False)
    assert [[(p.key, p.span) for p in c.passages] for c in offsets_only] == [
        [(p.key, p.span) for p in c.passages] for c in with_text
    ]
    assert all(p.text == "" for c in offsets_only for p in c.passages)


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(corpus.DuplicateKeyError):
        find_corpus_duplicates([("a", "One sentence here."), ("a", "Another one there.")], jobs=1)


def test_cli_corpus_jsonl_jobs_2_equals_jobs_1(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    _write_jsonl(src, _cnn(30))
    outs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}.jsonl"
        assert cli.corpus_main([str(src), "-o", str(out), "--jobs", jobs, "--quiet"]) == 0
        outs.append(out.read_text(encoding="utf-8"))
    assert outs[0] == outs[1] and outs[0]
    first = json.loads(outs[0].splitlines()[0])
    assert {"cluster", "score", "representative", "passages"} <= set(first)


def test_cli_matches_output_has_one_line_per_match(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    _write_jsonl(src, DOCS)
    out = tmp_path / "m.jsonl"
    assert cli.corpus_main([str(src), "-o", str(out), "--output-kind", "matches", "--jobs", "1"]) == 0
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == len(_reference(DOCS).matches)
    assert {"score", "kind", "a", "b"} <= set(lines[0])


def test_cli_reads_a_directory_of_text_files_and_a_lines_file(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for key, text in DOCS:
        (folder / f"{key}.txt").write_text(text, encoding="utf-8")
    found = find_corpus_duplicates(open_source(str(folder)), jobs=1)
    assert _dump(found) == _dump(_reference([(f"{k}.txt", t) for k, t in DOCS]))
    lines = tmp_path / "lines.txt"
    lines.write_text("".join(t.replace("\n", " ") + "\n" for _, t in DOCS), encoding="utf-8")
    by_line = find_corpus_duplicates(open_source(str(lines)), jobs=1)
    assert {p.key for c in by_line for p in c.passages} <= {"1", "2", "3", "4", "5"} and by_line


def test_cli_reads_standard_input(tmp_path: Path) -> None:
    data = "".join(json.dumps({"id": k, "text": t}) + "\n" for k, t in DOCS)
    proc = subprocess.run(
        [sys.executable, "-m", "dedup", "corpus", "-", "--jobs", "1", "--no-text"],
        input=data.encode(),
        capture_output=True,
        cwd=ROOT,
        check=True,
    )
    lines = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    assert len(lines) == len(_reference(DOCS))
    assert all("text" not in p for line in lines for p in line["passages"])


def test_malformed_json_on_standard_input_is_a_clear_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dedup", "corpus", "-", "--jobs", "1"],
        input=b'{"id": 1, "text": "fine"}\n{broken\n',
        capture_output=True,
        cwd=ROOT,
    )
    assert proc.returncode == 1
    assert "standard input line 2: not a JSON object" in proc.stderr.decode()
    assert "Traceback" not in proc.stderr.decode()


def _corpus_cli(data: bytes, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "dedup", "corpus", *args, "--jobs", "1"],
        input=data,
        capture_output=True,
        cwd=ROOT,
    )


@pytest.mark.parametrize("where", ["stdin", "file"])
def test_a_line_without_an_id_among_lines_with_ids_is_refused(tmp_path: Path, where: str) -> None:
    # Line 3 would be keyed "3", which is also the first line's id: a silent mix-up before.
    data = b'{"id": 3, "text": "Troops are leaving the border."}\n{"id": 9, "text": "x y"}\n{"text": "z"}\n'
    src = tmp_path / "in.jsonl"
    src.write_bytes(data)
    proc = _corpus_cli(data, "-") if where == "stdin" else _corpus_cli(b"", str(src))
    err = proc.stderr.decode()
    where_ = "standard input line 3" if where == "stdin" else f"{src}:3"
    assert proc.returncode == 1 and f"{where_}: has no field 'id' but earlier lines do" in err, err


def test_lines_without_any_id_are_keyed_by_line_number() -> None:
    text = "Troops are leaving the border region today, officials said."
    data = "".join(json.dumps({"text": t}) + "\n" for t in (text, "Other news.", text)).encode()
    proc = _corpus_cli(data, "-", "--no-text")
    assert proc.returncode == 0, proc.stderr.decode()
    (cluster,) = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    assert [p["key"] for p in cluster["passages"]] == ["1", "3"]


def test_a_lone_surrogate_escape_is_refused_when_read_naming_line_and_key() -> None:
    data = b'{"id": "a", "text": "fine \\ud83d\\ude00 pair"}\n{"id": "b", "text": "bad \\ud800 here"}\n'
    proc = _corpus_cli(data, "-")
    err = proc.stderr.decode()
    assert proc.returncode == 1 and "standard input line 2 (key 'b')" in err and "surrogate" in err, err
    assert "Traceback" not in err


def test_invalid_utf8_on_standard_input_names_the_line() -> None:
    for data, args in (
        (b'{"id": 1, "text": "ok"}\n{"id": 2, "text": "caf\xe9"}\n', ()),
        (b"ok\ncaf\xe9\n", ()),
    ):
        proc = _corpus_cli(data, "-", *args)
        err = proc.stderr.decode()
        assert proc.returncode == 1 and "standard input line 2" in err and "UTF-8" in err, err


def test_python_documents_with_a_lone_surrogate_are_a_clear_error() -> None:
    with pytest.raises(corpus.DedupError, match="document 'b'"):
        find_corpus_duplicates([("a", "fine text here"), ("b", "bad \ud800 text")], jobs=1)


def test_interrupted_run_leaves_no_output_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "in.jsonl"
    _write_jsonl(src, DOCS)
    out = tmp_path / "out.jsonl"

    def interrupted(fh: io.TextIOBase, *args: Any, **kwargs: Any) -> None:
        fh.write('{"cluster": 0, "half": ')
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "write_clusters", interrupted)
    assert cli.corpus_main([str(src), "-o", str(out), "--jobs", "1"]) == 130
    assert list(tmp_path.iterdir()) == [src]


def test_bad_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 1, "body": "x"}\n', encoding="utf-8")
    assert cli.corpus_main([str(src), "--jobs", "1"]) == 1
    assert "--text-field" in capsys.readouterr().err


def test_parallel_verification_gives_the_same_links() -> None:
    docs = _cnn(20)
    one = find_corpus_duplicates(docs, jobs=1)
    assert _dump(find_corpus_duplicates(docs, jobs=2)) == _dump(one)


class _ChangingSource(corpus.CorpusSource):
    """Yields the documents, but from the second read on one text is edited."""

    def __init__(self, docs: list[tuple[str, str]], edit: str) -> None:
        self.docs, self.edit, self.reads = docs, edit, 0

    def __iter__(self):  # type: ignore[no-untyped-def]
        self.reads += 1
        for key, text in self.docs:
            yield key, (text.replace("Troops", "Soldiers") if self.reads > 1 and key == self.edit else text)


@pytest.mark.parametrize("jobs", [1, 2])  # 2: pass 2 rebuilds the sentences in workers
def test_a_document_edited_between_passes_is_a_clear_error(jobs: int) -> None:
    source = _ChangingSource(DOCS, edit="a")
    with pytest.raises(corpus.DedupError, match="'a' changed while the corpus was being read"):
        find_corpus_duplicates(source, jobs=jobs)
    # Unchanged, the same source works.
    assert _dump(find_corpus_duplicates(_ChangingSource(DOCS, edit="none"), jobs=jobs)) == _dump(
        _reference(DOCS)
    )


class _FileEditedOnThirdRead(corpus.JsonlSource):
    """A real JSON-lines file, edited in place on disk just before the third read (the passages pass)."""

    reads = 0

    def __iter__(self):  # type: ignore[no-untyped-def]
        self.reads += 1
        if self.reads == 3:
            path = Path(self.path)
            path.write_text(path.read_text(encoding="utf-8").replace("Troops", "Troupe"), encoding="utf-8")
        return super().__iter__()


def test_a_document_edited_before_its_passages_are_read_is_a_clear_error(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    _write_jsonl(src, DOCS)
    source = _FileEditedOnThirdRead(str(src))
    with pytest.raises(corpus.DedupError, match="'a' changed while the corpus was being read"):
        find_corpus_duplicates(source, jobs=1)
    assert source.reads == 3  # the edit came after the sentences were verified


def test_the_collector_pause_is_undone_even_on_errors() -> None:
    import gc

    assert gc.isenabled()
    find_corpus_duplicates(DOCS, jobs=1)
    assert gc.isenabled()
    with pytest.raises(corpus.DuplicateKeyError):
        find_corpus_duplicates([("a", "One sentence here."), ("a", "Another one there.")], jobs=1)
    assert gc.isenabled()
    gc.disable()
    try:
        find_corpus_duplicates(DOCS, jobs=1)
        assert not gc.isenabled()  # a caller's own choice is kept
    finally:
        gc.enable()


TWO = "The ferry left the harbour at dawn with forty passengers. It reached the island before noon."


@pytest.mark.parametrize("kind", ["clusters", "matches"])
@pytest.mark.parametrize("with_text", [True, False])
@pytest.mark.parametrize("chunk", [3, 1 << 14])
def test_written_lines_are_what_json_dumps_makes(
    kind: str, with_text: bool, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(corpus, "_WRITE_CHUNK", chunk)  # lines are made a chunk at a time
    # The writer assembles lines from cached passage encodings; they must equal json.dumps.
    docs = [
        *_cnn(10),
        ("clé «ü»", 'He said "no".\n\nHe said "no".'),
        ("tab\tkey", "A\\b c d e.\nA\\b c d e."),
        ("two-a", f"{TWO}"),
        ("two-b", f"An opening line of our own.\n\n{TWO}"),  # a match of two sentence pairs
    ]
    # The writer works on the columns; the expected lines come from the result objects.
    out = io.StringIO()
    columns = corpus._find(docs, jobs=1, with_text=with_text)
    corpus.write_clusters(out, columns, kind=kind, with_text=with_text)
    found = find_corpus_duplicates(docs, jobs=1, with_text=with_text)

    def passage(p: Any) -> dict[str, Any]:
        item = {"key": p.key, "start": p.span.start, "end": p.span.end}
        return {**item, "text": p.text} if with_text else item

    def alignment(al: Any) -> dict[str, Any]:
        return {
            "a_start": al.a.start,
            "a_end": al.a.end,
            "b_start": al.b.start,
            "b_end": al.b.end,
            "score": al.score,
        }

    if kind == "matches":
        items = [
            {
                "score": m.score,
                "kind": m.kind,
                "a": passage(m.a),
                "b": passage(m.b),
                "alignments": [alignment(al) for al in m.alignments],
            }
            for m in found.matches
        ]
        assert any(len(m.alignments) > 1 for m in found.matches)
    else:
        items = [
            {
                "cluster": n,
                "score": c.score,
                "representative": c.passages.index(c.representative),
                "passages": [passage(p) for p in c.passages],
            }
            for n, c in enumerate(found)
        ]
    expected = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    assert len(items) > 5 and out.getvalue() == expected


@pytest.mark.parametrize("block_tokens", [50, 10**9])
def test_blocked_verification_equals_the_batch_verifier_for_pairs_in_any_order(block_tokens: int) -> None:
    import numpy as np

    from dedup._sketch.minhash import signatures
    from dedup._sketch.shingle import sentence_shingle_hashes
    from dedup._text.segment import segment
    from dedup._verify.scorer import flatten

    options = Options(threshold=0.5)
    sentences, sent_doc = [], []
    for d, (_, text) in enumerate(_cnn(15)):
        found = segment(text)
        sentences.extend(found)
        sent_doc.extend([d] * len(found))
    docs = np.asarray(sent_doc, dtype=np.int64)
    hashes, offsets = sentence_shingle_hashes(sentences, options.shingle_size)
    pairs = lsh_candidates(signatures(hashes, offsets, options.num_perm, options.seed), docs, options)
    shuffled = pairs[np.random.default_rng(7).permutation(len(pairs))]
    columns = engine.SentenceColumns(*flatten(sentences))
    names = np.arange(len(sentences), dtype=np.int64) * 3 + 5  # any increasing numbering
    done: list[int] = []  # the progress callback must account for every candidate pair
    blocked = engine.verify_blocked(
        columns,
        docs,
        shuffled,
        options,
        floor=0.5,
        block_tokens=block_tokens,
        names=names,
        advance=done.append,
    )
    assert sum(done) == len(shuffled) and min(done) >= 0
    reference = engine.verify_candidates(sentences, docs, pairs, options, floor=0.5)
    renamed = [lk._replace(i=int(names[lk.i]), j=int(names[lk.j])) for lk in reference]
    assert len(pairs) > 100 and blocked.to_links() == renamed


def test_one_group_verified_with_its_copy_chain_equals_the_batch_verifier() -> None:
    import numpy as np

    from dedup._sketch.minhash import signatures
    from dedup._sketch.shingle import sentence_shingle_hashes
    from dedup._text.segment import segment
    from dedup._verify.reference import Link
    from dedup._verify.scorer import flatten

    options = Options(threshold=0.5)
    texts = [text for _, text in _cnn(12)]
    texts += [texts[2], "Read more.", "Read more."]  # long and short exact copies
    sentences, sent_doc = [], []
    for d, text in enumerate(texts):
        found = segment(text)
        sentences.extend(found)
        sent_doc.extend([d] * len(found))
    docs = np.asarray(sent_doc, dtype=np.int64)
    hashes, offsets = sentence_shingle_hashes(sentences, options.shingle_size)
    pairs = lsh_candidates(signatures(hashes, offsets, options.num_perm, options.seed), docs, options)
    columns = engine.SentenceColumns(*flatten(sentences))
    nxt = engine.copy_chain(columns.norms)
    chained = np.flatnonzero(nxt >= 0)
    copies = np.stack((chained, nxt[chained]), axis=1)
    names = np.arange(len(sentences), dtype=np.int64) * 2 + 1
    scored = engine.verify_group(columns, docs, pairs, copies, options, floor=0.5, ids=names).to_links()
    n = columns.lengths.tolist()
    copy_links = [
        Link(int(names[a]), int(names[b]), 1.0, "exact", (0, n[a]), (0, n[b])) for a, b in copies.tolist()
    ]
    reference = engine.verify_candidates(sentences, docs, pairs, options, floor=0.5)
    renamed = [lk._replace(i=int(names[lk.i]), j=int(names[lk.j])) for lk in reference]
    assert len(copies) > 2 and sorted(scored + copy_links) == renamed


@pytest.mark.skipif(not COMPILED, reason="needs the compiled kernels")
def test_stem_sets_computed_in_threads_are_those_of_one_call(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    from dedup._text.segment import segment
    from dedup._verify import batch as _batchverify
    from dedup._verify.scorer import flatten

    sentences = [s for _, text in _cnn(10) for s in segment(text)]
    stems, content, entity, lengths, norms = flatten(sentences)
    columns = (stems, content, entity, lengths, norms, np.zeros(len(norms), np.int64))
    monkeypatch.setattr(_batchverify, "_PROFILE_SPLIT_TOKENS", 50)
    one = _batchverify.BatchScorer.from_columns(*columns, workers=1)
    three = _batchverify.BatchScorer.from_columns(*columns, workers=3)

    def used(sets: _batchverify.StemSets) -> list[list[Any]]:
        rows = {
            name: int(getattr(sets, name)[-1]) for name in ("cw_start", "all_start", "ent_start", "seq_start")
        }
        return [
            (
                array
                if name.endswith("_start") or name == "total"
                else array[: rows[_batchverify._STARTS[name]]]
            ).tolist()
            for name, array in sets._asdict().items()
        ]

    assert len(sentences) > 100 and used(three._sets) == used(one._sets)
    # And through a whole corpus run (verification threads = jobs).
    docs = _cnn(40)
    assert _dump(find_corpus_duplicates(docs, jobs=2, threshold=0.5)) == _dump(
        _reference(docs, threshold=0.5)
    )


@pytest.mark.parametrize("n_docs", [1, 40])  # the compiled small-input path, and the band-keys path
def test_lsh_candidates_let_boxed_signatures_go_and_find_the_same_pairs(n_docs: int) -> None:
    import numpy as np

    from dedup._sketch.minhash import signatures
    from dedup._sketch.shingle import sentence_shingle_hashes
    from dedup._text.segment import segment

    options = Options()
    sentences, sent_doc = [], []
    for d, (_, text) in enumerate(_cnn(n_docs)):
        found = segment(text)
        sentences.extend(found)
        sent_doc.extend([d] * len(found))
    hashes, offsets = sentence_shingle_hashes(sentences, options.shingle_size)
    sigs = signatures(hashes, offsets, options.num_perm, options.seed)
    docs = np.asarray(sent_doc, dtype=np.int64)
    box = [sigs.copy()]
    boxed = lsh_candidates(box, docs, options)
    assert box == [] and np.array_equal(boxed, lsh_candidates(sigs, docs, options)) and boxed.size


def test_progress_bars_name_each_phase_on_standard_error(capsys: pytest.CaptureFixture[str]) -> None:
    docs = _cnn(10)
    quiet = find_corpus_duplicates(docs, jobs=1)
    assert capsys.readouterr().err == ""
    shown = find_corpus_duplicates(docs, jobs=1, progress=True)
    err = capsys.readouterr().err
    # "score" counts the pairs of the compiled block verifier; without the kernels the
    # sentence-object path scores during "verify".
    phases = ("sketch", "verify", "score", "passages") if COMPILED else ("sketch", "verify", "passages")
    assert all(phase in err for phase in phases), err
    assert _dump(shown) == _dump(quiet)


_WITHOUT_TQDM = (
    "import sys; sys.modules['tqdm'] = None  # an install without tqdm: importing it fails\n"
    "from dedup._cli.main import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def test_progress_in_a_terminal_without_tqdm_still_writes_the_output(tmp_path: Path) -> None:
    import os
    import pty

    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_jsonl(src, DOCS)
    primary, secondary = pty.openpty()  # standard error is a terminal: progress bars are on
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _WITHOUT_TQDM, "corpus", str(src), "-o", str(out), "--jobs", "1"],
            stderr=secondary,
            cwd=ROOT,
            timeout=120,
        )
        os.close(secondary)
        shown = b""
        with contextlib.suppress(OSError):  # EIO once the terminal's other side is closed
            while chunk := os.read(primary, 4096):
                shown += chunk
    finally:
        os.close(primary)
    assert proc.returncode == 0, shown
    assert b"no progress bar (pip install tqdm)" in shown
    quiet = tmp_path / "quiet.jsonl"
    assert cli.corpus_main([str(src), "-o", str(quiet), "--jobs", "1", "--quiet"]) == 0
    assert out.read_text() == quiet.read_text() != ""


def test_progress_true_without_tqdm_gives_the_same_result(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm raises ImportError
    found = find_corpus_duplicates(DOCS, jobs=1, progress=True)
    assert "no progress bar (pip install tqdm)" in capsys.readouterr().err
    assert found.to_records() == find_corpus_duplicates(DOCS, jobs=1).to_records() != []


def test_corpus_results_refuse_a_rethreshold_below_their_run() -> None:
    found = find_corpus_duplicates(DOCS, jobs=1, threshold=0.6)
    assert found.rethreshold(0.6) == found  # at the run's own cut, the same clusters
    assert found.rethreshold(0.99) == [c for c in found if c.score >= 0.99]
    with pytest.raises(corpus.DedupError, match=r"run it again with threshold=0.4"):
        found.rethreshold(0.4)  # weaker links were never kept: not a silent old answer
    empty = find_corpus_duplicates([("x", "Nothing repeats here at all.")], jobs=1)
    with pytest.raises(corpus.DedupError, match="corpus run"):
        empty.rethreshold(0.4)


def test_every_documents_input_kind_gives_the_same_clusters(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    expected = _dump(find_corpus_duplicates(DOCS, jobs=1))
    keys, texts = zip(*DOCS, strict=True)
    _write_jsonl(tmp_path / "docs.jsonl", DOCS)
    inputs: dict[str, Any] = {
        "pairs (generator)": (pair for pair in DOCS),
        "lists of two": [list(pair) for pair in DOCS],
        "mapping": dict(DOCS),
        "DataFrame with id": pd.DataFrame({"id": keys, "text": texts}),
        "DataFrame keyed by index": pd.DataFrame({"text": texts}, index=list(keys)),
        "Series": pd.Series(texts, index=list(keys)),
        "path": tmp_path / "docs.jsonl",
    }
    for name, source in inputs.items():
        assert _dump(find_corpus_duplicates(source, jobs=1)) == expected, name
    # Texts alone are keyed by position.
    by_position = find_corpus_duplicates(list(texts), jobs=1)
    assert [[p.key for p in c.passages] for c in by_position] == [
        [str(keys.index(p.key)) for p in c.passages] for c in find_corpus_duplicates(DOCS, jobs=1)
    ]
    assert len(find_corpus_duplicates([], jobs=1)) == 0


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("One text, not many.", r"got one str: use dedup.find_duplicates\(text\)"),
        (b"bytes", "got one bytes"),
        (42, "documents must be .* got int"),
        ([("a", "x", "y")], r"document 0: expected a \(key, text\) pair or a str, got tuple of 3 items"),
        (["a text", ("k", "v")], "document 1: expected a str like the first one, got tuple"),
        ([("a", 3)], r"documents must be \(str key, str text\) pairs, got \(str, int\)"),
    ],
)
def test_anything_else_is_a_clear_type_error(source: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        find_corpus_duplicates(source, jobs=1)


def test_a_dataframe_without_a_text_column_is_refused() -> None:
    pd = pytest.importorskip("pandas")
    with pytest.raises(TypeError, match=r"needs a 'text' column \(it has \['body'\]\)"):
        find_corpus_duplicates(pd.DataFrame({"body": ["x"]}), jobs=1)


def test_deduplicate_keeps_first_occurrences_and_drops_emptied_documents() -> None:
    docs = _cnn(12)
    doubled = [*docs, *((f"copy-{k}", t) for k, t in docs[:3])]  # three articles stored twice
    found = find_corpus_duplicates(doubled, jobs=1)
    kept = dict(found.deduplicate(doubled))
    assert not any(k.startswith("copy-") for k in kept)  # the drop list: exactly the copies
    assert [k for k, _ in doubled if k not in kept] == [f"copy-{k}" for k, _ in docs[:3]]
    # The originals come out as they do without the copies (their own restatements cut).
    assert kept == dict(find_corpus_duplicates(docs, jobs=1).deduplicate(docs))
    assert any(kept[k] != t for k, t in docs)  # the highlights that restate the body went
    # Searched again, what is kept has no exact copy left and fewer restatements.
    before, after = find_corpus_duplicates(docs, jobs=1), find_corpus_duplicates(kept, jobs=1)
    assert any(m.kind == "exact" for m in before.matches)
    assert not any(m.kind == "exact" for m in after.matches)
    assert len(after.matches) < len(before.matches), (len(before.matches), len(after.matches))


def test_deduplicate_refuses_documents_other_than_those_searched() -> None:
    found = find_corpus_duplicates(DOCS, jobs=1)
    changed = [(k, t.upper()) for k, t in DOCS]
    with pytest.raises(ValueError, match="is not the text these clusters were found in"):
        list(found.deduplicate(changed))
    with pytest.raises(dedup.InvalidOptionError, match="cover must be"):
        list(found.deduplicate(DOCS, cover=0))
