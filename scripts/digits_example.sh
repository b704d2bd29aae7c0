#!/usr/bin/env bash
# The README's worked example: scikit-learn's handwritten digits, from raw data to scored
# generations and a picture, through the commands a user with their own data runs.
#
#   scripts/digits_example.sh [DIR]        # default runs/digits; about 8 minutes on 2 cores
#
# Needs the built launch binary (swift build -c release) and pip install scikit-learn
# matplotlib tokenizers. Every step prints what it does; the numbers the README quotes are
# the eval and score lines at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-runs/digits}"
launch=.build/release/launch
steps="${DIGITS_STEPS:-3000}"
step() { printf '\n== %s\n' "$*"; }

step "1. the digits as captioned images (17 intensities = 17 image codes, 64 per image)"
python3 scripts/digits_data.py documents --out "$dir"

step "2. a byte-level BPE tokenizer for the captions"
tokenizer_report="$(python3 scripts/train_tokenizer.py --input "$dir/captions.txt" --out "$dir/tokenizer.json" \
  --vocab-size 320 --image-codes 17 2>/dev/null)"
echo "$tokenizer_report"
text_vocab="$(sed -n 's/^  text_vocab: //p' <<<"$tokenizer_report")"

step "3. the config (data paths relative to its own folder)"
cat >"$dir/config.yaml" <<EOF
# Written by scripts/digits_example.sh: a small model for the 8 × 8 digits.
model:
  vocab_size: $((text_vocab + 17))   # $text_vocab text ids + 17 image codes
  d_model: 128
  layers: 4
  heads: 4
  ffn: 512
  seq_len: 80          # one document: caption, <break>, 64 codes, <eos>, and the CM3 mask
train:
  micro_batch: 14      # × 2 ranks: 28 documents a step
  steps: $steps
  seed: 0
  log_interval: 100
  eval_interval: 300
  save_interval: 600
optim:
  peak_lr: 3.0e-3
  warmup: 100
data:
  train: shards/train-00000.h5
  validation: shards/validation-00000.h5
  tokenizer: tokenizer.json
  text_vocab: $text_vocab
  image_tokens: 64
  retrieval: false
  # One document per block: packed, a caption could end one block and its image start the next.
  block_per_example: true
EOF
cat "$dir/config.yaml"

step "4. shards, with a seeded tenth held out for validation"
rm -rf "$dir/shards"
"$launch" prepare --config "$dir/config.yaml" --from-jsonl "$dir/documents.jsonl" --out "$dir/shards" \
  --validation-fraction 0.1

step "5. training on 2 ranks"
rm -rf "$dir/run"
scripts/mpirun.sh -n 2 "$launch" train --config "$dir/config.yaml" --run "$dir/run"
checkpoint="$(ls "$dir"/run/checkpoints/step-*.h5 | tail -1)"

step "6. held-out loss: every validation document once"
"$launch" eval --config "$dir/config.yaml" --checkpoint "$checkpoint"

step "7. generation on the held-out documents: image → caption (exact), caption → image"
"$launch" eval --config "$dir/config.yaml" --checkpoint "$checkpoint" --task image-to-text \
  --documents 1000 --generations "$dir/image-to-text.jsonl"
"$launch" eval --config "$dir/config.yaml" --checkpoint "$checkpoint" --task text-to-image \
  --documents 1000 --generations "$dir/text-to-image.jsonl"
python3 scripts/digits_data.py score --generations "$dir/text-to-image.jsonl"

step "8. 32 drawings of each caption, all in one process, scored, and a picture of 8 of each"
"$launch" generate --config "$dir/config.yaml" --checkpoint "$checkpoint" --mode image \
  --prompts "$dir/prompts.jsonl" --out "$dir/drawn.jsonl" --samples 32 --cfg 3 --temperature 1 --top-p 0.9 \
  --batch 64
python3 scripts/digits_data.py score --generations "$dir/drawn.jsonl"
python3 scripts/digits_data.py grid --drawn "$dir/drawn.jsonl" --out "$dir/digits.png" \
  --title "samples for each caption, CFG 3, top-p 0.9"
"$launch" generate --config "$dir/config.yaml" --checkpoint "$checkpoint" --mode image \
  --prompt "a handwritten digit seven" --samples 8 --cfg 3 --top-p 0.9 --out "$dir/sevens.png"

step "9. fine-tuning on two task templates of the digits' own text (data.tasks), then scoring them"
rm -rf "$dir/sft"
scripts/mpirun.sh -n 2 "$launch" train --config "$dir/config.yaml" --run "$dir/sft" --init-from "$checkpoint" \
  --set data.tasks="$dir/tasks.yaml" --set train.steps=600 --set optim.peak_lr=1.0e-3 --set optim.warmup=50
tuned="$(ls "$dir"/sft/checkpoints/step-*.h5 | tail -1)"
for task in name-the-digit draw-the-digit; do
  "$launch" eval --config "$dir/config.yaml" --set data.tasks="$dir/tasks.yaml" --checkpoint "$checkpoint" \
    --task "$task" --documents 1000 --generations "$dir/$task-before.jsonl" | sed "s/^/before: /"
  "$launch" eval --config "$dir/config.yaml" --set data.tasks="$dir/tasks.yaml" --checkpoint "$tuned" \
    --task "$task" --documents 1000 --generations "$dir/$task-after.jsonl" | sed "s/^/after:  /"
done
python3 scripts/digits_data.py score --generations "$dir/draw-the-digit-after.jsonl"
