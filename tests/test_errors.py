"""Bad input gets a clear error naming what was wrong."""

from __future__ import annotations

import types

import pytest

import dedup


@pytest.mark.parametrize("bad", [None, b"bytes", 3, 2.5, ["a list"]])
def test_non_string_text_is_a_type_error_naming_the_argument(bad: object) -> None:
    with pytest.raises(TypeError, match="text must be str"):
        dedup.find_duplicates(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("threshold", 1.5, r"threshold must be in \(0, 1\], got 1.5"),
        ("threshold", 0.0, "threshold must be in"),
        ("num_perm", 0, "num_perm must be in"),
        ("shingle_size", -1, "shingle_size must be >= 1, got -1"),
        ("lsh_threshold", 1.0, "lsh_threshold must be in"),
        ("seed", -3, "seed must be in"),
        ("min_words", 0, "min_words must be >= 1"),
    ],
)
def test_out_of_range_option_is_a_dedup_value_error(option: str, value: object, message: str) -> None:
    with pytest.raises(dedup.InvalidOptionError, match=message) as info:
        dedup.find_duplicates("Some text.", **{option: value})  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, dedup.DedupError)


@pytest.mark.parametrize(("option", "value"), [("threshold", "high"), ("num_perm", 1.5), ("fusion", 1)])
def test_wrongly_typed_option_is_a_type_error(option: str, value: object) -> None:
    with pytest.raises(TypeError, match=option):
        dedup.find_duplicates("Some text.", **{option: value})  # type: ignore[arg-type]


def test_index_key_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="key must be str"):
        dedup.DedupIndex().add(3, "text")  # type: ignore[arg-type]


def test_public_surface_is_exactly_all() -> None:
    # Optional engines (``dedup.spark``) are public submodules, imported on demand.
    public = {
        name
        for name in dir(dedup)
        if not name.startswith("_") and not isinstance(getattr(dedup, name), types.ModuleType)
    }
    assert public == set(dedup.__all__) - {"__version__"}
