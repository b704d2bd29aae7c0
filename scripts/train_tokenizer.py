#!/usr/bin/env python3
"""Train a byte-level BPE tokenizer.json on a text file with Hugging Face `tokenizers`, for
`data.tokenizer` (pip install tokenizers).

    scripts/train_tokenizer.py --input corpus.txt --out tokenizer.json [--vocab-size 56320] [--image-codes 8192]

The trainer stops early when the text has no more pairs to merge at --min-frequency, so the
vocabulary it learns can be smaller than asked: the script says so, and prints the config
lines that fit the size it did learn (data.text_vocab, and model.vocab_size with
--image-codes image codes after the text ids).

56320 is CM3Leon's text vocabulary (§2.3). Tessera's special tokens come first, so they get
the ids of the configs' data.special_tokens: <pad> 0, <eos> 1, <break> 2, <mask> 3,
<infill> 4 (as added tokens, never split or merged). The pre-tokenizer and decoder are
GPT-2's byte level, as in OPT, without a prefix space.
"""
import argparse
import os

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

SPECIAL_TOKENS = ["<pad>", "<eos>", "<break>", "<mask>", "<infill>"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", required=True, nargs="+", help="text files, one document or line per line")
    parser.add_argument("--out", required=True)
    parser.add_argument("--vocab-size", type=int, default=56320)
    parser.add_argument("--min-frequency", type=int, default=2)
    parser.add_argument("--image-codes", type=int, default=8192, help="image codes the model will have (CM3Leon: 8192)")
    args = parser.parse_args()
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=args.vocab_size, min_frequency=args.min_frequency, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=True)
    tokenizer.train(args.input, trainer)
    tokenizer.save(args.out)
    learned = tokenizer.get_vocab_size()
    print(f"wrote {args.out}: {learned} tokens, specials "
          + ", ".join(f"{token} {tokenizer.token_to_id(token)}" for token in SPECIAL_TOKENS))
    if learned < args.vocab_size:
        print(f"note: asked for {args.vocab_size} tokens, learned {learned}: the text has no more pairs "
              f"seen {args.min_frequency} times or more")
    print("config lines for this tokenizer:")
    print(f"model:\n  vocab_size: {learned + args.image_codes}   # {learned} text ids + {args.image_codes} image codes")
    # Absolute: a config reads relative data paths from its own folder.
    print(f"data:\n  tokenizer: {os.path.abspath(args.out)}\n  text_vocab: {learned}")


if __name__ == "__main__":
    main()
