"""The `mcp-compiler` command as a user runs it: a real subprocess over the bundled servers."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.simllm import LatencyModel, SimRequest, SimulatedLLM

ROOT = Path(__file__).parents[2]
CLI = [sys.executable, "-m", "mcp_compiler"]


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "MCP_COMPILER_MODEL")}
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env={**base, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def test_tools_lists_the_catalog_and_json_carries_the_schemas() -> None:
    listed = cli("tools")
    assert listed.returncode == 0, listed.stderr
    assert "wiki.fact(name: string, key: string) — " in listed.stdout
    assert "math.eval(expression: string, variables?: object)" in listed.stdout
    as_json = json.loads(cli("tools", "--json").stdout)
    fact = next(t for t in as_json if t["name"] == "wiki.fact")
    assert fact["server"] == "wiki" and fact["read_only"] is True
    assert fact["input_schema"]["required"] == ["name", "key"]
    assert "value" in fact["output_schema"]["properties"]


def test_run_prints_the_answer_on_stdout_and_the_live_view_on_stderr() -> None:
    done = cli("run", "--plan", '1. wiki.fact("Nile", "length_km")\n2. math.eval("$1.value / 2")')
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"expression": "6650 / 2", "value": 3325.0}
    assert "task 1 wiki.fact started" in done.stderr and "task 2 math.eval ok" in done.stderr


def test_run_json_is_one_run_object(tmp_path: Path) -> None:
    plan = tmp_path / "plan.txt"
    plan.write_text('1. wiki.fact("K2", "height_m")\n2. wiki.fact("Mount Everest", "height_m")\n'
                    "3. math.sum([$1.value, $2.value])\njoin()\n")
    done = cli("run", "--plan-file", str(plan), "--json")
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert set(run) >= {"answer", "tasks", "timings", "rounds", "usage"}
    assert [t["status"] for t in run["tasks"]] == ["ok", "ok", "ok"]
    assert run["tasks"][2]["args"] == {"values": [run["tasks"][0]["result"]["value"], run["tasks"][1]["result"]["value"]]}
    assert all(t["start_s"] <= t["end_s"] for t in run["tasks"])
    assert run["tasks"][2]["start_s"] >= max(run["tasks"][0]["end_s"], run["tasks"][1]["end_s"])
    assert run["timings"]["total_s"] > 0


def test_a_failed_task_exits_1_and_reports_the_error() -> None:
    done = cli("run", "--plan", '1. wiki.lookup("Atlantis-on-Sea")\n2. wiki.fact("Nile", "length_km")')
    assert done.returncode == 1
    assert "No entry named 'Atlantis-on-Sea'" in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "--plan", '1. wiki.fact("Nile",'], "line 1, column"),
        (["run", "--plan", '1. wiki.fakt("Nile", "length_km")'], "did you mean 'wiki.fact'"),
        (["run", "--plan", "1. wiki.fact()"], "missing required argument"),
        (["run"], "exactly one of"),
        (["run", "--config", "/nonexistent/mcp.json", "--plan", "1. a.b()"], "cannot read"),
        (["run", "what is the tallest mountain?"], "ANTHROPIC_API_KEY"),
    ],
)
def test_bad_usage_plan_or_config_exits_2_with_a_message_not_a_traceback(args: list[str], expected: str) -> None:
    done = cli(*args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert expected in done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_config_names_the_server_and_the_field(tmp_path: Path) -> None:
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"weather": {"url": "not a url"}}}))
    done = cli("tools", "--config", str(config))
    assert done.returncode == 2 and "mcpServers.weather.url" in done.stderr


def test_run_a_question_with_a_model_behind_the_openai_base_url() -> None:
    def respond(req: SimRequest) -> str:
        if "Action: Finish(" in req.system:
            value = json.loads(req.last_user_message.split("-> ")[-1].splitlines()[0])["value"]
            return f"Thought: computed.\nAction: Finish(The Nile shortened by 10% is {value} km (about))"
        return '1. wiki.fact("Nile", "length_km")\n2. math.eval("$1.value * 0.9")\njoin()\n<END_OF_PLAN>'

    with SimulatedLLM(responder=respond, latency=LatencyModel(ttft_s=0.01)) as sim:
        env = {"OPENAI_BASE_URL": sim.base_url_openai, "OPENAI_API_KEY": "test"}
        done = cli("run", "How long is the Nile shortened by 10%?", "--model", "openai:sim", "--json", env=env)
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert run["answer"] == "The Nile shortened by 10% is 5985.0 km (about)"
    assert [r["decision"] for r in run["rounds"]] == ["finish"]
    assert [c["purpose"] for c in run["usage"]["calls"]] == ["plan", "join"]
    assert run["usage"]["input_tokens"] > 0


# ---- the command line itself ----------------------------------------------------------------------


def test_version_prints_the_packages_version_and_exits_0() -> None:
    from mcp_compiler import __version__

    done = cli("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"mcp-compiler {__version__}\n"


@pytest.mark.parametrize(
    ("argv", "verbose"),
    [(["serve"], 0), (["serve", "-vv"], 2), (["tools", "-v"], 1), (["-v", "tools"], 1), (["-v", "run", "-v"], 2),
     (["demo", "--verbose"], 1)],
)
def test_verbose_counts_before_and_after_the_command(argv: list[str], verbose: int) -> None:
    from mcp_compiler.cli import parse_args

    assert parse_args(argv).verbose == verbose


def _options(parser: argparse.ArgumentParser, path: str = "mcp-compiler") -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                yield from _options(subparser, f"{path} {name}")
        else:
            yield path, action


def test_every_option_of_every_command_has_help_text() -> None:
    from mcp_compiler.cli import _parser

    options = list(_options(_parser()))
    assert {path for path, _ in options} == {f"mcp-compiler{c}" for c in ("", " tools", " run", " serve", " demo")}
    missing = [f"{path} {'/'.join(a.option_strings) or a.dest}" for path, a in options if not (a.help or "").strip()]
    assert not missing, f"no help text: {missing}"


def test_bench_is_gone_from_the_command_with_a_message_saying_where_it_went() -> None:
    commands = cli("--help").stdout.split("options:")[0]  # usage, description and the command list
    assert "tools" in commands and "bench" not in commands
    for argv in (["bench"], ["bench", "--quick"], ["-v", "bench", "--out", "x"]):
        done = cli(*argv)
        assert done.returncode == 2, done
        assert "python -m benchmarks.bench" in done.stderr and "Traceback" not in done.stderr
    assert "python -m benchmarks.bench" in cli("--help").stdout


def test_run_applies_the_configs_plan_size_limits_before_parsing(tmp_path: Path) -> None:
    # The same limits as the server (compiler.max_plan_bytes, compiler.max_plan_tasks): the CLI used
    # to have none, and a 5 MB plan took minutes and a gigabyte.
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {}, "compiler": {"max_plan_bytes": 2000, "max_plan_tasks": 3}}))
    plan_file = tmp_path / "plan.txt"
    plan_file.write_text("".join(f'{i}. wiki.fact("Nile", "length_km")\n' for i in range(1, 101)))
    too_big = cli("run", "--config", str(config), "--plan-file", str(plan_file))
    assert too_big.returncode == 2, too_big.stderr
    assert "the plan is too large" in too_big.stderr and "compiler.max_plan_bytes" in too_big.stderr
    too_many = cli("run", "--config", str(config), "--plan", "\n".join(f"{i}. wiki.lookup(\"Nile\")" for i in range(1, 6)))
    assert too_many.returncode == 2, too_many.stderr
    assert "the plan has 5 tasks; the limit is 3" in too_many.stderr and "Traceback" not in too_many.stderr
