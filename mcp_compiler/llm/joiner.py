"""The joiner: from the question and every task's result, decide to finish (with the answer) or replan.

The model answers `Thought: ...` then `Action: Finish(ANSWER)` or `Action: Replan(REASON)`. The
answer runs from the first `(` after the action name to the last `)` of the reply, so answers
that contain parentheses survive. A JSON object `{"action": "finish"|"replan", ...}` works too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

from ..engine.run import LLMUsage, Run
from . import LLM, Message
from . import complete as llm_complete

__all__ = ["Decision", "Joiner", "parse_decision", "joiner_prompt"]

_SYSTEM = """\
You are the joiner of a tool-calling compiler. A plan of tool calls ran to answer a question; you
see the plan and every task's result or error. Decide what to do, in this form:

Thought: <one or two sentences on what the results show>
Action: Finish(<the answer to the question>)

Use Finish when the results answer the question; give the answer itself, short and direct, with
the numbers and names from the results. If the results cannot answer it — a tool failed, or a
needed step is missing — and another plan could, reply instead:

Thought: <what is missing>
Action: Replan(<what the next plan must find or fix>)
"""

_LAST_ROUND = """
This is the last round: you must use Finish. If the results are incomplete, answer as well as they
allow and say what is missing.
"""


def joiner_prompt(last_round: bool) -> str:
    return _SYSTEM + (_LAST_ROUND if last_round else "")


@dataclass(frozen=True)
class Decision:
    action: Literal["finish", "replan"]
    text: str  # the answer, or the reason to replan
    thought: str = ""


_ACTION = re.compile(r"Action\s*:\s*(Finish|Replan)\s*\(", re.IGNORECASE)
_BARE_ACTION = re.compile(r"\b(Finish|Replan)\s*\(", re.IGNORECASE)
_THOUGHT = re.compile(r"Thought\s*:\s*(.*?)(?=\n\s*Action\s*:|\Z)", re.IGNORECASE | re.DOTALL)


def parse_decision(reply: str) -> Decision | None:
    """The joiner's decision, or None when the reply has neither an action nor a JSON decision."""
    decision = _json_decision(reply)
    if decision is not None:
        return decision
    m = _ACTION.search(reply) or _BARE_ACTION.search(reply)
    if m is None:
        return None
    close = reply.rfind(")")
    body = reply[m.end() : close] if close >= m.end() else reply[m.end() :]
    thought_match = _THOUGHT.search(reply[: m.start()])
    thought = thought_match.group(1).strip() if thought_match else ""
    action: Literal["finish", "replan"] = "finish" if m.group(1).lower() == "finish" else "replan"
    return Decision(action, body.strip(), thought)


def _json_decision(reply: str) -> Decision | None:
    text = reply.strip()
    text = re.sub(r"^```(?:json)?\s*|\s*```$", "", text)
    if not text.startswith("{"):
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    action = str(data.get("action", "")).lower()
    if action == "finish":
        return Decision("finish", _as_text(data.get("answer", "")), str(data.get("thought", "")))
    if action == "replan":
        return Decision("replan", _as_text(data.get("reason", "")), str(data.get("thought", "")))
    return None


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@dataclass
class Joiner:
    llm: LLM
    run: Run

    async def decide(self, question: str, plan: str, results: str, *, last_round: bool) -> Decision:
        """Ask the model; an unparsable reply is taken as the answer itself (it still answered)."""
        prompt = f"Question: {question}\n\nPlan:\n{plan}\n\nResults:\n{results}"
        start = self.run.elapsed()
        text, usage = await llm_complete(self.llm, joiner_prompt(last_round), [Message("user", prompt)], max_tokens=2048)
        self.run.usage.append(
            LLMUsage("join", self.llm.name, usage.input_tokens, usage.output_tokens, start, self.run.elapsed())
        )
        decision = parse_decision(text) or Decision("finish", text.strip())
        if last_round and decision.action == "replan":
            return Decision("finish", f"(incomplete) {decision.text}", decision.thought)
        return decision
