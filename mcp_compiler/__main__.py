"""`python -m mcp_compiler ...` is the `mcp-compiler` command (for hosts that want an absolute interpreter path)."""

from .cli import main

if __name__ == "__main__":
    main()
