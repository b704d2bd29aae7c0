#!/usr/bin/env python3
"""Check that a checkpoint exported with `launch export` is the same model in Hugging Face
`transformers`: its loss on the validation blocks `launch eval` scores equals
`launch eval`'s, within 1e-5 relative.

    pip install torch transformers safetensors      # large; not needed by the test suite
    scripts/check_export.py --config configs/draw.yaml --checkpoint runs/draw/checkpoints/step-00009000.h5

The exported model runs in float64, so the difference measures Tessera's float32 error.
Exits 1 when the losses differ by more than the tolerance.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--launch", default=".build/release/launch")
    parser.add_argument("--batches", type=int, default=4, help="validation micro-batches to score")
    parser.add_argument("--tolerance", type=float, default=1e-5, help="relative")
    args = parser.parse_args()

    import torch
    from transformers import OPTForCausalLM

    with tempfile.TemporaryDirectory() as directory:
        exported, blocks = os.path.join(directory, "model"), os.path.join(directory, "blocks.jsonl")
        subprocess.run([args.launch, "export", "--checkpoint", args.checkpoint, "--config", args.config, "--out", exported], check=True)
        evaluated = subprocess.run([args.launch, "eval", "--config", args.config, "--checkpoint", args.checkpoint,
                                    "--batches", str(args.batches), "--blocks", blocks],
                                   check=True, capture_output=True, text=True)
        tessera = json.loads(evaluated.stdout.strip().splitlines()[-1])["val_loss"]
        model = OPTForCausalLM.from_pretrained(exported, torch_dtype=torch.float64).eval()
        rows = [json.loads(line) for line in open(blocks)]

    tokens = torch.tensor([row["tokens"] for row in rows])
    weights = torch.tensor([row["weights"] for row in rows], dtype=torch.float64)
    with torch.no_grad():
        logits = model(input_ids=tokens[:, :-1], attention_mask=torch.ones_like(tokens[:, :-1])).logits
    losses = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1), reduction="none")
    reference = float((losses * weights.reshape(-1)).sum() / weights.sum())
    relative = abs(reference - tessera) / abs(reference)
    print(f"blocks: {len(rows)} of {tokens.shape[1]} tokens; transformers {model.config.model_type} (float64) loss {reference:.8f}; "
          f"launch eval loss {tessera:.8f}; relative difference {relative:.2e} (tolerance {args.tolerance:g})")
    sys.exit(0 if relative <= args.tolerance else 1)


if __name__ == "__main__":
    main()
