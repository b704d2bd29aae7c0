#!/usr/bin/env bash
# Installs the system libraries Tessera links (Debian/Ubuntu), once, and exports the
# OpenBLAS core type this CPU supports. Sourced by the other scripts.
set -euo pipefail

need=()
for package in libopenmpi-dev openmpi-bin libopenblas-dev libhdf5-dev pkg-config; do
  dpkg -s "$package" >/dev/null 2>&1 || need+=("$package")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Debian's OpenBLAS 0.3.21 mistakes recent Xeons for Prescott (sgemm ~6x slow). `launch`
# fixes this itself by re-exec; exporting it here also speeds up the test process.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  if grep -qw avx512f /proc/cpuinfo && grep -qw avx512bw /proc/cpuinfo; then
    export OPENBLAS_CORETYPE=SkylakeX
  elif grep -qw avx2 /proc/cpuinfo; then
    export OPENBLAS_CORETYPE=Haswell
  fi
fi
