"""The ``dedup`` command: ``dedup FILE`` prints the clusters of repeated passages; dispatches subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from dedup._api import find_duplicates
from dedup._cluster.result import Clusters
from dedup._errors import DedupError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dedup",
        description="Find duplicate and near-duplicate passages in a text file.",
    )
    p.add_argument("file", help="UTF-8 text file, or - for standard input")
    p.add_argument("--format", choices=("text", "json", "html"), default="text", help="output format")
    p.add_argument("-o", "--output", help="write to this file instead of standard output")
    p.add_argument("--threshold", type=float, default=0.6, help="verification cut in (0, 1] (default 0.6)")
    p.add_argument("--num-perm", type=int, default=128, help="MinHash permutations (default 128)")
    p.add_argument("--seed", type=int, default=1, help="MinHash seed (default 1)")
    return p


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
    args = _parser().parse_args(argv)
    try:
        text = _read(args.file)
        clusters = find_duplicates(text, threshold=args.threshold, num_perm=args.num_perm, seed=args.seed)
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
        return 2
    return 0
