#!/usr/bin/env python3
"""Run a command and report the peak memory of its whole process tree (all MPI ranks).

    scripts/peak_memory.py --until "micro-batch 1/" --seconds 900 -- scripts/mpirun.sh -n 8 ...

Prints the command's output with elapsed seconds and the summed resident memory at that
moment, samples the summed resident memory of the command and every descendant twice a
second (five times with --interval 0.2), and stops the command (SIGKILL to its process
group) when a line contains --until or after --seconds. Ends with one summary line.
"""
import argparse
import os
import select
import signal
import subprocess
import sys
import time


def children(pid):
    result = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    result.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return result


def descendants(root):
    """root and every process below it, parents first."""
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children(pid))
    return found


def tree_rss(root):
    total = 0
    for pid in descendants(root):
        try:
            with open(f"/proc/{pid}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--until", default=None)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    arguments = parser.parse_args()
    command = arguments.command[1:] if arguments.command[:1] == ["--"] else arguments.command
    start = time.time()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    peak, first_output, matched = 0, None, None
    buffer = b""
    while True:
        now = tree_rss(process.pid)
        peak = max(peak, now)
        ready, _, _ = select.select([process.stdout], [], [], arguments.interval)
        if ready:
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk and process.poll() is not None:
                break
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                text = line.decode(errors="replace")
                elapsed = time.time() - start
                print(f"[{elapsed:7.1f}s {now / 2**30:6.2f} GiB, peak {peak / 2**30:6.2f}] {text}", flush=True)
                if text.startswith("step") and first_output is None:
                    first_output = elapsed
                if arguments.until and arguments.until in text:
                    matched = elapsed
        if matched is not None or time.time() - start > arguments.seconds or process.poll() is not None:
            break
    peak = max(peak, tree_rss(process.pid))
    # scripts/mpirun.sh runs mpirun in a session of its own, so killing this command's
    # process group would leave the ranks running: every descendant is killed by pid.
    for pid in descendants(process.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    print(f"peak memory of all processes: {peak / 2**30:.2f} GiB; first progress line after "
          f"{first_output if first_output is not None else float('nan'):.1f} s; "
          f"'{arguments.until}' after {matched if matched is not None else float('nan'):.1f} s", flush=True)


if __name__ == "__main__":
    main()
