#!/usr/bin/env bash
# Installs the system libraries Tessera links (Debian/Ubuntu), once. Sourced by the other
# scripts.
set -euo pipefail

need=()
for package in libopenmpi-dev openmpi-bin libopenblas-dev libhdf5-openmpi-dev pkg-config; do
  # Only "install ok installed" counts: a removed package whose config files remain ("rc")
  # still satisfies `dpkg -s` but has no headers or binaries.
  installed=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [ "$installed" = "install ok installed" ] || need+=("$package")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Gives this shell's children the OpenBLAS kernels `launch` chooses for this CPU (it sets
# OPENBLAS_CORETYPE only where Debian's OpenBLAS 0.3.21 would fall back to slow SSE
# kernels). `launch openblas` is the one place that decides; call after building it.
export_openblas_coretype() {
  local launch="$1" coretype
  [ -n "${OPENBLAS_CORETYPE:-}" ] && return 0
  [ -x "$launch" ] || return 0
  coretype="$("$launch" openblas --coretype)"
  if [ -n "$coretype" ]; then export OPENBLAS_CORETYPE="$coretype"; fi
  return 0
}
