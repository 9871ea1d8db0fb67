"""A plan in the JSON form: `{"tasks": [{"id", "tool", "args", "kwargs", "thought", "deps"}, ...],
"join": [VALUE, ...]}`, parsed whole once the text has ended (parser.py sends it here when a
plan's first character is `{`). Strings hold references as in the text form (syntax.py).
"""

from __future__ import annotations

import json
import re
from typing import Any

from .plan import MAX_VALUE_DEPTH, Plan, PlanError, Task, Value
from .syntax import TOOL_NAME, string_value

__all__ = ["parse_json_plan"]

MAX_DEPTH = MAX_VALUE_DEPTH  # lists and objects inside one value, as in the text form


def _at_the_start(message: str) -> PlanError:
    """A bad reference in a JSON string: reported at the plan's start, as the parser always has."""
    return PlanError(message, 1, 1)


def parse_json_plan(text: str, plan: Plan) -> list[Task]:
    """Parse a whole plan in the JSON form into `plan` and return its tasks."""
    text = text.strip()
    text = re.sub(r"^```[\w-]*\s*|\s*```\s*$", "", text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise PlanError(f"invalid JSON plan: {e.msg}", e.lineno, e.colno) from None
    except RecursionError:
        raise PlanError(f"invalid JSON plan: lists and objects nest deeper than {MAX_DEPTH} levels") from None
    except ValueError as e:  # e.g. an integer beyond Python's digit limit for conversion
        raise PlanError(f"invalid JSON plan: {e}".split("; use sys.")[0]) from None
    tasks = data.get("tasks") if isinstance(data, dict) else None
    if not isinstance(tasks, list):
        raise PlanError('a JSON plan must be an object with a "tasks" list')
    out = [_json_task(item, n) for n, item in enumerate(tasks, 1)]
    answer = data.get("join")
    if answer is not None and not isinstance(answer, list):
        raise PlanError(f'"join": expected a list of values (as join(...) takes), got {_json_kind(answer)}')
    plan.tasks.extend(out)
    plan.joined = True
    plan.answer = tuple(_json_value(v, "join", 0) for v in answer) if answer else None
    return out

def _json_task(item: Any, n: int) -> Task:
    where = f"tasks[{n - 1}]"
    if not isinstance(item, dict):
        raise PlanError(f"{where}: expected an object with id, tool and args")
    unknown = set(item) - {"id", "tool", "args", "kwargs", "thought", "deps"}
    if unknown:
        raise PlanError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    task_id, tool = item.get("id", n), item.get("tool")
    if not isinstance(task_id, int) or isinstance(task_id, bool) or task_id < 1:
        raise PlanError(f"{where}.id: expected a positive integer, got {task_id!r}")
    if not isinstance(tool, str) or not TOOL_NAME.fullmatch(tool):
        raise PlanError(f"{where}.tool: expected a tool name, got {tool!r}")
    raw_args: Any = item.get("args", [])
    raw_kwargs: Any = item.get("kwargs", {})
    if not isinstance(raw_kwargs, dict):
        raise PlanError(f"{where}.kwargs: expected an object of arguments by name, got {_json_kind(raw_kwargs)}")
    if isinstance(raw_args, dict):
        raw_args, raw_kwargs = [], {**raw_args, **raw_kwargs}
    if not isinstance(raw_args, list):
        raise PlanError(f"{where}.args: expected an object (by name) or a list (by position), got {_json_kind(raw_args)}")
    args = [_json_value(v, where, 0) for v in raw_args]
    kwargs = {str(k): _json_value(v, where, 0) for k, v in raw_kwargs.items()}
    thought = item.get("thought") if isinstance(item.get("thought"), str) else None
    return Task(task_id, tool, args, kwargs, thought, after=_json_deps(item.get("deps", []), where))

def _json_value(value: Any, where: str, depth: int) -> Value:
    if isinstance(value, str):
        return string_value(value, _at_the_start)
    if isinstance(value, (list, dict)) and depth >= MAX_DEPTH:
        raise PlanError(f"{where}: lists and objects nest deeper than {MAX_DEPTH} levels")
    if isinstance(value, list):
        return [_json_value(v, where, depth + 1) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v, where, depth + 1) for k, v in value.items()}
    return value


def _json_deps(deps: Any, where: str) -> tuple[int, ...]:
    """The JSON form's "deps": task numbers (or "$N") this task runs after, as `after` does."""
    if not isinstance(deps, list):
        raise PlanError(f"{where}.deps: expected a list of task numbers, got {_json_kind(deps)}")
    ids: list[int] = []
    for dep in deps:
        m = re.fullmatch(r"\$\{?([0-9]+)\}?", dep) if isinstance(dep, str) else None
        if m:
            dep = int(m.group(1))
        if not isinstance(dep, int) or isinstance(dep, bool) or dep < 1:
            raise PlanError(f"{where}.deps: expected task numbers such as [1, 2], got {dep!r}")
        ids.append(dep)
    return tuple(ids)


def _json_kind(value: Any) -> str:
    return "null" if value is None else {bool: "a boolean", str: "a string", int: "a number", float: "a number",
                                          list: "a list", dict: "an object"}.get(type(value), type(value).__name__)
