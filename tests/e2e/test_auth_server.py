"""`serve --transport http` as an OAuth protected resource, against a real authorization server.

oidc-provider (npm, tests/fixtures/oidc.py) issues JWT access tokens by client credentials for
the server's resource URL; `mcp-compiler serve` validates them against the provider's JWKS. The
refused tokens are forged here with PyJWT and the provider's own signing key (which the test
generated and handed it), so each is wrong in exactly one way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import jwt
import pytest
from fixtures.oidc import Client as OidcClient
from fixtures.oidc import OidcProvider, SigningKey, oidc_provider
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from procs import free_port, stop, wait_for_port

from mcp_compiler.server import TOOL_NAME

pytestmark = [pytest.mark.anyio, pytest.mark.network]

SCOPES = "mcp tools:math tools:wiki"
CLIENTS = [
    OidcClient("all-client", "all-secret-0123456789abcdef0123456789", "mcp tools:math tools:wiki"),
    OidcClient("math-client", "math-secret-0123456789abcdef012345678", "mcp tools:math"),
    OidcClient("outsider", "outsider-secret-0123456789abcdef012345", "tools:math"),
]
CI_BOT_TOKEN = "ci-bot-static-token-4b1f0e9d2c7a"
DOCS = Path(__file__).parents[2] / "docs/auth.md"
WIKI_AND_MATH = """\
1. wiki.fact("Nile", "length_km")
2. math.eval("n / 2", {"n": $1.value})
join()"""


@dataclass
class Gateway:
    url: str
    provider: OidcProvider
    key: SigningKey
    log: Path

    @property
    def base(self) -> str:
        return self.url.removesuffix("/mcp")

    def claims(self, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {"iss": self.provider.issuer, "aud": self.url, "sub": "forger", "client_id": "forger",
                  "scope": SCOPES, "iat": now, "exp": now + 300}
        return {**claims, **changes}

    def forge(self, key: SigningKey | None = None, **changes: Any) -> str:
        key = key or self.key
        return jwt.encode(self.claims(**changes), key.private, algorithm="RS256", headers={"kid": key.kid})


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("auth")
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    key = SigningKey.new("k1")
    with oidc_provider(url, SCOPES, CLIENTS, [key]) as provider:
        servers = {name: {"command": sys.executable, "args": ["-P", "-m", f"mcp_compiler.servers.{name}"]}
                   for name in ("wiki", "math")}
        # The team gateway of docs/auth.md, as written there, for this provider and port; the keys
        # are fetched again sooner after a rotation than by default (the last test), and the
        # servers run on this Python.
        config = docs_config("CI_BOT_TOKEN")
        config["mcpServers"] = servers
        auth = config["compiler"]["auth"]
        assert (auth["issuer"], auth["audience"]) == ("https://login.example.com/realms/team", "https://mcp.example.com/mcp")
        auth.update(issuer=provider.issuer, audience=url, jwks_refetch_min_s=0.5)
        path = tmp / "servers.json"
        path.write_text(json.dumps(config))
        log = tmp / "serve.log"
        with open(log, "wb") as errlog:
            proc = subprocess.Popen(
                [sys.executable, "-m", "mcp_compiler", "serve", "-v", "--transport", "http", "--port", str(port),
                 "--config", str(path)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errlog,
                env={**os.environ, "CI_BOT_TOKEN": CI_BOT_TOKEN},
            )
        try:
            wait_for_port(port, proc)
            yield Gateway(url, provider, key, log)
        finally:
            stop(proc)


def docs_config(marker: str) -> dict[str, Any]:
    """The one config of docs/auth.md that names `marker`."""
    blocks = re.findall(r"```json\n(.*?)```", DOCS.read_text(), re.S)
    found = [json.loads(block) for block in blocks if marker in block]
    assert len(found) == 1, f"docs/auth.md shows one config with {marker}"
    config: dict[str, Any] = found[0]
    return config


async def call(gateway: Gateway, token: str, arguments: dict[str, Any]) -> Any:
    with anyio.fail_after(120):
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            async with Client(streamable_http_client(gateway.url, http_client=http)) as client:
                return await client.call_tool(TOOL_NAME, arguments)


async def description(gateway: Gateway, token: str) -> str:
    with anyio.fail_after(120):
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            async with Client(streamable_http_client(gateway.url, http_client=http)) as client:
                tools = (await client.list_tools()).tools
    return tools[0].description or ""


def post(gateway: Gateway, token: str | None) -> httpx2.Response:
    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
    return httpx2.post(gateway.url, content=json.dumps(body), headers=headers, timeout=30)


def metadata_url(gateway: Gateway) -> str:
    return f"{gateway.base}/.well-known/oauth-protected-resource/mcp"


def test_the_protected_resource_metadata_names_the_issuer(gateway: Gateway) -> None:
    for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"):
        response = httpx2.get(gateway.base + path, timeout=30)
        assert response.status_code == 200, path
        document = response.json()
        assert document["resource"] == gateway.url
        assert document["authorization_servers"] == [gateway.provider.issuer]
        assert "HS256" not in document["resource_signing_alg_values_supported"]


def test_no_token_is_401_pointing_at_the_metadata(gateway: Gateway) -> None:
    response = post(gateway, None)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="{metadata_url(gateway)}"' in challenge
    assert 'scope="mcp"' in challenge


async def test_a_token_from_the_provider_runs_a_plan(gateway: Gateway) -> None:
    token = gateway.provider.token("all-client")
    result = await call(gateway, token, {"plan": WIKI_AND_MATH})
    assert not result.is_error, result.content
    assert [t["status"] for t in result.structured_content["tasks"]] == ["ok", "ok"]
    assert result.structured_content["tasks"][1]["result"]["value"] == 6650 / 2
    log = gateway.log.read_text(errors="replace")
    audit = [line for line in log.splitlines() if "mcp_compiler.audit" in line and "oauth:all-client" in line]
    assert audit, log[-2000:]
    record = json.loads(audit[-1].split("compile_and_run ", 1)[1])
    assert record["tools"] == ["math.eval", "wiki.fact"] and record["outcome"] == "ok" and record["tasks"] == 2
    assert "Nile" not in audit[-1]  # no argument values in the audit record
    assert token not in log


def test_a_forged_token_with_every_claim_right_is_accepted(gateway: Gateway) -> None:
    # The control for the refusals below: forging itself works, so each refusal is about its one defect.
    assert post(gateway, gateway.forge()).status_code == 200


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def refused_tokens(gateway: Gateway) -> dict[str, str]:
    now = int(time.time())
    hs_input = _unsigned({"alg": "HS256", "typ": "JWT", "kid": gateway.key.kid}, gateway.claims())
    hs_signature = hmac.new(gateway.key.public_pem(), hs_input.encode(), hashlib.sha256).digest()
    real = gateway.provider.token("math-client")
    head, _, rest = real.partition(".")
    payload, _, signature = rest.partition(".")
    escalated = {**json.loads(base64.urlsafe_b64decode(payload + "==")), "scope": SCOPES}
    return {
        "expired": gateway.forge(exp=now - 600, iat=now - 900),
        "not yet valid": gateway.forge(nbf=now + 600),
        "wrong audience": gateway.forge(aud="http://127.0.0.1:1/other"),
        "wrong issuer": gateway.forge(iss="https://issuer.example"),
        "alg none": _unsigned({"alg": "none", "typ": "JWT"}, gateway.claims()) + ".",
        "HS256 with the public key": f"{hs_input}.{_b64(hs_signature)}",
        "tampered payload": f"{head}.{_b64(json.dumps(escalated).encode())}.{signature}",
        "unknown kid": gateway.forge(SigningKey.new("k-unknown")),
        "not a JWT": "just-some-opaque-string",
    }


def test_bad_tokens_are_401_invalid_token_and_say_nothing_more(gateway: Gateway) -> None:
    for defect, token in refused_tokens(gateway).items():
        response = post(gateway, token)
        assert response.status_code == 401, defect
        assert response.json() == {"error": "invalid_token"}, defect
        challenge = response.headers["www-authenticate"]
        assert 'error="invalid_token"' in challenge and f'resource_metadata="{metadata_url(gateway)}"' in challenge, defect
        assert "error_description" not in challenge, defect
    log = gateway.log.read_text(errors="replace")
    for reason in ("expired", "for another audience", "from another issuer", "algorithm 'none' is not allowed",
                   "algorithm 'HS256' is not allowed", "bad signature", "signed with a key the issuer does not publish"):
        assert f"refused an access token: {reason}" in log, reason


def test_a_token_without_the_required_scope_is_403_insufficient_scope(gateway: Gateway) -> None:
    response = post(gateway, gateway.provider.token("outsider"))
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="mcp"' in challenge
    assert f'resource_metadata="{metadata_url(gateway)}"' in challenge


async def test_a_math_only_token_cannot_run_a_plan_that_calls_wiki_and_nothing_runs(gateway: Gateway) -> None:
    token = gateway.provider.token("math-client")
    plan = '1. math.sum([1, 2])\n2. wiki.fact("Nile", "length_km")\njoin()'
    result = await call(gateway, token, {"plan": plan})
    assert result.is_error
    text = result.content[0].text
    assert "task 2 calls wiki.fact" in text and "'tools:wiki'" in text
    assert not (result.structured_content or {}).get("tasks")  # nothing ran, not even task 1
    log = gateway.log.read_text(errors="replace")
    refused = [line for line in log.splitlines() if "mcp_compiler.audit" in line and '"refused"' in line]
    assert refused and "oauth:math-client" in refused[-1]
    # What it may call still runs.
    allowed = await call(gateway, token, {"plan": "1. math.sum([1, 2])"})
    assert not allowed.is_error and allowed.structured_content["tasks"][0]["result"]["value"] == 3


async def test_a_math_only_token_does_not_see_wiki_tools(gateway: Gateway) -> None:
    search = '1. compiler.search_tools("sum numbers, evaluate an expression, or look up a fact", 50)'
    math_only = await call(gateway, gateway.provider.token("math-client"), {"plan": search})
    everything = await call(gateway, gateway.provider.token("all-client"), {"plan": search})
    found = {t["name"] for t in math_only.structured_content["tasks"][0]["result"]["tools"]}
    assert found and all(name.startswith("math.") for name in found)
    assert any(t["name"].startswith("wiki.") for t in everything.structured_content["tasks"][0]["result"]["tools"])
    listed = await description(gateway, gateway.provider.token("math-client"))
    tools = listed.split("\nTools (", 1)[1]
    assert "math.sum(" in tools and "wiki." not in tools
    assert "wiki.fact(" in (await description(gateway, gateway.provider.token("all-client"))).split("\nTools (", 1)[1]


async def test_a_named_static_token_is_its_own_caller(gateway: Gateway) -> None:
    result = await call(gateway, CI_BOT_TOKEN, {"plan": '1. wiki.fact("Nile", "length_km")'})
    assert not result.is_error
    refused = await call(gateway, CI_BOT_TOKEN, {"plan": "1. math.sum([1, 2])"})
    assert refused.is_error and "task 1 calls math.sum" in refused.content[0].text
    log = gateway.log.read_text(errors="replace")
    assert "token:ci-bot" in log and CI_BOT_TOKEN not in log


def test_the_mcp_inspector_completes_a_call_with_a_token_from_the_provider(gateway: Gateway) -> None:
    """A third-party host (the Inspector CLI, tests/e2e/test_inspector.py installs it) with a token the
    provider issued: the call runs; without the token the Inspector is refused."""
    from test_inspector import LAUNCHER, NODE, inspector

    if not (NODE.exists() and LAUNCHER.exists()):
        pytest.fail("the MCP Inspector is not installed: run `bash tests/fixtures/install_inspector.sh` (npm)")
    token = gateway.provider.token("all-client")
    args = [gateway.url, "--method", "tools/call", "--tool-name", TOOL_NAME, "--tool-arg", f"plan={WIKI_AND_MATH}"]
    done = inspector(*args, "--header", f"Authorization: Bearer {token}")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert [t["status"] for t in result["structuredContent"]["tasks"]] == ["ok", "ok"]
    # Without a token it reads our 401 and metadata as a server that needs an OAuth sign-in.
    refused = inspector(*args)
    assert refused.returncode != 0 and '"auth_required"' in refused.stderr


def test_mcp_compiler_signs_in_to_a_server_behind_it_by_client_credentials(gateway: Gateway, tmp_path: Path) -> None:
    """The gateway as the upstream of another mcp-compiler (`run`), which signs in through the SDK's
    OAuth client: the 401, the metadata, the provider's token by client credentials for the resource."""
    client = CLIENTS[1]  # math-client
    # The entry of docs/auth.md#servers-behind-a-login, for this gateway, provider and client.
    config = docs_config("TEAM_CLIENT_SECRET")
    entry = config["mcpServers"]["team"]
    entry["url"] = gateway.url
    entry["auth"].update(client_id=client.client_id, issuer=gateway.provider.issuer)
    assert entry["auth"]["scope"] == client.scope
    path = tmp_path / "downstream.json"
    path.write_text(json.dumps(config))
    plan = '1. team.compile_and_run(plan="1. math.sum([40, 2])")'
    done = subprocess.run(
        [sys.executable, "-m", "mcp_compiler", "run", "--config", str(path), "--plan", plan],
        capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL,
        env={**os.environ, "TEAM_CLIENT_SECRET": client.client_secret},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "42" in done.stdout
    assert client.client_secret not in done.stderr + done.stdout
    audit = [line for line in gateway.log.read_text(errors="replace").splitlines()
             if "mcp_compiler.audit" in line and "oauth:math-client" in line and "math.sum" in line]
    assert audit  # the gateway knew who called: the downstream's own client identity


def test_a_server_that_needs_a_sign_in_says_so_and_a_bad_secret_says_why(gateway: Gateway, tmp_path: Path) -> None:
    client = CLIENTS[1]
    entries = {
        "noauth": {"type": "http", "url": gateway.url},
        "badsecret": {"type": "http", "url": gateway.url, "auth": {
            "type": "client_credentials", "client_id": client.client_id, "client_secret": "not-the-secret-7d1c",
            "issuer": gateway.provider.issuer, "token_endpoint_auth_method": "client_secret_post"}},
    }
    for name, entry in entries.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"mcpServers": {name: entry}}))
        plan = f'1. {name}.compile_and_run(plan="1. math.sum([1, 2])")'
        done = subprocess.run(
            [sys.executable, "-m", "mcp_compiler", "run", "--config", str(path), "--plan", plan],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        )
        assert done.returncode != 0, name
        assert "Traceback" not in done.stderr and "not-the-secret-7d1c" not in done.stderr + done.stdout, name
        if name == "noauth":
            assert "needs an OAuth sign-in" in done.stderr and "docs/auth.md#servers-behind-a-login" in done.stderr
        else:
            assert "invalid_client" in done.stderr


def test_a_key_rotation_at_the_provider_is_picked_up(gateway: Gateway) -> None:
    """Last: restarts the provider. Its new key signs; our cached JWKS lacks it until fetched again."""
    rotated = SigningKey.new("k2")
    gateway.provider.stop()
    gateway.provider.keys = [rotated, gateway.key]
    gateway.provider.start()
    token = gateway.provider.token("all-client")
    assert jwt.get_unverified_header(token)["kid"] == "k2"
    time.sleep(0.6)  # past jwks_refetch_min_s since the last fetch
    assert post(gateway, token).status_code == 200
    assert post(gateway, gateway.forge()).status_code == 200  # the old key still published: still good
