#!/usr/bin/env python3
"""seed_rewards.py URL N — enrolls members m-0..m-(N-1) and gives each 1 000 000 points
(one $100 000 purchase), over keep-alive connections from 8 threads. Used by bench/run.sh."""
import http.client
import json
import sys
import threading
import urllib.parse
from datetime import datetime, timezone

url, count = sys.argv[1], int(sys.argv[2])
parts = urllib.parse.urlparse(url)
now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
failures = []


def worker(ids):
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Authorization": "Bearer dev-pos", "Content-Type": "application/json", "Connection": "keep-alive"}
    for i in ids:
        member = f"m-{i}"
        for path, body in (
            ("/v1/members", {"member_id": member, "channel": "web"}),
            (f"/v1/members/{member}/earnings", {"order_id": f"seed-{i}", "channel": "store",
                                                 "occurred_at": now, "currency": "USD",
                                                 "total_minor": 10_000_000}),
        ):
            conn.request("POST", path, json.dumps(body), headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status not in (200, 201):
                failures.append((path, resp.status))


threads = [threading.Thread(target=worker, args=(range(t, count, 8),)) for t in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if failures:
    print(f"seed: {len(failures)} failures, first: {failures[0]}", file=sys.stderr)
    sys.exit(1)
