// Drives `rk mcp` with the official MCP TypeScript SDK's client: a client that no one on
// this project wrote. The SDK checks the protocol, and validates each tool's
// structuredContent against the outputSchema that tools/list declared.
//
// Run: RK_BIN=build/release/apps/rk/rk node --test tests/mcp/client.test.mjs
// (after `npm ci` in tests/mcp; tools/run test does both).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { McpError, LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";

const RK = process.env.RK_BIN;
if (!RK) throw new Error("RK_BIN is not set: point it at the rk binary");

const tmp = mkdtempSync(join(tmpdir(), "rk-mcp-test-"));
const index = join(tmp, "index");
const env = { HOME: tmp, XDG_DATA_HOME: tmp, NO_COLOR: "1", LC_ALL: "C.UTF-8", PATH: process.env.PATH };
const docs = {
    "retry.md": "# Retry with backoff\n\nEach retry doubles the wait: exponential backoff.\nA jitter spreads the clients.\n\n## Limits\n\nGive up after five tries.\n",
    "cache.md": "# Caching\n\nA cache keeps recent answers in memory.\nEviction is least recently used.\n",
};

function rk(...args) {
    return execFileSync(RK, ["--index", index, ...args], { env, cwd: tmp, encoding: "utf8" });
}

let client;
let transport;
const stderr = [];

before(async () => {
    for (const [name, text] of Object.entries(docs)) writeFileSync(join(tmp, name), text);
    rk("ingest", "-q", join(tmp, "retry.md"), join(tmp, "cache.md"));
    transport = new StdioClientTransport({
        command: RK,
        args: ["--index", index, "-v", "mcp"],
        env,
        cwd: tmp,
        stderr: "pipe",
    });
    transport.stderr.on("data", (d) => stderr.push(d.toString()));
    client = new Client({ name: "rk-test-client", version: "1.0.0" });
    await client.connect(transport);
});

after(async () => {
    await client?.close();
    rmSync(tmp, { recursive: true, force: true });
});

test("initialize: rk names itself and negotiates the SDK's newest revision", async () => {
    assert.equal(client.getServerVersion().name, "rk");
    assert.ok(client.getServerCapabilities().tools, "no tools capability");
    assert.match(client.getInstructions() ?? "", /search/);
    // rk -v logs the revision it chose (the SDK checked it is one it supports).
    const want = `serving ${LATEST_PROTOCOL_VERSION}`;
    for (let i = 0; i < 100 && !stderr.join("").includes(want); i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(stderr.join("").includes(want), stderr.join(""));
});

test("tools/list: search, get and stats, each with input and output schemas", async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ["get", "search", "stats"]);
    for (const t of tools) {
        assert.equal(t.inputSchema.type, "object", t.name);
        assert.equal(t.outputSchema?.type, "object", t.name);
        assert.ok(t.description.length > 20, t.name);
    }
    const search = tools.find((t) => t.name === "search");
    assert.deepEqual(search.inputSchema.required, ["query"]);
});

test("search: ranked hits with ids, paths, scores and snippets, validated by the SDK", async () => {
    const r = await client.callTool({
        name: "search",
        arguments: { query: "exponential backoff", mode: "bm25", k: 5, explain: true },
    });
    assert.equal(r.isError, false);
    const sc = r.structuredContent;
    assert.equal(sc.query, "exponential backoff");
    assert.equal(sc.mode, "bm25");
    assert.equal(sc.results.length, 1);
    const hit = sc.results[0];
    assert.equal(hit.rank, 1);
    assert.equal(hit.id, join(tmp, "retry.md"));
    assert.equal(hit.source, join(tmp, "retry.md"));
    assert.equal(hit.title, "Retry with backoff");
    assert.ok(hit.score > 0);
    assert.match(hit.snippet, /backoff/);
    assert.deepEqual(Object.keys(hit.signals).sort(), ["bm25", "vector"]);
    // The text block carries the same result, for clients that read only text.
    assert.equal(r.content[0].type, "text");
    assert.deepEqual(JSON.parse(r.content[0].text), sc);
});

test("search: filters and chunk hits", async () => {
    const r = await client.callTool({
        name: "search",
        arguments: { query: "tries", mode: "bm25", chunks: true, path: "*retry*", collection: "default" },
    });
    assert.equal(r.isError, false);
    assert.equal(r.structuredContent.results[0].heading, "Retry with backoff > Limits");
    const none = await client.callTool({
        name: "search",
        arguments: { query: "cache", mode: "bm25", where: { lang: "fr" } },
    });
    assert.deepEqual(none.structuredContent.results, []);
});

test("search: bad arguments are a tool error the model can read", async () => {
    const r = await client.callTool({ name: "search", arguments: { query: "x", k: 0 } });
    assert.equal(r.isError, true);
    assert.match(r.content[0].text, /'k' must be an integer from 1 to 1000/);
    const r2 = await client.callTool({ name: "search", arguments: { query: "x", colour: "red" } });
    assert.equal(r2.isError, true);
    assert.match(r2.content[0].text, /unknown argument 'colour'/);
});

test("get: a whole document, one chunk, and a line range", async () => {
    const path = join(tmp, "retry.md");
    const whole = await client.callTool({ name: "get", arguments: { id: path } });
    assert.equal(whole.isError, false);
    assert.equal(whole.structuredContent.text, docs["retry.md"]);
    assert.equal(whole.structuredContent.chunk_list.length, whole.structuredContent.chunks);

    const chunk = await client.callTool({ name: "get", arguments: { id: `${path}#1` } });
    assert.equal(chunk.structuredContent.chunk, 1);
    assert.equal(chunk.structuredContent.heading, "Retry with backoff > Limits");
    assert.match(chunk.structuredContent.text, /Give up after five tries/);
    const same = await client.callTool({ name: "get", arguments: { id: path, chunk: 1 } });
    assert.equal(same.structuredContent.text, chunk.structuredContent.text);

    const lines = await client.callTool({ name: "get", arguments: { id: path, start_line: 3, end_line: 4 } });
    assert.equal(lines.structuredContent.text, "Each retry doubles the wait: exponential backoff.\nA jitter spreads the clients.\n");
    assert.equal(lines.structuredContent.total_lines, 8);
});

test("get: an unknown document is a tool error, not a protocol error", async () => {
    const r = await client.callTool({ name: "get", arguments: { id: "no-such-doc" } });
    assert.equal(r.isError, true);
    assert.match(r.content[0].text, /no document or chunk 'no-such-doc'/);
    assert.equal(r.structuredContent, undefined);
});

test("stats: what the index holds", async () => {
    const r = await client.callTool({ name: "stats", arguments: {} });
    assert.equal(r.structuredContent.documents, 2);
    assert.equal(r.structuredContent.collections.default, 2);
});

test("an unknown tool is invalid params (-32602); ping answers", async () => {
    await assert.rejects(client.callTool({ name: "nope", arguments: {} }), (e) => e instanceof McpError && e.code === -32602);
    await client.ping();
});

test("a document ingested by another process meanwhile is found by the next call", async () => {
    const before = await client.callTool({ name: "search", arguments: { query: "zeppelin", mode: "bm25" } });
    assert.deepEqual(before.structuredContent.results, []);
    writeFileSync(join(tmp, "airship.md"), "# Airships\n\nA zeppelin floats on hydrogen.\n");
    rk("ingest", "-q", join(tmp, "airship.md"));
    const r = await client.callTool({ name: "search", arguments: { query: "zeppelin", mode: "bm25" } });
    assert.equal(r.structuredContent.results[0].id, join(tmp, "airship.md"));
    const doc = await client.callTool({ name: "get", arguments: { id: join(tmp, "airship.md") } });
    assert.equal(doc.structuredContent.text, readFileSync(join(tmp, "airship.md"), "utf8"));
    const stats = await client.callTool({ name: "stats", arguments: {} });
    assert.equal(stats.structuredContent.documents, 3);
});

test("many calls over one open index", async () => {
    const t0 = performance.now();
    const n = 200;
    for (let i = 0; i < n; i++) {
        const r = await client.callTool({ name: "search", arguments: { query: i % 2 ? "cache" : "retry", mode: "bm25", k: 3 } });
        assert.equal(r.isError, false);
        assert.equal(r.structuredContent.results.length, 1);
    }
    const ms = (performance.now() - t0) / n;
    console.log(`# ${n} search calls through the SDK client: ${ms.toFixed(3)} ms a round trip`);
});
