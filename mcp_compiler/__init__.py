"""mcp-compiler: plan, run in parallel and join many tool calls across many MCP servers."""

from .catalog import Catalog, UnknownTool
from .tools import FunctionToolbox, ToolError, ToolSpec, Toolbox

__all__ = ["Catalog", "UnknownTool", "FunctionToolbox", "ToolError", "ToolSpec", "Toolbox"]
__version__ = "0.1.0"
