"""mcp-compiler: plan, run in parallel and join many tool calls across many MCP servers.

The engine works on plain Python functions too:

    plan = mcp_compiler.parse_plan('1. add(1, 2)\\n2. add($1, 10)\\njoin()')
    run = await mcp_compiler.execute(plan, tools={"add": add})
"""

from .compiler import Compiler, execute
from .engine.policy import CallPolicy, Limits, ServerLimits
from .engine.run import Run, TaskRecord
from .engine.scheduler import Scheduler
from .errors import CallRefused, CallTimeout, CompilerError, ConfigError, ConnectionLost, RequestError
from .language.checks import BoundTask, check_plan
from .language.parser import PlanParser, parse_plan
from .language.plan import Plan, PlanError, Ref, Task, Template
from .llm import LLMError
from .tools.catalog import Catalog, UnknownTool
from .tools.toolbox import FunctionToolbox, Toolbox, ToolError, ToolSpec

__all__ = [
    "BoundTask", "CallPolicy", "CallRefused", "CallTimeout", "Catalog", "Compiler", "CompilerError",
    "ConfigError", "ConnectionLost", "FunctionToolbox", "LLMError", "Limits", "Plan", "PlanError", "PlanParser", "Ref",
    "RequestError", "Run", "Scheduler", "ServerLimits", "Task", "TaskRecord", "Template", "ToolError",
    "ToolSpec", "Toolbox", "UnknownTool", "check_plan", "execute", "parse_plan",
]
from ._version import __version__ as __version__  # defined once, in _version.py
