#!/usr/bin/env python3
"""Checks scripts/tokenize_images.py and scripts/decode_images.py on the real
`transformers` classes (JanusVQVAE, Emu3VQVAE), with small randomly initialised models
saved the way published weights are: published weights cannot be downloaded everywhere.
Outside the default test suite (it needs torch and transformers).

    python3 scripts/check_image_tokenizers.py [--launch .build/release/launch]

For each class, as a standalone VQ folder and as a whole-model folder whose tensors sit
under `model.vqmodel.`: images → tokenize_images.py → codes (count, range, equal to the
model's own encode) → decode_images.py → PNGs (size, equal to the model's own round trip). With
--launch, the documents are also prepared into shards by `launch prepare`. A missing image
must stop the script with one line and leave no output. Exits non-zero on any failure.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

from vq_models import KINDS, VQImageTokenizer, random_tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE_TOKENIZER = os.path.join(HERE, "..", "Tests", "Fixtures", "tokenizer", "tessera-600.json")
failures = []


def check(condition, message):
    print(("ok    " if condition else "FAIL  ") + message)
    if not condition:
        failures.append(message)


def run(*arguments):
    return subprocess.run([sys.executable, *arguments], capture_output=True, text=True)


def save_folders(kind, tokenizer, root):
    """The random model as a standalone VQ folder and inside a whole-model folder."""
    standalone = os.path.join(root, f"{kind}-vq")
    tokenizer.model.save_pretrained(standalone)
    whole = os.path.join(root, f"{kind}-whole")
    os.makedirs(whole)
    config = {"model_type": KINDS[kind]["full_type"], "vq_config": tokenizer.model.config.to_dict()}
    with open(os.path.join(whole, "config.json"), "w") as file:
        json.dump(config, file)
    state = {f"model.vqmodel.{name}": tensor.contiguous() for name, tensor in tokenizer.model.state_dict().items()}
    state["model.language_model.embed_tokens.weight"] = torch.zeros(4, 4)  # a tensor that is not the VQ model's
    save_file(state, os.path.join(whole, "model.safetensors"))
    return standalone, whole


def write_images(root, count=6):
    generator = np.random.default_rng(0)
    pairs = os.path.join(root, "pairs.jsonl")
    os.makedirs(os.path.join(root, "images"))
    with open(pairs, "w") as file:
        for index in range(count):
            pixels = (generator.random((20 + index, 24, 3)) * 255).astype(np.uint8)  # other sizes: resized
            Image.fromarray(pixels).save(os.path.join(root, "images", f"{index}.png"))
            file.write(json.dumps({"image": f"images/{index}.png", "text": f"picture number {index}"}) + "\n")
    return pairs


@torch.no_grad()
def reference_round_trip(tokenizer, images):
    """Codes and pictures from the transformers model's own calls, without the scripts'
    reshaping: Janus's forward (encode then decode), Emu3's encode and decode of a grid."""
    pixels, model, n = tokenizer.pixels(images), tokenizer.model, len(images)
    if tokenizer.kind == "janus":
        codes = model.encode(pixels).image_tokens.view(n, -1)
        decoded = model(pixels).decoded_pixel_values
    else:
        grids = torch.stack(model.encode(pixels, torch.tensor([[16, 16]] * n)).image_tokens)
        codes, decoded = grids.view(n, -1), model.decode(grids)
    return codes.tolist(), tokenizer.images(decoded)


def check_kind(kind, root, launch):
    tokenizer = random_tokenizer(kind)
    standalone, whole = save_folders(kind, tokenizer, root)
    pairs = write_images(root)
    images = [Image.open(os.path.join(root, "images", f"{i}.png")).convert("RGB") for i in range(6)]
    expected, reference = reference_round_trip(tokenizer, images)
    for name, weights in [("standalone", standalone), ("whole model", whole)]:
        out = os.path.join(root, f"documents-{name.replace(' ', '-')}.jsonl")
        result = run(os.path.join(HERE, "tokenize_images.py"), "--model", kind, "--weights", weights,
                     "--pairs", pairs, "--out", out, "--size", "16", "--order", "alternate", "--batch", "4")
        check(result.returncode == 0, f"{kind} {name}: tokenize_images.py exits 0 {result.stderr[-300:]}")
        if result.returncode:
            continue
        lines = [json.loads(line) for line in open(out)]
        codes = [next(s["image"] for s in line["segments"] if "image" in s) for line in lines]
        check(len(lines) == 6 and all(len(c) == 16 for c in codes), f"{kind} {name}: 6 documents of 16 codes")
        check(all(0 <= c < 64 for image in codes for c in image), f"{kind} {name}: codes in 0..<64")
        check(codes == expected, f"{kind} {name}: codes equal the model's own encode")
        check([list(s)[0] for s in lines[1]["segments"]] == ["image", "text"]
              and [list(s)[0] for s in lines[0]["segments"]] == ["text", "image"], f"{kind} {name}: orders alternate")
        check("image_tokens: 16" in result.stdout, f"{kind} {name}: prints data.image_tokens: 16")
    documents = os.path.join(root, "documents-standalone.jsonl")
    pictures, grid = os.path.join(root, "pictures"), os.path.join(root, "grid.png")
    result = run(os.path.join(HERE, "decode_images.py"), "--model", kind, "--weights", standalone, "--size", "16",
                 "--codes", documents, "--out", pictures, "--grid", grid)
    check(result.returncode == 0, f"{kind}: decode_images.py exits 0 {result.stderr[-300:]}")
    if result.returncode == 0:
        decoded = [Image.open(os.path.join(pictures, f"{n:05d}-0.png")) for n in range(1, 7)]
        check(all(image.size == (16, 16) for image in decoded), f"{kind}: decoded PNGs are 16 × 16")
        check(all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(decoded, reference)),
              f"{kind}: PNGs equal the model's own round trip")
        check(Image.open(grid).size == (4 + 20, 4 + 6 * 20), f"{kind}: the grid has a row per line")
    with open(pairs, "a") as file:
        file.write(json.dumps({"image": "images/missing.png", "text": "gone"}) + "\n")
    out = os.path.join(root, "never.jsonl")
    result = run(os.path.join(HERE, "tokenize_images.py"), "--model", kind, "--weights", standalone,
                 "--pairs", pairs, "--out", out, "--size", "16")
    message = result.stderr.strip().splitlines()
    check(result.returncode != 0 and len(message) == 1 and "line 7" in message[0] and "missing.png" in message[0]
          and not os.path.exists(out) and not os.path.exists(out + ".tmp"),
          f"{kind}: a missing image is one line naming the file and line, and nothing is written ({message})")
    if launch:
        config = os.path.join(root, "config.yaml")
        with open(config, "w") as file:
            file.write(f"model:\n  vocab_size: 664\n  d_model: 32\n  layers: 1\n  heads: 2\n  ffn: 64\n  seq_len: 64\n"
                       f"data:\n  text_vocab: 600\n  image_tokens: 16\n  tokenizer: {os.path.abspath(FIXTURE_TOKENIZER)}\n")
        shards = os.path.join(root, "shards")
        result = subprocess.run([launch, "prepare", "--config", config, "--from-jsonl", documents, "--out", shards],
                                capture_output=True, text=True)
        check(result.returncode == 0 and any(name.endswith(".h5") for name in os.listdir(shards)),
              f"{kind}: launch prepare turns the documents into shards {result.stderr[-300:]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--launch", help="the launch binary, to prepare the documents into shards too")
    args = parser.parse_args()
    for kind in sorted(KINDS):
        with tempfile.TemporaryDirectory() as root:
            check_kind(kind, root, args.launch and os.path.abspath(args.launch))
    print(f"{len(failures)} failures" if failures else "all checks hold")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
