#!/usr/bin/env bash
# A Python virtual environment with safetensors and numpy, for the test that loads
# mimic's saved models in Python (tests/persist_python.rs). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/py
if ! "$venv/bin/python" -c "import safetensors.numpy, numpy" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check safetensors numpy
fi
"$venv/bin/python" -c "import safetensors, numpy; print('python venv: safetensors', safetensors.__version__, 'numpy', numpy.__version__)"
