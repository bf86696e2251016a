#!/usr/bin/env bash
# ctest's entry for the MCP client test: runs client.test.mjs with node's test runner.
# Missing node or node_modules fails the test (it must not pass silently in CI).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rk=${1:?usage: run.sh RK_BINARY}
if ! command -v node >/dev/null; then
    echo "FAIL: node is not installed (tools/run test installs nodejs and npm)" >&2
    exit 1
fi
if [[ ! -d $here/node_modules/@modelcontextprotocol/sdk ]]; then
    echo "FAIL: no $here/node_modules: run 'npm ci' in tests/mcp (tools/run test does)" >&2
    exit 1
fi
RK_BIN=$rk exec node --test "$here/client.test.mjs"
