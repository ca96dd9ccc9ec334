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
command -v gcc >/dev/null 2>&1 || need_apt+=(gcc)  # builds the compiled layer (Cython modules, dedup/_ckernels.c)
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
# The compiled tokeniser is optional for users (no compiler: pure-Python fallback), not for CI.
export DEDUP_REQUIRE_COMPILED=1
"$PY" -m pytest "$@"
