"""Small MCP servers shipped with mcp-compiler: the default downstream set.

Each runs on its own as ``python -m mcp_compiler.servers.<name>`` (stdio by default,
``--transport http --port N`` for Streamable HTTP at ``/mcp``):

- ``wiki``: search, lookup and numeric facts over a bundled offline encyclopedia;
- ``math``: a safe arithmetic evaluator and a few numeric helpers.
"""
