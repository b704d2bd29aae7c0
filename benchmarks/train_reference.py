#!/usr/bin/env python3
"""Tessera's decoder and training step in PyTorch, for speed comparison with `launch bench`
(benchmarks/compare_training.py runs both). Written from docs/architecture.md, not from
Tessera's code:

- token embedding [V, d] tied to the LM head, learned positions [S, d], no biases;
- L pre-LN blocks: x += out_proj(causal attention(q, k, v of LN(x))); x += fc2(GELU-tanh(fc1(LN(x))));
  LayerNorms without weights (eps 1e-5); a final LayerNorm before the head;
- init: truncated normal std 0.006 (±3σ) for matrices and the token embedding, normal std
  0.0002 for positions, zeros for out_proj and fc2;
- mean cross-entropy over every target; AdamW (0.9, 0.95, eps 1e-8, weight decay 0.1) at
  lr 1e-4, global-norm clipping at 1.0, as `launch bench` trains.

    pip install torch
    benchmarks/train_reference.py --shape d256-l4 --steps 5 [--threads 2] [--ranks 1]

`--ranks N` trains data-parallel as `launch bench --dp N` does: N processes (gloo,
DistributedDataParallel), each with `--threads` threads and the shape's whole batch, so a
step is N times the tokens.

Prints one JSON line: per-step seconds (after one warm-up step), median and best tokens/s,
and rank 0's peak resident memory.
"""
import argparse
import json
import os
import resource
import socket
import time

SHAPES = {  # the shapes of `launch bench` (Sources/Trainer/Benchmark.swift)
    "d256-l4": dict(vocab=1024, d=256, layers=4, heads=4, ffn=1024, seq=256, batch=8),
    "d512-l8": dict(vocab=64512, d=512, layers=8, heads=8, ffn=2048, seq=1024, batch=4),
    "350m-slice": dict(vocab=64512, d=1024, layers=2, heads=16, ffn=4096, seq=4096, batch=1),
}


def build(torch, shape):
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self, d, heads, ffn):
            super().__init__()
            self.heads = heads
            self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d, bias=False) for _ in range(4))
            self.fc1, self.fc2 = nn.Linear(d, ffn, bias=False), nn.Linear(ffn, d, bias=False)

        def forward(self, x):
            b, s, d = x.shape
            h = F.layer_norm(x, (d,))
            q, k, v = (p(h).view(b, s, self.heads, d // self.heads).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
            attention = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, s, d)
            x = x + self.out_proj(attention)
            return x + self.fc2(F.gelu(self.fc1(F.layer_norm(x, (d,))), approximate="tanh"))

    class Decoder(nn.Module):
        def __init__(self, vocab, d, layers, heads, ffn, seq):
            super().__init__()
            self.embed_tokens = nn.Parameter(torch.empty(vocab, d))
            self.embed_positions = nn.Parameter(torch.empty(seq, d))
            self.layers = nn.ModuleList(Block(d, heads, ffn) for _ in range(layers))
            nn.init.trunc_normal_(self.embed_tokens, std=0.006, a=-0.018, b=0.018)
            nn.init.normal_(self.embed_positions, std=0.0002)
            for block in self.layers:
                for linear in (block.q_proj, block.k_proj, block.v_proj, block.fc1):
                    nn.init.trunc_normal_(linear.weight, std=0.006, a=-0.018, b=0.018)
                nn.init.zeros_(block.out_proj.weight)
                nn.init.zeros_(block.fc2.weight)

        def forward(self, tokens, targets):
            x = self.embed_tokens[tokens] + self.embed_positions[: tokens.shape[1]]
            for block in self.layers:
                x = block(x)
            logits = F.layer_norm(x, (x.shape[-1],)) @ self.embed_tokens.t()
            return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1))

    return Decoder(shape["vocab"], shape["d"], shape["layers"], shape["heads"], shape["ffn"], shape["seq"])


def train(rank, args):
    import torch
    import torch.distributed as dist

    if args.ranks > 1:
        dist.init_process_group("gloo", rank=rank, world_size=args.ranks)
    torch.manual_seed(0)  # every rank builds the same initial weights
    torch.set_num_threads(args.threads)
    shape = SHAPES[args.shape]
    model = build(torch, shape)
    module = torch.nn.parallel.DistributedDataParallel(model) if args.ranks > 1 else model
    try:
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1, fused=True)
        fused = True
    except (RuntimeError, TypeError):
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1, foreach=True)
        fused = False
    data_seed = torch.Generator().manual_seed(1 + rank)  # each rank its own sequences
    tokens_per_step = args.ranks * shape["batch"] * shape["seq"]
    seconds = []
    for step in range(args.steps + 1):  # step 0 warms up, as in `launch bench`
        data = torch.randint(0, shape["vocab"], (shape["batch"], shape["seq"] + 1), generator=data_seed)
        if args.ranks > 1:
            dist.barrier()  # as `launch bench` starts every rank's step together
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = module(data[:, :-1], data[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        elapsed = time.perf_counter() - start
        if step > 0:
            seconds.append(elapsed)
    if rank == 0:
        ordered = sorted(seconds)
        median = ordered[len(ordered) // 2] if len(ordered) % 2 else (ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2]) / 2
        print(json.dumps({
            "engine": f"PyTorch {torch.__version__}", "shape": args.shape, "threads": args.threads, "ranks": args.ranks,
            "fused_adamw": fused, "tokens_per_step": tokens_per_step, "seconds": seconds,
            "median_tokens_per_s": tokens_per_step / median, "best_tokens_per_s": tokens_per_step / ordered[0],
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        }), flush=True)
    if args.ranks > 1:
        dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=SHAPES, default="d256-l4")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ranks", type=int, default=1)
    args = parser.parse_args()
    if args.ranks == 1:
        train(0, args)
        return
    import torch.multiprocessing

    with socket.socket() as probe:  # a free port for the rendezvous
        probe.bind(("127.0.0.1", 0))
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(probe.getsockname()[1]))
    torch.multiprocessing.spawn(train, args=(args,), nprocs=args.ranks)


if __name__ == "__main__":
    main()
