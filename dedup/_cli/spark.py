"""``dedup spark``: the Spark command line (parquet or JSON lines in, clusters and matches out)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dedup._cli.common import EXIT_DUPLICATES, EXIT_ERROR, add_detection_options, detection_options
from dedup._errors import DedupError
from dedup.spark import find_duplicates, session

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["main", "read_documents"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dedup spark",
        description="Find duplicate passages across documents with Apache Spark (parquet or JSONL).",
    )
    p.add_argument("input", help="parquet file/directory or JSON-lines file/directory of documents")
    p.add_argument("-o", "--output", help="directory to write clusters/ and matches/ into (default: print)")
    p.add_argument("--master", help="Spark master, e.g. local[2] (default: spark-submit's or local[*])")
    p.add_argument("--input-format", choices=("auto", "parquet", "jsonl"), default="auto")
    p.add_argument("--format", choices=("parquet", "jsonl"), default="parquet", help="output format")
    # --id-column/--text-column: the names of earlier versions, kept as aliases.
    p.add_argument(
        "--id-field", "--id-column", dest="id_field", default="id", help="column holding the document key"
    )
    p.add_argument(
        "--text-field", "--text-column", dest="text_field", default="text", help="column holding the text"
    )
    add_detection_options(p)
    p.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="extra Spark setting")
    return p


def _is_jsonl(path: str, fmt: str) -> bool:
    if fmt != "auto":
        return fmt == "jsonl"
    return path.rstrip("/").endswith((".jsonl", ".json", ".ndjson", ".jsonl.gz", ".json.gz"))


def read_documents(spark: SparkSession, path: str, fmt: str, id_field: str, text_field: str) -> DataFrame:
    """The documents of a parquet or JSON-lines input (``fmt``: ``auto``, ``parquet`` or ``jsonl``).

    JSON lines are read with the two fields as strings (a number keeps its JSON
    text): no pass over the input to infer a schema.
    """
    from pyspark.sql.types import StringType, StructField, StructType

    if not _is_jsonl(path, fmt):
        return spark.read.parquet(path)
    fields = [StructField(id_field, StringType()), StructField(text_field, StringType())]
    schema = StructType(fields if id_field != text_field else fields[:1])
    return spark.read.schema(schema).json(path)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dedup spark INPUT …``; returns the exit status."""
    args = _parser().parse_args(argv)
    found_any = False
    try:
        spark = session(args.master, args.conf)
        df = read_documents(spark, args.input, args.input_format, args.id_field, args.text_field)
        result = find_duplicates(
            df,
            id_column=args.id_field,
            text_column=args.text_field,
            **detection_options(args),
        )
        if args.fail_on_duplicates:
            found_any = bool(result.clusters.limit(1).count())
        if args.output:
            for name, frame in (("clusters", result.clusters), ("matches", result.matches)):
                writer = frame.write.mode("overwrite")
                path = os.path.join(args.output, name)
                if args.format == "jsonl":
                    writer.json(path)
                else:
                    writer.parquet(path)
        else:
            for row in result.clusters.toLocalIterator():
                sys.stdout.write(json.dumps(row.asDict(), ensure_ascii=False) + "\n")
    except (OSError, DedupError, ValueError, ImportError) as err:
        print(f"dedup spark: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_DUPLICATES if args.fail_on_duplicates and found_any else 0
