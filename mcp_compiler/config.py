"""The config file: Claude Desktop's `mcpServers` shape plus a `compiler` section.

```json
{
  "mcpServers": {
    "wiki":    {"command": "python", "args": ["-m", "mcp_compiler.servers.wiki"]},
    "weather": {"url": "https://example.com/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"},
                "timeout_s": 20, "deny": ["delete_*"]}
  },
  "compiler": {"max_concurrency": 16, "destructive": "confirm"}
}
```

- A server entry is stdio (`command`, `args`, `env`, `cwd`) or Streamable HTTP (`url`, `headers`).
  The kind comes from an optional `type`/`transport` key ("stdio", "http", "streamable-http", ...)
  or, without one, from which of `command`/`url` is present. `disabled: true` skips an entry.
- Our per-server extras: `allow`/`deny` (tool names, glob patterns), `timeout_s`, `max_concurrency`,
  `ordering` ("plan", the default: calls not marked read-only keep plan order; "free": none do).
- `${VAR}` and `${VAR:-default}` expand from the environment in every string value; `$${` is a
  literal `${`. A missing variable without a default is an error naming the server and field.
- Unknown keys inside a server entry or the `compiler` section are errors (they are typos). Unknown
  top-level keys are ignored, because Claude Desktop keeps its own settings in the same file, unless
  they look like a misspelling of `mcpServers` or `compiler`.
- Every problem is raised as one `ConfigError` whose message names the place
  (`mcpServers.weather.url: not a valid http(s) URL`), never a pydantic traceback.
- `env` and `headers` values are `SecretStr`: they never show in a repr, a log line or an error.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import ConfigError
from .tools.builtins import BUILTIN_SERVER

__all__ = [
    "ConfigError",
    "Config",
    "CompilerConfig",
    "StdioServerConfig",
    "HttpServerConfig",
    "ServerConfig",
    "load_config",
    "parse_config",
    "default_config",
    "expand_env",
    "server_prefix",
    "RESERVED_PREFIXES",
]



_STDIO_TYPES = {"stdio"}
_HTTP_TYPES = {"http", "streamable-http", "streamable_http", "streamablehttp", "streamableHttp"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class _ServerCommon(_Strict):
    """Keys every server entry may carry: host discriminators and our own extras."""

    type: str | None = None
    transport: str | None = None
    disabled: bool = False
    allow: list[str] | None = None
    deny: list[str] = Field(default_factory=list)
    timeout_s: PositiveFloat | None = None
    max_concurrency: PositiveInt | None = None
    ordering: Literal["plan", "free"] | None = None  # None: the engine's default, "plan"

    def allows(self, tool: str) -> bool:
        """Whether the allow/deny lists (glob patterns) let `tool` into the catalog."""
        from fnmatch import fnmatchcase

        if self.allow is not None and not any(fnmatchcase(tool, p) for p in self.allow):
            return False
        return not any(fnmatchcase(tool, p) for p in self.deny)


class StdioServerConfig(_ServerCommon):
    """A server started as a subprocess speaking MCP on its stdin/stdout."""

    command: str
    args: list[str] = Field(default_factory=list)
    env: dict[str, SecretStr] = Field(default_factory=dict)
    cwd: str | None = None

    @field_validator("command")
    @classmethod
    def _command_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @property
    def kind(self) -> Literal["stdio"]:
        return "stdio"

    def env_values(self) -> dict[str, str]:
        """The env with secrets revealed, for spawning the child only."""
        return {k: v.get_secret_value() for k, v in self.env.items()}


class HttpServerConfig(_ServerCommon):
    """A Streamable HTTP endpoint."""

    url: str
    headers: dict[str, SecretStr] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not a valid http(s) URL")
        return value

    @property
    def kind(self) -> Literal["http"]:
        return "http"

    def header_values(self) -> dict[str, str]:
        """The headers with secrets revealed, for the HTTP client only."""
        return {k: v.get_secret_value() for k, v in self.headers.items()}


def _server_kind(entry: Any) -> str:
    """Pick the model for a raw server entry; unknown shapes get a tag that fails clearly."""
    if not isinstance(entry, Mapping):
        return "stdio"  # the model rejects a non-object with a plain "must be an object" error
    declared = entry.get("type", entry.get("transport"))
    if isinstance(declared, str):
        if declared in _STDIO_TYPES:
            return "stdio"
        if declared in _HTTP_TYPES or declared.lower() in _HTTP_TYPES:
            return "http"
        return "unsupported"
    if "url" in entry and "command" not in entry:
        return "http"
    if "command" not in entry and "url" not in entry:
        return "neither"
    return "stdio"


class _Unsupported(_Strict):
    """Never validates: stands for an entry whose transport we cannot serve."""

    model_config = ConfigDict(extra="allow")

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:  # noqa: D105
        from pydantic_core import core_schema

        def fail(value: Any) -> Any:
            declared = value.get("type", value.get("transport"))
            raise ValueError(
                f"unsupported transport {declared!r}: use 'stdio' (command/args) "
                "or 'http'/'streamable-http' (url)"
            )

        return core_schema.no_info_plain_validator_function(fail)


class _Neither(_Unsupported):
    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:  # noqa: D105
        from pydantic_core import core_schema

        def fail(value: Any) -> Any:
            for key in value:
                close = difflib.get_close_matches(str(key), ("command", "url"), n=1, cutoff=0.6)
                if close:
                    raise ValueError(f"unknown key {key!r} (did you mean {close[0]!r}?)")
            raise ValueError("needs either `command` (a stdio server) or `url` (a Streamable HTTP server)")

        return core_schema.no_info_plain_validator_function(fail)


ServerConfig = StdioServerConfig | HttpServerConfig

_ServerEntry = Annotated[
    Annotated[StdioServerConfig, Tag("stdio")]
    | Annotated[HttpServerConfig, Tag("http")]
    | Annotated[_Unsupported, Tag("unsupported")]
    | Annotated[_Neither, Tag("neither")],
    Discriminator(_server_kind),
]


class CompilerConfig(_Strict):
    """Limits and policy for the compiler itself. Every field has a default.

    The `http_*` fields bound what clients of `serve --transport http` may hold:
    `http_max_sessions` sessions at once (one more is refused with 503),
    `http_session_idle_s` seconds a session may go without a request before it is closed,
    `http_header_timeout_s` seconds for a request's headers to arrive (from its first byte;
    408 and the connection closed otherwise), `http_body_timeout_s` for a POST body after them.
    """

    model: str | None = None
    max_concurrency: PositiveInt = 16
    max_per_server: PositiveInt = 8
    call_timeout_s: PositiveFloat = 60
    run_timeout_s: PositiveFloat = 300
    max_replans: Annotated[int, Field(ge=0)] = 2
    destructive: Literal["allow", "confirm", "deny"] = "confirm"
    connect_timeout_s: PositiveFloat = 30
    # What one compile_and_run may ask for, and how many tools its description lists.
    max_plan_tasks: PositiveInt = 1_000
    max_plan_bytes: PositiveInt = 1_000_000
    description_max_tools: PositiveInt = 40
    # The planner's system prompt, in tokens (tokens.py): beyond it, the tools for a query are retrieved.
    planner_prompt_tokens: PositiveInt = 4_000
    # What clients of the HTTP transport may hold (server/http.py).
    http_max_sessions: PositiveInt = 256
    http_session_idle_s: PositiveFloat = 600
    http_header_timeout_s: PositiveFloat = 10
    http_body_timeout_s: PositiveFloat = 30
    # How much data references and results may hold: one value, and one run's results together.
    max_value_bytes: PositiveInt = 16 * 2**20
    max_run_bytes: PositiveInt = 128 * 2**20
    # How many calls one spread task (`$N.path[*]`) may make: the elements of its list.
    max_spread: PositiveInt = 1_000
    # What one MCP reply carries (server/results.py): a value (a task's result or arguments, a
    # non-text block) over the first is kept and linked; a reply over the second links its largest
    # values until it fits. The default stays well under the 1 MiB an SDK client's SSE reader takes.
    max_inline_value_bytes: PositiveInt = 64 * 2**10
    max_reply_bytes: Annotated[int, Field(ge=16 * 2**10)] = 512 * 2**10
    # How long linked values are kept, and how many (server/store.py).
    run_ttl_s: PositiveFloat = 600
    run_store_max_runs: PositiveInt = 256
    run_store_max_bytes: PositiveInt = 256 * 2**20


class Config(BaseModel):
    """The whole file. `servers` holds only the enabled entries, by config name."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    mcp_servers: dict[str, _ServerEntry] = Field(default_factory=dict, alias="mcpServers")
    compiler: CompilerConfig = Field(default_factory=CompilerConfig)

    @property
    def servers(self) -> dict[str, ServerConfig]:
        return {name: s for name, s in self.mcp_servers.items() if not s.disabled}  # type: ignore[misc]

    @model_validator(mode="after")
    def _prefixes_are_unique(self) -> Config:
        seen: dict[str, str] = {}
        for key in self.mcp_servers:
            prefix = server_prefix(key)
            if prefix in RESERVED_PREFIXES:
                raise ValueError(
                    f"mcpServers.{key}: the name {prefix!r} is reserved for mcp-compiler's own tools; rename the server"
                )
            if prefix in seen:
                raise ValueError(
                    f"mcpServers: {seen[prefix]!r} and {key!r} would both be called {prefix!r} in a plan; rename one"
                )
            seen[prefix] = key
        return self


RESERVED_PREFIXES = (BUILTIN_SERVER,)  # the server name of mcp-compiler's built-in tools (builtins.py)


def server_prefix(key: str) -> str:
    """The name a plan calls the server configured as `key` by (`prefix.tool`).

    Every character that cannot stand in a plan's tool name — anything but letters (any script),
    digits, `_` and `-` — becomes `_`: "Time Server" → "Time_Server", "my.server" → "my_server",
    "météo" stays "météo". Two keys with one prefix are a config error naming both.
    """
    return re.sub(r"[^\w-]", "_", key.strip()) or "_"


# ---- environment expansion -------------------------------------------------------------------

_VAR = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")


def expand_env(value: Any, where: str = "", environ: Mapping[str, str] | None = None) -> Any:
    """Expand `${VAR}` / `${VAR:-default}` in every string of a JSON value.

    `where` is the dotted path of `value`, used in the error for a variable that is not set.
    """
    env = os.environ if environ is None else environ
    if isinstance(value, str):
        return _expand_string(value, where, env)
    if isinstance(value, list):
        return [expand_env(v, f"{where}[{i}]", env) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: expand_env(v, f"{where}.{k}" if where else str(k), env) for k, v in value.items()}
    return value


def _expand_string(text: str, where: str, env: Mapping[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(
            f"{where}: environment variable {name} is not set "
            f"(set it, or write ${{{name}:-default}} to give a default)"
        )

    return _VAR.sub(substitute, text)


# ---- loading -----------------------------------------------------------------------------------

_TOP_LEVEL = ("mcpServers", "compiler")


def parse_config(data: Any, *, environ: Mapping[str, str] | None = None, source: str = "config") -> Config:
    """Validate a config already read from JSON. Raises ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a JSON object")
    _check_top_level_typos(data, source)
    expanded = expand_env(data, "", environ)
    try:
        return Config.model_validate(expanded)
    except ValidationError as exc:
        raise ConfigError(_render_errors(exc, source)) from None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate a config file; with no path, the project's own default servers."""
    if path is None:
        return default_config()
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the config file ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{file}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    return parse_config(data, source=str(file))


def default_config() -> Config:
    """The embedded default set: the project's own wiki and math servers, run by this Python.

    `-P` (Python 3.11+) keeps the working directory off the server's `sys.path`: run from a clone's
    root, `-m mcp_compiler.servers.wiki` would otherwise import the source folder `./mcp_compiler`
    (which has no `servers/`: they install from `./servers`) instead of the installed package.
    """
    servers = {
        name: {"command": sys.executable, "args": ["-P", "-m", f"mcp_compiler.servers.{name}"]}
        for name in ("wiki", "math")
    }
    return Config.model_validate({"mcpServers": servers})


def _check_top_level_typos(data: dict[str, Any], source: str) -> None:
    for key in data:
        if key in _TOP_LEVEL:
            continue
        close = difflib.get_close_matches(key, _TOP_LEVEL, n=1, cutoff=0.75)
        if close or key.lower() in ("mcp_servers", "servers", "mcpservers"):
            hint = close[0] if close else "mcpServers"
            raise ConfigError(f"{source}: unknown key {key!r} (did you mean {hint!r}?)")


_KNOWN_FIELDS: dict[str, tuple[str, ...]] = {
    "stdio": tuple(StdioServerConfig.model_fields),
    "http": tuple(HttpServerConfig.model_fields),
    "compiler": tuple(CompilerConfig.model_fields),
}
_TAGS = {"stdio", "http", "unsupported", "neither"}


def _render_errors(exc: ValidationError, source: str) -> str:
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = [str(part) for part in error["loc"]]
        family = None
        # The discriminated union inserts its tag after the server name; it is noise to a reader.
        if len(loc) >= 3 and loc[0] == "mcpServers" and loc[2] in _TAGS:
            family = loc.pop(2)
        elif loc and loc[0] == "compiler":
            family = "compiler"
        lines.append(f"{'.'.join(loc) or source}: {_message(error, loc, family)}")
    return "\n".join(dict.fromkeys(lines))


def _message(error: Any, loc: list[str], family: str | None) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        known = _KNOWN_FIELDS.get(family or "", ())
        close = difflib.get_close_matches(loc[-1], known, n=1)
        return "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
    if kind == "missing":
        return "required"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "must be a JSON object"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    return error["msg"][0].lower() + error["msg"][1:]
