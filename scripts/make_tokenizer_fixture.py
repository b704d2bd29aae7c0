#!/usr/bin/env python3
"""Write the tokenizer test fixture with Hugging Face `tokenizers` (pip install tokenizers):
a small byte-level BPE tokenizer.json trained on varied text, test lines, and the ids the
library gives each line (add_special_tokens=False); and tessera-600.json, a 600-token
tokenizer with Tessera's special tokens first, for the data.tokenizer tests. Tests/TokenizerTests compares the Swift
encoder with these ids, so the suite itself needs no Python.

    scripts/make_tokenizer_fixture.py [--out Tests/Fixtures/tokenizer]
"""
import argparse
import json
import os
import random

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

WORDS = ("the of and to in is was for on that with as by at from his her it an were are which this be or has "
         "had not but one all their they new more after first also who been two would time we can there "
         "Tessera trains a decoder on text and image tokens shared by one transformer don't can't I'm we've "
         "you're she'll he'd it's").split()
SCRIPTS = ["Grüße aus Köln", "naïve café déjà vu", "Ελληνικά γράμματα", "русский текст здесь", "中文字符测试", "日本語のテキスト",
           "한국어 문장", "עברית", "العربية نص", "हिन्दी पाठ", "ไทย", "e\u0301 combining a\u0308", "ﬁ ligature", "Ⅻ ½ ² ٣"]
EMOJI = ["🙂", "🚀", "👩‍💻", "🇫🇷", "❤️", "👍🏽", "🧪"]
CODE = ["def f(x):\treturn x ** 2", "for (int i = 0; i < n; ++i) {", "let y = [1, 2, 3].map { $0 * 2 }", "SELECT * FROM t;",
        "a_b = c-d + e/f", "https://example.org/path?q=1&r=2", "x'y 's 'S 'll 'LL"]
SPECIALS = ["<pad>", "</s>", "<s>", "<unk>", "<mask>"]


def line(rng):
    kind = rng.random()
    if kind < 0.04:
        return ""
    parts = []
    for _ in range(rng.randint(1, 14)):
        choice = rng.random()
        if choice < 0.55:
            word = rng.choice(WORDS)
            parts.append(word.capitalize() if rng.random() < 0.1 else word)
        elif choice < 0.65:
            parts.append(str(rng.randint(0, 10 ** rng.randint(1, 12))))
        elif choice < 0.75:
            parts.append(rng.choice(SCRIPTS))
        elif choice < 0.82:
            parts.append(rng.choice(EMOJI) * rng.randint(1, 3))
        elif choice < 0.9:
            parts.append(rng.choice(CODE))
        elif choice < 0.95:
            parts.append(rng.choice(SPECIALS))
        else:
            parts.append(rng.choice([".", ",", "!?", "--", "...", "'", "\"", "(", ")", "%"]))
    text = ""
    for part in parts:
        gap = rng.random()
        text += part + (" " if gap < 0.8 else "" if gap < 0.87 else rng.choice(["  ", "   ", "\t", " \t ", "\u3000", "\u00a0"]))
    return text if rng.random() < 0.9 else rng.choice(["", " ", "  "]) + text + rng.choice(["", " ", "   "])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "tokenizer"))
    parser.add_argument("--lines", type=int, default=3000)
    args = parser.parse_args()
    rng = random.Random(7)
    corpus = [line(rng) for _ in range(20000)]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=3000, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(corpus, trainer)
    os.makedirs(args.out, exist_ok=True)
    tokenizer.save(os.path.join(args.out, "tokenizer.json"))
    test_rng = random.Random(11)
    lines = [line(test_rng) for _ in range(args.lines)]
    with open(os.path.join(args.out, "lines.jsonl"), "w") as handle:
        for text in lines:
            handle.write(json.dumps({"text": text, "ids": tokenizer.encode(text, add_special_tokens=False).ids}, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}: vocabulary {tokenizer.get_vocab_size()}, {len(lines)} lines")
    # A tokenizer with Tessera's special tokens first (as scripts/train_tokenizer.py makes
    # them), small enough for a 768-id text vocabulary: for the data.tokenizer tests.
    tessera = Tokenizer(models.BPE())
    tessera.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tessera.decoder = decoders.ByteLevel()
    tessera.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=600, special_tokens=["<pad>", "<eos>", "<break>", "<mask>", "<infill>"],
                                                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tessera.save(os.path.join(args.out, "tessera-600.json"))


if __name__ == "__main__":
    main()
