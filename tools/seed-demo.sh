#!/usr/bin/env bash
# seed-demo.sh REWARDS_URL — demo data for `make run`: three members on three channels with
# purchases, a redemption and an agent's goodwill credit. Idempotent (safe to run again).
set -euo pipefail
R=${1:-http://127.0.0.1:8081}
post() {  # post PATH TOKEN BODY [IDEMPOTENCY_KEY]
  local extra=()
  [ -n "${4:-}" ] && extra=(-H "Idempotency-Key: $4")
  curl -sf -o /dev/null -X POST "$R$1" -H "Authorization: Bearer $2" -H 'Content-Type: application/json' "${extra[@]}" -d "$3" \
    || echo "seed: POST $1 failed" >&2
}
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
post /v1/members dev-storefront '{"member_id":"m-1001","channel":"web","locale":"en","time_zone":"America/New_York","profile":{"name":"Alex"}}'
post /v1/members dev-pos '{"member_id":"m-1002","channel":"store","locale":"ja","time_zone":"Asia/Tokyo","profile":{"name":"Yuki"}}'
post /v1/members dev-storefront '{"member_id":"m-1003","channel":"app","locale":"th","time_zone":"Asia/Bangkok","profile":{"name":"Somchai"}}'
post /v1/members/m-1001/earnings dev-pos "{\"order_id\":\"demo-o-1\",\"channel\":\"store\",\"store_id\":\"store-12\",\"occurred_at\":\"$now\",\"currency\":\"USD\",\"total_minor\":18999,\"items\":[{\"sku\":\"headphones\",\"category\":\"electronics\",\"amount_minor\":14999,\"quantity\":1},{\"sku\":\"coffee\",\"category\":\"grocery\",\"amount_minor\":2000,\"quantity\":2}]}"
post /v1/members/m-1002/earnings dev-pos "{\"order_id\":\"demo-o-2\",\"channel\":\"web\",\"occurred_at\":\"$now\",\"currency\":\"JPY\",\"total_minor\":52000}"
post /v1/members/m-1003/earnings dev-pos "{\"order_id\":\"demo-o-3\",\"channel\":\"app\",\"occurred_at\":\"$now\",\"currency\":\"THB\",\"total_minor\":25000,\"items\":[{\"sku\":\"serum\",\"category\":\"beauty\",\"amount_minor\":12500,\"quantity\":2}]}"
post /v1/members/m-1001/adjustments dev-agent '{"points":500,"reason_code":"goodwill","note":"Welcome bonus from the demo","agent_id":"agent-1"}' demo-adj-1
post /v1/members/m-1001/redemptions dev-pos '{"points":200,"channel":"store","reward_id":"free-coffee"}' demo-red-1
echo "demo data: members m-1001 (web), m-1002 (store, ja), m-1003 (app, th)"
