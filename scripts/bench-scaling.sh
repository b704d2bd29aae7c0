#!/usr/bin/env bash
# Data-parallel scaling on this machine: `launch bench --shape SHAPE` on 1 rank with 1 BLAS
# thread, then on 2 ranks as (tp, dp) = (1, 2), in one invocation. Prints both median rates and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
shape="${1:-small}"
steps="${2:-5}"
launch=.build/release/launch

one=$(OPENBLAS_NUM_THREADS=1 "$launch" bench --shape "$shape" --steps "$steps" | tee /dev/stderr | grep '^shape')
two=$(scripts/mpirun.sh -n 2 "$launch" bench --shape "$shape" --steps "$steps" --tp 1 --dp 2 | tee /dev/stderr | grep '^shape')
rate() { sed -E 's/.* median [0-9.]+ s\/step = ([0-9.]+) tokens\/s.*/\1/' <<<"$1"; }
r1=$(rate "$one"); r2=$(rate "$two")
echo "1 rank × 1 thread: $r1 tokens/s"
echo "2 ranks (tp 1, dp 2): $r2 tokens/s"
awk -v a="$r1" -v b="$r2" 'BEGIN { printf "speed-up: %.2fx\n", b / a }'
