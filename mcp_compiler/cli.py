"""The `mcp-compiler` command: tools, run, serve, demo.

Exit status: 0 when every task succeeded, 1 when a run finished with failed tasks, 2 for bad
usage, config or plan. Logs and the live view go to stderr; stdout carries the answer, JSON, or
(for `serve` on stdio) the MCP protocol.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

import anyio
import anyio.to_thread

from ._version import __version__
from .compiler import Compiler, Event
from .config import Config, ConfigError, load_config
from .engine.run import Run
from .errors import RequestError
from .language.plan import PlanError
from .logs import Redactor, configure_logging, redact_secrets
from .tools.catalog import tool_line
from .tools.toolbox import ToolSpec

__all__ = ["main"]

log = logging.getLogger("mcp_compiler")

EXIT_OK, EXIT_FAILED_TASKS, EXIT_USAGE = 0, 1, 2

# The compiler's own NoPlanner message speaks to MCP clients (`plan`, `query`); this one names the flags.
NO_PLANNER_CLI = (
    "a QUESTION needs a planner model, and none is configured: set ANTHROPIC_API_KEY or OPENAI_API_KEY, "
    "or give --model anthropic:NAME or openai:NAME (or compiler.model in the config, or MCP_COMPILER_MODEL; "
    "the model `sampling` works only under `mcp-compiler serve`, through the MCP host). "
    "A plan needs no model: give --plan or --plan-file instead."
)


class UsageError(Exception):
    """Bad command-line input, config or plan: exit status 2 with the message."""


VERBOSE_HELP = "more logs on stderr (-vv: debug); before or after the command"
LOG_FORMAT_HELP = "logs on stderr as text lines (the default) or JSON objects with trace and span ids"
BENCH_MOVED = (
    "the benchmarks are not part of the installed command: from a clone of the repository, run "
    "`python -m benchmarks.bench --quick` (see docs/benchmarks.md)"
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-compiler",
        description="Plan, run in parallel and join many tool calls across many MCP servers.",
        epilog=BENCH_MOVED[0].upper() + BENCH_MOVED[1:] + ".",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}",
                        help="print the version and exit")
    parser.add_argument("-v", "--verbose", action="count", default=0, help=VERBOSE_HELP)
    # -v after the command too (`mcp-compiler serve -vv`). A subcommand parses into a namespace of
    # its own and copies it over the top one, so it counts under another name; main() adds the two.
    after = argparse.ArgumentParser(add_help=False)
    after.add_argument("-v", "--verbose", dest="verbose_after", action="count", default=argparse.SUPPRESS,
                       help=VERBOSE_HELP)
    parser.add_argument("--log-format", choices=["text", "json"], default="text", help=LOG_FORMAT_HELP)
    after.add_argument("--log-format", choices=["text", "json"], default=argparse.SUPPRESS, help=LOG_FORMAT_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, parents=[after])
        p.add_argument("--config", metavar="FILE", help="mcpServers JSON config (default: the bundled wiki and math servers)")
        return p

    tools = add("tools", "list the tools of the configured servers")
    tools.add_argument("--json", action="store_true", help="print the catalog as JSON, with full schemas")

    run = add("run", "run a plan (or, with a model, a question) over the configured servers")
    run.add_argument("question", nargs="?", help="a question for the planner LLM (needs a model)")
    source = run.add_mutually_exclusive_group()
    source.add_argument("--plan", metavar="TEXT", help="a plan in the plan language")
    source.add_argument("--plan-file", metavar="FILE", help="a file holding a plan ('-' for stdin)")
    run.add_argument("--json", action="store_true", help="print the Run as one JSON object")
    run.add_argument("--model", metavar="M", help="anthropic:NAME, openai:NAME (for a question)")
    run.add_argument("--html", metavar="FILE", help="also write the run's page (its plan and timeline) to FILE, "
                     "self-contained (docs/observability.md#the-run-viewer)")

    serve = add("serve", "serve compile_and_run as an MCP server")
    serve.add_argument("--transport", choices=["stdio", "http"], default="stdio",
                       help="stdio for a host that launches the server (the default), http for Streamable HTTP")
    serve.add_argument("--host", default="127.0.0.1", metavar="H",
                       help="HTTP: the address to listen on (default: %(default)s; off loopback a bearer token "
                            "is required)")
    serve.add_argument("--port", type=int, default=8765, metavar="P",
                       help="HTTP: the port to listen on (default: %(default)s)")
    serve.add_argument("--model", metavar="M", help="planner model: anthropic:NAME, openai:NAME or sampling")
    serve.add_argument("--stateless", action="store_true",
                       help="HTTP: keep no session between requests (for replicas behind a load balancer)")
    serve.add_argument("--state", metavar="URL",
                       help="where state between requests lives: memory:// (default) or "
                            "redis://[user:password@]host:port/db, shared by replicas (also $MCP_COMPILER_STATE)")

    add("demo", "run a parallel demo plan over the bundled servers (no API key needed)")
    return parser


def _command_word(argv: list[str]) -> str | None:
    """The first word that is not an option: the command, unless the options before it take values
    (the top-level ones take none)."""
    return next((a for a in argv if not a.startswith("-")), None)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line as main() sees it: `verbose` counts every -v, before and after the command."""
    if _command_word(argv) == "bench":
        print(f"mcp-compiler: no command `bench`: {BENCH_MOVED}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    args = _parser().parse_args(argv)
    args.verbose += getattr(args, "verbose_after", 0)
    return args


def main(argv: list[str] | None = None) -> NoReturn:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # Warnings and errors only, for every command (serve included): info logs with -v.
    configure_logging(args.verbose, quiet_level=logging.WARNING, log_format=args.log_format)
    command: Callable[[argparse.Namespace], Awaitable[int]] = COMMANDS[args.command]
    try:
        code = anyio.run(_with_signals, command, args)
    except UsageError as e:
        print(f"mcp-compiler {args.command}: {e}", file=sys.stderr)
        code = EXIT_USAGE
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


async def _with_signals(command: Callable[[argparse.Namespace], Awaitable[int]], args: argparse.Namespace) -> int:
    """SIGTERM and SIGINT cancel the command's scope, so every upstream session closes cleanly.

    After a signal, `serve` exits 0 (being stopped is how a server ends); the other commands
    exit 130, their work cut short.
    """
    import gc

    from .upstreams import cancel_on_signals

    outcome: list[int | Exception] = []
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel_on_signals, tg.cancel_scope)
            try:
                outcome.append(await command(args))
            except (ConfigError, PlanError, RequestError, UsageError) as e:
                outcome.append(e)  # raised out here, it would come wrapped in an ExceptionGroup
            finally:
                tg.cancel_scope.cancel()
    finally:
        # The command is over and its children are gone: the interpreter's teardown need not
        # collect cycles (with mcp, pydantic and the LLM SDKs loaded that took 0.3-1 s, most of
        # the time `serve` took to exit after SIGTERM). Objects are still freed, atexit still runs.
        gc.freeze()
    if not outcome:
        return EXIT_OK if args.command == "serve" else 130  # a signal cancelled the command
    if isinstance(outcome[0], Exception):
        raise UsageError(str(outcome[0]))
    return outcome[0]


def load(args: argparse.Namespace) -> Config:
    try:
        config = load_config(args.config)
    except ConfigError as e:
        raise UsageError(f"config {args.config or '(default)'}: {e}") from None
    except OSError as e:
        raise UsageError(f"cannot read config {args.config}: {e.strerror or e}") from None
    # From here on, no log line carries a configured secret (env and header values, URL credentials).
    redact_secrets(Redactor.from_config(config))
    return config


# ---- tools ------------------------------------------------------------------------------------


async def cmd_tools(args: argparse.Namespace) -> int:
    from .gateway import GatewayToolbox, down_servers
    from .upstreams import UpstreamPool

    config = load(args)
    async with UpstreamPool(config, wait_for_servers=False, startup_wait_s=config.compiler.startup_wait_s) as pool:
        await wait_for_starting(pool, None)
        catalog = GatewayToolbox(pool).specs()  # what a plan can call: the servers' tools and the built-ins
        down = down_servers(pool)
        connected = not pool.status() or any(s.connected for s in pool.status())
        if args.json:
            for name, cause in down.items():  # stdout is the catalog's JSON
                print(f"warning: server {name} is not connected: {cause}", file=sys.stderr)
            out = [
                {
                    "name": spec.name, "server": spec.provider, "description": spec.description,
                    "input_schema": spec.input_schema, "output_schema": spec.output_schema,
                    "read_only": spec.read_only, "idempotent": spec.idempotent, "destructive": spec.destructive,
                }
                for spec in catalog.values()
            ]
            print(json.dumps(out, indent=2))
        else:
            for spec in catalog.values():
                print(tool_line(spec))
            if down:
                print(f"\nNot connected ({len(down)}; retried in the background, a task calling their tools fails "
                      "with the reason):")
                for name, cause in down.items():
                    print(f"  {name}: {_one_line(cause)}")
    if not connected:
        print("error: no server connected (see the causes above)", file=sys.stderr)
        return EXIT_FAILED_TASKS
    return EXIT_OK


_QUIET_WAIT_S = 2.0


async def wait_for_starting(pool: Any, tools: list[str] | None) -> None:
    """Wait for the servers `tools` need (None: all) that are still starting, saying which and for
    how long; past `compiler.startup_wait_s` go on without them, saying so. Ready ones cost nothing."""
    with anyio.move_on_after(_QUIET_WAIT_S):  # an ordinary start-up goes unannounced
        await pool.settle(tools)
    starting = pool.starting(tools)
    if not starting:
        return
    wait = pool.startup_wait_s
    print(f"waiting up to {wait:g} s for {', '.join(starting)} to start (compiler.startup_wait_s)", file=sys.stderr)
    await pool.settle(tools)
    still = pool.starting(tools)
    if still:
        print(f"going on without {', '.join(still)}: still starting after {wait:g} s", file=sys.stderr)


def _one_line(text: str) -> str:
    return " / ".join(part.strip() for part in text.splitlines() if part.strip())


# ---- run --------------------------------------------------------------------------------------


def _read_plan(args: argparse.Namespace) -> str | None:
    if args.plan is not None:
        return args.plan
    if args.plan_file is None:
        return None
    if args.plan_file == "-":
        return sys.stdin.read()
    try:
        with open(args.plan_file, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise UsageError(f"cannot read plan file {args.plan_file}: {e.strerror or e}") from None


async def _ask_on_terminal(spec: ToolSpec, arguments: dict[str, Any]) -> bool:
    """`compiler.destructive: confirm` at a terminal: ask the person before the call runs."""
    kind = "destructive tool" if spec.destructive else "tool"
    question = f"run {kind} {spec.name}({json.dumps(arguments)})? [y/N] "
    answer = await anyio.to_thread.run_sync(lambda: input(question), abandon_on_cancel=True)
    return answer.strip().lower() in ("y", "yes")


def live_view(event: Event) -> None:
    print(f"[{event.done}/{event.total}] {event.message}", file=sys.stderr, flush=True)


async def cmd_run(args: argparse.Namespace) -> int:
    from .gateway import open_gateway
    from .request import RequestLimits, parse_request

    plan = _read_plan(args)
    if (plan is None) == (args.question is None):
        raise UsageError("give exactly one of a QUESTION, --plan or --plan-file")
    from .observability import setup_tracing

    setup_tracing()  # a run traced like the server's when the OTEL_* variables ask (docs/observability.md)
    config = load(args)
    parsed = None
    if plan is not None:  # a plan that is too large or does not parse needs no server
        parsed = parse_request({"plan": plan}, RequestLimits.from_config(config.compiler)).plan
    confirm = _ask_on_terminal if sys.stdin.isatty() else None
    # Servers join in the background: a plan waits only for the servers it names (a question, for all).
    async with open_gateway(config, wait_for_servers=False, startup_wait_s=config.compiler.startup_wait_s) as gateway:
        await wait_for_starting(gateway.pool, [t.tool for t in parsed.tasks] if parsed is not None else None)
        on_event = None if args.json else live_view
        if parsed is not None:
            run = await gateway.compiler.run_plan(parsed, on_event=on_event, confirm=confirm)
        else:
            run = await _run_question(gateway.compiler, config, args, on_event, confirm)
    if args.html:
        from .observability.viewer import run_page

        with open(args.html, "w", encoding="utf-8") as out:
            out.write(run_page(run))
    _print_run(run, as_json=args.json)
    return EXIT_OK if run.ok and run.answer is not None else EXIT_FAILED_TASKS


async def _run_question(
    compiler: Compiler, config: Config, args: argparse.Namespace, on_event: Any, confirm: Any
) -> Run:
    from .llm import choose_model

    try:
        llm = choose_model(args.model or config.compiler.model)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if llm is None or llm == "sampling":
        raise UsageError(NO_PLANNER_CLI)
    return await compiler.run_query(args.question, llm=llm, on_event=on_event, confirm=confirm)


def _print_run(run: Run, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(run.to_dict(), indent=2))
        return
    total = run.timings.get("total_s", run.elapsed())
    print(f"-- {len(run.tasks)} task(s) in {total:.2f} s", file=sys.stderr)
    print(run.answer if run.answer is not None else f"(no answer: {run.error})")


# ---- commands defined elsewhere ------------------------------------------------------------------


async def cmd_serve(args: argparse.Namespace) -> int:
    from .server import serve

    if args.stateless and args.transport != "http":
        raise UsageError("--stateless applies to --transport http only")
    await serve(load(args), transport=args.transport, host=args.host, port=args.port, model=args.model,
                stateless=args.stateless, state_url=args.state)
    return EXIT_OK


async def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import demo

    return await demo(load(args))


COMMANDS: dict[str, Callable[[argparse.Namespace], Awaitable[int]]] = {
    "tools": cmd_tools, "run": cmd_run, "serve": cmd_serve, "demo": cmd_demo,
}
