#!/usr/bin/env python3
"""member_memory.py REWARDS_URL OFFERS_URL REDIS_PORT [MEMBER_ID] — Redis memory of one member
(MEMORY USAGE over all its keys, in total and by key) with 20 ledger entries, 3 lots and 5
activated offers, then as its ledger grows to 100 and 1 000 entries. Prints one JSON line. The
member (default mem-probe) must not exist yet. Needs the campaigns of bench/seed_offers.py
(bench-006, -012, -018, -024, -030 are open to everyone on every channel, without holdout)."""
import http.client
import json
import subprocess
import sys
import urllib.parse
from datetime import datetime, timezone

rewards, offers, port = sys.argv[1], sys.argv[2], sys.argv[3]
member = sys.argv[4] if len(sys.argv) > 4 else "mem-probe"


def call(base, method, path, body=None, token="dev-pos", key=None):
    u = urllib.parse.urlparse(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    h = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if key:
        h["Idempotency-Key"] = key
    c.request(method, path, json.dumps(body) if body is not None else "", h)
    r = c.getresponse()
    data = r.read()
    return r.status, json.loads(data) if data else None


def bucket_tag(member_id):
    h = 2166136261
    for ch in member_id.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return "{b%02d}" % (h % 64)


def memory():
    """(total bytes, {key suffix: bytes}) over all of the member's keys (both spaces: `m`, and
    `mc`, the keys replicas cache — docs/redis-keys.md)."""
    by_key = {}
    for prefix in (f"tessera:{bucket_tag(member)}:m:{member}:", f"tessera:mc:{bucket_tag(member)}:{member}:"):
        keys = subprocess.run(["redis-cli", "-p", port, "--scan", "--pattern", prefix + "*"], capture_output=True, text=True).stdout.split()
        for k in keys:
            out = subprocess.run(["redis-cli", "-p", port, "MEMORY", "USAGE", k, "SAMPLES", "0"], capture_output=True, text=True).stdout.strip()
            by_key[k[len(prefix):]] = int(out or 0)
    return sum(by_key.values()), dict(sorted(by_key.items(), key=lambda kv: -kv[1]))


now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
call(rewards, "POST", "/v1/members", {"member_id": member, "channel": "web"})
for i in range(3):  # 3 lots
    call(rewards, "POST", f"/v1/members/{member}/earnings",
         {"order_id": f"mem-o-{i}", "channel": "store", "occurred_at": now, "currency": "USD", "total_minor": 10000})
status, account = call(rewards, "GET", f"/v1/members/{member}")
entries = account["version"]
n = 0
while entries < 20:
    n += 1
    call(rewards, "POST", f"/v1/members/{member}/redemptions", {"points": 1, "channel": "store"}, key=f"mem-r-{n}")
    entries = call(rewards, "GET", f"/v1/members/{member}")[1]["version"]
activated = 0
for i in (6, 12, 18, 24, 30):
    status, _ = call(offers, "POST", f"/v1/members/{member}/offers/bench-{i:03d}/activate", {"channel": "web"}, token="dev-storefront")
    activated += status in (200, 201)
result = {"ledger_entries": entries, "lots": 3, "activated_offers": activated}
result["bytes"], result["by_key"] = memory()
growth = {}
for target in (100, 1000):
    while entries < target:
        n += 1
        call(rewards, "POST", f"/v1/members/{member}/redemptions", {"points": 1, "channel": "store"}, key=f"mem-r-{n}")
        entries += 1
    growth[str(target)] = memory()[0]
result["bytes_at_ledger"] = growth
print(json.dumps(result))
