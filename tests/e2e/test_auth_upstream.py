"""Signing in to a server behind mcp-compiler when its tokens are short-lived: the upstream is a
`mcp-compiler serve` protected by a real oidc-provider (tests/fixtures/oidc.py) whose access
tokens live 2 s, checked with no leeway; the gateway signs in by client credentials (the mcp SDK's
OAuth client) and is used across a token's expiry without its caller noticing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from fixtures.oidc import Client, SigningKey, oidc_provider
from procs import free_port, stop, wait_for_port

from mcp_compiler.config import parse_config
from mcp_compiler.gateway import open_gateway

pytestmark = [pytest.mark.anyio, pytest.mark.network]

CLIENT = Client("nightly", "nightly-secret-0123456789abcdef012345", "mcp tools:math")
TTL_S = 2


async def test_an_expired_upstream_token_is_replaced_without_the_caller_noticing(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    with oidc_provider(url, "mcp tools:math", [CLIENT], [SigningKey.new("k1")], ttl_s=TTL_S) as provider:
        servers = {"math": {"command": sys.executable, "args": ["-P", "-m", "mcp_compiler.servers.math"]}}
        upstream = {"mcpServers": servers, "compiler": {"auth": {
            "issuer": provider.issuer, "audience": url, "scopes_required": ["mcp"], "leeway_s": 0,
            "allow": {"tools:math": ["math.*"]}}}}
        (tmp_path / "upstream.json").write_text(json.dumps(upstream))
        log = tmp_path / "upstream.log"
        with open(log, "wb") as errlog:
            proc = subprocess.Popen(
                [sys.executable, "-m", "mcp_compiler", "serve", "--transport", "http", "--port", str(port),
                 "--config", str(tmp_path / "upstream.json")],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errlog,
            )
        try:
            wait_for_port(port, proc)
            config = parse_config({"mcpServers": {"team": {"type": "http", "url": url, "auth": {
                "type": "client_credentials", "client_id": CLIENT.client_id, "client_secret": CLIENT.client_secret,
                "scope": CLIENT.scope, "issuer": provider.issuer, "token_endpoint_auth_method": "client_secret_post",
            }}}})
            plan = '1. team.compile_and_run(plan="1. math.sum([40, 2])")'
            with anyio.fail_after(120):
                async with open_gateway(config) as gateway:
                    first = await gateway.compiler.run_plan(plan)
                    await anyio.sleep(TTL_S + 1.5)  # the first token is now expired, and the server allows no leeway
                    second = await gateway.compiler.run_plan(plan)
        finally:
            stop(proc)
    for run in (first, second):
        assert [t.status for t in run.tasks] == ["ok"], run.tasks[0].error
        assert run.tasks[0].result["tasks"][0]["result"]["value"] == 42
    records = [line for line in log.read_text(errors="replace").splitlines()
               if "mcp_compiler.audit" in line and "oauth:nightly" in line]
    # Both calls reached the upstream as the client, the second on a new token; the audit records are
    # written at the server's default log level (no -v).
    assert len(records) == 2
    assert CLIENT.client_secret not in log.read_text(errors="replace")
