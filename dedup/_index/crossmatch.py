"""Matches between one new document and stored ones, from candidate sentence pairs.

Shared by every index backend: the backend finds candidate pairs (LSH band
hits, exact-copy hits); this module scores them with the detector's own
:func:`~dedup._verify.run.verify_candidates` (exact copies, pair scores, covers)
and turns the links into passage matches with the detector's
cluster stage, so that the same sentences give the same scores as
:func:`dedup.find_duplicates`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dedup._cluster.build import build
from dedup._options import Options
from dedup._sketch.minhash import band_keys, lsh_params, signatures
from dedup._sketch.shingle import sentence_shingle_hashes
from dedup._text.segment import Sentence
from dedup._types import Alignment, Doc, Match
from dedup._verify.run import verify_candidates

__all__ = ["Sketch", "StoredDoc", "cross_matches", "exact_key", "sketch"]

# Exact-copy keys live in the same table as band keys; this tag keeps the two apart.
_EXACT_TAG = 0xE7AC7C0B1E5D0000


def exact_key(norm: str) -> int:
    """Stable 64-bit key of a normalised sentence (exact copies share it)."""
    digest = hashlib.blake2b(norm.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little") ^ _EXACT_TAG


@dataclass(frozen=True, slots=True)
class Sketch:
    """Band keys (one row per sentence) and exact keys of a document's sentences.

    ``eligible[n]`` is False for sentences too short to take part; their rows
    are never stored or looked up.
    """

    bands: npt.NDArray[np.uint64]
    exact: npt.NDArray[np.uint64]
    eligible: npt.NDArray[np.bool_]
    #: The document's topic names (:func:`~dedup._text.segment.segment_with_topic`), kept by a
    #: store that rebuilds some of its sentences later and clears the same flags.
    topic: frozenset[str] = frozenset()


def sketch(sentences: Sequence[Sentence], options: Options, topic: frozenset[str] = frozenset()) -> Sketch:
    """Band keys and exact keys of ``sentences`` under ``options`` (``topic``: their document's
    topic names, kept with them)."""
    n_bands, rows = lsh_params(options.lsh_threshold, options.num_perm)
    n = len(sentences)
    eligible = np.fromiter((len(s.words) >= options.min_words for s in sentences), dtype=bool, count=n)
    if n == 0:
        return Sketch(np.empty((0, n_bands), dtype=np.uint64), np.empty(0, dtype=np.uint64), eligible, topic)
    hashes, offsets = sentence_shingle_hashes(sentences, options.shingle_size)
    sigs = signatures(hashes, offsets, options.num_perm, options.seed)
    keys = band_keys(sigs, n_bands, rows)
    exact = np.fromiter((exact_key(s.norm) for s in sentences), dtype=np.uint64, count=n)
    return Sketch(keys, exact, eligible, topic)


@dataclass(frozen=True, slots=True)
class StoredDoc:
    """A stored document taking part in one lookup: key, text, sentences, insertion order."""

    key: str
    text: str
    sentences: tuple[Sentence, ...]
    ordinal: int


def cross_matches(
    new_key: str | None,
    new_text: str,
    new_sents: Sequence[Sentence],
    stored: Sequence[StoredDoc],
    pairs: Sequence[tuple[int, int, int]],
    options: Options,
) -> list[Match]:
    """Verified matches between the new document and stored ones.

    ``pairs`` are candidates ``(new sentence, stored doc index, stored sentence)``.
    Every returned match has ``a`` in the new document and ``b`` in a stored
    one; matches are sorted by position in the new text, then best score first.
    """
    if not pairs:
        return []
    # Only the paragraphs holding candidates take part: links merge across
    # consecutive sentences of one paragraph, so whole paragraphs keep that exact.
    new_paras = {new_sents[i].para for i, _, _ in pairs}
    stored_paras: dict[int, set[int]] = {}
    for _, d, s in pairs:
        stored_paras.setdefault(d, set()).add(stored[d].sentences[s].para)
    sentences: list[Sentence] = []
    sent_doc: list[int] = []
    docs: list[Doc] = []
    local: dict[tuple[int, int], int] = {}  # (doc index in ``docs``, sentence) -> local index
    doc_index: dict[int, int] = {}
    for d in sorted(stored_paras, key=lambda d: stored[d].ordinal):
        sd = stored[d]
        doc_index[d] = len(docs)
        docs.append(Doc(sd.key, sd.text, sd.ordinal))
        for s, sent in enumerate(sd.sentences):
            if sent.para in stored_paras[d]:
                local[(doc_index[d], s)] = len(sentences)
                sentences.append(sent)
                sent_doc.append(doc_index[d])
    new_doc = len(docs)
    docs.append(Doc(new_key, new_text, max((sd.ordinal for sd in stored), default=0) + 1))
    for s, sent in enumerate(new_sents):
        if sent.para in new_paras:
            local[(new_doc, s)] = len(sentences)
            sentences.append(sent)
            sent_doc.append(new_doc)

    cand = sorted({(local[(doc_index[d], s)], local[(new_doc, i)]) for i, d, s in pairs})  # stored first
    links = verify_candidates(
        sentences,
        np.asarray(sent_doc, dtype=np.int64),
        np.array(cand, dtype=np.int64).reshape(-1, 2),
        options,
    )
    _, matches = build(links, sentences, sent_doc, docs, options.threshold)
    # Exact copies are chained through every copy, stored ones included: keep new-vs-stored only.
    out = [_orient(m, new_key) for m in matches if (m.a.key == new_key) != (m.b.key == new_key)]
    out.sort(key=lambda m: (m.a.span, -m.score, m.b.key or "", m.b.span))
    return out


def _orient(m: Match, new_key: str | None) -> Match:
    """The match with its new-document passage as ``a``."""
    if m.a.key == new_key and m.b.key != new_key:
        return m
    alignments = tuple(Alignment(al.b, al.a, al.score) for al in m.alignments)
    return Match(m.b, m.a, m.score, m.kind, alignments)
