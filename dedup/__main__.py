"""``python -m dedup``: the command line (:mod:`dedup._cli.main`)."""

import sys

from dedup._cli.main import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
