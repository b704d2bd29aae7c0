#!/usr/bin/env python3
"""The README's worked example on a dataset a package ships: scikit-learn's 1,797
handwritten digits (8 × 8 pixels, 17 intensities), as captioned images
(pip install scikit-learn matplotlib). scripts/digits_example.sh runs every step.

    scripts/digits_data.py documents --out DIR      # DIR/documents.jsonl, captions.txt, prompts.jsonl, tasks.yaml
    scripts/digits_data.py score --generations GEN.jsonl
    scripts/digits_data.py score --generations DRAWN.jsonl     # launch generate --prompts results
    scripts/digits_data.py grid --drawn DRAWN.jsonl --out PICTURE.png

An image is its 64 pixels row by row, each intensity 0-16 one of 17 image codes: no VQ
model is needed, and the codes are the picture. Captions are "a handwritten digit seven";
documents put the caption first and the image first in turn, as CM3Leon's do.

`score` judges text-to-image generations the way one judges a drawing: a classifier
(logistic regression on pixels) trained on the digits that were not held out says which
digit each generated image shows, and the score is the fraction showing the caption's
digit. Image-to-text is scored by `launch eval` itself (the caption exactly).
"""
import argparse
import json
import os
import sys

import numpy as np

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
CODES = 17


# Fine-tuning tasks on the digits (docs/fine-tuning.md), the text read through the tokenizer.
TASKS = """tasks:
  - name: name-the-digit
    template: "{image} <break> digit ? {caption}"
    weight: 1
  - name: draw-the-digit
    template: "draw {caption} <break> {image}"
    weight: 1
"""


def caption(digit):
    return f"a handwritten digit {NAMES[digit]}"


def load():
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images.reshape(len(digits.images), 64).astype(int), digits.target


def documents(args):
    images, targets = load()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "documents.jsonl"), "w") as file:
        for index, (image, digit) in enumerate(zip(images, targets)):
            text, codes = {"text": caption(digit)}, {"image": image.tolist()}
            file.write(json.dumps({"segments": [text, codes] if index % 2 == 0 else [codes, text]}) + "\n")
    with open(os.path.join(args.out, "captions.txt"), "w") as file:
        file.writelines(caption(digit) + "\n" for digit in targets)
    with open(os.path.join(args.out, "prompts.jsonl"), "w") as file:
        file.writelines(json.dumps({"prompt": caption(d), "id": NAMES[d]}) + "\n" for d in range(10))
    with open(os.path.join(args.out, "tasks.yaml"), "w") as file:
        file.write(TASKS)
    print(f"wrote {len(images)} documents of {CODES} image codes (64 per image) to {args.out}")


def digit_of(text):
    words = text.split()
    return NAMES.index(words[-1]) if words and words[-1] in NAMES else None


def classifier(held_out):
    """Logistic regression on the pixels of every digit image that is not held out."""
    from sklearn.linear_model import LogisticRegression

    images, targets = load()
    keep = [i for i, image in enumerate(images) if tuple(image) not in held_out]
    model = LogisticRegression(max_iter=5000).fit(images[keep] / 16, targets[keep])
    return model, len(keep)


def score(args):
    lines = [json.loads(line) for line in open(args.generations) if line.strip()]
    if lines and "samples" in lines[0]:
        return score_samples(lines, args.generations)
    lines = [line for line in lines if line["expected_image_codes"]]
    if not lines:
        sys.exit(f"{args.generations}: no generated images (run launch eval --task text-to-image)")
    held_out = {tuple(line["expected_image_codes"]) for line in lines}
    model, trained_on = classifier(held_out)
    originals = sorted(held_out)
    accuracy = model.score(np.array(originals) / 16, held_out_targets(lines, originals))
    print(f"classifier: logistic regression on the {trained_on} digits not held out; "
          f"right on {accuracy:.1%} of the {len(originals)} held-out originals")
    for setting in dict.fromkeys(line["setting"] for line in lines):
        chosen = [line for line in lines if line["setting"] == setting]
        drawn = [line for line in chosen if len(line["generated_image_codes"]) == 64]
        wanted = [digit_of(line["prompt_text"].replace("<break>", " ")) for line in drawn]
        predicted = model.predict(np.array([line["generated_image_codes"] for line in drawn]) / 16) if drawn else []
        right = sum(int(p == w) for p, w in zip(predicted, wanted))
        copies = sum(tuple(line["generated_image_codes"]) == tuple(line["expected_image_codes"]) for line in chosen)
        print(f"{setting:>12}: {right / len(chosen):6.1%} drawn as the caption's digit "
              f"({right}/{len(chosen)}; {copies} pixel for pixel the held-out image)")


def score_samples(lines, path):
    """`launch generate --prompts` results: the fraction of samples the classifier (trained
    on every digit; these prompts hold out none) reads as their caption's digit."""
    model, _ = classifier(set())
    right = total = 0
    for line in lines:
        wanted = digit_of(line["prompt_text"].replace("<break>", " "))
        drawn = [sample["image_codes"] for sample in line["samples"] if len(sample.get("image_codes") or []) == 64]
        hits = int(sum(model.predict(np.array(drawn) / 16) == wanted)) if drawn else 0
        print(f"{line.get('id') or wanted!s:>6}: {hits}/{len(line['samples'])} drawn as {NAMES[wanted]}")
        right, total = right + hits, total + len(line["samples"])
    print(f"{path}: {right / total:.1%} of {total} samples drawn as the caption's digit")


def held_out_targets(lines, originals):
    """The digit each held-out image's caption names."""
    by_image = {tuple(line["expected_image_codes"]): digit_of(line["prompt_text"].replace("<break>", " "))
                for line in lines}
    return [by_image[image] for image in originals]


def grid(args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = [json.loads(line) for line in open(args.drawn) if line.strip()]
    columns = min(args.columns, max(len(line["samples"]) for line in lines))
    figure, axes = plt.subplots(len(lines), columns, figsize=(columns * 0.9, len(lines) * 0.95), squeeze=False)
    for row, line in zip(axes, lines):
        for column, axis in enumerate(row):
            axis.set_xticks([])
            axis.set_yticks([])
            samples = line["samples"]
            codes = (samples[column].get("image_codes") or []) if column < len(samples) else []
            if len(codes) == 64:
                axis.imshow(np.array(codes).reshape(8, 8), cmap="gray_r", vmin=0, vmax=CODES - 1)
        row[0].set_ylabel(line.get("id") or "", rotation=0, ha="right", va="center")
    figure.suptitle("Tessera on the digits: " + (args.title or "samples for each caption"), fontsize=9)
    figure.tight_layout()
    figure.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("documents")
    command.add_argument("--out", required=True)
    command = commands.add_parser("score")
    command.add_argument("--generations", required=True)
    command = commands.add_parser("grid")
    command.add_argument("--drawn", required=True)
    command.add_argument("--out", required=True)
    command.add_argument("--title")
    command.add_argument("--columns", type=int, default=8, help="samples shown per caption")
    args = parser.parse_args()
    {"documents": documents, "score": score, "grid": grid}[args.command](args)


if __name__ == "__main__":
    main()
