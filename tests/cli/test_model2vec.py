"""rk with a Model2Vec model as its embedder (model2vec:DIR), end to end: the vectors rk stores
equal those computed independently by model2vec_model.py, queries rank by them, and a
missing or changed model is a clear error."""

import base64
import json
import os
import shutil
import struct
import unittest

import model2vec_model as m2v
from rkcli import RkTestCase

DOCS = [
    {"_id": "u", "title": "Unaffable", "text": "the unaffable cafe. un aff able"},
    {"_id": "h", "title": "Hello", "text": "hello hellos, hello the world"},
    {"_id": "c", "title": "Café", "text": "CAFÉ cafés a cafe"},
    {"_id": "x", "title": "Nothing", "text": "zzz qqq"},
]


def code_bytes(dim):
    bits = 64
    while bits < dim:
        bits *= 2
    return bits // 8


def stored_vectors(export_lines, dim):
    """(embedding text, vector) of every chunk of an export."""
    out = []
    for doc in export_lines[1:-1]:
        body = doc["text"].encode()
        for c in doc.get("chunks", []):
            text = "\n".join([doc["title"], c["heading"],
                              body[c["start"]:c["end"]].decode()])
            raw = base64.b64decode(c["vector"])
            at = code_bytes(dim)
            assert len(raw) == at + 4 * dim, len(raw)
            out.append((text, list(struct.unpack(f"<{dim}f", raw[at:]))))
    return out


class Model2Vec(RkTestCase):
    def model(self, dtype="F32", kind="wordpiece"):
        return m2v.write_model(self.path(f"model-{kind}-{dtype}"), dtype=dtype, kind=kind)

    def check_vectors(self, model):
        r = self.ok("export", "--vectors")
        lines = [json.loads(x) for x in r.out.splitlines()]
        vectors = stored_vectors(lines, m2v.DIM)
        self.assertEqual(len(vectors), len(DOCS))
        for text, v in vectors:
            ref = m2v.reference(model, text)
            for a, b in zip(v, ref):
                self.assertAlmostEqual(a, b, delta=1e-5, msg=text)

    def test_stored_vectors_equal_the_reference(self):
        for kind in ("wordpiece", "unigram"):
            for dtype in ("F32", "F16", "I8"):
                with self.subTest(kind=kind, dtype=dtype):
                    shutil.rmtree(self.index, ignore_errors=True)
                    model = self.model(dtype, kind)
                    self.ok("init", "--embedder", f"model2vec:{model}")
                    self.ok("-q", "ingest", self.write_jsonl("docs.jsonl", DOCS))
                    self.check_vectors(model)
                    self.ok("index", "verify")

    def test_queries_rank_by_the_model(self):
        model = self.model()
        self.ok("init", "--embedder", f"model2vec:{model}")
        self.ok("-q", "ingest", self.write_jsonl("docs.jsonl", DOCS))
        stored = dict(stored_vectors(
            [json.loads(x) for x in self.ok("export", "--vectors").out.splitlines()],
            m2v.DIM))
        for query in ("hello world", "unaffable", "the cafe"):
            q = m2v.reference(model, query)
            by_id = {}
            for d in DOCS:
                text = f"{d['title']}\n\n{d['text']}"
                by_id[d["_id"]] = sum(a * b for a, b in zip(q, stored[text]))
            expected = sorted(by_id, key=lambda i: (-by_id[i], i))
            r = self.ok("query", query, "--mode", "vector", "-k", "4", "--format", "json")
            got = [h["id"] for h in r.json()["results"]]
            self.assertEqual(got, expected, query)
            for h in r.json()["results"]:
                self.assertAlmostEqual(h["score"], by_id[h["id"]], delta=1e-5)
        # A query of no known token has nothing to search with; hybrid still has BM25.
        self.assertEqual(self.rk("query", "zzz", "--mode", "vector").code, 1)
        r = self.ok("query", "zzz", "--format", "json")
        self.assertEqual([h["id"] for h in r.json()["results"]], ["x"])

    def test_spec_is_stored_absolute(self):
        model = m2v.write_model(os.path.join(self.work, "m"))
        self.ok("init", "--embedder", "model2vec:m")
        self.assertEqual(self.stats()["settings"]["embedder"], f"model2vec:{model}")
        self.assertEqual(self.stats()["vectors"]["dimension"], m2v.DIM)

    def test_a_missing_or_changed_model_is_an_error(self):
        r = self.rk("init", "--embedder", f"model2vec:{self.path('nowhere')}")
        self.assertError(r, mentions=["nowhere"])
        model = self.model()
        self.ok("init", "--embedder", f"model2vec:{model}")
        self.ok("-q", "ingest", self.write_jsonl("docs.jsonl", DOCS))
        os.rename(os.path.join(model, "model.safetensors"), os.path.join(model, "moved"))
        # BM25 needs no model; what needs vectors says which file is missing.
        self.ok("query", "hello", "--mode", "bm25")
        for mode in ("vector", "hybrid"):
            r = self.rk("query", "hello", "--mode", mode)
            self.assertError(r, mentions=["model.safetensors"])
        # Nor do removing, optimizing and rebuilding (a model's vectors are kept); verify says
        # what it could not check.
        self.ok("rm", "x")
        self.ok("index", "optimize")
        self.ok("index", "rebuild")
        r = self.rk("index", "verify")
        self.assertEqual(r.code, 1, r)
        self.assertIn("model.safetensors", r.out)
        os.rename(os.path.join(model, "moved"), os.path.join(model, "model.safetensors"))
        self.ok("index", "verify")
        # Another model of another dimension under the same path is refused, never mixed.
        rows = len(m2v.WORDPIECE_VOCAB)
        data = struct.pack(f"<{rows * 4}f", *([0.5] * rows * 4))
        header = json.dumps({"embeddings": {"dtype": "F32", "shape": [rows, 4],
                                            "data_offsets": [0, len(data)]}}).encode()
        with open(os.path.join(model, "model.safetensors"), "wb") as f:
            f.write(struct.pack("<Q", len(header)) + header + data)
        r = self.rk("query", "hello", "--mode", "vector")
        self.assertError(r, mentions=["dimensions"])


if __name__ == "__main__":
    unittest.main()
