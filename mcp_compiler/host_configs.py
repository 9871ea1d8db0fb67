"""Configs as other hosts write them, read into the shape `config.py` validates.

Claude Desktop's `mcpServers` is the shape; the other hosts' differences are handled here, before
validation: VS Code's `servers` section and its `inputs` (`${input:ID}`, read from the environment:
nobody is there to ask), `envFile` (VS Code, Cursor, Cline), the keys another host documents that
mean nothing to us (logged and dropped), and `${VAR}` expansion in every string. Everything raises
`ConfigError` naming the place, never the file (the caller that chose the file says it once).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .auth.settings import is_our_auth
from .errors import ConfigError

__all__ = [
    "FOREIGN_KEYS", "SERVER_SECTIONS", "declared_inputs", "drop_foreign_keys", "expand_env", "input_variable",
    "parse_env_file", "server_entries", "with_env_file",
]

logger = logging.getLogger("mcp_compiler.config")  # the config's warnings keep the config's logger name

# VS Code's `.vscode/mcp.json` calls the section `servers` and declares `inputs` beside it.
SERVER_SECTIONS = ("mcpServers", "servers")

# Keys other hosts document in a server entry that mean nothing to us: warned about and ignored, so
# a config copied from that host loads. Keys we can honour are fields instead (`autoApprove`, ...).
FOREIGN_KEYS: dict[str, str] = {
    "dev": "VS Code (watch and debug a server in development)",
    "gallery": "VS Code (where a server was installed from)",
    "version": "VS Code (the installed server's version)",
    "sandboxEnabled": "VS Code (its own sandbox for the server)",
    "sandbox": "VS Code (its own sandbox for the server)",
    "watchPaths": "Roo Code (restart the server when files change)",
    "auth": "Cursor (its static OAuth client credentials; ours has a `type`: docs/auth.md#servers-behind-a-login)",
    "oauth": "Claude Code (OAuth settings; mcp-compiler does not sign in to servers)",
    "headersHelper": "Claude Code (a command that prints headers)",
}



# ---- environment expansion -------------------------------------------------------------------

# `$${` (a literal), `${VAR}` / `${env:VAR}` with an optional `:-default`, `${input:ID}` (VS Code),
# `${userHome}` and `${workspaceFolder}` (VS Code, Cursor). Any other `${...}` stays as written.
_VAR = re.compile(
    r"\$\$\{"
    r"|\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}"
    r"|\$\{input:([^}]+)\}"
)
_HOST_VARIABLES = ("userHome", "workspaceFolder")


def input_variable(input_id: str) -> str:
    """The environment variable a VS Code `${input:ID}` is read from: the id upper-cased, every
    character but a letter or digit written `_` (`perplexity-key` -> `PERPLEXITY_KEY`)."""
    return re.sub(r"[^A-Za-z0-9]", "_", input_id).upper()


def expand_env(
    value: Any,
    where: str = "",
    environ: Mapping[str, str] | None = None,
    *,
    inputs: Mapping[str, Mapping[str, Any]] | None = None,
    workspace: str | None = None,
) -> Any:
    """Expand `${VAR}` / `${env:VAR}` / `${VAR:-default}` / `${input:ID}` in every string of a
    JSON value. `inputs` are VS Code's declared inputs by id; `workspace` is `${workspaceFolder}`.

    `where` is the dotted path of `value`, used in the error for a variable that is not set.
    """
    env = os.environ if environ is None else environ
    host = {"userHome": str(Path.home()), "workspaceFolder": workspace or os.getcwd()}

    def walk(value: Any, where: str) -> Any:
        if isinstance(value, str):
            return _expand_string(value, where, env, inputs or {}, host)
        if isinstance(value, list):
            return [walk(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, dict):
            return {k: walk(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
        return value

    return walk(value, where)


def _expand_string(
    text: str, where: str, env: Mapping[str, str], inputs: Mapping[str, Mapping[str, Any]], host: Mapping[str, str]
) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        if match.group(3) is not None:
            return _input_value(match.group(3), where, env, inputs)
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        if name in host:
            return host[name]
        raise ConfigError(
            f"{where}: environment variable {name} is not set "
            f"(set it, or write ${{{name}:-default}} to give a default)"
        )

    return _VAR.sub(substitute, text)


def _input_value(input_id: str, where: str, env: Mapping[str, str], inputs: Mapping[str, Mapping[str, Any]]) -> str:
    """VS Code asks the person for an input; we have nobody to ask, so it comes from the environment."""
    variable = input_variable(input_id)
    if input_id not in inputs:
        declared = ", ".join(repr(i) for i in inputs) or "none"
        raise ConfigError(f"{where}: ${{input:{input_id}}} is not declared in `inputs` (declared: {declared})")
    if variable in env:
        return env[variable]
    declared_input = inputs[input_id]
    if isinstance(declared_input.get("default"), str):
        return str(declared_input["default"])
    about = declared_input.get("description")
    raise ConfigError(
        f"{where}: ${{input:{input_id}}}{f' ({about})' if isinstance(about, str) else ''} is asked for by "
        f"VS Code; mcp-compiler reads it from the environment variable {variable}: set it"
    )



def declared_inputs(raw: Any) -> dict[str, Mapping[str, Any]]:
    """VS Code's `inputs`, by id: what `${input:ID}` may name."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise ConfigError("inputs: must be a JSON array (VS Code's list of inputs)")
    found: dict[str, Mapping[str, Any]] = {}
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise ConfigError(f"inputs[{i}]: must be an object with an `id` string")
        found[item["id"]] = item
    return found


def server_entries(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Every server entry of `mcpServers` and VS Code's `servers`, and which section each is from."""
    entries: dict[str, Any] = {}
    section_of: dict[str, str] = {}
    for section in SERVER_SECTIONS:
        block = data.get(section)
        if block is None:
            continue
        if not isinstance(block, dict):
            raise ConfigError(f"{section}: must be a JSON object of servers by name")
        for name, entry in block.items():
            if name in entries:
                raise ConfigError(f"{section}.{name}: also in {section_of[name]}; a server name may appear once")
            entries[name] = entry
            section_of[name] = section
    return entries, section_of


def drop_foreign_keys(entry: Any, where: str) -> Any:
    """The entry without the keys another host documents and we have no use for; each is logged."""
    if not isinstance(entry, dict):
        return entry
    foreign = {k for k in entry.keys() & FOREIGN_KEYS.keys() if not (k == "auth" and is_our_auth(entry[k]))}
    for key in foreign:
        logger.warning("%s.%s: ignored; a setting of %s", where, key, FOREIGN_KEYS[key])
    return {k: v for k, v in entry.items() if k not in foreign}


def with_env_file(entry: Any, where: str, base: Path) -> Any:
    """A stdio entry with its `envFile`'s variables added to `env` (whose own values win)."""
    if not isinstance(entry, dict):
        return entry
    name = entry.get("envFile", entry.get("env_file"))
    if not isinstance(name, str) or "command" not in entry or not isinstance(entry.get("env", {}), dict):
        return entry  # not ours to read: validation says what is wrong
    path = base / Path(name).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{where}.envFile: cannot read {path} ({exc.strerror or exc})") from None
    return {**entry, "env": {**parse_env_file(text), **entry.get("env", {})}}


def parse_env_file(text: str) -> dict[str, str]:
    """A dotenv file's variables: `NAME=value` lines, `export ` allowed, `#` comments, values in
    single quotes as written, in double quotes with `\\n` and `\\"` escapes. Nothing is expanded."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").lstrip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", name):
            continue  # as dotenv does: a line that is not an assignment is skipped
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        elif len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace("\\n", "\n").replace('\\"', '"')
        else:
            value = re.sub(r"\s+#.*$", "", value)  # an unquoted value ends at a comment
        found[name] = value
    return found
