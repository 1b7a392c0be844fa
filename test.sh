#!/usr/bin/env bash
# Runs the whole test suite (needs root for the network-namespace tests). Run setup.sh first.
set -euo pipefail
cd "$(dirname "$0")"
exec .venv/bin/python -m pytest -q "$@"
