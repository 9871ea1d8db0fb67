# mcp-compiler: the compile_and_run MCP server with the bundled wiki and math servers inside.
#
#   docker build -t mcp-compiler .
#   stdio (what Claude Desktop and IDE hosts launch):
#     docker run -i --rm --init mcp-compiler
#   Streamable HTTP at http://localhost:8765/mcp (a bearer token is required off loopback):
#     docker run --rm --init -p 127.0.0.1:8765:8765 -e MCP_COMPILER_TOKEN=... mcp-compiler \
#       serve --transport http --host 0.0.0.0
#   your own servers: mount a config and pass --config /config/mcp.json
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY mcp_compiler ./mcp_compiler
RUN pip install --no-cache-dir . \
    && groupadd --gid 10001 mcp \
    && useradd --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin mcp

# Numeric, so runtimes that enforce "run as non-root" (e.g. Kubernetes runAsNonRoot) can check it.
USER 10001:10001
WORKDIR /home/mcp

EXPOSE 8765
ENTRYPOINT ["mcp-compiler"]
CMD ["serve"]
