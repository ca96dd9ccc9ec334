"""The real-prose corpus of the speed benchmarks: paragraphs of documentation shipped in Debian packages.

Two tiers, read in this order (exact repeats dropped, order kept, so a
corpus of a given size is the same on every machine with the same packages):

1. *core* (~114k paragraphs): the reStructuredText/POD sources of the Python,
   Linux-kernel and Perl manuals (``python3.11-doc``, ``linux-doc-6.1``,
   ``perl-doc``), then the news and web articles of ``shared/datasets``;
2. *extra* (another ~810k), only read when a corpus needs more than the core
   holds: manual pages (English, and the translations of ``manpages-l10n``),
   the HTML and Mallard pages of 30 documentation packages (Rust, Django,
   PostgreSQL, Git, SciPy, pandas, GnuCash, Sphinx, the JDK's Javadoc, the
   Debian Administrator's Handbook in its translations, Qt, CMake, Erlang,
   LLVM, GIMP, Octave, GNOME help, ...), GNU Info files, and the definitions of
   the GNU Collaborative International Dictionary of English.

:func:`build_corpus` takes paragraphs in that order.  A corpus larger than the
pool (1M paragraphs: the pool has ~927k) splits the pool's multi-sentence
paragraphs, from the first on, into one document per run of at most ``split``
(default 1) sentences until that many distinct documents exist: every
document is still a run of consecutive real sentences, and no text is repeated.  Then 1% of the
documents are near-duplicates of others (a word dropped, two words swapped,
a word replaced, case changed) inserted at known random places, so recall
can be measured.

Missing packages are installed with ``apt-get`` only when asked
(``prose_pool(size, install=True)``; ``benchmarks/speed.py --install-corpus``)
and running as root; otherwise the corpus is what is installed, and a size
larger than that says which packages to install.
"""

from __future__ import annotations

import gzip
import html
import itertools
import json
import os
import random
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CORE_ROOTS = (
    "/usr/share/doc/python3.11/html/_sources",
    "/usr/share/doc/linux-doc-6.1/Documentation",
    "/usr/share/perl/5.36.0/pod",
)
CORE_PACKAGES = ("python3.11-doc", "linux-doc-6.1", "perl-doc")
_MAN_LANGUAGES = "cs da de el es fi fr hu id it mk nb nl pl pt-br ro ru sr sv uk vi".split()
# Packages whose HTML (and Mallard) pages are read, in this order (their files as ``dpkg -L`` lists them).
HTML_PACKAGES = (
    "rust-doc",
    "python-django-doc",
    "postgresql-doc-15",
    "git-doc",
    "python-scipy-doc",
    "python-pandas-doc",
    "gnucash-docs",
    "sphinx-doc",
    "openjdk-17-doc",
    "debian-handbook",
    "qtbase5-doc-html",
    "cmake-doc",
    "erlang-doc",
    "llvm-15-doc",
    "gimp-help-en",
    "octave-doc",
    "python-sympy-doc",
    "python-sklearn-doc",
    "python-astropy-doc",
    "python-sqlalchemy-doc",
    "python-statsmodels-doc",
    "python-biopython-doc",
    "apache2-doc",
    "python-scrapy-doc",
    "ghc-doc",
    "libreoffice-help-en-us",
    "python-skimage-doc",
    "python-werkzeug-doc",
    "gnome-user-docs",
    "qtdeclarative5-doc-html",
    "qttools5-doc-html",
    "qtmultimedia5-doc-html",
    "qtconnectivity5-doc-html",
    "qtlocation5-doc-html",
)
MAN_PACKAGES = (
    "manpages",
    "manpages-dev",
    *(f"manpages-{lang}" for lang in _MAN_LANGUAGES),
)
INFO_PACKAGES = ("bash-doc", "binutils-doc", "gettext-doc", "aspell-doc", "gnuplot-doc")
EXTRA_PACKAGES = (*MAN_PACKAGES, *HTML_PACKAGES, *INFO_PACKAGES, "dict-gcide")
INFO_ROOT = "/usr/share/info"
MAN_ROOT = "/usr/share/man"
GCIDE = "/usr/share/dictd/gcide.dict.dz"


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _apt_install(packages: Iterable[str]) -> None:
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        _log(f"note: install {' '.join(packages)} for the full corpus (needs apt-get and root)")
        return
    packages = list(packages)
    _log(f"installing {len(packages)} Debian documentation packages (the corpus's prose) with apt-get ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=False, env=env)


def ensure_prose(*, extra: bool = False, install: bool = False) -> None:
    """Install the packages of the core tier (and of the extra tier) when missing, if ``install``.

    Without ``install`` nothing on the system changes: the missing packages are only named.
    """
    if not install:
        missing = [p for p in (*CORE_PACKAGES, *(EXTRA_PACKAGES if extra else ())) if not _package_files(p)]
        if missing:
            names = " ".join(missing[:6])
            _log(
                f"note: {len(missing)} documentation packages are not installed ({names} ...); "
                "the corpus uses what is installed (--install-corpus installs them with apt-get)"
            )
        return
    if not all(Path(root).is_dir() for root in CORE_ROOTS):
        _apt_install(CORE_PACKAGES)
    if extra:
        missing = [p for p in EXTRA_PACKAGES if not _package_files(p)]
        if missing:
            _apt_install(missing)


def _package_files(package: str) -> list[str]:
    """Files an installed Debian package holds (none when it is not installed)."""
    if shutil.which("dpkg") is None:
        return []
    res = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=False)
    return res.stdout.splitlines() if res.returncode == 0 else []


# Fewest words of a paragraph of the extra tier (manual pages are terse: "Print the version and exit.").
_EXTRA_MIN_WORDS = 5


def _prose(text: str) -> bool:
    """A paragraph worth keeping: 5+ words, ends like a sentence, mostly letters (not code or tables)."""
    return (
        len(text.split()) >= _EXTRA_MIN_WORDS
        and text[-1] in '.:)!?"”'
        and sum(c.isalpha() or c == " " for c in text) >= 0.85 * len(text)
    )


# --- core: reStructuredText and POD sources --------------------------------------------------

_ROLE = re.compile(r":[\w:.-]+:`~?!?([^`<]*?)(?:\s*<[^>]*>)?`")
_LITERAL = re.compile(r"``([^`]*)``")
_LINK = re.compile(r"`([^`<]*?)(?:\s*<[^>]*>)?`_{1,2}")
_POD = re.compile(r"[A-Z]<+([^<>]*)>+")
_MARKUP_START = ("..", ">>>", "|", "+", "=", "-", "*", "#", ":", "$", "~", "^")


def _files(root: str) -> list[str]:
    found = set()
    for pattern in ("**/*.rst", "**/*.rst.gz", "**/*.rst.txt", "**/*.txt", "**/*.txt.gz", "**/*.pod"):
        found.update(str(p) for p in Path(root).glob(pattern) if p.is_file())
    return sorted(found)


def source_paragraphs() -> Iterator[str]:
    """Prose paragraphs of the documentation in CORE_ROOTS, markup stripped, code and tables skipped."""
    for root in CORE_ROOTS:
        for path in _files(root):
            opener: Callable[..., object] = gzip.open if path.endswith(".gz") else open
            try:
                with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
                    text = fh.read()
            except (UnicodeDecodeError, OSError):
                continue
            for block in re.split(r"\n\s*\n", text):
                lines = textwrap.dedent(block).strip("\n").split("\n")
                if (
                    not lines
                    or lines[0].startswith(_MARKUP_START)
                    or lines[0].startswith("=")
                    or any(x[:1].isspace() for x in lines[1:])
                ):
                    continue
                para = " ".join(x.strip() for x in lines).removesuffix(":")
                for pattern in (_ROLE, _LITERAL, _LINK, _POD):
                    para = pattern.sub(r"\1", para)
                para = para.replace("**", "").replace("*", "")
                if len(para.split()) < 8 or para[-1] not in ".:)":
                    continue
                if sum(c.isalpha() or c == " " for c in para) < 0.85 * len(para):
                    continue
                yield para


def news_paragraphs() -> Iterator[str]:
    """Lines of the news and web articles in ``shared/datasets`` (beside the repository), when present."""
    for path in sorted((ROOT.parent / "shared" / "datasets").glob("*/*.jsonl")):
        if path.parent.name == "msrp_train":
            continue
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                text = json.loads(line).get("text") or ""
                for para in text.split("\n"):
                    if len(para.split()) >= 8:
                        yield para.strip()


# --- extra: manual pages, HTML manuals, a dictionary -----------------------------------------

_WS = re.compile(r"\s+")
_TAG = re.compile(r"<[^>]+>")
_ROFF_ESCAPE = re.compile(r"\\f(?:\[[^\]]*\]|\(..|.)|\\\*(?:\[[^\]]*\]|\(..|.)|\\[&|^%:/,~0 ]|\\s[-+]?\d")
_ROFF_CHARS = {
    r"\-": "-", r"\(em": "—", r"\(en": "–", r"\(aq": "'", r"\(dq": '"', r"\(lq": "“",
    r"\(rq": "”", r"\e": "\\", r"\(bu": "•", r"\(cq": "’", r"\(oq": "‘",
}  # fmt: skip
_ROFF_CHAR = re.compile("|".join(re.escape(k) for k in _ROFF_CHARS))
# Requests that end a filled paragraph (man and mdoc macros).
_ROFF_BREAKS = frozenset(
    ".PP .P .LP .TP .IP .SH .SS .HP .RS .RE .nf .fi .TH .sp .br .EX .EE .in .ti .TS .TE "
    ".Pp .Sh .Ss .It .Bl .El .Bd .Ed".split()
)
_ROFF_FONTS = frozenset(".B .I .SM .SB".split())
_ROFF_ALTERNATING = frozenset(".BR .IR .RB .RI .BI .IB".split())


def _roff_text(line: str) -> str:
    return _ROFF_CHAR.sub(lambda m: _ROFF_CHARS[m.group()], _ROFF_ESCAPE.sub("", line))


def man_paragraphs(path: Path) -> Iterator[str]:
    """Filled paragraphs of one gzipped manual page (roff requests and font escapes dropped)."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            text = fh.read()
    except (UnicodeDecodeError, OSError, EOFError):
        return
    current: list[str] = []
    nofill = False
    for line in [*text.split("\n"), ".PP"]:
        if line.startswith((".", "'")):
            request, _, arg = line.partition(" ")
            if request in _ROFF_BREAKS or not line.strip(".' "):
                para = _WS.sub(" ", " ".join(current)).strip()
                current.clear()
                if not nofill and para and _prose(para):
                    yield para
                nofill = (nofill or request in (".nf", ".EX", ".TS")) and request not in (".fi", ".EE", ".TE")
            elif request in _ROFF_FONTS and arg:
                current.append(_roff_text(arg.replace('"', "")))
            elif request in _ROFF_ALTERNATING and arg:
                words = arg.replace('"', "").split()
                current.append(_roff_text("".join(words[:2]) + "".join(" " + w for w in words[2:])))
        elif line.strip() and not line.startswith('\\"'):
            current.append(_roff_text(line))
        elif not line.strip() and current:
            para = _WS.sub(" ", " ".join(current)).strip()
            current.clear()
            if not nofill and _prose(para):
                yield para


_HTML_BLOCK = re.compile(r"<p\b[^>]*>(.*?)</p>|<div class=\"(?:block|para)\"[^>]*>(.*?)</div>", re.S | re.I)


def html_paragraphs(path: Path) -> Iterator[str]:
    """Text of the ``<p>`` elements (and Javadoc/DocBook paragraph blocks) of one HTML page."""
    try:
        data = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return
    for m in _HTML_BLOCK.finditer(data):
        for piece in re.split(r"<p>|</p>", m.group(1) or m.group(2) or ""):
            para = _WS.sub(" ", html.unescape(_TAG.sub("", piece))).strip()
            if para and _prose(para):
                yield para


def gcide_paragraphs() -> Iterator[str]:
    """Entries of the GNU Collaborative International Dictionary of English (dictzip is gzip)."""
    try:
        with gzip.open(GCIDE, "rt", encoding="utf-8", errors="replace") as fh:
            data = fh.read()
    except OSError:
        return
    for block in re.split(r"\n\s*\n", data):
        para = _WS.sub(" ", block).strip()
        if para and _prose(para):
            yield para


def info_paragraphs(path: Path) -> Iterator[str]:
    """Unindented text paragraphs of one gzipped GNU Info file (menus, examples and node headers skipped)."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            text = fh.read()
    except (UnicodeDecodeError, OSError, EOFError):
        return
    for block in re.split(r"\n\s*\n", text):
        lines = block.strip("\n").split("\n")
        if any(x[:1].isspace() for x in lines) or "\x1f" in block or block.lstrip().startswith("*"):
            continue
        para = _WS.sub(" ", " ".join(lines)).strip()
        if para and _prose(para):
            yield para


def extra_paragraphs() -> Iterator[str]:
    """Paragraphs of the extra tier, in a fixed order."""
    for path in sorted(Path(MAN_ROOT).rglob("*.gz")):
        yield from man_paragraphs(path)
    for package in HTML_PACKAGES:
        for name in sorted(f for f in _package_files(package) if f.endswith((".html", ".htm", ".page"))):
            path = Path(name)
            if path.is_file():
                yield from html_paragraphs(path)
    for path in sorted(Path(INFO_ROOT).glob("*.info*.gz")):
        if not path.name.startswith("python"):  # the Python manual is in the core tier already
            yield from info_paragraphs(path)
    yield from gcide_paragraphs()


def prose_pool(size: int, *, install: bool = False) -> list[str]:
    """Distinct paragraphs in corpus order: the core tier, and the extra tier when ``size`` needs it.

    ``install``: install missing documentation packages with apt-get first (root only).
    """
    ensure_prose(extra=False, install=install)
    pool = list(dict.fromkeys(itertools.chain(source_paragraphs(), news_paragraphs())))
    if size > len(pool):
        ensure_prose(extra=True, install=install)
        pool = list(dict.fromkeys(itertools.chain(pool, extra_paragraphs())))
    return pool


# --- the corpus -------------------------------------------------------------------------------

# Sentence ends for splitting pool paragraphs (independent of dedup's own segmentation).
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)][.!?])\s+(?=[A-Z])")


def _split_to(pool: list[str], wanted: int, split: int) -> list[str]:
    """``pool`` with multi-sentence paragraphs split into runs of at most ``split`` sentences, from the
    first paragraph on, until it holds ``wanted`` distinct documents (or cannot be split further)."""
    out: list[str] = []
    seen = set(pool)
    count = len(pool)
    for n, para in enumerate(pool):
        if count >= wanted:
            out.extend(pool[n:])
            break
        sents = _SENTENCE_END.split(para)
        groups = [" ".join(sents[k : k + split]) for k in range(0, len(sents), split)]
        new = list(dict.fromkeys(g for g in groups if len(g.split()) >= 3 and g not in seen))
        if len(groups) > 1 and new:
            seen.update(new)
            out.extend(new)
            count += len(new) - 1
        else:
            out.append(para)
    return out


def _near_duplicate(text: str, rng: random.Random) -> str:
    words = text.split()
    for _ in range(max(1, len(words) // 25)):
        k = rng.randrange(len(words))
        edit = rng.randrange(4)
        if edit == 0 and len(words) > 8:
            del words[k]
        elif edit == 1 and k + 1 < len(words):
            words[k], words[k + 1] = words[k + 1], words[k]
        elif edit == 2:
            words[k] = rng.choice(("very", "also", "really", "new", "old", "some"))
        else:
            words[k] = words[k].lower() if words[k][:1].isupper() else words[k].capitalize()
    return " ".join(words)


def build_corpus(
    size: int, pool: list[str], seed: int = 0, *, split: int = 1
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``size`` documents, 1% of them near-duplicates of others; returns (docs, injected pairs)."""
    rng = random.Random(seed)
    n_dup = max(1, size // 100)
    if len(pool) < size - n_dup:
        pool = _split_to(pool, size - n_dup, split)
    base = pool[: size - n_dup]
    if len(base) < size - n_dup:
        raise SystemExit(
            f"only {len(pool)} prose paragraphs available, {size} wanted: rerun with --install-corpus "
            "(installs Debian documentation packages with apt-get, as root)"
        )
    docs = [(f"p{n}", t) for n, t in enumerate(base)]
    injected = []
    for k in range(n_dup):
        src = rng.randrange(len(base))
        key = f"d{k}"
        docs.insert(rng.randrange(len(docs) + 1), (key, _near_duplicate(base[src], rng)))
        injected.append((f"p{src}", key))
    return docs, injected
