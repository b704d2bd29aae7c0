#!/usr/bin/env bash
# Prompts per second: many prompts in one `launch generate --prompts` process against one
# process per prompt (what a user without --prompts had to do), on the same checkpoint and
# decoding settings, measured in the same run.
#
#   benchmarks/prompts_throughput.sh CONFIG CHECKPOINT PROMPTS.jsonl [BATCH] [-- generate options]
#
# e.g. after scripts/digits_example.sh:
#   benchmarks/prompts_throughput.sh runs/digits/config.yaml runs/digits/run/checkpoints/step-00003000.h5 \
#       runs/digits/prompts.jsonl 64 -- --mode image --samples 4 --cfg 3 --top-p 0.9
set -euo pipefail
cd "$(dirname "$0")/.."
config="$1" checkpoint="$2" prompts="$3" batch="${4:-64}"
shift 3; [ $# -gt 0 ] && [ "$1" != "--" ] && shift; [ "${1:-}" = "--" ] && shift
options=("$@")
launch=.build/release/launch
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
count="$(grep -c . "$prompts")"

start=$(date +%s.%N)
"$launch" generate --config "$config" --checkpoint "$checkpoint" --prompts "$prompts" --out "$work/all.jsonl" \
  --batch "$batch" "${options[@]}" >/dev/null
one_process=$(echo "$(date +%s.%N) - $start" | bc)

start=$(date +%s.%N)
while IFS= read -r line; do
  [ -n "$line" ] || continue
  printf '%s\n' "$line" >"$work/one.jsonl"
  "$launch" generate --config "$config" --checkpoint "$checkpoint" --prompts "$work/one.jsonl" \
    --out "$work/one-out.jsonl" --batch "$batch" "${options[@]}" >/dev/null
done <"$prompts"
per_prompt=$(echo "$(date +%s.%N) - $start" | bc)

printf '%s prompts (%s)\n' "$count" "${options[*]}"
printf 'one process, batch %s:   %6.2f s  %7.2f prompts/s\n' "$batch" "$one_process" "$(echo "$count / $one_process" | bc -l)"
printf 'one process per prompt: %6.2f s  %7.2f prompts/s\n' "$per_prompt" "$(echo "$count / $per_prompt" | bc -l)"
printf 'ratio: %.1fx\n' "$(echo "$per_prompt / $one_process" | bc -l)"
