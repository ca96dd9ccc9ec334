"""A PAN-style text-alignment benchmark: copied passages across two documents, dedup against a baseline.

Run ``python benchmarks/alignment.py`` from the repository root (``--json`` writes
``benchmarks/results/alignment.json``).  The texts are read in place from
``../shared/datasets`` (or ``--data DIR``); nothing is downloaded.

**Corpus.**  Each case is a pair of documents, *suspicious* and *source*, built
from a fixed seed (the same seed and ``--cases`` give the same cases, byte for
byte; a case depends only on the seed, its kind and its number).  Sources and
host documents are the 300 ``lee_background`` news texts (one line each) and the
744 CNN article bodies of ``cnn_poc_highlights`` (one sentence per line); a
source from one collection gets a host from the other, so host and source share
no text.  One or two passages of the source (250 to 3,000 characters, whole
sentences unless said otherwise) are pasted into the host between two of its
sentences, obfuscated by one kind per case:

* ``verbatim``   copied as is;
* ``trimmed``    copied as is, starting and ending mid-sentence (at a word);
* ``rewrapped``  line breaks differ: either the passage is hard-wrapped on its own
                 (``textwrap`` at 60 or 72 columns) into a host that is not, or the
                 source is wrapped at one width and the whole suspicious document at
                 another (60/72/80), as plain-text exports are;
* ``edited``     5% of the words substituted (by a word of the host), deleted, or
                 followed by an inserted host word;
* ``reordered``  the passage's sentences shuffled (at least three sentences);
* ``none``       no reuse: two ``lee_background`` reports of the same event (drawn
                 from the 100 most similar pairs by tf-idf cosine), minus the 11 near-duplicate
                 pairs its README lists and minus pairs that share any run of 8 words
                 (quotes and wire copy: reuse this benchmark cannot label).  Every
                 detection here is false.  By that construction the baseline finds
                 nothing on them; the row measures how often a system links reports
                 that share a topic and paraphrases but no copied passage.

Every case records each pasted passage as PAN's XML annotations do:
``this_offset``/``this_length`` in the suspicious document and
``source_offset``/``source_length`` in the source, exact character offsets into
the two texts as the systems receive them.

**Measures** (Potthast et al. 2010, "An Evaluation Framework for Plagiarism
Detection", COLING): a case ``s`` and a detection ``r`` are character sets over
both documents; ``r`` detects ``s`` when they overlap in the suspicious document
and in the source.  Recall is the mean over cases of the share of ``s`` covered
by the detections that detect it; precision is the mean over detections of the
share of ``r`` covered by the cases it detects (macro-averaged, as PAN does);
granularity is the mean number of detections per detected case; plagdet =
F1 / log2(1 + granularity).  Each kind is scored on its own cases; ``overall``
pools every case, ``none`` included.

**Systems**, run on the same cases in the same process:

* ``dedup``     a default ``dedup.DedupIndex()`` holding the source; the matches
                ``index.add("suspicious", text)`` returns are the detections, as
                returned (``Match.a`` in the suspicious document, ``Match.b`` in the
                source), not merged.
* ``8-gram``    seed and extend: every word 8-gram (lower-cased ``\\w+`` words) the
                two documents share is a seed; seeds whose spans lie within
                ``GAP`` characters of a passage in both documents are merged into it,
                and passages within ``GAP`` of each other in both documents are merged
                until none is.  No minimum length, no other filter.

Timings are wall-clock seconds over all cases of a kind, including building the
index (dedup) or the n-gram tables (baseline).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import re
import subprocess
import sys
import textwrap
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import dedup

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "datasets"
RESULTS = ROOT / "benchmarks" / "results"

KINDS = ("verbatim", "trimmed", "rewrapped", "edited", "reordered", "none")
SYSTEMS = ("dedup", "8-gram")
LEE_NEAR_DUPLICATES = frozenset(
    {
        (59, 72),
        (98, 107),
        (104, 112),
        (115, 119),
        (117, 120),
        (150, 156),
        (182, 191),
        (230, 236),
        (232, 241),
        (263, 271),
        (281, 288),
    }
)
MIN_PASSAGE, MAX_PASSAGE = 250, 3000  # characters of one pasted passage (before obfuscation)
EDIT_RATE = 0.05  # share of the words of an edited passage that are substituted, deleted or inserted
WIDTHS = (60, 72, 80)
N = 8  # baseline word n-gram
GAP = 250  # baseline: characters between seeds that still belong to one passage
NONE_PAIRS = 100  # "none" pairs are drawn from this many most similar eligible lee pairs

_WORD = re.compile(r"\w+")
_TOKEN = re.compile(r"\S+")
_WRAP_SPACE = frozenset("\t\n\x0b\x0c\r ")  # what textwrap treats as whitespace
_SENT_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])|\n")


# ---------------------------------------------------------------------------
# annotations and the PAN measures


@dataclass(frozen=True, order=True)
class Annotation:
    """A passage pair: characters ``[this_offset, +this_length)`` of the suspicious document
    and ``[source_offset, +source_length)`` of the source, as in PAN's XML annotations."""

    this_offset: int
    this_length: int
    source_offset: int
    source_length: int

    def __post_init__(self) -> None:
        if min(self.this_offset, self.source_offset) < 0 or min(self.this_length, self.source_length) < 1:
            raise ValueError(f"offsets must be >= 0 and lengths >= 1, got {self}")

    @property
    def this_end(self) -> int:
        return self.this_offset + self.this_length

    @property
    def source_end(self) -> int:
        return self.source_offset + self.source_length

    def __len__(self) -> int:
        return self.this_length + self.source_length


def detects(r: Annotation, s: Annotation) -> bool:
    """PAN: ``r`` detects ``s`` when they share characters in both documents."""
    return (
        r.this_offset < s.this_end
        and s.this_offset < r.this_end
        and r.source_offset < s.source_end
        and s.source_offset < r.source_end
    )


def _covered(spans: Iterable[tuple[int, int]], start: int, end: int) -> int:
    """How many characters of ``[start, end)`` the union of ``spans`` covers."""
    total, reach = 0, start
    for a, b in sorted(spans):
        a, b = max(a, reach), min(b, end)
        if b > a:
            total += b - a
            reach = b
    return total


def _share(x: Annotation, others: Sequence[Annotation]) -> float:
    """|x ∩ ∪ others| / |x|, characters of both documents counted."""
    this = _covered(((o.this_offset, o.this_end) for o in others), x.this_offset, x.this_end)
    source = _covered(((o.source_offset, o.source_end) for o in others), x.source_offset, x.source_end)
    return (this + source) / len(x)


@dataclass(frozen=True)
class Measures:
    """PAN's measures over a set of document pairs."""

    precision: float
    recall: float
    granularity: float
    cases: int
    detections: int
    detected: int  # cases detected at least once

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def plagdet(self) -> float:
        return self.f1 / math.log2(1 + self.granularity)


def pan_measures(pairs: Iterable[tuple[Sequence[Annotation], Sequence[Annotation]]]) -> Measures:
    """Macro-averaged precision and recall, granularity and plagdet of ``(cases, detections)`` per pair.

    Cases and detections of different pairs never overlap (each pair has its own
    documents).  As in PAN's evaluator: no cases and no detections score 1 and 1;
    cases without detections (or the reverse) score 0 and 0; granularity is 1 when
    nothing is detected.

    >>> halves = [Annotation(0, 50, 0, 50), Annotation(50, 50, 50, 50)]
    >>> m = pan_measures([([Annotation(0, 100, 0, 100)], halves)])
    >>> m.precision, m.recall, m.granularity, round(m.plagdet, 3)
    (1.0, 1.0, 2.0, 0.631)
    """
    rec_sum = prec_sum = 0.0
    n_cases = n_dets = n_detected = per_detected = 0
    for cases, dets in pairs:
        n_cases += len(cases)
        n_dets += len(dets)
        for s in cases:
            rs = [r for r in dets if detects(r, s)]
            if rs:
                n_detected += 1
                per_detected += len(rs)
                rec_sum += _share(s, rs)
        for r in dets:
            ss = [s for s in cases if detects(r, s)]
            if ss:
                prec_sum += _share(r, ss)
    if n_cases == 0 and n_dets == 0:
        precision = recall = 1.0
    elif n_cases == 0 or n_dets == 0:
        precision = recall = 0.0
    else:
        precision, recall = prec_sum / n_dets, rec_sum / n_cases
    granularity = per_detected / n_detected if n_detected else 1.0
    return Measures(precision, recall, granularity, n_cases, n_dets, n_detected)


# ---------------------------------------------------------------------------
# text helpers: sentences, words, wrapping with an offset map


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence (a plain regex split; every line break ends one), stripped."""
    spans, start = [], 0
    for m in itertools.chain(_SENT_END.finditer(text), [None]):
        end = m.end() if m is not None else len(text)
        a, b = start, end
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            spans.append((a, b))
        start = end
    return spans


def word_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """``(start, end)`` of each whitespace-separated token of ``text[start:end]``, in ``text``."""
    return [(m.start(), m.end()) for m in _TOKEN.finditer(text, start, len(text) if end is None else end)]


def wrap(text: str, width: int) -> tuple[str, list[int]]:
    r"""``text`` with every line re-filled at ``width`` columns, and where each of its characters went.

    Each line becomes ``textwrap.fill(line, width, break_long_words=False,
    break_on_hyphens=False)``, which changes only whitespace; lines stay separated
    by one ``\n``.  ``moved[i]`` is the position of ``text[i]`` in the result for
    characters that are not whitespace (a whitespace entry points to the next word).

    >>> wrap("one two three", 7)
    ('one two\nthree', [0, 1, 2, 4, 4, 5, 6, 8, 8, 9, 10, 11, 12, 13])
    """
    result = "\n".join(
        textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False)
        for line in text.split("\n")
    )
    moved = [0] * (len(text) + 1)
    j = 0
    for i, ch in enumerate(text):
        if ch not in _WRAP_SPACE:
            while result[j] in _WRAP_SPACE:
                j += 1
            moved[i] = j
            j += 1
    nxt = moved[len(text)] = len(result)
    for i in range(len(text) - 1, -1, -1):
        if text[i] in _WRAP_SPACE:
            moved[i] = nxt
        else:
            nxt = moved[i]
    return result, moved


def moved_span(text: str, moved: Sequence[int], start: int, end: int) -> tuple[int, int]:
    """Where ``text[start:end]`` (starting and ending with a non-space) went under ``wrap``."""
    return moved[start], moved[end - 1] + 1


def flatten(text: str) -> str:
    """Every run of whitespace as one space."""
    return " ".join(text.split())


# ---------------------------------------------------------------------------
# the generator


@dataclass(frozen=True)
class Document:
    id: str
    text: str


@dataclass(frozen=True)
class Case:
    """One document pair: the suspicious document, its source, and the pasted passages."""

    id: str
    kind: str
    detail: str
    suspicious_id: str
    source_id: str
    suspicious: str
    source: str
    annotations: tuple[Annotation, ...] = field(default=())


def read_lee(path: Path) -> list[Document]:
    """The ``lee_background`` documents of ``docs.jsonl``."""
    with path.open(encoding="utf-8") as f:
        return [Document(r["id"], r["text"].strip()) for r in map(json.loads, f)]


def read_cnn(path: Path) -> list[Document]:
    """The CNN article bodies (highlights dropped) of ``articles.jsonl``, one sentence a line."""
    with path.open(encoding="utf-8") as f:
        return [
            Document(r["id"], "\n".join(r["text"].split("\n")[r["n_bullets"] :]).strip())
            for r in map(json.loads, f)
        ]


def load_documents(data: Path) -> tuple[list[Document], list[Document]]:
    """The ``lee_background`` documents and the CNN article bodies under ``data``."""
    return (
        read_lee(data / "lee_background" / "docs.jsonl"),
        read_cnn(data / "cnn_poc_highlights" / "articles.jsonl"),
    )


def _pick_passage(
    rng: random.Random, source: str, sents: list[tuple[int, int]], taken: list[tuple[int, int]], kind: str
) -> tuple[int, int] | None:
    """Sentences ``first..last`` of the source, about a random target length long, clear of ``taken``."""
    target = math.exp(rng.uniform(math.log(MIN_PASSAGE), math.log(MAX_PASSAGE)))
    for _ in range(20):
        i = rng.randrange(len(sents))
        j = i
        while j + 1 < len(sents) and sents[j][1] - sents[i][0] < target:
            j += 1
        if kind == "trimmed":  # one sentence more, half of which the trim takes off each end
            j = min(j + 1, len(sents) - 1)
        size = sents[j][1] - sents[i][0]
        if (kind == "reordered" and j - i < 2) or (kind == "trimmed" and j == i):
            continue
        if size < MIN_PASSAGE * (1.3 if kind == "trimmed" else 1.0) or size > 1.5 * MAX_PASSAGE:
            continue
        if any(i <= b + 1 and a <= j + 1 for a, b in taken):  # keep a sentence between two passages
            continue
        return i, j
    return None


def _trim(rng: random.Random, source: str, first: tuple[int, int], last: tuple[int, int]) -> tuple[int, int]:
    """Start inside sentence ``first`` and end inside sentence ``last``, at word boundaries."""
    head = word_spans(source, *first)
    tail = word_spans(source, *last)
    start = head[rng.randrange(1, len(head))][0] if len(head) > 1 else first[0]
    end = tail[rng.randrange(0, len(tail) - 1)][1] if len(tail) > 1 else last[1]
    return start, end


def _edit(rng: random.Random, passage: str, vocabulary: Sequence[str]) -> str:
    """``passage`` with EDIT_RATE of its words substituted, deleted or followed by an inserted word."""
    tokens = word_spans(passage)
    n_edits = max(1, round(EDIT_RATE * len(tokens)))
    edits = dict.fromkeys(rng.sample(range(len(tokens)), n_edits), "")
    for k in sorted(edits):
        edits[k] = rng.choice(("substitute", "delete", "insert"))
    out: list[str] = []
    for k, (a, b) in enumerate(tokens):
        sep = passage[tokens[k - 1][1] : a] if k else ""
        word = passage[a:b]
        op = edits.get(k)
        if op == "delete" and 0 < k < len(tokens) - 1:
            continue
        if op == "substitute":
            tail = re.search(r"\W*$", word)
            word = rng.choice(vocabulary) + (tail.group() if tail else "")
        out.append((sep if out else "") + word)
        if op == "insert" and k < len(tokens) - 1:
            out.append(" " + rng.choice(vocabulary))
    return "".join(out)


def _reorder(rng: random.Random, passage: str) -> str:
    """``passage`` with its sentences shuffled (never the original order); separators stay in place."""
    spans = sentence_spans(passage)
    order = list(range(len(spans)))
    while order == sorted(order) and len(order) > 1:
        rng.shuffle(order)
    seps = [passage[spans[k][1] : spans[k + 1][0]] for k in range(len(spans) - 1)] + [""]
    return "".join(passage[slice(*spans[o])] + seps[k] for k, o in enumerate(order))


def _splice(
    host: str, points: Sequence[int], passages: Sequence[str], *, block: bool
) -> tuple[str, list[tuple[int, int]]]:
    """``host`` with ``passages[k]`` inserted at ``points[k]`` (sentence starts), and where each landed.

    A host with line breaks gets each passage on lines of its own; a one-line host
    gets it between two sentences, or on lines of its own when ``block``.
    """
    lines = "\n" in host or block
    pieces: list[str] = []
    spans: list[tuple[int, int]] = [(0, 0)] * len(passages)
    pos = prev = 0
    for k in sorted(range(len(passages)), key=lambda k: points[k]):
        p = points[k]
        before = host[prev:p]
        if lines:
            before = before.rstrip(" ")
            if p > 0 and not before.endswith("\n"):
                before += "\n"
        elif p == len(host) and p > 0:
            before += " "
        pieces.append(before)
        pos += len(before)
        spans[k] = (pos, pos + len(passages[k]))
        sep = "\n" if lines else " "
        if p == len(host):
            sep = ""
        pieces.append(passages[k] + sep)
        pos += len(passages[k]) + len(sep)
        prev = p
    rest = host[prev:]
    if lines:
        rest = rest.lstrip(" ")
    pieces.append(rest)
    return "".join(pieces), spans


def _reuse_case(
    rng: random.Random, kind: str, case_id: str, source_doc: Document, host_doc: Document
) -> Case | None:
    """One suspicious document made of ``host_doc`` with passages of ``source_doc`` pasted in."""
    source, host = source_doc.text, host_doc.text
    sents = sentence_spans(source)
    n = 1 if rng.random() < 0.7 else 2
    runs: list[tuple[int, int]] = []
    for _ in range(n):
        run = _pick_passage(rng, source, sents, runs, kind)
        if run is not None:
            runs.append(run)
    if not runs:
        return None
    spans = [(sents[i][0], sents[j][1]) for i, j in runs]
    if kind == "trimmed":  # a trim that leaves less than MIN_PASSAGE drops the passage
        spans = [_trim(rng, source, sents[i], sents[j]) for i, j in runs]
        spans = [(a, b) for a, b in spans if b - a >= MIN_PASSAGE]
        if not spans:
            return None
    texts = [source[a:b] for a, b in spans]
    detail = ""
    block = False
    doc_width = source_width = 0
    if kind == "edited":
        vocabulary = sorted({w.lower() for w in _WORD.findall(host) if w.isalpha()})
        texts = [_edit(rng, t, vocabulary) for t in texts]
    elif kind == "reordered":
        texts = [_reorder(rng, t) for t in texts]
    elif kind == "rewrapped":
        if rng.random() < 0.5:
            width = rng.choice(WIDTHS[:2])
            texts = [wrap(flatten(t), width)[0] for t in texts]
            block, detail = True, f"passage wrapped at {width}"
        else:
            source_width, doc_width = rng.sample(WIDTHS, 2)
            detail = f"source wrapped at {source_width}, suspicious document at {doc_width}"
    host_sents = sentence_spans(host)
    points = sorted(rng.sample([a for a, _ in host_sents] + [len(host)], len(texts)))
    order = list(range(len(texts)))
    rng.shuffle(order)  # passages need not appear in source order
    suspicious, landed = _splice(host, points, [texts[k] for k in order], block=block)
    pairs = [(landed[order.index(k)], spans[k]) for k in range(len(texts))]
    if doc_width:
        suspicious_wrapped, moved = wrap(suspicious, doc_width)
        pairs = [(moved_span(suspicious, moved, *t), s) for t, s in pairs]
        suspicious = suspicious_wrapped
    if source_width:
        source_wrapped, moved = wrap(source, source_width)
        pairs = [(t, moved_span(source, moved, *s)) for t, s in pairs]
        source = source_wrapped
    annotations = tuple(sorted(Annotation(t[0], t[1] - t[0], s[0], s[1] - s[0]) for t, s in pairs))
    return Case(case_id, kind, detail, host_doc.id, source_doc.id, suspicious, source, annotations)


def _shares_words(a: str, b: str, n: int = N) -> bool:
    """Whether ``a`` and ``b`` share a run of ``n`` words (lower-cased ``\\w+``)."""
    ta, tb = [w.lower() for w in _WORD.findall(a)], [w.lower() for w in _WORD.findall(b)]
    grams = {tuple(ta[k : k + n]) for k in range(len(ta) - n + 1)}
    return any(tuple(tb[k : k + n]) in grams for k in range(len(tb) - n + 1))


def same_topic_pairs(docs: Sequence[Document], limit: int) -> list[tuple[float, int, int]]:
    """The ``limit`` document pairs ``(cosine, i, j)`` most similar by tf-idf cosine of their words.

    Leaves out the near-duplicates the dataset lists and pairs that share a run of
    8 words (quoted or wire text: reuse without labels).
    """
    bags = [Counter(w.lower() for w in _WORD.findall(d.text)) for d in docs]
    vocabulary = {w: k for k, w in enumerate(sorted({w for bag in bags for w in bag}))}
    df = Counter(w for bag in bags for w in bag)
    weights = np.zeros((len(docs), len(vocabulary)))
    for row, bag in enumerate(bags):
        for w, c in bag.items():
            weights[row, vocabulary[w]] = (1 + math.log(c)) * math.log(len(docs) / df[w])
    weights /= np.maximum(np.linalg.norm(weights, axis=1, keepdims=True), 1e-12)
    cosine = weights @ weights.T
    scored = [(round(float(cosine[i, j]), 9), i, j) for i, j in itertools.combinations(range(len(docs)), 2)]
    scored.sort(key=lambda t: (-t[0], t[1], t[2]))
    eligible = (
        (c, i, j)
        for c, i, j in scored
        if (i, j) not in LEE_NEAR_DUPLICATES and not _shares_words(docs[i].text, docs[j].text)
    )
    return list(itertools.islice(eligible, limit))


def build_cases(
    lee: Sequence[Document], cnn: Sequence[Document], *, cases: int, seed: int, kinds: Sequence[str] = KINDS
) -> list[Case]:
    """``cases`` cases of each kind, the same for the same seed (each from its own ``Random``)."""
    out: list[Case] = []
    pools = (list(lee), list(cnn))
    for kind in kinds:
        if kind == "none":
            continue
        k = 0
        while sum(c.kind == kind for c in out) < cases:
            rng = random.Random(f"{seed}/{kind}/{k}")
            side = rng.randrange(2)
            source_doc = rng.choice(pools[side])
            host_doc = rng.choice(pools[1 - side])
            case = _reuse_case(rng, kind, f"{kind}-{k:04d}", source_doc, host_doc)
            k += 1
            if case is not None:
                out.append(case)
            if k > 50 * cases + 100:
                raise RuntimeError(f"could not build {cases} {kind} cases from these documents")
    if "none" in kinds:
        eligible = same_topic_pairs(lee, NONE_PAIRS)
        random.Random(f"{seed}/none").shuffle(eligible)
        chosen = eligible[:cases]
        for c, i, j in sorted(chosen, key=lambda t: (-t[0], t[1], t[2])):
            a, b = lee[i], lee[j]
            out.append(Case(f"none-{a.id}-{b.id}", "none", f"cosine {c:.2f}", a.id, b.id, a.text, b.text))
    return out


# ---------------------------------------------------------------------------
# the two systems


def dedup_detections(suspicious: str, source: str) -> list[Annotation]:
    """The matches of a default ``DedupIndex`` holding ``source`` when ``suspicious`` is added, unmerged."""
    index = dedup.DedupIndex()
    index.add("source", source)
    return [
        Annotation(m.a.start, m.a.end - m.a.start, m.b.start, m.b.end - m.b.start)
        for m in index.add("suspicious", suspicious)
        if m.a.key == "suspicious" and m.b.key == "source"
    ]


def ngram_detections(suspicious: str, source: str, *, n: int = N, gap: int = GAP) -> list[Annotation]:
    """Word ``n``-gram seed and extend: shared ``n``-grams, merged while within ``gap`` characters in both."""
    ws = [(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(suspicious)]
    wr = [(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(source)]
    where: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for k in range(len(wr) - n + 1):
        where[tuple(w for _, _, w in wr[k : k + n])].append(k)
    # a passage is [this_start, this_end, source_start, source_end]
    passages: list[list[int]] = []
    for k in range(len(ws) - n + 1):
        for j in where.get(tuple(w for _, _, w in ws[k : k + n]), ()):
            seed = [ws[k][0], ws[k + n - 1][1], wr[j][0], wr[j + n - 1][1]]
            for p in reversed(passages):
                if _near(p, seed, gap):
                    _absorb(p, seed)
                    break
            else:
                passages.append(seed)
    merged = True
    while merged:  # a passage can grow to reach another one
        merged = False
        for x, y in itertools.combinations(range(len(passages)), 2):
            if _near(passages[x], passages[y], gap):
                _absorb(passages[x], passages.pop(y))
                merged = True
                break
    return sorted(Annotation(a, b - a, c, d - c) for a, b, c, d in passages)


def _near(p: Sequence[int], q: Sequence[int], gap: int) -> bool:
    return q[0] <= p[1] + gap and p[0] <= q[1] + gap and q[2] <= p[3] + gap and p[2] <= q[3] + gap


def _absorb(p: list[int], q: Sequence[int]) -> None:
    p[0], p[1], p[2], p[3] = min(p[0], q[0]), max(p[1], q[1]), min(p[2], q[2]), max(p[3], q[3])


DETECTORS: dict[str, Callable[[str, str], list[Annotation]]] = {
    "dedup": dedup_detections,
    "8-gram": ngram_detections,
}


# ---------------------------------------------------------------------------
# running and reporting


@dataclass
class Run:
    """Each system's detections per case and its seconds per kind."""

    cases: list[Case]
    detections: dict[str, list[list[Annotation]]]
    seconds: dict[str, dict[str, float]]


def run(cases: Sequence[Case], systems: Sequence[str] = SYSTEMS) -> Run:
    detections: dict[str, list[list[Annotation]]] = {s: [] for s in systems}
    seconds: dict[str, dict[str, float]] = {s: defaultdict(float) for s in systems}
    for case in cases:
        for system in systems:
            t0 = time.perf_counter()
            found = DETECTORS[system](case.suspicious, case.source)
            seconds[system][case.kind] += time.perf_counter() - t0
            detections[system].append(found)
    return Run(list(cases), detections, {s: dict(v) for s, v in seconds.items()})


def table(result: Run) -> list[dict[str, Any]]:
    """One row per (kind or ``overall``, system)."""
    rows = []
    kinds = [k for k in KINDS if any(c.kind == k for c in result.cases)]
    for kind in [*kinds, "overall"]:
        for system, found in result.detections.items():
            chosen = [k for k, c in enumerate(result.cases) if kind in ("overall", c.kind)]
            m = pan_measures((result.cases[k].annotations, found[k]) for k in chosen)
            row: dict[str, Any] = {
                "kind": kind,
                "system": system,
                "pairs": len(chosen),
                "cases": m.cases,
                "detections": m.detections,
                "seconds": round(
                    sum(v for k, v in result.seconds[system].items() if kind in ("overall", k)), 2
                ),
            }
            if kind == "none":
                row["pairs_with_detections"] = sum(1 for k in chosen if found[k])
                row["false_characters"] = sum(len(r) for k in chosen for r in found[k])
            else:
                row.update(
                    precision=round(m.precision, 4),
                    recall=round(m.recall, 4),
                    granularity=round(m.granularity, 4),
                    plagdet=round(m.plagdet, 4),
                )
            rows.append(row)
    return rows


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A Markdown table: one line per kind, precision / recall / granularity / plagdet per system."""
    systems = list(dict.fromkeys(r["system"] for r in rows))
    head = "| reuse (document pairs) | " + " | ".join(f"{s}: P / R / gran / **plagdet**" for s in systems)
    lines = [head + " |", "|---" * (1 + len(systems)) + "|"]
    by_kind: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in rows:
        by_kind[r["kind"]][r["system"]] = r
    for kind, per in by_kind.items():
        cells = []
        for s in systems:
            r = per[s]
            if kind == "none":
                cells.append(
                    f"{r['detections']} false detections in {r['pairs_with_detections']} pairs"
                    f" ({r['false_characters']} chars)"
                )
            else:
                p, rec, g, pd = (r[k] for k in ("precision", "recall", "granularity", "plagdet"))
                cells.append(f"{p:.2f} / {rec:.2f} / {g:.2f} / **{pd:.2f}**")
        label = "none (same event, no copy)" if kind == "none" else kind
        lines.append(f"| {label} ({next(iter(per.values()))['pairs']}) | " + " | ".join(cells) + " |")
    times = ", ".join(f"{s} {per_s['seconds']:.1f} s" for s, per_s in by_kind["overall"].items())
    return "\n".join(lines) + f"\n\nrun time over all pairs: {times}"


def _clip(text: str, start: int, end: int, limit: int = 160) -> str:
    s = text[start:end]
    s = s if len(s) <= limit else s[: limit // 2] + " … " + s[-limit // 2 :]
    return repr(s)


def show(result: Run, n: int, rng: random.Random) -> str:
    """Up to ``n`` missed passages (recall below 0.5) and ``n`` false detections per system."""
    out = []
    for system, found in result.detections.items():
        missed, false = [], []
        for case, dets in zip(result.cases, found, strict=True):
            for s in case.annotations:
                covered = pan_measures([([s], [r for r in dets if detects(r, s)])]).recall
                if covered < 0.5:
                    missed.append((case, s, covered))
            for r in dets:
                if not any(detects(r, s) for s in case.annotations):
                    false.append((case, r))
        out.append(f"== {system}: {len(missed)} passages recalled below 0.5, {len(false)} false detections")
        for case, s, covered in rng.sample(missed, min(n, len(missed))):
            out.append(f"-- missed {case.id} ({case.detail or case.kind}), recall {covered:.2f}, {s}")
            out.append(f"   suspicious: {_clip(case.suspicious, s.this_offset, s.this_end)}")
            out.append(f"   source:     {_clip(case.source, s.source_offset, s.source_end)}")
            got = [r for r in found[result.cases.index(case)] if detects(r, s)]
            out.append(f"   detections: {got}")
        for case, r in rng.sample(false, min(n, len(false))):
            out.append(f"-- false in {case.id} ({case.detail or case.kind}): {r}")
            out.append(f"   suspicious: {_clip(case.suspicious, r.this_offset, r.this_end)}")
            out.append(f"   source:     {_clip(case.source, r.source_offset, r.source_end)}")
    return "\n".join(out)


def _commit() -> str | None:
    """The repository's HEAD commit, so a stored table says which code it measured."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of the labelled sets")
    ap.add_argument("--cases", type=int, default=100, help="document pairs of each kind (default 100)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the generator (default 0)")
    ap.add_argument(
        "--json",
        nargs="?",
        const=RESULTS / "alignment.json",
        type=Path,
        help="write the table (default path: benchmarks/results/alignment.json)",
    )
    ap.add_argument("--show", type=int, default=0, metavar="N", help="print N misses and false detections")
    ap.add_argument("--corpus", type=Path, help="also write the generated cases as JSON Lines")
    args = ap.parse_args(argv)
    if args.cases < 1:
        ap.error(f"--cases must be >= 1, got {args.cases}")
    if not (args.data / "lee_background").is_dir() or not (args.data / "cnn_poc_highlights").is_dir():
        print(
            f"alignment.py: no texts at {args.data}: pass --data DIR, the folder holding "
            "lee_background/ and cnn_poc_highlights/ (see its README)",
            file=sys.stderr,
        )
        return 2
    t0 = time.perf_counter()
    lee, cnn = load_documents(args.data)
    cases = build_cases(lee, cnn, cases=args.cases, seed=args.seed)
    print(f"[{len(cases)} document pairs built in {time.perf_counter() - t0:.1f} s]", file=sys.stderr)
    if args.corpus:
        with args.corpus.open("w", encoding="utf-8") as f:
            for c in cases:
                f.write(json.dumps(asdict(c), ensure_ascii=False) + "\n")
    result = run(cases)
    rows = table(result)
    print(format_table(rows))
    if args.show:
        print()
        print(show(result, args.show, random.Random(args.seed)))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "dedup_version": dedup.__version__,
            "commit": _commit(),
            "command": "python benchmarks/alignment.py " + " ".join(sys.argv[1:] if argv is None else argv),
            "seed": args.seed,
            "cases_per_kind": args.cases,
            "settings": {
                "n": N,
                "gap": GAP,
                "edit_rate": EDIT_RATE,
                "passage_chars": [MIN_PASSAGE, MAX_PASSAGE],
            },
            "rows": rows,
        }
        args.json.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
