"""The config file: Claude Desktop's `mcpServers` shape plus a `compiler` section, and the
shapes other hosts write (Cursor, Windsurf, Cline, VS Code) read as they are (host_configs.py
brings those to this shape before validation).

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

- A server entry is stdio (`command`, `args`, `env`, `envFile`, `cwd`), Streamable HTTP (`url`,
  `headers`) or the older HTTP+SSE transport (`type: "sse"`). The kind comes from an optional
  `type`/`transport`/`transportType` key ("stdio", "http", "streamable-http", "sse", ...) or,
  without one, from which of `command`/`url` is present. `disabled: true` skips an entry.
- Other hosts' keys we read: VS Code's top-level `servers` (beside or instead of `mcpServers`) and
  `inputs` (`${input:ID}` is read from the environment variable named by the id, upper-cased,
  every other character than a letter or digit as `_`: `perplexity-key` -> `PERPLEXITY_KEY`);
  `envFile` (VS Code, Cursor, Cline; relative to the config file's folder); Cline's `timeout`
  (seconds, the same as our `timeout_s`) and `autoApprove` (Roo Code's `alwaysAllow`), kept as
  `auto_approve`; Windsurf's `serverUrl`; `disabledTools` (Windsurf, Roo Code), added to `deny`.
  Keys another host documents that mean nothing here (VS Code's `dev`, Roo Code's `watchPaths`,
  ...) are logged as a warning and ignored (`FOREIGN_KEYS`).
- Our per-server extras: `allow`/`deny` (tool names, glob patterns), `timeout_s`, `max_concurrency`,
  `ordering` ("plan", the default: calls not marked read-only keep plan order; "free": none do).
- `${VAR}`, `${env:VAR}` and `${VAR:-default}` expand from the environment in every string value;
  `$${` is a literal `${`; `${userHome}` and `${workspaceFolder}` as VS Code and Cursor define them.
  A missing variable without a default is an error naming the server and field.
- Unknown keys inside a server entry or the `compiler` section are errors (they are typos). Unknown
  top-level keys are ignored, because Claude Desktop keeps its own settings in the same file, unless
  they look like a misspelling of `mcpServers` or `compiler`.
- Every problem is raised as one `ConfigError` whose message names the place
  (`mcpServers.weather.url: not a valid http(s) URL`), never a pydantic traceback, and never the
  file's name: the caller that chose the file says it once.
- `env` and `headers` values are `SecretStr`: they never show in a repr, a log line or an error.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
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

from .auth.settings import AuthConfig, ClientCredentials
from .errors import ConfigError
from .host_configs import (
    SERVER_SECTIONS,
    declared_inputs,
    drop_foreign_keys,
    expand_env,
    server_entries,
    with_env_file,
)
from .tools.builtins import BUILTIN_SERVER

__all__ = [
    "ConfigError",
    "Config",
    "CompilerConfig",
    "AuthConfig",
    "StdioServerConfig",
    "HttpServerConfig",
    "SseServerConfig",
    "ServerConfig",
    "load_config",
    "parse_config",
    "default_config",
    "server_prefix",
    "RESERVED_PREFIXES",
]

logger = logging.getLogger(__name__)

_STDIO_TYPES = {"stdio"}
_HTTP_TYPES = {"http", "streamable-http", "streamable_http", "streamablehttp", "streamableHttp"}
_SSE_TYPES = {"sse"}
# Where hosts write the transport: `type` (Claude Code, VS Code, Cline), `transport`, Cline's older
# `transportType`.
_TYPE_KEYS = ("type", "transport", "transportType")

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class _ServerCommon(_Strict):
    """Keys every server entry may carry: host discriminators and our own extras."""

    type: str | None = None
    transport: str | None = None
    transport_type: str | None = Field(default=None, validation_alias=AliasChoices("transportType", "transport_type"))
    disabled: bool = False
    required: bool = False  # the HTTP server's /readyz says "not ready" while it is not connected
    allow: list[str] | None = None
    deny: list[str] = Field(default_factory=list)
    # Windsurf's and Roo Code's list of tools switched off: the same as `deny`.
    disabled_tools: list[str] = Field(
        default_factory=list, validation_alias=AliasChoices("disabledTools", "disabled_tools")
    )
    # Cline's `timeout` (seconds, for each call) is read as this.
    timeout_s: PositiveFloat | None = Field(default=None, validation_alias=AliasChoices("timeout_s", "timeout"))
    max_concurrency: PositiveInt | None = None
    ordering: Literal["plan", "free"] | None = None  # None: the engine's default, "plan"
    # Tools the person approved ahead of time (Cline's `autoApprove`, Roo Code's `alwaysAllow`):
    # names or glob patterns, kept for the confirmation policy to read; nothing here acts on them.
    auto_approve: tuple[str, ...] = Field(
        default=(), validation_alias=AliasChoices("autoApprove", "alwaysAllow", "auto_approve")
    )
    # The confirmation policy of this server's tools (engine/policy.py, docs/config.md#confirmation):
    # `destructive` replaces compiler.destructive for its tools marked destructive; `tools` maps a
    # glob over a tool's name to allow/confirm/deny for any of its tools, the first match deciding.
    destructive: Literal["allow", "confirm", "deny"] | None = None
    tools: dict[str, Literal["allow", "confirm", "deny"]] = Field(default_factory=dict)
    # The roots this server gets when it asks `roots/list` outside any call and no single host can
    # answer (several HTTP hosts, or none yet): folders or file:// URIs (upstreams/relay.py).
    roots: list[str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_timeout(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "timeout" in data and "timeout_s" in data:
            raise ValueError("give `timeout_s` or Cline's `timeout` (seconds), not both")
        return data

    @property
    def closed(self) -> bool:
        """The allow/deny lists let nothing of the server through (`allow: []`, or a deny of `*`):
        then its resources, prompts and completions are closed with its tools (`UpstreamPool.server_allows`)."""
        return (self.allow is not None and not self.allow) or "*" in (*self.deny, *self.disabled_tools)

    def allows(self, tool: str) -> bool:
        """Whether the allow/deny lists (glob patterns) let `tool` into the catalog."""
        from fnmatch import fnmatchcase

        if self.allow is not None and not any(fnmatchcase(tool, p) for p in self.allow):
            return False
        return not any(fnmatchcase(tool, p) for p in (*self.deny, *self.disabled_tools))


class StdioServerConfig(_ServerCommon):
    """A server started as a subprocess speaking MCP on its stdin/stdout."""

    command: str
    args: list[str] = Field(default_factory=list)
    # With `envFile`, its variables are here too (read when the config is loaded; `env` wins).
    env: dict[str, SecretStr] = Field(default_factory=dict)
    env_file: str | None = Field(default=None, validation_alias=AliasChoices("envFile", "env_file"))
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

    url: str = Field(validation_alias=AliasChoices("url", "serverUrl"))  # serverUrl: Windsurf's
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    auth: ClientCredentials | None = None  # mcp-compiler signs in by itself (docs/auth.md#servers-behind-a-login)

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


class SseServerConfig(HttpServerConfig):
    """An endpoint of the older HTTP+SSE transport (`type: "sse"`): a GET stream of events and a
    POST endpoint the stream names. An `HttpServerConfig` for everything but how it connects."""

    @property
    def kind(self) -> Literal["sse"]:  # type: ignore[override]  # narrows the parent's literal, on purpose
        return "sse"


def _server_kind(entry: Any) -> str:
    """Pick the model for a raw server entry; unknown shapes get a tag that fails clearly."""
    if not isinstance(entry, Mapping):
        return "stdio"  # the model rejects a non-object with a plain "must be an object" error
    declared = _declared_type(entry)
    if isinstance(declared, str):
        if declared in _STDIO_TYPES:
            return "stdio"
        if declared in _HTTP_TYPES or declared.lower() in _HTTP_TYPES:
            return "http"
        if declared.lower() in _SSE_TYPES:
            return "sse"
        return "unsupported"
    has_url = "url" in entry or "serverUrl" in entry
    if has_url and "command" not in entry:
        return "http"
    if "command" not in entry and not has_url:
        return "neither"
    return "stdio"


def _declared_type(entry: Mapping[str, Any]) -> Any:
    return next((entry[key] for key in _TYPE_KEYS if key in entry), None)


class _Unsupported(_Strict):
    """Never validates: stands for an entry whose transport we cannot serve."""

    model_config = ConfigDict(extra="allow")

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:  # noqa: D105
        from pydantic_core import core_schema

        def fail(value: Any) -> Any:
            raise ValueError(
                f"unsupported transport {_declared_type(value)!r}: use 'stdio' (command/args), "
                "'http'/'streamable-http' (url) or 'sse' (url)"
            )

        return core_schema.no_info_plain_validator_function(fail)


class _Neither(_Unsupported):
    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:  # noqa: D105
        from pydantic_core import core_schema

        def fail(value: Any) -> Any:
            for key in value:
                close = difflib.get_close_matches(str(key), ("command", "url", "serverUrl"), n=1, cutoff=0.6)
                if close:
                    raise ValueError(f"unknown key {key!r} (did you mean {close[0]!r}?)")
            raise ValueError("needs either `command` (a stdio server) or `url` (a Streamable HTTP server)")

        return core_schema.no_info_plain_validator_function(fail)


ServerConfig = StdioServerConfig | HttpServerConfig  # SseServerConfig is an HttpServerConfig

_ServerEntry = Annotated[
    Annotated[StdioServerConfig, Tag("stdio")]
    | Annotated[HttpServerConfig, Tag("http")]
    | Annotated[SseServerConfig, Tag("sse")]
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
    # How long a plan, a listing or a CLI command waits for servers still starting that it needs
    # (upstreams/pool.py): past it, it goes on without them and says which and why.
    startup_wait_s: PositiveFloat = 10
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
    # How many calls one spread task (`$N.path[*]`) may make: the elements of its list; and one run.
    max_spread: PositiveInt = 1_000
    max_run_calls: PositiveInt = 10_000
    # One error text as a run keeps it; longer ones are cut with a marker naming this setting.
    max_error_bytes: Annotated[int, Field(ge=256)] = 8 * 2**10
    # What one MCP reply carries (server/results.py): a value (a task's result or arguments, a
    # non-text block) over the first is kept and linked; a reply over the second links its largest
    # values until it fits. The default stays well under the 1 MiB an SDK client's SSE reader takes.
    max_inline_value_bytes: PositiveInt = 64 * 2**10
    max_reply_bytes: Annotated[int, Field(ge=16 * 2**10)] = 512 * 2**10
    # How long linked values are kept, and how many (server/store.py).
    run_ttl_s: PositiveFloat = 600
    run_store_max_runs: PositiveInt = 256
    run_store_max_bytes: PositiveInt = 256 * 2**20
    # Where what is kept between requests lives (mcp_compiler/state, docs/deployment.md): memory://
    # (this process, the default) or redis://[user:password@]host:port/db (rediss:// for TLS), shared
    # by replicas. A secret, as it may hold a password. `serve --state` and $MCP_COMPILER_STATE win.
    state: SecretStr | None = None
    state_timeout_s: PositiveFloat = 2.0  # each call to a remote state backend, before it fails naming it
    # Who may call `serve --transport http` (docs/auth.md): callers by name with their own tokens
    # (values from the environment, `${VAR}`), and OAuth access tokens with `auth`.
    tokens: dict[str, SecretStr] = Field(default_factory=dict)
    auth: AuthConfig | None = None


class Config(BaseModel):
    """The whole file. `servers` holds only the enabled entries, by config name."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    mcp_servers: dict[str, _ServerEntry] = Field(default_factory=dict, alias="mcpServers")
    compiler: CompilerConfig = Field(default_factory=CompilerConfig)

    @property
    def servers(self) -> dict[str, ServerConfig]:
        # Validation leaves only these two kinds (the other tags never validate); isinstance says so to mypy.
        return {
            name: s for name, s in self.mcp_servers.items()
            if isinstance(s, StdioServerConfig | HttpServerConfig) and not s.disabled
        }

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


# ---- loading -----------------------------------------------------------------------------------

_TOP_LEVEL = (*SERVER_SECTIONS, "compiler", "inputs")


def parse_config(
    data: Any, *, environ: Mapping[str, str] | None = None, base_dir: str | os.PathLike[str] | None = None
) -> Config:
    """Validate a config already read from JSON. Raises ConfigError.

    `base_dir` is the folder of the file it came from: relative `envFile`s are read from there, and
    it gives `${workspaceFolder}` (without it, the working directory).
    """
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a JSON object")
    _check_top_level_typos(data)
    inputs = declared_inputs(data.get("inputs"))
    entries, section_of = server_entries(data)
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    # A config in a host's dot-folder (`.vscode/mcp.json`, `.cursor/mcp.json`) belongs to the folder above.
    workspace = base.parent if base_dir is not None and base.name.startswith(".") else base
    expanded: dict[str, Any] = {}
    for name, entry in entries.items():
        where = f"{section_of[name]}.{name}"
        entry = expand_env(drop_foreign_keys(entry, where), where, environ, inputs=inputs, workspace=str(workspace))
        expanded[name] = with_env_file(entry, where, base)
    document: dict[str, Any] = {"mcpServers": expanded}
    if "compiler" in data:
        document["compiler"] = expand_env(data["compiler"], "compiler", environ, workspace=str(workspace))
    try:
        return Config.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(_render_errors(exc, section_of)) from None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate a config file; with no path, the project's own default servers.

    The errors do not name the file: the caller that chose it says it once (the CLI does).
    """
    if path is None:
        return default_config()
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the config file ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    return parse_config(data, base_dir=file.resolve().parent)


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


def _check_top_level_typos(data: dict[str, Any]) -> None:
    for key in data:
        if key in _TOP_LEVEL:
            continue
        close = difflib.get_close_matches(key, _TOP_LEVEL, n=1, cutoff=0.75)
        if close or key.lower() in ("mcp_servers", "mcpservers"):
            hint = close[0] if close else "mcpServers"
            raise ConfigError(f"unknown top-level key {key!r} (did you mean {hint!r}?)")


def _keys(model: type[BaseModel]) -> tuple[str, ...]:
    """The keys a model reads: field names and every alias a host writes them by."""
    keys: list[str] = []
    for name, field in model.model_fields.items():
        keys.append(name)
        if isinstance(field.validation_alias, AliasChoices):
            keys.extend(str(choice) for choice in field.validation_alias.choices)
    return tuple(dict.fromkeys(keys))


_KNOWN_FIELDS: dict[str, tuple[str, ...]] = {
    "stdio": _keys(StdioServerConfig),
    "http": _keys(HttpServerConfig),
    "sse": _keys(SseServerConfig),
    "compiler": _keys(CompilerConfig),
}
_TAGS = {"stdio", "http", "sse", "unsupported", "neither"}


def _render_errors(exc: ValidationError, section_of: Mapping[str, str]) -> str:
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = [str(part) for part in error["loc"]]
        family = None
        # The discriminated union inserts its tag after the server name; it is noise to a reader.
        if len(loc) >= 3 and loc[0] == "mcpServers" and loc[2] in _TAGS:
            family = loc.pop(2)
        elif loc and loc[0] == "compiler":
            family = "compiler"
        if len(loc) >= 2 and loc[0] == "mcpServers":
            loc[0] = section_of.get(loc[1], loc[0])  # say `servers.x` for VS Code's section
        message = _message(error, loc, family)
        lines.append(f"{'.'.join(loc)}: {message}" if loc else message)
    return "\n".join(dict.fromkeys(lines))


def _message(error: Any, loc: list[str], family: str | None) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        known = _KNOWN_FIELDS.get(family or "", ())
        kinds = {"stdio": "a stdio server", "http": "an HTTP server", "sse": "an SSE server"}
        for other in ("stdio", "http"):
            if family in kinds and loc[-1] in _KNOWN_FIELDS[other] and loc[-1] not in known:
                return f"unknown key for {kinds[family]} (it is for {kinds[other]})"
        close = difflib.get_close_matches(loc[-1], known, n=1)
        return "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
    if kind == "missing":
        return "required"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "must be a JSON object"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    return error["msg"][0].lower() + error["msg"][1:]
