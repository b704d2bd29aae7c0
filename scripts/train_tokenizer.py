#!/usr/bin/env python3
"""Train a byte-level BPE tokenizer.json on a text file with Hugging Face `tokenizers`, for
`data.tokenizer` (pip install tokenizers).

    scripts/train_tokenizer.py --input corpus.txt --out tokenizer.json [--vocab-size 56320]

56320 is CM3Leon's text vocabulary (§2.3). Tessera's special tokens come first, so they get
the ids of the configs' data.special_tokens: <pad> 0, <eos> 1, <break> 2, <mask> 3,
<infill> 4 (as added tokens, never split or merged). The pre-tokenizer and decoder are
GPT-2's byte level, as in OPT, without a prefix space.
"""
import argparse

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

SPECIAL_TOKENS = ["<pad>", "<eos>", "<break>", "<mask>", "<infill>"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", required=True, nargs="+", help="text files, one document or line per line")
    parser.add_argument("--out", required=True)
    parser.add_argument("--vocab-size", type=int, default=56320)
    parser.add_argument("--min-frequency", type=int, default=2)
    args = parser.parse_args()
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=args.vocab_size, min_frequency=args.min_frequency, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=True)
    tokenizer.train(args.input, trainer)
    tokenizer.save(args.out)
    print(f"wrote {args.out}: {tokenizer.get_vocab_size()} tokens, specials "
          + ", ".join(f"{token} {tokenizer.token_to_id(token)}" for token in SPECIAL_TOKENS))


if __name__ == "__main__":
    main()
