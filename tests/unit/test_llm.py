"""The LLM backends through our one interface, against the simulated endpoint, both wire formats."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from benchmarks.simllm import Fail, LatencyModel, Reply, SimulatedLLM, count_tokens
from mcp_compiler.llm import (
    DEFAULT_ANTHROPIC_MODEL,
    DEFAULT_OPENAI_MODEL,
    LLM,
    AnthropicLLM,
    LLMError,
    Message,
    OpenAILLM,
    Timeouts,
    Usage,
    complete,
    parse_model,
    select_llm,
)

pytestmark = pytest.mark.anyio

PLAN = 'Thought: independent\n1. wiki.search(query="Mariana Trench")\n2. wiki.search("Puerto Rico Trench")\n3. join()'
FAST = Timeouts(total=10, first_token=5, idle=5, connect=2)

Backend = Callable[[SimulatedLLM, Timeouts], AnthropicLLM | OpenAILLM]


def anthropic_backend(sim: SimulatedLLM, timeouts: Timeouts = FAST) -> AnthropicLLM:
    return AnthropicLLM("sim-claude", base_url=sim.base_url_anthropic, api_key="sim-key", timeouts=timeouts, max_retries=0)


def openai_backend(sim: SimulatedLLM, timeouts: Timeouts = FAST) -> OpenAILLM:
    return OpenAILLM("sim-gpt", base_url=sim.base_url_openai, api_key="sim-key", timeouts=timeouts, max_retries=0)


BACKENDS = [pytest.param(anthropic_backend, id="anthropic"), pytest.param(openai_backend, id="openai")]


@asynccontextmanager
async def backend_on(make: Backend, sim: SimulatedLLM, timeouts: Timeouts = FAST) -> AsyncIterator[LLM]:
    llm = make(sim, timeouts)
    try:
        yield llm
    finally:
        await llm.aclose()


# ---- streaming through the interface ----


@pytest.mark.parametrize("make", BACKENDS)
async def test_stream_yields_several_chunks_that_reassemble_exactly_with_usage(make: Backend) -> None:
    async with SimulatedLLM(replies=[PLAN], latency=LatencyModel(tokens_per_chunk=2)) as sim:
        async with backend_on(make, sim) as llm:
            assert isinstance(llm, LLM)
            chunks = []
            async with llm.stream("You plan tool calls.", [Message("user", "Compare the trenches")]) as s:
                async for chunk in s:
                    chunks.append(chunk)
    assert len(chunks) > 5
    assert "".join(chunks) == s.text == PLAN
    expected_in = count_tokens("You plan tool calls.") + count_tokens("Compare the trenches")
    assert s.usage == Usage(input_tokens=expected_in, output_tokens=count_tokens(PLAN))
    request = sim.requests[0]
    assert request.system == "You plan tool calls." and request.stream
    assert [(m.role, m.content) for m in request.messages] == [("user", "Compare the trenches")]


@pytest.mark.parametrize("make", BACKENDS)
async def test_multi_turn_messages_max_tokens_and_stop_reach_the_endpoint(make: Backend) -> None:
    history = [Message("user", "q1"), Message("assistant", "a1"), Message("user", "q2")]
    async with SimulatedLLM(replies=["1. a()\n<END_OF_PLAN>\n2. never()"]) as sim:
        async with backend_on(make, sim) as llm:
            text, usage = await complete(llm, "sys", history, max_tokens=77, stop=["<END_OF_PLAN>"])
    assert text == "1. a()\n"
    assert usage.output_tokens == count_tokens("1. a()\n")
    request = sim.requests[0]
    assert [m.content for m in request.messages] == ["q1", "a1", "q2"]
    assert request.max_tokens == 77 and request.stop == ("<END_OF_PLAN>",)


async def test_openai_backend_asks_for_usage_and_sends_max_completion_tokens() -> None:
    async with SimulatedLLM(replies=["ok", "ok"]) as sim:
        async with backend_on(openai_backend, sim) as llm:
            await complete(llm, "", [Message("user", "x")], max_tokens=9)
        legacy = OpenAILLM("m", base_url=sim.base_url_openai, api_key="k", max_tokens_param="max_tokens")
        await complete(legacy, "", [Message("user", "x")], max_tokens=9)
        await legacy.aclose()
    body, legacy_body = sim.requests[0].body, sim.requests[1].body
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_completion_tokens"] == 9 and "max_tokens" not in body
    assert legacy_body["max_tokens"] == 9 and "max_completion_tokens" not in legacy_body
    assert all(m["role"] != "system" for m in body["messages"])  # an empty system prompt is left out


@pytest.mark.parametrize("make", BACKENDS)
async def test_stream_is_paced_first_chunk_well_before_the_last(make: Backend) -> None:
    # 15 tokens at 30 tokens/s in chunks of 3: about 0.4 s between the first and last chunk.
    reply = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen"
    latency = LatencyModel(ttft_s=0.05, tokens_per_s=30, tokens_per_chunk=3)
    async with SimulatedLLM(replies=[reply], latency=latency) as sim:
        async with backend_on(make, sim) as llm:
            arrivals: list[float] = []
            async with llm.stream("", [Message("user", "count")]) as s:
                async for _ in s:
                    arrivals.append(time.monotonic())
    assert len(arrivals) == 5
    assert arrivals[-1] - arrivals[0] >= 0.25  # generous: nominal 0.4 s
    assert s.first_token_at is not None and s.finished_at is not None and s.started_at is not None
    assert s.started_at <= s.first_token_at < s.finished_at


# ---- failures become LLMError, in bounded time ----


@pytest.mark.parametrize("make", BACKENDS)
async def test_http_500_is_an_llm_error_naming_backend_and_status(make: Backend) -> None:
    async with SimulatedLLM(replies=[Fail(500, "the GPU caught fire")]) as sim:
        async with backend_on(make, sim) as llm:
            with anyio.fail_after(5), pytest.raises(LLMError) as caught:
                await complete(llm, "s", [Message("user", "x")])
    err = caught.value
    assert (err.kind, err.status, err.backend) == ("http", 500, llm.name)
    assert str(err).startswith(f"{llm.name}: HTTP 500")
    assert "the GPU caught fire" in str(err)
    assert err.__cause__ is None and err.__suppress_context__  # no SDK traceback attached


@pytest.mark.parametrize("make", BACKENDS)
async def test_http_401_is_an_auth_error_that_names_the_key_variable(make: Backend) -> None:
    async with SimulatedLLM(responder=lambda req: "never", api_key="the-right-key") as sim:
        async with backend_on(make, sim) as llm:  # sends "sim-key"
            with anyio.fail_after(5), pytest.raises(LLMError) as caught:
                await complete(llm, "s", [Message("user", "x")])
    assert caught.value.kind == "auth" and caught.value.status == 401
    assert "_API_KEY" in str(caught.value)


@pytest.mark.parametrize("make", BACKENDS)
async def test_429_is_a_rate_limit_error(make: Backend) -> None:
    async with SimulatedLLM(replies=[Fail(429, "slow down")]) as sim:
        async with backend_on(make, sim) as llm:
            with anyio.fail_after(5), pytest.raises(LLMError) as caught:
                await complete(llm, "s", [Message("user", "x")])
    assert caught.value.kind == "rate_limit" and "slow down" in str(caught.value)


@pytest.mark.parametrize("make", BACKENDS)
async def test_stall_before_the_first_token_times_out(make: Backend) -> None:
    timeouts = Timeouts(total=30, first_token=0.5, idle=30)
    async with SimulatedLLM(replies=[Reply("never sent", stall_after_tokens=0)]) as sim:
        async with backend_on(make, sim, timeouts) as llm:
            start = time.monotonic()
            with anyio.fail_after(10), pytest.raises(LLMError) as caught:
                await complete(llm, "s", [Message("user", "x")])
            elapsed = time.monotonic() - start
            with anyio.fail_after(5):  # the timeout closed the HTTP stream
                while not sim.exchanges[0].disconnected:
                    await anyio.sleep(0.01)
    assert caught.value.kind == "timeout" and "no first token within 0.5 s" in str(caught.value)
    assert 0.4 <= elapsed < 5


@pytest.mark.parametrize("make", BACKENDS)
async def test_stall_mid_stream_times_out_on_the_idle_bound_and_keeps_partial_text(make: Backend) -> None:
    timeouts = Timeouts(total=30, first_token=5, idle=0.5)
    async with SimulatedLLM(replies=[Reply("alpha beta gamma delta", stall_after_tokens=2)]) as sim:
        async with backend_on(make, sim, timeouts) as llm:
            with anyio.fail_after(10), pytest.raises(LLMError) as caught:
                async with llm.stream("s", [Message("user", "x")]) as s:
                    async for _ in s:
                        pass
    assert caught.value.kind == "timeout" and "stalled" in str(caught.value)
    assert s.text == "alpha beta"


async def test_total_timeout_bounds_a_slow_but_steady_stream() -> None:
    timeouts = Timeouts(total=0.6, first_token=5, idle=5)
    latency = LatencyModel(tokens_per_s=10, tokens_per_chunk=1)  # 40 tokens = 4 s
    async with SimulatedLLM(replies=["tok " * 40], latency=latency) as sim:
        async with backend_on(anthropic_backend, sim, timeouts) as llm:
            with anyio.fail_after(10), pytest.raises(LLMError) as caught:
                await complete(llm, "s", [Message("user", "x")])
    assert caught.value.kind == "timeout" and "timed out after 0.6 s" in str(caught.value)


async def test_unreachable_endpoint_is_a_connection_error() -> None:
    async with SimulatedLLM() as sim:
        port = sim.port
    llm = OpenAILLM("m", base_url=f"http://127.0.0.1:{port}/v1", api_key="k", timeouts=FAST, max_retries=0)
    with anyio.fail_after(10), pytest.raises(LLMError) as caught:
        await complete(llm, "s", [Message("user", "x")])
    await llm.aclose()
    assert caught.value.kind == "connection" and f"127.0.0.1:{port}" in str(caught.value)


async def test_sdk_retries_a_500_before_giving_up() -> None:
    failures = [Fail(500, "flaky", retry_after_s=0.01)] * 2
    async with SimulatedLLM(replies=[*failures, "third time lucky"]) as sim:
        llm = AnthropicLLM("m", base_url=sim.base_url_anthropic, api_key="k", timeouts=FAST, max_retries=2)
        with anyio.fail_after(10):
            text, _ = await complete(llm, "s", [Message("user", "x")])
        await llm.aclose()
    assert text == "third time lucky"
    assert [ex.status for ex in sim.exchanges] == [500, 500, 200]


# ---- cancellation and early exit close the HTTP stream ----


@pytest.mark.parametrize("make", BACKENDS)
async def test_cancelling_mid_stream_closes_the_connection(make: Backend) -> None:
    latency = LatencyModel(tokens_per_s=20, tokens_per_chunk=1)  # 200 tokens = 10 s
    async with SimulatedLLM(replies=["word " * 200], latency=latency) as sim:
        async with backend_on(make, sim) as llm:
            got_chunk = anyio.Event()

            async def consume() -> None:
                async with llm.stream("s", [Message("user", "x")]) as s:
                    async for _ in s:
                        got_chunk.set()

            with anyio.fail_after(5):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(consume)
                    await got_chunk.wait()
                    tg.cancel_scope.cancel()
                while not sim.exchanges[0].disconnected:
                    await anyio.sleep(0.01)
    ex = sim.exchanges[0]
    assert ex.disconnected and 0 < ex.chunks < 200


@pytest.mark.parametrize("make", BACKENDS)
async def test_breaking_out_early_closes_the_connection(make: Backend) -> None:
    latency = LatencyModel(tokens_per_s=20, tokens_per_chunk=1)
    async with SimulatedLLM(replies=["word " * 200], latency=latency) as sim:
        async with backend_on(make, sim) as llm:
            with anyio.fail_after(5):
                async with llm.stream("s", [Message("user", "x")]) as s:
                    async for _chunk in s:
                        break
                while not sim.exchanges[0].disconnected:
                    await anyio.sleep(0.01)
    assert s.text == "word"


async def test_a_stream_must_be_entered_before_iterating() -> None:
    async with SimulatedLLM(replies=["x"]) as sim:
        async with backend_on(anthropic_backend, sim) as llm:
            with pytest.raises(RuntimeError, match="async with"):
                await llm.stream("s", [Message("user", "x")]).__anext__()


# ---- choosing a backend ----


def test_usage_adds() -> None:
    assert Usage(1, 2) + Usage(10, 20) == Usage(11, 22)
    assert Usage(3, 4).total_tokens == 7


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("anthropic", ("anthropic", None)),
        ("anthropic:claude-opus-5", ("anthropic", "claude-opus-5")),
        ("openai:llama3.1:8b", ("openai", "llama3.1:8b")),  # Ollama names keep their colon
        (" OpenAI:gpt-5.5 ", ("openai", "gpt-5.5")),
        ("sampling", ("sampling", None)),
    ],
)
def test_parse_model_accepts_the_documented_forms(spec: str, expected: tuple[str, str | None]) -> None:
    assert parse_model(spec) == expected


@pytest.mark.parametrize("spec", ["", "gpt-4o", "anthropic:", "mistral:large", "sampling:host", "openai :"])
def test_malformed_model_strings_list_the_accepted_forms(spec: str) -> None:
    with pytest.raises(ValueError, match='"anthropic:MODEL"') as caught:
        select_llm(spec, env={"ANTHROPIC_API_KEY": "k"})
    assert repr(spec) in str(caught.value)


def test_malformed_env_model_is_an_error_too() -> None:
    with pytest.raises(ValueError, match="malformed model 'claude'"):
        select_llm(None, env={"MCP_COMPILER_MODEL": "claude"})


async def test_explicit_model_wins_over_env_and_keys() -> None:
    env = {"MCP_COMPILER_MODEL": "openai:from-env", "ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o"}
    llm = select_llm("anthropic:explicit", env=env)
    assert llm is not None and llm.name == "anthropic:explicit"
    assert select_llm("sampling", env=env) is None


async def test_env_model_wins_over_api_keys() -> None:
    env = {"MCP_COMPILER_MODEL": "openai:from-env", "ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o"}
    llm = select_llm(None, env=env)
    assert llm is not None and llm.name == "openai:from-env"
    bare = select_llm(None, env={**env, "MCP_COMPILER_MODEL": "anthropic"})
    assert bare is not None and bare.name == f"anthropic:{DEFAULT_ANTHROPIC_MODEL}"


async def test_api_keys_pick_the_default_model_anthropic_first() -> None:
    both = select_llm(None, env={"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o"})
    only_openai = select_llm(None, env={"OPENAI_API_KEY": "o"})
    assert both is not None and both.name == f"anthropic:{DEFAULT_ANTHROPIC_MODEL}"
    assert only_openai is not None and only_openai.name == f"openai:{DEFAULT_OPENAI_MODEL}"
    assert select_llm(None, env={}) is None
    assert select_llm(None, env={"MCP_COMPILER_MODEL": "", "OPENAI_API_KEY": ""}) is None


@pytest.mark.parametrize("wire", ["anthropic", "openai"])
async def test_selected_backend_uses_env_key_and_base_url(wire: str) -> None:
    async with SimulatedLLM(responder=lambda req: f"hello from {req.wire}", api_key="env-key") as sim:
        env = {**sim.env(), "MCP_COMPILER_MODEL": f"{wire}:picked"}
        llm = select_llm(None, env=env)
        assert llm is not None
        with anyio.fail_after(10):
            text, _ = await complete(llm, "", [Message("user", "hi")])
        await llm.aclose()  # type: ignore[attr-defined]
    assert text == f"hello from {wire}"
    assert sim.requests[0].model == "picked"


async def test_sdk_reads_its_own_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    async with SimulatedLLM(responder=lambda req: req.wire, api_key="from-os-env") as sim:
        for name, value in sim.env().items():
            monkeypatch.setenv(name, value)
        for llm in (AnthropicLLM("m", timeouts=FAST), OpenAILLM("m", timeouts=FAST)):
            with anyio.fail_after(10):
                text, _ = await complete(llm, "", [Message("user", "hi")])
            await llm.aclose()
            assert llm.name.startswith(text)


def test_openai_without_key_or_base_url_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(LLMError, match="OPENAI_API_KEY") as caught:
        OpenAILLM("m")
    assert caught.value.kind == "auth"


async def test_openai_local_server_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    async with SimulatedLLM(replies=["local"]) as sim:
        llm = OpenAILLM("llama3.1:8b", base_url=sim.base_url_openai, timeouts=FAST)
        text, _ = await complete(llm, "", [Message("user", "hi")])
        await llm.aclose()
    assert text == "local"


def clear_anthropic_credentials(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_PROFILE", "ANTHROPIC_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))  # no ~/.config/anthropic profile either


async def test_anthropic_without_credentials_fails_clearly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clear_anthropic_credentials(monkeypatch, tmp_path)
    async with SimulatedLLM(replies=["unused"]) as sim:
        llm = AnthropicLLM("m", base_url=sim.base_url_anthropic, timeouts=FAST)
        with pytest.raises(LLMError, match="ANTHROPIC_API_KEY") as caught:
            await complete(llm, "", [Message("user", "hi")])
        await llm.aclose()
    assert caught.value.kind == "auth" and not sim.exchanges


def test_anthropic_broken_credentials_config_is_an_llm_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clear_anthropic_credentials(monkeypatch, tmp_path)
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(tmp_path))  # set, but holds no profile
    with pytest.raises(LLMError, match="cannot set up credentials") as caught:
        AnthropicLLM("m")
    assert caught.value.kind == "auth"
