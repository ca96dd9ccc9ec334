"""Type stub of the compiled tokeniser (dedup/_text/_segment.pyx)."""

from collections.abc import Callable
from typing import TypeVar

def spans(text: str, start: int, end: int, /) -> list[tuple[int, int]]: ...

_T = TypeVar("_T", bound=tuple[object, ...])
_Info = tuple[str, str, bool, bool]

def sentence(
    text: str,
    start: int,
    end: int,
    cache: dict[str, _Info],
    fill: Callable[[str], _Info],
    para: int,
    cls: type[_T],
    /,
) -> _T | None: ...
def segment(
    text: str,
    cache: dict[str, _Info],
    fill: Callable[[str], _Info],
    is_abbreviation: Callable[[str], bool],
    cls: type[_T],
    given: list[tuple[int, int]] | None = None,
    /,
) -> list[_T]: ...
def paragraphs(text: str, /) -> list[tuple[int, int]]: ...
def sentences(
    text: str, start: int, end: int, is_abbreviation: Callable[[str], bool], /
) -> list[tuple[int, int]]: ...
