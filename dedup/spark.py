"""Dedup on Apache Spark: the engine's batch functions, run on executors over DataFrames.

The stages are those of corpus mode (:mod:`dedup._corpus.run`), with Spark
shuffles where corpus mode holds arrays, and the same engine functions inside
``mapInPandas`` / ``applyInPandas``; the results equal
:meth:`dedup.DedupIndex.clusters` on the same documents (taken in the order of
their ids):

1. **Sentences and signatures** (``mapInPandas``): :func:`dedup._text.segment`,
   the shingle hashes, the batch MinHash and the band keys of both LSH
   families; each sentence also keeps its token columns (stems, flags, token
   offsets).  A sentence is identified by ``sid = ordinal << 20 | position``,
   which sorts exactly like the engine's sentence index.  A batch holds whole
   documents, so :func:`dedup._sketch.minhash.candidate_pairs` finds the
   within-document family's pairs there.
2. **Candidates across documents** (``groupBy`` band key): the pairs of
   :func:`dedup._sketch.lsh.lsh_candidates`, with the limits of
   :func:`dedup._sketch.minhash.candidate_pairs` (restated in Spark SQL: the
   counts of shared bands sum over every key of a pair, corpus-wide).
3. **Copy chains** (``applyInPandas`` per bucket of normalised texts): the
   engine's :func:`dedup._verify.run.copy_chain` links every exact copy, of any length, to the next.
4. **Verification** (``cogroup``/``applyInPandas`` per pair of blocks of whole
   documents, as :func:`dedup._verify.run.verify_blocked`): the sentences of a
   block pair as token columns, scored by :func:`dedup._verify.run.verify_group`
   (the engine's scorer, as corpus mode's blocks).  A document's own
   candidates (the only ones a fusion cover combines) all fall in the block
   pair of its own block.
5. **Clusters**: connected components of linked sentences (the engine's
   union-find on the driver when the links are few, else large-star /
   small-star rounds on DataFrames), then :func:`dedup._cluster.table.build_table`
   once per bucket of whole components; clusters are ranked on the driver when
   few (one row each), else by a distributed sort, and the rows sorted by a
   distributed sort.  No stage moves all the data into one partition.

pyspark is imported only here: ``pip install 'dedup-passages[spark]'``.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from dedup._cluster.build import char_span
from dedup._cluster.chain import min_labels
from dedup._cluster.result import alignment_json
from dedup._cluster.table import build_table
from dedup._errors import DedupError, DuplicateKeyError
from dedup._options import Options
from dedup._rules import LSH_MAX_BUCKET as MAX_BUCKET
from dedup._rules import LSH_MAX_PER_ROW as MAX_PER_ROW
from dedup._rules import MIN_SHARED_BANDS
from dedup._sketch.lsh import keyed_by_document
from dedup._sketch.minhash import band_keys, candidate_pairs, lsh_params, signatures
from dedup._sketch.shingle import sentence_shingle_hashes
from dedup._text.segment import Sentence, segment
from dedup._verify.links import KINDS, LinkTable
from dedup._verify.run import BLOCK_TOKENS, SentenceColumns, copy_chain, copying, verify_group
from dedup._version import install_hint

_MISSING: ImportError | None = None
try:
    import pandas as pd
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession, Window
    from pyspark.sql import functions as F
    from pyspark.storagelevel import StorageLevel
except ImportError as err:  # pragma: no cover - depends on the environment
    # Importable without pyspark (doctest collection, ``python -m dedup --help``);
    # every entry point says what to install.
    _MISSING = err


__all__ = ["SparkResult", "connected_components", "find_duplicates", "session"]

_POS_BITS = 20
_SEP = "\x1f"  # ends each stem in a sentence's ``stems`` string (never part of a word)
_Batches = Iterator["pd.DataFrame"]
_I64 = npt.NDArray[np.int64]

_SENTENCE_SCHEMA = (
    "sid long, doc long, para int, start int, end int, n_words int, norm string, stems string, "
    "content binary, entity binary, tok binary, keys array<long>, lkeys array<long>, near array<long>"
)
_LINK_SCHEMA = "lo long, hi long, score double, kind tinyint, ia int, ib int, ja int, jb int"
_COPY_SCHEMA = "lo long, hi long"
_ALIGN = "array<struct<a_start:int,a_end:int,b_start:int,b_end:int,score:double>>"
_ASSEMBLY_SCHEMA = (
    "tag string, bucket int, lc int, c_score double, c_ord long, c_start int, c_end int, "
    "ord long, key string, p_start int, p_end int, text string, representative int, passage int, "
    "a_ord long, a_key string, a_start int, a_end int, a_text string, "
    "b_ord long, b_key string, b_start int, b_end int, b_text string, "
    f"score double, kind string, alignments {_ALIGN}"
)
_ASSEMBLY_COLUMNS = [c.split()[0] for c in _ASSEMBLY_SCHEMA.split(", ")]

#: Rows of a small table (link edges, cluster heads) up to which it is collected and processed on
#: the driver in one job (a few numbers a row); above, the stage runs distributed.
DRIVER_ROWS = 4_000_000


class SparkResult:
    """What :func:`find_duplicates` returns: two DataFrames over cached intermediate tables.

    Attributes
    ----------
    clusters : DataFrame
        One row per passage, the fields of :meth:`dedup.Clusters.to_records`:
        ``cluster`` (0 = best, the in-process order), ``score``,
        ``representative`` and ``passage`` (indexes among the cluster's passages),
        ``key``, ``start``, ``end``, ``text``; sorted by cluster, then position.
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

    spark = df.sparkSession
    buckets = max(2, 2 * spark.sparkContext.defaultParallelism)
    docs = keep(_ordered_docs(df, id_column, text_column, cached))
    sentences = keep(docs.mapInPandas(_sentence_stage(opts), _SENTENCE_SCHEMA))
    stats = sentences.agg(F.count(F.lit(1)), F.sum("n_words"), F.max("doc"), F.sum(F.size("near"))).collect()[
        0
    ]
    n_sentences, n_tokens, n_docs = int(stats[0]), int(stats[1] or 0), int(stats[2] or 0) + 1
    # Two LSH families, as ``lsh_candidates``: across the corpus, and within each document.
    across = _candidate_pairs(sentences.select("sid", F.explode("keys").alias("key")))
    across = keep(across.where(F.col("shared") >= MIN_SHARED_BANDS))
    if int(stats[3] or 0) <= MAX_PER_ROW * n_sentences // 2:  # ``candidate_pairs`` keeps them all
        within = sentences.select(F.col("sid").alias("lo"), F.explode("near").alias("hi"))
    else:  # each sentence keeps its best partners: ranked over the shared bands of every pair
        within = _top_partners(_candidate_pairs(sentences.select("sid", F.explode("lkeys").alias("key"))))
        within = within.select("lo", "hi")
    pairs = _prune(across, n_sentences).unionByName(within).distinct()
    copies = keep(_copy_chains(sentences, buckets, opts))
    blocks = _blocks(n_docs, n_tokens, spark.sparkContext.defaultParallelism)
    links = keep(_verify(pairs, copies, sentences, opts, blocks).unionByName(_copy_links(copies, sentences)))
    assembled = keep(_assemble(links, sentences, docs, opts.threshold, buckets))
    return SparkResult(_clusters_frame(assembled, cached), _matches_frame(assembled), cached)


def _require() -> None:
    if _MISSING is not None:
        raise ImportError(f"dedup.spark needs pyspark and pyarrow: {install_hint('spark')} ({_MISSING})")


# --- 1. documents and sentences ---------------------------------------------------------------


def _numbered(
    ordered: DataFrame, name: str, cached: list[DataFrame], *, unique: str | None = None
) -> tuple[DataFrame, bool, bool]:
    """The rows of a sorted DataFrame with ``name`` = 0, 1, … in their order (no single partition).

    The sort's partitions hold consecutive ranges: each row's number is its place in its
    partition plus the rows of the partitions before (a small count per partition).  With
    ``unique`` (the sort's column), the same job tells whether it holds a null and whether
    a value repeats (equal values fall in one partition of a sort).
    """
    staged = (
        ordered.withColumn("_part", F.spark_partition_id())
        .withColumn("_mono", F.monotonically_increasing_id())
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    # monotonically_increasing_id() is (partition << 33) + row within the partition; ``staged``
    # stays cached so that both are read back, never recomputed.
    cached.append(staged)
    checks = [F.count(unique), F.countDistinct(unique)] if unique else [F.count("_part"), F.count("_part")]
    per_part = staged.groupBy("_part").agg(F.count(F.lit(1)), *checks).collect()
    counts = {int(r[0]): int(r[1]) for r in per_part}
    has_null = any(int(r[2]) < int(r[1]) for r in per_part)
    has_repeat = any(int(r[3]) < int(r[2]) for r in per_part)
    offsets: dict[int, int] = {}
    total = 0
    for part in sorted(counts):
        offsets[part] = total
        total += counts[part]
    row = F.col("_mono") - F.shiftleft(F.col("_part").cast("long"), 33)
    if offsets:
        row = F.create_map(*[F.lit(x) for kv in offsets.items() for x in kv])[F.col("_part")] + row
    return staged.select(*ordered.columns, row.cast("long").alias(name)), has_null, has_repeat


def _ordered_docs(df: DataFrame, id_column: str, text_column: str, cached: list[DataFrame]) -> DataFrame:
    """Documents with a dense ``ord`` in id order (the order ``DedupIndex`` would see them in)."""
    base = df.select(
        F.col(id_column).cast("string").alias("key"),
        F.coalesce(F.col(text_column).cast("string"), F.lit("")).alias("text"),
    )
    docs, has_null, has_repeat = _numbered(base.orderBy("key"), "ord", cached, unique="key")
    if has_null:
        raise DedupError(f"column {id_column!r} has null ids: every document needs a key")
    if has_repeat:
        bad = docs.groupBy("key").count().where("count > 1").limit(1).collect()
        raise DuplicateKeyError(f"key {bad[0]['key']!r} appears more than once in column {id_column!r}")
    return docs.select("ord", "key", "text")


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
            local_keys = keyed_by_document(band_keys(sigs, l_bands, l_rows), np.asarray(doc_of, np.int64))
            # The within-document family: every document is in this batch, so are all its pairs
            # (not trimmed here: ``find_duplicates`` trims when the whole corpus's count asks for it).
            own = candidate_pairs(local_keys, max_per_row=len(sents))
            near: list[list[int]] = [[] for _ in sents]
            for a, b in own.tolist():
                lo, hi = (sids[a], sids[b]) if sids[a] < sids[b] else (sids[b], sids[a])
                near[a if lo == sids[a] else b].append(hi)
            yield pd.DataFrame(
                {
                    "sid": sids,
                    "doc": doc_of,
                    "para": [s.para for s in sents],
                    "start": [s.start for s in sents],
                    "end": [s.end for s in sents],
                    "n_words": [len(s.words) for s in sents],
                    "norm": [s.norm for s in sents],
                    "stems": ["".join(t + _SEP for t in s.stems) for s in sents],
                    "content": [bytes(s.content) for s in sents],
                    "entity": [bytes(s.entity) for s in sents],
                    "tok": [np.array(s.tok_starts + s.tok_ends, np.int32).tobytes() for s in sents],
                    "keys": list(keys),
                    "lkeys": list(local_keys.view(np.int64)),
                    "near": near,
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
        pairs = _top_partners(pairs)
    return pairs.select("lo", "hi")


def _top_partners(pairs: DataFrame) -> DataFrame:
    """Each sentence keeps the partners it shares most bands with, ranked separately among
    higher and lower partners (ties: lower index), as ``_top_per_row`` does."""
    by_lo = Window.partitionBy("lo").orderBy(F.desc("shared"), F.asc("hi"))
    by_hi = Window.partitionBy("hi").orderBy(F.desc("shared"), F.asc("lo"))
    return (
        pairs.withColumn("r_lo", F.row_number().over(by_lo))
        .withColumn("r_hi", F.row_number().over(by_hi))
        .where((F.col("r_lo") <= MAX_PER_ROW) | (F.col("r_hi") <= MAX_PER_ROW))
    )


# --- 3. exact copies ----------------------------------------------------------------------------


def _copy_chains(sentences: DataFrame, buckets: int, opts: Options) -> DataFrame:
    """``(lo, hi)``: each sentence and its next exact copy, as the engine's ``copy_chain`` links them.

    Equal texts hash to one bucket, where ``copy_chain`` runs on them in sentence order.
    """
    rows = sentences.select("sid", "norm", "n_words", F.pmod(F.xxhash64("norm"), F.lit(buckets)).alias("_b"))
    return rows.groupBy("_b").applyInPandas(_copy_bucket(opts), _COPY_SCHEMA)


def _copy_bucket(opts: Options) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def run(pdf: pd.DataFrame) -> pd.DataFrame:
        pdf = pdf.sort_values("sid")
        sids = pdf["sid"].to_numpy(np.int64)
        nxt = copy_chain(pdf["norm"].tolist(), copying(pdf["n_words"].to_numpy(np.int64), opts))
        has = np.flatnonzero(nxt >= 0)
        return pd.DataFrame({"lo": sids[has], "hi": sids[nxt[has]]})

    return run


def _copy_links(copies: DataFrame, sentences: DataFrame) -> DataFrame:
    """The copy chains' links: score 1.0, kind ``exact``, whole sentences (as ``verify_blocked``)."""
    n = sentences.select("sid", "n_words")  # spans (0, n_words): ``whole`` sentences
    return (
        copies.join(n.withColumnRenamed("sid", "lo").withColumnRenamed("n_words", "ib"), "lo")
        .join(n.withColumnRenamed("sid", "hi").withColumnRenamed("n_words", "jb"), "hi")
        .select(
            "lo",
            "hi",
            F.lit(1.0).alias("score"),
            F.lit(KINDS.index("exact")).cast("tinyint").alias("kind"),
            F.lit(0).alias("ia"),
            "ib",
            F.lit(0).alias("ja"),
            "jb",
        )
    )


# --- 4. verification ----------------------------------------------------------------------------


def _blocks(n_docs: int, n_tokens: int, parallelism: int) -> int:
    """Documents per block: blocks of at most ``BLOCK_TOKENS`` tokens on average, and enough
    block pairs (``k (k + 1) / 2``) to keep every core busy."""
    k = max(1, math.ceil(n_tokens / BLOCK_TOKENS))
    while k * (k + 1) // 2 < 4 * parallelism and k < n_docs:
        k += 1
    return max(1, math.ceil(n_docs / k))


def _verify(
    pairs: DataFrame, copies: DataFrame, sentences: DataFrame, opts: Options, docs_per_block: int
) -> DataFrame:
    """The scored links of the candidate ``pairs``, one executor call per pair of document blocks.

    Each group gets its candidate pairs, the copy-chain links among them (known
    links, as the diagonal blocks of ``verify_blocked`` get them) and the token
    columns of the sentences they name.
    """

    def block(col: str) -> Any:
        return F.floor(F.shiftright(F.col(col), _POS_BITS) / F.lit(docs_per_block)).cast("long")

    group = block("lo") * F.lit(1 << 31) + block("hi")
    tagged = pairs.select("lo", "hi", F.lit(0).alias("tag")).unionByName(
        copies.select("lo", "hi", F.lit(1).alias("tag"))
    )
    tagged = tagged.withColumn("g", group)
    ends = (  # (``group`` made again: a column of ``tagged`` would be ambiguous in the cogroup)
        pairs.select(group.alias("g"), F.explode(F.array("lo", "hi")).alias("sid"))
        .distinct()
        .join(sentences.select("sid", "doc", "n_words", "norm", "stems", "content", "entity"), "sid")
    )
    return tagged.groupBy("g").cogroup(ends.groupBy("g")).applyInPandas(_verify_group(opts), _LINK_SCHEMA)


def _verify_group(opts: Options) -> Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]:
    floor = opts.threshold  # results are thresholded once: links under it never count (as corpus mode)

    def run(tagged: pd.DataFrame, sents: pd.DataFrame) -> pd.DataFrame:
        if not len(sents):
            return _link_frame(LinkTable.concat([]))
        sents = sents.sort_values("sid")
        sids = sents["sid"].to_numpy(np.int64)
        docs = sents["doc"].to_numpy(np.int64)
        n_words = sents["n_words"].to_numpy(np.int64)
        is_pair = tagged["tag"].to_numpy() == 0
        lo, hi = tagged["lo"].to_numpy(np.int64), tagged["hi"].to_numpy(np.int64)
        pairs = _local(sids, np.stack((lo[is_pair], hi[is_pair]), axis=1))
        pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
        # The copy links among these sentences: known to the covers, never scored, never replaced.
        copy = np.stack((lo[~is_pair], hi[~is_pair]), axis=1)
        found_at = np.searchsorted(sids, copy).clip(0, max(sids.size - 1, 0))
        present = np.all(sids[found_at] == copy, axis=1) if sids.size else np.zeros(0, bool)
        tokens = np.array("".join(sents["stems"].tolist()).split(_SEP)[:-1], dtype=object)
        columns = SentenceColumns(
            pd.factorize(tokens)[0].astype(np.int64),
            np.frombuffer(b"".join(sents["content"].tolist()), dtype=np.bool_),
            np.frombuffer(b"".join(sents["entity"].tolist()), dtype=np.bool_),
            n_words,
            sents["norm"].tolist(),
        )
        table = verify_group(columns, docs, pairs, found_at[present], opts, floor=floor, ids=sids)
        return _link_frame(table)

    return run


def _local(sids: _I64, pairs: _I64) -> _I64:
    """``pairs`` of sentence ids as rows of ``sids`` (sorted, holding every id of ``pairs``)."""
    out: _I64 = np.searchsorted(sids, pairs).astype(np.int64)
    return out.reshape(-1, 2)


def _link_frame(table: LinkTable) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lo": table.i,
            "hi": table.j,
            "score": table.score,
            "kind": table.kind.astype(np.int8),
            "ia": table.span_i[:, 0].astype(np.int32),
            "ib": table.span_i[:, 1].astype(np.int32),
            "ja": table.span_j[:, 0].astype(np.int32),
            "jb": table.span_j[:, 1].astype(np.int32),
        }
    )


# --- 5. components and clusters -----------------------------------------------------------------


def connected_components(edges: DataFrame, *, driver_edges: int | None = None) -> DataFrame:
    """``(node, comp)`` for every node of an undirected ``(u, v)`` edge list: comp = smallest node.

    Up to ``driver_edges`` edges (default :data:`DRIVER_ROWS`; the links of a
    corpus are few: ~14k at 15k paragraphs), the edge list is collected and the engine's union-find
    (:func:`dedup._cluster.table.min_labels`) labels it on the driver, in
    one job.  Above, large-star / small-star (Kiveris et al., 2014) on
    DataFrames: each round hooks nodes onto the smallest node nearby, and
    stops once every component is a star around its smallest member; nothing
    is collected.  Same components either way.
    """
    edges = edges.select(F.col("u").cast("long").alias("u"), F.col("v").cast("long").alias("v"))
    driver_edges = DRIVER_ROWS if driver_edges is None else driver_edges
    if driver_edges > 0:
        edges = edges.persist(StorageLevel.MEMORY_AND_DISK)
        if edges.count() <= driver_edges:  # (counted first: a ``limit`` would gather rows in one partition)
            few = edges.toArrow()
            edges.unpersist()
            u = few.column("u").to_numpy().astype(np.int64)
            v = few.column("v").to_numpy().astype(np.int64)
            nodes, ends = np.unique(np.concatenate((u, v)), return_inverse=True)
            comp = nodes[min_labels(nodes.size, ends[: u.size], ends[u.size :])]
            table = pa.table({"node": pa.array(nodes, pa.int64()), "comp": pa.array(comp, pa.int64())})
            return F.broadcast(edges.sparkSession.createDataFrame(table))
    rounds = _star_components(edges)  # (its first round is checkpointed: ``edges`` is read by then)
    edges.unpersist()
    return rounds


def _star_components(edges: DataFrame) -> DataFrame:
    """:func:`connected_components` by large-star / small-star rounds on DataFrames."""
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


def _assemble(
    links: DataFrame, sentences: DataFrame, docs: DataFrame, threshold: float, buckets: int
) -> DataFrame:
    """:func:`dedup._cluster.table.build_table` once per bucket of whole connected components."""
    kept = links.where(F.col("score") >= F.lit(threshold))
    k1, k2 = kept.select("lo", "hi").alias("k1"), kept.select("lo", "hi").alias("k2")
    runs = k1.join(k2, (F.col("k2.lo") == F.col("k1.lo") + 1) & (F.col("k2.hi") == F.col("k1.hi") + 1))
    # Links of consecutive sentences may merge into one match: keep those sentences together.
    # (Passages that overlap share a sentence, so they are in one component too.)
    edges = kept.select(F.col("lo").alias("u"), F.col("hi").alias("v")).unionByName(
        runs.select(F.col("k1.lo").alias("u"), F.col("k2.lo").alias("v"))
    )
    comp = connected_components(edges)
    comp = comp.select("node", F.pmod(F.xxhash64("comp"), F.lit(buckets)).cast("int").alias("bucket"))
    comp = comp.persist(StorageLevel.MEMORY_AND_DISK)
    link_rows = kept.join(comp.withColumnRenamed("node", "lo"), "lo")
    sent_rows = comp.join(sentences.withColumnRenamed("sid", "node"), "node").select(
        "bucket",
        F.lit(1).alias("tag"),
        F.col("node").alias("a"),
        "doc",
        "para",
        "start",
        "end",
        "tok",
    )
    doc_rows = (
        sent_rows.select("bucket", F.col("doc").alias("ord"))
        .distinct()
        .join(docs, "ord")
        .select("bucket", F.lit(2).alias("tag"), F.col("ord").alias("a"), "key", "text")
    )
    things = sent_rows.unionByName(doc_rows, allowMissingColumns=True)
    # (a new ``bucket`` column: the one from ``comp`` would be ambiguous beside the links' in the cogroup)
    things = things.withColumn("bucket", F.col("bucket") + F.lit(0))
    return (
        link_rows.groupBy("bucket")
        .cogroup(things.groupBy("bucket"))
        .applyInPandas(_assembly_stage(threshold), _ASSEMBLY_SCHEMA)
    )


def _assembly_stage(threshold: float) -> Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]:
    def run(links: pd.DataFrame, things: pd.DataFrame) -> pd.DataFrame:
        if not len(links):
            return pd.DataFrame(columns=_ASSEMBLY_COLUMNS)
        out = _assemble_bucket(links, things, threshold)
        # Object columns with explicit ``None``: pandas would turn missing integers into NaN.
        frame = pd.DataFrame([[row.get(c) for c in _ASSEMBLY_COLUMNS] for row in out], dtype=object)
        return frame.set_axis(_ASSEMBLY_COLUMNS, axis=1) if out else pd.DataFrame(columns=_ASSEMBLY_COLUMNS)

    return run


def _assemble_bucket(links: pd.DataFrame, things: pd.DataFrame, threshold: float) -> list[dict[str, Any]]:
    bucket = int(links["bucket"].iloc[0])
    tag = things["tag"].to_numpy()
    sents = things[tag == 1].sort_values("a")
    doc_rows = things[tag == 2].sort_values("a")
    ords = doc_rows["a"].to_numpy(np.int64)
    keys: list[str] = doc_rows["key"].tolist()
    texts: list[str] = doc_rows["text"].tolist()
    sids = sents["a"].to_numpy(np.int64)
    # Local sentence numbers keep the global order, with a gap wherever the global ids skip, so
    # that ``i + 1`` is the next sentence exactly when it is globally (matches chain on it).
    gaps = np.cumsum(np.r_[0, (np.diff(sids) != 1).astype(np.int64)])
    local = np.arange(sids.size, dtype=np.int64) + gaps
    n_local = int(local[-1]) + 1 if sids.size else 0
    sent_doc = np.full(n_local, -1, dtype=np.int64)
    sent_para = np.full(n_local, -1, dtype=np.int64)
    sent_doc[local] = np.searchsorted(ords, sents["doc"].to_numpy(np.int64))
    sent_para[local] = sents["para"].to_numpy(np.int64)
    objects: dict[int, Sentence] = {}
    for k, start, end, tok in zip(
        local.tolist(),
        sents["start"].to_numpy(np.int64).tolist(),
        sents["end"].to_numpy(np.int64).tolist(),
        sents["tok"].tolist(),
        strict=True,
    ):
        offsets = np.frombuffer(tok, dtype=np.int32).tolist()
        half = len(offsets) // 2
        objects[k] = Sentence(0, start, end, tuple(offsets[:half]), tuple(offsets[half:]), (), (), (), ())

    def char_spans(g: _I64, tok: _I64) -> tuple[_I64, _I64]:
        spans = [char_span(objects[x], (a, b)) for x, (a, b) in zip(g.tolist(), tok.tolist(), strict=True)]
        both = np.array(spans, dtype=np.int64).reshape(-1, 2)
        return both[:, 0], both[:, 1]

    where = local[np.searchsorted(sids, links["lo"].to_numpy(np.int64))]
    other = local[np.searchsorted(sids, links["hi"].to_numpy(np.int64))]
    table = LinkTable(
        where,
        other,
        links["score"].to_numpy(np.float64),
        links["kind"].to_numpy(np.int8),
        np.stack((links["ia"].to_numpy(np.int64), links["ib"].to_numpy(np.int64)), axis=1),
        np.stack((links["ja"].to_numpy(np.int64), links["jb"].to_numpy(np.int64)), axis=1),
    )
    result = build_table(table, sent_doc, sent_para, ords, char_spans, threshold, texts.__getitem__)
    clusters, matches = result.materialize(keys, texts.__getitem__)
    ordinal_of: dict[str | None, int] = dict(zip(keys, ords.tolist(), strict=True))
    out: list[dict[str, Any]] = []
    for lc, c in enumerate(clusters):
        head = c.passages[0]
        rep = c.passages.index(c.representative)
        for k, p in enumerate(c.passages):
            out.append(
                {
                    "tag": "P",
                    "bucket": bucket,
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
                    "representative": rep,
                    "passage": k,
                }
            )
    for m in matches:
        out.append(
            {
                "tag": "M",
                "bucket": bucket,
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
                "alignments": [alignment_json(al) for al in m.alignments],
            }
        )
    return out


def _clusters_frame(assembled: DataFrame, cached: list[DataFrame]) -> DataFrame:
    passages = assembled.where(F.col("tag") == "P")
    # One row per cluster: its first passage.
    first = (F.col("ord") == F.col("c_ord")) & (F.col("p_start") == F.col("c_start"))
    heads = passages.where(first & (F.col("p_end") == F.col("c_end")))
    heads = heads.select("bucket", "lc", "c_score", "c_ord", "c_start", "c_end")
    # The in-process ranking: best score first, then the position of the first passage; on the
    # driver when the clusters are few, else a distributed sort, numbered per partition.
    # Clusters can share both (a passage in two clusters), and then only within one bucket:
    # its local rank ``lc`` decides, as the in-process order of creation does.
    if heads.count() <= DRIVER_ROWS:  # (counted first: a ``limit`` would gather rows in one partition)
        few = heads.toArrow()
        col = {name: few.column(name).to_numpy() for name in few.column_names}
        order = np.lexsort(
            (col["lc"], col["bucket"], col["c_end"], col["c_start"], col["c_ord"], -col["c_score"])
        )
        rank = np.empty(order.size, dtype=np.int64)
        rank[order] = np.arange(order.size, dtype=np.int64)
        table = pa.table({"bucket": few.column("bucket"), "lc": few.column("lc"), "cluster": rank})
        ids = F.broadcast(assembled.sparkSession.createDataFrame(table))
    else:
        ranked = heads.orderBy(F.desc("c_score"), "c_ord", "c_start", "c_end", "bucket", "lc")
        ids = _numbered(ranked, "cluster", cached)[0].select("bucket", "lc", "cluster")
    return (
        passages.join(ids, ["bucket", "lc"])
        .orderBy("cluster", "ord", "p_start", "p_end")
        .select(
            F.col("cluster").cast("long").alias("cluster"),
            F.col("c_score").alias("score"),
            "representative",
            "passage",
            "key",
            F.col("p_start").alias("start"),
            F.col("p_end").alias("end"),
            "text",
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
