#!/usr/bin/env python3
"""A loopback stand-in for embedding and reranking services, for rk's CLI tests.

  fake_service.py --log FILE [--dim N] [--fault NAME] [--fault-times N] [--fault-after N]
                  [--retry-after S]
                  [--slow S] [--rerank reverse|overlap|tei]

Listens on 127.0.0.1 on a free port and prints "port N" on stdout. Speaks
  POST /v1/embeddings   OpenAI: {"model", "input": [...]} -> {"data": [{"index", "embedding"}]}
  POST /api/embed       Ollama: {"model", "input": [...]} -> {"embeddings": [[...]]}
  POST /v1/rerank       Jina/Cohere: {"model", "query", "documents", "top_n"}
                        -> {"results": [{"index", "relevance_score"}]} (tei: a bare array of
                        {"index", "score"})
  POST /_control        changes the settings below at run time (a JSON object of them)
Embeddings are a hashed bag of words: each lower-cased word adds +-1 to one of N dimensions,
so texts that share words are near, and vector search answers sensibly. The reranker's
"overlap" scores each document by the query words it holds; "reverse" ranks them last to
first, which no fusion would.

Every request is appended to the log as one JSON line: {"path", "headers", "body"} (body
parsed when it is JSON, else the raw text).

Faults (--fault, for the first --fault-times requests, default all, after the first
--fault-after requests, default none, have been served well; /_control excluded):
  slow (sleep --slow seconds first), 429 (with Retry-After), 500, malformed (not JSON),
  wrong-dim (vectors one dimension short), wrong-count (one vector too few), 401, 404.
"""

import argparse
import hashlib
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WORD = re.compile(r"[a-z0-9]+")


def embed(text, dim):
    v = [0.0] * dim
    for w in WORD.findall(text.lower()):
        h = int.from_bytes(hashlib.sha256(w.encode()).digest()[:8], "little")
        v[h % dim] += 1.0 if (h >> 32) & 1 else -1.0
    return v


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.settings = {
            "dim": args.dim, "fault": args.fault, "fault_times": args.fault_times,
            "retry_after": args.retry_after, "slow": args.slow, "rerank": args.rerank,
            "fault_after": args.fault_after,
        }
        self.faulted = 0
        self.served = 0
        self.log = open(args.log, "a", encoding="utf-8")

    def record(self, path, headers, body):
        with self.lock:
            self.log.write(json.dumps({"path": path, "headers": headers, "body": body}) + "\n")
            self.log.flush()

    def fault(self):
        """The fault for this request, or None; counts it."""
        with self.lock:
            s = self.settings
            self.served += 1
            if not s["fault"] or self.served <= (s["fault_after"] or 0):
                return None
            if s["fault_times"] is not None and self.faulted >= s["fault_times"]:
                return None
            self.faulted += 1
            return s["fault"]


def handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, body, headers=None):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            text = raw.decode("utf-8", errors="replace")
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            if self.path == "/_control":
                with state.lock:
                    state.settings.update(body or {})
                    state.faulted = 0
                    state.served = 0
                return self.reply(200, {"ok": True})
            state.record(self.path, dict(self.headers.items()),
                         body if body is not None else text)
            if body is None:
                return self.reply(400, {"error": {"message": "the body is not JSON"}})
            with state.lock:
                s = dict(state.settings)
            fault = state.fault()
            if fault == "slow":
                time.sleep(s["slow"])
            elif fault == "429":
                return self.reply(429, {"error": {"message": "slow down"}},
                                  {"Retry-After": str(s["retry_after"])})
            elif fault == "500":
                return self.reply(500, {"error": {"message": "the model fell over"}})
            elif fault == "401":
                return self.reply(401, {"error": {"message": "bad key"}})
            elif fault == "404":
                return self.reply(404, {"error": {"message": "model not found"}})
            elif fault == "malformed":
                return self.reply(200, b'{"data": [1, 2,')
            if self.path in ("/v1/embeddings", "/api/embed"):
                inputs = body.get("input", [])
                if isinstance(inputs, str):
                    inputs = [inputs]
                dim = s["dim"] - (1 if fault == "wrong-dim" else 0)
                vectors = [embed(t, s["dim"])[:dim] for t in inputs]
                if fault == "wrong-count":
                    vectors = vectors[:-1]
                if self.path == "/api/embed":
                    return self.reply(200, {"model": body.get("model"), "embeddings": vectors})
                # Reversed, so that a client that ignores "index" gets them wrong.
                data = [{"object": "embedding", "index": i, "embedding": v}
                        for i, v in enumerate(vectors)]
                return self.reply(200, {"object": "list", "data": data[::-1],
                                        "model": body.get("model")})
            if self.path == "/v1/rerank":
                docs = body.get("documents", [])
                if s["rerank"] == "reverse":
                    n = len(docs)
                    scored = [(i, (i + 1) / n) for i in range(n)]
                else:
                    q = set(WORD.findall(body.get("query", "").lower()))
                    scored = [(i, len(q & set(WORD.findall(d.lower()))) / (1 + len(q)))
                              for i, d in enumerate(docs)]
                scored.sort(key=lambda p: -p[1])
                scored = scored[:body.get("top_n", len(scored))]
                if fault == "wrong-count":
                    scored = scored + [(len(docs), 1.0)]
                if s["rerank"] == "tei":
                    return self.reply(200, [{"index": i, "score": sc} for i, sc in scored])
                return self.reply(200, {"results": [{"index": i, "relevance_score": sc}
                                                    for i, sc in scored]})
            return self.reply(404, {"error": {"message": f"no route {self.path}"}})

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--fault", default="")
    ap.add_argument("--fault-times", type=int, default=None)
    ap.add_argument("--fault-after", type=int, default=None)
    ap.add_argument("--retry-after", type=int, default=1)
    ap.add_argument("--slow", type=float, default=5)
    ap.add_argument("--rerank", default="overlap", choices=["overlap", "reverse", "tei"])
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(State(args)))
    server.daemon_threads = True
    print(f"port {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
