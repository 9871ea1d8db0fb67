"""The result contract: a Run as the `CallToolResult` of `compile_and_run` (docs/server.md#the-result).

- `content[0]` is text: **the answer**. For a plan it is the value of each task nothing else
  uses (the "answer tasks", `run.plain_answer`'s rule), written from the reply's own copies
  below, so a value that is linked shows as its preview and its link; for a query, the joiner's
  answer.
- Then **native content blocks** for the non-text content of the answer tasks (image, audio,
  embedded resource, resource link), in task order, as the upstream sent them. A block that is
  over `max_inline_value_bytes` comes as a `resource_link` to where it is kept.
- `structuredContent` is the Run with **each value once**: no `answer` (it is the text), each
  task's `args` and `result` inline when within `max_inline_value_bytes`, otherwise left out and
  named by `args_stored` / `result_stored`: `{"uri", "bytes", "mime_type", "parts", "preview"}`.
  Binary content (image and audio data, blob resources) never travels in JSON: in a task's
  result it is a `resource_link` to the kept bytes.
- A spread task's `calls` (each call's arguments and error) and a task's `error` are measured
  the same way: `calls` over budget becomes `calls_stored`; an error over budget stays a string,
  its start and the link to the whole text (`…/tasks/<n>/error`).
- A reply over `max_reply_bytes` links its largest remaining values, one at a time, until it fits.
- Resource URIs from upstreams are namespaced (`server/resources.py`), so the host can read them
  through mcp-compiler.

Values kept live in the `RunStore` (`server/store.py`) as `mcp-compiler://runs/<id>/tasks/<n>`
(a result), `…/tasks/<n>/args`, `…/tasks/<n>/content/<i>` (one block of a result), `…/answer`.
The Python API and `mcp-compiler run --json` keep the whole Run: this shaping is the MCP reply's.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import mcp_types as types
from pydantic import TypeAdapter, ValidationError

from ..config import CompilerConfig
from ..engine.run import Run, TaskRecord, plain_answer
from ..text import scrub
from .resources import namespaced
from .store import RUNS_URI, Item, RunStore

__all__ = ["ReplyBudget", "reply_for", "reply_inline", "answered", "CONTENT_TYPES"]

CONTENT_TYPES = frozenset({"text", "image", "audio", "resource", "resource_link"})
_PREVIEW_CHARS = 300
_BLOCK: TypeAdapter[types.ContentBlock] = TypeAdapter(types.ContentBlock)


@dataclass(frozen=True)
class ReplyBudget:
    """How much one reply carries; the fields are the `compiler` config keys of the same name."""

    max_inline_value_bytes: int = 64 * 2**10
    max_reply_bytes: int = 512 * 2**10

    @classmethod
    def from_config(cls, compiler: CompilerConfig) -> ReplyBudget:
        return cls(compiler.max_inline_value_bytes, compiler.max_reply_bytes)


def answered(run: Run) -> bool:
    """The run has an answer: a non-empty one, and some task succeeded (or there were none)."""
    return bool(run.answer and run.answer.strip()) and (not run.tasks or any(t.status == "ok" for t in run.tasks))


def is_blocks(value: Any) -> TypeGuard[list[dict[str, Any]]]:
    """A task value made of content blocks: what `upstreams.tool_value` keeps of a result with
    non-text content (a list of block dicts, each with a known `type`)."""
    return (
        isinstance(value, list) and bool(value)
        and all(isinstance(b, dict) and b.get("type") in CONTENT_TYPES for b in value)
    )


def _size(value: Any) -> int:
    """Bytes of `value` as JSON in the reply (a string's by counting, not by encoding it)."""
    if isinstance(value, str):
        escaped = value.count('"') + value.count("\\") + value.count("\n") + value.count("\r") + value.count("\t")
        return len(value.encode("utf-8", "replace")) + escaped + 2
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8", "replace"))


def _human(size: int) -> str:
    for unit, scale in (("MB", 10**6), ("KB", 10**3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


# ---- one reply ------------------------------------------------------------------------------------


@dataclass
class _Field:
    """A task's `args` or `result` in the reply: inline, or kept and linked."""

    task: dict[str, Any]
    key: str  # "args", "result", "error" or "calls"
    path: str  # where it is kept: tasks/<n>, tasks/<n>/args, tasks/<n>/error, tasks/<n>/calls
    size: int
    stored: dict[str, Any] | str | None = None  # the link in the task (an error's: its cut text)


@dataclass
class _Native:
    """A non-text block of an answer task, for the reply's content."""

    task_id: int
    index: int  # of the block in the task's result
    block: dict[str, Any]  # as the upstream sent it, URIs namespaced
    size: int
    link: dict[str, Any] | None = None  # the block that stands for it in the reply, once it is linked
    kept: dict[str, Any] | None = None  # binary: the resource_link to its kept bytes


@dataclass
class _Reply:
    run: Run
    store: RunStore | None
    budget: ReplyBudget
    run_id: str
    refused: set[str] = field(default_factory=set)  # paths the store did not keep on an earlier try
    kept: dict[str, Item] = field(default_factory=dict)  # path -> value this reply links, to be kept
    data: dict[str, Any] = field(default_factory=dict)
    fields: list[_Field] = field(default_factory=list)
    natives: list[_Native] = field(default_factory=list)
    answer_ids: list[int] = field(default_factory=list)
    plain: bool = False  # the answer is the answer tasks' values (a plan), not a joiner's words
    preview_chars: int = _PREVIEW_CHARS  # of a linked value; 0 when even previews do not fit

    def keep(self, path: str, item: Item) -> str | None:
        """The URI `item` will be kept at (`reply_for` keeps it once the reply is shaped); None
        when there is no store, or it refused the path, or the item alone could never fit."""
        if self.store is None or path in self.refused or item.encoded_size() > self.store.max_bytes:
            return None
        self.kept[path] = item
        return f"{RUNS_URI}{self.run_id}/{path}"

    def info(self, uri: str | None, item: Item, preview: str) -> dict[str, Any]:
        parts = len(self.store.parts(item)) if self.store is not None and uri is not None else 0
        return {"uri": uri, "bytes": len(item.data), "mime_type": item.mime_type, "parts": parts, "preview": preview}


async def reply_for(
    run: Run, *, store: RunStore | None = None, budget: ReplyBudget = ReplyBudget(),
    servers: Mapping[str, str] | None = None,
) -> types.CallToolResult:
    """The `CallToolResult` for a finished Run (see the module docstring).

    `servers` maps a tool's catalog name to the prefix of the upstream whose resources
    mcp-compiler serves (its resource URIs get namespaced); without it they are left as sent.
    `store` keeps what is linked; without one, a value over budget is cut to its preview.

    The reply is shaped first (which values it links), then the linked values are kept. When the
    store refuses one (this run's values fill it), the reply is shaped again knowing so: its link
    then says the value was not kept. Each try refuses more paths, so this ends.
    """
    run_id = store.new_run_id() if store is not None else ""
    refused: set[str] = set()
    stored: set[str] = set()
    while True:
        reply = _Reply(run, store, budget, run_id, refused=set(refused))
        result = _shape(reply, servers)
        if store is None:
            return result
        for path, item in reply.kept.items():
            if path in stored:
                continue
            if await store.put(run_id, path, item) is None:
                refused.add(path)
            else:
                stored.add(path)
        if not refused - reply.refused:
            return result


def reply_inline(
    run: Run, *, budget: ReplyBudget = ReplyBudget(), servers: Mapping[str, str] | None = None
) -> types.CallToolResult:
    """The reply with nowhere to keep values: a value over budget is cut to its preview."""
    return _shape(_Reply(run, None, budget, ""), servers)


def _shape(reply: _Reply, servers: Mapping[str, str] | None) -> types.CallToolResult:
    run, budget = reply.run, reply.budget
    data = run.to_dict()
    data.pop("answer", None)
    reply.data = data
    reply.plain = not run.rounds and bool(run.tasks) and run.answer == plain_answer(run)
    used = {dep for t in run.tasks for dep in t.deps}
    reply.answer_ids = [t.id for t in run.tasks if t.id not in used and t.status == "ok"]
    for record, task in zip(run.tasks, data["tasks"], strict=True):
        _shape_task(reply, record, task, (servers or {}).get(record.tool))
    for item in reply.fields:
        if item.size > budget.max_inline_value_bytes:
            _link_field(reply, item)
    for native in reply.natives:
        if native.size > budget.max_inline_value_bytes:
            _link_native(reply, native)
    text = _fit(reply)
    blocks: list[types.ContentBlock] = [types.TextContent(type="text", text=scrub(text))]
    blocks += [_BLOCK.validate_python(n.link or n.block) for n in reply.natives]
    return types.CallToolResult(content=blocks, structured_content=scrub(data), is_error=not answered(run))


def _shape_task(reply: _Reply, record: TaskRecord, task: dict[str, Any], prefix: str | None) -> None:
    """The task's copy in the reply: namespaced URIs, binary content linked, its fields measured."""
    n = record.id
    value = task.get("result")
    if is_blocks(value):
        shaped = []
        for index, block in enumerate(value):
            block = _namespaced_block(block, prefix)
            native = _Native(n, index, block, _size(block))
            if n in reply.answer_ids and block.get("type") != "text" and _valid(block):
                reply.natives.append(native)
            binary = _binary(block)
            if binary is not None:
                data, mime = binary
                uri = reply.keep(f"tasks/{n}/content/{index}", Item.blob(data, mime))
                block = native.kept = _link_block(f"task {n} {block['type']}", uri, mime, len(data))
            shaped.append(block)
        task["result"] = shaped
    # A spread's call records (each call's arguments and error) and an error text count against
    # the budget as values do: each is linked when it is too large, and cut to fit the reply.
    keys = (("args", f"tasks/{n}/args"), ("result", f"tasks/{n}"), ("error", f"tasks/{n}/error"), ("calls", f"tasks/{n}/calls"))
    for key, path in keys:
        if task.get(key) is not None:
            reply.fields.append(_Field(task, key, path, _size(task[key])))


def _namespaced_block(block: dict[str, Any], prefix: str | None) -> dict[str, Any]:
    if prefix is None:
        return block
    if block.get("type") == "resource_link" and isinstance(block.get("uri"), str):
        return {**block, "uri": namespaced(prefix, block["uri"])}
    resource = block.get("resource")
    if block.get("type") == "resource" and isinstance(resource, dict) and isinstance(resource.get("uri"), str):
        return {**block, "resource": {**resource, "uri": namespaced(prefix, resource["uri"])}}
    return block


def _binary(block: dict[str, Any]) -> tuple[bytes, str] | None:
    """The bytes and MIME type of an image, audio or blob-resource block; None for the others."""
    kind = block.get("type")
    if kind in ("image", "audio"):
        data, mime = block.get("data"), block.get("mimeType")
    elif kind == "resource" and isinstance(block.get("resource"), dict) and "blob" in block["resource"]:
        data, mime = block["resource"]["blob"], block["resource"].get("mimeType")
    else:
        return None
    if not isinstance(data, str):
        return None
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None  # not base64: it stays as the upstream sent it
    return raw, mime if isinstance(mime, str) else "application/octet-stream"


def _valid(block: dict[str, Any]) -> bool:
    try:
        _BLOCK.validate_python(block)
    except ValidationError:
        return False
    return True


def _link_block(name: str, uri: str | None, mime: str, size: int) -> dict[str, Any]:
    if uri is None:  # no store (or it is full): say what was there
        return {"type": "text", "text": f"[{name}, {mime}, {_human(size)}: not kept]"}
    return {"type": "resource_link", "uri": uri, "name": name, "mimeType": mime, "size": size}


def _link_field(reply: _Reply, item: _Field) -> int:
    """Keep the field and put its link in the task; returns the link's size in the reply."""
    value = item.task.pop(item.key)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    stored = Item.text(text, "text/plain" if isinstance(value, str) else "application/json")
    uri = reply.keep(item.path, stored)
    cut = reply.preview_chars
    preview = text[:cut] + ("…" if len(text) > cut and cut else "")
    if item.key == "error":  # an error stays a string: its start, and where the rest is
        where = f"the whole error: {uri}" if uri else "the rest was not kept"
        item.stored = item.task["error"] = f"{preview} [{_human(len(stored.data))} in all; {where}]"
        return _size(item.stored)
    item.stored = item.task[f"{item.key}_stored"] = reply.info(uri, stored, preview)
    return _size(item.stored) + len(item.key) + 10


def _link_native(reply: _Reply, native: _Native) -> int:
    """The native block replaced by a link: to its kept bytes, or (an embedded text resource) to
    its text, kept now. A resource link is small already and stays."""
    block = native.block
    if native.kept is not None:
        native.link = native.kept
    elif block.get("type") == "resource":
        resource = block.get("resource") or {}
        stored = Item.text(str(resource.get("text", "")), str(resource.get("mimeType") or "text/plain"))
        uri = reply.keep(f"tasks/{native.task_id}/content/{native.index}", stored)
        native.link = _link_block(f"task {native.task_id} resource", uri, stored.mime_type, len(stored.data))
    if native.link is not None:
        native.size = _size(native.link)
    return native.size


# ---- the answer and the reply budget ----------------------------------------------------------------


def _fit(reply: _Reply) -> str:
    """The answer text, after linking the largest values until the reply is within its budget.

    Each round measures the reply once, then links the largest values until what they free
    covers the excess.
    When nothing large is left, previews go and smaller values are linked too; the Run's
    skeleton (about 250 bytes a task) is what remains.
    """
    limit = reply.budget.max_reply_bytes
    smallest = 512  # linking a value this small would not shrink it (its link has a preview)
    while True:
        text = _answer_text(reply)
        over = _size(reply.data) + len(text.encode("utf-8", "replace")) + sum(n.size for n in reply.natives) - limit
        if over <= 0:
            break
        # A leaf's result is in the text too (a plan's answer): linking it frees twice its size.
        in_text = set(reply.answer_ids) if reply.plain else set()

        def copies(f: _Field) -> int:
            return 2 if f.key in ("result", "error") and f.task["id"] in in_text else 1  # noqa: B023 - used in this iteration

        def link_field(f: _Field) -> int:
            return _link_field(reply, f) * copies(f)

        candidates: list[tuple[int, Callable[[], int]]] = [
            (f.size * copies(f), functools.partial(link_field, f))
            for f in reply.fields if f.stored is None and f.size > smallest
        ]
        candidates += [
            (n.size, functools.partial(_link_native, reply, n))
            for n in reply.natives if n.link is None and n.size > smallest
        ]
        if not candidates:
            if reply.preview_chars == 0:
                break
            reply.preview_chars, smallest = 0, 160
            for f in reply.fields:
                if isinstance(f.stored, dict):
                    f.stored["preview"] = ""
            continue
        freed = 0
        for size, link in sorted(candidates, key=lambda c: c[0], reverse=True):
            if freed >= over:
                break
            freed += size - link()
    if len(text.encode("utf-8", "replace")) > min(limit // 2, max(reply.budget.max_inline_value_bytes, 4096)):
        stored = Item.text(text)
        uri = reply.keep("answer", stored)
        where = f"the whole answer: {uri}" if uri else "the rest was not kept"
        text = f"{text[:_PREVIEW_CHARS * 4]}… [{_human(len(stored.data))} in all; {where}]"
    return text


def _answer_text(reply: _Reply) -> str:
    run = reply.run
    if not answered(run):
        return _no_answer(run)
    if not reply.plain:  # a joiner's answer, as it is
        return run.answer or ""
    used = {dep for t in run.tasks for dep in t.deps}
    leaves = [(record, task) for record, task in zip(run.tasks, reply.data["tasks"], strict=True) if record.id not in used]
    # Where each native block is in the reply's content: content[0] is this text.
    natives = {(n.task_id, n.index): (position + 1, n) for position, n in enumerate(reply.natives)}
    lines = []
    for record, task in leaves:
        body = _value_text(task, natives) if record.status == "ok" else f"{record.status}: {task.get('error')}"
        lines.append(f"${record.id} {record.tool}: {body}" if len(leaves) > 1 else body)
    return "\n".join(lines)


def _value_text(task: dict[str, Any], natives: Mapping[tuple[int, int], tuple[int, _Native]]) -> str:
    stored = task.get("result_stored")
    if stored is not None:
        where = f"the whole value: {stored['uri']}" if stored["uri"] else "the rest was not kept"
        return f"{stored['preview']} [{_human(stored['bytes'])} in all; {where}]"
    value = task.get("result")
    if not is_blocks(value):
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    pieces = []
    for index, block in enumerate(value):
        if block.get("type") == "text":
            pieces.append(str(block.get("text", "")))
        elif (task["id"], index) in natives:
            position, native = natives[(task["id"], index)]
            pieces.append(f"[{_describe(native.link or native.block)}: content[{position}]]")
        else:
            pieces.append(f"[{_describe(block)}]")
    return "\n".join(pieces)


def _describe(block: dict[str, Any]) -> str:
    kind = block.get("type")
    if kind == "resource_link":
        return f"resource link {block.get('name', '')!r} {block.get('uri')}"
    if kind == "resource":
        resource = block.get("resource") or {}
        return f"resource {resource.get('uri')}"
    return f"{kind} {block.get('mimeType', '')}".strip()


def _no_answer(run: Run) -> str:
    if run.error:
        return f"The run produced no answer: {run.error}"
    failed = [t for t in run.tasks if t.status != "ok"]
    return "The run produced no answer; every task failed.\n" + "\n".join(
        f"task {t.id} {t.tool}: {t.status}" + (f": {_short(t.error)}" if t.error else "") for t in failed[:20]
    )


def _short(error: str) -> str:
    """An error as the no-answer summary lists it: its start (the Run has it whole, or its link)."""
    return error if len(error) <= _PREVIEW_CHARS else f"{error[:_PREVIEW_CHARS]}… (see the task's error)"
