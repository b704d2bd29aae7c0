#!/usr/bin/env bash
# The house style, checked: swift-format (the toolchain's; its settings are .swift-format)
# finds nothing to change, and no line reaches 120 characters (string literals included,
# which swift-format cannot break). Fix with `swift format format -i -r Sources Tests Package.swift`.
set -euo pipefail
cd "$(dirname "$0")/.."
swift format lint --strict -r --configuration .swift-format Sources Tests Package.swift
if LC_ALL=C.UTF-8 grep -rnP --include='*.swift' '^.{120,}' Sources Tests Package.swift; then
  echo "error: the lines above are 120 characters or longer" >&2
  exit 1
fi
