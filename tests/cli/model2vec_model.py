"""A tiny Model2Vec model for tests, and the vectors it should give, standard library only.

write_model(dir, dtype, kind) writes model.safetensors, tokenizer.json and config.json the
way Model2Vec lays them out; reference(dir, text) computes a text's vector from those files
on its own (Bert normalisation and WordPiece, or Metaspace and Unigram, written afresh here),
so that a test can compare it with what `rk` stores.

    python3 model2vec_model.py DIR [wordpiece|unigram] [F32|F16|I8]   writes a model
    python3 model2vec_model.py DIR TEXT --reference                     prints a vector
"""

import json
import math
import os
import struct
import sys
import unicodedata

DIM = 3
MAX_TOKENS = 512

# Token ids are the list positions.
WORDPIECE_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "the", "cafe",
                   ".", "hello", "##s", "a"]
UNIGRAM_VOCAB = [("<unk>", 0.0), ("\u2581hello", -1.0), ("\u2581he", -2.0), ("llo", -2.0),
                 ("\u2581", -3.0), ("h", -4.0), ("e", -4.0), ("l", -4.0), ("o", -4.0),
                 ("\u2581world", -1.5)]


def row(i):
    """Token i's row: small integers, exact in every dtype (as in the C++ unit test)."""
    return [float(i % 5 - 2), float(i), float((7 * i) % 11 - 5)]


def _safetensors(dtype, rows):
    fmt = {"F32": "<f", "F16": "<e", "I8": "<b"}[dtype]
    data = b"".join(struct.pack(fmt, int(v) if dtype == "I8" else v)
                    for i in range(rows) for v in row(i))
    header = json.dumps({
        "__metadata__": {"format": "pt"},
        "embeddings": {"dtype": dtype, "shape": [rows, DIM], "data_offsets": [0, len(data)]},
    }).encode()
    header += b" " * (-len(header) % 8)  # safetensors pads the header to 8 bytes
    return struct.pack("<Q", len(header)) + header + data


def _tokenizer(kind):
    if kind == "wordpiece":
        return {
            "version": "1.0", "added_tokens": [],
            "normalizer": {"type": "BertNormalizer", "clean_text": True,
                           "handle_chinese_chars": True, "strip_accents": None,
                           "lowercase": True},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": None, "decoder": None,
            "model": {"type": "WordPiece", "unk_token": "[UNK]",
                      "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
                      "vocab": {t: i for i, t in enumerate(WORDPIECE_VOCAB)}},
        }
    return {
        "normalizer": {"type": "Sequence",
                       "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"}]},
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581",
                          "prepend_scheme": "always", "split": True},
        "model": {"type": "Unigram", "unk_id": 0, "byte_fallback": False,
                  "vocab": [[p, s] for p, s in UNIGRAM_VOCAB]},
    }


def write_model(directory, dtype="F32", kind="wordpiece", normalize=True):
    """Writes the test model into `directory` (created if need be); returns the directory.

    dtype is the matrix's: "F32", "F16" or "I8"; kind "wordpiece" (BertNormalizer,
    BertPreTokenizer) or "unigram" (NFKC and Lowercase, Metaspace)."""
    if kind not in ("wordpiece", "unigram"):
        raise ValueError(f"kind must be wordpiece or unigram, not {kind!r}")
    os.makedirs(directory, exist_ok=True)
    rows = len(WORDPIECE_VOCAB if kind == "wordpiece" else UNIGRAM_VOCAB)
    with open(os.path.join(directory, "model.safetensors"), "wb") as f:
        f.write(_safetensors(dtype, rows))
    with open(os.path.join(directory, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(_tokenizer(kind), f, ensure_ascii=False)
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
        json.dump({"model_type": "model2vec", "normalize": normalize}, f)
    return directory


def _read_rows(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack_from("<Q", blob, 0)
    header = json.loads(blob[8:8 + n])
    t = header["embeddings"]
    fmt, size = {"F32": ("<f", 4), "F16": ("<e", 2), "I8": ("<b", 1)}[t["dtype"]]
    rows, dim = t["shape"]
    base = 8 + n + t["data_offsets"][0]
    return [[float(struct.unpack_from(fmt, blob, base + (r * dim + j) * size)[0])
             for j in range(dim)] for r in range(rows)]


def _is_punct(c):
    o = ord(c)
    if 33 <= o <= 47 or 58 <= o <= 64 or 91 <= o <= 96 or 123 <= o <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def _is_cjk(c):
    o = ord(c)
    return any(a <= o <= b for a, b in (
        (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
        (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)))


def _bert_words(text):
    chars = []
    for c in text:
        if c in "\t\n\r":
            chars.append(" ")
        elif c == "\0" or c == "\ufffd" or unicodedata.category(c).startswith("C"):
            continue
        elif c.isspace():
            chars.append(" ")
        elif _is_cjk(c):
            chars.append(f" {c} ")
        else:
            chars.append(c)
    text = unicodedata.normalize("NFD", "".join(chars))
    text = "".join(c for c in text if unicodedata.category(c) != "Mn").lower()
    words, word = [], ""
    for c in text:
        if c.isspace() or _is_punct(c):
            if word:
                words.append(word)
            word = ""
            if _is_punct(c):
                words.append(c)
        else:
            word += c
    if word:
        words.append(word)
    return words


def _wordpiece(words, vocab):
    ids = []
    for word in words:
        pieces, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = ("##" if start else "") + word[start:end]
                if piece in vocab:
                    pieces.append(vocab[piece])
                    start = end
                    break
            else:
                pieces = [vocab.get("[UNK]")]
                break
        ids.extend(pieces)
    return ids


def _unigram(text, vocab, unk_id):
    scores = {p: (i, s) for i, (p, s) in enumerate(vocab)}
    unk_score = min(s for _, s in vocab) - 10.0
    text = "\u2581" + unicodedata.normalize("NFKC", text).lower().replace(" ", "\u2581")
    if text.startswith("\u2581\u2581"):
        text = text[1:]
    ids = []
    starts = [i for i, c in enumerate(text) if c == "\u2581" and i > 0]
    for piece in (text[a:b] for a, b in zip([0] + starts, starts + [len(text)])):
        best = [(-math.inf, 0, None)] * (len(piece) + 1)
        best[0] = (0.0, 0, None)
        for i in range(len(piece)):
            single = False
            for j in range(i + 1, len(piece) + 1):
                if piece[i:j] in scores:
                    single = single or j == i + 1
                    tid, s = scores[piece[i:j]]
                    if best[i][0] + s > best[j][0]:
                        best[j] = (best[i][0] + s, i, tid)
            if not single and best[i][0] + unk_score > best[i + 1][0]:
                best[i + 1] = (best[i][0] + unk_score, i, unk_id)
        path, j = [], len(piece)
        while j > 0:
            path.append(best[j][2])
            j = best[j][1]
        for tid in reversed(path):
            if not (tid == unk_id and ids and ids[-1] == unk_id):  # unknown runs fuse
                ids.append(tid)
    return ids


def reference(directory, text):
    """The vector model2vec gives `text` with the model in `directory` (a list of floats)."""
    with open(os.path.join(directory, "tokenizer.json"), encoding="utf-8") as f:
        model = json.load(f)["model"]
    with open(os.path.join(directory, "config.json"), encoding="utf-8") as f:
        normalize = json.load(f).get("normalize", True)
    rows = _read_rows(os.path.join(directory, "model.safetensors"))
    if model["type"] == "WordPiece":
        vocab = model["vocab"]
        tokens = sorted(vocab)
        ids = [i for i in _wordpiece(_bert_words(text), vocab) if i != vocab.get("[UNK]")]
    else:
        vocab = [tuple(v) for v in model["vocab"]]
        tokens = [p for p, _ in vocab]
        ids = _unigram(text, vocab, model["unk_id"])  # Unigram's unknown piece is kept
    lengths = sorted(len(t) for t in tokens)
    mid = len(lengths) // 2
    median = lengths[mid] if len(lengths) % 2 else (lengths[mid - 1] + lengths[mid]) // 2
    if len(text) > MAX_TOKENS * median:  # model2vec cuts the text before tokenising
        return reference(directory, text[:MAX_TOKENS * median])
    ids = ids[:MAX_TOKENS]
    dim = len(rows[0])
    if not ids:
        return [0.0] * dim
    total = [sum(rows[i][j] for i in ids) for j in range(dim)]
    if normalize:
        norm = math.sqrt(sum(v * v for v in total))
        return [v / norm if norm > 0 else 0.0 for v in total]
    return [v / len(ids) for v in total]


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[3] == "--reference":
        print(" ".join(f"{v:.6f}" for v in reference(sys.argv[1], sys.argv[2])))
    elif len(sys.argv) >= 2:
        write_model(sys.argv[1], kind=sys.argv[2] if len(sys.argv) > 2 else "wordpiece",
                    dtype=sys.argv[3] if len(sys.argv) > 3 else "F32")
    else:
        sys.exit(__doc__)
