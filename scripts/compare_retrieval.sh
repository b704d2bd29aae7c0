#!/usr/bin/env bash
# Trains configs/small.yaml twice on the built-in corpus, with retrieval augmentation (the
# config's default) and without, for the same steps and tokens, then prints validation
# perplexity on held-out lone documents (the zero-shot setting: no retrieval at
# evaluation) and plots both runs. Usage: scripts/compare_retrieval.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/compare-retrieval}
swift build -c release --product launch
for retrieval in true false; do
    rm -rf "$out/retrieval-$retrieval"
    echo "== configs/small.yaml, data.retrieval=$retrieval"
    .build/release/launch train --config configs/small.yaml --run "$out/retrieval-$retrieval" --set "data.retrieval=$retrieval"
done
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
def validation(run):
    lines = [json.loads(l) for l in open(f"{out}/{run}/metrics.jsonl") if l.strip()]
    return {m["step"]: m["val_ppl"] for m in lines if "val_ppl" in m}
on, off = validation("retrieval-true"), validation("retrieval-false")
print("| step | val ppl, retrieval on | val ppl, retrieval off |")
print("|---|---|---|")
for step in sorted(on):
    print(f"| {step} | {on[step]:.3f} | {off.get(step, float('nan')):.3f} |")
PY
python3 -c "import matplotlib" 2>/dev/null || python3 -m pip install -q matplotlib
scripts/plot_ppl.py "$out/retrieval-true" "$out/retrieval-false" --out "$out/ppl.png"
echo "plot: $out/ppl.png"
