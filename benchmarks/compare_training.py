#!/usr/bin/env python3
"""Training speed of Tessera (`launch bench`) against the same model in PyTorch
(benchmarks/train_reference.py), interleaved in one run on the same shapes, threads and CPU.

    pip install torch
    benchmarks/compare_training.py [--shapes d256-l4,d512-l8,350m-slice] [--steps 5] [--rounds 2]
                                   [--data-parallel tiny]

Each round runs PyTorch, then Tessera, for every shape; then, for each `--data-parallel`
shape, both again as 2 ranks of 1 thread each (`train_reference.py --ranks 2` with gloo
DDP, and `launch bench --dp 2` under scripts/mpirun.sh), the layout a small model uses on
2 cores. Those rows count the 2 ranks' tokens and rank 0's memory, against 2 × the
one-thread sgemm rate. A row's steps from all rounds are pooled.

Prints one markdown table: median and best tokens/s for both, the ratios (median against
median, best against best), peak memory, and Tessera's share of the same-run sgemm rate,
with the CPU and the OpenBLAS kernel named, and the spread of that sgemm rate between runs
(a shared machine can slow down for minutes).

The last column is the ceiling: the ratio Tessera would reach if its whole step ran at the
same-run sgemm rate, that is sgemm over PyTorch's FLOP/s. A ratio target above it cannot be
met with products no faster than that sgemm.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def last_json(text):
    return json.loads([line for line in text.splitlines() if line.startswith("{")][-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", default="d256-l4,d512-l8,350m-slice")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--launch", default=".build/release/launch")
    parser.add_argument("--data-parallel", default="d256-l4", help="shapes also run as 2 ranks × 1 thread (empty: none)")
    args = parser.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    shapes = args.shapes.split(",")
    # (row label, shape, PyTorch command, Tessera command)
    rows = [(shape, shape,
             ["--threads", str(args.threads)],
             [args.launch, "bench", "--shape", shape]) for shape in shapes]
    rows += [(f"{shape}, dp 2 × 1 thread", shape,
              ["--threads", "1", "--ranks", "2"],
              [os.path.join(root, "scripts", "mpirun.sh"), "-n", "2", args.launch, "bench", "--shape", shape, "--dp", "2"])
             for shape in filter(None, args.data_parallel.split(","))]
    runs = {label: {"torch": [], "tessera": []} for label, *_ in rows}
    for round_index in range(args.rounds):
        for label, shape, torch_flags, tessera_command in rows:
            print(f"round {round_index + 1}/{args.rounds}, {label}: PyTorch …", file=sys.stderr, flush=True)
            torch_run = subprocess.run([sys.executable, os.path.join(here, "train_reference.py"), "--shape", shape,
                                        "--steps", str(args.steps)] + torch_flags,
                                       check=True, capture_output=True, text=True)
            runs[label]["torch"].append(last_json(torch_run.stdout))
            print(f"round {round_index + 1}/{args.rounds}, {label}: Tessera …", file=sys.stderr, flush=True)
            tessera_run = subprocess.run(tessera_command + ["--steps", str(args.steps), "--json"],
                                         check=True, capture_output=True, text=True)
            runs[label]["tessera"].append(last_json(tessera_run.stdout))

    torch_version = runs[shapes[0]]["torch"][0]["engine"]
    kernel = runs[shapes[0]]["tessera"][0]["kernel"]
    print(f"{cpu_name()}, {os.cpu_count()} cores; {torch_version} with {args.threads} threads "
          f"(fused AdamW: {runs[shapes[0]]['torch'][0]['fused_adamw']}); Tessera with OpenBLAS {kernel} kernels; "
          f"{args.rounds} interleaved rounds of {args.steps} timed steps after a warm-up step")
    print()
    print("| shape | PyTorch tok/s, median / best | Tessera tok/s, median / best | ratio, median / best | peak memory, PyTorch / Tessera | Tessera % of same-run sgemm, median / best | PyTorch % of it, median / best | ceiling ratio, median / best |")
    print("|---|---|---|---|---|---|---|---|")
    for label, *_ in rows:
        row = {}
        for engine in ("torch", "tessera"):
            results = runs[label][engine]
            tokens = results[0]["tokens_per_step"]
            seconds = [s for result in results for s in result["seconds"]]
            row[engine] = (tokens / statistics.median(seconds), tokens / min(seconds), max(r["peak_rss_bytes"] for r in results) / 2**30)
        tessera = runs[label]["tessera"]
        # The better rate, as `launch bench` reports it; each dp rank measured its own cores' share.
        sgemm = max(r["sgemm_gflops"] * r["dp"] for r in tessera)
        gflop_per_token = tessera[0]["flops_per_token"] / 1e9
        (tm, tb, tmem), (sm, sb, smem) = row["torch"], row["tessera"]
        share = lambda tokens_per_s: tokens_per_s * gflop_per_token / sgemm  # of the same-run sgemm rate
        print(f"| {label} | {tm:.0f} / {tb:.0f} | {sm:.0f} / {sb:.0f} | **{sm / tm:.2f}× / {sb / tb:.2f}×** | "
              f"{tmem:.2f} / {smem:.2f} GiB | {100 * share(sm):.0f}% / {100 * share(sb):.0f}% | "
              f"{100 * share(tm):.0f}% / {100 * share(tb):.0f}% | {1 / share(tm):.2f}× / {1 / share(tb):.2f}× |")
    # A shared machine can slow down for minutes at a time; a wide spread of the sgemm rate
    # between Tessera's runs says the rounds did not all see the same machine.
    rates = [r["sgemm_gflops"] * r["dp"] for label, *_ in rows for r in runs[label]["tessera"]]
    print()
    print(f"same-run sgemm over Tessera's {len(rates)} runs: {min(rates):.0f}–{max(rates):.0f} GFLOP/s"
          + (" (more than 20% apart: the machine's speed changed during this run)" if max(rates) > 1.2 * min(rates) else ""))


if __name__ == "__main__":
    main()
