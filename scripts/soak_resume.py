#!/usr/bin/env python3
"""Soak test of stop, kill and resume: interrupt a tp 2 x dp 2 run of configs/tiny.yaml many
times at random moments, resume it each time with the same command, and check that its
losses equal an uninterrupted run's, bit for bit.

    scripts/soak_resume.py [--trials 20] [--seed 1] [--steps 60]

Each interruption is one of: SIGKILL to a random rank, SIGKILL to mpirun, or SIGUSR1 to
mpirun (the graceful stop). Prints one line per trial and ends with 'N passed, M failed'.
Needs a release build (swift build -c release) and mpirun.
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from peak_memory import children  # the ranks mpirun started (same folder)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCH = os.path.join(ROOT, ".build", "release", "launch")


def command(run_dir, steps):
    return ["mpirun", "--allow-run-as-root", "--oversubscribe", "-x", "OPENBLAS_NUM_THREADS=1", "-n", "4", LAUNCH,
            "train", "--config", os.path.join(ROOT, "configs", "tiny.yaml"), "--tp", "2", "--run", run_dir,
            "--set", f"train.steps={steps}", "--set", "train.save_interval=5", "--set", "train.eval_interval=0"]


def losses(run_dir):
    with open(os.path.join(run_dir, "metrics.jsonl")) as handle:
        lines = [json.loads(line) for line in handle if line.strip()]
    return {line["step"]: line["loss"] for line in lines if "loss" in line}


def interrupted_run(run_dir, steps, rng):
    """Runs to the end, interrupting at random; returns how it was interrupted."""
    events = []
    while True:
        job = subprocess.Popen(command(run_dir, steps), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + rng.uniform(0.5, 4.0)
        while job.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        if job.poll() is not None:
            if job.returncode != 0:
                raise RuntimeError(f"run exited {job.returncode} after {events}")
            return events
        kind = rng.choice(["kill-rank", "kill-mpirun", "usr1"])
        ranks = children(job.pid)
        if kind == "kill-rank" and ranks:
            os.kill(rng.choice(ranks), signal.SIGKILL)
        elif kind == "usr1":
            job.send_signal(signal.SIGUSR1)
        else:
            job.kill()
            for rank in ranks:
                try:
                    os.kill(rank, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        job.wait()
        events.append(kind)
        if len(events) > 50:
            raise RuntimeError("no progress after 50 interruptions")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--steps", type=int, default=60)
    arguments = parser.parse_args()
    if not os.access(LAUNCH, os.X_OK):
        sys.exit(f"error: {LAUNCH} is missing: run swift build -c release first")
    rng = random.Random(arguments.seed)
    work = tempfile.mkdtemp(prefix="tessera-soak-")
    try:
        reference_dir = os.path.join(work, "reference")
        subprocess.run(command(reference_dir, arguments.steps), check=True, stdout=subprocess.DEVNULL)
        reference = losses(reference_dir)
        passed = failed = 0
        for trial in range(arguments.trials):
            run_dir = os.path.join(work, f"trial-{trial}")
            try:
                events = interrupted_run(run_dir, arguments.steps, rng)
                same = losses(run_dir) == reference
            except (RuntimeError, OSError, ValueError) as error:
                events, same = [str(error)], False
            passed, failed = passed + same, failed + (not same)
            print(f"trial {trial + 1}/{arguments.trials}: {len(events)} interruptions {events}: "
                  + ("losses identical" if same else "LOSSES DIFFER"), flush=True)
            shutil.rmtree(run_dir, ignore_errors=True)
        print(f"{passed} passed, {failed} failed")
        sys.exit(1 if failed else 0)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
