"""Quality of dedup (default settings) and three baselines on public labelled data, in one table.

Run ``python benchmarks/quality.py`` from the repository root.  Every labelled set
in ``../shared/datasets`` (or ``--data DIR``) is read in place, plus ``seeds/``.

Two measures, each counted in the set's *pair unit*:

* **direct links** (``links``): units joined by one ``Match`` (``clusters.matches``,
  each match's ``a`` and ``b`` passages mapped to the set's units);
* **pairs inside clusters** (``clusters``): every two units in one ``Cluster``, what a
  reader of the clusters sees as "the same" (a link chain a-b-c also pairs a with c).

dedup has both.  The baselines have no clusters: their pairs are their direct
links, so they get the ``links`` measure only (the table shows ``-`` under clusters).

Each set defines its own pair unit (printed with the table); precision, recall and
F1 count detected units against the labels:

* ``seeds``      paragraph pairs (lines of the seed file) linked by a gold cluster;
                 the seed's ``optional_pairs`` count neither way.
* ``news_restatements/tune``, ``/held-out``, ``/all``  the same unit on the 27
                 hand-labelled CNN/DailyMail articles (seed format).  Split: gold
                 files sorted by name, the first half (13) is the tune split, the
                 other 14 are held out; ``/all`` is both.
* ``cnn/tune``, ``cnn/held-out``  (bullet line, body line) links.  Recall over
                 all links; precision only over pairs whose bullet has a link
                 (unlinked bullets are unlabelled).  Split: articles sorted by id,
                 first half is the tune split, the rest is held out.
* ``clough/per-answer``, ``clough/one-index``  one unit per answer: is it linked
                 to its task's Wikipedia source?  ``cut``/``light``/``heavy`` are
                 positive, ``non`` negative.  Both are across documents.
                 per-answer: a fresh ``DedupIndex`` per answer holding its source,
                 then it.  one-index: one ``DedupIndex`` holding the 5 sources,
                 then all 95 answers (links to other answers or other tasks'
                 sources are not scored; the note counts the latter).
* ``lee``        document pairs.  The 11 near-duplicate pairs listed in the
                 dataset README are the positives; every other linked pair is a
                 false pair (the FP column is the count the target wants at 0).
* ``cleanportal`` one unit per line (text block): flagged when it repeats on
                 another page of the same site.  Positive = boilerplate (label 0).
                 Recall cannot reach 1: boilerplate seen on one page only is not
                 a repeat.
* ``msrp``       one unit per sentence pair; positive = paraphrase (label 1).

Methods, all run here on the same data:

* ``dedup``      ``find_duplicates`` / ``DedupIndex`` with default options.
* ``exact``      hash set of normalised sentences (NFKC, casefold, words only).
* ``minhash``    datasketch ``MinHash`` (128 perms, word set) + ``MinHashLSH``
                 with its default threshold (0.9), paragraph level, no verification.
* ``tsr``        rapidfuzz ``token_set_ratio`` over all pairs at the single best
                 threshold (chosen on the tune split for CNN and news_restatements,
                 on the whole set elsewhere, so it is an optimistic oracle there).

With ``--json`` the table is written to ``benchmarks/results/quality.json`` (or the path given), schema 2::

    {"schema": 2, "dedup_version": str, "commit": str | null, "command": str,
     "measures": {"links": str, "clusters": str},     # what each measure counts
     "units": {set: str},                               # each set's pair unit
     "seconds": {--dataset name: float},
     "rows": [{"dataset": str, "method": str, "measure": "links" | "clusters",
               "precision": float, "recall": float, "f1": float,
               "tp": int, "fp": int, "fn": int, "note": str}],
     "targets": [{"target": str, "met": bool}]}

Rows come in table order: per set, dedup's ``links`` then ``clusters`` row, then
one ``links`` row per baseline.  (Schema 1 had no ``measure``; its ``dedup`` rows
were pairs inside clusters and its ``links`` rows dedup's aligned sentence pairs.)

``--before FILE`` prints dedup's rows beside those of an earlier run (a table this
script wrote with ``--json``, schema 2), with the change in F1: to compare two
commits, run the script at the older one with ``--json before.json``, then at
the newer one with ``--before before.json``.  ``--before REV`` reads the table
committed at git revision ``REV`` (``benchmarks/results/quality.json``); sets that
table did not run are shown as ``-``.

``--plot`` re-cuts one detection run with ``Clusters.rethreshold`` and draws
precision and recall (pairs inside clusters) against the verification threshold
for each set.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import random
import re
import subprocess
import sys
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from datasketch import MinHash, MinHashLSH
from rapidfuzz import fuzz, process
from rapidfuzz.utils import default_process

import dedup

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "datasets"
RESULTS = ROOT / "benchmarks" / "results"
CLEANPORTAL_RECALL = 0.92  # dedup's recall there when issue 20 was filed
LEE_FALSE_PAIRS = 10  # dedup's false document pairs there when issue 20 was filed
PLOT_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
LEE_NEAR_DUPLICATES = (
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
)

Unit = Hashable
Pair = tuple[Any, ...]

# ---------------------------------------------------------------------------
# text helpers for the baselines and for mapping spans to lines

_WORD = re.compile(r"\w+")
_SENT_END = re.compile(r"(?<=[.!?])[\"'”’)]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")


def normalise(text: str) -> str:
    """Words of ``text``, NFKC-normalised and casefolded, joined by single spaces."""
    return " ".join(_WORD.findall(unicodedata.normalize("NFKC", text).casefold()))


def sentences(text: str) -> list[str]:
    """A plain regex sentence split (baselines only; dedup segments on its own)."""
    flat = " ".join(text.split())
    return [s for s in _SENT_END.split(flat) if s.strip()]


def paragraphs(text: str) -> list[str]:
    """Blank-line paragraphs, or lines when the text has no blank line."""
    parts = re.split(r"\n\s*\n", text) if re.search(r"\n\s*\n", text) else text.split("\n")
    return [p for p in parts if p.strip()]


def minhash(text: str) -> MinHash | None:
    words = set(normalise(text).split())
    if not words:
        return None
    m = MinHash(num_perm=128)
    for w in sorted(words):
        m.update(w.encode("utf-8"))
    return m


_LSH_PARAMS: tuple[int, int] | None = None


def new_lsh() -> MinHashLSH:
    """``MinHashLSH()`` with default settings; its (bands, rows) search runs once, not per index."""
    global _LSH_PARAMS
    if _LSH_PARAMS is None:
        default = MinHashLSH()
        _LSH_PARAMS = (default.b, default.r)
        return default
    return MinHashLSH(params=_LSH_PARAMS)


def lsh_of(texts: list[str]) -> tuple[MinHashLSH, dict[int, MinHash]]:
    """A default ``MinHashLSH`` holding ``texts`` under their positions, and the MinHash of each."""
    lsh = new_lsh()
    hashes = {}
    for k, t in enumerate(texts):
        m = minhash(t)
        if m is not None:
            lsh.insert(k, m)
            hashes[k] = m
    return lsh, hashes


class Lines:
    """Maps character offsets of one text to its line numbers."""

    def __init__(self, text: str) -> None:
        self.starts = [0]
        for line in text.split("\n"):
            self.starts.append(self.starts[-1] + len(line) + 1)

    def of(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset) - 1

    def covered(self, start: int, end: int) -> range:
        return range(self.of(start), self.of(max(start, end - 1)) + 1)

    def of_passage(self, passage: dedup.Passage) -> range:
        """The lines a passage touches."""
        return self.covered(passage.start, passage.end)


def _ordered(u: Any, v: Any) -> tuple[Any, Any]:
    try:
        return (u, v) if u <= v else (v, u)
    except TypeError:
        return (u, v) if repr(u) <= repr(v) else (v, u)


def cluster_pairs(
    clusters: Iterable[dedup.Cluster], units: Callable[[dedup.Passage], Iterable[Unit]]
) -> set[tuple[Unit, Unit]]:
    """Pairs inside clusters: every two distinct units that fall in different passages of one
    cluster, as sorted tuples (what a reader of the clusters sees as "the same")."""
    out: set[tuple[Unit, Unit]] = set()
    for c in clusters:
        per = [set(units(p)) for p in c.passages]
        for a, b in itertools.combinations(per, 2):
            for u in a:
                for v in b:
                    if u != v:
                        out.add(_ordered(u, v))
    return out


def link_clusters(matches: Iterable[dedup.Match]) -> list[dedup.Cluster]:
    """One two-passage cluster per match (its ``a`` and ``b``): what the detector linked directly.

    Every set maps clusters to its units in one place, so it scores direct links
    by reading these instead of the clusters.
    """
    return [dedup.Cluster(m.score, (m.a, m.b), m.a, (m,)) for m in matches]


def link_pairs(
    matches: Iterable[dedup.Match], units: Callable[[dedup.Passage], Iterable[Unit]]
) -> set[tuple[Unit, Unit]]:
    """Direct links: every two distinct units joined by one match (a unit of ``a``, one of ``b``)."""
    return cluster_pairs(link_clusters(matches), units)


def best_threshold(
    scored: dict[Pair, float], gold: set[Pair], counted: Callable[[Pair], bool]
) -> tuple[float, float]:
    """The cut on ``scored`` with the best F1 on ``gold``; returns (threshold, f1)."""
    best = (101.0, -1.0)
    tp = fp = 0
    ranked = sorted(scored.items(), key=lambda item: -item[1])
    for k, (p, s) in enumerate(ranked):
        if p in gold:
            tp += 1
        elif counted(p):
            fp += 1
        if k + 1 < len(ranked) and ranked[k + 1][1] == s:
            continue  # a cut takes every pair of equal score
        f1 = Score(tp, fp, len(gold) - tp).f1
        if f1 > best[1]:
            best = (s, f1)
    return best


# ---------------------------------------------------------------------------
# scoring


@dataclass
class Score:
    tp: int
    fp: int
    fn: int

    @classmethod
    def of(cls, pred: set[Pair], gold: set[Pair], counted: Callable[[Pair], bool] | None = None) -> Score:
        tp = len(pred & gold)
        fp = sum(1 for p in pred - gold if counted is None or counted(p))
        return cls(tp, fp, len(gold - pred))

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


LINKS = "links"
CLUSTERS = "clusters"
MEASURES = {
    LINKS: "direct links: units joined by one match (clusters.matches, each match's a and b)",
    CLUSTERS: "pairs inside clusters: every two units in one cluster (what a reader sees)",
}
SCHEMA = 2  # of quality.json; see the module docstring
NO_CLUSTERS = "no clusters: its pairs are its direct links"


@dataclass
class Row:
    dataset: str
    method: str
    measure: str  # LINKS or CLUSTERS
    score: Score
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        s = self.score
        return {
            "dataset": self.dataset,
            "method": self.method,
            "measure": self.measure,
            "precision": round(s.precision, 4),
            "recall": round(s.recall, 4),
            "f1": round(s.f1, 4),
            "tp": s.tp,
            "fp": s.fp,
            "fn": s.fn,
            "note": self.note,
        }


@dataclass
class Evaluation:
    """One labelled set: its gold units, and each method's detected units.

    ``dedup_at(t, links)`` gives dedup's units re-cut at ``t`` (None: as detected),
    counted over pairs inside clusters or, with ``links``, over direct links.  The
    baselines have no clusters: one set of units each, their direct links.
    """

    name: str
    unit: str
    gold: set[Pair]
    counted: Callable[[Pair], bool] | None
    dedup_at: Callable[[float | None, bool], set[Pair]]
    baselines: dict[str, set[Pair]]
    tsr: dict[Pair, float]
    describe: Callable[[Pair], str]
    tsr_cut: float | None = None  # fixed cut (held-out halves use the tune half's)
    notes: dict[str, str] = field(default_factory=dict)

    def score(self, pred: set[Pair]) -> Score:
        return Score.of(pred, self.gold, self.counted)

    def rows(self) -> list[Row]:
        rows = [
            Row(
                self.name, "dedup", LINKS, self.score(self.dedup_at(None, True)), self.notes.get("links", "")
            ),
            Row(
                self.name,
                "dedup",
                CLUSTERS,
                self.score(self.dedup_at(None, False)),
                self.notes.get("dedup", "defaults"),
            ),
        ]
        for method, pred in self.baselines.items():
            note = "; ".join(filter(None, [NO_CLUSTERS, self.notes.get(method, "")]))
            rows.append(Row(self.name, method, LINKS, self.score(pred), note))
        if self.tsr_cut is None:
            cut, _ = best_threshold(self.tsr, self.gold, self.counted or (lambda p: True))
        else:
            cut = self.tsr_cut
        self.tsr_cut = cut
        pred = {p for p, s in self.tsr.items() if s >= cut}
        note = "; ".join(
            filter(None, [NO_CLUSTERS, f"token_set_ratio >= {cut:g}", self.notes.get("tsr", "")])
        )
        rows.append(Row(self.name, "tsr", LINKS, self.score(pred), note))
        return rows

    def errors(self, n: int, rng: random.Random) -> str:
        pred = self.dedup_at(None, False)
        misses = sorted(self.gold - pred, key=repr)
        false = sorted((p for p in pred - self.gold if self.counted is None or self.counted(p)), key=repr)
        head = f"== {self.name}: {len(misses)} misses, {len(false)} false pairs"
        out = [head + " (dedup defaults, pairs inside clusters)"]
        for title, items in (("miss", misses), ("false", false)):
            for p in rng.sample(items, min(n, len(items))):
                out.append(f"-- {title} {p}\n{self.describe(p)}")
        return "\n".join(out)


def _evidence(clusters: Iterable[dedup.Cluster], wanted: Callable[[dedup.Cluster], bool]) -> str:
    """The strongest match of the first cluster ``wanted`` accepts, as dedup explains it."""
    for c in clusters:
        if wanted(c) and c.matches:
            m = max(c.matches, key=lambda m: m.score)
            return (
                f"  dedup: {m.kind} {m.score:.3f}\n    {m.a.key or ''} {_short(m.a.text, 220)}\n"
                f"    {m.b.key or ''} {_short(m.b.text, 220)}"
            )
    return ""


def _short(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# ---------------------------------------------------------------------------
# the sets


def _read(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _view(result: dedup.Clusters, t: float | None, links: bool) -> Sequence[dedup.Cluster]:
    """``result`` re-cut at ``t`` (None: as detected), as clusters or, with ``links``, one
    two-passage cluster per match (what the detector linked directly)."""
    cut = result if t is None else result.rethreshold(t)
    return link_clusters(cut.matches) if links else cut


def _views(results: Sequence[dedup.Clusters], t: float | None, links: bool) -> list[Sequence[dedup.Cluster]]:
    return [_view(r, t, links) for r in results]


SEED_UNIT = "paragraph pairs (lines of the file); optional pairs ignored"


def eval_seeds(seed_dir: Path) -> list[Evaluation]:
    return [_seed_format("seeds", SEED_UNIT, sorted(seed_dir.glob("*.gold.json")), None)]


def eval_news(data: Path) -> list[Evaluation]:
    """``news_restatements``: files sorted by name, the first half is the tune split.

    The held-out half and the whole set use the tune half's ``token_set_ratio`` cut.
    """
    files = sorted((data / "news_restatements").glob("*.gold.json"))
    half = len(files) // 2
    unit = SEED_UNIT + f" (tune: first {half} of {len(files)} files by name)"
    tune = _seed_format("news_restatements/tune", unit, files[:half], None)
    tune.rows()  # fixes the token_set_ratio cut on the tune split
    return [
        tune,
        _seed_format("news_restatements/held-out", unit, files[half:], tune.tsr_cut),
        _seed_format("news_restatements/all", unit, files, tune.tsr_cut),
    ]


def _seed_format(name: str, unit: str, gold_files: Sequence[Path], cut: float | None) -> Evaluation:
    """A set in the seed format: ``*.txt`` one paragraph per line, ``*.gold.json`` beside it.

    Units are (file, line, line) pairs: a gold cluster links every two of its lines,
    ``optional_pairs`` count neither way, every other linked pair is a false pair.
    """
    texts: dict[str, str] = {}
    gold: set[Pair] = set()
    optional: set[Pair] = set()
    for gold_file in gold_files:
        g = json.loads(gold_file.read_text(encoding="utf-8"))
        name_ = g["text_file"]
        texts[name_] = (gold_file.parent / name_).read_text(encoding="utf-8")
        for cluster in g["clusters"]:
            paras = sorted({p["paragraph"] for p in cluster})
            gold.update((name_, a, b) for a, b in itertools.combinations(paras, 2))
        optional.update((name_, *sorted(p)) for p in g.get("optional_pairs", []))
    names = sorted(texts)
    results = [dedup.find_duplicates(texts[n]) for n in names]
    lines = {n: Lines(texts[n]) for n in names}

    def dedup_at(t: float | None, links: bool = False) -> set[Pair]:
        out: set[Pair] = set()
        for n, res in zip(names, _views(results, t, links), strict=True):
            for a, b in cluster_pairs(res, lines[n].of_passage):
                out.add((n, a, b))
        return out

    para_text = {n: texts[n].split("\n") for n in names}
    exact: set[Pair] = set()
    lsh_pairs: set[Pair] = set()
    tsr: dict[Pair, float] = {}
    for n in names:
        ps = para_text[n]
        sents = [{normalise(s) for s in sentences(p)} - {""} for p in ps]
        lsh, hashes = lsh_of(ps)
        for i, j in itertools.combinations(range(len(ps)), 2):
            if sents[i] & sents[j]:
                exact.add((n, i, j))
            if ps[i].strip() and ps[j].strip():
                tsr[(n, i, j)] = fuzz.token_set_ratio(ps[i], ps[j], processor=default_process)
        for i, m in hashes.items():
            lsh_pairs.update((n, *sorted((i, j))) for j in lsh.query(m) if j != i)

    def describe(p: Pair) -> str:
        n, a, b = p
        return f"  [{a}] {_short(para_text[n][a])}\n  [{b}] {_short(para_text[n][b])}"

    return Evaluation(
        name,
        unit,
        gold,
        lambda p: p not in optional,
        dedup_at,
        {"exact": exact, "minhash": lsh_pairs},
        tsr,
        describe,
        tsr_cut=cut,
    )


def _bullet_in(linked: set[tuple[str, int]]) -> Callable[[Pair], bool]:
    def counted(pair: Pair) -> bool:
        return (pair[0], pair[1]) in linked

    return counted


def eval_cnn(data: Path) -> list[Evaluation]:
    arts = sorted(_read(data / "cnn_poc_highlights" / "articles.jsonl"), key=lambda a: a["id"])
    half = len(arts) // 2
    tune = _cnn_split("tune", arts[:half], None)
    tune.rows()  # fixes the token_set_ratio cut on the tune split
    return [tune, _cnn_split("held-out", arts[half:], tune.tsr_cut)]


def _cnn_split(split: str, part: list[dict[str, Any]], cut: float | None) -> Evaluation:
    gold: set[Pair] = set()
    linked: set[tuple[str, int]] = set()
    for a in part:
        for b, s in a["line_pairs"]:
            gold.add((a["id"], b, s))
            linked.add((a["id"], b))
    results = [dedup.find_duplicates(a["text"]) for a in part]
    lines = [Lines(a["text"]) for a in part]
    all_lines = {a["id"]: a["text"].split("\n") for a in part}
    order = {a["id"]: k for k, a in enumerate(part)}

    def dedup_at(t: float | None, links: bool = False) -> set[Pair]:
        found: set[Pair] = set()
        for a, ln, res in zip(part, lines, _views(results, t, links), strict=True):
            nb = a["n_bullets"]
            for u, v in cluster_pairs(res, ln.of_passage):
                if u < nb <= v:
                    found.add((a["id"], u, v))
        return found

    exact: set[Pair] = set()
    lsh_pairs: set[Pair] = set()
    tsr: dict[Pair, float] = {}
    for a in part:
        ls = all_lines[a["id"]]
        nb = a["n_bullets"]
        body_norm: dict[str, list[int]] = defaultdict(list)
        lsh = new_lsh()
        for j in range(nb, len(ls)):
            body_norm[normalise(ls[j])].append(j)
            m = minhash(ls[j])
            if m is not None:
                lsh.insert(j, m)
        for i in range(nb):
            if normalise(ls[i]):
                exact.update((a["id"], i, j) for j in body_norm.get(normalise(ls[i]), []))
            m = minhash(ls[i])
            if m is not None:
                lsh_pairs.update((a["id"], i, j) for j in lsh.query(m))
            if (a["id"], i) in linked:
                row = process.extract(
                    ls[i], ls[nb:], scorer=fuzz.token_set_ratio, processor=default_process, limit=None
                )
                for _, score, k in row:
                    tsr[(a["id"], i, nb + k)] = score

    def describe(p: Pair) -> str:
        aid, b, s = p
        k = order[aid]
        seen = _evidence(
            results[k], lambda c: {b, s} <= {i for q in c.passages for i in lines[k].of_passage(q)}
        )
        text = all_lines[aid]
        return f"  {aid} bullet {b}: {_short(text[b])}\n  body {s}: {_short(text[s])}\n{seen}"

    return Evaluation(
        f"cnn/{split}",
        "(bullet, body sentence) links; precision on linked bullets only",
        gold,
        _bullet_in(linked),
        dedup_at,
        {"exact": exact, "minhash": lsh_pairs},
        tsr,
        describe,
        tsr_cut=cut,
    )


CLOUGH_UNIT = "one unit per answer: linked to its task's source? (cut/light/heavy positive, non negative)"


def eval_clough(data: Path) -> list[Evaluation]:
    """Clough & Stevenson, two ways; both are across documents (source and answer are two docs).

    ``clough/per-answer``: one fresh ``DedupIndex`` per answer, holding its source, then it.
    ``clough/one-index``: one ``DedupIndex`` holding the 5 sources, then all 95 answers,
    so an answer can also link to other answers and other tasks' sources.  The
    baselines compare each answer with its own source only, so they are the same for both.
    """
    recs = _read(data / "clough_stevenson" / "answers.jsonl")
    answers = sorted((r for r in recs if r["level"] != "source"), key=lambda r: r["id"])
    sources = {r["source_id"]: r["source_text"] for r in answers}
    gold: set[Pair] = {(r["id"],) for r in answers if r["level"] != "non"}
    results = []
    for r in answers:
        index = dedup.DedupIndex()
        index.add("source", r["source_text"])
        index.add("answer", r["text"])
        results.append(index.clusters())

    def dedup_at(t: float | None, links: bool = False) -> set[Pair]:
        found: set[Pair] = set()
        for r, res in zip(answers, _views(results, t, links), strict=True):
            if any({p.key for p in c.passages} == {"source", "answer"} for c in res):
                found.add((r["id"],))
        return found

    shared = dedup.DedupIndex()
    for key in sorted(sources):
        shared.add(key, sources[key])
    for r in answers:
        shared.add(r["id"], r["text"])
    together = shared.clusters()
    source_of = {r["id"]: r["source_id"] for r in answers}

    def shared_at(t: float | None, links: bool = False) -> set[Pair]:
        found: set[Pair] = set()
        for c in _view(together, t, links):
            keys = {p.key for p in c.passages}
            found.update((k,) for k in keys if k in source_of and source_of[k] in keys)
        return found

    strays: set[str] = set()  # answers in a cluster with another task's source
    for c in together:
        keys = {p.key for p in c.passages}
        strays.update(k for k in keys if k in source_of and keys & (set(sources) - {source_of[k]}))

    exact: set[Pair] = set()
    lsh_pairs: set[Pair] = set()
    tsr: dict[Pair, float] = {}
    for r in answers:
        src = {normalise(s) for s in sentences(r["source_text"])} - {""}
        if src & {normalise(s) for s in sentences(r["text"])}:
            exact.add((r["id"],))
        lsh, _ = lsh_of(paragraphs(r["source_text"]))
        ms = [minhash(p) for p in paragraphs(r["text"])]
        if any(m is not None and lsh.query(m) for m in ms):
            lsh_pairs.add((r["id"],))
        tsr[(r["id"],)] = fuzz.token_set_ratio(r["text"], r["source_text"], processor=default_process)
    by_id = {r["id"]: r for r in answers}
    order = {r["id"]: k for k, r in enumerate(answers)}

    def describe(p: Pair) -> str:
        r = by_id[p[0]]
        seen = _evidence(results[order[p[0]]], lambda c: len({q.key for q in c.passages}) == 2)
        return f"  level {r['level']}, task {r['task']}: {_short(r['text'], 240)}\n{seen}"

    def describe_shared(p: Pair) -> str:
        r = by_id[p[0]]
        seen = _evidence(together, lambda c: {r["id"], r["source_id"]} <= {q.key for q in c.passages})
        return f"  level {r['level']}, task {r['task']}: {_short(r['text'], 240)}\n{seen}"

    baselines = {"exact": exact, "minhash": lsh_pairs}
    per_answer = Evaluation(
        "clough/per-answer",
        CLOUGH_UNIT + "; one DedupIndex per answer: its source, then it",
        gold,
        None,
        dedup_at,
        baselines,
        tsr,
        describe,
    )
    one_index = Evaluation(
        "clough/one-index",
        CLOUGH_UNIT + "; one DedupIndex: the 5 sources, then the 95 answers",
        gold,
        None,
        shared_at,
        baselines,
        tsr,
        describe_shared,
        notes={
            "dedup": f"defaults; {len(strays)} answers in a cluster with another task's source (unscored)",
            **{k: "each answer against its own source, as per-answer" for k in ("exact", "minhash", "tsr")},
        },
    )
    return [per_answer, one_index]


def eval_lee(data: Path) -> list[Evaluation]:
    docs = _read(data / "lee_background" / "docs.jsonl")
    keys = [d["id"] for d in docs]
    pos = {k: n for n, k in enumerate(keys)}
    gold: set[Pair] = {(a, b) for a, b in LEE_NEAR_DUPLICATES}
    index = dedup.DedupIndex()
    for d in docs:
        index.add(d["id"], d["text"])
    result = index.clusters()

    def dedup_at(t: float | None, links: bool = False) -> set[Pair]:
        res = _view(result, t, links)
        return {(pos[str(a)], pos[str(b)]) for a, b in cluster_pairs(res, lambda p: [p.key])}

    texts = [d["text"] for d in docs]
    sents = [{normalise(s) for s in sentences(t)} - {""} for t in texts]
    exact = {(i, j) for i, j in itertools.combinations(range(len(texts)), 2) if sents[i] & sents[j]}
    lsh, hashes = lsh_of(texts)
    lsh_pairs = {tuple(sorted((i, j))) for i, m in hashes.items() for j in lsh.query(m) if j != i}
    matrix = process.cdist(texts, texts, scorer=fuzz.token_set_ratio, processor=default_process, workers=2)
    tsr = {(i, j): float(matrix[i, j]) for i, j in itertools.combinations(range(len(texts)), 2)}

    def describe(p: Pair) -> str:
        a, b = p
        seen = _evidence(result, lambda c: {keys[a], keys[b]} <= {q.key for q in c.passages})
        return f"  {keys[a]}: {_short(texts[a], 200)}\n  {keys[b]}: {_short(texts[b], 200)}\n{seen}"

    return [
        Evaluation(
            "lee",
            "document pairs; positives = the 11 near-duplicates its README lists",
            gold,
            None,
            dedup_at,
            {"exact": exact, "minhash": lsh_pairs},
            tsr,
            describe,
        )
    ]


def eval_cleanportal(data: Path) -> list[Evaluation]:
    pages = _read(data / "cleanportaleval" / "pages.jsonl")
    by_site: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in pages:
        by_site[p["site"]].append(p)
    gold: set[Pair] = set()
    line_text: dict[Pair, str] = {}
    for p in pages:
        for i, (line, label) in enumerate(zip(p["text"].split("\n"), p["labels"], strict=True)):
            line_text[(p["id"], i)] = line
            if label == 0:
                gold.add((p["id"], i))
    results = {}
    for site, ps in sorted(by_site.items()):
        index = dedup.DedupIndex()
        for p in ps:
            index.add(p["id"], p["text"])
        results[site] = index.clusters()
    line_maps = {p["id"]: Lines(p["text"]) for p in pages}

    def dedup_at(t: float | None, links: bool = False) -> set[Pair]:
        flagged: set[Pair] = set()
        for res in results.values():
            for c in _view(res, t, links):
                if len({p.key for p in c.passages}) < 2:
                    continue
                for p in c.passages:
                    key = str(p.key)
                    flagged.update((key, i) for i in line_maps[key].covered(p.start, p.end))
        return flagged

    exact: set[Pair] = set()
    lsh_flag: set[Pair] = set()
    tsr: dict[Pair, float] = {}
    for _site, ps in sorted(by_site.items()):
        units = [(p["id"], i) for p in ps for i in range(len(p["text"].split("\n")))]
        texts = [line_text[u] for u in units]
        norm = [normalise(t) for t in texts]
        pages_of: dict[str, set[str]] = defaultdict(set)
        for u, n in zip(units, norm, strict=True):
            if n:
                pages_of[n].add(u[0])
        exact.update(u for u, n in zip(units, norm, strict=True) if n and len(pages_of[n]) > 1)
        lsh, hashes = lsh_of(texts)
        for k, m in hashes.items():
            if any(units[j][0] != units[k][0] for j in lsh.query(m)):
                lsh_flag.add(units[k])
        # brute force over all cross-page pairs: each line's best score on another page.
        # Identical lines are scored once: a line on two pages scores 100 by itself.
        processed = [default_process(t) for t in texts]
        pages_with: dict[str, set[str]] = defaultdict(set)
        for u, text in zip(units, processed, strict=True):
            pages_with[text].add(u[0])
        distinct = sorted(pages_with)
        only_page = np.array([next(iter(pages_with[t])) if len(pages_with[t]) == 1 else "" for t in distinct])
        lonely = [k for k, t in enumerate(distinct) if len(pages_with[t]) == 1]
        best_of = {t: 100.0 for t in distinct if len(pages_with[t]) > 1}
        step = 256
        for lo in range(0, len(lonely), step):
            rows = lonely[lo : lo + step]
            block = process.cdist(
                [distinct[k] for k in rows], distinct, scorer=fuzz.token_set_ratio, workers=2
            )
            block[only_page[rows][:, None] == only_page[None, :]] = 0
            for k, score in zip(rows, block.max(axis=1), strict=True):
                best_of[distinct[k]] = float(score)
        best = [best_of[t] for t in processed]
        for u, s, n in zip(units, best, norm, strict=True):
            if n:
                tsr[u] = float(s)

    def describe(p: Pair) -> str:
        return f"  {p[0]} line {p[1]}: {_short(line_text[p], 200)!r}"

    return [
        Evaluation(
            "cleanportal",
            "lines repeated on another page of the site; positive = boilerplate (label 0)",
            gold,
            None,
            dedup_at,
            {"exact": exact, "minhash": lsh_flag},
            tsr,
            describe,
        )
    ]


def eval_msrp(data: Path) -> list[Evaluation]:
    pairs = _read(data / "msrp_train" / "pairs.jsonl")
    gold: set[Pair] = {(r["id"],) for r in pairs if int(r["label"]) == 1}
    results = [dedup.find_duplicates(r["a"] + "\n\n" + r["b"]) for r in pairs]

    def dedup_at(t: float | None, links: bool = False) -> set[Pair]:
        found: set[Pair] = set()
        for r, res in zip(pairs, _views(results, t, links), strict=True):
            cut = len(r["a"])
            for c in res:
                if {p.start < cut for p in c.passages} == {True, False}:
                    found.add((r["id"],))
                    break
        return found

    exact: set[Pair] = set()
    lsh_pairs: set[Pair] = set()
    tsr: dict[Pair, float] = {}
    for r in pairs:
        if normalise(r["a"]) == normalise(r["b"]):
            exact.add((r["id"],))
        ma, mb = minhash(r["a"]), minhash(r["b"])
        if ma is not None and mb is not None:
            lsh = new_lsh()
            lsh.insert("a", ma)
            if lsh.query(mb):
                lsh_pairs.add((r["id"],))
        tsr[(r["id"],)] = fuzz.token_set_ratio(r["a"], r["b"], processor=default_process)
    by_id = {r["id"]: r for r in pairs}

    def describe(p: Pair) -> str:
        r = by_id[p[0]]
        return f"  a: {_short(r['a'])}\n  b: {_short(r['b'])}"

    return [
        Evaluation(
            "msrp",
            "sentence pairs; positive = paraphrase (label 1)",
            gold,
            None,
            dedup_at,
            {"exact": exact, "minhash": lsh_pairs},
            tsr,
            describe,
        )
    ]


SETS: dict[str, Callable[[Path], list[Evaluation]]] = {
    "seeds": lambda data: eval_seeds(ROOT / "seeds"),
    "news_restatements": eval_news,
    "cnn": eval_cnn,
    "clough": eval_clough,
    "lee": eval_lee,
    "cleanportal": eval_cleanportal,
    "msrp": eval_msrp,
}


# ---------------------------------------------------------------------------
# output


def targets(rows: Sequence[Row]) -> list[tuple[str, bool]]:
    """The targets for dedup's defaults, each with whether this run meets it.

    First the earlier targets (pairs inside clusters unless a line says otherwise),
    then issue 20's ("Clusters a reader can trust").
    """
    by: dict[str, dict[tuple[str, str], Score]] = defaultdict(dict)
    for r in rows:
        by[r.dataset][(r.method, r.measure)] = r.score
    links, clusters = ("dedup", LINKS), ("dedup", CLUSTERS)
    out: list[tuple[str, bool]] = []
    for name in ("cnn/tune", "cnn/held-out"):
        if name in by:
            s = by[name][clusters]
            out.append((f"{name}: F1 >= 0.80 with precision >= 0.80", s.f1 >= 0.8 and s.precision >= 0.8))
    if "clough/per-answer" in by:
        out.append(("clough/per-answer: F1 >= 0.98", by["clough/per-answer"][clusters].f1 >= 0.98))
    if "lee" in by:
        out.append(("lee: no false pairs beyond the listed near-duplicates", by["lee"][clusters].fp == 0))
    if "cleanportal" in by:
        s, exact = by["cleanportal"][clusters], by["cleanportal"][("exact", LINKS)]
        out.append(("cleanportal: precision >= 0.99", s.precision >= 0.99))
        out.append(("cleanportal: recall above the exact-hash baseline", s.recall > exact.recall))
    for name, scores in by.items():
        best = max(v.f1 for (method, _), v in scores.items() if method != "dedup")
        out.append((f"{name}: F1 at least every baseline's", scores[clusters].f1 >= best))
    # issue 20
    for name in ("news_restatements/tune", "news_restatements/held-out", "news_restatements/all"):
        if name in by:
            out.append((f"{name}: pairs inside clusters F1 >= 0.70", by[name][clusters].f1 >= 0.70))
            out.append((f"{name}: direct links F1 >= 0.70", by[name][links].f1 >= 0.70))
    for name in ("cnn/tune", "cnn/held-out"):
        if name in by:
            s = by[name][clusters]
            out.append(
                (
                    f"{name}: pairs inside clusters F1 >= 0.75 with precision >= 0.80",
                    s.f1 >= 0.75 and s.precision >= 0.80,
                )
            )
            out.append((f"{name}: direct links F1 >= 0.75", by[name][links].f1 >= 0.75))
    for name, scores in by.items():
        gap = scores[links].precision - 0.03
        out.append(
            (f"{name}: cluster precision >= direct-link precision - 0.03", scores[clusters].precision >= gap)
        )
    for name in ("clough/per-answer", "clough/one-index"):
        if name in by:
            out.append((f"{name}: F1 >= 0.97", by[name][clusters].f1 >= 0.97))
    if "cleanportal" in by:
        s = by["cleanportal"][clusters]
        out.append(
            (
                f"cleanportal: recall >= {CLEANPORTAL_RECALL} (issue 20's today)",
                s.recall >= CLEANPORTAL_RECALL,
            )
        )
    if "seeds" in by:
        s = by["seeds"][clusters]
        out.append(("seeds: exact (every gold pair, no other)", s.fn == 0 and s.fp == 0))
    if "lee" in by:
        s = by["lee"][clusters]
        out.append(
            (f"lee: at most {LEE_FALSE_PAIRS} false pairs (issue 20's today)", s.fp <= LEE_FALSE_PAIRS)
        )
    return out


def format_table(rows: Sequence[Row], units: dict[str, str]) -> str:
    """One line per set and method: direct links, then pairs inside clusters ("-" if it has none)."""
    cells = f"{'P':>6} {'R':>6} {'F1':>6} {'TP':>5} {'FP':>5} {'FN':>5}"
    width = max([len(r.dataset) for r in rows] + [3])
    lead = f"{'':<{width}} {'':<8}"
    group = len(cells)
    head = f"{'set':<{width}} {'method':<8} {cells} | {cells}  note"
    lines = [f"{lead} {'direct links':<{group}} | pairs inside clusters", head, "-" * len(head)]
    by: dict[tuple[str, str], dict[str, Row]] = defaultdict(dict)
    for r in rows:
        by[(r.dataset, r.method)][r.measure] = r

    def cell(r: Row | None) -> str:
        if r is None:
            return f"{'-':>6} {'':>6} {'':>6} {'':>5} {'':>5} {'':>5}"
        s = r.score
        return f"{s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} {s.tp:5d} {s.fp:5d} {s.fn:5d}"

    last = None
    for (dataset, method), measures in by.items():
        if last is not None and dataset != last:
            lines.append("")
        last = dataset
        link, cluster = measures.get(LINKS), measures.get(CLUSTERS)
        note = "; ".join(dict.fromkeys(r.note for r in (link, cluster) if r is not None and r.note))
        lines.append(f"{dataset:<{width}} {method:<8} {cell(link)} | {cell(cluster)}  {note}".rstrip())
    lines.append("")
    lines.append("Measures:")
    lines.extend(f"  {name:<9} {text}" for name, text in MEASURES.items())
    lines.append("Pair units:")
    lines.extend(f"  {name:<{width}} {unit}" for name, unit in units.items())
    return "\n".join(lines)


def plot(evaluations: Sequence[Evaluation], path: Path) -> None:
    try:
        import matplotlib  # type: ignore[import-not-found, unused-ignore]

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        sys.exit("--plot needs matplotlib: pip install -e '.[plot]'")
    default = dedup.Options().threshold
    cols = min(3, len(evaluations))
    rows = (len(evaluations) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, ev in zip(axes.flat, evaluations, strict=False):
        ps, rs = [], []
        for t in PLOT_THRESHOLDS:
            s = Score.of(ev.dedup_at(t, False), ev.gold, ev.counted)
            ps.append(s.precision)
            rs.append(s.recall)
        ax.plot(PLOT_THRESHOLDS, ps, "o-", label="precision")
        ax.plot(PLOT_THRESHOLDS, rs, "s-", label="recall")
        ax.axvline(default, color="grey", linestyle=":", linewidth=1)
        ax.set_title(ev.name)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("verification threshold")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(evaluations) :]:
        ax.axis("off")
    axes.flat[0].legend(loc="lower left")
    fig.suptitle(
        f"dedup: precision and recall against the verification threshold (default {default:g}, dotted)"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


def _commit() -> str | None:
    """The repository's HEAD commit, so a stored table says which code it measured."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def read_before(spec: str) -> dict[str, Any]:
    """An earlier run's table: a JSON file this script wrote, or the one committed at revision ``spec``."""
    path = Path(spec)
    try:
        if path.is_file():
            text = path.read_text(encoding="utf-8")
        else:
            rel = (RESULTS / "quality.json").relative_to(ROOT).as_posix()
            text = subprocess.run(
                ["git", "show", f"{spec}:{rel}"], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout
        payload: dict[str, Any] = json.loads(text)
    except (OSError, subprocess.CalledProcessError, json.JSONDecodeError) as exc:
        raise SystemExit(
            f"quality.py: --before {spec}: neither a table file nor a revision holding one ({exc})"
        ) from exc
    if payload.get("schema") != SCHEMA:
        raise SystemExit(
            f"quality.py: --before {spec}: table schema {payload.get('schema')}, this script writes {SCHEMA}"
        )
    return payload


def format_before_after(rows: Sequence[Row], before: dict[str, Any]) -> str:
    """dedup's rows, before (``before``'s table) and now, with the change in F1."""
    old = {(r["dataset"], r["measure"]): r for r in before["rows"] if r["method"] == "dedup"}
    label = str(before.get("commit") or "before")[:9]
    head = f"{'set':<27}{'measure':<10}{'P':>7}{'R':>7}{'F1':>7} |{'P':>8}{'R':>7}{'F1':>7}{'dF1':>8}"
    lines = [f"dedup before ({label}, left) and now (right)", head, "-" * len(head)]
    for row in rows:
        if row.method != "dedup":
            continue
        s, b = row.score, old.get((row.dataset, row.measure))
        was = (
            f"{b['precision']:>7.3f}{b['recall']:>7.3f}{b['f1']:>7.3f}" if b else f"{'-':>7}{'-':>7}{'-':>7}"
        )
        delta = f"{s.f1 - b['f1']:>+8.3f}" if b else f"{'-':>8}"
        lines.append(
            f"{row.dataset:<27}{row.measure:<10}{was} |{s.precision:>8.3f}{s.recall:>7.3f}{s.f1:>7.3f}{delta}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of the labelled sets")
    ap.add_argument("--dataset", action="append", choices=sorted(SETS), help="run only this set (repeatable)")
    ap.add_argument(
        "--show-errors", action="store_true", help="print a sample of dedup's misses and false pairs"
    )
    ap.add_argument("--errors", type=int, default=5, help="examples of each kind with --show-errors")
    ap.add_argument(
        "--json",
        type=Path,
        nargs="?",
        const=RESULTS / "quality.json",
        help="write the table (default path: benchmarks/results/quality.json); without it nothing is "
        "written, so a partial run (--dataset) never replaces the committed full table",
    )
    ap.add_argument("--plot", nargs="?", const=RESULTS / "quality.png", type=Path, help="write a PNG")
    ap.add_argument(
        "--before",
        metavar="FILE|REV",
        help="also print dedup's rows beside an earlier run's: a table written with --json, or a git "
        "revision (its committed benchmarks/results/quality.json)",
    )
    args = ap.parse_args(argv)
    before = read_before(args.before) if args.before else None
    if not args.data.is_dir():
        print(
            f"quality.py: no labelled data at {args.data}: pass --data DIR, the folder holding "
            "clough_stevenson/, cnn_poc_highlights/, lee_background/, ... (each set's README says where "
            "it comes from); the seed alone: --dataset seeds",
            file=sys.stderr,
        )
        if not (args.dataset and set(args.dataset) <= {"seeds"}):
            return 2

    evaluations: list[Evaluation] = []
    rows: list[Row] = []
    timings: dict[str, float] = {}
    for name in args.dataset or list(SETS):
        t0 = time.perf_counter()
        evs = SETS[name](args.data)
        for ev in evs:
            rows.extend(ev.rows())
        timings[name] = round(time.perf_counter() - t0, 1)
        print(f"[{name}: {timings[name]} s]", file=sys.stderr)
        evaluations.extend(evs)
    units = {ev.name: ev.unit for ev in evaluations}
    print(format_table(rows, units))
    if before is not None:
        print()
        print(format_before_after(rows, before))
    goals = targets(rows)
    print("\nTargets (dedup, defaults):")
    print("\n".join(f"  [{'x' if ok else ' '}] {goal}" for goal, ok in goals))
    if args.show_errors:
        rng = random.Random(0)
        for ev in evaluations:
            print()
            print(ev.errors(args.errors, rng))
    if args.json is None:
        if args.plot:
            plot(evaluations, args.plot)
            print(f"wrote {args.plot}", file=sys.stderr)
        return 0
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "dedup_version": dedup.__version__,
        "commit": _commit(),
        "command": "python benchmarks/quality.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "schema": SCHEMA,
        "measures": MEASURES,
        "units": units,
        "seconds": timings,
        "rows": [r.as_dict() for r in rows],
        "targets": [{"target": goal, "met": ok} for goal, ok in goals],
    }
    args.json.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    if args.plot:
        plot(evaluations, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
