"""``dedup spark``: the Spark command line (parquet or JSON lines in, clusters and matches out)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from dedup._cli.common import EXIT_DUPLICATES, EXIT_ERROR, add_detection_options, detection_options
from dedup._errors import DedupError
from dedup.spark import find_duplicates, session

__all__ = ["main"]


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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dedup spark INPUT …``; returns the exit status."""
    args = _parser().parse_args(argv)
    found_any = False
    try:
        spark = session(args.master, args.conf)
        reader = spark.read
        df = (
            reader.json(args.input)
            if _is_jsonl(args.input, args.input_format)
            else reader.parquet(args.input)
        )
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
