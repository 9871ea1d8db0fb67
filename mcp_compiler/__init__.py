"""mcp-compiler: plan, run in parallel and join many tool calls across many MCP servers.

The engine works on plain Python functions too:

    plan = mcp_compiler.parse_plan('1. add(1, 2)\\n2. add($1, 10)\\njoin()')
    run = await mcp_compiler.execute(plan, tools={"add": add})

What is exported here is the public API (tests/project/test_public_api.py holds it): the entry
points, the plan and Run models, the toolbox interface, the config and limit types and the exception
family. Everything else is reachable through its module and may change between releases; the
gateway over a config file's MCP servers is `mcp_compiler.gateway.open_gateway`, the LLM backends
are in `mcp_compiler.llm`, a scripted LLM for tests in `mcp_compiler.testing`.
"""

from .compiler import Compiler, execute
from .config import Config, load_config
from .engine.policy import Limits, ServerLimits
from .engine.run import Run, TaskRecord
from .errors import (
    CallRefused,
    CallTimeout,
    CompilerError,
    ConfigError,
    ConnectionLost,
    NoPlanner,
    OverBudget,
    RequestError,
)
from .language.checks import check_plan
from .language.parser import parse_plan
from .language.plan import Plan, PlanError, Ref, Task, Template
from .llm import LLMError
from .tools.catalog import UnknownTool
from .tools.toolbox import FunctionToolbox, Toolbox, ToolError, ToolSpec

__all__ = [
    # entry points
    "Compiler", "execute", "parse_plan", "check_plan", "load_config",
    # the plan, the Run, the tools
    "Plan", "Task", "Ref", "Template", "Run", "TaskRecord", "Toolbox", "FunctionToolbox", "ToolSpec",
    # config and limits
    "Config", "Limits", "ServerLimits",
    # the exception family
    "CompilerError", "PlanError", "UnknownTool", "ConfigError", "RequestError", "NoPlanner", "ToolError",
    "CallTimeout", "CallRefused", "ConnectionLost", "OverBudget", "LLMError",
]
from ._version import __version__ as __version__  # defined once, in _version.py
