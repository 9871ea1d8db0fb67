"""The run viewer in a real headless browser (issue 27, item 6): Chromium from the system's packages
(`apt-get install chromium chromium-driver`), driven by Selenium with the system's chromedriver,
against `mcp-compiler serve --transport http` and against the file `mcp-compiler run --html` writes.

A 20-task plan with a spread and a task whose result is an HTML/JS payload: the page shows every
task, the timeline's bars are at the Run's times, the critical path is marked, and the payload is
shown as text, never run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from procs import free_port, stop, wait_for_port

FIXTURES = Path(__file__).parents[1] / "fixtures"
ROOT = Path(__file__).parents[2]

pytestmark = pytest.mark.anyio

PAYLOAD = "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>"
PLAN = "\n".join([
    "1. meta.items(count=4)",
    "2. meta.work(n=$1.result[*])",  # a spread: four calls
    *[f"{i}. meta.work(n={i})" for i in range(3, 11)],  # eight side by side
    "11. meta.work(n=$10.result)",
    *[f"{i}. meta.work(n=${i - 1}.result)" for i in range(12, 18)],  # a chain: the critical path
    f"18. meta.echo(text={json.dumps(PAYLOAD)})",
    "19. meta.fail()",
    "20. meta.work(n=$3.result)",
])


def _browser() -> Any:
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        pytest.fail("the run viewer's test needs Chromium and its driver: apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or ""
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1400"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or ""))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    driver = _browser()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("viewer")
    config = tmp / "config.json"
    config.write_text(json.dumps({"mcpServers": {"meta": {
        "command": sys.executable, "args": [str(FIXTURES / "meta_server.py"), "--record", str(tmp / "meta.jsonl")]}}}))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    with open(tmp / "serve.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "mcp_compiler", "serve", "--transport", "http", "--port", str(port),
                                 "--config", str(config)], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=log)
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def _wait_rendered(browser: Any, timeout: float = 30) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, timeout).until(
        lambda b: b.find_element("tag name", "body").get_attribute("data-rendered") == "done")


def _critical_path(run: dict[str, Any]) -> set[int]:
    """The longest chain by duration, through every kind of edge, computed here from the Run."""
    best: dict[int, tuple[float, list[int]]] = {}
    for task in sorted(run["tasks"], key=lambda t: t["id"]):
        before = [best[e] for e in task["deps"] + task["after"] + task["ordered_after"] if e in best]
        length, chain = max(before, default=(0.0, []))
        best[task["id"]] = (length + task["end_s"] - task["start_s"], [*chain, task["id"]])
    return set(max(best.values())[1])


def _check_page(browser: Any, run: dict[str, Any]) -> None:
    _wait_rendered(browser)
    bars = browser.find_elements("css selector", "#timeline rect.bar:not(.element)")
    assert sorted(int(b.get_attribute("data-task")) for b in bars) == list(range(1, 21))
    by_id = {t["id"]: t for t in run["tasks"]}
    for bar in bars:  # each bar at its task's times
        task = by_id[int(bar.get_attribute("data-task"))]
        assert abs(float(bar.get_attribute("data-start")) - task["start_s"]) < 1e-5
        assert abs(float(bar.get_attribute("data-end")) - task["end_s"]) < 1e-5
    elements = browser.find_elements("css selector", "#timeline rect.bar.element")
    assert sorted(int(e.get_attribute("data-element")) for e in elements) == [0, 1, 2, 3]
    assert len(browser.find_elements("css selector", "#dag rect.node")) == 20
    marked = {int(b.get_attribute("data-task")) for b in bars if "critical" in b.get_attribute("class").split()}
    assert marked == _critical_path(run) and len(marked) >= 2
    assert browser.find_elements("css selector", "#dag path.edge.data")  # the data edges are drawn
    failed = [b for b in bars if b.get_attribute("data-task") == "19"]
    assert "error" in failed[0].get_attribute("class").split()
    # The hostile result: shown as text on click, never run.
    payload_bar = next(b for b in bars if b.get_attribute("data-task") == "18")
    payload_bar.click()
    details = browser.find_element("id", "details").text
    assert "result: " + json.dumps({"result": PAYLOAD}, ensure_ascii=False) in details  # as text, quotes and all
    assert browser.title != "pwned" and "pwned" not in browser.title
    assert not browser.find_elements("css selector", "body img, #details script")


async def test_the_viewer_shows_a_twenty_task_run_live_from_the_server(server: str, browser: Any, tmp_path: Path) -> None:
    async with Client(f"{server}/mcp") as client:
        with anyio.fail_after(60):
            result = await client.call_tool("compile_and_run", {"plan": PLAN})
    run = result.structured_content
    assert [t["status"] for t in run["tasks"]].count("ok") == 19
    async with httpx2.AsyncClient(timeout=30) as http:
        page = await http.get(f"{server}/runs/{run['run_id']}")
        listing = await http.get(f"{server}/runs")
        data = (await http.get(f"{server}/runs/{run['run_id']}.json")).json()
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert PAYLOAD not in page.text  # the page carries no data; the script fetches it as JSON
    assert f"/runs/{run['run_id']}" in listing.text
    assert data["running"] is False and len(data["tasks"]) == 20
    await anyio.to_thread.run_sync(browser.get, f"{server}/runs/{run['run_id']}")
    await anyio.to_thread.run_sync(_check_page, browser, run)
    browser.save_screenshot(str(tmp_path / "run-viewer.png"))
    if os.environ.get("MCP_COMPILER_SCREENSHOT"):  # refresh the docs' picture
        browser.save_screenshot(os.environ["MCP_COMPILER_SCREENSHOT"])
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and "favicon.ico" not in e["message"]]
    assert not errors, errors  # no blocked script, no failed fetch


def test_run_html_writes_the_same_page_as_one_self_contained_file(server: str, browser: Any, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"mcpServers": {"meta": {
        "command": sys.executable, "args": [str(FIXTURES / "meta_server.py"), "--record", str(tmp_path / "m.jsonl")]}}}))
    page = tmp_path / "run.html"
    done = subprocess.run([sys.executable, "-m", "mcp_compiler", "run", "--config", str(config), "--plan", PLAN,
                           "--json", "--html", str(page)], capture_output=True, text=True, timeout=120)
    assert page.exists(), done.stderr
    run = json.loads(done.stdout)
    text = page.read_text()
    assert "<script>document.title" not in text  # the payload is data, escaped inside a JSON block
    browser.get(page.as_uri())
    _check_page(browser, run)
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
