#!/usr/bin/env python3
"""Turn captioned images into Tessera documents (JSONL for `launch prepare --from-jsonl`)
with a Hugging Face VQ image tokenizer (pip install torch transformers pillow safetensors).

    scripts/tokenize_images.py --model emu3 --weights BAAI/Emu3-Gen-hf \\
        --pairs captions.jsonl --out documents.jsonl [--size 256] [--order alternate]

--pairs is JSONL, one `{"image": "photos/0001.jpg", "text": "a caption"}` per line (image
paths relative to the file; "text" may be left out for an image alone). Each output line
is `{"segments": [{"text": ...}, {"image": [codes]}], "source": ...}`: the caption then the
image (--order caption-first), the image then the caption (image-first), or the two orders
in turn (alternate, as the built-in corpus has them). The script ends by printing the
config lines the codes need (data.image_tokens and the image codes in model.vocab_size).

--weights names a folder or Hub id holding a JanusVQVAE/Emu3VQVAE, or a whole Janus or
Emu3 model (only its `vqmodel.` tensors are read); docs/data-format.md lists which
published weights give which image_tokens and code count.
"""
import argparse
import json
import os
import sys
import time

from PIL import Image, UnidentifiedImageError

from vq_models import KINDS, VQImageTokenizer, WeightsError, json_lines


def read_pairs(path):
    """[(line number, image path, caption or None)]; one line naming the problem otherwise."""
    pairs, folder = [], os.path.dirname(os.path.abspath(path))
    for number, entry in json_lines(path):
        if not isinstance(entry, dict) or not isinstance(entry.get("image"), str):
            sys.exit(f'{path}: line {number}: expected {{"image": "path", "text": "caption"}}')
        caption = entry.get("text")
        if caption is not None and not isinstance(caption, str):
            sys.exit(f"{path}: line {number}: text must be a string")
        image = os.path.join(folder, entry["image"])
        if not os.path.isfile(image):  # before the model loads, and before anything is written
            sys.exit(f"{path}: line {number}: {image}: no such file")
        pairs.append((number, image, caption))
    if not pairs:
        sys.exit(f"{path}: no images")
    return pairs


def open_image(path, pairs_path, number):
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, UnidentifiedImageError) as error:
        sys.exit(f"{pairs_path}: line {number}: {path}: {error.strerror or error}")


def segments(caption, codes, order, index):
    image = {"image": codes}
    if caption is None:
        return [image]
    text = {"text": caption}
    image_first = order == "image-first" or (order == "alternate" and index % 2 == 1)
    return [image, text] if image_first else [text, image]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(KINDS), required=True)
    parser.add_argument("--weights", required=True,
                        help="folder or Hub id of the VQ model (or of the Janus/Emu3 model holding it)")
    parser.add_argument("--pairs", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--size", type=int, help="image side in pixels (Janus: fixed by the model; Emu3: 256)")
    parser.add_argument("--order", choices=["caption-first", "image-first", "alternate"], default="caption-first")
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    pairs = read_pairs(args.pairs)
    try:
        tokenizer = VQImageTokenizer.load(args.model, args.weights, args.size)
    except (WeightsError, ValueError) as error:
        sys.exit(str(error))
    temporary, start = args.out + ".tmp", time.time()
    with open(temporary, "w", encoding="utf-8") as out:
        for first in range(0, len(pairs), args.batch):
            chunk = pairs[first:first + args.batch]
            images = [open_image(path, args.pairs, number) for number, path, _ in chunk]
            codes = tokenizer.encode(images).tolist()
            for index, ((_, path, caption), image_codes) in enumerate(zip(chunk, codes), first):
                line = {"segments": segments(caption, image_codes, args.order, index),
                        "source": os.path.relpath(path, os.path.dirname(os.path.abspath(args.pairs)))}
                out.write(json.dumps(line) + "\n")
            done = first + len(chunk)
            print(f"\r{done}/{len(pairs)} images, {done / (time.time() - start):.1f} images/s", end="", flush=True)
    os.replace(temporary, args.out)
    print(f"\nwrote {args.out}: {len(pairs)} documents, {tokenizer.tokens_per_image} codes per image "
          f"({tokenizer.grid} × {tokenizer.grid} of {tokenizer.side}-pixel images), code book of {tokenizer.codes}")
    print("config lines for these codes:")
    print(f"data:\n  image_tokens: {tokenizer.tokens_per_image}")
    print(f"model:\n  vocab_size: TEXT_VOCAB + {tokenizer.codes}   # data.text_vocab + image codes")


if __name__ == "__main__":
    main()
