#!/usr/bin/env bash
# The launcher users call: scripts/mpirun.sh -n 8 .build/release/launch --config configs/760m.yaml
#
# Adds what this kind of machine needs and passes everything else to mpirun:
#   - OPENBLAS_CORETYPE where Debian's OpenBLAS would pick slow kernels (asked of `launch openblas`);
#   - BLAS threads per rank: 1 when ranks >= cores, cores / ranks otherwise;
#   - --oversubscribe when ranks > cores; --allow-run-as-root when run as root.
set -euo pipefail

ranks=1
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    -n|-np|--np|-c) ranks="${args[$((i + 1))]}" ;;
    -n=*|--np=*) ranks="${args[$i]#*=}" ;;
  esac
done
cores=$(nproc)

# The kernels `launch` would choose, for whatever binary runs (parallel-checks too).
source "$(dirname "$0")/setup.sh"
export_openblas_coretype "$(dirname "$0")/../.build/release/launch"
if [ "$ranks" -ge "$cores" ]; then threads=1; else threads=$((cores / ranks)); fi

flags=(-x "OPENBLAS_NUM_THREADS=$threads")
[ -n "${OPENBLAS_CORETYPE:-}" ] && flags+=(-x OPENBLAS_CORETYPE)
[ "$ranks" -gt "$cores" ] && flags+=(--oversubscribe)
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)

exec mpirun "${flags[@]}" "$@"
