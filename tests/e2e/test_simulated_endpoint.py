"""The simulated LLM endpoint, spoken to by the real `anthropic` and `openai` SDKs over loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anthropic
import anyio
import openai
import pytest

from benchmarks import ROOT
from benchmarks.simllm import Fail, LatencyModel, Reply, SimRequest, SimulatedLLM, count_tokens
from benchmarks.simllm._app import truncate
from mcp_compiler.llm.tokens import chunk_text, token_pieces

pytestmark = pytest.mark.anyio

TEXT = "Thought: both searches are independent.\n1. wiki.search(query=\"Mariana Trench\")\n2. join()"


def anthropic_client(sim: SimulatedLLM, **kw: object) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=sim.base_url_anthropic, api_key="sim-key", max_retries=0, **kw)  # type: ignore[arg-type]


def openai_client(sim: SimulatedLLM, **kw: object) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=sim.base_url_openai, api_key="sim-key", max_retries=0, **kw)  # type: ignore[arg-type]


# ---- the token rule ----


def test_token_rule_counts_words_and_punctuation_and_ignores_whitespace() -> None:
    assert count_tokens("Hello, world!") == 4
    assert count_tokens("  \n\t ") == 0
    assert count_tokens("$1.depth_m * 0.8") == 8  # $ 1 . depth_m * 0 . 8


def test_chunks_tile_the_text_exactly() -> None:
    for text in [TEXT, "  leading", "trailing  \n", "", "a", "日本語 テキスト, ok"]:
        assert "".join(token_pieces(text)) == text
        chunks = chunk_text(text, 3)
        assert "".join(c for c, _ in chunks) == text
        assert sum(n for _, n in chunks) == count_tokens(text)
        assert all(n <= 3 for _, n in chunks)


def test_truncate_applies_the_earliest_stop_sequence_then_max_tokens() -> None:
    assert truncate("a b <END> c", ["<END>", "c"], None) == ("a b ", "stop_sequence", "<END>")
    assert truncate("one two three four", [], 2) == ("one two", "max_tokens", None)
    assert truncate("short", [], 10) == ("short", "end", None)


# ---- Anthropic wire format ----


async def test_anthropic_sdk_streams_raw_events_in_order_with_usage() -> None:
    async with SimulatedLLM(replies=[TEXT], latency=LatencyModel(tokens_per_chunk=2)) as sim:
        client = anthropic_client(sim)
        stream = await client.messages.create(
            model="claude-sim",
            max_tokens=200,
            system="You are a planner.",
            messages=[{"role": "user", "content": "Compare two trenches."}],
            stream=True,
        )
        events = [event async for event in stream]
        await client.close()

    types = [e.type for e in events]
    assert types[:2] == ["message_start", "content_block_start"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    deltas = [e.delta.text for e in events if e.type == "content_block_delta"]
    assert len(deltas) > 5 and "".join(deltas) == TEXT
    assert events[0].message.usage.input_tokens == count_tokens("You are a planner.Compare two trenches.") == 9
    assert events[-2].usage.output_tokens == count_tokens(TEXT)
    assert events[-2].delta.stop_reason == "end_turn"
    assert sim.requests[0].system == "You are a planner."
    assert sim.requests[0].wire == "anthropic" and sim.requests[0].stream


async def test_anthropic_sdk_stream_helper_accumulates_the_final_message() -> None:
    async with SimulatedLLM(replies=[TEXT]) as sim:
        client = anthropic_client(sim)
        async with client.messages.stream(
            model="claude-sim", max_tokens=200, messages=[{"role": "user", "content": "go"}]
        ) as stream:
            chunks = [t async for t in stream.text_stream]
            final = await stream.get_final_message()
        await client.close()
    assert "".join(chunks) == TEXT
    assert final.content[0].text == TEXT  # type: ignore[union-attr]
    assert final.usage.output_tokens == count_tokens(TEXT)


async def test_anthropic_sdk_non_streaming_message() -> None:
    async with SimulatedLLM(replies=[TEXT]) as sim:
        client = anthropic_client(sim)
        message = await client.messages.create(
            model="claude-sim",
            max_tokens=200,
            system=[{"type": "text", "text": "block system"}],
            messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        )
        await client.close()
    assert message.content[0].text == TEXT  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (3, count_tokens(TEXT))
    assert sim.requests[0].system == "block system" and not sim.requests[0].stream


async def test_anthropic_stop_sequence_is_honoured_and_reported() -> None:
    async with SimulatedLLM(replies=["1. a()\n<END_OF_PLAN>\nignored"]) as sim:
        client = anthropic_client(sim)
        message = await client.messages.create(
            model="m", max_tokens=50, stop_sequences=["<END_OF_PLAN>"], messages=[{"role": "user", "content": "x"}]
        )
        await client.close()
    assert message.content[0].text == "1. a()\n"  # type: ignore[union-attr]
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "<END_OF_PLAN>")


async def test_anthropic_error_status_reaches_the_sdk_with_its_error_body() -> None:
    async with SimulatedLLM(replies=[Fail(529, "overloaded right now")]) as sim:
        client = anthropic_client(sim)
        with pytest.raises(anthropic.APIStatusError) as caught:
            await client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])
        await client.close()
    assert caught.value.status_code == 529
    assert caught.value.body == {"type": "error", "error": {"type": "overloaded_error", "message": "overloaded right now"}}
    assert sim.exchanges[0].status == 529


# ---- OpenAI wire format ----


async def test_openai_sdk_streams_chunks_then_a_usage_chunk() -> None:
    async with SimulatedLLM(replies=[TEXT], latency=LatencyModel(tokens_per_chunk=2)) as sim:
        client = openai_client(sim)
        stream = await client.chat.completions.create(
            model="gpt-sim",
            messages=[{"role": "system", "content": "You are a planner."}, {"role": "user", "content": "Go"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [c async for c in stream]
        await client.close()

    assert chunks[0].choices[0].delta.role == "assistant"
    texts = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(texts) > 5 and "".join(texts) == TEXT
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (6, count_tokens(TEXT))
    assert all(c.usage is None for c in chunks[:-1])
    assert sim.requests[0].system == "You are a planner." and sim.requests[0].include_usage


async def test_openai_stream_without_include_usage_has_no_usage_chunk() -> None:
    async with SimulatedLLM(replies=["hi there"]) as sim:
        client = openai_client(sim)
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], stream=True
        )
        chunks = [c async for c in stream]
        await client.close()
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_openai_sdk_non_streaming_completion_and_max_tokens() -> None:
    async with SimulatedLLM(replies=[TEXT, "one two three four five"]) as sim:
        client = openai_client(sim)
        full = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        cut = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], max_completion_tokens=3
        )
        await client.close()
    assert full.choices[0].message.content == TEXT
    assert full.usage is not None and full.usage.completion_tokens == count_tokens(TEXT)
    assert (cut.choices[0].message.content, cut.choices[0].finish_reason) == ("one two three", "length")
    assert sim.requests[1].max_tokens == 3


async def test_openai_rate_limit_error_reaches_the_sdk() -> None:
    async with SimulatedLLM(replies=[Fail(429, "slow down")]) as sim:
        client = openai_client(sim)
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        await client.close()
    assert caught.value.status_code == 429 and "slow down" in str(caught.value)


async def test_sdk_retries_honour_retry_after_ms() -> None:
    async with SimulatedLLM(replies=[Fail(500, "flaky", retry_after_s=0.01), "recovered"]) as sim:
        client = openai.AsyncOpenAI(base_url=sim.base_url_openai, api_key="k", max_retries=1)
        with anyio.fail_after(5):
            reply = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        await client.close()
    assert reply.choices[0].message.content == "recovered"
    assert [ex.status for ex in sim.exchanges] == [500, 200]


async def test_api_key_is_enforced_per_wire_format() -> None:
    async with SimulatedLLM(responder=lambda req: "ok", api_key="right") as sim:
        good = anthropic.AsyncAnthropic(base_url=sim.base_url_anthropic, api_key="right", max_retries=0)
        bad = openai.AsyncOpenAI(base_url=sim.base_url_openai, api_key="wrong", max_retries=0)
        message = await good.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])
        with pytest.raises(openai.AuthenticationError):
            await bad.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        await good.close()
        await bad.close()
    assert message.content[0].text == "ok"  # type: ignore[union-attr]
    assert [ex.status for ex in sim.exchanges] == [200, 401]


# ---- scripting, latency, records ----


async def test_responder_sees_the_request_and_queue_comes_first() -> None:
    seen: list[SimRequest] = []

    async def responder(req: SimRequest) -> str:
        seen.append(req)
        return f"echo {req.last_user_message} for {req.model}"

    async with SimulatedLLM(responder, replies=["queued"]) as sim:
        client = openai_client(sim)
        first = await client.chat.completions.create(model="a", messages=[{"role": "user", "content": "one"}])
        second = await client.chat.completions.create(model="b", messages=[{"role": "user", "content": "two"}])
        await client.close()
    assert first.choices[0].message.content == "queued"
    assert second.choices[0].message.content == "echo two for b"
    assert [r.model for r in seen] == ["b"]


async def test_no_scripted_reply_is_a_clear_500() -> None:
    async with SimulatedLLM() as sim:
        client = openai_client(sim)
        with pytest.raises(openai.InternalServerError) as caught:
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        await client.close()
    assert "no scripted reply" in str(caught.value)


async def test_latency_model_paces_the_stream_and_records_chunk_times() -> None:
    # 12 tokens at 40 tokens/s in chunks of 3: first chunk after ttft, then 3 more chunks of 75 ms.
    latency = LatencyModel(ttft_s=0.1, tokens_per_s=40, tokens_per_chunk=3)
    async with SimulatedLLM(replies=["a b c d e f g h i j k l"], latency=latency) as sim:
        client = anthropic_client(sim)
        arrivals: list[float] = []
        start = anyio.current_time()
        stream = await client.messages.create(
            model="m", max_tokens=100, messages=[{"role": "user", "content": "x"}], stream=True
        )
        async for event in stream:
            if event.type == "content_block_delta":
                arrivals.append(anyio.current_time() - start)
        await client.close()
    ex = sim.exchanges[0]
    assert ex.chunks == 4 and len(arrivals) == 4
    assert ex.first_chunk_at is not None and ex.last_chunk_at is not None
    assert ex.first_chunk_at - ex.received_at >= 0.09
    assert ex.last_chunk_at - ex.first_chunk_at >= 0.2  # 3 x 75 ms, generous lower bound
    assert arrivals[0] >= 0.09 and arrivals[-1] - arrivals[0] >= 0.2
    assert arrivals == sorted(arrivals)


async def test_non_streaming_reply_waits_for_the_whole_generation() -> None:
    latency = LatencyModel(ttft_s=0.05, tokens_per_s=50)
    async with SimulatedLLM(replies=["w " * 10], latency=latency) as sim:
        client = openai_client(sim)
        start = anyio.current_time()
        await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        elapsed = anyio.current_time() - start
        await client.close()
    assert elapsed >= 0.05 + 10 / 50 - 0.02


async def test_per_reply_latency_overrides_the_endpoint_default() -> None:
    slow = Reply("slow reply", latency=LatencyModel(ttft_s=0.3))
    async with SimulatedLLM(replies=["fast reply", slow], latency=LatencyModel()) as sim:
        client = openai_client(sim)
        for _ in range(2):
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        await client.close()
    fast_ex, slow_ex = sim.exchanges
    assert fast_ex.first_chunk_at is not None and slow_ex.first_chunk_at is not None
    assert slow_ex.first_chunk_at - slow_ex.received_at >= 0.29
    assert fast_ex.first_chunk_at - fast_ex.received_at < 0.29


async def test_client_leaving_mid_stream_is_recorded_as_a_disconnect() -> None:
    with anyio.fail_after(10):
        async with SimulatedLLM(replies=[Reply("one two three four", stall_after_tokens=2)]) as sim:
            client = anthropic_client(sim)
            stream = await client.messages.create(
                model="m", max_tokens=100, messages=[{"role": "user", "content": "x"}], stream=True
            )
            async for event in stream:
                if event.type == "content_block_delta":
                    break
            await stream.close()
            while not sim.exchanges[0].disconnected:
                await anyio.sleep(0.01)
            await client.close()
    assert sim.exchanges[0].reply_text == "one two"
    assert sim.exchanges[0].finished_at is not None


async def test_closing_the_endpoint_ends_a_stalled_reply_promptly() -> None:
    with anyio.fail_after(10):
        async with SimulatedLLM(replies=[Reply("never", stall_after_tokens=0)]) as sim:
            client = openai_client(sim, timeout=30)
            async with anyio.create_task_group() as tg:

                async def call() -> None:
                    with pytest.raises(openai.APIError):
                        stream = await client.chat.completions.create(
                            model="m", messages=[{"role": "user", "content": "x"}], stream=True
                        )
                        async for _ in stream:
                            pass

                tg.start_soon(call)
                while not sim.exchanges:
                    await anyio.sleep(0.01)
                tg.cancel_scope.cancel()
            await client.close()


def test_runs_in_a_background_thread_for_sync_callers() -> None:
    with SimulatedLLM(responder=lambda req: f"sync {req.wire}") as sim:
        client = openai.OpenAI(base_url=sim.base_url_openai, api_key="k", max_retries=0)
        reply = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        client.close()
        env = sim.env()
    assert reply.choices[0].message.content == "sync openai"
    assert env["OPENAI_BASE_URL"] == sim.base_url_openai and env["ANTHROPIC_BASE_URL"] == sim.base_url_anthropic


def test_standalone_process_serves_a_script_and_records_exchanges(tmp_path: Path) -> None:
    script = {
        "latency": {"ttft_s": 0.0},
        "replies": ["first from queue"],
        "rules": [{"match": "Joiner", "in": "system", "reply": "Action: Finish(42)"}],
        "default": {"fail": 503, "message": "nothing scripted"},
    }
    (tmp_path / "script.json").write_text(json.dumps(script))
    record = tmp_path / "record.jsonl"
    command = [sys.executable, "-m", "benchmarks.simllm", "--port", "0",
               "--script", str(tmp_path / "script.json"), "--record", str(record)]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT) as proc:
        try:
            talk_to_standalone_endpoint(proc)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    records = [json.loads(line) for line in record.read_text().splitlines()]
    assert [r["status"] for r in records] == [200, 200, 503]
    assert records[1]["request"]["system"] == "You are the Joiner"
    assert proc.returncode == 0  # SIGTERM is a clean stop


def talk_to_standalone_endpoint(proc: subprocess.Popen[str]) -> None:
    """The standalone server's queue first, then its rules, then its default (a 503)."""
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the server prints this once it listens
    assert line.startswith("SIMLLM READY http://127.0.0.1:"), line
    base = line.split()[-1]
    client = anthropic.Anthropic(base_url=base, api_key="k", max_retries=0, timeout=10)
    msg = lambda system: client.messages.create(  # noqa: E731
        model="m", max_tokens=20, system=system, messages=[{"role": "user", "content": "q"}]
    )
    assert msg("Planner").content[0].text == "first from queue"  # type: ignore[union-attr]
    assert msg("You are the Joiner").content[0].text == "Action: Finish(42)"  # type: ignore[union-attr]
    with pytest.raises(anthropic.APIStatusError) as caught:
        msg("Planner")
    assert caught.value.status_code == 503
    client.close()
