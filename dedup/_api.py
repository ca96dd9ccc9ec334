"""One-call entry points: find_duplicates for a single text."""

from __future__ import annotations

from dedup._cluster.result import Clusters
from dedup._engine import detect
from dedup._options import Options
from dedup._text.segment import check_text
from dedup._types import Doc

__all__ = ["find_duplicates"]


def find_duplicates(
    text: str,
    *,
    threshold: float = 0.6,
    shingle_size: int = 1,
    num_perm: int = 128,
    seed: int = 1,
    lsh_threshold: float = 0.3,
    local_lsh_threshold: float = 0.05,
    min_words: int = 3,
    short_copies: bool = True,
    fusion: bool = True,
    min_gain: float = 0.1,
    max_sources: int = 2,
) -> Clusters:
    """Find passages of ``text`` that restate each other, grouped into ranked clusters.

    Parameters
    ----------
    text : str
        The document.  Paragraphs are separated by blank lines, or are single
        lines when the text has no blank line.
    threshold : float, default 0.6
        Verification cut in (0, 1]; higher keeps only closer restatements.
    shingle_size : int, default 1
        Words per MinHash shingle.
    num_perm : int, default 128
        MinHash permutations.
    seed : int, default 1
        MinHash seed; results are identical for the same seed in any process.
    lsh_threshold : float, default 0.3
        Jaccard level the LSH candidate search between documents is tuned for
        (used by :class:`DedupIndex`; a single text is one document).
    local_lsh_threshold : float, default 0.05
        Jaccard level of the candidate search within a document, where
        restatements are often partial.
    min_words : int, default 3
        Sentences with fewer words are only matched as exact copies.
    short_copies : bool, default True
        Report exact copies of sentences under ``min_words``; False drops them.
    fusion : bool, default True
        Also link a sentence to the two or more sentences it fuses.
    min_gain : float, default 0.1
        Share of a fused sentence's content each further source must add.
    max_sources : int, default 2
        Most sources one fused sentence is linked to.

    Returns
    -------
    Clusters
        A list of :class:`Cluster`, best score first, then by position.  It also
        carries ``.matches`` and offers ``rethreshold``, ``to_records`` and
        ``to_pandas``; in Jupyter it displays as HTML.

    Raises
    ------
    TypeError
        If ``text`` is not a ``str`` or an option has the wrong type.
    InvalidOptionError
        If an option is out of range (also a ``ValueError``).

    Examples
    --------
    >>> import dedup
    >>> text = (
    ...     "- Lavrov chastised NATO for encouraging turmoil in Eastern Europe.\\n"
    ...     "Markets were calm on Friday.\\n"
    ...     "Lavrov slammed NATO for fanning turmoil in Eastern Europe."
    ... )
    >>> clusters = dedup.find_duplicates(text)
    >>> for p in clusters[0].passages:
    ...     print(p.span, p.text)
    Span(start=2, end=66) Lavrov chastised NATO for encouraging turmoil in Eastern Europe.
    Span(start=96, end=154) Lavrov slammed NATO for fanning turmoil in Eastern Europe.
    >>> all(text[p.span.start:p.span.end] == p.text for p in clusters[0].passages)
    True
    """
    check_text(text)
    options = Options(
        threshold=threshold,
        shingle_size=shingle_size,
        num_perm=num_perm,
        seed=seed,
        lsh_threshold=lsh_threshold,
        local_lsh_threshold=local_lsh_threshold,
        min_words=min_words,
        short_copies=short_copies,
        fusion=fusion,
        min_gain=min_gain,
        max_sources=max_sources,
    )
    if not text.strip():
        return Clusters(threshold=threshold)
    detection = detect([Doc(None, text, 0)], options)
    return Clusters._from_detection(detection, options.threshold)
