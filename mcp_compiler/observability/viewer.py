"""The run viewer: recent runs at `/runs`, a run's DAG and timeline at `/runs/{id}`, live.

`RunLog` is an observer keeping the last runs of the process (the Run objects themselves, which
the scheduler fills in as it goes, so a page polling `/runs/{id}.json` sees a run live).
`ViewerRoutes` serves them behind whatever wraps it (the HTTP server puts it behind the bearer
token, as `/mcp`). `run_page()` writes the same page for one run as a self-contained file
(`mcp-compiler run --html FILE`).

What the page shows comes from upstream servers, so a hostile one must not run script in an
operator's browser: the page's script is ours and static (`viewer.js`, `viewer.css`), it sets every value
as text, the data reaches the page as JSON (fetched, or in a non-executable `application/json`
block whose `<` are escaped), and the Content-Security-Policy allows no other script.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import TYPE_CHECKING, Any

from .hooks import Observer

if TYPE_CHECKING:
    from ..engine.run import Run

__all__ = ["RunLog", "ViewerRoutes", "run_page", "run_view"]

MAX_VALUE_CHARS = 4_000  # per argument or result shown: the page stays small whatever a tool returned
_RUN_ID = re.compile(r"/runs/([0-9a-f]{32})(\.json)?")
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _static(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > MAX_VALUE_CHARS:
        return text[:MAX_VALUE_CHARS] + f"… ({len(text) - MAX_VALUE_CHARS} more characters)"
    return text


def _critical(run: Run) -> set[int]:
    """The tasks of the longest chain by duration through every kind of edge."""
    longest: dict[int, tuple[float, int | None]] = {}
    for record in sorted(run.tasks, key=lambda t: t.id):
        if record.start_s is None or record.end_s is None:
            continue
        best: tuple[float, int | None] = (0.0, None)
        for edge in (*record.deps, *record.after, *record.ordered_after):
            if edge in longest and longest[edge][0] > best[0]:
                best = (longest[edge][0], edge)
        longest[record.id] = (best[0] + record.end_s - record.start_s, best[1])
    if not longest:
        return set()
    node: int | None = max(longest, key=lambda k: longest[k][0])
    path = set()
    while node is not None:
        path.add(node)
        node = longest[node][1]
    return path


def run_view(run: Run, *, running: bool = False) -> dict[str, Any]:
    """What the page draws: every task with its times, edges, status and (shortened) values."""
    critical = _critical(run)
    tasks = []
    for t in run.tasks:
        tasks.append({
            "id": t.id, "tool": t.tool, "server": t.tool.split(".", 1)[0] if "." in t.tool else "(local)",
            "status": t.status, "start_s": t.start_s, "end_s": t.end_s,
            "deps": list(t.deps), "after": list(t.after), "ordered_after": list(t.ordered_after),
            "error": t.error, "args": _shown(t.args), "result": _shown(t.result), "critical": t.id in critical,
            "calls": [{"index": c.index, "status": c.status, "start_s": c.start_s, "end_s": c.end_s}
                      for c in t.calls] if t.calls is not None else None,
        })
    return {"run_id": run.id, "trace_id": run.trace_id, "running": running, "elapsed_s": run.elapsed() if running
            else max([t.end_s for t in run.tasks if t.end_s is not None], default=0.0),
            "error": run.error, "tasks": tasks}


def _script_safe(data: Any) -> str:
    """JSON that cannot end the `<script type="application/json">` block it sits in."""
    return json.dumps(data, default=str).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _page(title: str, body: str, head: str) -> str:
    return (f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>{head}</head>"
            f"<body>{body}</body></html>\n")


_RUN_BODY = (
    "<h1>{title}</h1><p class=\"meta\" id=\"status\"></p>"
    "<p class=\"legend\"><span>solid: data edge</span><span>dashed: after</span><span>dotted: plan order on a server"
    "</span><span>black outline: the critical path</span></p>"
    "<h2>Plan</h2><svg id=\"dag\"></svg><h2>Timeline</h2><svg id=\"timeline\"></svg>"
    "<h2>Task</h2><div id=\"details\">click a task</div>"
)


def run_page(run: Run) -> str:
    """One run's page as a self-contained file: our script and style inline, allowed by their
    hashes; the run as JSON data."""
    script, style = _static("viewer.js"), _static("viewer.css")
    csp = f"default-src 'none'; script-src {_sha256(script)}; style-src {_sha256(style)}; base-uri 'none'"
    head = (f"<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\"><style>{style}</style>")
    body = (_RUN_BODY.format(title=html.escape(f"Run {run.id}"))
            + f"<script type=\"application/json\" id=\"run-data\">{_script_safe(run_view(run))}</script>"
            + f"<script>{script}</script>")
    return _page(f"Run {run.id}", body, head)


class RunLog(Observer):
    """The last `keep` runs of the process, for the viewer; not `active` (the page reads the Run)."""

    def __init__(self, keep: int = 50) -> None:
        self.keep = keep
        self.runs: OrderedDict[str, tuple[Run, float, bool]] = OrderedDict()  # id -> (run, wall start, running)

    @contextmanager
    def run(self, run: Run) -> Iterator[None]:
        self.runs[run.id] = (run, time.time(), True)
        while len(self.runs) > self.keep:
            self.runs.popitem(last=False)
        try:
            yield
        finally:
            if run.id in self.runs:
                self.runs[run.id] = (run, self.runs[run.id][1], False)


class ViewerRoutes:
    """ASGI: `/runs`, `/runs/{id}`, `/runs/{id}.json` and the page's static files; the rest to `app`."""

    def __init__(self, app: Any, log: RunLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == "/runs" or path.startswith("/runs/")) or scope.get("method") not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        if path == "/runs":
            await self._send(send, 200, self._index().encode(), "text/html; charset=utf-8")
        elif path in ("/runs/static/viewer.js", "/runs/static/viewer.css"):
            kind = "text/javascript" if path.endswith(".js") else "text/css"
            await self._send(send, 200, _static(path.rsplit("/", 1)[1]).encode(), f"{kind}; charset=utf-8")
        elif (m := _RUN_ID.fullmatch(path)) and m.group(1) in self.log.runs:
            run, _, running = self.log.runs[m.group(1)]
            if m.group(2):
                await self._send(send, 200, json.dumps(run_view(run, running=running), default=str).encode(),
                                 "application/json")
            else:
                head = "<link rel=\"stylesheet\" href=\"/runs/static/viewer.css\">"
                body = (_RUN_BODY.format(title=html.escape(f"Run {run.id}"))
                        + "<script src=\"/runs/static/viewer.js\"></script>")
                await self._send(send, 200, _page(f"Run {run.id}", body, head).encode(), "text/html; charset=utf-8")
        else:
            await self._send(send, 404, b"no such run (the viewer keeps the last runs only)", "text/plain; charset=utf-8")

    def _index(self) -> str:
        rows = []
        for run_id, (run, started, running) in reversed(self.log.runs.items()):
            failed = sum(1 for t in run.tasks if t.status != "ok")
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(started))
            rows.append(f"<tr><td><a href=\"/runs/{run_id}\">{run_id}</a></td><td>{when}</td>"
                        f"<td>{'running' if running else 'done'}</td><td>{len(run.tasks)}</td><td>{failed}</td></tr>")
        table = ("<table class=\"runs\"><tr><th>run</th><th>started (UTC)</th><th>state</th><th>tasks</th>"
                 "<th>not ok</th></tr>" + "".join(rows) + "</table>")
        return _page("Recent runs", "<h1>Recent runs</h1>" + table,
                     "<link rel=\"stylesheet\" href=\"/runs/static/viewer.css\">")

    @staticmethod
    async def _send(send: Any, status: int, body: bytes, content_type: str) -> None:
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()),
            (b"content-security-policy", _CSP.encode()), (b"x-content-type-options", b"nosniff"),
            (b"cache-control", b"no-store"), (b"referrer-policy", b"no-referrer"),
        ]})
        await send({"type": "http.response.body", "body": body})
