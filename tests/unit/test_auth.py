"""The pieces of the protected resource, one at a time (auth/): the JWKS cache's refetch rule,
the algorithm/key fit, `allow`, identities and owners, the static tokens, what a caller sees."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from mcp_compiler.auth import ANONYMOUS, Identity, ToolAccess
from mcp_compiler.auth.access_tokens import InvalidToken, JwksCache, JwtValidator
from mcp_compiler.auth.identity import SCOPE_KEY
from mcp_compiler.auth.resource import Authenticator, Denied, ProtectedResource
from mcp_compiler.config import ConfigError, parse_config
from mcp_compiler.errors import ToolError
from mcp_compiler.tools.builtins import WithBuiltins, search_tools, visible, visible_tools
from mcp_compiler.tools.toolbox import FunctionToolbox

pytestmark = pytest.mark.anyio

ISSUER = "https://issuer.example"
AUDIENCE = "https://gateway.example/mcp"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: Any, kid: str, **extra: Any) -> dict[str, Any]:
    algorithm = RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else ECAlgorithm
    return {**json.loads(algorithm.to_jwk(key.public_key())), "kid": kid, **extra}


class Issuer:
    """A JWKS document that the test changes, fetched through a counting fake."""

    def __init__(self, *keys: dict[str, Any]) -> None:
        self.keys = list(keys)
        self.fetched: list[str] = []

    async def fetch(self, url: str) -> Any:
        self.fetched.append(url)
        return {"keys": self.keys}


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "scope": "mcp tools:math", "exp": now + 60, **changes}


async def test_an_unknown_kid_fetches_the_keys_again_at_most_once_per_interval() -> None:
    old, new = rsa_key(), rsa_key()
    issuer, clock = Issuer(public_jwk(old, "old")), Clock()
    cache = JwksCache(ISSUER, "https://issuer.example/jwks", refetch_min_s=10, cache_s=300, fetch=issuer.fetch, clock=clock)
    assert (await cache.key("old")) is not None and cache.fetches == 1
    issuer.keys.append(public_jwk(new, "new"))
    clock.now += 1
    assert await cache.key("new") is None  # too soon after the last fetch: no request to the issuer
    assert await cache.key("made-up") is None
    assert cache.fetches == 1
    clock.now += 10
    assert await cache.key("new") is not None  # rotated in, picked up by one more fetch
    assert cache.fetches == 2
    for _ in range(50):
        await cache.key("made-up")  # a flood of made-up kids within the interval costs nothing
    assert cache.fetches == 2
    clock.now += 300
    await cache.key("old")  # the cache's age alone refreshes it
    assert cache.fetches == 3


async def test_the_jwks_uri_is_discovered_from_the_issuers_metadata_and_the_issuer_checked() -> None:
    key = rsa_key()
    documents = {
        "https://issuer.example/.well-known/oauth-authorization-server": {"issuer": "https://evil.example",
                                                                          "jwks_uri": "https://evil.example/jwks"},
        "https://issuer.example/.well-known/openid-configuration": {"issuer": ISSUER, "jwks_uri": "https://issuer.example/k"},
        "https://issuer.example/k": {"keys": [public_jwk(key, "a")]},
    }

    async def fetch(url: str) -> Any:
        return documents[url]

    cache = JwksCache(ISSUER, fetch=fetch)
    assert await cache.key("a") is not None
    assert cache.jwks_uri == "https://issuer.example/k"  # not the metadata that named another issuer


async def test_keys_that_cannot_verify_are_never_taken() -> None:
    private = rsa_key()
    jwks = [
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
        {**public_jwk(private, "enc"), "use": "enc"},
        {**json.loads(RSAAlgorithm.to_jwk(private)), "kid": "private"},  # a private key published by mistake
    ]
    cache = JwksCache(ISSUER, "https://issuer.example/jwks", fetch=Issuer(*jwks).fetch)
    for kid in ("hmac", "enc", "private"):
        assert await cache.key(kid) is None, kid


async def validator(*jwks: dict[str, Any], algorithms: tuple[str, ...] = ("RS256", "PS256", "ES256")) -> JwtValidator:
    cache = JwksCache(ISSUER, "https://issuer.example/jwks", fetch=Issuer(*jwks).fetch)
    return JwtValidator(cache, issuer=ISSUER, audience=AUDIENCE, algorithms=algorithms, leeway_s=30)


async def test_a_key_verifies_only_the_algorithm_it_declares_or_its_family() -> None:
    key, ec_key = rsa_key(), ec.generate_private_key(ec.SECP256R1())
    check = await validator(public_jwk(key, "declared", alg="RS256"), public_jwk(key, "bare"), public_jwk(ec_key, "ec"))
    assert (await check.validate(jwt.encode(claims(), key, "RS256", headers={"kid": "declared"})))["sub"] == "alice"
    assert (await check.validate(jwt.encode(claims(), key, "PS256", headers={"kid": "bare"})))["sub"] == "alice"
    with pytest.raises(InvalidToken, match="does not fit"):
        await check.validate(jwt.encode(claims(), key, "PS256", headers={"kid": "declared"}))
    with pytest.raises(InvalidToken, match="does not fit"):
        await check.validate(jwt.encode(claims(), key, "RS256", headers={"kid": "ec"}))
    assert (await check.validate(jwt.encode(claims(), ec_key, "ES256", headers={"kid": "ec"})))["sub"] == "alice"


async def test_the_leeway_is_small_and_a_subject_is_required() -> None:
    key = rsa_key()
    check = await validator(public_jwk(key, "k"))
    now = int(time.time())
    assert await check.validate(jwt.encode(claims(exp=now - 20), key, "RS256", headers={"kid": "k"}))  # within 30 s
    with pytest.raises(InvalidToken, match="expired"):
        await check.validate(jwt.encode(claims(exp=now - 40), key, "RS256", headers={"kid": "k"}))
    with pytest.raises(InvalidToken, match="subject"):
        await check.validate(jwt.encode({k: v for k, v in claims().items() if k != "sub"}, key, "RS256",
                                        headers={"kid": "k"}))
    with pytest.raises(InvalidToken, match="refused"):
        await check.validate(jwt.encode({k: v for k, v in claims().items() if k != "exp"}, key, "RS256",
                                        headers={"kid": "k"}))


def test_symmetric_algorithms_and_none_cannot_be_configured() -> None:
    for algorithms in (["HS256"], ["none"], ["RS256", "hs512"]):
        with pytest.raises(ConfigError, match="asymmetric"):
            parse_config({"mcpServers": {}, "compiler": {"auth": {"issuer": ISSUER, "audience": AUDIENCE,
                                                                  "algorithms": algorithms}}})
    with pytest.raises(ValueError, match="asymmetric"):
        JwtValidator(JwksCache(ISSUER), issuer=ISSUER, audience=AUDIENCE, algorithms=["HS256"])
    with pytest.raises(ConfigError, match="go together"):
        parse_config({"mcpServers": {}, "compiler": {"auth": {"issuer": ISSUER}}})
    with pytest.raises(ConfigError, match="introspection_client_id"):
        parse_config({"mcpServers": {}, "compiler": {"auth": {"issuer": ISSUER, "audience": AUDIENCE,
                                                              "introspection_endpoint": ISSUER + "/introspect"}}})


def test_allow_maps_scopes_and_claims_to_tool_globs() -> None:
    access = ToolAccess({"tools:math": ["math.*"], "groups=ops": ["wiki.*", "git.status"], "caller=alice": ["git.*"]})
    math = Identity("m", "oauth", ISSUER, frozenset({"tools:math"}))
    ops = Identity("o", "oauth", ISSUER, frozenset(), {"groups": ["dev", "ops"]})
    alice = Identity("alice", "token", claims={"caller": "alice"})
    assert access.allows(math, "math.sum") and not access.allows(math, "wiki.fact")
    assert access.allows(ops, "wiki.fact") and access.allows(ops, "git.status") and not access.allows(ops, "git.push")
    assert access.allows(alice, "git.push") and not access.allows(alice, "math.sum")
    assert all(access.allows(who, "compiler.search_tools") for who in (math, ops, alice, ANONYMOUS))
    assert not access.allows(ANONYMOUS, "math.sum")  # fail closed: no grant, no tool
    assert access.refusal(math, "wiki.fact", task=2) == "task 2 calls wiki.fact, which needs the scope 'groups=ops'"
    assert "no grant in compiler.auth.allow lists it" in (access.refusal(math, "time.now", task=1) or "")
    assert ToolAccess(None).allows(ANONYMOUS, "anything.at_all")


def test_an_owner_is_stable_per_caller_and_differs_between_callers() -> None:
    alice = Identity("alice", "oauth", ISSUER, frozenset({"a"}))
    assert alice.owner == Identity("alice", "oauth", ISSUER, frozenset({"b"})).owner  # a new token, the same caller
    assert alice.owner != Identity("alice", "oauth", "https://other.example").owner
    assert alice.owner != Identity("alice", "token").owner
    assert ANONYMOUS.owner == "" and str(alice) == "oauth:alice"


async def test_static_tokens_name_their_callers_and_nothing_else_passes() -> None:
    auth = Authenticator(token="legacy-token-123", tokens={"alice": "alice-token-456", "bob": "bob-token-789"})
    assert (await auth.identify(b"alice-token-456")).name == "alice"
    assert (await auth.identify(b"legacy-token-123")).name == "token"
    for credential, status, error in ((None, 401, ""), (b"alice-token-45", 401, "invalid_token")):
        with pytest.raises(Denied) as denied:
            await auth.identify(credential)
        assert (denied.value.status, denied.value.error) == (status, error)
    with pytest.raises(ConfigError, match="'bob'"):
        Authenticator(tokens={"bob": ""})


async def test_the_resource_answers_401_and_puts_the_identity_in_the_scope() -> None:
    seen: list[Any] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope.get(SCOPE_KEY))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = ProtectedResource(inner, Authenticator(tokens={"alice": "alice-token-456"}))

    async def request(headers: list[tuple[bytes, bytes]]) -> tuple[int, dict[bytes, bytes]]:
        sent: list[Any] = []

        async def send(message: Any) -> None:
            sent.append(message)

        async def receive() -> Any:
            return {"type": "http.request", "body": b""}

        await app({"type": "http", "method": "POST", "path": "/mcp", "headers": headers}, receive, send)
        return sent[0]["status"], dict(sent[0]["headers"])

    status, headers = await request([])
    assert status == 401 and headers[b"www-authenticate"] == b'Bearer realm="mcp-compiler"'
    assert (await request([(b"authorization", b"Bearer alice-token-456")]))[0] == 200
    assert seen == [Identity("alice", "token", claims={"caller": "alice"})]
    status, _ = await request([(b"authorization", b"Bearer nope")])
    assert status == 401 and len(seen) == 1


async def test_a_caller_searches_and_calls_only_what_it_may() -> None:
    def add(a: int, b: int) -> int:
        return a + b

    def fact(name: str) -> str:
        return name

    toolbox = WithBuiltins(FunctionToolbox({"math.add": add, "wiki.fact": fact}))
    catalog = toolbox.specs()
    assert set(visible(catalog)) == set(catalog)  # nobody restricted: the whole catalog
    token = visible_tools.set(lambda tool: tool.startswith("math."))
    try:
        assert set(visible(catalog)) == {"math.add"}
        assert {t["name"] for t in search_tools(catalog, "add fact", allowed=visible_tools.get())["tools"]} == {"math.add"}
        found = await toolbox.call(catalog["compiler.search_tools"], {"query": "add a number, or a fact"})
        assert {t["name"] for t in found["tools"]} == {"math.add"}
        with pytest.raises(ToolError, match="not allowed to this caller"):
            await toolbox.call(catalog["wiki.fact"], {"name": "Nile"})
        assert await toolbox.call(catalog["math.add"], {"a": 1, "b": 2}) == 3
    finally:
        visible_tools.reset(token)


async def test_kept_values_and_tasks_belong_to_the_caller_that_made_them() -> None:
    from types import SimpleNamespace

    from mcp_compiler.auth import current_identity
    from mcp_compiler.server.store import Item, RunStore, Unreadable
    from mcp_compiler.server.task_server import owner_of

    store = RunStore()
    alice = Identity("alice", "oauth", ISSUER)
    bob = Identity("bob", "oauth", ISSUER)
    token = current_identity.set(alice)
    try:
        uri = await store.put(store.new_run_id(), "tasks/1", Item.text("alice's value"))
        assert uri is not None
        assert (await store.read(uri)).contents[0].text == "alice's value"
    finally:
        current_identity.reset(token)
    for other in (bob, ANONYMOUS):
        token = current_identity.set(other)
        try:
            with pytest.raises(Unreadable, match="nothing is kept"):
                await store.read(uri)
        finally:
            current_identity.reset(token)

    def ctx(identity: Identity | None, authorization: str) -> Any:
        scope = {SCOPE_KEY: identity} if identity is not None else {}
        return SimpleNamespace(request=SimpleNamespace(scope=scope, headers={"authorization": authorization}))

    # A task's owner is the identity, whatever token it came with (a refreshed token finds its tasks).
    assert owner_of(ctx(alice, "Bearer one")) == owner_of(ctx(alice, "Bearer two")) == alice.owner
    assert owner_of(ctx(bob, "Bearer one")) != alice.owner
    assert owner_of(ctx(None, "Bearer one")) not in ("", alice.owner)  # no auth layer: the credentials, as before


def test_an_upstreams_client_credentials_are_ours_and_its_secrets_are_redacted() -> None:
    from mcp_compiler.logs import Redactor

    entry = {"type": "http", "url": "https://mcp.example.com/mcp", "auth": {
        "type": "client_credentials", "client_id": "reports", "client_secret": "${SECRET}", "issuer": ISSUER}}
    cursor = {"url": "https://other.example.com/mcp", "auth": {"CLIENT_ID": "x", "CLIENT_SECRET": "y"}}
    config = parse_config({"mcpServers": {"team": entry, "cursor": cursor}, "compiler": {"tokens": {"bot": "${BOT}"}}},
                          environ={"SECRET": "client-secret-123", "BOT": "bot-token-456"})
    team = config.servers["team"]
    assert team.auth is not None and team.auth.client_secret.get_secret_value() == "client-secret-123"
    assert "client-secret-123" not in repr(team)
    assert getattr(config.servers["cursor"], "auth", None) is None  # Cursor's form: ignored, as before
    redact = Redactor.from_config(config)
    assert redact("sent client-secret-123 and bot-token-456") == "sent *** and ***"
    with pytest.raises(ConfigError, match="issuer"):
        parse_config({"mcpServers": {"team": {**entry, "auth": {k: v for k, v in entry["auth"].items() if k != "issuer"}}}},
                     environ={"SECRET": "x"})


async def test_a_restricted_callers_planner_sees_only_what_it_may_call() -> None:
    from mcp_compiler.gateway import build_compiler
    from mcp_compiler.testing import ScriptedLLM

    def add(a: int, b: int) -> int:
        return a + b

    def secret(name: str) -> str:
        return name

    prompts: list[str] = []

    def plan(system: str, messages: Any) -> str:
        prompts.append(system)
        return '1. vault.secret("x")\njoin()'

    compiler = build_compiler(WithBuiltins(FunctionToolbox({"math.add": add, "vault.secret": secret})),
                              parse_config({"mcpServers": {}}))
    token = visible_tools.set(lambda tool: tool.startswith("math."))
    try:
        run = await compiler.run_query("what is the secret?", llm=ScriptedLLM([plan, "Thought: done\nAction: Finish(no)"]))
    finally:
        visible_tools.reset(token)
    assert prompts and "math.add" in prompts[0] and "vault" not in prompts[0]
    assert all(t.tool != "vault.secret" or t.status != "ok" for t in run.tasks)  # never called


async def test_a_tokens_own_caller_claim_is_not_a_static_callers_grant() -> None:
    key = rsa_key()
    check = await validator(public_jwk(key, "k"))
    auth = Authenticator(tokens={"ci-bot": "ci-bot-token-123"}, validator=check)
    forged = jwt.encode(claims(caller="ci-bot", groups=["ops"]), key, "RS256", headers={"kid": "k"})
    identity = await auth.identify(forged.encode())
    access = ToolAccess({"caller=ci-bot": ["wiki.*"], "groups=ops": ["math.*"]})
    assert not access.allows(identity, "wiki.fact") and access.allows(identity, "math.sum")
    assert access.allows(await auth.identify(b"ci-bot-token-123"), "wiki.fact")
