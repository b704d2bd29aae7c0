#!/usr/bin/env bash
# Peak memory, save and load of the big configs on 8 ranks, as issue 27 asks:
#   benchmarks/checkpoint_scale.sh 760m    # configs/760m.yaml at seq 4096, tp 8: steps 0-1, save, resume, step 2, save
#   benchmarks/checkpoint_scale.sh 7b      # a 7b slice (2 layers) at tp 8: one step, save; resume as tp 4 × dp 2 with ZeRO-1
# Each run goes through scripts/peak_memory.py, which prints every line with the summed
# resident memory of all ranks at that moment (sampled every 0.2 s) and the peak so far.
# The `saved` and `resumed from` lines carry the save and load time and the bytes rank 0
# and all ranks wrote or read. Runs go to runs/scale-*; they are deleted first.
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-760m}"
launch=.build/release/launch
measure=(python3 scripts/peak_memory.py --interval 0.2 --seconds 3000 --)
common=(--set train.validate_at_start=false --set data.retrieval=false --set train.log_interval=1)
case "$which" in
  760m)
    run=runs/scale-760m
    rm -rf "$run"
    args=(train --config configs/760m.yaml --run "$run" --set train.batch_tokens=4096 "${common[@]}")
    echo "== 760m, 8 ranks (tp 8), seq 4096: steps 0 and 1, then the save"
    "${measure[@]}" scripts/mpirun.sh -n 8 "$launch" "${args[@]}" --stop-after 2
    echo "== 760m: resume, step 2, save"
    "${measure[@]}" scripts/mpirun.sh -n 8 "$launch" "${args[@]}" --stop-after 1
    ;;
  7b)
    run=runs/scale-7b
    rm -rf "$run" "$run-tp4"
    # Two sequences per step, so that tp 4 × dp 2 keeps the global batch.
    args=(train --config configs/7b.yaml --set model.layers=2 --set train.batch_tokens=8192 "${common[@]}")
    echo "== 7b slice (d 4096, 32 heads, 2 layers, vocab 64512, seq 4096), 8 ranks as tp 8: one step, save"
    "${measure[@]}" scripts/mpirun.sh -n 8 "$launch" "${args[@]}" --run "$run" --tp 8 --stop-after 1
    echo "== 7b slice: resume as tp 4 × dp 2 with ZeRO-1, one step, save"
    "${measure[@]}" scripts/mpirun.sh -n 8 "$launch" "${args[@]}" --run "$run-tp4" --tp 4 \
      --set parallel.distributed_optimizer=true --resume "$run/checkpoints/step-00000001.h5" --stop-after 1
    ;;
  *) echo "usage: $0 760m|7b" >&2; exit 2 ;;
esac
