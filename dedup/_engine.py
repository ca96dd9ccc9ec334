"""The detection pipeline: segment, shingle, sketch, band, verify — returning scored links."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dedup._cluster import Doc
from dedup._options import Options
from dedup._shingle import sentence_shingle_hashes
from dedup._sketch import band_keys, candidate_pairs, lsh_params, signatures
from dedup._text import Sentence, segment
from dedup._verify import Link, Verifier

__all__ = ["LINK_FLOOR", "Detection", "detect"]

#: Links scoring below this are dropped even before thresholding; results keep
#: everything above it so that they can be re-thresholded without re-indexing.
LINK_FLOOR = 0.3


@dataclass(frozen=True, slots=True)
class Detection:
    """Everything the cluster stage needs, kept by results for re-thresholding."""

    docs: tuple[Doc, ...]
    sentences: tuple[Sentence, ...]
    sent_doc: tuple[int, ...]
    links: tuple[Link, ...]
    options: Options


def detect(docs: Sequence[Doc], options: Options) -> Detection:
    """Run the pipeline over ``docs`` and return every link scoring at least ``LINK_FLOOR``."""
    sentences: list[Sentence] = []
    sent_doc: list[int] = []
    for d, doc in enumerate(docs):
        for sent in segment(doc.text):
            sentences.append(sent)
            sent_doc.append(d)
    links = _links(sentences, options)
    return Detection(tuple(docs), tuple(sentences), tuple(sent_doc), tuple(links), options)


def _links(sentences: Sequence[Sentence], options: Options) -> list[Link]:
    if len(sentences) < 2:
        return []
    hashes, offsets = sentence_shingle_hashes(sentences, options.shingle_size)
    sigs = signatures(hashes, offsets, options.num_perm, options.seed)
    bands, rows = lsh_params(options.lsh_threshold, options.num_perm)
    pairs = candidate_pairs(band_keys(sigs, bands, rows))
    verifier = Verifier(sentences, min_words=options.min_words)
    eligible = np.fromiter((verifier.eligible(k) for k in range(len(sentences))), dtype=bool)
    pairs = pairs[eligible[pairs[:, 0]] & eligible[pairs[:, 1]]]
    floor = min(LINK_FLOOR, options.threshold)
    best: dict[tuple[int, int], Link] = {}
    # Exact copies (same normalised words) are linked apart from LSH, as a chain,
    # so that any number of copies costs linear work and is never missed.
    copies: dict[str, int] = {}
    for k, sent in enumerate(sentences):
        if not eligible[k]:
            continue
        prev = copies.get(sent.norm)
        if prev is not None:
            best[(prev, k)] = Link(
                prev, k, 1.0, "exact", (0, len(sentences[prev].words)), (0, len(sent.words))
            )
        copies[sent.norm] = k
    partners: dict[int, list[int]] = {}
    for i, j in pairs.tolist():
        if (i, j) in best:
            continue
        link = verifier.pair(i, j)
        if link is not None and link.score >= floor:
            best[(i, j)] = link
        partners.setdefault(i, []).append(j)
        partners.setdefault(j, []).append(i)
    if True:
        for i in sorted(partners):
            for link in verifier.cover(
                i,
                sorted(partners[i]),
                min_gain=options.min_gain,
                max_sources=options.max_sources if options.fusion else 1,
            ):
                key = (min(link.i, link.j), max(link.i, link.j))
                if link.i > link.j:  # keep (i < j) orientation
                    link = Link(link.j, link.i, link.score, link.kind, link.span_j, link.span_i)
                old = best.get(key)
                if link.score >= floor and (old is None or link.score > old.score):
                    best[key] = link
    return [best[k] for k in sorted(best)]
