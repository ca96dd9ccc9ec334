"""What every ``dedup`` command shares: the detection options, exit statuses, the version flag."""

from __future__ import annotations

import argparse
from typing import Any

from dedup._options import Options
from dedup._version import DISTRIBUTION, __version__

__all__ = [
    "EXIT_DUPLICATES",
    "EXIT_ERROR",
    "EXIT_OK",
    "add_detection_options",
    "add_version",
    "detection_options",
]

EXIT_OK = 0
#: Input that cannot be read or processed (usage errors exit with argparse's 2).
EXIT_ERROR = 1
#: With ``--fail-on-duplicates``: duplicates were found (as ``grep`` answers with its status).
EXIT_DUPLICATES = 3


def add_detection_options(p: argparse.ArgumentParser) -> None:
    """The detector's options, with the same names, defaults and help in every command."""
    d = Options()
    p.add_argument(
        "--threshold",
        type=float,
        default=d.threshold,
        help=f"verification cut in (0, 1] (default {d.threshold})",
    )
    p.add_argument(
        "--num-perm", type=int, default=d.num_perm, help=f"MinHash permutations (default {d.num_perm})"
    )
    p.add_argument("--seed", type=int, default=d.seed, help=f"MinHash seed (default {d.seed})")
    p.add_argument(
        "--min-words",
        type=int,
        default=d.min_words,
        help=f"sentences with fewer words match only as exact copies (default {d.min_words})",
    )
    p.add_argument(
        "--no-short-copies",
        dest="short_copies",
        action="store_false",
        help='drop exact copies of sentences under --min-words ("he said.", "Yes.")',
    )
    p.add_argument(
        "--fail-on-duplicates",
        action="store_true",
        help=f"exit with status {EXIT_DUPLICATES} when duplicates are found (for CI checks)",
    )


def detection_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword options of the detector that :func:`add_detection_options` parsed."""
    return {
        "threshold": args.threshold,
        "num_perm": args.num_perm,
        "seed": args.seed,
        "min_words": args.min_words,
        "short_copies": args.short_copies,
    }


def add_version(p: argparse.ArgumentParser) -> None:
    """``--version``: the package version and the distribution it is installed as."""
    p.add_argument("--version", action="version", version=f"dedup {__version__} ({DISTRIBUTION})")
