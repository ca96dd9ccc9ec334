#!/usr/bin/env bash
# Install everything the test suite needs, then run all of it: lint, types, tests.
# This is the README's test command; .ci/run runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"

# System packages that real components in the tests need (we are root in CI).
need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v java >/dev/null 2>&1 || need_apt+=(default-jre-headless)  # Spark tests (dedup.spark)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)  # renders the HTML report (test_report_browser)
command -v gcc >/dev/null 2>&1 || need_apt+=(gcc)  # builds the compiled layer (the Cython modules)
if [ ${#need_apt[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq "${need_apt[@]}" >/dev/null
    else
        echo "warning: cannot install ${need_apt[*]} (no apt-get); tests that need them will be skipped" >&2
    fi
fi

"$PY" -m pip install --quiet --disable-pip-version-check -e '.[test]'

"$PY" -m ruff check dedup tests benchmarks examples
"$PY" -m ruff format --check dedup tests benchmarks examples
"$PY" -m mypy
# The compiled layer is optional for users (no compiler: pure-Python fallback), not for CI.
DEDUP_REQUIRE_COMPILED=1 "$PY" -m pytest "$@"

# Once more with the compiled layer switched off (the regex tokeniser, the numpy sketch code, the
# reference verification rules: what an install without a C compiler runs), on the tests of every stage and front end that run in about a
# minute, so the fallback cannot rot. The differential tests of the compiled layer skip themselves here.
fallback_tests=(
    dedup README.md
    tests/test_seed.py tests/test_behaviour.py tests/test_properties.py tests/test_errors.py tests/test_strip.py
    tests/text/test_segment_wrap.py tests/sketch/test_sketch.py tests/verify/test_batchverify.py
    tests/cluster/test_table.py tests/cluster/test_cluster_model.py
    tests/index/test_index.py tests/index/test_persist.py tests/index/test_redis.py
    tests/corpus/test_corpus.py tests/cli/test_cli.py tests/present/test_display.py
    tests/present/test_output_schema.py tests/contrib/test_scrapy_pipeline.py tests/test_short_copies.py
)
echo "fallback pass: DEDUP_PURE_PYTHON=1 on ${fallback_tests[*]}"
DEDUP_PURE_PYTHON=1 DEDUP_REQUIRE_COMPILED=0 "$PY" -m pytest -q "${fallback_tests[@]}"
