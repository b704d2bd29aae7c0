#!/usr/bin/env python3
"""Draw image codes again as PNGs, with the VQ model that made them
(pip install torch transformers pillow safetensors).

    scripts/decode_images.py --model emu3 --weights BAAI/Emu3-Gen-hf \\
        --codes generations.jsonl --out pictures/ [--grid grid.png] [--size 256]

--codes takes any JSONL Tessera writes or reads: `launch generate --prompts ... --out
FILE.jsonl` (each sample's "image_codes"), `launch eval --task ... --generations FILE`
(the expected and the generated image, side by side), or documents of
scripts/tokenize_images.py (their image segments). Each image is written as
OUT/LINE-INDEX.png; --grid also puts them all in one picture, one line of the file per row.
A sample whose codes are too few (generation stopped early) or out of range is skipped
with a line saying so.
"""
import argparse
import os
import sys

from PIL import Image

from vq_models import KINDS, VQImageTokenizer, WeightsError, json_lines


def images_of(entry):
    """The code lists one line holds, in the order they are drawn."""
    if "samples" in entry:
        return [sample.get("image_codes") or [] for sample in entry["samples"]]
    if "generated_image_codes" in entry:
        return [entry.get("expected_image_codes") or [], entry["generated_image_codes"]]
    segments = entry.get("segments", entry) if isinstance(entry, (dict, list)) else []
    if isinstance(segments, dict):
        segments = [segments]
    return [segment["image"] for segment in segments if isinstance(segment, dict) and "image" in segment]


def grid(rows, side, gap=4):
    columns = max(len(row) for row in rows)
    picture = Image.new("RGB", (gap + columns * (side + gap), gap + len(rows) * (side + gap)), (60, 60, 60))
    for y, row in enumerate(rows):
        for x, image in enumerate(row):
            if image is not None:
                picture.paste(image, (gap + x * (side + gap), gap + y * (side + gap)))
    return picture


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(KINDS), required=True)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--codes", required=True)
    parser.add_argument("--out", help="folder for one PNG per image")
    parser.add_argument("--grid", help="one PNG of every image")
    parser.add_argument("--size", type=int, help="image side in pixels (as given to tokenize_images.py)")
    args = parser.parse_args()
    if not args.out and not args.grid:
        parser.error("say where the pictures go: --out DIR and/or --grid FILE.png")
    try:
        tokenizer = VQImageTokenizer.load(args.model, args.weights, args.size)
    except (WeightsError, ValueError) as error:
        sys.exit(str(error))
    rows, written, skipped = [], 0, 0
    for number, entry in json_lines(args.codes):
        row = []
        for index, codes in enumerate(images_of(entry)):
            if len(codes) != tokenizer.tokens_per_image or not all(0 <= c < tokenizer.codes for c in codes):
                print(f"{args.codes}: line {number}: image {index} has {len(codes)} codes, not "
                      f"{tokenizer.tokens_per_image} in 0..<{tokenizer.codes}: skipped")
                row.append(None)
                skipped += 1
                continue
            image = tokenizer.decode([codes])[0]
            row.append(image)
            if args.out:
                os.makedirs(args.out, exist_ok=True)
                image.save(os.path.join(args.out, f"{number:05d}-{index}.png"))
            written += 1
        if row:
            rows.append(row)
    if not rows:
        sys.exit(f"{args.codes}: no image codes")
    if args.grid:
        grid(rows, tokenizer.side).save(args.grid)
    where = " and ".join(f"{name} {value}" for name, value in [("to", args.out), ("grid", args.grid)] if value)
    print(f"decoded {written} images ({skipped} skipped) {where}")


if __name__ == "__main__":
    main()
