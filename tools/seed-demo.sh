#!/usr/bin/env bash
# seed-demo.sh REWARDS_URL OFFERS_URL — demo data for `make run`: three members on three
# channels with purchases, a redemption and an agent's goodwill credit, and three published
# campaigns. Idempotent (safe to run again).
set -euo pipefail
R=${1:-http://127.0.0.1:8081}
O=${2:-http://127.0.0.1:8082}
# 2xx is fine, and so are 409 (already there) and 422 (the same order earned on an earlier
# run with another timestamp): the data is already in Redis.
post() {  # post PATH TOKEN BODY [IDEMPOTENCY_KEY]
  local extra=() url="$R$1" code
  [ -n "${4:-}" ] && extra=(-H "Idempotency-Key: $4")
  case "$1" in /v1/campaigns*) url="$O$1" ;; esac
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url" -H "Authorization: Bearer $2" \
    -H 'Content-Type: application/json' "${extra[@]}" -d "$3")
  case "$code" in 2??|409|422) ;; *) echo "seed: POST $1 answered $code" >&2 ;; esac
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
year=$(date -u +%Y)
campaign() {  # campaign ID JSON-FRAGMENT
  post /v1/campaigns dev-ops "{\"campaign_id\":\"$1\",\"starts_at\":\"$year-01-01T00:00:00Z\",\"ends_at\":\"$((year + 1))-12-31T00:00:00Z\",\"channels\":[\"web\",\"app\",\"store\"],$2}"
  post "/v1/campaigns/$1/publish" dev-ops ''
}
campaign demo-welcome '"name":"Welcome bonus","reward":{"type":"bonus_points","points":200},"conditions":{"requires_activation":true},"limits":{"per_member":1},"priority":2,"content":{"en":{"title":"200 welcome points","description":"Clip this offer and get 200 bonus points with your next order."},"ja":{"title":"ようこそ 200 ポイント","description":"クーポンを獲得すると、次回のお買い物で 200 ポイントを進呈します。"}}'
campaign demo-silver-plus '"name":"Silver and gold double points","audience":{"in":[{"var":"tier"},["silver","gold"]]},"reward":{"type":"points_multiplier","factor":2},"priority":1,"content":{"en":{"title":"Double points for silver and gold","description":"Earn twice the points this month."}}'
campaign demo-electronics '"name":"Electronics fans","audience":{">=":[{"var":"category.electronics"},1]},"reward":{"type":"percent_off","percent":10,"max_minor":5000},"content":{"en":{"title":"10% off electronics","description":"Up to $50 off your next gadget."}}'
echo "demo data: members m-1001 (web), m-1002 (store, ja), m-1003 (app, th); campaigns demo-welcome, demo-silver-plus, demo-electronics"
