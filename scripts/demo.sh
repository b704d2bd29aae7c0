#!/usr/bin/env bash
# Builds Tessera and trains configs/tiny.yaml. Installs the system libraries first if
# they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release
exec .build/release/launch train --config configs/tiny.yaml "$@"
