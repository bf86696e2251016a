"""rk mcp: the Model Context Protocol server, spoken to line by line (JSON-RPC 2.0).

The official SDK's client drives it in tests/mcp; here are the corners a well-behaved
client never reaches: malformed messages, notifications, batches, revisions.
"""

import json
import os
import select
import subprocess
import unittest

from rkcli import RkTestCase

INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "test", "version": "1"}}}


def req(id_, method, params=None):
    m = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        m["params"] = params
    return m


def call(id_, name, arguments=None):
    p = {"name": name}
    if arguments is not None:
        p["arguments"] = arguments
    return req(id_, "tools/call", p)


class McpProcess:
    """rk mcp as a child process, one request and its reply at a time."""

    def __init__(self, test, *args):
        self.p = subprocess.Popen(
            [test.RK, "--index", test.index, *args, "mcp"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=test.env, cwd=test.work)
        test.addCleanup(self.close)

    def send(self, msg):
        line = msg if isinstance(msg, (str, bytes)) else json.dumps(msg)
        if isinstance(line, str):
            line = line.encode()
        self.p.stdin.write(line + b"\n")
        self.p.stdin.flush()

    def read(self, timeout=30):
        ready, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not ready:
            raise AssertionError("no reply from rk mcp within %d s" % timeout)
        line = self.p.stdout.readline()
        if not line:
            raise AssertionError("rk mcp closed stdout: " + self.p.stderr.read().decode())
        return json.loads(line)

    def ask(self, msg):
        self.send(msg)
        return self.read()

    def close(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            self.p.wait(timeout=30)
        for f in (self.p.stdout, self.p.stderr):
            f.close()


class McpTest(RkTestCase):
    def setUp(self):
        super().setUp()
        self.write("work/retry.md", "# Retry\n\nExponential backoff doubles the wait.\n")
        self.write("work/cache.md", "# Cache\n\nLeast recently used eviction.\n")
        self.ok("ingest", "retry.md", "cache.md")

    def run_mcp(self, lines, *args):
        """Sends all `lines` on stdin, then EOF; returns (replies, stderr, exit code)."""
        data = "".join((m if isinstance(m, str) else json.dumps(m)) + "\n" for m in lines)
        r = self.rk(*args, "mcp", stdin=data)
        replies = [json.loads(line) for line in r.out.splitlines()]
        return replies, r.err, r.code

    def test_malformed_messages_get_json_rpc_errors_and_the_server_goes_on(self):
        lines = [
            "this is not json",                                   # parse error
            '{"jsonrpc": "2.0", "id": 1, "method": "ping"',        # truncated: parse error
            '[{"jsonrpc": "2.0", "id": 2, "method": "ping"}]',     # a batch: invalid request
            "42",                                                 # not an object
            {"id": 3, "method": "ping"},                          # no jsonrpc
            {"jsonrpc": "1.0", "id": 4, "method": "ping"},        # wrong version
            {"jsonrpc": "2.0", "id": 5, "method": 7},             # method not a string
            {"jsonrpc": "2.0", "id": {"x": 1}, "method": "ping"},  # id neither string nor int
            req(6, "resources/list"),                             # method not found
            {"jsonrpc": "2.0", "id": 7, "method": "ping", "params": 3},  # params not structured
            {"jsonrpc": "2.0", "id": 71, "method": "ping", "params": [1]},  # positional params
            req(8, "initialize", {}),                             # no protocolVersion
            req(9, "tools/call", {"arguments": {}}),              # no tool name
            call(10, "frobnicate", {}),                           # unknown tool
            req(11, "tools/call", {"name": "search", "arguments": [1]}),  # arguments not object
            {"jsonrpc": "2.0", "method": "notifications/initialized"},   # no reply
            {"jsonrpc": "2.0", "method": "no/such/notification"},        # no reply either
            {"jsonrpc": "2.0", "id": 99, "result": {}},           # a response: no reply
            "",                                                   # blank lines are skipped
            req("last", "ping"),
        ]
        replies, err, code = self.run_mcp(lines)
        self.assertEqual(code, 0, err)
        self.assertEqual(err, "", "stderr without -v should be quiet")
        got = [(r["id"], r["error"]["code"]) if "error" in r else (r["id"], r["result"])
               for r in replies]
        self.assertEqual(got, [
            (None, -32700), (None, -32700), (None, -32600), (None, -32600),
            (3, -32600), (4, -32600), (5, -32600), (None, -32600), (6, -32601),
            (7, -32600), (71, -32602), (8, -32602), (9, -32602), (10, -32602), (11, -32602),
            ("last", {}),
        ])
        for r in replies:
            self.assertEqual(r["jsonrpc"], "2.0")
            if "error" in r:
                self.assertIsInstance(r["error"]["message"], str)
                self.assertTrue(r["error"]["message"])

    def test_protocol_revision_negotiation(self):
        for asked, served in [("2025-06-18", "2025-06-18"), ("2025-11-25", "2025-11-25"),
                              ("2024-11-05", "2025-11-25"), ("1999-01-01", "2025-11-25")]:
            init = json.loads(json.dumps(INIT))
            init["params"]["protocolVersion"] = asked
            replies, err, code = self.run_mcp([init])
            self.assertEqual(code, 0, err)
            res = replies[0]["result"]
            self.assertEqual(res["protocolVersion"], served, asked)
            self.assertEqual(res["serverInfo"]["name"], "rk")
            self.assertEqual(res["capabilities"], {"tools": {"listChanged": False}})

    def test_tools_and_their_schemas(self):
        replies, _, _ = self.run_mcp([INIT, req(1, "tools/list")])
        tools = {t["name"]: t for t in replies[1]["result"]["tools"]}
        self.assertEqual(sorted(tools), ["get", "search", "stats"])
        for t in tools.values():
            self.assertEqual(t["inputSchema"]["type"], "object")
            self.assertEqual(t["outputSchema"]["type"], "object")
            self.assertFalse(t["inputSchema"]["additionalProperties"])
        self.assertEqual(tools["search"]["inputSchema"]["required"], ["query"])
        self.assertEqual(tools["get"]["inputSchema"]["required"], ["id"])

    def test_tool_results_are_structured_with_a_text_block(self):
        replies, _, _ = self.run_mcp([
            INIT,
            call(1, "search", {"query": "backoff", "mode": "bm25", "k": 3}),
            call(2, "stats"),
            call(3, "get", {"id": "retry.md", "start_line": 3}),
            call(4, "get", {"id": "missing.md"}),
            call(5, "search", {"query": "backoff", "mode": "sideways"}),
            call(6, "search", {"query": "   "}),
            call(7, "get", {"id": "retry.md", "start_line": 9}),
            call(8, "get", {"id": "retry.md", "start_line": 3, "end_line": 2}),
            call(9, "stats", {"verbose": True}),
            call(10, "search", {"query": "retry " * 700}),
        ])
        by_id = {r["id"]: r["result"] for r in replies if "id" in r}
        search = by_id[1]
        self.assertFalse(search["isError"])
        self.assertEqual(json.loads(search["content"][0]["text"]), search["structuredContent"])
        hits = search["structuredContent"]["results"]
        self.assertEqual([h["id"] for h in hits], [os.path.join(self.work, "retry.md")])
        self.assertEqual(by_id[2]["structuredContent"]["documents"], 2)
        self.assertEqual(by_id[3]["structuredContent"]["text"],
                         "Exponential backoff doubles the wait.\n")
        for i, mention in [(4, "no document or chunk 'missing.md'"), (5, "unknown mode"),
                           (6, "the query is empty"), (7, "past the end"),
                           (8, "before 'start_line'"), (9, "unknown argument 'verbose'"),
                           (10, "longer than 4096 bytes")]:
            self.assertTrue(by_id[i]["isError"], by_id[i])
            self.assertNotIn("structuredContent", by_id[i])
            self.assertIn(mention, by_id[i]["content"][0]["text"])

    def test_verbose_logs_on_stderr_only(self):
        replies, err, code = self.run_mcp([INIT, req(1, "ping"), "nonsense"], "-v")
        self.assertEqual(code, 0)
        self.assertEqual(len(replies), 3)
        self.assertIn("rk: mcp: initialize", err)
        self.assertIn("-32700", err)

    def test_changes_by_another_process_are_seen_by_later_calls(self):
        mcp = McpProcess(self)
        self.assertEqual(mcp.ask(INIT)["result"]["protocolVersion"], "2025-06-18")
        mcp.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        q = {"query": "zeppelin", "mode": "bm25"}
        self.assertEqual(mcp.ask(call(1, "search", q))["result"]["structuredContent"]["results"],
                         [])
        self.write("work/airship.md", "# Airship\n\nA zeppelin floats.\n")
        self.ok("ingest", "airship.md")
        hits = mcp.ask(call(2, "search", q))["result"]["structuredContent"]["results"]
        self.assertEqual([h["id"] for h in hits], [os.path.join(self.work, "airship.md")])
        self.ok("rm", "airship.md")
        self.assertEqual(mcp.ask(call(3, "search", q))["result"]["structuredContent"]["results"],
                         [])
        stats = mcp.ask(call(4, "stats"))["result"]["structuredContent"]
        self.assertEqual(stats["documents"], 2)

    def test_no_index_is_an_error_at_start(self):
        r = self.rk("mcp", index=self.path("nowhere"), stdin="")
        self.assertError(r)
        self.assertNoStdout(r)


if __name__ == "__main__":
    unittest.main()
