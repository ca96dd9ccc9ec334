"""Type stub of the compiled tokeniser (dedup/_ctext.c)."""

from collections.abc import Callable

def spans(text: str, start: int, end: int, /) -> list[tuple[int, int]]: ...
def sentence(
    text: str,
    start: int,
    end: int,
    cache: dict[str, tuple[str, str, bool, bool]],
    fill: Callable[[str], tuple[str, str, bool, bool]],
    /,
) -> (
    tuple[
        tuple[int, ...],
        tuple[int, ...],
        tuple[str, ...],
        tuple[str, ...],
        tuple[bool, ...],
        tuple[bool, ...],
    ]
    | None
): ...
def paragraphs(text: str, /) -> list[tuple[int, int]]: ...
def sentences(
    text: str, start: int, end: int, is_abbreviation: Callable[[str], bool], /
) -> list[tuple[int, int]]: ...
