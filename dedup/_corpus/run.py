"""Corpus mode: many documents streamed through the detector, sketched in worker processes.

Three passes over the source, none of which keeps the corpus text:

1. **Sketch** (parallel): each batch of documents is segmented, shingled and
   MinHashed in a worker; the main process keeps only the index — one
   signature row per sentence (``num_perm`` × 4 bytes), its document and
   paragraph numbers, its offsets and an 8-byte digest of its normalised
   words — plus the document keys and a digest of each document's text.
2. **Verify**: candidate pairs come from the same LSH as :func:`dedup._engine.detect`
   over all signatures at once; the source is read again and, in the workers,
   the sentences of candidate pairs (or of groups of exact copies) are
   rebuilt from their recorded offsets (a document whose digest changed is an
   error) and flattened into token columns (stem ids, flags, normalised text,
   token offsets: a few bytes a token, not sentence objects); the batch
   verifier (:mod:`dedup._verify.scorer`: compiled, or the reference rules)
   scores them a pair of blocks of whole documents at a time
   (:func:`dedup._verify.run.verify_blocked`), so its per-token arrays never
   cover the whole corpus.
3. **Passages**: the source is read a third time for the text of the documents
   that end up in a match (skipped with ``with_text=False``).

Links, matches and clusters stay columns (:mod:`dedup._cluster.table`): the command
line writes its JSON lines from them, and :func:`find_corpus_duplicates` makes
the result objects from them at the end.

The result equals ``DedupIndex.from_texts(...).clusters()`` on the same
documents: the same signatures, the same candidates, the same verification
(which only depends on the order of sentence ids, so it runs on the kept
subset renumbered in order).  Streams that cannot be read twice (standard
input, generators) are spooled to a temporary JSON-lines file first.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import os
import re
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, Unpack, cast

import numpy as np
import numpy.typing as npt

from dedup._arrays import sorted_unique
from dedup._cluster.result import Clusters
from dedup._cluster.table import ResultTable, build_table
from dedup._errors import DedupError, DuplicateKeyError
from dedup._io import owned_temp_file
from dedup._options import Options, OptionValues, options_from
from dedup._parallel import check_jobs, paused_gc, process_pool, release_memory
from dedup._progress import progress_bar
from dedup._sketch.lsh import lsh_candidates
from dedup._sketch.minhash import signatures
from dedup._sketch.shingle import sentence_shingle_hashes
from dedup._text.segment import Sentence, make_sentence, may_have_topic_names, segment
from dedup._verify.links import KINDS
from dedup._verify.run import SentenceColumns, verify_blocked
from dedup._verify.scorer import flatten

__all__ = [
    "CorpusSource",
    "JsonlSource",
    "LinesSource",
    "TextDirSource",
    "find_corpus_duplicates",
    "open_source",
    "write_clusters",
]

# Documents per worker task: big enough to amortise pickling, small enough to balance.
_BATCH_CHARS = 1 << 18
# Matches or clusters per chunk of output lines (Python lists of every side cost ~0.8 GB at 2M matches).
_WRITE_CHUNK = 1 << 14


class CorpusSource:
    """Documents ``(key, text)`` that can be read more than once, with progress in bytes."""

    total: int | None = None  # bytes, when known
    position: int = 0  # bytes consumed by the current pass

    def __iter__(self) -> Iterator[tuple[str, str]]:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        """Release temporary files, if any."""


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DedupError(f"{where} is not valid UTF-8 (byte {err.start}): convert it to UTF-8 first") from err


class JsonlSource(CorpusSource):
    """One JSON object per line; ``text_field`` holds the text, ``id_field`` the key.

    Without an ``id_field`` (or when a line lacks it) the key is the line number.
    """

    def __init__(self, path: str, *, id_field: str | None = "id", text_field: str = "text") -> None:
        self.path, self.id_field, self.text_field = path, id_field, text_field
        self.total = os.path.getsize(path)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        self.position = 0
        keys = _KeyCheck(self.id_field)
        with open(self.path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                self.position += len(raw)
                doc = _json_document(raw, self.path, lineno, self.text_field, keys)
                if doc is not None:
                    yield doc


class _KeyCheck:
    """Keys of JSON lines: from ``id_field`` on every line, or line numbers on every line, never a mix.

    A line number given to a line without an id could equal another line's
    id; mixing the two is refused instead.
    """

    def __init__(self, id_field: str | None) -> None:
        self.id_field = id_field
        self.keyed: bool | None = None if id_field else False

    def key(self, obj: dict[str, Any], where: str, lineno: int) -> str:
        key = obj.get(self.id_field) if self.id_field else None
        has = key is not None
        if self.keyed is None:
            self.keyed = has
        elif has != self.keyed:
            raise DedupError(
                f"{where}: {'has' if has else 'has no'} field {self.id_field!r} but earlier lines "
                f"{'do not' if has else 'do'}: give every line a key, or none (then keys are line numbers)"
            )
        return str(key) if has else str(lineno)


# A JSON escape of a UTF-16 surrogate: only lines holding one need the strict check below.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _json_document(
    raw: str | bytes, path: str | None, lineno: int, text_field: str, keys: _KeyCheck
) -> tuple[str, str] | None:
    """``(key, text)`` of line ``lineno`` of ``path`` (``None``: standard input), ``None`` if blank.

    Keys come from ``id_field``, or are line numbers when no line has one (see :class:`_KeyCheck`).
    """
    if not raw.strip():
        return None
    where = _where(path, lineno)
    try:
        # str, not bytes: json.loads would first sniff the bytes' encoding (a fifth of its time)
        line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as err:
        raise DedupError(f"{where}: not valid UTF-8 (byte {err.start}): convert it to UTF-8 first") from err
    try:
        obj = json.loads(line)
    except ValueError as err:
        raise DedupError(f"{where}: not a JSON object ({err})") from err
    if not isinstance(obj, dict):
        raise DedupError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    text = obj.get(text_field)
    if not isinstance(text, str):
        raise DedupError(
            f"{where}: field {text_field!r} must be a string (choose the field with --text-field)"
        )
    key = keys.key(obj, where, lineno)
    if "\\u" in line and _SURROGATE_ESCAPE.search(line):
        for name, value in (("key", key), ("text", text)):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as err:
                raise DedupError(
                    f"{where} (key {key!r}): the {name} holds a lone UTF-16 surrogate escape "
                    f"at character {err.start} (\\ud800-\\udfff without its pair): not text"
                ) from err
    return key, text


def _where(path: str | None, lineno: int) -> str:
    return f"standard input line {lineno}" if path is None else f"{path}:{lineno}"


class LinesSource(CorpusSource):
    """A plain-text file with one document per line; keys are line numbers (from 1)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.total = os.path.getsize(path)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        self.position = 0
        with open(self.path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                self.position += len(raw)
                text = _decode(raw, f"{self.path} line {lineno}").rstrip("\r\n")
                if text.strip():
                    yield str(lineno), text


class TextDirSource(CorpusSource):
    """Every ``*.txt`` file under a directory is one document, keyed by its relative path."""

    def __init__(self, path: str) -> None:
        root = Path(path)
        self.root = root
        self.files = sorted(p for p in root.rglob("*.txt") if p.is_file())
        self.total = sum(p.stat().st_size for p in self.files)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        self.position = 0
        for p in self.files:
            data = p.read_bytes()
            self.position += len(data)
            yield p.relative_to(self.root).as_posix(), _decode(data, str(p))


class _SpooledSource(JsonlSource):
    """Documents of a one-shot iterable, spooled to a temporary JSON-lines file on first read."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        fd, tmp = owned_temp_file(None, "dedup-corpus-", ".jsonl")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                for key, text in items:
                    if not isinstance(key, str) or not isinstance(text, str):
                        raise TypeError(
                            f"documents must be (str key, str text) pairs, got "
                            f"({type(key).__name__}, {type(text).__name__})"
                        )
                    try:
                        fh.write(json.dumps({"id": key, "text": text}, ensure_ascii=False) + "\n")
                    except UnicodeEncodeError as err:
                        raise DedupError(
                            f"document {key!r}: a lone UTF-16 surrogate at character {err.start} is not text"
                        ) from err
        except BaseException:
            os.unlink(tmp)
            raise
        super().__init__(tmp, id_field="id", text_field="text")
        self.total = None  # the stream is already consumed: no useful progress in bytes

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.path)


#: What :func:`find_corpus_duplicates` reads (see its ``source`` parameter).
Documents = CorpusSource | Iterable[tuple[str, str]] | Iterable[str] | Mapping[str, str] | os.PathLike[str]


def _as_source(source: Documents) -> CorpusSource:
    """The corpus source of any input :func:`find_corpus_duplicates` accepts; ``TypeError`` otherwise."""
    if isinstance(source, CorpusSource):
        return source
    if isinstance(source, (str, bytes)):
        raise TypeError(
            "find_corpus_duplicates takes many documents, got one "
            f"{type(source).__name__}: use dedup.find_duplicates(text) for one text, or pass "
            "pathlib.Path(...) to read a file or folder"
        )
    if isinstance(source, os.PathLike):
        return open_source(os.fspath(source))
    kind = type(source)
    if kind.__module__.startswith("pandas.") and kind.__name__ in ("DataFrame", "Series"):
        frame: Any = source
        if kind.__name__ == "Series":
            return _SpooledSource(zip(map(str, frame.index), frame, strict=True))
        if "text" not in frame.columns:
            raise TypeError(f"a DataFrame of documents needs a 'text' column (it has {list(frame.columns)})")
        keys = frame["id"] if "id" in frame.columns else frame.index
        return _SpooledSource(zip(map(str, keys), frame["text"], strict=True))
    if isinstance(source, Mapping):
        return _SpooledSource(source.items())
    if not isinstance(source, Iterable):
        raise TypeError(
            "documents must be (key, text) pairs, texts, a mapping, a pandas DataFrame or a path, "
            f"got {kind.__name__}"
        )
    return _SpooledSource(_pairs(iter(source)))


def _pairs(items: Iterator[Any]) -> Iterator[tuple[str, str]]:
    """``(key, text)`` pairs of an iterable of pairs, or of texts keyed by position."""
    first = next(items, None)
    if first is None:
        return
    rest = chain([first], items)
    if isinstance(first, str):
        for n, text in enumerate(rest):
            if not isinstance(text, str):
                raise TypeError(f"document {n}: expected a str like the first one, got {type(text).__name__}")
            yield str(n), text
        return
    for n, item in enumerate(rest):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise TypeError(
                f"document {n}: expected a (key, text) pair or a str, got {type(item).__name__}"
                + (f" of {len(item)} items" if isinstance(item, (tuple, list)) else "")
            )
        yield item[0], item[1]


def open_source(path: str, *, id_field: str | None = "id", text_field: str = "text") -> CorpusSource:
    """The documents of ``path``: a ``.jsonl`` file, a plain-text file (one per line), a directory of
    ``.txt`` files, or ``-`` for JSON lines (or plain lines) on standard input."""
    if path == "-":
        data = sys.stdin.buffer
        first = data.peek(1)[:1] if isinstance(data, io.BufferedReader) else b""
        if first == b"{":
            return _SpooledSource(_json_stream(data, id_field, text_field))
        return _SpooledSource(_plain_stream(data))
    if os.path.isdir(path):
        return TextDirSource(path)
    if not os.path.exists(path):
        raise DedupError(f"{path}: no such file or directory")
    if path.endswith((".jsonl", ".ndjson", ".json")):
        return JsonlSource(path, id_field=id_field, text_field=text_field)
    return LinesSource(path)


def _json_stream(lines: Iterable[bytes], id_field: str | None, text_field: str) -> Iterator[tuple[str, str]]:
    keys = _KeyCheck(id_field)
    for n, line in enumerate(lines, 1):
        doc = _json_document(line, None, n, text_field, keys)
        if doc is not None:
            yield doc


def _plain_stream(lines: Iterable[bytes]) -> Iterator[tuple[str, str]]:
    for n, raw in enumerate(lines, 1):
        line = _decode(raw, _where(None, n)).rstrip("\r\n")
        if line.strip():
            yield str(n), line


# --- pass 1: sketches ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Sketch:
    """The index entries of a batch of documents (no text)."""

    n_sents: npt.NDArray[np.int64]  # per document
    text_digest: npt.NDArray[np.uint64]  # per document: pass 2 checks the text is unchanged
    sigs: npt.NDArray[np.uint32]  # per sentence
    para: npt.NDArray[np.int32]
    span: npt.NDArray[np.int64]  # (start, end) offsets in the document: pass 2 rebuilds only those wanted
    digest: npt.NDArray[np.uint64]  # of the normalised words, to find exact copies


def _digest(norm: str) -> int:
    data = norm.encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def _sketch(task: tuple[list[str], Options]) -> _Sketch:
    texts, options = task
    sents: list[Sentence] = []
    counts = np.empty(len(texts), dtype=np.int64)
    for n, text in enumerate(texts):
        found = segment(text)
        counts[n] = len(found)
        sents.extend(found)
    hashes, offsets = sentence_shingle_hashes(sents, options.shingle_size)
    m = len(sents)
    # Fields pulled out with C-level getters (a Python generator per field cost seconds at 1M).
    span = np.empty((m, 2), dtype=np.int64)
    span[:, 0] = np.fromiter(map(_START, sents), np.int64, m)
    span[:, 1] = np.fromiter(map(_END, sents), np.int64, m)
    words = map(" ".join, map(_WORDS, sents))  # = Sentence.norm
    return _Sketch(
        n_sents=counts,
        text_digest=np.fromiter(map(_digest, texts), dtype=np.uint64, count=len(texts)),
        sigs=signatures(hashes, offsets, options.num_perm, options.seed),
        para=np.fromiter(map(_PARA, sents), dtype=np.int32, count=m),
        span=span,
        digest=np.fromiter(map(_digest, words), dtype=np.uint64, count=m),
    )


_PARA, _START, _END, _WORDS = (
    itemgetter(Sentence._fields.index(f)) for f in ("para", "start", "end", "words")
)


def _batches(docs: Iterable[tuple[str, str]], keys: list[str], options: Options) -> Iterator[Any]:
    seen: set[str] = set()
    texts: list[str] = []
    size = 0
    for key, text in docs:
        if key in seen:
            raise DuplicateKeyError(f"key {key!r} occurs twice in the corpus: keys must be unique")
        seen.add(key)
        keys.append(key)
        texts.append(text)
        size += len(text)
        if size >= _BATCH_CHARS:
            yield texts, options
            texts, size = [], 0
    if texts:
        yield texts, options


@contextlib.contextmanager
def _progress(source: CorpusSource, enabled: bool, desc: str) -> Iterator[Callable[[], None]]:
    """A bar over the bytes of one read of ``source``; ``tick()`` after each batch."""
    with progress_bar(enabled, total=source.total, unit="B", unit_scale=True, desc=desc) as advance:
        done = 0

        def tick() -> None:
            nonlocal done
            advance(source.position - done)
            done = source.position

        yield tick


# --- the three passes ------------------------------------------------------------------------


def find_corpus_duplicates(
    source: Documents,
    *,
    jobs: int | None = None,
    progress: bool = False,
    with_text: bool = True,
    **options: Unpack[OptionValues],
) -> Clusters:
    """Clusters of passages repeated within or across the documents of a corpus.

    Parameters
    ----------
    source : iterable of (key, text), list of str, mapping, DataFrame or path
        The documents: ``(key, text)`` pairs (keys unique); a list of texts
        (keys ``"0"``, ``"1"``, …); a mapping of key to text; a pandas
        DataFrame with a ``text`` column (keys from an ``id`` column, else the
        index) or a Series of texts; or a :class:`pathlib.Path` to a ``.jsonl``
        file, a plain-text file (a document per line) or a folder of ``.txt``
        files.  A one-shot iterable is spooled to a temporary file so that it
        can be read again.
    jobs : int, optional
        Worker processes for segmentation, shingling and MinHash (default:
        all cores).  Results do not depend on it.
    progress : bool, default False
        Show a progress bar on standard error.
    with_text : bool, default True
        Read the matched documents once more so that passages carry their
        text; without it passages have offsets only (empty ``text``).
    **options
        Keyword options of :class:`dedup.Options`.

    Examples
    --------
    >>> docs = [("a", "Troops are leaving the border region today."),
    ...         ("b", "Analysts expect a rebound.\\nTroops are leaving the border region today.")]
    >>> import dedup
    >>> for p in dedup.find_corpus_duplicates(docs, jobs=1)[0].passages:
    ...     print(p.key, p.span, p.text)
    a Span(start=0, end=43) Troops are leaving the border region today.
    b Span(start=27, end=70) Troops are leaving the border region today.
    """
    found = _find(source, jobs=jobs, progress=progress, with_text=with_text, **options)
    with paused_gc():
        return found.clusters()


@dataclass(frozen=True)
class _Found:
    """What a corpus run found, as columns (:class:`~dedup._cluster.table.ResultTable`), with the keys and
    the texts (``with_text``) of the documents its passages are in."""

    table: ResultTable
    keys: list[str]
    texts: dict[int, str]
    threshold: float

    def clusters(self) -> Clusters:
        """The result objects (several seconds for millions of matches)."""
        texts = self.texts
        clusters, matches = self.table.materialize(self.keys, lambda d: texts.get(d, ""))
        return Clusters(clusters, tuple(matches), threshold=self.threshold, recut_floor=self.threshold)


def _find(
    source: Documents,
    *,
    jobs: int | None = None,
    progress: bool = False,
    with_text: bool = True,
    **options: Unpack[OptionValues],
) -> _Found:
    """:func:`find_corpus_duplicates` without making the result objects."""
    opts = options_from(options)
    processes = check_jobs(jobs)
    src = _as_source(source)
    try:
        with paused_gc():
            return _run(src, opts, processes, progress, with_text)
    finally:
        if src is not source:
            src.close()


def _run(source: CorpusSource, options: Options, jobs: int, progress: bool, with_text: bool) -> _Found:
    nothing = _Found(ResultTable.empty(), [], {}, options.threshold)
    keys: list[str] = []
    parts: list[_Sketch] = []
    with _progress(source, progress, "sketch") as tick:
        tasks = _batches(source, keys, options)
        with process_pool(jobs) as pool:
            for part in pool.imap(_sketch, tasks) if pool is not None else map(_sketch, tasks):
                parts.append(part)
                tick()
    if not keys:
        return nothing
    n_sents = np.concatenate([p.n_sents for p in parts])
    sigs = _join_signatures(parts, options.num_perm)
    para = np.concatenate([p.para for p in parts])
    span = np.concatenate([p.span for p in parts])
    digest = np.concatenate([p.digest for p in parts])
    text_digest = np.concatenate([p.text_digest for p in parts])
    del parts
    release_memory()
    sent_doc = np.repeat(np.arange(n_sents.size, dtype=np.int64), n_sents)
    if sent_doc.size < 2:
        return nothing

    box = [sigs]  # lsh_candidates lets the signatures go once it has their band keys
    del sigs
    pairs = lsh_candidates(box, sent_doc, options)
    release_memory()
    # Every sentence of a candidate pair, and every member of a group of exact copies.
    order = np.argsort(digest, kind="stable")
    wanted_mask = np.zeros(digest.size, dtype=bool)
    same = digest[order][1:] == digest[order][:-1]
    wanted_mask[order[1:][same]] = True
    wanted_mask[order[:-1][same]] = True
    wanted_mask[pairs.ravel()] = True
    involved = np.flatnonzero(wanted_mask)  # sorted, without sorting the pairs' 2P ends
    wanted = sorted_unique(sent_doc[involved])
    position = np.cumsum(wanted_mask, dtype=np.int64) - 1  # sentence id -> place in ``involved``
    # int32 while they wait for verification (millions of pairs; fewer than 2**31 sentences here).
    narrow = np.int32 if position.size < 1 << 31 else np.int64
    local_pairs = cast("npt.NDArray[np.integer[Any]]", position.astype(narrow)[pairs])
    del wanted_mask, position
    del pairs
    reread = (source, keys, wanted, text_digest, involved, sent_doc, para, span, progress, jobs)
    # Only links at the threshold count here (corpus results are not re-thresholded).  The
    # sentences are token columns, verified a pair of blocks at a time: bounded by the index,
    # not by the sentence objects of a million paragraphs.
    columns = _Columns(involved, span, sent_doc.size)
    _reread_columns(*reread, columns=columns)
    with progress_bar(
        progress, total=local_pairs.shape[0], unit="pair", unit_scale=True, desc="score"
    ) as advance:
        links = verify_blocked(
            columns.finish(),
            sent_doc[involved],
            local_pairs,
            options,
            jobs=jobs,
            floor=options.threshold,
            names=involved,
            advance=advance,
        )
    del local_pairs
    release_memory()
    doc_i, doc_j = sent_doc[links.i], sent_doc[links.j]
    if not with_text:  # only the texts that matches across documents extend into (build_table)
        doc_i, doc_j = doc_i[doc_i != doc_j], doc_j[doc_i != doc_j]
    kept_docs = sorted_unique(np.concatenate((doc_i, doc_j))).tolist()
    texts = _reread_texts(source, keys, kept_docs, text_digest, progress)
    table = build_table(
        links,
        sent_doc,
        para,
        np.arange(n_sents.size, dtype=np.int64),
        columns.char_spans,
        options.threshold,
        texts.__getitem__,
    )
    return _Found(table, keys, texts if with_text else {}, options.threshold)


def _join_signatures(parts: list[_Sketch], num_perm: int) -> npt.NDArray[np.uint32]:
    """The parts' signatures in one array, each part's let go once copied (a concatenation would
    hold both: 1.7 GB at 1M paragraphs)."""
    sigs = np.empty((sum(p.sigs.shape[0] for p in parts), num_perm), np.uint32)
    row = 0
    for k, part in enumerate(parts):
        sigs[row : row + part.sigs.shape[0]] = part.sigs
        row += part.sigs.shape[0]
        parts[k] = dataclasses.replace(part, sigs=sigs[:0])
    return sigs


class _Columns:
    """The involved sentences of pass 2 as token columns, filled batch by batch in sentence id order.

    Keeps what verification needs (:class:`~dedup._verify.run.SentenceColumns`) and
    each token's offsets (relative to its sentence, for the character spans of
    matches) in flat arrays, instead of ~1.5 kB of objects per sentence.
    """

    def __init__(self, involved: npt.NDArray[np.int64], span: npt.NDArray[np.int64], n_all: int) -> None:
        self._n = involved.size
        self._ids: dict[str, int] = {}  # one stem numbering for all batches
        self._parts: list[tuple[npt.NDArray[Any], ...]] = []
        self._norms: list[str] = []
        self._tok_start = array("i")  # token offsets relative to the sentence start
        self._tok_end = array("i")
        # Per involved sentence.
        self._starts = span[involved, 0]
        self._ends = span[involved, 1]
        self._first_token = np.zeros(0, np.int64)
        self._lengths = np.zeros(0, np.int64)
        self._pos = np.full(n_all, -1, dtype=np.int64)  # sentence id -> position in ``involved``
        self._pos[involved] = np.arange(involved.size)

    def add(self, part: _ColumnPart) -> None:
        """Take a batch from :func:`_rebuild_columns`, its stems renumbered into the shared numbering."""
        stems, content, entity, lengths, norms, tok_start, tok_end, vocabulary = part
        ids = self._ids
        remap = np.fromiter((ids.setdefault(s, len(ids)) for s in vocabulary), np.int64, len(vocabulary))
        if len(ids) >= 1 << 31:
            raise DedupError("more than 2**31 distinct word stems: the corpus is too large for one run")
        stem_ids = remap.astype(np.int32)[stems]  # 4 bytes a token
        self._parts.append((stem_ids, content, entity, lengths))
        self._norms.extend(norms)
        self._tok_start.frombytes(tok_start)
        self._tok_end.frombytes(tok_end)

    def finish(self) -> SentenceColumns:
        """The columns for the verifier; the token offsets stay here for :meth:`char_spans`."""
        if len(self._norms) != self._n:
            raise AssertionError(f"pass 2 rebuilt {len(self._norms)} sentences, {self._n} were asked for")
        parts, self._parts = self._parts, []

        def join(k: int, dtype: type[np.generic]) -> npt.NDArray[Any]:
            pieces = [p[k] for p in parts]
            return np.concatenate(pieces or [np.zeros(0, dtype)]).astype(dtype, copy=False)

        columns = SentenceColumns(
            join(0, np.int32), join(1, np.bool_), join(2, np.bool_), join(3, np.int64), self._norms
        )
        self._ids, self._norms = {}, []
        self._lengths = columns.lengths
        self._first_token = columns.offsets[:-1]
        return columns

    def char_spans(
        self, g: npt.NDArray[np.int64], tok: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Character spans of token spans ``tok`` of sentences ``g`` (as ``_cluster.char_span``)."""
        k = self._pos[g]
        first, last = tok[:, 0], tok[:, 1]
        base, start, n_tokens = self._first_token[k], self._starts[k], self._lengths[k]
        tok_start = np.frombuffer(self._tok_start, dtype=np.int32)
        tok_end = np.frombuffer(self._tok_end, dtype=np.int32)
        inner_end = start + tok_end[base + np.clip(last, 1, n_tokens) - 1]
        return start + tok_start[base + first], np.where(last >= n_tokens, self._ends[k], inner_end)


def _reread(source: CorpusSource, keys: Sequence[str], wanted: Sequence[int]) -> Iterator[tuple[int, str]]:
    """``(document number, text)`` of the ``wanted`` documents (sorted), checking the source is unchanged."""
    targets = iter(wanted)
    nxt = next(targets, None)
    for d, (key, text) in enumerate(source):
        if nxt is None:
            return
        if d >= len(keys) or key != keys[d]:
            raise DedupError("the corpus changed while it was being read: document keys differ on re-reading")
        if d == nxt:
            yield d, text
            nxt = next(targets, None)
    if nxt is not None:
        raise DedupError("the corpus changed while it was being read: it has fewer documents now")


def _reread_columns(
    source: CorpusSource,
    keys: Sequence[str],
    wanted: npt.NDArray[np.int64],
    text_digest: npt.NDArray[np.uint64],
    involved: npt.NDArray[np.int64],
    sent_doc: npt.NDArray[np.int64],
    para: npt.NDArray[np.int32],
    span: npt.NDArray[np.int64],
    progress: bool,
    jobs: int,
    columns: _Columns,
) -> None:
    """The ``involved`` sentences, rebuilt from the ``wanted`` documents read again (in ``jobs``
    processes), into ``columns`` (in sentence id order).

    Pass 1 recorded each sentence's paragraph and offsets, so only the wanted
    sentences are tokenised again, exactly as :func:`~dedup._text.segment` made them
    (a document that :func:`~dedup._text.segment.may_have_topic_names` is segmented whole: its
    sentences' entity flags depend on each other, see
    :func:`~dedup._text.segment.without_topic_names`); the workers flatten them into
    token columns, cheap to ship back.
    """
    # involved is sorted, so each document's wanted sentences are one run of it.
    doc_of = sent_doc[involved]
    run_start = np.searchsorted(doc_of, wanted)
    run_end = np.searchsorted(doc_of, wanted, side="right")
    # (sentence id, paragraph, start, end) of every involved sentence, as Python ints.
    all_rows = list(zip(involved.tolist(), para[involved].tolist(), *span[involved].T.tolist(), strict=True))
    starts, ends, digests = run_start.tolist(), run_end.tolist(), text_digest.tolist()
    # sent_doc is sorted: each wanted document's sentence count, as pass 1 segmented it.
    counts = (np.searchsorted(sent_doc, wanted, side="right") - np.searchsorted(sent_doc, wanted)).tolist()

    def tasks() -> Iterator[list[_Reread]]:
        batch: list[_Reread] = []
        size = 0
        for n, (d, text) in enumerate(_reread(source, keys, wanted.tolist())):
            batch.append((d, text, digests[d], counts[n], all_rows[starts[n] : ends[n]]))
            size += len(text)
            if size >= _BATCH_CHARS:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

    with _progress(source, progress, "verify") as tick, process_pool(jobs) as pool:
        run = _rebuild_columns
        flat = pool.imap(run, tasks()) if pool is not None else map(run, tasks())
        for changed, flat_part in flat:
            if flat_part is None:
                raise DedupError(f"document {keys[changed]!r} changed while the corpus was being read")
            columns.add(flat_part)
            tick()


# (document, text, digest of the text in pass 1, its sentences in pass 1,
#  [(sentence id, paragraph, start, end)] of the wanted ones)
_Reread = tuple[int, str, int, int, list[tuple[int, int, int, int]]]

# The token columns of a batch's sentences (:func:`~dedup._verify.scorer.flatten`, stem ids
# local to the batch), token offsets relative to each sentence's start (int32), and the
# batch's stems by local id.
_ColumnPart = tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.bool_],
    npt.NDArray[np.bool_],
    npt.NDArray[np.int64],
    list[str],
    bytes,
    bytes,
    list[str],
]


def _rebuild_columns(batch: list[_Reread]) -> tuple[int, _ColumnPart | None]:
    """The wanted sentences of a batch as token columns; ``(document, None)`` if a document changed."""
    sents: list[Sentence] = []
    for d, text, digest, n_sents, rows in batch:
        if _digest(text) != digest:
            return d, None
        if may_have_topic_names(n_sents):  # flags depend on the other sentences (topic names): all of it
            by_span = {(s.para, s.start, s.end): s for s in segment(text)}
            found = [by_span.get((p, start, end)) for _, p, start, end in rows]
        else:
            found = [make_sentence(text, p, start, end) for _, p, start, end in rows]
        if any(s is None for s in found):
            return d, None
        sents.extend(cast("list[Sentence]", found))
    vocabulary: dict[str, int] = {}
    stems, content, entity, lengths, norms = flatten(sents, vocabulary)
    total = int(lengths.sum())
    first = np.repeat(np.fromiter((s.start for s in sents), np.int64, len(sents)), lengths)
    offsets = [
        (np.fromiter(chain.from_iterable(getattr(s, f) for s in sents), np.int64, total) - first)
        .astype(np.int32)
        .tobytes()
        for f in ("tok_starts", "tok_ends")
    ]
    return -1, (stems, content, entity, lengths, norms, offsets[0], offsets[1], list(vocabulary))


def _reread_texts(
    source: CorpusSource,
    keys: Sequence[str],
    wanted: Sequence[int],
    text_digest: npt.NDArray[np.uint64],
    progress: bool,
) -> dict[int, str]:
    """The texts of the ``wanted`` documents, each checked against its digest from pass 1.

    A text edited between passes would put wrong passages in the output (offsets
    of the old text into the new one): that is an error, never a silent result.
    """
    with _progress(source, progress, "passages") as tick:
        out = {}
        digests = text_digest.tolist()
        for d, text in _reread(source, keys, wanted):
            if _digest(text) != digests[d]:
                raise DedupError(f"document {keys[d]!r} changed while the corpus was being read")
            out[d] = text
            tick()
        return out


# --- output ----------------------------------------------------------------------------------


def write_clusters(fh: IO[str], found: _Found, *, kind: str = "clusters", with_text: bool = True) -> None:
    """One JSON line per cluster (``kind="clusters"``) or per match (``kind="matches"``), from the columns.

    Each line is what ``json.dumps(item, ensure_ascii=False)`` makes of the
    result objects' fields (tested), put together from f-strings without
    making the objects (millions of matches at corpus scale).
    """
    table, keys, texts = found.table, found.keys, found.texts
    key_json: dict[int, str] = {}  # each document key's JSON, made once

    def enc(d: int, start: int, end: int) -> str:
        key = key_json.get(d)
        if key is None:
            key = key_json[d] = json.dumps(keys[d], ensure_ascii=False)
        head = f'{{"key": {key}, "start": {start}, "end": {end}'
        if not with_text:
            return head + "}"
        return f'{head}, "text": {json.dumps(texts.get(d, "")[start:end], ensure_ascii=False)}}}'

    chunk = _WRITE_CHUNK
    if kind == "matches":
        kind_json = [json.dumps(k) for k in KINDS]
        align = table.align_bounds

        def alignments(m: int) -> str:
            lo, hi = int(align[m]), int(align[m + 1])
            return ", ".join(
                f'{{"a_start": {a0}, "a_end": {a1}, "b_start": {b0}, "b_end": {b1}, "score": {s!r}}}'
                for (a0, a1), (b0, b1), s in zip(
                    table.align_a[lo:hi].tolist(),
                    table.align_b[lo:hi].tolist(),
                    table.align_score[lo:hi].tolist(),
                    strict=True,
                )
            )

        for lo in range(0, table.match_order.size, chunk):
            rows = table.match_order[lo : lo + chunk]
            fh.write(
                "".join(
                    f'{{"score": {score!r}, "kind": {kind_json[k]}, "a": {enc(*a)}, "b": {enc(*b)}, '
                    f'"alignments": [{alignments(m)}]}}\n'
                    for m, score, k, a, b in zip(
                        rows.tolist(),
                        table.score[rows].tolist(),
                        table.kind[rows].tolist(),
                        table.side_a[rows].tolist(),
                        table.side_b[rows].tolist(),
                        strict=True,
                    )
                )
            )
        return
    bounds = table.passage_bounds
    for lo in range(0, len(table), chunk):
        hi = min(lo + chunk, len(table))
        base = int(bounds[lo])
        sides, starts = table.passages[base : bounds[hi]].tolist(), (bounds[lo : hi + 1] - base).tolist()
        lines = []
        for n, (score, rep) in enumerate(
            zip(table.cluster_score[lo:hi].tolist(), table.representative[lo:hi].tolist(), strict=True)
        ):
            own = sides[starts[n] : starts[n + 1]]
            first = own.index(own[rep])  # Cluster.passages.index(representative): the first equal one
            passages = ", ".join(enc(*p) for p in own)
            head = f'{{"cluster": {lo + n}, "score": {score!r}, "representative": {first}'
            lines.append(f'{head}, "passages": [{passages}]}}\n')
        fh.write("".join(lines))
