"""dedup: find duplicate and near-duplicate passages in text, grouped into ranked clusters."""

from dedup._api import find_duplicates
from dedup._cluster.result import Clusters
from dedup._corpus.run import find_corpus_duplicates
from dedup._errors import (
    DedupError,
    DuplicateKeyError,
    IncompatibleIndexError,
    IndexFormatError,
    InvalidOptionError,
    StorageError,
)
from dedup._index.index import DedupIndex
from dedup._options import Options
from dedup._strip import strip_duplicates
from dedup._types import Alignment, Cluster, Match, Passage, Span
from dedup._version import __version__

__all__ = [
    "Alignment",
    "Cluster",
    "Clusters",
    "DedupError",
    "DedupIndex",
    "DuplicateKeyError",
    "IncompatibleIndexError",
    "IndexFormatError",
    "InvalidOptionError",
    "Match",
    "Options",
    "Passage",
    "Span",
    "StorageError",
    "__version__",
    "find_corpus_duplicates",
    "find_duplicates",
    "strip_duplicates",
]
