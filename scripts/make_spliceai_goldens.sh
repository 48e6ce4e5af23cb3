#!/usr/bin/env bash
# Make test-data/spliceai_goldens/ with the ORIGINAL spliceai 1.3.1 tool, in a side virtual environment
# (default /tmp/spliceai-orig-venv, override with SPLICEAI_ORIG_VENV). Not part of the test run: the goldens
# are committed, and tests/test_spliceai_goldens.py compares genome-plugin with them in every CI run.
# TensorFlow 2.15 brings Keras 2.15, which loads the package's Keras 2 .h5 models as the tool does, and numpy
# 1.26, under which the tool's np.fromstring still works (so the tool runs unpatched). pkg_resources (used by
# the tool) comes from setuptools < 81.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
VENV=${SPLICEAI_ORIG_VENV:-/tmp/spliceai-orig-venv}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q "spliceai==1.3.1" "tensorflow-cpu==2.15.1" "setuptools<81"
exec "$VENV/bin/python" scripts/make_spliceai_goldens.py "$@"
