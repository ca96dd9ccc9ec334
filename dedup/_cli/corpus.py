"""``dedup corpus``: the corpus command line (arguments, atomic output) over :mod:`dedup._corpus.run`."""

from __future__ import annotations

import contextlib
import io
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import IO, Any

from dedup._cli.common import EXIT_DUPLICATES, EXIT_ERROR, add_detection_options, detection_options
from dedup._corpus.run import _find, open_source, write_clusters
from dedup._errors import DedupError

__all__ = ["corpus_main"]


def _parser() -> Any:
    import argparse

    p = argparse.ArgumentParser(
        prog="dedup corpus",
        description=(
            "Find duplicate and near-duplicate passages within and across the documents of a corpus: "
            "a .jsonl file (one object per line), a plain-text file (one document per line), "
            "a directory of .txt files, or - for standard input."
        ),
    )
    p.add_argument("input", help="corpus file, directory, or - for standard input")
    p.add_argument("-o", "--output", help="write JSON lines here (atomically) instead of standard output")
    p.add_argument("--id-field", default="id", help="JSON field holding the document key (default: id)")
    p.add_argument("--text-field", default="text", help="JSON field holding the text (default: text)")
    p.add_argument(
        "--output-kind",
        choices=("clusters", "matches"),
        default="clusters",
        help="one line per cluster or per match",
    )
    p.add_argument(
        "--no-text", action="store_true", help="output offsets only (skips the third read of the corpus)"
    )
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_detection_options(p)
    return p


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that every ``finally`` (temporary files, workers) runs."""


#: Set by the SIGTERM handler.  The exception it raises can land where Python ignores
#: exceptions (e.g. logging's lock release after a fork, as a worker pool starts), so the
#: run also checks this flag before it writes anything.
_TERM_RECEIVED = threading.Event()


def _raise_terminated(signum: int, frame: object) -> None:
    _TERM_RECEIVED.set()
    raise _Terminated


def _check_terminated() -> None:
    if _TERM_RECEIVED.is_set():
        raise _Terminated


@contextlib.contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """Turn SIGTERM into :class:`_Terminated` for the block (the main thread only can set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _TERM_RECEIVED.clear()
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def corpus_main(argv: Sequence[str]) -> int:
    """``python -m dedup corpus ...``; returns the exit status.

    Ctrl-C exits with status 130 and SIGTERM with 143, both after removing
    temporary files and stopping the workers; no output file is written.
    """
    args = _parser().parse_args(argv)
    progress = not args.quiet and sys.stderr.isatty()
    with _terminate_cleanly():
        return _corpus(args, progress)


def _corpus(args: Any, progress: bool) -> int:
    try:
        source = open_source(args.input, id_field=args.id_field or None, text_field=args.text_field)
        try:
            found = _find(
                source,
                jobs=args.jobs,
                progress=progress,
                with_text=not args.no_text,
                **detection_options(args),
            )
        finally:
            source.close()

        _check_terminated()

        def emit(fh: IO[str]) -> None:
            write_clusters(fh, found, kind=args.output_kind, with_text=not args.no_text)
            _check_terminated()  # before atomic_write renames the file into place

        def emit_bytes(raw: IO[bytes]) -> None:
            text = io.TextIOWrapper(raw, encoding="utf-8")
            emit(text)
            text.flush()
            text.detach()  # leave ``raw`` open: atomic_write syncs and renames it

        if args.output:
            from dedup._io import atomic_write

            atomic_write(args.output, emit_bytes)
        else:
            emit(sys.stdout)
    except (OSError, DedupError, ValueError) as err:
        print(f"dedup corpus: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("dedup corpus: interrupted; no output written", file=sys.stderr)
        return 130
    except _Terminated:
        print("dedup corpus: terminated; no output written", file=sys.stderr)
        return 143
    return EXIT_DUPLICATES if args.fail_on_duplicates and len(found.table.cluster_score) else 0
