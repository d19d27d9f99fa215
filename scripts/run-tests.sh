#!/usr/bin/env bash
# Runs the whole test suite (GoogleTest cases discovered into ctest, one process each).
#   scripts/run-tests.sh [--asan]
set -euo pipefail
cd "$(dirname "$0")/.."
preset=default
[[ "${1:-}" == "--asan" ]] && preset=asan
ctest --preset "$preset" -j"$(nproc)"
