"""The ``dedup`` command: ``dedup FILE`` prints the clusters of repeated passages; dispatches subcommands."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from dedup._api import find_duplicates
from dedup._cli.common import (
    EXIT_DUPLICATES,
    EXIT_ERROR,
    EXIT_OK,
    add_detection_options,
    add_version,
    detection_options,
)
from dedup._cluster.result import Clusters
from dedup._errors import DedupError

__all__ = ["main"]


_COMMANDS = """commands:
  dedup FILE                 clusters of repeated passages in one text file (this command)
  dedup corpus INPUT         many documents: JSON lines, a folder of .txt files, one per line
  dedup spark INPUT          the same on Apache Spark (parquet or JSON lines)
run 'dedup corpus --help' or 'dedup spark --help' for theirs.

exit status: 0 done, 1 the input could not be read or processed, 2 wrong arguments,
3 duplicates found (only with --fail-on-duplicates)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dedup",
        description="Find duplicate and near-duplicate passages in a text file.",
        epilog=_COMMANDS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", help="UTF-8 text file, or - for standard input")
    p.add_argument("--format", choices=("text", "json", "html"), default="text", help="output format")
    p.add_argument("-o", "--output", help="write to this file instead of standard output")
    add_detection_options(p)
    add_version(p)
    return p


# Inputs that are corpora, not one text: `dedup FILE` on them is almost surely a missing `corpus`.
_CORPUS_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".parquet")


def _read(path: str) -> str:
    data = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()  # noqa: SIM115
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        name = "standard input" if path == "-" else path
        raise DedupError(f"{name} is not valid UTF-8 (byte {err.start}): convert it to UTF-8 first") from err


def render_text(clusters: Clusters) -> str:
    """Human-readable listing of clusters."""
    if not clusters:
        return "No duplicate passages found.\n"
    out = []
    for n, c in enumerate(clusters, 1):
        out.append(f"Cluster {n}  score {c.score:.3f}  ({len(c.passages)} passages)")
        for p in c.passages:
            key = "" if p.key is None else f"{p.key} "
            flat = " ".join(p.text.split())
            out.append(f"  {key}[{p.span.start}:{p.span.end}] {flat}")
        out.append("")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["corpus"]:  # corpus mode: many documents, streamed
        from dedup._cli.corpus import corpus_main

        return corpus_main(argv[1:])
    if argv[:1] == ["spark"]:  # the same detection on Apache Spark (needs dedup[spark])
        from dedup._cli.spark import main as spark_main

        return spark_main(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    if args.file != "-" and (args.file.endswith(_CORPUS_SUFFIXES) or os.path.isdir(args.file)):
        parser.error(
            f"{args.file} looks like a corpus of documents, not one text: run 'dedup corpus {args.file}'"
        )
    try:
        text = _read(args.file)
        clusters = find_duplicates(text, **detection_options(args))
        if args.format == "json":
            rendered = json.dumps(clusters.to_json(), ensure_ascii=False, indent=1) + "\n"
        elif args.format == "html":
            from dedup._present.report import report_html

            rendered = report_html(text, clusters, title=args.file)
        else:
            rendered = render_text(clusters)
        if args.output:
            from dedup._io import atomic_write_text

            atomic_write_text(args.output, rendered)
        else:
            sys.stdout.write(rendered)
    except (OSError, DedupError, ValueError) as err:
        print(f"dedup: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_DUPLICATES if args.fail_on_duplicates and clusters else EXIT_OK
