"""rk serve: the HTTP JSON API, over loopback, with urllib and curl."""

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from rkcli import RkTestCase, TIMEOUT


class Server:
    """rk serve --port 0, started and its URL read from stderr."""

    def __init__(self, test, *args):
        self.p = subprocess.Popen(
            [test.RK, "--index", test.index, "serve", "--port", "0", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=test.env, cwd=test.work)
        test.addCleanup(self.kill)
        line = self.p.stderr.readline().decode()
        if not line.startswith("rk: serving on http://127.0.0.1:"):
            self.kill()
            raise AssertionError(f"rk serve did not start: {line!r}")
        self.url = line.split()[-1]

    def stop(self, sig=signal.SIGTERM):
        self.p.send_signal(sig)
        code = self.p.wait(timeout=30)
        out, err = self.p.stdout.read(), self.p.stderr.read()
        self.p.stdout.close()
        self.p.stderr.close()
        return code, out, err

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
            self.p.stdout.close()
            self.p.stderr.close()


def fetch(url, data=None, method=None):
    """(status, parsed JSON body, content type) of one request; HTTP errors included."""
    r = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        r.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, json.loads(resp.read()), resp.headers["Content-Type"]
    except urllib.error.HTTPError as e:
        body = e.read()
        ctype = e.headers["Content-Type"]
        e.close()
        return e.code, json.loads(body), ctype


def q(**params):
    return urllib.parse.urlencode(params, doseq=True)


class ServeTest(RkTestCase):
    def setUp(self):
        super().setUp()
        self.retry = self.write("work/docs/retry.md",
                                "# Retry\n\nExponential backoff doubles the wait.\n\n"
                                "## Limits\n\nGive up after five tries.\n")
        self.write("work/docs/cache #1.md", "# Cache\n\nLeast recently used eviction.\n")
        self.write_jsonl("work/notes.jsonl", [
            {"_id": "n1", "title": "Backoff note", "text": "backoff with jitter", "lang": "en"},
            {"_id": "n2", "title": "Note deux", "text": "backoff avec gigue", "lang": "fr"},
        ])
        self.ok("ingest", "-r", "docs")
        self.ok("ingest", "notes.jsonl", "--collection", "notes")
        self.srv = Server(self)

    def test_health_stats_and_search(self):
        status, body, ctype = fetch(self.srv.url + "/health")
        self.assertEqual((status, body["status"]), (200, "ok"))
        self.assertEqual(ctype, "application/json")
        status, body, _ = fetch(self.srv.url + "/stats")
        self.assertEqual((status, body["documents"]), (200, 4))
        self.assertEqual(body["collections"], {"default": 2, "notes": 2})

        status, body, _ = fetch(self.srv.url + "/search?" + q(q="backoff", mode="bm25", k=10))
        self.assertEqual(status, 200)
        self.assertEqual(body["mode"], "bm25")
        self.assertEqual(sorted(h["id"] for h in body["results"]), sorted(["n1", "n2", self.retry]))
        self.assertEqual([h["rank"] for h in body["results"]], [1, 2, 3])
        for h in body["results"]:
            self.assertIn("backoff", h["snippet"].lower())

        status, body, _ = fetch(self.srv.url + "/search?" + q(
            q="backoff", mode="bm25", collection="notes", where="lang=fr", explain=1))
        self.assertEqual([h["id"] for h in body["results"]], ["n2"])
        self.assertIn("signals", body["results"][0])
        status, body, _ = fetch(self.srv.url + "/search?" + q(
            q="tries", mode="bm25", chunks="true", path="*/docs/*"))
        self.assertEqual([(h["id"], h["chunk"]) for h in body["results"]], [(self.retry, 1)])
        # Repeated **/ once took exponential time, holding a worker; globs are linear now.
        status, body, _ = fetch(self.srv.url + "/search?" + q(
            q="backoff", mode="bm25", path="**/" * 300 + "retry.md"))
        self.assertEqual([h["id"] for h in body["results"]], [self.retry])

    def test_post_search_takes_the_mcp_arguments(self):
        body = json.dumps({"query": "backoff", "mode": "bm25", "k": 1,
                           "where": {"lang": "en"}}).encode()
        status, res, _ = fetch(self.srv.url + "/search", data=body)
        self.assertEqual(status, 200, res)
        self.assertEqual([h["id"] for h in res["results"]], ["n1"])

    def test_get_documents_chunks_and_lines(self):
        enc = urllib.parse.quote(self.retry, safe="")
        status, doc, _ = fetch(self.srv.url + "/docs/" + enc)
        self.assertEqual(status, 200)
        with open(self.retry, encoding="utf-8") as f:
            self.assertEqual(doc["text"], f.read())
        status, doc, _ = fetch(self.srv.url + "/docs/" + enc + "?chunk=1")
        self.assertEqual((doc["chunk"], doc["heading"]), (1, "Retry > Limits"))
        status, same, _ = fetch(self.srv.url + "/docs/" + urllib.parse.quote(self.retry + "#1",
                                                                             safe=""))
        self.assertEqual(same["text"], doc["text"])
        status, doc, _ = fetch(self.srv.url + "/docs/" + enc + "?start_line=3&end_line=3")
        self.assertEqual(doc["text"], "Exponential backoff doubles the wait.\n")
        # An id with a space and a '#' that is part of the file's name.
        cache = os.path.join(self.work, "docs", "cache #1.md")
        status, doc, _ = fetch(self.srv.url + "/docs/" + urllib.parse.quote(cache, safe=""))
        self.assertEqual((status, doc["id"]), (200, cache))
        status, doc, _ = fetch(self.srv.url + "/docs/n1")
        self.assertEqual((status, doc["title"], doc["meta"]), (200, "Backoff note", {"lang": "en"}))

    def test_errors_have_json_bodies_and_proper_statuses(self):
        u = self.srv.url
        cases = [
            (u + "/search", None, 400, "'q' is required"),
            (u + "/search?" + q(q="x", k=0), None, 400, "'k' must be an integer"),
            (u + "/search?" + q(q="x", k="many"), None, 400, "'k' must be an integer"),
            (u + "/search?" + q(q="x", mode="sideways"), None, 400, "unknown mode"),
            (u + "/search?" + q(q="x", where="nokey"), None, 400, "KEY=VALUE"),
            (u + "/search?" + q(q="x", colour="red"), None, 400, "unknown argument 'colour'"),
            (u + "/search?" + q(q="x", chunks="maybe"), None, 400, "true or false"),
            (u + "/search", b"{not json", 400, "not valid JSON"),
            (u + "/search", b"[1, 2]", 400, "must be a JSON object"),
            (u + "/search", b'{"query": 3}', 400, "'query' must be a string"),
            (u + "/search?" + q(q="retry " * 700), None, 400, "longer than 4096 bytes"),
            (u + "/search", json.dumps({"query": "retry " * 700}).encode(), 400,
             "longer than 4096 bytes"),
            (u + "/docs/nope", None, 404, "no document or chunk 'nope'"),
            (u + "/docs/n1?chunk=7", None, 404, "no document or chunk"),
            (u + "/docs/n1?start_line=50", None, 400, "past the end"),
            (u + "/docs/n1?line=2", None, 400, "unknown argument 'line'"),
            (u + "/no/such/route", None, 404, "not found"),
            (u + "/stats", b"{}", 405, "method not allowed"),
            (u + "/health", b"", 405, "GET, HEAD"),
            (u + "/search", b"x" * (2 << 20), 413, "too large"),
        ]
        for url, data, want, mention in cases:
            with self.subTest(url=url[len(u):], data=(data or b"")[:20]):
                status, body, ctype = fetch(url, data=data)
                self.assertEqual(status, want, body)
                self.assertEqual(ctype, "application/json")
                self.assertEqual(body["error"]["status"], want)
                self.assertIn(mention, body["error"]["message"])

    def test_curl(self):
        curl = shutil.which("curl")
        if curl is None:
            self.fail("curl is not installed (tools/run test installs it)")
        r = subprocess.run([curl, "-sS", "-G", "--data-urlencode", "q=exponential backoff",
                            "-d", "mode=bm25", "-d", "k=1", "-w", "\n%{http_code}\n",
                            self.srv.url + "/search"],
                           capture_output=True, text=True, timeout=TIMEOUT)
        body, code = r.stdout.rsplit("\n", 2)[:2]
        self.assertEqual(code, "200", r)
        self.assertEqual([h["id"] for h in json.loads(body)["results"]], [self.retry])
        r = subprocess.run([curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                            self.srv.url + "/docs/%2Fnowhere"], capture_output=True, text=True,
                           timeout=TIMEOUT)
        self.assertEqual(r.stdout, "404")

    def test_what_curl_and_clients_send_is_taken_as_meant(self):
        # rk-serve(1)'s own example: `-d where=lang=en`, the '=' of the value not encoded.
        r = subprocess.run(["curl", "-sS", "-G", "-d", "q=backoff", "-d", "mode=bm25",
                            "-d", "where=lang=en", self.srv.url + "/search"],
                           capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual([h["id"] for h in json.loads(r.stdout)["results"]], ["n1"], r)
        # '+' and %20 are spaces; an encoded '&' and '=' stay in the value.
        status, body, _ = fetch(self.srv.url + "/search?q=exponential+backoff%20wait&mode=bm25"
                                "&k=1")
        self.assertEqual((status, body["query"]), (200, "exponential backoff wait"))
        status, body, _ = fetch(self.srv.url + "/search?q=a%26b%3Dc&mode=bm25")
        self.assertEqual(body["query"], "a&b=c")
        # A Range header is ignored: the reply is the whole JSON document.
        for rng in ("bytes=0-1", "bytes=99999-"):
            req = urllib.request.Request(self.srv.url + "/search?" + q(q="backoff", k=1),
                                         headers={"Range": rng})
            with urllib.request.urlopen(req, timeout=30) as resp:
                self.assertEqual(resp.status, 200)
                self.assertEqual(json.loads(resp.read())["results"][0]["rank"], 1)
        # Another method on a known path: 405 and the methods it takes.
        for method, path, allowed in (("PUT", "/search", "GET, HEAD, POST"),
                                      ("DELETE", "/docs/n1", "GET, HEAD"),
                                      ("PATCH", "/stats", "GET, HEAD")):
            req = urllib.request.Request(self.srv.url + path, data=b"", method=method)
            with self.assertRaises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(req, timeout=30)
            self.assertEqual((e.exception.code, e.exception.headers["Allow"]), (405, allowed))
            self.assertEqual(json.loads(e.exception.read())["error"]["status"], 405)
            e.exception.close()

    def test_bad_or_oversized_length_answered_before_any_body(self):
        # The client sends headers only, asking to keep the connection, and a second request
        # right behind them: the reply must not wait for a body that never comes (the
        # server's read timeout is 60 s; the client gives up after 20), the server ends the
        # connection after it (recv() reads the reply, then the end of the stream), and what
        # followed the headers is dropped as the refused body, not answered as a request.
        srv = Server(self, "--timeout", "60")
        host, port = srv.url[len("http://"):].rsplit(":", 1)
        behind = f"GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n"
        for method, path, length, want in (
                ("POST", "/search", "-1", 400), ("POST", "/search", "abc", 400),
                ("POST", "/search", "1e3", 400), ("POST", "/search", str(2 << 20), 413),
                ("POST", "/search", str(10**15), 413), ("GET", "/stats", str(2 << 20), 413),
                ("HEAD", "/search", str(2 << 20), 413), ("PUT", "/nowhere", "-1", 400)):
            with self.subTest(method=method, length=length):
                with socket.create_connection((host, int(port)), timeout=20) as s:
                    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n"
                              f"Connection: keep-alive\r\nContent-Type: application/json\r\n"
                              f"Content-Length: {length}\r\n\r\n{behind}".encode())
                    reply = b""
                    while chunk := s.recv(4096):
                        reply += chunk
                head, _, body = reply.partition(b"\r\n\r\n")
                self.assertTrue(head.startswith(f"HTTP/1.1 {want} ".encode()), reply)
                self.assertEqual(reply.count(b"HTTP/1.1 "), 1, reply)
                self.assertIn(b"Connection: close", head)
                self.assertNotIn(b"Keep-Alive", head)
                if method == "HEAD":
                    self.assertEqual(body, b"")
                else:
                    self.assertEqual(json.loads(body)["error"]["status"], want)
        # A client that sends its oversized body anyway, in pieces, gets the reply whole
        # (what it sends after is read and dropped, not answered with a reset).
        with socket.create_connection((host, int(port)), timeout=20) as s:
            s.sendall(f"POST /search HTTP/1.1\r\nHost: {host}\r\n"
                      f"Content-Type: application/json\r\n"
                      f"Content-Length: {3 << 20}\r\n\r\n".encode())
            for _ in range(48):
                s.sendall(b"x" * (64 << 10))
            reply = b""
            while chunk := s.recv(4096):
                reply += chunk
        head, _, body = reply.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 413 "), reply)
        self.assertIn("--max-body is 1048576", json.loads(body)["error"]["message"])
        status, _, _ = fetch(srv.url + "/health")
        self.assertEqual(status, 200)

    def test_a_client_that_asks_first_is_told_413_before_sending(self):
        # Expect: 100-continue with a length over --max-body (1 MiB): 413 at once, no body
        # read, and the connection open for the next request. Under the limit the client is
        # told to go on.
        srv = Server(self, "--timeout", "60")
        host, port = srv.url[len("http://"):].rsplit(":", 1)

        def read(s, until, reply=b""):
            while not until(reply):
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
            return reply

        def whole(reply):  # headers and a JSON body
            return b"\r\n\r\n" in reply and reply.rstrip().endswith(b"}")

        def ask(length):
            s = socket.create_connection((host, int(port)), timeout=20)
            s.sendall(f"POST /search HTTP/1.1\r\nHost: {host}\r\nRange: bytes=0-1\r\n"
                      f"Content-Type: application/json\r\nExpect: 100-continue\r\n"
                      f"Content-Length: {length}\r\n\r\n".encode())
            return s, read(s, lambda r: b"\r\n\r\n" in r)

        s, reply = ask(2 << 20)
        with s:
            head, _, body = read(s, whole, reply).partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 413 "), head)
            self.assertNotIn(b"Connection: close", head)
            error = json.loads(body)["error"]  # whole: the Range header is not applied
            self.assertEqual(error["status"], 413)
            self.assertIn("too large (2097152 bytes; --max-body is 1048576)", error["message"])
            s.sendall(f"GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            self.assertTrue(read(s, whole).startswith(b"HTTP/1.1 200 "))
        body = json.dumps({"query": "retry", "mode": "bm25"}).encode()
        s, reply = ask(len(body))
        with s:
            self.assertTrue(reply.startswith(b"HTTP/1.1 100 "), reply)
            s.sendall(body)
            head, _, answer = read(s, whole).partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
            self.assertEqual(json.loads(answer)["results"][0]["id"], self.retry)

    def test_sigterm_and_sigint_stop_cleanly(self):
        fetch(self.srv.url + "/health")
        code, out, err = self.srv.stop(signal.SIGTERM)
        self.assertEqual(code, 0, err)
        self.assertEqual(out, b"")
        self.assertIn(b"rk: stopped", err)
        srv = Server(self, "-q")
        fetch(srv.url + "/stats")
        code, _, err = srv.stop(signal.SIGINT)
        self.assertEqual(code, 0, err)

    def test_a_port_in_use_is_an_error(self):
        port = self.srv.url.rsplit(":", 1)[1]
        r = self.rk("serve", "--port", port, timeout=60)
        self.assertError(r, mentions=["cannot listen on 127.0.0.1:" + port])

    def test_no_index_is_an_error(self):
        r = self.rk("serve", "--port", "0", index=self.path("nowhere"), timeout=60)
        self.assertError(r)

    def test_concurrent_requests_while_ingest_runs(self):
        """Hundreds of requests from several threads while `rk ingest` writes: no errors."""
        for i in range(300):
            self.write(f"work/more/doc{i:03d}.md",
                       f"# Document {i}\n\nbackoff number {i} of the batch, word{i}.\n" * 20)
        errors, done, during = [], [], []
        stop = threading.Event()
        started = threading.Barrier(7)

        def client(n):
            urls = [self.srv.url + "/search?" + q(q="backoff", mode="bm25", k=5),
                    self.srv.url + "/docs/n1", self.srv.url + "/stats",
                    self.srv.url + "/search?" + q(q="word7 OR eviction", k=3)]
            count = while_ingest = 0
            while not stop.is_set() or count < 50:
                url = urls[(n + count) % len(urls)]
                try:
                    status, body, _ = fetch(url)
                    if status != 200:
                        errors.append((url, status, body))
                except Exception as e:  # noqa: BLE001 - every failure counts
                    errors.append((url, repr(e)))
                count += 1
                if count == 1:
                    started.wait(timeout=60)
                elif not stop.is_set():
                    while_ingest += 1
            done.append(count)
            during.append(while_ingest)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        try:
            started.wait(timeout=60)
            # Three writers one after another: several commits while the requests go on.
            for part in range(3):
                r = self.rk("ingest", "-r", "more", "--jobs", "1",
                            "--include", f"doc{part}*.md")
                if r.code != 0:
                    break
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=120)
        self.assertGreater(sum(during), 0, "no request was served while ingest ran")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(errors, [])
        self.assertGreaterEqual(sum(done), 300)
        status, body, _ = fetch(self.srv.url + "/stats")
        self.assertEqual(body["documents"], 304)
        status, body, _ = fetch(self.srv.url + "/search?" + q(q="word299", mode="bm25"))
        self.assertEqual([h["id"] for h in body["results"]],
                         [os.path.join(self.work, "more", "doc299.md")])


if __name__ == "__main__":
    unittest.main()
