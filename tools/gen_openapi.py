#!/usr/bin/env python3
"""gen_openapi.py — writes schemas/openapi/<service>.openapi.json (OpenAPI 3.1) for the three
services from the tables below. Run it after changing a route; `make test` validates the output
and checks recorded end-to-end responses against it."""
import json
import pathlib

OUT = pathlib.Path(__file__).resolve().parent.parent / "schemas" / "openapi"
I = {"type": "integer"}
S = {"type": "string"}
TS = {"type": "string", "format": "date-time"}
ID = {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$"}
CH = {"enum": ["web", "app", "store"]}
N = {"type": ["string", "null"]}
LOCALE = {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_-]{1,15}$"}  # IsValidLocale (shared/include/tessera/ids.h)
TZ = {"type": "string", "description": "an IANA time zone name, e.g. Europe/Paris; anything else is a 400"}


def obj(props, required=(), extra=True):
    return {"type": "object", "properties": props, "required": list(required), "additionalProperties": extra}


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


COMMON = {
    "Problem": obj({"type": S, "title": S, "status": I, "detail": S, "code": S, "field": S},
                   ["type", "title", "status", "detail", "code"]),
    "Health": obj({"status": S, "reason": S}, ["status"]),
}
BAL = obj({"available": I, "pending": I, "held": I, "lifetime": I, "qualifying": I, "tier": S},
          ["available", "pending", "held", "lifetime", "qualifying", "tier"])
REWARDS = {
    "Balances": BAL,
    "Account": obj({"member_id": ID, "enrolled_at": TS, "tier": S, "version": I, "locale": S, "time_zone": S,
                    "points": obj({"available": I, "pending": I, "held": I, "lifetime": I, "qualifying": I},
                                  ["available", "pending", "held", "lifetime", "qualifying"]),
                    "expiring": {"type": "array", "items": obj({"points": I, "expires_at": TS}, ["points", "expires_at"])}},
                   ["member_id", "enrolled_at", "tier", "points", "expiring", "version"]),
    "EnrollRequest": obj({"member_id": ID, "channel": CH, "locale": LOCALE, "time_zone": TZ, "profile": {"type": "object"}},
                         ["member_id", "channel"], False),
    "EarnRequest": obj({"order_id": ID, "channel": CH, "store_id": ID, "occurred_at": TS, "currency": S, "total_minor": I,
                        "items": {"type": "array", "items": obj({"sku": S, "category": S, "amount_minor": I, "quantity": I},
                                                                ["sku", "category", "amount_minor"], False)}},
                       ["order_id", "channel", "occurred_at", "currency", "total_minor"], False),
    "Earning": obj({"member_id": ID, "order_id": ID, "points": I, "status": {"enum": ["pending", "available"]}, "lot_id": S,
                    "expires_at": TS, "vests_at": TS, "tier": S, "member_seq": I, "balances": ref("Balances"),
                    "breakdown": {"type": "array", "items": obj({"rule": S, "points": I}, ["rule", "points"])}},
                   ["member_id", "order_id", "points", "status", "breakdown", "member_seq", "balances"]),
    "RedeemRequest": obj({"points": {"type": "integer", "minimum": 1}, "reward_id": ID, "channel": CH, "order_id": ID},
                         ["points", "channel"], False),
    "Redemption": obj({"redemption_id": S, "member_id": ID, "points": I, "status": S, "member_seq": I, "balances": ref("Balances")},
                      ["redemption_id", "member_id", "points", "status", "member_seq", "balances"]),
    "HoldRequest": obj({"points": {"type": "integer", "minimum": 1}, "channel": CH, "store_id": ID,
                        "ttl_seconds": {"type": "integer", "minimum": 1, "maximum": 900}}, ["points", "channel", "ttl_seconds"], False),
    "Hold": obj({"hold_id": S, "member_id": ID, "points": I, "status": {"enum": ["active", "captured", "released", "expired"]},
                 "expires_at": TS, "redemption_id": S}, ["hold_id", "member_id", "points", "status", "expires_at"]),
    "ReversalRequest": {"oneOf": [obj({"order_id": ID, "refund_minor": I, "reason": S}, ["order_id", "refund_minor", "reason"], False),
                                  obj({"redemption_id": S, "reason": S}, ["redemption_id", "reason"], False)]},
    "Reversal": obj({"reversal_id": S, "kind": {"enum": ["refund", "redemption_cancelled"]}, "points": I, "member_seq": I,
                     "balances": ref("Balances")}, ["reversal_id", "kind", "points", "member_seq", "balances"]),
    "AdjustmentRequest": obj({"points": I, "reason_code": S, "note": S, "agent_id": ID}, ["points", "reason_code", "note", "agent_id"], False),
    "Adjustment": obj({"adjustment_id": S, "points": I, "member_seq": I, "balances": ref("Balances")},
                      ["adjustment_id", "points", "member_seq", "balances"]),
    "LedgerEntry": obj({"entry_id": S, "member_seq": I, "type": S, "points": I, "balance_after": I, "available_after": I,
                        "channel": S, "reference": S, "occurred_at": TS, "event_id": S},
                       ["entry_id", "type", "points", "balance_after", "channel", "reference", "occurred_at", "event_id"]),
    "LedgerPage": obj({"member_id": ID, "entries": {"type": "array", "items": ref("LedgerEntry")}, "next_cursor": N},
                      ["member_id", "entries", "next_cursor"]),
    "NoteRequest": obj({"agent_id": ID, "text": S}, ["agent_id", "text"], False),
    "Note": obj({"note_id": S, "agent_id": ID, "text": S, "author": S, "created_at": TS}, ["note_id", "agent_id", "text", "created_at"]),
    "NotesPage": obj({"member_id": ID, "notes": {"type": "array", "items": ref("Note")}, "next_cursor": N}, ["notes", "next_cursor"]),
    "Audit": obj({"member_id": ID, "version": I, "ledger_sum": I, "ledger_entries": I, "consistent": {"type": "boolean"},
                  "differences": {"type": "array"}, "balances": {"type": "object"}}, ["member_id", "ledger_sum", "consistent", "differences"]),
    "Program": {"type": "object"},
}
CAMPAIGN_IN = obj({"campaign_id": ID, "name": S, "starts_at": TS, "ends_at": TS,
                   "channels": {"type": "array", "items": CH, "minItems": 1},
                   "audience": {"description": "JsonLogic rule (docs/offers.md)"},
                   "reward": obj({"type": {"enum": ["bonus_points", "points_multiplier", "percent_off", "amount_off", "free_item"]}}, ["type"]),
                   "conditions": {"type": "object"}, "limits": {"type": "object"}, "priority": I,
                   "holdout_percent": {"type": "integer", "minimum": 0, "maximum": 100}, "content": {"type": "object", "propertyNames": LOCALE}},
                  ["campaign_id", "name", "starts_at", "ends_at", "channels", "reward", "content"], False)
OFFERS = {
    "CampaignInput": CAMPAIGN_IN,
    "Campaign": obj({"campaign_id": ID, "status": {"enum": ["draft", "active", "paused", "ended", "archived"]}, "version": I,
                     "reward": {"type": "object"}, "channels": {"type": "array"}, "content": {"type": "object"}},
                    ["campaign_id", "name", "status", "version", "starts_at", "ends_at", "channels", "reward", "content"]),
    "CampaignList": obj({"campaigns": {"type": "array", "items": ref("Campaign")}, "next_cursor": N}, ["campaigns", "next_cursor"]),
    "CampaignStats": obj({"campaign_id": ID, "offered": I, "activated": I, "redeemed": I, "budget_left": {"type": "object"},
                          "holdout_size": I}, ["campaign_id", "offered", "activated", "redeemed", "budget_left", "holdout_size"]),
    "Offer": obj({"offer_id": ID, "campaign_id": ID, "campaign_version": I, "title": S, "description": S, "reward": {"type": "object"},
                  "state": {"enum": ["available", "activated", "redeemed"]}, "ends_at": TS, "score": I,
                  "reasons": {"type": "array", "items": S}},
                 ["offer_id", "campaign_id", "campaign_version", "title", "description", "reward", "state", "ends_at", "score", "reasons"]),
    "OffersResponse": obj({"member_id": ID, "decision_id": S, "generated_at": TS, "personalized": {"type": "boolean"},
                           "offers": {"type": "array", "items": ref("Offer")}},
                          ["member_id", "decision_id", "generated_at", "personalized", "offers"]),
    "Features": obj({"member_id": ID, "known": {"type": "boolean"}, "watermark": S}, ["member_id", "known", "watermark"]),
    "ActivateRequest": obj({"channel": CH}, [], False),
    "Activation": obj({"member_id": ID, "offer_id": ID, "campaign_id": ID, "campaign_version": I, "state": S, "activated_at": N},
                      ["member_id", "offer_id", "state"]),
    "RedeemOfferRequest": obj({"order_id": ID, "channel": CH, "decision_id": S}, ["order_id", "channel"], False),
    "OfferRedemption": obj({"member_id": ID, "offer_id": ID, "campaign_id": ID, "campaign_version": I, "order_id": ID,
                            "redemption_id": S, "reward": {"type": "object"}, "state": S, "redeemed_at": TS},
                           ["member_id", "offer_id", "campaign_version", "order_id", "redemption_id", "reward", "state"]),
}
NOTIFICATIONS = {
    "Preferences": obj({"locale": LOCALE, "time_zone": TZ, "quiet_hours": {"type": ["object", "null"]}, "channels": {"type": "object"},
                        "marketing_opt_in": {"type": "boolean"}, "member_id": ID, "saved": {"type": "boolean"}},
                       ["locale", "time_zone", "channels", "marketing_opt_in"]),
    "InboxItem": obj({"notification_id": S, "event_type": S, "class": S, "subject": S, "body": S, "locale": S, "created_at": TS,
                      "event_time": S, "read_at": N}, ["notification_id", "event_type", "subject", "body", "created_at", "read_at"]),
    "InboxPage": obj({"member_id": ID, "notifications": {"type": "array", "items": ref("InboxItem")}, "next_cursor": N},
                     ["member_id", "notifications", "next_cursor"]),
    "TemplateInput": obj({"subject": S, "body": S}, ["subject", "body"], False),
    "Template": obj({"event_type": S, "locale": S, "subject": S, "body": S, "customized": {"type": "boolean"}, "class": S},
                    ["event_type", "locale", "subject", "body"]),
}
COMMON_PROBLEMS = ["unauthorized (401)", "forbidden (403)", "validation_failed (400)", "malformed_json (400)",
                   "payload_too_large (413)", "malformed_request (400)", "request_headers_too_large (431)",
                   "too_many_pipelined_requests (429)", "service_unavailable (503)"]


def op(summary, roles, ok, ok_schema, request=None, problems=(), member=False, key=None, query=None):
    return dict(summary=summary, roles=roles, ok=ok, ok_schema=ok_schema, request=request, problems=problems,
                member=member, key=key, query=query or [])


SERVICES = {
    "rewards": (8081, "Reward accounts", REWARDS, {
        ("get", "/v1/program"): op("The program rules in force", "storefront, app, pos, agent, ops", {"200"}, "Program"),
        ("post", "/v1/members"): op("Enrol a member (201 new, 200 existing)", "storefront, app (self), pos, agent", {"200", "201"}, "Account", "EnrollRequest"),
        ("get", "/v1/members/{id}"): op("A member's account", "storefront, app (self), pos, agent", {"200"}, "Account", problems=["member_not_found (404)"], member=True),
        ("post", "/v1/members/{id}/earnings"): op("Earn points for a purchase (idempotent by order_id)", "pos", {"201"}, "Earning", "EarnRequest",
                                                  ["member_not_found (404)", "order_already_earned (409)", "outside_claim_window (422)", "idempotency_key_reused (422)"], True, "optional"),
        ("post", "/v1/members/{id}/redemptions"): op("Spend points", "pos, app (self)", {"201"}, "Redemption", "RedeemRequest",
                                                     ["idempotency_key_required (400)", "member_not_found (404)", "insufficient_points (409)", "request_in_progress (409)", "precondition_failed (412)", "idempotency_key_reused (422)"], True, "required"),
        ("post", "/v1/members/{id}/holds"): op("Reserve points during a checkout", "pos", {"201"}, "Hold", "HoldRequest",
                                               ["idempotency_key_required (400)", "insufficient_points (409)", "precondition_failed (412)"], True, "required"),
        ("post", "/v1/members/{id}/holds/{hold_id}/capture"): op("Turn a hold into a redemption (idempotent)", "pos", {"200"}, "Hold", None, ["hold_not_found (404)", "hold_not_active (409)"], True, "optional"),
        ("post", "/v1/members/{id}/holds/{hold_id}/release"): op("Give a hold's points back (idempotent)", "pos", {"200"}, "Hold", None, ["hold_not_found (404)", "hold_not_active (409)"], True, "optional"),
        ("post", "/v1/members/{id}/reversals"): op("Claw back a refund or cancel a redemption", "pos, agent", {"201"}, "Reversal", "ReversalRequest",
                                                   ["idempotency_key_required (400)", "order_not_found (404)", "redemption_not_found (404)", "already_reversed (409)", "outside_reversal_window (422)", "refund_exceeds_order (422)"], True, "required"),
        ("post", "/v1/members/{id}/adjustments"): op("An agent's goodwill credit or correction", "agent", {"201"}, "Adjustment", "AdjustmentRequest",
                                                     ["idempotency_key_required (400)", "insufficient_points (409)", "adjustment_cap_exceeded (422)", "agent_daily_cap_exceeded (422)"], True, "required"),
        ("get", "/v1/members/{id}/ledger"): op("The ledger, newest first", "storefront, app (self), pos, agent", {"200"}, "LedgerPage", None, ["member_not_found (404)"], True, query=["cursor", "limit"]),
        ("post", "/v1/members/{id}/notes"): op("Add an internal note", "agent", {"201"}, "Note", "NoteRequest", ["member_not_found (404)"], True),
        ("get", "/v1/members/{id}/notes"): op("Internal notes", "agent", {"200"}, "NotesPage", None, ["member_not_found (404)"], True, query=["cursor", "limit"]),
        ("get", "/v1/members/{id}/audit"): op("Recompute balances from the ledger", "agent", {"200"}, "Audit", None, ["member_not_found (404)"], True),
    }),
    "offers": (8082, "Offer personalization", OFFERS, {
        ("post", "/v1/campaigns"): op("Create a campaign (draft)", "ops", {"201"}, "Campaign", "CampaignInput", ["campaign_exists (409)"]),
        ("get", "/v1/campaigns"): op("List campaigns", "ops", {"200"}, "CampaignList", query=["status", "channel", "cursor", "limit"]),
        ("get", "/v1/campaigns/{id}"): op("A campaign", "ops", {"200"}, "Campaign", problems=["campaign_not_found (404)"]),
        ("put", "/v1/campaigns/{id}"): op("Replace a campaign: a new version (If-Match required)", "ops", {"200"}, "Campaign", "CampaignInput",
                                          ["campaign_not_found (404)", "campaign_not_editable (409)", "precondition_failed (412)", "precondition_required (428)"]),
        **{("post", f"/v1/campaigns/{{id}}/{a}"): op(f"Lifecycle: {a}", "ops", {"200"}, "Campaign", None, ["campaign_not_found (404)", "invalid_transition (409)"])
           for a in ("publish", "pause", "end", "archive")},
        ("get", "/v1/campaigns/{id}/stats"): op("Campaign statistics", "ops", {"200"}, "CampaignStats", problems=["campaign_not_found (404)"]),
        ("get", "/v1/members/{id}/offers"): op("Ranked offers for a member on a channel, with a signed quote", "storefront, pos, app (self)", {"200"}, "OffersResponse",
                                               member=True, query=["channel", "limit", "locale"]),
        ("get", "/v1/members/{id}/features"): op("The member's features", "storefront, pos, app (self), agent, ops", {"200"}, "Features", member=True),
        ("post", "/v1/members/{id}/offers/{offer_id}/activate"): op("Clip an offer (201 first time, 200 after)", "storefront, pos, app (self)", {"200", "201"}, "Activation", "ActivateRequest",
                                                                    ["offer_not_found (404)", "not_eligible (409)", "offer_not_available (409)", "offer_ended (410)"], True),
        ("post", "/v1/members/{id}/offers/{offer_id}/redeem"): op("Redeem an offer (optionally as quoted)", "pos, storefront, app (self)", {"201"}, "OfferRedemption", "RedeemOfferRequest",
                                                                  ["idempotency_key_required (400)", "offer_not_found (404)", "offer_limit_reached (409)", "budget_exhausted (409)", "not_activated (409)", "not_eligible (409)", "offer_paused (409)", "offer_not_started (409)", "channel_not_eligible (409)", "offer_ended (410)", "invalid_quote (422)", "idempotency_key_reused (422)"], True, "required"),
    }),
    "notifications": (8083, "Notifications", NOTIFICATIONS, {
        ("get", "/v1/members/{id}/preferences"): op("Notification preferences (defaults when none saved)", "app (self), storefront, agent", {"200"}, "Preferences", member=True),
        ("put", "/v1/members/{id}/preferences"): op("Save preferences", "app (self), storefront, agent", {"200"}, "Preferences", "Preferences", member=True),
        ("get", "/v1/members/{id}/inbox"): op("The in-app inbox, newest first", "app (self), storefront, agent", {"200"}, "InboxPage", member=True, query=["unread_only", "cursor", "limit"]),
        ("post", "/v1/members/{id}/inbox/{notification_id}/read"): op("Mark a message read", "app (self), storefront, agent", {"200"}, "InboxItem", None, ["notification_not_found (404)"], True),
        ("get", "/v1/templates/{event_type}/{locale}"): op("A message template (with locale fallback)", "ops", {"200"}, "Template", problems=["template_not_found (404)"]),
        ("put", "/v1/templates/{event_type}/{locale}"): op("Save a template", "ops", {"200"}, "Template", "TemplateInput"),
    }),
}

OUT.mkdir(parents=True, exist_ok=True)
for service, (port, title, schemas, routes) in SERVICES.items():
    paths = {
        "/healthz": {"get": {"summary": "Process alive", "security": [], "responses": {"200": {"description": "alive", "content": {"application/json": {"schema": ref("Health")}}}}}},
        "/readyz": {"get": {"summary": "Redis and Kafka reachable (503 otherwise, and while draining)", "security": [],
                            "responses": {code: {"description": d, "content": {"application/json": {"schema": ref("Health")}}} for code, d in (("200", "ready"), ("503", "not ready"))}}},
        "/metrics": {"get": {"summary": "Prometheus text", "security": [], "responses": {"200": {"description": "metrics", "content": {"text/plain": {"schema": S}}}}}},
    }
    for (method, path), o in routes.items():
        params = [{"name": p[1:-1], "in": "path", "required": True, "schema": ID if p[1:-1] in ("id", "offer_id", "hold_id", "notification_id") else LOCALE if p == "{locale}" else S}
                  for p in path.split("/") if p.startswith("{")]
        params += [{"name": q, "in": "query", "required": q == "channel", "schema": LOCALE if q == "locale" else S} for q in o["query"]]
        if o["key"]:
            params.append({"name": "Idempotency-Key", "in": "header", "required": o["key"] == "required",
                           "schema": {"type": "string", "minLength": 1, "maxLength": 128}})
        responses = {code: {"description": "success", "content": {"application/json": {"schema": ref(o["ok_schema"])}}} for code in sorted(o["ok"])}
        problems = list(o["problems"]) + COMMON_PROBLEMS
        responses["default"] = {"description": "A problem. Codes: " + ", ".join(problems),
                                "content": {"application/problem+json": {"schema": ref("Problem")}}}
        operation = {"summary": o["summary"], "description": f"Roles: {o['roles']} (admin and service always).",
                     "x-problem-codes": problems, "parameters": params, "responses": responses}
        if o["request"]:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(o["request"])}}}
        paths.setdefault(path, {})[method] = operation
    doc = {"openapi": "3.1.0",
           "info": {"title": f"Tessera {title} (tessera-{service})", "version": "1.0.0",
                    "description": f"See docs/{service}.md. Errors are RFC 9457 problem details with a stable `code`."},
           "servers": [{"url": f"http://127.0.0.1:{port}"}],
           "security": [{"bearer": []}],
           "paths": paths,
           "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                         "description": "An API key, or an HS256 JWT (sub = member id) for the app role"}},
                          "schemas": {**COMMON, **schemas}}}
    (OUT / f"{service}.openapi.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    print(f"{service}: {sum(len(v) for v in paths.values())} operations")
