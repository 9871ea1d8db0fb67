"""mcp-compiler: plan, run in parallel and join many tool calls across many MCP servers.

The engine works on plain Python functions too:

    plan = mcp_compiler.parse_plan('1. add(1, 2)\\n2. add($1, 10)\\njoin()')
    run = await mcp_compiler.execute(plan, tools={"add": add})
"""

from .catalog import Catalog, UnknownTool
from .checks import BoundTask, check_plan
from .compiler import Compiler, execute
from .errors import CallRefused, CallTimeout, CompilerError, ConfigError, ConnectionLost, RequestError
from .llm import LLMError
from .parser import PlanParser, parse_plan
from .plan import Plan, PlanError, Ref, Task, Template
from .run import Run, TaskRecord
from .policy import CallPolicy, Limits, ServerLimits
from .scheduler import Scheduler
from .tools import FunctionToolbox, ToolError, ToolSpec, Toolbox

__all__ = [
    "BoundTask", "CallPolicy", "CallRefused", "CallTimeout", "Catalog", "Compiler", "CompilerError",
    "ConfigError", "ConnectionLost", "FunctionToolbox", "LLMError", "Limits", "Plan", "PlanError", "PlanParser", "Ref",
    "RequestError", "Run", "Scheduler", "ServerLimits", "Task", "TaskRecord", "Template", "ToolError",
    "ToolSpec", "Toolbox", "UnknownTool", "check_plan", "execute", "parse_plan",
]
from ._version import __version__ as __version__  # defined once, in _version.py
