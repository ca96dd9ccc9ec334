"""The list-like result of a detection: clusters plus matches, records and re-thresholding."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dedup._cluster.build import Detection, build, iter_components
from dedup._errors import InvalidOptionError
from dedup._rules import LINK_FLOOR
from dedup._types import Cluster, Match
from dedup._version import install_hint

if TYPE_CHECKING:
    import pandas

__all__ = ["Clusters", "stream_clusters"]

# A repr shows every cluster up to _REPR_MAX of them, else the first _REPR_HEAD (as pandas bounds its reprs).
_REPR_MAX = 10
_REPR_HEAD = 5


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
        Every verified passage pair, best first (clusters join them transitively).
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

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per passage: cluster id, cluster score, key, start, end, text."""
        return [
            {
                "cluster": n,
                "score": c.score,
                "key": p.key,
                "start": p.span.start,
                "end": p.span.end,
                "text": p.text,
                "representative": p == c.representative,
            }
            for n, c in enumerate(self)
            for p in c.passages
        ]

    def to_pandas(self) -> pandas.DataFrame:
        """:meth:`to_records` as a pandas DataFrame (pandas is imported only here)."""
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError(f"to_pandas() needs pandas: {install_hint('pandas')}") from err
        columns = ["cluster", "score", "key", "start", "end", "text", "representative"]
        return pd.DataFrame(self.to_records(), columns=columns)

    def to_json(self) -> dict[str, Any]:
        """The JSON shape printed by ``python -m dedup --format json``."""
        return {
            "clusters": [
                {
                    "score": c.score,
                    "passages": [
                        {"key": p.key, "start": p.span.start, "end": p.span.end, "text": p.text}
                        for p in c.passages
                    ],
                }
                for c in self
            ]
        }

    def _repr_html_(self) -> str:
        from dedup._present.html import clusters_html

        return clusters_html(self, threshold=self.threshold)

    def __repr__(self) -> str:
        if len(self) <= _REPR_MAX:
            return f"Clusters({list.__repr__(self)})"
        shown = ", ".join(repr(c) for c in self[:_REPR_HEAD])
        return f"Clusters([{shown}, ... {len(self) - _REPR_HEAD} more clusters], n={len(self)})"
