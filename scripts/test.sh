#!/usr/bin/env bash
# The whole test suite, from a bare clone with only Python 3.11 and the package registries:
#   1. a virtual environment in .venv-test (override with GENOME_PLUGIN_TEST_VENV) with this package,
#      its test extras, the spliceai weights package and the example third-party plugin (tests/example_plugin);
#   2. ruff check, then pytest over tests/ (slow tests included);
#   3. the Galaxy tool tests on a real Galaxy server and the Tool Shed install check (tool_tests/),
#      which keep Galaxy in its own environment (tool_tests/.venv-galaxy).
# Exits non-zero on any failure. Set GENOME_PLUGIN_SKIP_GALAXY=1 to stop after pytest (local use only).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
VENV=${GENOME_PLUGIN_TEST_VENV:-.venv-test}

"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -c constraints/test.txt -e ".[test,spliceai]" -e tests/example_plugin
"$VENV/bin/ruff" check .   # lint (rules in pyproject.toml; ruff pinned in constraints/test.txt)
if [ "${GENOME_PLUGIN_SKIP_GALAXY:-0}" != "1" ]; then
    # Before pytest, so that its planemo lint / shed_lint / workflow_lint tests run rather than skip.
    bash tool_tests/setup_venv.sh
fi
"$VENV/bin/python" -m pytest

if [ "${GENOME_PLUGIN_SKIP_GALAXY:-0}" != "1" ]; then
    GENOME_PLUGIN_VENV="$(cd "$VENV" && pwd)" bash tool_tests/run_all.sh
fi
