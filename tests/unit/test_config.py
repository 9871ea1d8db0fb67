"""The config file: shapes we accept, and the one-line errors for the ones we do not."""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from mcp_compiler.config import (
    ConfigError,
    HttpServerConfig,
    SseServerConfig,
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
    assert error_of({"mcpServers": {"weather": {"command": "x", "timout_s": 3}}}) == (
        "mcpServers.weather.timout_s: unknown key (did you mean 'timeout_s'?)"
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
    message = error_of({"mcpServers": {"w": {"type": "websocket", "url": "ws://h/ws"}}})
    assert "unsupported transport 'websocket'" in message and "'sse' (url)" in message


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


# ---- configs as other hosts write them (tests/fixtures/host_configs, docs/config.md) -------------

HOST_CONFIGS = Path(__file__).parents[1] / "fixtures" / "host_configs"
DOCS_CONFIG = Path(__file__).parents[2] / "docs" / "config.md"


def test_claude_desktops_config_loads() -> None:
    config = load_config(HOST_CONFIGS / "claude_desktop.json")
    filesystem = config.servers["filesystem"]
    assert isinstance(filesystem, StdioServerConfig) and filesystem.command == "npx"


def test_cursors_config_loads_with_env_interpolation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY", "cursor-key")
    config = load_config(HOST_CONFIGS / "cursor.json")
    local, remote = config.servers["server-name"], config.servers["remote-server"]
    assert isinstance(local, StdioServerConfig) and local.env_values() == {"API_KEY": "cursor-key"}
    assert isinstance(remote, HttpServerConfig) and not isinstance(remote, SseServerConfig)
    assert remote.url == "http://localhost:3000/mcp"


def test_windsurfs_server_url_and_disabled_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_TOKEN", "surf")
    config = load_config(HOST_CONFIGS / "windsurf.json")
    figma = config.servers["figma"]
    assert isinstance(figma, HttpServerConfig) and figma.url == "https://mcp.example.com/mcp"
    assert figma.header_values() == {"Authorization": "Bearer surf"}
    assert not figma.allows("delete_file") and figma.allows("get_file")


def test_clines_settings_load_with_auto_approve_timeout_and_env_file() -> None:
    config = load_config(HOST_CONFIGS / "cline" / "cline_mcp_settings.json")
    assert set(config.servers) == {"github.com/modelcontextprotocol/servers/tree/main/src/github", "remote-server"}
    github = config.servers["github.com/modelcontextprotocol/servers/tree/main/src/github"]
    assert isinstance(github, StdioServerConfig)
    assert github.auto_approve == ("list_issues", "get_*")
    assert github.timeout_s == 60  # Cline's `timeout` is in seconds, like ours
    # envFile is read next to the settings file; `env`'s own values win over it.
    assert github.env_values() == {
        "GITHUB_HOST": "github.example.com", "GITHUB_TOOLSETS": "repos,issues", "GITHUB_PERSONAL_ACCESS_TOKEN": "<YOUR_TOKEN>",
    }
    remote = config.servers["remote-server"]
    assert isinstance(remote, SseServerConfig) and remote.kind == "sse" and remote.auto_approve == ()
    assert remote.timeout_s == 30 and remote.header_values() == {"Authorization": "Bearer your-token"}
    # A disabled entry is still read: Roo Code's `alwaysAllow` is the same list as `autoApprove`.
    assert config.mcp_servers["old-weather"].auto_approve == ("get_forecast",)  # type: ignore[union-attr]


def test_vs_codes_servers_inputs_env_file_and_dev(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("PERPLEXITY_KEY", "pplx-secret")
    caplog.set_level(logging.WARNING, logger="mcp_compiler.config")
    config = load_config(HOST_CONFIGS / "vscode" / ".vscode" / "mcp.json")
    assert set(config.servers) == {"Perplexity", "fetch", "my-remote-server"}
    perplexity = config.servers["Perplexity"]
    assert isinstance(perplexity, StdioServerConfig)
    assert perplexity.env_values() == {"PERPLEXITY_API_KEY": "pplx-secret"}  # ${input:perplexity-key}
    fetch = config.servers["fetch"]
    # ${workspaceFolder} is the folder above `.vscode`, where the `.env` is.
    assert isinstance(fetch, StdioServerConfig) and fetch.env_values() == {"FETCH_USER_AGENT": "mcp-compiler-tests"}
    assert isinstance(config.servers["my-remote-server"], HttpServerConfig)
    # `dev` means nothing here: a warning naming the key and VS Code, once, and the entry loads.
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == ["servers.fetch.dev: ignored; a setting of VS Code (watch and debug a server in development)"]


def test_a_vs_code_input_that_is_not_set_says_which_variable_to_set() -> None:
    data = json.loads((HOST_CONFIGS / "vscode" / ".vscode" / "mcp.json").read_text())
    data["servers"] = {"Perplexity": data["servers"]["Perplexity"]}
    assert error_of(data) == (
        "servers.Perplexity.env.PERPLEXITY_API_KEY: ${input:perplexity-key} (Perplexity API Key) is asked for "
        "by VS Code; mcp-compiler reads it from the environment variable PERPLEXITY_KEY: set it"
    )
    data["inputs"][0]["default"] = "from-default"
    server = parse_config(data, environ={}).servers["Perplexity"]
    assert isinstance(server, StdioServerConfig) and server.env_values() == {"PERPLEXITY_API_KEY": "from-default"}
    undeclared = {"servers": {"s": {"command": "x", "args": ["${input:token}"]}}}
    assert error_of(undeclared) == "servers.s.args[0]: ${input:token} is not declared in `inputs` (declared: none)"


def test_input_ids_name_their_environment_variable() -> None:
    from mcp_compiler.host_configs import input_variable

    assert input_variable("perplexity-key") == "PERPLEXITY_KEY"
    assert input_variable("github.token") == "GITHUB_TOKEN"


def test_errors_in_vs_codes_section_name_it_and_a_name_may_appear_once() -> None:
    assert error_of({"servers": {"w": {"type": "stdio", "comand": "x"}}}).splitlines() == [
        "servers.w.command: required", "servers.w.comand: unknown key (did you mean 'command'?)",
    ]
    assert error_of({"mcpServers": {"w": {"command": "x"}}, "servers": {"w": {"command": "y"}}}) == (
        "servers.w: also in mcpServers; a server name may appear once"
    )
    assert error_of({"servers": []}) == "servers: must be a JSON object of servers by name"
    assert error_of({"inputs": {"id": "x"}}) == "inputs: must be a JSON array (VS Code's list of inputs)"


def test_truly_unknown_keys_stay_errors_and_a_stdio_key_on_a_url_is_named() -> None:
    assert error_of({"mcpServers": {"w": {"command": "x", "autoAprove": ["a"]}}}) == (
        "mcpServers.w.autoAprove: unknown key (did you mean 'autoApprove'?)"
    )
    assert error_of({"mcpServers": {"w": {"url": "https://h/mcp", "envFile": ".env"}}}) == (
        "mcpServers.w.envFile: unknown key for an HTTP server (it is for a stdio server)"
    )
    assert error_of({"mcpServers": {"w": {"command": "x", "timeout": 3, "timeout_s": 4}}}) == (
        "mcpServers.w: give `timeout_s` or Cline's `timeout` (seconds), not both"
    )


def test_sse_is_a_transport_by_type_or_transport_type() -> None:
    for entry in ({"type": "sse", "url": "http://h/sse"}, {"transportType": "sse", "url": "http://h/sse"}):
        server = parse_config({"mcpServers": {"s": entry}}).servers["s"]
        assert isinstance(server, SseServerConfig) and server.kind == "sse"
    assert error_of({"mcpServers": {"s": {"type": "sse", "command": "x"}}}).splitlines() == [
        "mcpServers.s.url: required", "mcpServers.s.command: unknown key for an SSE server (it is for a stdio server)",
    ]


def test_an_env_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    (tmp_path / "mcp.json").write_text(json.dumps({"mcpServers": {"s": {"command": "x", "envFile": "missing.env"}}}))
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "mcp.json")
    assert str(info.value) == f"mcpServers.s.envFile: cannot read {tmp_path / 'missing.env'} (No such file or directory)"


def test_env_files_read_as_dotenv_does() -> None:
    from mcp_compiler.host_configs import parse_env_file

    text = "# comment\nA=1\nexport B = two \nC='lit ${X} # not a comment'\nD=\"line\\nnext \\\"q\\\"\"\nE=v # note\nnot a line\n"
    assert parse_env_file(text) == {"A": "1", "B": "two", "C": "lit ${X} # not a comment", "D": 'line\nnext "q"', "E": "v"}


def test_config_errors_do_not_name_the_file_the_caller_names_it_once(tmp_path: Path) -> None:
    typo = tmp_path / "typo.json"
    typo.write_text('{"mcpServer": {}}')
    for path in (typo, tmp_path / "missing.json"):
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert str(path) not in str(info.value)
    assert error_of({"mcpServer": {}}) == "unknown top-level key 'mcpServer' (did you mean 'mcpServers'?)"


def _doc_json_blocks() -> list[tuple[str | None, str]]:
    """Every ```json block of docs/config.md, with the fixture a `<!-- fixture: PATH -->` line above it names."""
    blocks = []
    pattern = r"(?:<!-- fixture: (\S+) -->\s*\n)?```json\n(.*?)```"
    for match in re.finditer(pattern, DOCS_CONFIG.read_text(), flags=re.S):
        blocks.append((match.group(1), match.group(2)))
    return blocks


def test_every_json_example_in_the_config_docs_loads() -> None:
    blocks = _doc_json_blocks()
    assert len([fixture for fixture, _ in blocks if fixture]) >= 5  # one per host
    environ = {"REMOTE_TOKEN": "t", "API_KEY": "k", "AUTH_TOKEN": "a", "PERPLEXITY_KEY": "p"}
    root = Path(__file__).parents[2]
    for fixture, text in blocks:
        data = json.loads(text)
        if fixture is None:
            parse_config(data, environ=environ)
            continue
        # The doc shows the fixture as it is, and the fixture loads (the host tests above check what it means).
        assert data == json.loads((root / fixture).read_text()), f"docs/config.md's example differs from {fixture}"
        parse_config(data, environ=environ, base_dir=(root / fixture).parent)
