#!/usr/bin/env python3
"""seed_offers.py URL N — creates and publishes N campaigns with a mix of audiences and
rewards (a third open to all, the rest targeted by tier, points or category). bench/run.sh."""
import http.client
import json
import sys
import urllib.parse

url, count = sys.argv[1], int(sys.argv[2])
parts = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
headers = {"Authorization": "Bearer dev-ops", "Content-Type": "application/json"}
audiences = [
    None,
    {"in": [{"var": "tier"}, ["silver", "gold"]]},
    {">=": [{"var": "lifetime_points"}, 500000]},
    {"and": [{">=": [{"var": "purchases_90d"}, 1]}, {"<": [{"var": "available_points"}, 2000000]}]},
    {">=": [{"var": "category.electronics"}, 1]},
    {"!": {"==": [{"var": "persona"}, "functional"]}},
]
rewards = [
    {"type": "bonus_points", "points": 250},
    {"type": "points_multiplier", "factor": 2},
    {"type": "percent_off", "percent": 10, "max_minor": 5000},
    {"type": "amount_off", "amount_minor": 500},
    {"type": "free_item", "sku": "coffee"},
]
for i in range(count):
    body = {
        "campaign_id": f"bench-{i:03d}", "name": f"Bench campaign {i}",
        "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z",
        "channels": [["web", "app", "store"], ["web", "app"], ["store"]][i % 3],
        "reward": rewards[i % len(rewards)], "priority": i % 4, "holdout_percent": 5 if i % 7 == 0 else 0,
        "content": {"en": {"title": f"Offer {i}", "description": "A benchmark offer with a short description."},
                    "ja": {"title": f"オファー {i}", "description": "ベンチマーク用のオファーです。"}},
    }
    if audiences[i % len(audiences)] is not None:
        body["audience"] = audiences[i % len(audiences)]
    for path, payload in ((f"/v1/campaigns", body), (f"/v1/campaigns/bench-{i:03d}/publish", None)):
        conn.request("POST", path, json.dumps(payload) if payload else "", headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status not in (200, 201, 409):
            print(f"seed_offers: {path} -> {resp.status}", file=sys.stderr)
            sys.exit(1)
