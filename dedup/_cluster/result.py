"""The list-like result of a detection: clusters plus matches, records and re-thresholding."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dedup._cluster.build import Detection, build, iter_components
from dedup._cluster.repeats import repeats
from dedup._errors import InvalidOptionError
from dedup._rules import LINK_FLOOR
from dedup._text.cut import without_sentences_in
from dedup._types import Alignment, Cluster, Match, Passage
from dedup._version import install_hint

if TYPE_CHECKING:
    import pandas

__all__ = ["RECORD_FIELDS", "Clusters", "alignment_json", "match_json", "passage_json", "stream_clusters"]

#: The fields of a passage row (:meth:`Clusters.to_records`, ``to_pandas``, Spark's ``clusters``).
RECORD_FIELDS = ("cluster", "score", "representative", "passage", "key", "start", "end", "text")

# A repr shows every cluster up to _REPR_MAX of them, else the first _REPR_HEAD (as pandas bounds its reprs).
_REPR_MAX = 10
_REPR_HEAD = 5


def passage_json(p: Passage, *, with_text: bool = True) -> dict[str, Any]:
    """The passage object of the output schema: ``key``, ``start``, ``end`` (and ``text``)."""
    item: dict[str, Any] = {"key": p.key, "start": p.span.start, "end": p.span.end}
    if with_text:
        item["text"] = p.text
    return item


def alignment_json(al: Alignment) -> dict[str, Any]:
    """The alignment object of the output schema: ``a_start``, ``a_end``, ``b_start``, ``b_end``,
    ``score``."""
    a, b = al.a, al.b
    return {"a_start": a.start, "a_end": a.end, "b_start": b.start, "b_end": b.end, "score": al.score}


def match_json(m: Match, *, with_text: bool = True) -> dict[str, Any]:
    """The match object of the output schema: ``score``, ``kind``, passages ``a`` and ``b``, and
    ``alignments`` (the sentence pairs inside it: ``a_start``, ``a_end``, ``b_start``, ``b_end``,
    ``score``, as in Spark's ``matches``)."""
    return {
        "score": m.score,
        "kind": m.kind,
        "a": passage_json(m.a, with_text=with_text),
        "b": passage_json(m.b, with_text=with_text),
        "alignments": [alignment_json(al) for al in m.alignments],
    }


def stream_clusters(detection: Detection | None, threshold: float) -> Iterator[Cluster]:
    """The clusters of ``detection`` one group of linked documents at a time (see ``iter_components``)."""
    if detection is None:
        return
    for group in iter_components(
        detection.links, detection.sentences, detection.sent_doc, detection.docs, threshold
    ):
        yield from group


class Clusters(list[Cluster]):
    """Clusters, best first; a plain ``list`` that also explains and displays itself.

    Attributes
    ----------
    matches : tuple of Match
        Every verified passage pair, best first (each lies in at least one cluster).
    threshold : float
        The verification cut these clusters were built with.
    """

    matches: tuple[Match, ...]
    threshold: float
    _detection: Detection | None

    def __init__(
        self,
        clusters: list[Cluster] | None = None,
        matches: tuple[Match, ...] = (),
        *,
        threshold: float = 1.0,
        detection: Detection | None = None,
        recut_floor: float = 0.0,
    ) -> None:
        super().__init__(clusters or [])
        self.matches = matches
        self.threshold = threshold
        self._detection = detection
        # Without the detection: the lowest cut that keeping these clusters answers exactly
        # (a corpus run keeps no link under its threshold).
        self._recut_floor = recut_floor

    @classmethod
    def _from_detection(cls, detection: Detection, threshold: float) -> Clusters:
        clusters, matches = build(
            detection.links, detection.sentences, detection.sent_doc, detection.docs, threshold
        )
        return cls(clusters, tuple(matches), threshold=threshold, detection=detection)

    def rethreshold(self, threshold: float) -> Clusters:
        """The clusters at another verification cut, without re-indexing.

        Scores of every candidate above 0.3 (the engine's ``LINK_FLOOR``, or the
        original threshold if lower) are kept, so any cut down to there is exact.

        Examples
        --------
        >>> import dedup
        >>> text = "The cat sat on the mat today.\\nA dog barked.\\nThe cat sat on a mat today."
        >>> found = dedup.find_duplicates(text)
        >>> len(found), len(found.rethreshold(1.0))
        (1, 0)
        """
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise TypeError(f"threshold must be a number, got {type(threshold).__name__}")
        if self._detection is None:
            if threshold < self._recut_floor:
                raise InvalidOptionError(
                    f"these clusters come from a corpus run at threshold {self._recut_floor}, which keeps "
                    f"no weaker links: run it again with threshold={threshold} instead of re-thresholding"
                )
            kept = [c for c in self if c.score >= threshold]
            return Clusters(kept, threshold=threshold, recut_floor=self._recut_floor)
        floor = min(LINK_FLOOR, self._detection.options.threshold)
        if not floor <= threshold <= 1.0:
            raise InvalidOptionError(f"threshold must be in [{floor}, 1] to re-threshold, got {threshold!r}")
        return Clusters._from_detection(self._detection, float(threshold))

    def deduplicate(
        self, documents: Sequence[tuple[str, str]] | Mapping[str, str], *, cover: float = 0.5
    ) -> Iterator[tuple[str, str]]:
        """The documents without their repeats: what to store after a corpus run.

        A passage is a repeat when it restates a passage that stays, earlier
        in the order of ``documents`` (then by offset); of exact copies the
        first stays.  Direct matches decide, not the clusters they chain into
        (:func:`~dedup._cluster.repeats.repeats` states the rule).  A sentence goes when at least
        ``cover`` of its characters lie in repeats (whole sentences, never
        parts); a document left with no text is dropped, so the keys not
        yielded are the drop list.

        Parameters
        ----------
        documents : sequence of (key, text), or mapping of key to text
            The documents these clusters were found in, in the order that
            decides which occurrence is first (others pass unchanged).
        cover : float, default 0.5
            Share of a sentence that must lie in repeats for it to go.

        Yields
        ------
        (str, str)
            Each kept document's key and its text without repeats, in input order.

        Raises
        ------
        ValueError
            A document's text is not the one a passage of these clusters was found in.

        Examples
        --------
        >>> import dedup
        >>> docs = {"a": "Storms closed every school on Monday.\\nParents were told on Sunday.",
        ...         "b": "Storms closed every school on Monday.",
        ...         "c": "Parents were told on Sunday. Buses will run again on Friday."}
        >>> kept = dict(dedup.find_corpus_duplicates(docs, jobs=1).deduplicate(docs))
        >>> for key, text in kept.items():
        ...     print(key, repr(text))
        a 'Storms closed every school on Monday.\\nParents were told on Sunday.'
        c 'Buses will run again on Friday.'
        >>> [key for key in docs if key not in kept]  # the drop list
        ['b']
        """
        if isinstance(cover, bool) or not isinstance(cover, (int, float)) or not 0.0 < cover <= 1.0:
            raise InvalidOptionError(f"cover must be a number in (0, 1], got {cover!r}")
        items = list(documents.items()) if isinstance(documents, Mapping) else documents
        if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
            raise TypeError(
                f"documents must be a sequence of (key, text) or a mapping, got {type(documents).__name__}"
            )
        rank: dict[str | None, int] = {key: n for n, (key, _) in reversed(list(enumerate(items)))}
        unknown = len(rank)
        drop: dict[str | None, list[tuple[int, int]]] = {}
        for key, start, end in repeats(self.matches, lambda p: (rank.get(p.key, unknown), p.span.start)):
            drop.setdefault(key, []).append((start, end))
        shown: dict[str | None, list[Passage]] = {}
        for m in self.matches:
            for p in (m.a, m.b):
                shown.setdefault(p.key, []).append(p)
        for key, text in items:
            for p in shown.get(key, ()):
                if p.span.end > len(text) or (p.text and text[p.span.start : p.span.end] != p.text):
                    raise ValueError(
                        f"document {key!r} is not the text these clusters were found in "
                        f"(its passage at {p.span.start}:{p.span.end} differs)"
                    )
            spans = drop.get(key)
            if not spans:
                yield key, text
                continue
            rest = without_sentences_in(text, spans, cover)
            if rest.strip():
                yield key, rest

    def to_records(self) -> list[dict[str, Any]]:
        """One flat row per passage (the output schema's passage rows; see the README).

        ``cluster`` (rank, 0 = best), ``score`` (the cluster's), ``representative``
        (the representative's index among the cluster's passages, as in the JSON
        output), ``passage`` (this passage's index; ``passage == representative``
        marks the representative), ``key``, ``start``, ``end``, ``text``.

        Examples
        --------
        >>> import dedup
        >>> found = dedup.find_duplicates("Troops left the border today.\\nTroops left the border today.")
        >>> row = found.to_records()[1]
        >>> row["cluster"], row["representative"], row["passage"], row["start"], row["end"]
        (0, 0, 1, 30, 59)
        """
        return [
            {
                "cluster": n,
                "score": c.score,
                "representative": c.passages.index(c.representative),
                "passage": k,
                "key": p.key,
                "start": p.span.start,
                "end": p.span.end,
                "text": p.text,
            }
            for n, c in enumerate(self)
            for k, p in enumerate(c.passages)
        ]

    def to_pandas(self) -> pandas.DataFrame:
        """:meth:`to_records` as a pandas DataFrame (pandas is imported only here)."""
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError(f"to_pandas() needs pandas: {install_hint('pandas')}") from err
        return pd.DataFrame(self.to_records(), columns=list(RECORD_FIELDS))

    def to_json(self) -> dict[str, Any]:
        """The JSON of ``python -m dedup --format json``: ``{"clusters": [...], "matches": [...]}``.

        Each cluster object is what a line of ``python -m dedup corpus`` holds:
        ``cluster``, ``score``, ``representative`` (an index into ``passages``)
        and ``passages`` (``key``, ``start``, ``end``, ``text``).  Each match
        object (:attr:`matches`, best first) is what a line of ``python -m dedup
        corpus --output-kind matches`` holds: ``score``, ``kind``, passages
        ``a`` and ``b``, and ``alignments``.
        """
        return {
            "clusters": [
                {
                    "cluster": n,
                    "score": c.score,
                    "representative": c.passages.index(c.representative),
                    "passages": [passage_json(p) for p in c.passages],
                }
                for n, c in enumerate(self)
            ],
            "matches": [match_json(m) for m in self.matches],
        }

    def _repr_html_(self) -> str:
        from dedup._present.html import clusters_html

        return clusters_html(self, threshold=self.threshold)

    def __repr__(self) -> str:
        if len(self) <= _REPR_MAX:
            return f"Clusters({list.__repr__(self)})"
        shown = ", ".join(repr(c) for c in self[:_REPR_HEAD])
        return f"Clusters([{shown}, ... {len(self) - _REPR_HEAD} more clusters], n={len(self)})"
