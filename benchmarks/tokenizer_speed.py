#!/usr/bin/env python3
"""Encoding speed of Tessera's byte-level BPE (`launch tokenize --bench`) beside Hugging Face
`tokenizers` on the same file and tokenizer.json, in the same run.

    pip install tokenizers
    benchmarks/tokenizer_speed.py --tokenizer Tests/Fixtures/tokenizer/tokenizer.json [--input FILE | --megabytes 20]
    benchmarks/tokenizer_speed.py --tokenizer Tests/Fixtures/tokenizer/tokenizer.json --long-word 100

With --long-word KB, the input is one word of KB kilobytes of random lowercase letters and
no spaces, the worst case of BPE's merge loop, and both sides encode it once.

Without --input, writes a text file of the test fixture's kind of lines (English, code,
digits, several scripts, emoji). Hugging Face is timed one line at a time on one thread
(`encode`), as Tessera runs, and batched over all threads (`encode_batch`).
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--input")
    parser.add_argument("--megabytes", type=float, default=20)
    parser.add_argument("--launch", default=".build/release/launch")
    parser.add_argument("--long-word", type=float, help="time one word of this many kB instead")
    args = parser.parse_args()
    from tokenizers import Tokenizer
    import make_tokenizer_fixture

    path = args.input
    if args.long_word:
        rng = random.Random(5)
        handle = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8")
        handle.write("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(int(args.long_word * 1000))))
        handle.close()
        path = handle.name
    if path is None:
        rng = random.Random(3)
        handle = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8")
        written = 0
        while written < args.megabytes * 1e6:
            line = make_tokenizer_fixture.line(rng) + "\n"
            handle.write(line)
            written += len(line.encode())
        handle.close()
        path = handle.name
    lines = open(path, encoding="utf-8").read().split("\n")
    size = sum(len(line.encode()) for line in lines)

    swift = json.loads(subprocess.run([args.launch, "tokenize", "--tokenizer", args.tokenizer, "--bench", path],
                                      check=True, capture_output=True, text=True).stdout)
    tokenizer = Tokenizer.from_file(args.tokenizer)
    start = time.perf_counter()
    single = [tokenizer.encode(line, add_special_tokens=False).ids for line in lines]
    single_seconds = time.perf_counter() - start
    start = time.perf_counter()
    batch = tokenizer.encode_batch(lines, add_special_tokens=False)
    batch_seconds = time.perf_counter() - start
    tokens = sum(len(ids) for ids in single)
    assert tokens == swift["tokens"], f"token counts differ: tokenizers {tokens}, Tessera {swift['tokens']}"
    assert tokens == sum(len(encoding.ids) for encoding in batch)

    if args.long_word:
        print(f"one word of {size / 1000:.0f} kB, {tokens} tokens (the same count from both)")
        print(f"Tessera: {swift['seconds']:.3f} s; tokenizers {__import__('tokenizers').__version__}: "
              f"{single_seconds:.3f} s; Tessera / tokenizers: {swift['seconds'] / single_seconds:.1f}× the time")
        return
    print(f"{size / 1e6:.1f} MB, {len(lines)} lines, {tokens} tokens (the same count from both)")
    print(f"Tessera (Swift, one thread):              {swift['mb_per_s']:7.2f} MB/s")
    print(f"tokenizers {__import__('tokenizers').__version__} encode, one line at a time: {size / 1e6 / single_seconds:7.2f} MB/s")
    print(f"tokenizers encode_batch, {os.cpu_count()} threads:       {size / 1e6 / batch_seconds:7.2f} MB/s")
    print(f"Tessera / tokenizers: {swift['mb_per_s'] / (size / 1e6 / single_seconds):.2f}× one line at a time, "
          f"{swift['mb_per_s'] / (size / 1e6 / batch_seconds):.2f}× batched")


if __name__ == "__main__":
    main()
