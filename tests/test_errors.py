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
        ("shingle_size", -1, r"shingle_size must be in \[1, 32\], got -1"),
        ("lsh_threshold", 1.0, "lsh_threshold must be in"),
        ("seed", -3, "seed must be in"),
        ("min_words", 0, "min_words must be in"),
    ],
)
def test_out_of_range_option_is_a_dedup_value_error(option: str, value: object, message: str) -> None:
    with pytest.raises(dedup.InvalidOptionError, match=message) as info:
        dedup.find_duplicates("Some text.", **{option: value})  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, dedup.DedupError)


@pytest.mark.parametrize("option", ["shingle_size", "num_perm", "seed", "min_words", "max_sources"])
@pytest.mark.parametrize("value", [2**63, -(2**63), 2**64 + 1])
@pytest.mark.parametrize("entry", ["find_duplicates", "index", "corpus"])
def test_huge_integer_options_are_refused_up_front(option: str, value: int, entry: str) -> None:
    # 2**63 used to escape as OverflowError from deep inside numpy.
    with pytest.raises(dedup.InvalidOptionError, match=f"{option} must be in"):
        if entry == "find_duplicates":
            dedup.find_duplicates("Some text. Some text.", **{option: value})  # type: ignore[arg-type]
        elif entry == "index":
            dedup.DedupIndex(**{option: value}).add("k", "Some text.")  # type: ignore[arg-type]
        else:
            dedup.find_corpus_duplicates([("k", "Some text.")], jobs=1, **{option: value})


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


@pytest.mark.parametrize("entry", ["index", "corpus", "load", "redis"])
def test_a_misspelt_option_names_the_option_it_resembles(entry: str, tmp_path: object) -> None:
    misspelt = r"unknown option 'treshold' \(did you mean 'threshold'\?\)"
    with pytest.raises(dedup.InvalidOptionError, match=misspelt):
        if entry == "index":
            dedup.DedupIndex(treshold=0.7)  # type: ignore[call-arg]
        elif entry == "corpus":
            dedup.find_corpus_duplicates([("k", "Some text.")], jobs=1, treshold=0.7)  # type: ignore[call-arg]
        elif entry == "redis":  # refused before connecting: no server listens on port 1
            pytest.importorskip("redis")
            dedup.DedupIndex.from_redis("redis://127.0.0.1:1/0", treshold=0.7)  # type: ignore[call-arg]
        else:
            path = f"{tmp_path}/x.idx"
            dedup.DedupIndex().save(path)
            dedup.DedupIndex.load(path, treshold=0.7)  # type: ignore[call-arg]
    with pytest.raises(dedup.InvalidOptionError, match="unknown option 'colour'; options are: threshold, "):
        dedup.DedupIndex(colour="red")  # type: ignore[call-arg]


def test_a_type_checker_flags_a_misspelt_option(tmp_path: object) -> None:
    api = pytest.importorskip("mypy.api")
    snippet = f"{tmp_path}/use.py"
    with open(snippet, "w", encoding="utf-8") as fh:
        fh.write(
            "import dedup\n"
            "dedup.DedupIndex(threshold=0.7, num_perm=64)\n"
            "dedup.DedupIndex(treshold=0.7)\n"
            "dedup.find_corpus_duplicates([('k', 'text')], num_prem=64)\n"
            "dedup.DedupIndex.from_redis('redis://localhost', threshold='high')\n"
        )
    out, _, status = api.run([snippet, "--strict", "--no-incremental", "--follow-imports=silent"])
    assert status == 1
    flagged = sorted(int(line.split(":")[1]) for line in out.splitlines() if ": error:" in line)
    assert flagged == [3, 4, 5], out
