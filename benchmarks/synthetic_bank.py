#!/usr/bin/env python3
"""A training shard of N synthetic captioned-image documents with stored 512-dimensional
text and image embeddings (unit rows), for timing `launch retrieve` on banks of 100k or
1M documents without a real dataset (pip install h5py numpy).

    benchmarks/synthetic_bank.py --documents 100000 --out /tmp/bank/train-00000.h5 [--dimensions 512]

The vocabulary attributes match configs/small.yaml (text_vocab 256, 256 image codes). Each
document is 4 text ids, <break>, 4 image codes and <eos>; the embeddings are random
directions around 64 cluster centres, so that neighbours are not all ties.
"""
import argparse
import os

import h5py
import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, required=True)
    parser.add_argument("--dimensions", type=int, default=512)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n, d = args.documents, args.dimensions
    text_ids = rng.integers(5, 256, size=(n, 4), dtype=np.int32)
    image_ids = rng.integers(256, 512, size=(n, 4), dtype=np.int32)
    tokens = np.concatenate([text_ids, np.full((n, 1), 2, np.int32), image_ids, np.full((n, 1), 1, np.int32)], axis=1)
    centres = rng.standard_normal((64, d)).astype(np.float32)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    temporary = args.out + ".tmp"
    with h5py.File(temporary, "w") as file:
        file["tokens"] = tokens.reshape(-1)
        file["doc_offsets"] = np.arange(0, tokens.size + 1, tokens.shape[1], dtype=np.int64)
        for name in ["text_embeddings", "image_embeddings"]:
            dataset = file.create_dataset(name, shape=(n, d), dtype=np.float32)
            for start in range(0, n, 65536):
                rows = min(65536, n - start)
                block = centres[rng.integers(0, 64, rows)] + 0.5 * rng.standard_normal((rows, d)).astype(np.float32)
                dataset[start:start + rows] = block / np.linalg.norm(block, axis=1, keepdims=True)
        file.attrs["text_vocab"] = np.int64(256)
        file.attrs["image_codes"] = np.int64(256)
        file.attrs["format"] = "tessera-shard-2"
    os.replace(temporary, args.out)
    print(f"wrote {args.out}: {n} documents, {d}-dimensional embeddings")


if __name__ == "__main__":
    main()
