"""Speed benchmark: per-article latency and corpus throughput, against straightforward baselines.

    python benchmarks/speed.py                                 # seed article + 10k and 100k paragraphs
    python benchmarks/speed.py --sizes 10000 --runs 100        # shorter

One table from one run.  Every figure carries its ratio to the first baseline
(the per-sentence datasketch pipeline) measured in the same run: for times,
baseline / ours (so > 1 is faster); for throughput, ours / baseline.

The corpus is real prose (``benchmarks/prose.py``): paragraphs of the
documentation shipped in Debian packages (Python, Linux-kernel and Perl
manuals, then the news articles of ``shared/datasets``; past ~114k
paragraphs also manual pages and HTML manuals; with --install-corpus they are
installed with apt-get when missing and running as root), exact repeats
dropped, one paragraph per document.  1% of the documents are near-duplicates of other documents (a word
dropped, two words swapped, a word replaced, case changed), inserted at known
random places; recall is the share of those pairs found as a match between
the two documents.

Wall-clock time on a shared machine is noisy: CPU seconds (this process and
its children) are printed beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from datasketch import MinHash, MinHashLSH  # noqa: E402
from rapidfuzz import fuzz, process  # noqa: E402

import dedup  # noqa: E402
from benchmarks.prose import build_corpus, prose_pool  # noqa: E402
from dedup._options import Options  # noqa: E402
from dedup._sketch.minhash import band_keys, lsh_params, signatures  # noqa: E402
from dedup._sketch.shingle import sentence_shingle_hashes, shingle_tokens  # noqa: E402
from dedup._text.segment import Sentence, segment  # noqa: E402

SEED = ROOT / "seeds" / "000_2e71187361903d7a.txt"


def recall(matches: set[frozenset[str]], injected: list[tuple[str, str]]) -> float:
    return sum(frozenset(p) in matches for p in injected) / len(injected)


# --- baselines ---------------------------------------------------------------------------


def _stem_bytes(sent: Sentence) -> list[bytes]:
    return [t.encode("utf-8") for t in set(shingle_tokens(sent))]


def datasketch_pipeline(docs: list[tuple[str, str]], options: Options) -> set[frozenset[str]]:
    """The straightforward pipeline: a MinHash object per sentence, MinHashLSH, rapidfuzz verification."""
    # The band/row split is computed once (datasketch would integrate it anew per index).
    params = lsh_params(options.lsh_threshold, options.num_perm)
    lsh = MinHashLSH(threshold=options.lsh_threshold, num_perm=options.num_perm, params=params)
    sents: list[tuple[str, str, MinHash]] = []
    for key, text in docs:
        for sent in segment(text):
            if len(sent.words) < options.min_words:
                continue
            m = MinHash(num_perm=options.num_perm, seed=options.seed)
            m.update_batch(_stem_bytes(sent))
            name = str(len(sents))
            lsh.insert(name, m)
            sents.append((key, sent.norm, m))
    found: set[frozenset[str]] = set()
    cut = 100.0 * options.threshold
    for n, (key, norm, m) in enumerate(sents):
        for other in lsh.query(m):
            k = int(other)
            if k <= n:
                continue
            if fuzz.ratio(norm, sents[k][1], score_cutoff=cut):
                found.add(frozenset((key, sents[k][0])))
    return found


def cdist_pipeline(docs: list[tuple[str, str]], options: Options) -> set[frozenset[str]]:
    """rapidfuzz ``process.cdist`` over all sentence pairs (both cores)."""
    keys, norms = [], []
    for key, text in docs:
        for sent in segment(text):
            if len(sent.words) >= options.min_words:
                keys.append(key)
                norms.append(sent.norm)
    found: set[frozenset[str]] = set()
    cut = 100.0 * options.threshold
    step = 2000
    for lo in range(0, len(norms), step):
        block = process.cdist(norms[lo : lo + step], norms, scorer=fuzz.ratio, score_cutoff=cut, workers=-1)
        for i, j in zip(*np.nonzero(block), strict=True):
            if lo + i < j:
                found.add(frozenset((keys[lo + i], keys[j])))
    return found


# --- measurements -----------------------------------------------------------------------------


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn: Callable[[], object]) -> tuple[float, float, object]:
    cpu, wall = _cpu(), time.perf_counter()
    out = fn()
    return time.perf_counter() - wall, _cpu() - cpu, out


def median_ms(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of ``fn`` (CPU time is what contention distorts least)."""
    for _ in range(min(20, runs)):
        fn()
    walls, cpus = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn()
        cpus.append(time.process_time() - c)
        walls.append(time.perf_counter() - t)
    return 1e3 * statistics.median(walls), 1e3 * statistics.median(cpus)


def ours_corpus(path: Path, jobs: int) -> tuple[float, float, float, set[frozenset[str]]]:
    """Run the CLI corpus mode in a subprocess: wall s, CPU s, peak RSS MB (main process), matched pairs."""
    out = path.with_suffix(".out.jsonl")
    cmd = [sys.executable, "-m", "dedup", "corpus", str(path), "-o", str(out), "--quiet", "--no-text"]
    cmd += ["--output-kind", "matches", "--jobs", str(jobs)]
    script = (
        "import resource, subprocess, sys, json; "
        "r = subprocess.run(sys.argv[1:]); "
        "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
        "print(json.dumps([r.returncode, u.ru_maxrss, u.ru_utime + u.ru_stime]))"
    )
    wall = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", script, *cmd], capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - wall
    code, rss_kb, cpu = json.loads(res.stdout.strip().splitlines()[-1])
    if code != 0:
        raise SystemExit(f"corpus mode failed: {res.stderr}")
    found = set()
    with out.open(encoding="utf-8") as fh:
        for line in fh:
            m = json.loads(line)
            found.add(frozenset((m["a"]["key"], m["b"]["key"])))
    out.unlink()
    return wall, cpu, rss_kb / 1024, found


def signature_rates(docs: list[tuple[str, str]], options: Options) -> tuple[float, float]:
    """Paragraphs/s on one core: bare tokenise + shingle, and tokenise + shingle + MinHash + band keys."""
    texts = [t for _, t in docs]

    def shingle_only() -> None:
        for lo in range(0, len(texts), 256):
            sents = [s for t in texts[lo : lo + 256] for s in segment(t)]
            sentence_shingle_hashes(sents, options.shingle_size)

    def with_signatures() -> None:
        bands, rows = lsh_params(options.lsh_threshold, options.num_perm)
        for lo in range(0, len(texts), 256):
            sents = [s for t in texts[lo : lo + 256] for s in segment(t)]
            h, off = sentence_shingle_hashes(sents, options.shingle_size)
            band_keys(signatures(h, off, options.num_perm, options.seed), bands, rows)

    a, _, _ = timed(shingle_only)
    b, _, _ = timed(with_signatures)
    return len(texts) / a, len(texts) / b


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _ms(ours: tuple[float, float], base: tuple[float, float]) -> str:
    return f"{ours[0]:.2f} ms ({base[0] / ours[0]:.2f}×), CPU {ours[1]:.2f} ms ({base[1] / ours[1]:.2f}×)"


def _rate(size: int, wall: float, cpu: float, base: tuple[float, float] | None) -> str:
    """Paragraphs per wall second and per CPU second, each with its ratio to the baseline's."""
    if base is None:
        return f"{size / wall:,.0f}/s, {size / cpu:,.0f}/CPU-s"
    return (
        f"{size / wall:,.0f}/s ({size / wall / base[0]:.2f}×), "
        f"{size / cpu:,.0f}/CPU-s ({size / cpu / base[1]:.2f}×)"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10000,100000", help="corpus sizes in paragraphs (comma-separated)")
    p.add_argument("--runs", type=int, default=300, help="runs for the seed-article medians")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes for corpus mode")
    p.add_argument(
        "--baseline-max", type=int, default=100000, help="largest size for the datasketch baseline"
    )
    p.add_argument("--cdist-max", type=int, default=10000, help="largest size for the cdist baseline")
    p.add_argument(
        "--install-corpus",
        action="store_true",
        help="install the Debian documentation packages the prose corpus is read from (apt-get, as root)",
    )
    args = p.parse_args()
    options = Options()
    sizes = [int(x) for x in args.sizes.split(",") if x]

    # 1. The seed article.
    seed = SEED.read_text(encoding="utf-8")
    seed_doc = [("seed", seed)]
    base_ms = median_ms(lambda: datasketch_pipeline(seed_doc, options), max(20, args.runs // 10))
    cdist_ms = median_ms(lambda: cdist_pipeline(seed_doc, options), args.runs)
    ours_ms = median_ms(lambda: dedup.find_duplicates(seed), args.runs)
    n_sents = len(segment(seed))
    _log(f"seed: datasketch {base_ms}, cdist {cdist_ms}, dedup {ours_ms} (wall, CPU ms)")

    # 2. Corpora.
    pool = prose_pool(max(sizes, default=0), install=args.install_corpus)
    rows: dict[str, dict[int, str]] = {"datasketch": {}, "cdist": {}, "ours": {}, "sig": {}}
    notes = []
    tmp = Path(tempfile.mkdtemp(prefix="dedup-speed-"))
    last_base: tuple[float, float] | None = None  # the largest size's baseline rates
    for size in sizes:
        docs, injected = build_corpus(size, pool)
        path = tmp / f"corpus{size}.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for key, text in docs:
                fh.write(json.dumps({"id": key, "text": text}) + "\n")
        # Ours first: on a busy machine the most important figure should land first.
        o_wall, o_cpu, rss, found = ours_corpus(path, args.jobs)
        o_recall = recall(found, injected)
        _log(
            f"{size}: dedup {size / o_wall:,.0f}/s wall, {size / o_cpu:,.0f}/CPU-s, "
            f"RSS {rss:,.0f} MB, R={o_recall:.3f}"
        )
        base: tuple[float, float] | None = None
        if size <= args.baseline_max:
            wall, cpu, found = timed(lambda docs=docs: datasketch_pipeline(docs, options))  # type: ignore[misc]
            base = (size / wall, size / cpu)
            rss_b = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            got = recall(found, injected)  # type: ignore[arg-type]
            rows["datasketch"][size] = f"{_rate(size, wall, cpu, base)}, RSS≤{rss_b:,.0f} MB, R={got:.3f}"
        else:
            rows["datasketch"][size] = "not run (--baseline-max)"
            if last_base is not None:
                notes.append(
                    f"{size:,} paragraphs: ratios (†) against the baseline's rate at the largest size it ran"
                )
        _log(f"{size}: datasketch {rows['datasketch'][size]}")
        if size <= args.cdist_max:
            wall, cpu, found = timed(lambda docs=docs: cdist_pipeline(docs, options))  # type: ignore[misc]
            got = recall(found, injected)  # type: ignore[arg-type]
            rows["cdist"][size] = f"{_rate(size, wall, cpu, base)}, R={got:.3f}"
        else:
            rows["cdist"][size] = "not run (quadratic; --cdist-max)"
        _log(f"{size}: cdist {rows['cdist'][size]}")
        mark = "" if base is not None or last_base is None else " †"
        ours = _rate(size, o_wall, o_cpu, base or last_base)
        rows["ours"][size] = f"{ours}{mark}, {o_wall:,.1f} s, RSS {rss:,.0f} MB, R={o_recall:.3f}"
        last_base = base or last_base
        shingle_rate, sig_rate = signature_rates(docs[: min(size, 20000)], options)
        rows["sig"][size] = (
            f"shingle {shingle_rate:,.0f}/s, +MinHash+bands {sig_rate:,.0f}/s "
            f"({shingle_rate / sig_rate:.2f}× the floor)"
        )
        path.unlink()
        _log(f"{size}: signatures {rows['sig'][size]}")
    if not sizes:
        notes.append("no corpus sizes")

    print(
        f"seed article ({n_sents} sentences), median of {args.runs} runs; "
        f"corpus: {len(pool):,} distinct prose paragraphs"
    )
    print()
    head = "| pipeline | seed article | " + " | ".join(f"{s:,} paragraphs" for s in sizes) + " |"
    print(head)
    print("|" + "---|" * (2 + len(sizes)))
    print(
        f"| datasketch per sentence + MinHashLSH + rapidfuzz | {_ms(base_ms, base_ms)} | "
        + " | ".join(rows["datasketch"][s] for s in sizes)
        + " |"
    )
    print(
        f"| rapidfuzz cdist, all sentence pairs | {_ms(cdist_ms, base_ms)} | "
        + " | ".join(rows["cdist"][s] for s in sizes)
        + " |"
    )
    print(
        f"| dedup (jobs={args.jobs}) | {_ms(ours_ms, base_ms)} | "
        + " | ".join(rows["ours"][s] for s in sizes)
        + " |"
    )
    print("| dedup signatures, 1 core | | " + " | ".join(rows["sig"][s] for s in sizes) + " |")
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
