"""The package's version, defined here once: pyproject.toml reads it, `mcp_compiler.__version__`,
`mcp-compiler --version` and the MCP handshakes (serverInfo, clientInfo) report it."""

__version__ = "0.1.0"
