#!/usr/bin/env bash
# Runs the whole test suite, optimised (the gradient checks and training tests are slow
# unoptimised). Installs the system libraries first if they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# The house style first: it takes seconds, the suite minutes.
bash scripts/check-format.sh
# The test process loads OpenBLAS itself, so it takes the core type `launch` would use.
swift build -c release --product launch
export_openblas_coretype .build/release/launch
echo "OpenBLAS: $(.build/release/launch openblas | tr '\n' ';')"
exec swift test -c release --disable-swift-testing "$@"
