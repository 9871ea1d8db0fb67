"""Finding tools in a large catalog: `compiler.search_tools`'s recall and the planner's prompt size.

    python benchmarks/toolsearch.py            (or python -m benchmarks.toolsearch)

A generated catalog of 1,000 tools on 20 stub servers (`CATALOG`: each server is a service with
ten kinds of record, each with create/get/list/update/delete tools whose descriptions and
parameters are made from the service's own words), and `QUERIES`: requests written by hand the way
a person or a host model would phrase them, each with the tool it means. Printed: recall@1 and
recall@5 of `compiler.search_tools` over that catalog, and the planner's system prompt in tokens
(tokens.py) at 10, 100 and 1,000 tools with every tool listed and with retrieval at the default
budget (`compiler.planner_prompt_tokens`). `python -m benchmarks.toolsearch serve SERVER...` is
the stub MCP server that lists the named servers' tools (the end-to-end test runs four).
"""

from __future__ import annotations

import json
import sys
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# service -> (what it is, its kinds of record, each with the fields a new one takes)
SERVICES: dict[str, tuple[str, dict[str, list[str]]]] = {
    "calendar": ("the calendar", {"event": ["title", "start", "end"], "reminder": ["text", "at"], "attendee": ["email"],
                 "room": ["name", "capacity"], "calendar": ["name", "timezone"], "availability": ["day"],
                 "invitation": ["event_id", "email"], "recurrence": ["rule"], "holiday": ["date", "country"],
                 "agenda": ["day"]}),
    "mail": ("the email account", {"message": ["to", "subject", "body"], "draft": ["to", "body"], "label": ["name"],
             "thread": ["subject"], "attachment": ["filename"], "filter": ["query"], "contact": ["email", "name"],
             "signature": ["text"], "folder": ["name"], "autoreply": ["text", "until"]}),
    "github": ("GitHub repositories", {"issue": ["title", "body"], "pull_request": ["title", "head", "base"],
               "repository": ["name", "private"], "branch": ["name", "from"], "commit": ["sha"],
               "release": ["tag", "notes"], "comment": ["issue_number", "body"], "workflow_run": ["workflow"],
               "gist": ["content"], "collaborator": ["username"]}),
    "files": ("the local file system", {"file": ["path", "content"], "directory": ["path"], "symlink": ["path", "target"],
              "permission": ["path", "mode"], "archive": ["path", "format"], "checksum": ["path"],
              "snapshot": ["path"], "tag": ["path", "tag"], "mount": ["device"], "trash_item": ["path"]}),
    "weather": ("weather data", {"forecast": ["city", "days"], "current_condition": ["city"], "alert": ["region"],
                "radar_image": ["region"], "air_quality": ["city"], "uv_index": ["city"], "pollen_count": ["city"],
                "sunrise_time": ["city", "date"], "station": ["station_id"], "climate_normal": ["city", "month"]}),
    "maps": ("maps and places", {"route": ["origin", "destination"], "place": ["query"], "geocode": ["address"],
             "traffic_report": ["road"], "distance": ["origin", "destination"], "elevation": ["lat", "lon"],
             "timezone_lookup": ["lat", "lon"], "saved_location": ["name", "lat", "lon"], "transit_line": ["city"],
             "parking_spot": ["near"]}),
    "finance": ("the bank and the markets", {"stock_quote": ["symbol"], "exchange_rate": ["from_currency", "to_currency"],
                "transaction": ["account", "amount"], "account": ["name"], "budget": ["category", "limit"],
                "invoice": ["customer", "amount"], "portfolio": ["name"], "dividend": ["symbol"],
                "tax_report": ["year"], "loan": ["principal", "rate"]}),
    "music": ("the music player", {"track": ["artist", "title"], "playlist": ["name"], "album": ["artist", "title"],
              "artist": ["name"], "queue": ["track_id"], "lyrics": ["track_id"], "radio_station": ["genre"],
              "podcast_episode": ["show"], "equalizer_preset": ["name"], "listening_history": ["since"]}),
    "database": ("the SQL database", {"table": ["name", "columns"], "row": ["table", "values"], "index": ["table", "column"],
                 "query_plan": ["sql"], "backup": ["database"], "user_role": ["name"], "view": ["name", "sql"],
                 "migration": ["version"], "schema": ["name"], "connection": ["dsn"]}),
    "slack": ("the team chat", {"channel": ["name"], "chat_message": ["channel", "text"], "reaction": ["message_id", "emoji"],
              "direct_message": ["user", "text"], "user_status": ["text"], "pin": ["message_id"], "bookmark": ["url"],
              "huddle": ["channel"], "workspace_member": ["email"], "scheduled_message": ["channel", "text", "at"]}),
    "crm": ("the sales CRM", {"lead": ["name", "company"], "deal": ["name", "value"], "customer": ["name", "email"],
            "opportunity": ["name", "stage"], "sales_call": ["customer", "notes"], "quote": ["deal_id"],
            "territory": ["region"], "campaign": ["name"], "note": ["customer", "text"], "pipeline_stage": ["name"]}),
    "cloud": ("cloud infrastructure", {"virtual_machine": ["name", "size"], "bucket": ["name"], "dns_record": ["domain", "value"],
              "load_balancer": ["name"], "firewall_rule": ["port"], "ssh_key": ["public_key"], "volume": ["size_gb"],
              "container": ["image"], "secret": ["name", "value"], "billing_alert": ["threshold"]}),
    "travel": ("trip booking", {"flight": ["origin", "destination", "date"], "hotel_booking": ["city", "check_in"],
               "car_rental": ["city", "pickup"], "itinerary": ["trip"], "seat": ["flight_id"], "boarding_pass": ["flight_id"],
               "visa_requirement": ["country"], "loyalty_account": ["program"], "travel_insurance": ["trip"],
               "baggage_claim": ["flight_id"]}),
    "shop": ("the online store", {"product": ["name", "price"], "order": ["product_id", "quantity"], "cart": ["customer"],
             "coupon": ["code", "discount"], "review": ["product_id", "stars"], "shipment": ["order_id"],
             "refund": ["order_id", "reason"], "wishlist": ["customer"], "inventory_level": ["product_id"],
             "gift_card": ["amount"]}),
    "health": ("personal health records", {"appointment": ["doctor", "time"], "prescription": ["drug", "dose"],
               "step_count": ["day"], "heart_rate": ["day"], "sleep_record": ["night"], "meal_log": ["food", "calories"],
               "symptom": ["description"], "vaccination": ["vaccine", "date"], "lab_result": ["test"],
               "weight_measurement": ["kg"]}),
    "notes": ("the notebook", {"page": ["title", "text"], "notebook": ["name"], "todo": ["text", "due"],
              "checklist": ["title"], "highlight": ["page_id", "text"], "sketch": ["title"], "voice_memo": ["title"],
              "web_clip": ["url"], "template": ["name"], "backlink": ["page_id"]}),
    "news": ("news sources", {"headline": ["topic"], "article": ["url"], "feed": ["url"], "source": ["name"],
             "topic_subscription": ["topic"], "breaking_alert": ["topic"], "newsletter": ["name"],
             "saved_article": ["url"], "trending_story": ["region"], "fact_check": ["claim"]}),
    "hr": ("the human resources system", {"employee": ["name", "title"], "vacation_request": ["employee", "from", "to"],
           "payslip": ["employee", "month"], "job_posting": ["title"], "candidate": ["name", "email"],
           "interview": ["candidate", "time"], "performance_review": ["employee"], "expense_claim": ["employee", "amount"],
           "org_chart": ["department"], "training_course": ["title"]}),
    "home": ("the smart home", {"light": ["room", "brightness"], "thermostat": ["temperature"], "door_lock": ["door"],
             "camera_clip": ["camera"], "vacuum_job": ["rooms"], "scene": ["name"], "sprinkler_zone": ["zone"],
             "energy_usage": ["day"], "garage_door": ["door"], "smoke_alarm": ["room"]}),
    "translate": ("translation and language tools", {"translation": ["text", "target_language"],
                  "language_detection": ["text"], "glossary": ["name"], "transcription": ["audio_url"],
                  "subtitle": ["video_url", "language"], "spell_check": ["text"], "pronunciation": ["word"],
                  "dictionary_entry": ["word"], "summary": ["text"], "sentiment": ["text"]}),
}

VERBS = {
    "create": "Create a new {e} in {s}.",
    "get": "Get one {e} from {s} by its id, with all its details.",
    "list": "List the {e}s in {s}, optionally filtered.",
    "update": "Update (edit, change) an existing {e} in {s}.",
    "delete": "Delete (remove) a {e} from {s}.",
}


def _words(identifier: str) -> str:
    return identifier.replace("_", " ")


def _tool(service: str, verb: str, entity: str, fields: list[str]) -> dict[str, Any]:
    what = SERVICES[service][0]
    description = VERBS[verb].format(e=_words(entity), s=what)
    if verb in ("create", "update"):
        properties = {f: {"type": "string", "description": f"the {_words(f)} of the {_words(entity)}"} for f in fields}
        required = fields if verb == "create" else ["id"]
        if verb == "update":
            properties = {"id": {"type": "string", "description": f"the {_words(entity)}'s id"}, **properties}
    elif verb == "list":
        properties = {"filter": {"type": "string", "description": f"text the {_words(entity)}s must match"},
                      "limit": {"type": "integer", "default": 20}}
        required = []
    else:
        properties = {"id": {"type": "string", "description": f"the {_words(entity)}'s id"}}
        required = ["id"]
    return {
        "name": f"{verb}_{entity}", "description": description,
        "inputSchema": {"type": "object", "properties": properties, "required": required},
        "annotations": {"readOnlyHint": verb in ("get", "list"), "destructiveHint": verb == "delete"},
    }


def server_tools(service: str) -> list[dict[str, Any]]:
    """One stub server's tools as MCP lists them (50: five verbs on ten kinds of record)."""
    return [_tool(service, verb, entity, fields) for entity, fields in SERVICES[service][1].items() for verb in VERBS]


CATALOG: dict[str, list[dict[str, Any]]] = {service: server_tools(service) for service in SERVICES}

# Requests as people write them, and the tool each means (server.tool).
QUERIES: list[tuple[str, str]] = [
    ("schedule a new meeting event on my calendar", "calendar.create_event"),
    ("remind me to call mom at 5pm", "calendar.create_reminder"),
    ("which public holidays are there in France", "calendar.list_holiday"),
    ("send an email to bob about the budget", "mail.create_message"),
    ("remove the label 'old' from my mailbox", "mail.delete_label"),
    ("turn on the out of office autoreply until Monday", "mail.create_autoreply"),
    ("open a new issue in the repository", "github.create_issue"),
    ("show me the details of pull request 42", "github.get_pull_request"),
    ("list the releases of the project on github", "github.list_release"),
    ("write text into a file at a path", "files.create_file"),
    ("delete a directory from disk", "files.delete_directory"),
    ("compute the checksum of a file", "files.get_checksum"),
    ("what will the weather forecast be in Paris for 3 days", "weather.get_forecast"),
    ("how bad is the air quality in Delhi today", "weather.get_air_quality"),
    ("any severe weather alerts for my region", "weather.list_alert"),
    ("driving route from Berlin to Munich", "maps.get_route"),
    ("convert this street address to coordinates (geocode)", "maps.get_geocode"),
    ("find a parking spot near the station", "maps.list_parking_spot"),
    ("current stock quote for AAPL", "finance.get_stock_quote"),
    ("exchange rate from euro to dollar", "finance.get_exchange_rate"),
    ("send an invoice to a customer", "finance.create_invoice"),
    ("add a song to a playlist", "music.update_playlist"),
    ("show the lyrics of this track", "music.get_lyrics"),
    ("create a table with columns in the SQL database", "database.create_table"),
    ("insert a row into the users table", "database.create_row"),
    ("explain the query plan for this SQL", "database.get_query_plan"),
    ("post a message in the #general chat channel", "slack.create_chat_message"),
    ("react with an emoji to a chat message", "slack.create_reaction"),
    ("add a new sales lead from Acme", "crm.create_lead"),
    ("move a deal to the next pipeline stage", "crm.update_deal"),
    ("spin up a new virtual machine in the cloud", "cloud.create_virtual_machine"),
    ("add a DNS record for my domain", "cloud.create_dns_record"),
    ("book a flight from Lisbon to Oslo", "travel.create_flight"),
    ("do I need a visa to visit Japan", "travel.get_visa_requirement"),
    ("reserve a hotel in Rome", "travel.create_hotel_booking"),
    ("apply a coupon code with a discount", "shop.create_coupon"),
    ("track the shipment of my order", "shop.get_shipment"),
    ("ask for a refund of order 77", "shop.create_refund"),
    ("book a doctor appointment for Tuesday", "health.create_appointment"),
    ("how many steps did I walk today", "health.get_step_count"),
    ("log my lunch meal with calories", "health.create_meal_log"),
    ("add a todo item due tomorrow", "notes.create_todo"),
    ("clip this web page into my notes", "notes.create_web_clip"),
    ("top headlines about climate", "news.list_headline"),
    ("fact check the claim that...", "news.get_fact_check"),
    ("request vacation days for an employee", "hr.create_vacation_request"),
    ("get the payslip of an employee for March", "hr.get_payslip"),
    ("dim the lights in the living room", "home.update_light"),
    ("set the thermostat temperature to 21", "home.update_thermostat"),
    ("lock the front door lock", "home.update_door_lock"),
    ("translate this text into German", "translate.create_translation"),
    ("detect which language a text is in", "translate.get_language_detection"),
    ("summarize this long text", "translate.create_summary"),
    ("is this review positive or negative (sentiment)", "translate.get_sentiment"),
]


def specs() -> list[Any]:
    """The catalog as the engine sees it (ToolSpecs, `server.tool`), in server order."""
    from mcp_compiler.tools.toolbox import ToolSpec

    return [
        ToolSpec(name=f"{server}.{t['name']}", description=t["description"], input_schema=t["inputSchema"],
                 provider=server, read_only=t["annotations"]["readOnlyHint"],
                 destructive=t["annotations"]["destructiveHint"])
        for server, tools in CATALOG.items() for t in tools
    ]


def recall(catalog: Any, queries: list[tuple[str, str]] = QUERIES) -> dict[str, float]:
    """recall@1 and recall@5 of compiler.search_tools over `catalog` for `queries`."""
    from mcp_compiler.tools.builtins import search_tools

    at1 = at5 = 0
    for query, wanted in queries:
        names = [t["name"] for t in search_tools(catalog, query, limit=5)["tools"]]
        at1 += names[:1] == [wanted]
        at5 += wanted in names
    return {"queries": len(queries), "recall@1": at1 / len(queries), "recall@5": at5 / len(queries)}


def prompt_tokens(sizes: tuple[int, ...] = (10, 100, 1000)) -> list[dict[str, Any]]:
    """The planner's system prompt in tokens, every tool listed and retrieved within the default budget."""
    from mcp_compiler.config import CompilerConfig
    from mcp_compiler.llm.planner import planner_prompt
    from mcp_compiler.llm.tokens import count_tokens
    from mcp_compiler.tools.builtins import WithBuiltins

    budget = CompilerConfig().planner_prompt_tokens
    every = specs()
    rows = []
    for n in sizes:
        # n tools spread over every server (a catalog of 10 has 10 services' first tools).
        chosen = [every[(i % 20) * 50 + i // 20] for i in range(n)]
        catalog = WithBuiltins(_Fixed(chosen)).specs()
        question = QUERIES[0][0]
        rows.append({
            "tools": n, "budget": budget,
            "all_listed": count_tokens(planner_prompt(catalog)),
            "retrieved": count_tokens(planner_prompt(catalog, question=question, budget_tokens=budget)),
        })
    return rows


class _Fixed:
    def __init__(self, specs: list[Any]) -> None:
        self._specs = {s.name: s for s in specs}

    def specs(self) -> dict[str, Any]:
        return self._specs

    async def call(self, spec: Any, arguments: dict[str, Any]) -> Any:
        return arguments


# ---- the stub MCP server ------------------------------------------------------------------------


def _reply(message: dict[str, Any], tools: list[dict[str, Any]]) -> dict[str, Any] | None:
    method, mid = message.get("method"), message.get("id")
    if mid is None:
        return None
    if method == "initialize":
        version = message.get("params", {}).get("protocolVersion", "2025-11-25")
        return {"jsonrpc": "2.0", "id": mid, "result": {
            "protocolVersion": version, "capabilities": {"tools": {}}, "serverInfo": {"name": "stub", "version": "1"}}}
    if method == "tools/list":
        return {"jsonrpc": "2.0", "id": mid, "result": {"tools": tools}}
    if method == "tools/call":
        params = message.get("params", {})
        echo = {"tool": params.get("name"), "arguments": params.get("arguments") or {}}
        return {"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": json.dumps(echo)}]}}
    if method == "ping":
        return {"jsonrpc": "2.0", "id": mid, "result": {}}
    return {"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": f"no method {method}"}}


def serve(services: list[str]) -> None:
    """Speak MCP on stdio (one JSON-RPC message a line), listing the tools of `services` under
    `service__tool` names (the stub is one server of many: its tools keep their service's name)."""
    tools = [{**t, "name": f"{s}__{t['name']}"} for s in services for t in CATALOG[s]]
    for line in sys.stdin:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        answer = _reply(message, tools) if isinstance(message, dict) else None
        if answer is not None:
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()


def main(argv: list[str]) -> None:
    if argv[:1] == ["serve"]:
        serve(argv[1:])
        return
    from mcp_compiler.tools.builtins import WithBuiltins
    from mcp_compiler.tools.catalog import Catalog

    catalog = WithBuiltins(_Fixed(specs())).specs()
    assert isinstance(catalog, Catalog)
    print(json.dumps({"tools": len(catalog) - 1, "servers": len(CATALOG), **recall(catalog),
                      "planner_prompt_tokens": prompt_tokens()}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
