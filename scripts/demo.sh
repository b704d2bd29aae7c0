#!/usr/bin/env bash
# The demo: build, train configs/tiny.yaml on 4 ranks (tp 2 × dp 2) on the built-in
# default corpus, stop it half-way (a checkpoint is saved), resume it with the same command,
# and plot the perplexity curves. Installs what it needs first. Ends by printing the plot.
# It trains without retrieval augmentation: tiny's 128-token blocks cannot hold a query
# and three retrieved documents. scripts/compare_retrieval.sh trains configs/small.yaml
# with and without it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
python3 -c "import matplotlib" 2>/dev/null || python3 -m pip install -q matplotlib
swift build -c release

run=runs/demo
rm -rf "$run"
train=(scripts/mpirun.sh -n 4 .build/release/launch train --config configs/tiny.yaml --tp 2 --run "$run"
       --set train.steps=600 --set train.eval_interval=50 --set train.save_interval=100)
echo "== training (retrieval off: 128 tokens cannot hold four documents; see scripts/compare_retrieval.sh), stopping after 300 steps"
"${train[@]}" --stop-after 300
echo "== resuming from the checkpoint"
"${train[@]}"
scripts/plot_ppl.py "$run" --out "$run/ppl.png"
