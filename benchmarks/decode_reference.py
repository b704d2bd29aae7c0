#!/usr/bin/env python3
"""PyTorch reference for `launch bench-generate`: the same decoder shape (350m-slice: 2
pre-LN layers, d_model 1024, 16 heads, ffn 4096, vocabulary 64512, tied LM head, learned
positions, no bias, parameter-free LayerNorm, tanh GELU), the same greedy decoding with a
KV cache (prefill, then one token per sequence per step), batch 1 and 8, float32 on the CPU.
Run by hand (pip install torch); prints tokens/s per batch.

    python3 benchmarks/decode_reference.py [--prompt 64] [--tokens 64] [--batches 1,8]
"""
import argparse
import time

import torch
import torch.nn.functional as F

VOCAB, D, LAYERS, HEADS, FFN, SEQ = 64512, 1024, 2, 16, 4096, 4096


class CachedDecoder:
    def __init__(self, generator):
        def weight(*shape):
            return torch.randn(*shape, generator=generator) * 0.02
        self.embed = weight(VOCAB, D)
        self.positions = weight(SEQ, D)
        self.layers = [dict(qkv=weight(3 * D, D), out=weight(D, D), fc1=weight(FFN, D), fc2=weight(D, FFN))
                       for _ in range(LAYERS)]

    def step(self, tokens, start, cache):
        """tokens [batch, new] at positions start..start+new; cache: per layer (k, v) of
        [batch, heads, filled, head_dim], extended in place. Returns last-position logits."""
        batch, new = tokens.shape
        x = self.embed[tokens] + self.positions[start:start + new]
        head_dim = D // HEADS
        for index, layer in enumerate(self.layers):
            h = F.layer_norm(x, (D,))
            q, k, v = (h @ layer["qkv"].T).split(D, dim=-1)
            q, k, v = (t.view(batch, new, HEADS, head_dim).transpose(1, 2) for t in (q, k, v))
            if cache[index] is not None:
                k = torch.cat([cache[index][0], k], dim=2)
                v = torch.cat([cache[index][1], v], dim=2)
            cache[index] = (k, v)
            # New query i (position start + i) sees keys 0 .. start + i.
            mask = torch.ones(new, start + new, dtype=torch.bool).tril(diagonal=start)
            attention = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            x = x + attention.transpose(1, 2).reshape(batch, new, D) @ layer["out"].T
            x = x + F.gelu(F.layer_norm(x, (D,)) @ layer["fc1"].T, approximate="tanh") @ layer["fc2"].T
        return F.layer_norm(x[:, -1], (D,)) @ self.embed.T


def decode(model, prompts, tokens):
    cache = [None] * LAYERS
    logits = model.step(prompts, 0, cache)
    filled = prompts.shape[1]
    outputs = []
    for step in range(tokens):
        next_tokens = logits.argmax(dim=-1)
        outputs.append(next_tokens)
        if step + 1 < tokens:
            logits = model.step(next_tokens[:, None], filled, cache)
            filled += 1
    return torch.stack(outputs, dim=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompt", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--batches", default="1,8")
    arguments = parser.parse_args()
    generator = torch.Generator().manual_seed(0)
    model = CachedDecoder(generator)
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads; 350m-slice, prompt {arguments.prompt}, "
          f"{arguments.tokens} tokens generated per sequence, greedy")
    with torch.inference_mode():
        for batch in (int(b) for b in arguments.batches.split(",")):
            prompts = torch.randint(0, VOCAB, (batch, arguments.prompt), generator=generator)
            decode(model, prompts, 2)  # warm-up
            start = time.perf_counter()
            decode(model, prompts, arguments.tokens)
            seconds = time.perf_counter() - start
            print(f"batch {batch}: with KV cache {batch * arguments.tokens / seconds:.1f} tokens/s ({seconds:.3f} s)")


if __name__ == "__main__":
    main()
