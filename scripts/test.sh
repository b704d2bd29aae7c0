#!/usr/bin/env bash
# Runs the whole test suite, optimised (the gradient checks and training tests are slow
# unoptimised). Installs the system libraries first if they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
exec swift test -c release --disable-swift-testing "$@"
