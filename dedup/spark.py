"""Dedup on Apache Spark: the in-process pipeline, stage by stage, on DataFrames.

Every stage reuses the library's own code inside executors, so the results
equal :meth:`dedup.DedupIndex.clusters` on the same documents (taken in the
order of their ids):

1. **Sentences and signatures** (``mapInPandas``): :func:`dedup._text.segment`,
   the stable shingle hashes, the batch MinHash and the LSH band keys of each
   Arrow batch.  A sentence is identified by ``sid = ordinal << 20 | position``,
   which sorts exactly like the in-process sentence index.
2. **Candidates** (``groupBy`` band key) from the engine's two LSH families
   (across documents, and within each document), each with the same bucket
   cap and, when the in-process engine would prune, the same top-k partners
   per sentence.
3. **Exact copies** chained per normalised sentence (a window ``lag``).
4. **Verification**: pairs are grouped by sentence, each group carrying the
   pickled sentences of all its partners, so that :class:`dedup._verify.reference.Verifier`
   scores the pairs and runs the greedy ``cover`` with every partner in view.
   Of the links found for one pair the best one wins, ties going to the one
   the in-process engine finds first.
5. **Connected components** of the linked sentences by the large-star /
   small-star iteration on DataFrames; then :func:`dedup._cluster.build`
   merges passages and assembles clusters per component, on executors.

pyspark is imported only here: ``pip install 'dedup[spark]'``.
"""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from dedup._arrays import run_firsts
from dedup._cluster.build import build
from dedup._errors import DedupError, DuplicateKeyError
from dedup._options import Options
from dedup._rules import LINK_FLOOR, MIN_SHARED_BANDS
from dedup._sketch.minhash import band_keys, lsh_params, signatures
from dedup._sketch.shingle import sentence_shingle_hashes
from dedup._text.segment import Sentence, segment
from dedup._types import Doc
from dedup._verify.reference import Link, Verifier

_MISSING: ImportError | None = None
try:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession, Window
    from pyspark.sql import functions as F
    from pyspark.storagelevel import StorageLevel
except ImportError as err:  # pragma: no cover - depends on the environment
    # Importable without pyspark (doctest collection, ``python -m dedup --help``);
    # every entry point says what to install.
    _MISSING = err


__all__ = ["SparkResult", "connected_components", "find_duplicates", "session"]

#: Same limits as :func:`dedup._sketch.minhash.candidate_pairs` (part of its semantics).
MAX_BUCKET = 256
MAX_PER_ROW = 64

_POS_BITS = 20
_DOC_MIX = np.uint64(0xD6E8FEB86659FD93)  # the within-document band key mix of ``lsh_candidates``
_Batches = Iterator[pd.DataFrame]

_SENTENCE_SCHEMA = (
    "sid long, doc long, para int, n_words int, norm string, eligible boolean, blob binary, "
    "keys array<long>, lkeys array<long>"
)
_LINK_SCHEMA = (
    "lo long, hi long, score double, kind string, ia int, ib int, ja int, jb int, src int, csid long, seq int"
)
_ALIGN = "array<struct<a_start:int,a_end:int,b_start:int,b_end:int,score:double>>"
_ASSEMBLY_SCHEMA = (
    "tag string, comp long, lc int, c_score double, c_ord long, c_start int, c_end int, "
    "ord long, key string, p_start int, p_end int, text string, representative boolean, "
    "a_ord long, a_key string, a_start int, a_end int, a_text string, "
    "b_ord long, b_key string, b_start int, b_end int, b_text string, "
    f"score double, kind string, alignments {_ALIGN}"
)

_ASSEMBLY_COLUMNS = [c.split()[0] for c in _ASSEMBLY_SCHEMA.split(", ")]


class SparkResult:
    """What :func:`find_duplicates` returns: two DataFrames over cached intermediate tables.

    Attributes
    ----------
    clusters : DataFrame
        One row per passage, like :meth:`dedup.Clusters.to_records`: ``cluster``
        (0 = best, the in-process order), ``score``, ``key``, ``start``, ``end``,
        ``text``, ``representative``; sorted by cluster, then position.
    matches : DataFrame
        One row per verified passage pair, best first: ``a_key``, ``a_start``,
        ``a_end``, ``a_text``, the same for ``b``, ``score``, ``kind`` and the
        sentence ``alignments`` behind it.
    """

    def __init__(self, clusters: DataFrame, matches: DataFrame, cached: Sequence[DataFrame]) -> None:
        self.clusters = clusters
        self.matches = matches
        self._cached = list(cached)

    def unpersist(self) -> None:
        """Release the cached intermediate tables (the DataFrames then recompute on use)."""
        for df in self._cached:
            df.unpersist()

    def __repr__(self) -> str:
        return "SparkResult(clusters=DataFrame, matches=DataFrame)"


def find_duplicates(
    df: DataFrame,
    *,
    id_column: str = "id",
    text_column: str = "text",
    **options: Any,
) -> SparkResult:
    """Passages repeated within or across the documents of a Spark DataFrame.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
        One row per document: a unique id (cast to string as the passage
        ``key``) and its text (null counts as empty).
    id_column, text_column : str
        Column names.
    **options
        Keyword options of :class:`dedup.Options` (``threshold``, ``num_perm``, …).

    Returns
    -------
    SparkResult
        ``clusters`` and ``matches`` DataFrames, equal to what
        ``DedupIndex.from_texts(sorted(rows)).clusters()`` gives in process.
        A few small actions (counts, the component iterations) run eagerly.
    """
    _require()
    opts = Options(**options)
    for name in (id_column, text_column):
        if name not in df.columns:
            raise DedupError(f"column {name!r} not in the DataFrame (columns: {', '.join(df.columns)})")
    cached: list[DataFrame] = []

    def keep(frame: DataFrame) -> DataFrame:
        frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
        cached.append(frame)
        return frame

    docs, staged = _ordered_docs(df, id_column, text_column)
    cached.append(staged)
    sentences = keep(docs.mapInPandas(_sentence_stage(opts), _SENTENCE_SCHEMA))
    # Two LSH families, as ``lsh_candidates``: across the corpus, and within each document.
    n_sentences = sentences.count()
    across = _candidate_pairs(sentences.select("sid", F.explode("keys").alias("key")))
    across = keep(across.where(F.col("shared") >= MIN_SHARED_BANDS))
    within = keep(_candidate_pairs(sentences.select("sid", F.explode("lkeys").alias("key"))))
    across, within = _prune(across, n_sentences), _prune(within, n_sentences)
    pairs = across.unionByName(within).distinct()
    eligible = sentences.where("eligible").select("sid")
    pairs = pairs.join(eligible.withColumnRenamed("sid", "lo"), "lo").join(
        eligible.withColumnRenamed("sid", "hi"), "hi"
    )
    exact = _exact_chain(sentences)
    to_verify = pairs.join(exact.select("lo", "hi"), ["lo", "hi"], "left_anti")
    verified = _verify(to_verify, sentences, opts)
    links = keep(_best_links(exact.unionByName(verified)))
    kept = links.where(F.col("score") >= F.lit(opts.threshold))
    assembled = keep(_assemble(kept, sentences, docs, opts.threshold))
    return SparkResult(_clusters_frame(assembled), _matches_frame(assembled), cached)


def _require() -> None:
    if _MISSING is not None:
        raise ImportError(f"dedup.spark needs pyspark and pyarrow: pip install 'dedup[spark]' ({_MISSING})")


# --- 1. documents and sentences ---------------------------------------------------------------


def _ordered_docs(df: DataFrame, id_column: str, text_column: str) -> tuple[DataFrame, DataFrame]:
    """Documents with a dense ``ord`` in id order (the order ``DedupIndex`` would see them in),
    and the cached table they are read from."""
    base = df.select(
        F.col(id_column).cast("string").alias("key"),
        F.coalesce(F.col(text_column).cast("string"), F.lit("")).alias("text"),
    )
    bad = base.groupBy("key").count().where("key IS NULL OR count > 1").limit(1).collect()
    if bad and bad[0]["key"] is None:
        raise DedupError(f"column {id_column!r} has null ids: every document needs a key")
    if bad:
        raise DuplicateKeyError(f"key {bad[0]['key']!r} appears more than once in column {id_column!r}")
    staged = (
        base.orderBy("key")
        .withColumn("_part", F.spark_partition_id())
        .withColumn("_mono", F.monotonically_increasing_id())
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    counts: dict[int, int] = {int(r[0]): int(r[1]) for r in staged.groupBy("_part").count().collect()}
    offsets: dict[int, int] = {}
    total = 0
    for part in sorted(counts):
        offsets[part] = total
        total += counts[part]
    offset = F.create_map(*[F.lit(x) for kv in offsets.items() for x in kv]) if offsets else F.lit(None)
    # monotonically_increasing_id() is (partition << 33) + row within the partition; ``staged``
    # stays cached so that both are read back, never recomputed.
    row = F.col("_mono") - F.shiftleft(F.col("_part").cast("long"), 33)
    ordinal = (offset[F.col("_part")] + row) if offsets else row
    return staged.select(ordinal.cast("long").alias("ord"), "key", "text"), staged


def _sentence_stage(opts: Options) -> Callable[[_Batches], _Batches]:
    bands, rows = lsh_params(opts.lsh_threshold, opts.num_perm)
    l_bands, l_rows = lsh_params(opts.local_lsh_threshold, opts.num_perm)

    def run(batches: _Batches) -> _Batches:
        for pdf in batches:
            sents: list[Sentence] = []
            sids: list[int] = []
            doc_of: list[int] = []
            for ordinal, text in zip(pdf["ord"].tolist(), pdf["text"].tolist(), strict=True):
                found = segment(text)
                if len(found) >= 1 << _POS_BITS:
                    raise DedupError(f"a document has {len(found)} sentences; at most {1 << _POS_BITS} fit")
                for pos, sent in enumerate(found):
                    sents.append(sent)
                    sids.append((ordinal << _POS_BITS) | pos)
                    doc_of.append(ordinal)
            if not sents:
                continue
            hashes, offsets = sentence_shingle_hashes(sents, opts.shingle_size)
            sigs = signatures(hashes, offsets, opts.num_perm, opts.seed)
            keys = band_keys(sigs, bands, rows).view(np.int64)
            local_keys = band_keys(sigs, l_bands, l_rows)
            with np.errstate(over="ignore"):  # keyed by document, as in ``lsh_candidates``
                local_keys ^= (np.asarray(doc_of, np.uint64) + np.uint64(1))[:, None] * _DOC_MIX
            verifier = Verifier(sents, min_words=opts.min_words, sent_doc=doc_of)
            yield pd.DataFrame(
                {
                    "sid": sids,
                    "doc": doc_of,
                    "para": [s.para for s in sents],
                    "n_words": [len(s.words) for s in sents],
                    "norm": [s.norm for s in sents],
                    "eligible": [verifier.eligible(k) for k in range(len(sents))],
                    "blob": [pickle.dumps(s, protocol=5) for s in sents],
                    "keys": list(keys),
                    "lkeys": list(local_keys.view(np.int64)),
                }
            )

    return run


# --- 2. candidates ------------------------------------------------------------------------------


def _candidate_pairs(keys: DataFrame) -> DataFrame:
    """``(lo, hi, shared)`` sentence pairs sharing a band key: ``candidate_pairs`` on a DataFrame."""
    buckets = (
        keys.groupBy("key")
        .agg(F.collect_list("sid").alias("m"))
        .where((F.size("m") > 1) & (F.size("m") <= MAX_BUCKET))
    )
    firsts = buckets.select(F.posexplode("m").alias("p1", "a"), "m")
    both = firsts.select("p1", "a", F.posexplode("m").alias("p2", "b")).where(F.col("p1") < F.col("p2"))
    pairs = (
        both.select(F.least("a", "b").alias("lo"), F.greatest("a", "b").alias("hi"))
        .where(F.col("lo") != F.col("hi"))
        .groupBy("lo", "hi")
        .agg(F.count(F.lit(1)).alias("shared"))
    )
    return pairs


def _prune(pairs: DataFrame, n_sentences: int) -> DataFrame:
    """The top-k partners per sentence, when ``candidate_pairs`` would prune; ``(lo, hi)``."""
    if pairs.count() > MAX_PER_ROW * n_sentences // 2:
        # Each sentence keeps the partners it shares most bands with, ranked separately
        # among higher and lower partners (ties: lower index), as ``_top_per_row`` does.
        by_lo = Window.partitionBy("lo").orderBy(F.desc("shared"), F.asc("hi"))
        by_hi = Window.partitionBy("hi").orderBy(F.desc("shared"), F.asc("lo"))
        pairs = (
            pairs.withColumn("r_lo", F.row_number().over(by_lo))
            .withColumn("r_hi", F.row_number().over(by_hi))
            .where((F.col("r_lo") <= MAX_PER_ROW) | (F.col("r_hi") <= MAX_PER_ROW))
        )
    return pairs.select("lo", "hi")


def _exact_chain(sentences: DataFrame) -> DataFrame:
    """Eligible sentences with the same normalised words, each linked to the previous copy."""
    w = Window.partitionBy("norm").orderBy("sid")
    chain = (
        sentences.where("eligible")
        .select(
            "sid", "n_words", F.lag("sid").over(w).alias("prev"), F.lag("n_words").over(w).alias("prev_n")
        )
        .where(F.col("prev").isNotNull())
    )
    return chain.select(
        F.col("prev").alias("lo"),
        F.col("sid").alias("hi"),
        F.lit(1.0).alias("score"),
        F.lit("exact").alias("kind"),
        F.lit(0).alias("ia"),
        F.col("prev_n").cast("int").alias("ib"),
        F.lit(0).alias("ja"),
        F.col("n_words").cast("int").alias("jb"),
        F.lit(0).alias("src"),
        F.lit(0).cast("long").alias("csid"),
        F.lit(0).alias("seq"),
    )


# --- 3. verification ----------------------------------------------------------------------------


def _verify(pairs: DataFrame, sentences: DataFrame, opts: Options) -> DataFrame:
    """Pair scores and greedy cover links, one executor group per sentence and its partners."""
    edges = pairs.select(F.col("lo").alias("i"), F.col("hi").alias("j")).unionByName(
        pairs.select(F.col("hi").alias("i"), F.col("lo").alias("j"))
    )
    selves = edges.select("i").distinct().select("i", F.col("i").alias("j"))
    blobs = sentences.select(F.col("sid").alias("j"), "blob")
    grouped = (
        edges.unionByName(selves)
        .join(blobs, "j")
        .repartition("i")
        .sortWithinPartitions("i", "j")
        .select("i", "j", "blob")
    )
    return grouped.mapInPandas(_verify_stage(opts), _LINK_SCHEMA)


def _groups(batches: _Batches, key: str) -> Iterator[tuple[pd.DataFrame, list[tuple[int, int]]]]:
    """Rows sorted by ``key``, as (batch, [(first, stop), ...]) runs of equal keys.

    A run cut by an Arrow batch boundary is carried over into the next batch.
    """
    carry: pd.DataFrame | None = None
    for pdf in batches:
        if carry is not None and len(carry):
            pdf = pd.concat([carry, pdf], ignore_index=True)
        if not len(pdf):
            continue
        values = pdf[key].to_numpy()
        cut = int(np.searchsorted(values, values[-1], side="left"))
        carry = pdf.iloc[cut:].reset_index(drop=True)
        if cut:
            yield pdf.iloc[:cut].reset_index(drop=True), _runs(values[:cut])
    if carry is not None and len(carry):
        yield carry, _runs(carry[key].to_numpy())


def _runs(values: np.ndarray[Any, Any]) -> list[tuple[int, int]]:
    starts = np.flatnonzero(run_firsts(values))
    stops = np.append(starts[1:], values.size)
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def _verify_stage(opts: Options) -> Callable[[_Batches], _Batches]:
    floor = min(LINK_FLOOR, opts.threshold)
    max_sources = opts.max_sources if opts.fusion else 1

    def run(batches: _Batches) -> _Batches:
        for pdf, runs in _groups(batches, "i"):
            ids, js, blobs = pdf["i"].tolist(), pdf["j"].tolist(), pdf["blob"].tolist()
            out: list[tuple[Any, ...]] = []
            for first, stop in runs:
                i = ids[first]
                sids = js[first:stop]  # sorted, ``i`` among them: local order == global order
                verifier = Verifier(
                    [pickle.loads(b) for b in blobs[first:stop]],
                    min_words=opts.min_words,
                    sent_doc=[sid >> _POS_BITS for sid in sids],
                )
                here = sids.index(i)
                partners = [k for k in range(len(sids)) if k != here]
                for k in partners:
                    if sids[k] > i:
                        link = verifier.pair(here, k)
                        if link is not None and link.score >= floor:
                            out.append(_link_row(link, sids, 1, i, 0))
                cover = verifier.cover(here, partners, min_gain=opts.min_gain, max_sources=max_sources)
                for seq, link in enumerate(cover):
                    if link.score >= floor:
                        out.append(_link_row(link, sids, 2, i, seq))
            yield pd.DataFrame(
                out, columns=["lo", "hi", "score", "kind", "ia", "ib", "ja", "jb", "src", "csid", "seq"]
            )

    return run


def _link_row(link: Link, sids: Sequence[int], src: int, csid: int, seq: int) -> tuple[Any, ...]:
    a, b = sids[link.i], sids[link.j]
    span_a, span_b = link.span_i, link.span_j
    if a > b:  # keep (lo < hi) orientation, as the engine does
        a, b, span_a, span_b = b, a, span_b, span_a
    return (a, b, float(link.score), link.kind, *span_a, *span_b, src, csid, seq)


def _best_links(links: DataFrame) -> DataFrame:
    """The link the in-process engine keeps per pair: highest score, then first found."""
    w = Window.partitionBy("lo", "hi").orderBy(F.desc("score"), "src", "csid", "seq")
    return links.withColumn("_rank", F.row_number().over(w)).where("_rank = 1").drop("_rank")


# --- 4. components and clusters -----------------------------------------------------------------


def connected_components(edges: DataFrame) -> DataFrame:
    """``(node, comp)`` for every node of an undirected ``(u, v)`` edge list: comp = smallest node.

    Large-star / small-star (Kiveris et al., 2014) on DataFrames: each round
    hooks nodes onto the smallest node nearby, and stops once every component
    is a star around its smallest member.  Nothing is collected to the driver.
    """
    e = (
        edges.select(F.greatest("u", "v").alias("u"), F.least("u", "v").alias("v"))
        .where(F.col("u") != F.col("v"))
        .distinct()
        .localCheckpoint()
    )
    while True:
        both = e.unionByName(e.select(F.col("v").alias("u"), F.col("u").alias("v")))
        low = both.groupBy("u").agg(F.least(F.min("v"), F.col("u")).alias("m"))
        large = (
            both.join(low, "u")
            .where(F.col("v") > F.col("u"))
            .select(F.col("v").alias("u"), F.col("m").alias("v"))
        )
        low2 = large.groupBy("u").agg(F.min("v").alias("m"))
        hooked = large.join(low2, "u").select(
            F.explode(
                F.array(
                    F.struct(F.col("u").alias("u"), F.col("m").alias("v")),
                    F.struct(F.col("v").alias("u"), F.col("m").alias("v")),
                )
            ).alias("e")
        )
        e = hooked.select("e.u", "e.v").where(F.col("u") != F.col("v")).distinct().localCheckpoint()
        # Done when the edges form stars: no node has two parents, no parent has one.
        roles = e.select("u", F.lit(1).alias("child"), F.lit(0).alias("parent")).unionByName(
            e.select(F.col("v").alias("u"), F.lit(0).alias("child"), F.lit(1).alias("parent"))
        )
        roles = roles.groupBy("u").agg(F.sum("child").alias("c"), F.max("parent").alias("p"))
        if not roles.where((F.col("c") > 1) | ((F.col("c") == 1) & (F.col("p") == 1))).limit(1).count():
            break
    roots = e.select(F.col("v").alias("node")).distinct().select("node", F.col("node").alias("comp"))
    return e.select(F.col("u").alias("node"), F.col("v").alias("comp")).unionByName(roots)


def _assemble(kept: DataFrame, sentences: DataFrame, docs: DataFrame, threshold: float) -> DataFrame:
    """Run :func:`dedup._cluster.build` once per connected component of linked sentences."""
    k1, k2 = kept.select("lo", "hi").alias("k1"), kept.select("lo", "hi").alias("k2")
    runs = k1.join(k2, (F.col("k2.lo") == F.col("k1.lo") + 1) & (F.col("k2.hi") == F.col("k1.hi") + 1))
    # Links of consecutive sentences may merge into one passage: keep those sentences together.
    edges = kept.select(F.col("lo").alias("u"), F.col("hi").alias("v")).unionByName(
        runs.select(F.col("k1.lo").alias("u"), F.col("k2.lo").alias("v"))
    )
    comp = connected_components(edges).persist(StorageLevel.MEMORY_AND_DISK)
    link_rows = kept.join(comp.withColumnRenamed("node", "lo"), "lo").select(
        "comp",
        F.lit(0).alias("tag"),
        F.col("lo").alias("a"),
        F.col("hi").alias("b"),
        "score",
        "kind",
        "ia",
        "ib",
        "ja",
        "jb",
    )
    sent_rows = comp.join(sentences.withColumnRenamed("sid", "node"), "node").select(
        "comp", F.lit(1).alias("tag"), F.col("node").alias("a"), F.col("doc").alias("b"), "blob"
    )
    doc_rows = (
        sent_rows.select("comp", F.col("b").alias("ord"))
        .distinct()
        .join(docs, "ord")
        .select("comp", F.lit(2).alias("tag"), F.col("ord").alias("a"), "key", "text")
    )
    rows = (
        link_rows.unionByName(sent_rows, allowMissingColumns=True)
        .unionByName(doc_rows, allowMissingColumns=True)
        .repartition("comp")
        .sortWithinPartitions("comp", "tag", "a", "b")
    )
    return rows.mapInPandas(_assembly_stage(threshold), _ASSEMBLY_SCHEMA)


def _assembly_stage(threshold: float) -> Callable[[_Batches], _Batches]:
    def run(batches: _Batches) -> _Batches:
        for pdf, runs in _groups(batches, "comp"):
            out: list[dict[str, Any]] = []
            cols = {c: pdf[c].tolist() for c in pdf.columns}
            for first, stop in runs:
                out.extend(_assemble_component(cols, first, stop, threshold))
            # Object columns with explicit ``None``: pandas would turn missing integers into NaN.
            frame = pd.DataFrame([[row.get(c) for c in _ASSEMBLY_COLUMNS] for row in out], dtype=object)
            yield (
                frame.set_axis(_ASSEMBLY_COLUMNS, axis=1)
                if len(out)
                else pd.DataFrame(columns=_ASSEMBLY_COLUMNS)
            )

    return run


def _assemble_component(
    cols: dict[str, list[Any]], first: int, stop: int, threshold: float
) -> list[dict[str, Any]]:
    comp = int(cols["comp"][first])
    links_g: list[tuple[int, int, float, str, tuple[int, int], tuple[int, int]]] = []
    sent_rows: list[tuple[int, int, bytes]] = []
    doc_rows: list[Doc] = []
    for r in range(first, stop):
        tag = cols["tag"][r]
        if tag == 0:
            links_g.append(
                (
                    int(cols["a"][r]),
                    int(cols["b"][r]),
                    float(cols["score"][r]),
                    cols["kind"][r],
                    (int(cols["ia"][r]), int(cols["ib"][r])),
                    (int(cols["ja"][r]), int(cols["jb"][r])),
                )
            )
        elif tag == 1:
            sent_rows.append((int(cols["a"][r]), int(cols["b"][r]), cols["blob"][r]))
        else:
            doc_rows.append(Doc(cols["key"][r], cols["text"][r], int(cols["a"][r])))
    doc_index = {d.ordinal: n for n, d in enumerate(doc_rows)}
    # Local sentence indices keep the global order, and a gap wherever the global
    # index skips, so that ``i + 1`` is the next sentence exactly when it is globally.
    local: list[Sentence] = []
    sent_doc: list[int] = []
    index: dict[int, int] = {}
    prev: int | None = None
    for sid, ordinal, blob in sent_rows:
        sent: Sentence = pickle.loads(blob)
        if prev is not None and sid != prev + 1:
            local.append(sent)
            sent_doc.append(-1)
        index[sid] = len(local)
        local.append(sent)
        sent_doc.append(doc_index[ordinal])
        prev = sid
    links = [Link(index[a], index[b], score, kind, si, sj) for a, b, score, kind, si, sj in links_g]
    clusters, matches = build(links, local, sent_doc, doc_rows, threshold)
    ordinal_of = {d.key: d.ordinal for d in doc_rows}
    out: list[dict[str, Any]] = []
    for lc, c in enumerate(clusters):
        head = c.passages[0]
        for p in c.passages:
            out.append(
                {
                    "tag": "P",
                    "comp": comp,
                    "lc": lc,
                    "c_score": c.score,
                    "c_ord": ordinal_of[head.key],
                    "c_start": head.start,
                    "c_end": head.end,
                    "ord": ordinal_of[p.key],
                    "key": p.key,
                    "p_start": p.start,
                    "p_end": p.end,
                    "text": p.text,
                    "representative": p == c.representative,
                }
            )
    for m in matches:
        out.append(
            {
                "tag": "M",
                "comp": comp,
                "score": m.score,
                "kind": m.kind,
                "a_ord": ordinal_of[m.a.key],
                "a_key": m.a.key,
                "a_start": m.a.start,
                "a_end": m.a.end,
                "a_text": m.a.text,
                "b_ord": ordinal_of[m.b.key],
                "b_key": m.b.key,
                "b_start": m.b.start,
                "b_end": m.b.end,
                "b_text": m.b.text,
                "alignments": [
                    {
                        "a_start": al.a.start,
                        "a_end": al.a.end,
                        "b_start": al.b.start,
                        "b_end": al.b.end,
                        "score": al.score,
                    }
                    for al in m.alignments
                ],
            }
        )
    return out


def _clusters_frame(assembled: DataFrame) -> DataFrame:
    passages = assembled.where(F.col("tag") == "P")
    heads = passages.select("comp", "lc", "c_score", "c_ord", "c_start", "c_end").distinct()
    # The in-process ranking: best score first, then the position of the first passage.
    rank = Window.orderBy(F.desc("c_score"), "c_ord", "c_start", "c_end")
    ids = heads.withColumn("cluster", F.row_number().over(rank) - 1).select("comp", "lc", "cluster")
    return (
        passages.join(ids, ["comp", "lc"])
        .orderBy("cluster", "ord", "p_start", "p_end")
        .select(
            F.col("cluster").cast("long").alias("cluster"),
            F.col("c_score").alias("score"),
            "key",
            F.col("p_start").alias("start"),
            F.col("p_end").alias("end"),
            "text",
            "representative",
        )
    )


def _matches_frame(assembled: DataFrame) -> DataFrame:
    return (
        assembled.where(F.col("tag") == "M")
        .orderBy(F.desc("score"), "a_ord", "a_start", "a_end", "b_ord", "b_start", "b_end")
        .select(
            "a_key",
            "a_start",
            "a_end",
            "a_text",
            "b_key",
            "b_start",
            "b_end",
            "b_text",
            "score",
            "kind",
            "alignments",
        )
    )


def session(master: str | None = None, conf: Sequence[str] = ()) -> SparkSession:
    """A Spark session whose Python workers run this interpreter (they need dedup and pyarrow)."""
    _require()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("dedup")
    if master:
        builder = builder.master(master)
    for item in conf:
        key, sep, value = item.partition("=")
        if not sep:
            raise DedupError(f"--conf needs KEY=VALUE, got {item!r}")
        builder = builder.config(key, value)
    return builder.getOrCreate()


if __name__ == "__main__":  # spark-submit runs this file: the ``dedup spark`` command line
    from dedup._cli.spark import main

    sys.exit(main())
