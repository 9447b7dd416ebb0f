#!/usr/bin/env bash
# CI for the Beam extra: its own virtual environment (apache-beam pins numpy and
# protobuf versions of its own), the package with the test and beam extras, and
# the Beam tests, which fail instead of skipping when Beam is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .ci-venv-beam
.ci-venv-beam/bin/python -m pip install --quiet --upgrade pip
.ci-venv-beam/bin/python -m pip install --quiet -e ".[test,beam]"
MMRECORD_REQUIRE=beam .ci-venv-beam/bin/python -m pytest tests/test_beam.py
