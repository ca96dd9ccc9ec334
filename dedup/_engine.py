"""The in-process engine: one call runs every stage over a batch of documents and returns scored links."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dedup._cluster.build import Detection
from dedup._options import Options
from dedup._sketch.lsh import lsh_candidates
from dedup._sketch.minhash import (
    signatures,
)
from dedup._sketch.shingle import sentence_shingle_hashes
from dedup._text.segment import Sentence, segment
from dedup._types import Doc
from dedup._verify.reference import Link
from dedup._verify.run import verify_candidates


def detect(
    docs: Sequence[Doc], options: Options, *, segmented: Sequence[Sequence[Sentence]] | None = None
) -> Detection:
    """Run the pipeline over ``docs`` and return every link scoring at least ``LINK_FLOOR``.

    ``segmented``, when given, holds ``segment(doc.text)`` of every document
    (an index keeps them), so that they are not segmented again.
    """
    sentences: list[Sentence] = []
    sent_doc: list[int] = []
    for d, doc in enumerate(docs):
        for sent in segment(doc.text) if segmented is None else segmented[d]:
            sentences.append(sent)
            sent_doc.append(d)
    links = _links(sentences, options, sent_doc)
    return Detection(tuple(docs), tuple(sentences), tuple(sent_doc), tuple(links), options)


def _links(
    sentences: Sequence[Sentence], options: Options, sent_doc: Sequence[int] | None = None
) -> list[Link]:
    if len(sentences) < 2:
        return []
    docs = np.zeros(len(sentences), dtype=np.int64) if sent_doc is None else np.asarray(sent_doc, np.int64)
    hashes, offsets = sentence_shingle_hashes(sentences, options.shingle_size)
    sigs = signatures(hashes, offsets, options.num_perm, options.seed)
    pairs = lsh_candidates(sigs, docs, options)
    return verify_candidates(sentences, docs, pairs, options)
