#!/usr/bin/env python3
"""fuzz_http.py — sends hostile requests to the three services and fails on any answer a client
must never get: a 5xx other than 503, a 4xx that is not application/problem+json, a dropped
connection, or a service that stops answering /healthz. Each request starts from a valid one
(every route of schemas/openapi) and breaks one thing: a field's type or value (huge numbers,
bytes that are not UTF-8 once percent-decoded, deep nesting, long strings), a path segment, the
body's JSON, a header (If-Match, Idempotency-Key, Authorization, Content-Type; or one of them
sent twice), the query, or the method. Deterministic for a seed.

  tools/fuzz_http.py --rewards http://127.0.0.1:8081 --offers http://127.0.0.1:8082 \\
                     --notifications http://127.0.0.1:8083 [--seed 1] [--requests 3000]

Run by tests/e2e (HostileInput) against a fresh stack; run it by hand against `make run`.
Malformed HTTP framing (a negative Content-Length, say) is not sent: the shared HTTP server
refuses it before any handler runs, and tests/integration/http_server_test.cpp covers that
(docs/architecture.md, "The HTTP server")."""
import argparse
import http.client
import json
import random
import sys
import time
import urllib.parse

WEIRD = [None, True, False, 0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -2**63, -2**64, 1e308, -1e308, 0.5,
         1e-300, "", " ", "x" * 70, "x" * 100000, "\u0000", "é🎉", "../../etc", "a b", "null", "1", "-1", "1e5", [], [1],
         {}, {"a": 1}, [[[[[[]]]]]], "2024-13-45T99:99:99Z", "0000-00-00T00:00:00Z", "9999-12-31T23:59:59Z", "NaN"]
SEGMENTS = ["%00", "%2F", "a" * 100, "x%20y", "%E9", "%C3%A9", "..", "m-1001", "fz-1", "%ZZ", "a" * 65, "a" * 64, "%FF%FE"]
RAW_BODIES = ["{", "[]", "null", "1", '"s"', '{"a":', "\xff\xfe", "{}" * 1000, "[" * 10000 + "]" * 10000,
              '{"points":1,"points":2}', '{"points":1e999}', ""]
HEADER_VALUES = ["", "abc", "-1", "99999999999999999999", "1.5", '"3"', "x" * 300, 'W/"1"', "Bearer", "Bearer " + "a" * 5000,
                 "text/plain", "application/json; charset=latin1", "1, 2"]
# Handlers read the body as JSON whatever Content-Type says; Accept is not consulted.
CONTENT_TYPES = ["text/plain", "application/json; charset=latin1", "application/xml", "multipart/form-data; boundary=x",
                 "application/merge-patch+json", "abc", ";;", "application/json; charset"]
# Sent twice: the first six must appear once (a second is refused with 400), Accept is a list.
TWICE = ["Authorization", "Idempotency-Key", "Content-Type", "X-Request-Id", "If-Match", "Host", "Accept"]
QUERIES = ["limit=0", "limit=101", "limit=-5", "limit=abc", "limit=99999999999999999999", "cursor=zzz", "cursor=",
           "cursor=" + "A" * 500, "channel=tv", "channel=", "status=weird", "limit=1&limit=2", "locale=%E9%E9",
           "unread_only=maybe", "channel=web&locale=" + "a" * 40]


def seeds():
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    campaign = {"campaign_id": "fzc", "name": "n", "starts_at": ts, "ends_at": "2030-01-01T00:00:00Z", "channels": ["web"],
                "audience": {"==": [{"var": "tier"}, "member"]}, "reward": {"type": "bonus_points", "points": 10},
                "conditions": {"min_spend_minor": 0, "categories": ["a"], "requires_activation": True},
                "limits": {"per_member": 1, "total": 100}, "priority": 1, "holdout_percent": 10,
                "content": {"en": {"title": "t", "description": "d"}}}
    return [
        ("rewards", "POST", "/v1/members", {"member_id": "fz-1", "channel": "web", "locale": "en-US", "time_zone": "Europe/Paris",
                                             "profile": {"persona": "analytical"}}),
        ("rewards", "POST", "/v1/members/fz-1/earnings", {"order_id": "o-1", "channel": "web", "store_id": "s1", "occurred_at": ts,
                                                          "currency": "EUR", "total_minor": 12345,
                                                          "items": [{"sku": "a", "category": "electronics", "amount_minor": 12345,
                                                                     "quantity": 1}]}),
        ("rewards", "POST", "/v1/members/fz-1/redemptions", {"points": 1, "reward_id": "r1", "channel": "web", "order_id": "o-9"}),
        ("rewards", "POST", "/v1/members/fz-1/holds", {"points": 1, "channel": "store", "store_id": "s1", "ttl_seconds": 60}),
        ("rewards", "POST", "/v1/members/fz-1/holds/hld_X/capture", None),
        ("rewards", "POST", "/v1/members/fz-1/holds/hld_X/release", None),
        ("rewards", "POST", "/v1/members/fz-1/reversals", {"order_id": "o-1", "refund_minor": 100, "reason": "r"}),
        ("rewards", "POST", "/v1/members/fz-1/reversals", {"redemption_id": "rdm_X", "reason": "r"}),
        ("rewards", "POST", "/v1/members/fz-1/adjustments", {"points": 5, "reason_code": "goodwill", "note": "n", "agent_id": "ag1"}),
        ("rewards", "GET", "/v1/members/fz-1/ledger?limit=5", None),
        ("rewards", "POST", "/v1/members/fz-1/notes", {"text": "hello", "agent_id": "ag1"}),
        ("rewards", "GET", "/v1/members/fz-1/notes", None),
        ("rewards", "GET", "/v1/members/fz-1/audit", None),
        ("rewards", "GET", "/v1/members/fz-1", None),
        ("rewards", "GET", "/v1/program", None),
        ("offers", "POST", "/v1/campaigns", campaign),
        ("offers", "PUT", "/v1/campaigns/fzc", dict(campaign, name="n2", reward={"type": "percent_off", "percent": 10, "max_minor": 500})),
        ("offers", "POST", "/v1/campaigns/fzc/publish", None),
        ("offers", "POST", "/v1/campaigns/fzc/pause", None),
        ("offers", "POST", "/v1/campaigns/fzc/end", None),
        ("offers", "POST", "/v1/campaigns/fzc/archive", None),
        ("offers", "GET", "/v1/campaigns?limit=3&status=active", None),
        ("offers", "GET", "/v1/campaigns/fzc", None),
        ("offers", "GET", "/v1/campaigns/fzc/stats", None),
        ("offers", "GET", "/v1/members/fz-1/offers?channel=web&limit=5", None),
        ("offers", "GET", "/v1/members/fz-1/features", None),
        ("offers", "POST", "/v1/members/fz-1/offers/fzc/activate", None),
        ("offers", "POST", "/v1/members/fz-1/offers/fzc/redeem", {"order_id": "o-5", "channel": "web"}),
        ("notifications", "GET", "/v1/members/fz-1/preferences", None),
        ("notifications", "PUT", "/v1/members/fz-1/preferences",
         {"channels": {"email": {"address": "a@b.example", "enabled": True}, "sms": {"phone": "+33123456789", "enabled": False}},
          "marketing_opt_in": True, "quiet_hours": {"start": "22:00", "end": "07:00"}, "time_zone": "Europe/Paris", "locale": "en"}),
        ("notifications", "GET", "/v1/members/fz-1/inbox?limit=5", None),
        ("notifications", "POST", "/v1/members/fz-1/inbox/n1/read", None),
        ("notifications", "GET", "/v1/templates/points.earned/en", None),
        ("notifications", "PUT", "/v1/templates/points.earned/en", {"subject": "Hi {{name}}", "body": "You earned {{points}}"}),
    ]


def mutate(rng, v, depth=0):
    if isinstance(v, dict) and v:
        v = dict(v)
        k = rng.choice(sorted(v))
        op = rng.random()
        if op < 0.2:
            del v[k]
        elif op < 0.3:
            v["extra_%d" % rng.randint(0, 9)] = rng.choice(WEIRD)
        elif op < 0.6 and depth < 4:
            v[k] = mutate(rng, v[k], depth + 1)
        else:
            v[k] = rng.choice(WEIRD)
        return v
    if isinstance(v, list) and v:
        v = list(v)
        op = rng.random()
        if op < 0.3:
            v = v * rng.choice([2, 50, 1000])
        elif op < 0.6 and depth < 4:
            v[0] = mutate(rng, v[0], depth + 1)
        else:
            v[0] = rng.choice(WEIRD)
        return v
    return rng.choice(WEIRD)


def send(base, method, path, body, headers, extra=()):
    """`headers` (a dict) and then `extra`, (name, value) pairs that may repeat a name in it."""
    u = urllib.parse.urlsplit(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=15)
    try:
        c.putrequest(method, path, skip_accept_encoding=True)
        for name, value in list(headers.items()) + list(extra):
            c.putheader(name, value)
        if body is not None:
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body)
        r = c.getresponse()
        return r.status, r.read(), r.getheader("Content-Type") or ""
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser()
    for s in ("rewards", "offers", "notifications"):
        ap.add_argument("--" + s, required=True, help="base URL")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--token", default="dev-admin", help="a token with every role")
    a = ap.parse_args()
    base = {"rewards": a.rewards, "offers": a.offers, "notifications": a.notifications}
    rng = random.Random(a.seed)
    routes = seeds()
    failures = []
    for i in range(a.requests):
        service, method, path, body = rng.choice(routes)
        headers = {"Authorization": "Bearer " + a.token, "Content-Type": "application/json",
                   "Idempotency-Key": "fz-%d-%d" % (a.seed, i)}
        raw = json.dumps(body) if body is not None else None
        extra = []
        kind = rng.random()
        if kind < 0.5 and body is not None:
            raw = json.dumps(mutate(rng, body))
        elif kind < 0.6:
            segs = path.split("?")[0].split("/")
            segs[rng.randrange(1, len(segs))] = rng.choice(SEGMENTS)
            path = "/".join(segs)
        elif kind < 0.7:
            raw = rng.choice(RAW_BODIES)
        elif kind < 0.75:
            headers[rng.choice(["Content-Type", "Accept"])] = rng.choice(CONTENT_TYPES)
        elif kind < 0.8:
            headers[rng.choice(["If-Match", "Idempotency-Key", "Authorization", "X-Request-Id"])] = rng.choice(HEADER_VALUES)
        elif kind < 0.83:
            extra.append((rng.choice(TWICE), rng.choice(HEADER_VALUES[1:])))
        elif kind < 0.9:
            path = path.split("?")[0] + "?" + rng.choice(QUERIES)
        else:
            method = rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
        data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
        what = "%s %s %s body=%r extra=%r" % (service, method, path, (raw or "")[:160], extra)
        try:
            status, answer, ctype = send(base[service], method, path, data, headers, extra)
        except Exception as e:  # noqa: BLE001 - any failure to answer is a finding
            failures.append("no answer (%s): %s" % (e, what))
            try:
                send(base[service], "GET", "/healthz", None, {})
            except Exception:  # noqa: BLE001
                print("FAIL: %s stopped answering after: %s" % (service, what))
                return 1
            continue
        if status >= 500 and status != 503:
            failures.append("%d %r: %s" % (status, answer[:160], what))
        elif 400 <= status < 500 and method != "HEAD" and "application/problem+json" not in ctype:
            failures.append("%d with Content-Type %r: %s" % (status, ctype, what))
    for s, b in base.items():
        if send(b, "GET", "/healthz", None, {})[0] != 200:
            failures.append("%s: /healthz does not answer 200 after the run" % s)
    print("fuzz_http: %d requests (seed %d), %d findings" % (a.requests, a.seed, len(failures)))
    for f in failures[:50]:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
