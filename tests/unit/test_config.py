"""The config file: shapes we accept, and the one-line errors for the ones we do not."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest

from mcp_compiler.config import (
    ConfigError,
    HttpServerConfig,
    StdioServerConfig,
    default_config,
    load_config,
    parse_config,
)

# A Claude Desktop file as the app writes it, with its own settings next to `mcpServers`.
CLAUDE_DESKTOP = {
    "mcpServers": {
        "filesystem": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-filesystem", "/Users/me/Desktop", "/Users/me/Downloads"],
        },
        "github": {
            "command": "docker",
            "args": ["run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "ghcr.io/github/github-mcp-server"],
            "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_supersecret"},
        },
        "remote": {"type": "http", "url": "https://mcp.example.com/mcp", "headers": {"Authorization": "Bearer tok"}},
        "old": {"command": "uvx", "args": ["mcp-server-time"], "disabled": True},
    },
    "globalShortcut": "Ctrl+Space",
    "preferences": {"menuBarEnabled": False},
}


def error_of(data: Any, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(data, environ=environ or {})
    return str(info.value)


def test_a_claude_desktop_config_loads_as_is(tmp_path: Path) -> None:
    path = tmp_path / "claude_desktop_config.json"
    path.write_text(json.dumps(CLAUDE_DESKTOP))
    config = load_config(path)
    assert set(config.servers) == {"filesystem", "github", "remote"}  # `old` is disabled
    assert isinstance(config.servers["filesystem"], StdioServerConfig)
    remote = config.servers["remote"]
    assert isinstance(remote, HttpServerConfig) and remote.header_values() == {"Authorization": "Bearer tok"}
    assert config.compiler.max_concurrency == 16 and config.compiler.destructive == "confirm"


def test_secrets_never_show_in_repr_or_str() -> None:
    config = parse_config(CLAUDE_DESKTOP)
    for text in (repr(config), str(config), repr(config.servers["github"]), repr(config.servers["remote"])):
        assert "ghp_supersecret" not in text and "Bearer tok" not in text
    github = config.servers["github"]
    assert isinstance(github, StdioServerConfig)
    assert github.env_values() == {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_supersecret"}


@pytest.mark.parametrize(
    ("entry", "kind"),
    [
        ({"command": "x"}, StdioServerConfig),
        ({"type": "stdio", "command": "x"}, StdioServerConfig),
        ({"url": "http://127.0.0.1:8000/mcp"}, HttpServerConfig),
        ({"type": "streamable-http", "url": "https://h/mcp"}, HttpServerConfig),
        ({"transport": "streamableHttp", "url": "https://h/mcp"}, HttpServerConfig),
        ({"type": "http", "url": "https://h/mcp"}, HttpServerConfig),
    ],
)
def test_the_transport_comes_from_type_or_from_the_keys(entry: dict[str, Any], kind: type) -> None:
    assert isinstance(parse_config({"mcpServers": {"s": entry}}).servers["s"], kind)


def test_our_per_server_extras_and_compiler_section() -> None:
    config = parse_config(
        {
            "mcpServers": {"s": {"command": "x", "allow": ["get_*"], "deny": ["get_secret"], "timeout_s": 5,
                                 "max_concurrency": 2}},
            "compiler": {"model": "anthropic:claude", "max_per_server": 4, "call_timeout_s": 10,
                         "run_timeout_s": 100, "max_replans": 0, "destructive": "deny", "connect_timeout_s": 5},
        }
    )
    server = config.servers["s"]
    assert (server.timeout_s, server.max_concurrency) == (5, 2)
    assert server.allows("get_weather") and not server.allows("get_secret") and not server.allows("delete")
    assert config.compiler.model == "anthropic:claude" and config.compiler.destructive == "deny"


def test_an_unknown_key_is_an_error_that_names_server_and_field() -> None:
    assert error_of({"mcpServers": {"weather": {"command": "x", "timeout": 3}}}) == (
        "mcpServers.weather.timeout: unknown key (did you mean 'timeout_s'?)"
    )
    assert error_of({"compiler": {"max_concurency": 3}}) == (
        "compiler.max_concurency: unknown key (did you mean 'max_concurrency'?)"
    )
    assert "did you mean 'mcpServers'" in error_of({"mcpServer": {}})


def test_a_missing_command_is_an_error() -> None:
    assert error_of({"mcpServers": {"w": {"type": "stdio", "args": []}}}) == "mcpServers.w.command: required"
    assert error_of({"mcpServers": {"w": {"args": ["x"]}}}) == (
        "mcpServers.w: needs either `command` (a stdio server) or `url` (a Streamable HTTP server)"
    )
    assert error_of({"mcpServers": {"w": {"comand": "x"}}}) == "mcpServers.w: unknown key 'comand' (did you mean 'command'?)"
    assert error_of({"mcpServers": {"w": {"command": "  "}}}) == "mcpServers.w.command: must not be empty"


@pytest.mark.parametrize("url", ["ftp://host/mcp", "not a url", "http://", "localhost:8000/mcp"])
def test_a_bad_url_is_an_error(url: str) -> None:
    assert error_of({"mcpServers": {"weather": {"url": url}}}) == "mcpServers.weather.url: not a valid http(s) URL"


def test_bad_values_are_reported_together_one_per_line() -> None:
    message = error_of({"compiler": {"destructive": "maybe", "call_timeout_s": -1}})
    assert message.splitlines() == [
        "compiler.call_timeout_s: input should be greater than 0",
        "compiler.destructive: input should be 'allow', 'confirm' or 'deny'",
    ]
    assert "pydantic" not in message and "Traceback" not in message


def test_an_unsupported_transport_is_named() -> None:
    assert "unsupported transport 'sse'" in error_of({"mcpServers": {"w": {"type": "sse", "url": "http://h/sse"}}})


def test_env_expansion_with_and_without_defaults() -> None:
    data = {
        "mcpServers": {
            "w": {
                "command": "${PY:-python3}",
                "args": ["--key", "${KEY}", "$${NOT_EXPANDED}"],
                "env": {"TOKEN": "pre-${KEY}-post"},
            },
            "h": {"url": "https://${HOST}/mcp", "headers": {"Authorization": "Bearer ${KEY}"}},
        }
    }
    config = parse_config(data, environ={"KEY": "k1", "HOST": "example.com"})
    w = config.servers["w"]
    assert isinstance(w, StdioServerConfig)
    assert w.command == "python3" and w.args == ["--key", "k1", "${NOT_EXPANDED}"]
    assert w.env_values() == {"TOKEN": "pre-k1-post"}
    h = config.servers["h"]
    assert isinstance(h, HttpServerConfig) and h.url == "https://example.com/mcp"
    assert h.header_values() == {"Authorization": "Bearer k1"}


def test_a_missing_env_var_names_the_server_and_field() -> None:
    message = error_of({"mcpServers": {"weather": {"url": "https://h/mcp", "headers": {"X-Key": "${WEATHER_KEY}"}}}})
    assert message == (
        "mcpServers.weather.headers.X-Key: environment variable WEATHER_KEY is not set "
        "(set it, or write ${WEATHER_KEY:-default} to give a default)"
    )


def test_a_secret_value_never_appears_in_an_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    message = error_of({"mcpServers": {"w": {"command": "x", "env": {"TOKEN": "hunter2"}, "timeout_s": "soon"}}})
    assert "timeout_s" in message and "hunter2" not in message and "hunter2" not in caplog.text


def test_file_problems_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"mcpServers": {,}}')
    with pytest.raises(ConfigError, match=r"not valid JSON \(line 1, column 17"):
        load_config(broken)
    with pytest.raises(ConfigError, match="top level must be a JSON object"):
        parse_config([1, 2])


def test_the_default_config_runs_the_projects_own_servers() -> None:
    config = load_config(None)
    assert config == default_config()
    assert set(config.servers) == {"wiki", "math"}
    wiki = config.servers["wiki"]
    assert isinstance(wiki, StdioServerConfig)
    assert wiki.command == sys.executable and wiki.args == ["-P", "-m", "mcp_compiler.servers.wiki"]


def test_any_config_key_maps_to_a_callable_prefix() -> None:
    from mcp_compiler.config import server_prefix

    assert server_prefix("Time Server") == "Time_Server"
    assert server_prefix("my.server") == "my_server"
    assert server_prefix("météo") == "météo"
    assert server_prefix("a/b:c") == "a_b_c"


def test_two_keys_with_one_prefix_and_the_reserved_name_are_config_errors() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"mcpServers": {"a.b": {"command": "x"}, "a b": {"command": "y"}}})
    assert "'a.b' and 'a b' would both be called 'a_b' in a plan" in str(info.value)
    with pytest.raises(ConfigError) as info:
        parse_config({"mcpServers": {"compiler": {"command": "x"}}})
    assert "'compiler' is reserved" in str(info.value)
