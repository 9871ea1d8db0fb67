"""Opaque access tokens (RFC 7662): oidc-provider issues them for the resource, and `serve`
asks its introspection endpoint about each one, as a client of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from fixtures.oidc import Client as OidcClient
from fixtures.oidc import SigningKey, oidc_provider
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from procs import free_port, stop, wait_for_port

from mcp_compiler.server import TOOL_NAME

pytestmark = [pytest.mark.anyio, pytest.mark.network]

READER = OidcClient("reader", "reader-secret-0123456789abcdef01234567", "mcp tools:math")
GATEWAY = OidcClient("gateway", "gateway-secret-0123456789abcdef0123456", "", auth_method="client_secret_basic")


async def call(url: str, token: str, plan: str) -> Any:
    with anyio.fail_after(120):
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            async with Client(streamable_http_client(url, http_client=http)) as client:
                return await client.call_tool(TOOL_NAME, {"plan": plan})


async def test_opaque_tokens_are_introspected_and_a_revoked_one_stops_at_once(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    with oidc_provider(url, "mcp tools:math", [READER, GATEWAY], [SigningKey.new("k1")], token_format="opaque") as provider:
        servers = {"math": {"command": sys.executable, "args": ["-P", "-m", "mcp_compiler.servers.math"]}}
        config = {"mcpServers": servers, "compiler": {"auth": {
            "issuer": provider.issuer, "audience": url, "scopes_required": ["mcp"],
            "introspection_endpoint": f"{provider.issuer}/token/introspection",
            "introspection_client_id": GATEWAY.client_id, "introspection_client_secret": "${INTROSPECTION_SECRET}",
            "allow": {"tools:math": ["math.*"]}}}}
        (tmp_path / "servers.json").write_text(json.dumps(config))
        log = tmp_path / "serve.log"
        with open(log, "wb") as errlog:
            proc = subprocess.Popen(
                [sys.executable, "-m", "mcp_compiler", "serve", "-v", "--transport", "http", "--port", str(port),
                 "--config", str(tmp_path / "servers.json")],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errlog,
                env={**os.environ, "INTROSPECTION_SECRET": GATEWAY.client_secret},
            )
        try:
            wait_for_port(port, proc)
            token = provider.token(READER.client_id)
            assert token.count(".") != 2  # opaque: not a JWT
            result = await call(url, token, "1. math.sum([40, 2])")
            assert not result.is_error, result.content
            assert result.structured_content["tasks"][0]["result"]["value"] == 42
            provider.revoke(READER.client_id, token)
            headers = {"authorization": f"Bearer {token}", "content-type": "application/json",
                       "accept": "application/json, text/event-stream"}
            refused = httpx2.post(url, headers=headers, timeout=30, content=b"{}")
            assert refused.status_code == 401 and refused.json() == {"error": "invalid_token"}
            made_up = httpx2.post(url, headers={**headers, "authorization": "Bearer made-up-opaque-token"},
                                  timeout=30, content=b"{}")
            assert made_up.status_code == 401
        finally:
            stop(proc)
    text = log.read_text(errors="replace")
    assert "refused an access token: inactive (introspection)" in text and "oauth:reader" in text
    assert token not in text and GATEWAY.client_secret not in text
