#!/usr/bin/env python3
"""Writes a Model2Vec-shaped model of realistic size, to measure rk's model2vec: embedder
(its vectors are random, so its rankings mean nothing; its speed is what counts).

    python3 bench/synth_model2vec.py CORPUS.jsonl OUT_DIR [--vocab 30000] [--dim 256]
                                     [--dtype F32|F16]

The vocabulary is a WordPiece one, as potion-base-8M's is (BertNormalizer, BertPreTokenizer,
about 30,000 pieces, 256 dimensions): the corpus's most frequent lower-cased words, then
"##" pieces of two to four letters for the rest. Standard library only.
"""

import argparse
import collections
import json
import os
import random
import re
import struct

WORD = re.compile(r"[a-z]+")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("out")
    ap.add_argument("--vocab", type=int, default=30000)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--dtype", default="F32", choices=["F32", "F16"])
    a = ap.parse_args()

    words, pieces = collections.Counter(), collections.Counter()
    with open(a.corpus, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            for w in WORD.findall((rec.get("title", "") + " " + rec.get("text", "")).lower()):
                words[w] += 1
                for n in (2, 3, 4):
                    if len(w) > n:
                        pieces["##" + w[-n:]] += 1
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab += [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab += ["##" + chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab += [p for p, _ in pieces.most_common(a.vocab // 5)]
    seen = set(vocab)
    for w, _ in words.most_common():
        if len(vocab) >= a.vocab:
            break
        if w not in seen:
            vocab.append(w)
            seen.add(w)

    rng = random.Random(7)
    fmt = {"F32": "<f", "F16": "<e"}[a.dtype]
    size = struct.calcsize(fmt)
    data = bytearray(len(vocab) * a.dim * size)
    at = 0
    for _ in range(len(vocab) * a.dim):
        struct.pack_into(fmt, data, at, rng.gauss(0, 1))
        at += size
    header = json.dumps({"embeddings": {"dtype": a.dtype, "shape": [len(vocab), a.dim],
                                        "data_offsets": [0, len(data)]}}).encode()
    header += b" " * (-len(header) % 8)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + data)
    tokenizer = {
        "version": "1.0", "added_tokens": [],
        "normalizer": {"type": "BertNormalizer", "clean_text": True,
                       "handle_chinese_chars": True, "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": {t: i for i, t in enumerate(vocab)}},
    }
    with open(os.path.join(a.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f)
    with open(os.path.join(a.out, "config.json"), "w", encoding="utf-8") as f:
        json.dump({"model_type": "model2vec", "normalize": True, "hidden_dim": a.dim}, f)
    print(f"{a.out}: {len(vocab)} pieces, {a.dim} dimensions, {a.dtype}")


if __name__ == "__main__":
    main()
