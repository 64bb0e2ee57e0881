#!/usr/bin/env bash
# bench/run.sh [BUILD_DIR] — `make bench`. Each scenario is measured against a ceiling measured
# in the same run on the same machine, and reported as a ratio (the machine is shared and
# noisy, ratios are what compare across runs).
#
# Scenarios:
#   http-plumbing  GET /healthz through the shared HTTP server vs nginx serving the same bytes
#   redemption     POST /v1/members/{id}/redemptions, 1 point, unique Idempotency-Key, spread
#                  over 10 000 members (wrk Lua: bench/redeem.lua) vs nginx serving a static body
#                  of the same size; plus redis-benchmark running the same load script.
#   offers         GET /v1/members/{id}/offers with 200 active campaigns and 10 000 members with
#                  features (bench/offers.lua) vs nginx serving a listing of the same size.
#   earn, hold->capture, activation: the other write paths, against the same nginx ceiling as
#                  the redemption (answers of a few hundred bytes).
#   event->inbox   points.earned produced to tessera.ledger.v1 at ${BENCH_NOTIFY_RATE:-2000}/s for
#                  ${BENCH_NOTIFY_SECONDS:-30} s until they are in members' inboxes
#                  (tessera-bench-notify) vs the development broker's produce->consume latency.
# wrk -t1 -c${BENCH_CONNECTIONS:-64} -d${BENCH_SECONDS:-8}s, keep-alive.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${1:-build}
SECONDS_PER=${BENCH_SECONDS:-8}
CONNS=${BENCH_CONNECTIONS:-64}
MEMBERS=${BENCH_MEMBERS:-10000}
THREADS=${BENCH_SERVER_THREADS:-8}
WORK=$(mktemp -d /tmp/tessera-bench-XXXXXX)
chmod 755 "$WORK"  # nginx workers run unprivileged and must read the static files
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 300); do curl -sf "$1" >/dev/null && return 0; sleep 0.05; done; return 1; }
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/,"",v); print v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v } else { sub(/s$/,"",v); print v*1000 } }'; }

# wrk_run URL [LUA] -> "rps p50_ms p99_ms p999_ms non2xx"
wrk_run() {
  local out
  if [ -n "${2:-}" ]; then
    out=$(MEMBERS=$MEMBERS wrk -t1 -c"$CONNS" -d"${SECONDS_PER}s" --latency -s "$2" "$1")
  else
    out=$(wrk -t1 -c"$CONNS" -d"${SECONDS_PER}s" --latency "$1")
  fi
  local rps p50 p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk -F= '/^non2xx=/ {print $2}' <<<"$out")
  echo "$rps $(to_ms "$p50") $(to_ms "$p99") ${non2xx:-0}"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a/b }'; }
# cpu_ticks PID...: user+system CPU of the processes so far, in clock ticks.
cpu_ticks() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $t; }
# per_request_us TICKS_BEFORE TICKS_AFTER RPS: CPU microseconds per request over the run.
per_request_us() { awk -v a="$1" -v b="$2" -v r="$3" -v s="$SECONDS_PER" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", (b - a) * 1e6 / hz / (r * s) }'; }

echo "[bench] starting redis-server and tessera-devbroker"
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
  --dir "$WORK" --logfile "$WORK/redis.log" &
PIDS+=($!)
REDIS_PID=$!
"$BUILD/tools/devbroker/tessera-devbroker" --bootstrap-file "$WORK/bootstrap" >"$WORK/broker.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$WORK/bootstrap" ] && break; sleep 0.1; done
for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

python3 - "$ROOT/config/program.json" "$WORK/program.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["pending_days"] = 0  # benchmark members spend what they earned at once
json.dump(p, open(sys.argv[2], "w"))
PY
SVC_PORT=$(free_port)
TESSERA_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" TESSERA_KAFKA_BROKERS=$(cat "$WORK/bootstrap") \
TESSERA_HTTP_PORT=$SVC_PORT TESSERA_HTTP_THREADS=$THREADS TESSERA_LOG_LEVEL=warn \
TESSERA_API_KEYS_FILE="$ROOT/config/dev/api-keys.json" TESSERA_JWT_SECRET=dev-jwt-secret \
TESSERA_PROGRAM_FILE="$WORK/program.json" \
  "$BUILD/services/rewards/tessera-rewards" >"$WORK/rewards.log" 2>&1 &
PIDS+=($!)
REWARDS_PID=$!
wait_http "http://127.0.0.1:$SVC_PORT/healthz"

OFFERS_PORT=$(free_port)
TESSERA_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" TESSERA_KAFKA_BROKERS=$(cat "$WORK/bootstrap") \
TESSERA_HTTP_PORT=$OFFERS_PORT TESSERA_HTTP_THREADS=$THREADS TESSERA_LOG_LEVEL=warn \
TESSERA_API_KEYS_FILE="$ROOT/config/dev/api-keys.json" TESSERA_JWT_SECRET=dev-jwt-secret \
TESSERA_QUOTE_SECRET=bench-quote-secret \
  "$BUILD/services/offers/tessera-offers" >"$WORK/offers.log" 2>&1 &
PIDS+=($!)
OFFERS_PID=$!
wait_http "http://127.0.0.1:$OFFERS_PORT/healthz"

echo "[bench] seeding $MEMBERS members with 1 000 000 points each, and 200 campaigns"
python3 bench/seed_rewards.py "http://127.0.0.1:$SVC_PORT" "$MEMBERS"
python3 bench/seed_offers.py "http://127.0.0.1:$OFFERS_PORT" 200
echo "[bench] waiting for member features to be built from tessera.ledger.v1"
LAST="m-$((MEMBERS - 1))"
for _ in $(seq 1 600); do
  curl -s -H 'Authorization: Bearer dev-ops' "http://127.0.0.1:$OFFERS_PORT/v1/members/$LAST/features" | grep -q '"known":true' && break
  sleep 0.1
done

NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx/www"
curl -s "http://127.0.0.1:$SVC_PORT/healthz" >"$WORK/nginx/www/healthz.json"
curl -s -H 'Authorization: Bearer dev-storefront' "http://127.0.0.1:$OFFERS_PORT/v1/members/m-1/offers?channel=web" \
  >"$WORK/nginx/www/offers.json"
curl -s -X POST "http://127.0.0.1:$SVC_PORT/v1/members/m-0/redemptions" -H 'Authorization: Bearer dev-pos' \
  -H 'Idempotency-Key: bench-sample' -H 'Content-Type: application/json' -d '{"points":1,"channel":"store"}' \
  >"$WORK/nginx/www/redemption.json"
cat >"$WORK/nginx/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { root $WORK/nginx/www; default_type application/json; }
  }
}
NGX
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
PIDS+=($!)
wait_http "http://127.0.0.1:$NGINX_PORT/healthz.json"

HEALTH_BYTES=$(wc -c <"$WORK/nginx/www/healthz.json")
REDEEM_BYTES=$(wc -c <"$WORK/nginx/www/redemption.json")
OFFERS_BYTES=$(wc -c <"$WORK/nginx/www/offers.json")
echo "[bench] 1/8 ceiling: nginx static JSON, $HEALTH_BYTES bytes"
read -r NH_RPS NH_P50 NH_P99 _ <<<"$(wrk_run "http://127.0.0.1:$NGINX_PORT/healthz.json")"
echo "[bench] 2/8 http-plumbing: GET /healthz"
read -r H_RPS H_P50 H_P99 _ <<<"$(wrk_run "http://127.0.0.1:$SVC_PORT/healthz")"
echo "[bench] 3/8 ceiling: nginx static JSON, $REDEEM_BYTES bytes (a redemption answer)"
read -r NR_RPS NR_P50 NR_P99 _ <<<"$(wrk_run "http://127.0.0.1:$NGINX_PORT/redemption.json")"
echo "[bench] 4/8 redemption: POST /v1/members/{id}/redemptions over $MEMBERS members"
T0=$(cpu_ticks "$REWARDS_PID"); T0R=$(cpu_ticks "$REDIS_PID")
read -r R_RPS R_P50 R_P99 R_NON2XX <<<"$(wrk_run "http://127.0.0.1:$SVC_PORT" bench/redeem.lua)"
R_CPU=$(per_request_us "$T0" "$(cpu_ticks "$REWARDS_PID")" "$R_RPS"); R_CPU_REDIS=$(per_request_us "$T0R" "$(cpu_ticks "$REDIS_PID")" "$R_RPS")
echo "[bench] 5/8 ceiling: nginx static JSON, $OFFERS_BYTES bytes (an offers listing)"
read -r NO_RPS NO_P50 NO_P99 _ <<<"$(wrk_run "http://127.0.0.1:$NGINX_PORT/offers.json")"
echo "[bench] 6/8 offers: GET /v1/members/{id}/offers, 200 campaigns, $MEMBERS members"
T0=$(cpu_ticks "$OFFERS_PID"); T0R=$(cpu_ticks "$REDIS_PID")
read -r O_RPS O_P50 O_P99 O_NON2XX <<<"$(wrk_run "http://127.0.0.1:$OFFERS_PORT" bench/offers.lua)"
O_CPU=$(per_request_us "$T0" "$(cpu_ticks "$OFFERS_PID")" "$O_RPS"); O_CPU_REDIS=$(per_request_us "$T0R" "$(cpu_ticks "$REDIS_PID")" "$O_RPS")
echo "[bench] more write paths: earn, hold->capture, activation"
export NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
T0=$(cpu_ticks "$REWARDS_PID")
read -r E_RPS E_P50 E_P99 E_NON2XX <<<"$(wrk_run "http://127.0.0.1:$SVC_PORT" bench/earn.lua)"
E_CPU=$(per_request_us "$T0" "$(cpu_ticks "$REWARDS_PID")" "$E_RPS")
T0=$(cpu_ticks "$REWARDS_PID")
read -r H_RPS2 H_P502 H_P992 H_NON2XX <<<"$(wrk_run "http://127.0.0.1:$SVC_PORT" bench/hold_capture.lua)"
H_CPU=$(per_request_us "$T0" "$(cpu_ticks "$REWARDS_PID")" "$H_RPS2")
T0=$(cpu_ticks "$OFFERS_PID")
read -r A_RPS A_P50 A_P99 A_NON2XX <<<"$(wrk_run "http://127.0.0.1:$OFFERS_PORT" bench/activate.lua)"
A_CPU=$(per_request_us "$T0" "$(cpu_ticks "$OFFERS_PID")" "$A_RPS")
echo "[bench] memory: one member with 20 ledger entries, 3 lots, 5 activated offers"
MEMORY_JSON=$(python3 bench/member_memory.py "http://127.0.0.1:$SVC_PORT" "http://127.0.0.1:$OFFERS_PORT" "$REDIS_PORT")
mj() { python3 -c "import json,sys; v=json.loads(sys.argv[1]); print(eval(sys.argv[2], {}, {'v': v}))" "$MEMORY_JSON" "$1"; }

echo "[bench] 7/8 ceiling: redis-benchmark EVALSHA load.lua (the first of a redemption's two scripts)"
LOAD_SHA=$( (cat shared/lua/tessera_lib.lua; printf '\n'; cat services/rewards/lua/load.lua) | redis-cli -p "$REDIS_PORT" -x SCRIPT LOAD)
TAG=$(python3 -c 'import sys
h=2166136261
for c in b"m-0": h=((h^c)*16777619)&0xffffffff
print("{b%02d}" % (h%64))')
RB=$(redis-benchmark -p "$REDIS_PORT" -c 50 -n 200000 -q EVALSHA "$LOAD_SHA" 5 \
  "tessera:$TAG:m:m-0:state" "tessera:$TAG:m:m-0:state" "tessera:$TAG:m:m-0:orders" \
  "tessera:$TAG:m:m-0:redemptions" "tessera:$TAG:m:m-0:holds" 0 "" 30000 "" "" "" | tr '\r' '\n' | grep -o '[0-9.]* requests per second' | tail -1 | awk '{print $1}')

# Event -> inbox on a stack of its own (fresh Redis and broker), so the ledger events of the
# scenarios above are not in its way.
echo "[bench] 8/8 event->inbox: ${BENCH_NOTIFY_RATE:-2000} events/s for ${BENCH_NOTIFY_SECONDS:-30} s (broker ceiling first)"
N_REDIS_PORT=$(free_port)
mkdir -p "$WORK/notify"
redis-server --port "$N_REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
  --dir "$WORK/notify" --logfile "$WORK/notify/redis.log" &
PIDS+=($!)
"$BUILD/tools/devbroker/tessera-devbroker" --bootstrap-file "$WORK/notify/bootstrap" >"$WORK/notify/broker.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$WORK/notify/bootstrap" ] && break; sleep 0.1; done
for _ in $(seq 1 100); do redis-cli -p "$N_REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
NOTIFY_PORT=$(free_port)
TESSERA_REDIS_URL="redis://127.0.0.1:$N_REDIS_PORT/0" TESSERA_KAFKA_BROKERS=$(cat "$WORK/notify/bootstrap") \
TESSERA_HTTP_PORT=$NOTIFY_PORT TESSERA_LOG_LEVEL=warn \
TESSERA_API_KEYS_FILE="$ROOT/config/dev/api-keys.json" TESSERA_JWT_SECRET=dev-jwt-secret \
  "$BUILD/services/notifications/tessera-notifications" >"$WORK/notify/notifications.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$NOTIFY_PORT/healthz"
NOTIFY_JSON=$("$BUILD/bench/tessera-bench-notify" --brokers "$(cat "$WORK/notify/bootstrap")" \
  --redis-url "redis://127.0.0.1:$N_REDIS_PORT/0" --rate "${BENCH_NOTIFY_RATE:-2000}" \
  --seconds "${BENCH_NOTIFY_SECONDS:-30}" --members 1000)
nj() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$NOTIFY_JSON" "$1"; }

mkdir -p bench/results
RESULT="bench/results/$(date -u +%Y-%m-%d).md"
{
  echo "# make bench — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release; echo "$PRETTY_NAME")."
  echo "wrk -t1 -c$CONNS -d${SECONDS_PER}s, keep-alive; load generator on the same machine; tessera-rewards with $THREADS HTTP threads."
  echo
  echo "| scenario | req/s | p50 ms | p99 ms | ceiling | ratio |"
  echo "|---|---:|---:|---:|---|---:|"
  echo "| nginx static JSON ($HEALTH_BYTES B) | $NH_RPS | $NH_P50 | $NH_P99 | — | 1.00 |"
  echo "| http-plumbing: GET /healthz | $H_RPS | $H_P50 | $H_P99 | nginx $HEALTH_BYTES B | $(ratio "$H_RPS" "$NH_RPS") |"
  echo "| nginx static JSON ($REDEEM_BYTES B) | $NR_RPS | $NR_P50 | $NR_P99 | — | 1.00 |"
  echo "| redemption (non-2xx: $R_NON2XX; CPU/request: service ${R_CPU} µs, redis ${R_CPU_REDIS} µs) | $R_RPS | $R_P50 | $R_P99 | nginx $REDEEM_BYTES B | $(ratio "$R_RPS" "$NR_RPS") |"
  echo "| earn (non-2xx: $E_NON2XX; service CPU/request ${E_CPU} µs) | $E_RPS | $E_P50 | $E_P99 | nginx $REDEEM_BYTES B | $(ratio "$E_RPS" "$NR_RPS") |"
  echo "| hold->capture, requests (non-2xx: $H_NON2XX; service CPU/request ${H_CPU} µs) | $H_RPS2 | $H_P502 | $H_P992 | nginx $REDEEM_BYTES B | $(ratio "$H_RPS2" "$NR_RPS") |"
  echo "| offer activation (non-2xx: $A_NON2XX; service CPU/request ${A_CPU} µs) | $A_RPS | $A_P50 | $A_P99 | nginx $REDEEM_BYTES B | $(ratio "$A_RPS" "$NR_RPS") |"
  echo "| nginx static JSON ($OFFERS_BYTES B) | $NO_RPS | $NO_P50 | $NO_P99 | — | 1.00 |"
  echo "| offers listing (non-2xx: $O_NON2XX; CPU/request: service ${O_CPU} µs, redis ${O_CPU_REDIS} µs) | $O_RPS | $O_P50 | $O_P99 | nginx $OFFERS_BYTES B | $(ratio "$O_RPS" "$NO_RPS") |"
  echo "| redis-benchmark EVALSHA load.lua (-c 50) | $RB | | | — | |"
  echo "| redemption vs the Redis script ceiling | | | | redis-benchmark | $(ratio "$R_RPS" "$RB") |"
  echo
  echo "Redis memory of one member (MEMORY USAGE over its $(mj "v['keys']") keys): $(mj "v['bytes']") bytes with $(mj "v['ledger_entries']") ledger entries, 3 lots and $(mj "v['activated_offers']") activated offers (target ≤ 4096); $(mj "v['bytes_at_ledger']['100']") bytes at 100 entries, $(mj "v['bytes_at_ledger']['1000']") at 1 000 (the online ledger keeps the newest ledger.online_entries = 1000; older entries live on tessera.ledger.v1)."
  echo
  echo "Event -> inbox (tessera-notifications), $(nj rate) events/s for $(nj seconds) s over 1 000 members:"
  echo
  echo "| scenario | delivered / produced | lost | throughput/s | p50 ms | p99 ms | max ms |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  echo "| ceiling: devbroker produce -> consume | | | | $(nj broker_p50_ms) | $(nj broker_p99_ms) | |"
  echo "| event -> inbox | $(nj delivered) / $(nj produced) | $(nj lost) | $(printf '%.0f' "$(nj throughput_per_s)") | $(nj p50_ms) | $(nj p99_ms) | $(nj max_ms) |"
} >"$RESULT"
echo
cat "$RESULT"
echo
echo "[bench] written to $RESULT"
