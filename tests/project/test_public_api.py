"""The public API is what `mcp_compiler.__all__` names, and nothing internal leaks into it: a change
to this list is a change users see, so it is made here on purpose or not at all."""

from __future__ import annotations

import inspect

import mcp_compiler

PUBLIC = {
    "Compiler", "execute", "parse_plan", "check_plan", "load_config",
    "Plan", "Task", "Ref", "Template", "Run", "TaskRecord", "Toolbox", "FunctionToolbox", "ToolSpec",
    "Config", "Limits", "ServerLimits",
    "CompilerError", "PlanError", "UnknownTool", "ConfigError", "RequestError", "NoPlanner", "ToolError",
    "CallTimeout", "CallRefused", "ConnectionLost", "OverBudget", "LLMError",
}


def test_all_is_the_public_api() -> None:
    assert set(mcp_compiler.__all__) == PUBLIC
    assert len(mcp_compiler.__all__) == len(PUBLIC)  # no name twice
    assert all(hasattr(mcp_compiler, name) for name in PUBLIC)


def test_internals_are_not_exported() -> None:
    for internal in ("Scheduler", "PlanParser", "BoundTask", "CallPolicy", "Catalog", "UpstreamPool"):
        assert internal not in mcp_compiler.__all__
        assert not hasattr(mcp_compiler, internal), internal


def test_every_exported_exception_is_a_compiler_error() -> None:
    exceptions = [obj for obj in (getattr(mcp_compiler, n) for n in mcp_compiler.__all__)
                  if inspect.isclass(obj) and issubclass(obj, BaseException)]
    assert len(exceptions) == 12
    assert all(issubclass(e, mcp_compiler.CompilerError) for e in exceptions)


# Exception classes that are signals between two parts of the package and never reach a caller of
# the public API, each with where it ends. A new exception class is a CompilerError or joins this
# list with its reason.
INTERNAL_SIGNALS = {
    "mcp_compiler.auth.access_tokens.InvalidToken": "an access token refused; resource.py answers 401 and logs why",
    "mcp_compiler.auth.resource.Denied": "a request refused by the protected resource; becomes its 401 or 403",
    "mcp_compiler.cli.UsageError": "bad command-line arguments; main() turns it into exit status 2",
    "mcp_compiler.language.plan.ResolveError": "a reference that does not resolve; becomes the task's error",
    "mcp_compiler.server.round_trips.NoAnswer": "a held run's question left unanswered; becomes the reply",
    "mcp_compiler.server.store.Unreadable": "a link that cannot be read; becomes the resources/read error",
    "mcp_compiler.upstreams.failures.ConnectFailed": "one connection attempt failed; retried, or the server's status",
    "mcp_compiler.upstreams.relay.HostUnavailable": "a host that cannot be asked; the upstream gets an MCP error",
}


def test_every_exception_class_in_the_package_is_a_compiler_error_or_an_internal_signal() -> None:
    import importlib
    import pkgutil

    found = set()
    for info in pkgutil.walk_packages(mcp_compiler.__path__, "mcp_compiler."):
        if info.name.startswith(("mcp_compiler.servers", "mcp_compiler.__main__")):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == info.name
                    and not name.startswith("_") and not issubclass(obj, mcp_compiler.CompilerError)):
                found.add(f"{info.name}.{name}")
    assert found == set(INTERNAL_SIGNALS)
