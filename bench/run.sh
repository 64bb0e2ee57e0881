#!/usr/bin/env bash
# bench/run.sh [BUILD_DIR] — `make bench`. Each scenario is measured against a ceiling measured
# in the same run on the same machine, and reported as a ratio (the machine is shared and
# noisy, ratios are what compare across runs).
#
# Scenarios:
#   http-plumbing  GET /healthz through the shared HTTP server vs nginx serving the same bytes
#   floor          GET /readyz: the shared HTTP server plus one Redis round trip (PING) and no
#                  domain work — the most any path that reads Redis once per request can reach
#   redemption     POST /v1/members/{id}/redemptions, 1 point, unique Idempotency-Key, spread
#                  over 10 000 members (wrk Lua: bench/redeem.lua) vs nginx serving a static body
#                  of the same size; plus redis-benchmark running the same load script, and the
#                  redemption's commit script with a real redemption's arguments (commit_ceiling.py);
#                  and the redemption's CPU budget: service + Redis + wrk CPU per request, and the
#                  costs of a redemption with no domain work (/readyz or /healthz + the scripts'
#                  own time inside Redis).
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
# tessera-rewards' write paths no longer park an HTTP thread on Redis (RewardsApp::RedeemAsync):
# as many threads as cores served the redemption best here (bench/README.md, session 9).
REWARDS_THREADS=${BENCH_REWARDS_THREADS:-1}
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

# wrk_run URL LUA [SECONDS] -> "rps p50_ms p99_ms p999_ms non2xx" (bench/report.lua prints the
# percentiles; wrk's own --latency table stops at p99). It also writes wrk's own CPU per request
# (user + system, µs) to $WORK/wrk_cpu_us: the load generator's share of the 2 cores, and the
# requests answered to $WORK/wrk_requests. With UNTIL_FILE set, a script that ends by itself
# (bench/offers_first.lua) creates that file when it is done, and wrk is stopped then (SIGINT: it
# reports over the time it ran) instead of after SECONDS.
wrk_run() {
  local out
  out=$(
    [ -z "${UNTIL_FILE:-}" ] || rm -f "$UNTIL_FILE"
    MEMBERS=$MEMBERS wrk -t1 -c"$CONNS" -d"${3:-$SECONDS_PER}s" -s "$2" "$1" & w=$!
    if [ -n "${UNTIL_FILE:-}" ]; then
      until [ -e "$UNTIL_FILE" ] || ! kill -0 "$w" 2>/dev/null; do sleep 0.01; done
      kill -INT "$w" 2>/dev/null || true
    fi
    wait "$w" || true
    times)
  local rps n
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  n=$(awk '/requests in/ {print $1}' <<<"$out"); echo "$n" >"$WORK/wrk_requests"
  # the last line of `times`: the CPU of this subshell's children (wrk), as "XmY.YYYs XmY.YYYs"
  tail -1 <<<"$out" | awk -v n="$n" '{
    t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub(/s$/, "", a[2]); t += a[1] * 60 + a[2] }
    printf "%.0f\n", (n > 0 ? t * 1e6 / n : 0) }' >"$WORK/wrk_cpu_us"
  us_to_ms() { awk -v v="$(awk -F= -v k="$1" '$1==k {print $2}' <<<"$out")" 'BEGIN { printf "%.2f", v / 1000 }'; }
  echo "$rps $(us_to_ms p50_us) $(us_to_ms p99_us) $(us_to_ms p999_us) $(awk -F= '/^non2xx=/ {print $2}' <<<"$out")"
}

# wait_idle PID...: until the processes are (nearly) idle — background work left over from the
# previous step (consumers catching up, relays draining) would otherwise be charged to the next.
wait_idle() {
  local hz; hz=$(getconf CLK_TCK)
  for _ in $(seq 1 120); do
    local a b; a=$(cpu_ticks "$@"); sleep 0.5; b=$(cpu_ticks "$@")
    [ $((b - a)) -le $((hz / 20)) ] && return 0  # under 10 % of one core over the half second
  done
}

# ratio A B [DECIMALS]: A/B to three decimals (or DECIMALS). Two would round 0.295 up to a "0.30"
# that meets its target.
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-3}" 'BEGIN { printf "%." d "f", a/b }'; }
# cpu_ticks PID...: user+system CPU of the processes so far, in clock ticks.
cpu_ticks() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $t; }
# per_request_us TICKS_BEFORE TICKS_AFTER: CPU microseconds per request over the last wrk_run
# (the requests it made, $WORK/wrk_requests).
per_request_us() { awk -v a="$1" -v b="$2" -v n="$(cat "$WORK/wrk_requests")" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", (b - a) * 1e6 / hz / n }'; }
grown() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", b - a }'; }  # grown FROM TO: a counter's increase

echo "[bench] starting redis-server and tessera-devbroker"
REDIS_PORT=$(free_port)
redis-server "$ROOT/config/redis.conf" --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
  --dir "$WORK" --logfile "$WORK/redis.log" &
PIDS+=($!)
REDIS_PID=$!
"$BUILD/tools/devbroker/tessera-devbroker" --bootstrap-file "$WORK/bootstrap" >"$WORK/broker.log" 2>&1 &
PIDS+=($!)
BROKER_PID=$!
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
TESSERA_HTTP_PORT=$SVC_PORT TESSERA_HTTP_THREADS=$REWARDS_THREADS TESSERA_LOG_LEVEL=warn \
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

# scenario URL SCRIPT SERVICE_PID OTHER_PID -> "rps p50 p99 p999 non2xx service_us redis_us"
# The service not under test is paused (SIGSTOP) for the warm-up and the run, so the measured
# service shares the 2 cores only with its own Redis, broker and the load generator — as it
# would on a node of its own. A 2 s warm-up run first (caches, connections, page faults).
scenario() {
  local url=$1 script=$2 svc=$3 other=$4
  kill -STOP "$other"
  wrk_run "$url" "$script" 2 >/dev/null
  wait_idle "$svc" "$REDIS_PID"
  "${BEFORE_RUN:-true}"  # a hook: e.g. read a counter the run's figures are taken against
  local t0 r0 res
  t0=$(cpu_ticks "$svc"); r0=$(cpu_ticks "$REDIS_PID")
  res=$(wrk_run "$url" "$script")
  local t1 r1
  t1=$(cpu_ticks "$svc"); r1=$(cpu_ticks "$REDIS_PID")
  kill -CONT "$other"
  echo "$res $(per_request_us "$t0" "$t1") $(per_request_us "$r0" "$r1")"
}
# ceiling URL -> "rps p50 p99 p999 non2xx". The same 2 s warm-up and wait for quiet as a
# scenario: a cold first ceiling run measured 52 000-54 000 req/s against 90 000-95 000 for
# the next ceiling of the same run.
ceiling() {
  kill -STOP "$REWARDS_PID" "$OFFERS_PID"
  wrk_run "$1" bench/static.lua 2 >/dev/null
  wait_idle "$REDIS_PID" "$BROKER_PID"
  local res; res=$(wrk_run "$1" bench/static.lua)
  kill -CONT "$REWARDS_PID" "$OFFERS_PID"
  echo "$res"
}

TOTAL=11
step() { echo "[bench] $1/$TOTAL $2"; }
step 1 "ceiling: nginx static JSON, $HEALTH_BYTES bytes"
read -r NH_RPS NH_P50 NH_P99 NH_P999 _ <<<"$(ceiling "http://127.0.0.1:$NGINX_PORT/healthz.json")"
step 2 "http-plumbing: GET /healthz"
read -r H_RPS H_P50 H_P99 H_P999 _ H_CPU _ <<<"$(scenario "http://127.0.0.1:$SVC_PORT/healthz" bench/static.lua "$REWARDS_PID" "$OFFERS_PID")"
step 3 "floor: GET /readyz on tessera-offers (the HTTP server plus one Redis round trip, no domain work)"
read -r F_RPS F_P50 F_P99 F_P999 _ F_CPU F_CPU_REDIS <<<"$(scenario "http://127.0.0.1:$OFFERS_PORT/readyz" bench/static.lua "$OFFERS_PID" "$REWARDS_PID")"
# The redemption, the target furthest from reach, is measured in PAIRS back-to-back pairs of its
# ceiling and itself (BENCH_REDEEM_PAIRS, default 3): this machine's speed shifts between runs
# (bench/README.md, session 9), and the pair with the median ratio is reported, with every
# pair's ratio beside it, so one lucky or unlucky run neither makes nor hides the figure.
reset_redis_stats() { redis-cli -p "$REDIS_PORT" CONFIG RESETSTAT >/dev/null; }
PAIRS=${BENCH_REDEEM_PAIRS:-3}
: >"$WORK/redeem_pairs"
# pipeline_batches -> "batches commands": tessera-rewards' tessera_redis_pipeline_batch_commands
# histogram (docs/operations.md), to tell how deep the commits' batches were under this load.
pipeline_batches() {
  curl -s "http://127.0.0.1:$SVC_PORT/metrics" | awk '$1 == "tessera_redis_pipeline_batch_commands_count" {c = $2}
    $1 == "tessera_redis_pipeline_batch_commands_sum" {s = $2} END {printf "%.0f %.0f\n", c, s}'
}
read -r PB_BATCHES0 PB_COMMANDS0 <<<"$(pipeline_batches)"
for pair in $(seq 1 "$PAIRS"); do
  step 4 "ceiling: nginx static JSON, $REDEEM_BYTES bytes (a redemption answer), pair $pair/$PAIRS"
  read -r nr_rps nr_p50 nr_p99 nr_p999 _ <<<"$(ceiling "http://127.0.0.1:$NGINX_PORT/redemption.json")"
  nr_wrk=$(cat "$WORK/wrk_cpu_us")
  step 5 "redemption: POST /v1/members/{id}/redemptions over $MEMBERS members, pair $pair/$PAIRS"
  read -r r_rps r_p50 r_p99 r_p999 r_non2xx r_cpu r_cpu_redis <<<"$(BEFORE_RUN=reset_redis_stats scenario "http://127.0.0.1:$SVC_PORT" bench/redeem.lua "$REWARDS_PID" "$OFFERS_PID")"
  r_wrk=$(cat "$WORK/wrk_cpu_us")
  # Redis's time inside the redemption's scripts per call over the run (commit.lua, and load.lua
  # for the few members not cached): what Redis spends on the domain's atomic change itself.
  r_script=$(redis-cli -p "$REDIS_PORT" INFO commandstats | tr -d '\r' |
    awk -F'[=,]' '/^cmdstat_evalsha:/ { for (i = 1; i < NF; i++) if ($i == "usec_per_call") print $(i + 1) }')
  # The first field, the exact ratio, is what the median is taken on (a rounded one ties).
  echo "$(ratio "$r_rps" "$nr_rps" 6) $nr_rps $nr_p50 $nr_p99 $nr_p999 $nr_wrk $r_rps $r_p50 $r_p99 $r_p999 $r_non2xx $r_cpu $r_cpu_redis $r_wrk $r_script" >>"$WORK/redeem_pairs"
  echo "[bench]   pair $pair: redemption $r_rps/s against nginx $nr_rps/s = $(ratio "$r_rps" "$nr_rps") ×"
done
read -r _ NR_RPS NR_P50 NR_P99 NR_P999 NR_WRK_CPU R_RPS R_P50 R_P99 R_P999 R_NON2XX R_CPU R_CPU_REDIS R_WRK_CPU R_SCRIPT_US \
  <<<"$(sort -n -k1,1 "$WORK/redeem_pairs" | sed -n "$(((PAIRS + 1) / 2))p")"
R_PAIR_RATIOS=$(awk '{printf "%.3f\n", $1}' "$WORK/redeem_pairs" | paste -sd' ' | sed 's/ /, /g')
read -r PB_BATCHES1 PB_COMMANDS1 <<<"$(pipeline_batches)"
PB_MEAN=$(awk -v b="$((PB_BATCHES1 - PB_BATCHES0))" -v c="$((PB_COMMANDS1 - PB_COMMANDS0))" 'BEGIN { printf "%.1f", (b > 0 ? c / b : 0) }')
step 6 "earn: POST /v1/members/{id}/earnings, a new order each"
export NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
read -r E_RPS E_P50 E_P99 E_P999 E_NON2XX E_CPU E_CPU_REDIS <<<"$(scenario "http://127.0.0.1:$SVC_PORT" bench/earn.lua "$REWARDS_PID" "$OFFERS_PID")"
step 7 "hold->capture: POST holds, then capture each"
read -r HC_RPS HC_P50 HC_P99 HC_P999 HC_NON2XX HC_CPU HC_CPU_REDIS <<<"$(scenario "http://127.0.0.1:$SVC_PORT" bench/hold_capture.lua "$REWARDS_PID" "$OFFERS_PID")"
step 8 "ceiling: nginx static JSON, $OFFERS_BYTES bytes (an offers listing)"
read -r NO_RPS NO_P50 NO_P99 NO_P999 _ <<<"$(ceiling "http://127.0.0.1:$NGINX_PORT/offers.json")"
step 9 "offers: GET /v1/members/{id}/offers, 200 campaigns, $MEMBERS members"
# listing_cache COUNTER: the offers replica's counter from /metrics (docs/offers.md, listing cache)
listing_cache() { curl -s "http://127.0.0.1:$OFFERS_PORT/metrics" | awk -v n="tessera_offers_listing_cache_$1_total" '$1 == n {print $2}'; }
# The offers replica's consumer was paused during the rewards scenarios: let it apply their
# ledger events (each one updates a member's features, and so drops that member's cached list)
# before the listing is measured, or their catch-up is charged to the listing.
# Caught up = it has its partitions again (a pause longer than the session timeout cost it its
# group membership), its lag gauge (every assigned partition) reads 0 and it handled nothing for a
# second. Not CPU idleness: the replica may look idle while it rejoins its group or while the
# development broker is slow to serve its fetches (tools/devbroker/README.md); and not the lag
# alone: it reads 0 without partitions, and just after SIGCONT it holds the value from before.
offers_consumer() {
  curl -s "http://127.0.0.1:$OFFERS_PORT/metrics" | awk -v g='{group="tessera-offers"}' '
    $1 == "tessera_kafka_consumer_lag" g {l=$2} $1 == "tessera_kafka_assigned_partitions" g {p=$2}
    $1 == "tessera_kafka_consumed_total" g {c=$2} END {print l, p, c}'
}
for _ in $(seq 1 120); do
  read -r LAG_A PARTS_A DONE_A <<<"$(offers_consumer)"; sleep 1; read -r LAG_B PARTS_B DONE_B <<<"$(offers_consumer)"
  [ "$LAG_A $LAG_B" = "0 0" ] && [ "${PARTS_A:-0}" -gt 0 ] && [ "${PARTS_B:-0}" -gt 0 ] && [ "$DONE_A" = "$DONE_B" ] && break
done
echo "[bench]   offers consumer before the listing: lag $LAG_B, $PARTS_B partitions, $DONE_B messages handled"
wait_idle "$OFFERS_PID" "$REDIS_PID"
# First answers: every member on each channel once (bench/offers_first.lua), ranked afresh and
# cached, so that the measured run is the cache's steady state whatever this machine's speed:
# left to the 2 s warm-up, a slow phase reached 18 789 of the 30 000 answers and the run made the
# other 11 218 (0.46 x against 0.65 x in the next run of the same build; bench/README.md,
# session 15). Its own figures are reported beside the listing's; the listing cache keeps an
# answer for 60 s at most, and the run starts well within that.
kill -STOP "$REWARDS_PID"
FA_T0=$(cpu_ticks "$OFFERS_PID"); FA_R0=$(cpu_ticks "$REDIS_PID"); FA_MISSES0=$(listing_cache misses)
read -r FA_RPS FA_P50 FA_P99 FA_P999 FA_NON2XX <<<"$(UNTIL_FILE="$WORK/first_answers_done" wrk_run "http://127.0.0.1:$OFFERS_PORT" bench/offers_first.lua 600)"
FA_T1=$(cpu_ticks "$OFFERS_PID"); FA_R1=$(cpu_ticks "$REDIS_PID"); FA_N=$(cat "$WORK/wrk_requests")
kill -CONT "$REWARDS_PID"
FA_MISSES=$(grown "$FA_MISSES0" "$(listing_cache misses)")
FA_CPU=$(per_request_us "$FA_T0" "$FA_T1"); FA_CPU_REDIS=$(per_request_us "$FA_R0" "$FA_R1")
echo "[bench]   first answers: $FA_N at $FA_RPS/s ($FA_MISSES ranked afresh), $FA_CPU µs of service CPU each"
wait_idle "$OFFERS_PID" "$REDIS_PID"
LC_HITS0=$(listing_cache hits); LC_MISSES0=$(listing_cache misses)
mark_listing() { echo "$(listing_cache hits) $(listing_cache misses)" >"$WORK/listing_cache_at_run"; }
read -r O_RPS O_P50 O_P99 O_P999 O_NON2XX O_CPU O_CPU_REDIS <<<"$(BEFORE_RUN=mark_listing scenario "http://127.0.0.1:$OFFERS_PORT" bench/offers.lua "$OFFERS_PID" "$REWARDS_PID")"
read -r LC_HITS1 LC_MISSES1 <"$WORK/listing_cache_at_run"
LC_HITS_WARM=$(grown "$LC_HITS0" "$LC_HITS1"); LC_MISSES_WARM=$(grown "$LC_MISSES0" "$LC_MISSES1")
LC_HITS=$(grown "$LC_HITS1" "$(listing_cache hits)"); LC_MISSES=$(grown "$LC_MISSES1" "$(listing_cache misses)")
step 10 "activation: POST /v1/members/{id}/offers/{offer}/activate"
read -r A_RPS A_P50 A_P99 A_P999 A_NON2XX A_CPU A_CPU_REDIS <<<"$(scenario "http://127.0.0.1:$OFFERS_PORT" bench/activate.lua "$OFFERS_PID" "$REWARDS_PID")"

echo "[bench] ceiling: redis-benchmark EVALSHA load.lua (the script a redemption runs when the member is not cached)"
LOAD_SHA=$( (cat shared/lua/tessera_lib.lua; printf '\n'; cat services/rewards/lua/load.lua) | redis-cli -p "$REDIS_PORT" -x SCRIPT LOAD)
TAG=$(python3 -c 'import sys
h=2166136261
for c in b"m-0": h=((h^c)*16777619)&0xffffffff
print("{b%02d}" % (h%64))')
RB=$(redis-benchmark -p "$REDIS_PORT" -c 50 -n 200000 -q EVALSHA "$LOAD_SHA" 5 \
  "tessera:$TAG:m:m-0:state" "tessera:$TAG:m:m-0:state" "tessera:$TAG:m:m-0:orders" \
  "tessera:$TAG:m:m-0:redemptions" "tessera:$TAG:m:m-0:holds" 0 "" 30000 "" "" "" | tr '\r' '\n' | grep -o '[0-9.]* requests per second' | tail -1 | awk '{print $1}')

echo "[bench] ceiling: redis-benchmark EVALSHA commit.lua (a redemption's commit as the service sent it, a fresh member per call)"
COMMIT_JSON=$(python3 bench/commit_ceiling.py "http://127.0.0.1:$SVC_PORT" "$REDIS_PORT")
RBC=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["rps"])' "$COMMIT_JSON")
# The same, 16 commands per round trip on each connection: Redis's cost for the script itself
# when the client batches, as the service's pipeline does.
COMMIT_P_JSON=$(python3 bench/commit_ceiling.py "http://127.0.0.1:$SVC_PORT" "$REDIS_PORT" 200000 --pipeline 16)
RBCP=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["rps"])' "$COMMIT_P_JSON")

echo "[bench] memory: one member with 20 ledger entries, 3 lots, 5 activated offers"
MEMORY_JSON=$(python3 bench/member_memory.py "http://127.0.0.1:$SVC_PORT" "http://127.0.0.1:$OFFERS_PORT" "$REDIS_PORT")
mj() { python3 -c "import json,sys; v=json.loads(sys.argv[1]); print(eval(sys.argv[2], {}, {'v': v}))" "$MEMORY_JSON" "$1"; }

# Profiles (perf, when it can record here): a separate run of the two hot paths furthest from
# their targets, after the measured runs so sampling does not disturb them.
PROFILE_NOTE="perf not available (install linux-perf) or not permitted: no profile taken"
if [ "${BENCH_PROFILE:-1}" != 0 ] && command -v perf >/dev/null && perf record -q -o /dev/null -- true >/dev/null 2>&1; then
  echo "[bench] profiles: perf record during 5 s of redemptions and of offers listings"
  profile() {  # profile NAME URL SCRIPT PID OTHER
    kill -STOP "$5"
    (MEMBERS=$MEMBERS wrk -t1 -c"$CONNS" -d7s -s "$3" "$2" >/dev/null &)
    sleep 1
    # DWARF call graphs (frame pointers do not get through libstdc++ and Pistache), at 300 Hz
    # to keep the recording small; they let perf_roles.py attribute every sample.
    perf record -q -F 300 --call-graph dwarf,16384 -p "$4" -o "$WORK/$1.perf" -- sleep 5 >/dev/null 2>&1 || true
    sleep 1.5
    kill -CONT "$5"
    perf report -i "$WORK/$1.perf" --no-children --sort symbol -g none --percent-limit 1.5 2>/dev/null \
      | grep -v '^#' | grep '%' | head -20 | cut -c1-140 >"$WORK/$1.top" || true
    perf script -i "$WORK/$1.perf" -F comm,tid,ip,sym 2>/dev/null | python3 bench/perf_roles.py >"$WORK/$1.roles" || true
  }
  profile redemption "http://127.0.0.1:$SVC_PORT" bench/redeem.lua "$REWARDS_PID" "$OFFERS_PID"
  profile offers "http://127.0.0.1:$OFFERS_PORT" bench/offers.lua "$OFFERS_PID" "$REWARDS_PID"
  PROFILE_NOTE=""
fi

# Event -> inbox on a stack of its own (fresh Redis and broker), so the ledger events of the
# scenarios above are not in its way.
step 11 "event->inbox: ${BENCH_NOTIFY_RATE:-2000} events/s for ${BENCH_NOTIFY_SECONDS:-30} s (broker ceiling first)"
kill -STOP "$REWARDS_PID" "$OFFERS_PID"
N_REDIS_PORT=$(free_port)
mkdir -p "$WORK/notify"
redis-server "$ROOT/config/redis.conf" --port "$N_REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
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
kill -CONT "$REWARDS_PID" "$OFFERS_PID"
nj() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$NOTIFY_JSON" "$1"; }

mkdir -p bench/results
DAY=$(date -u +%Y-%m-%d)
RESULT="bench/results/$DAY.md"
CHART="bench/results/$DAY.png"
# name<TAB>ratio<TAB>target, for the chart
{
  printf 'http plumbing (nginx)\t%s\t\n' "$(ratio "$H_RPS" "$NH_RPS")"
  printf 'floor: http + 1 Redis trip (nginx)\t%s\t\n' "$(ratio "$F_RPS" "$NH_RPS")"
  printf 'redemption (nginx)\t%s\t0.30\n' "$(ratio "$R_RPS" "$NR_RPS")"
  printf 'earn (nginx)\t%s\t\n' "$(ratio "$E_RPS" "$NR_RPS")"
  printf 'hold->capture (nginx)\t%s\t\n' "$(ratio "$HC_RPS" "$NR_RPS")"
  printf 'offers listing (nginx)\t%s\t0.50\n' "$(ratio "$O_RPS" "$NO_RPS")"
  printf 'activation (nginx)\t%s\t\n' "$(ratio "$A_RPS" "$NR_RPS")"
  printf 'event->inbox p99 (50 ms / p99)\t%s\t1.00\n' "$(awk -v p="$(nj p99_ms)" 'BEGIN { printf "%.2f", 50 / (p > 0 ? p : 1) }')"
} >"$WORK/ratios.tsv"
CHART_NOTE="![ratios]($DAY.png)"
/usr/bin/python3 bench/chart.py "$WORK/ratios.tsv" "$CHART" 2>"$WORK/chart.err" || CHART_NOTE="(no chart: $(tail -1 "$WORK/chart.err"); make deps-bench installs python3-matplotlib)"
row() {  # row NAME RPS P50 P99 P999 CEILING_NAME CEILING_RPS SVC_US REDIS_US NON2XX
  echo "| $1 | $2 | $3 | $4 | $5 | ${8:-} | ${9:-} | ${10:-} | $6 | $(ratio "$2" "$7") |"
}
{
  echo "# make bench — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release; echo "$PRETTY_NAME")."
  echo "wrk -t1 -c$CONNS -d${SECONDS_PER}s after a 2 s warm-up, keep-alive, on the same machine; tessera-rewards with $REWARDS_THREADS HTTP thread(s), tessera-offers with $THREADS;"
  echo "the service not under test is paused during each run. CPU per request: user + system time of the process over the run ÷ requests."
  echo
  echo "| scenario | req/s | p50 ms | p99 ms | p99.9 ms | service CPU µs/req | Redis CPU µs/req | non-2xx | ceiling | ratio |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"
  echo "| nginx static JSON ($HEALTH_BYTES B) | $NH_RPS | $NH_P50 | $NH_P99 | $NH_P999 | | | | — | 1.00 |"
  row "http-plumbing: GET /healthz" "$H_RPS" "$H_P50" "$H_P99" "$H_P999" "nginx $HEALTH_BYTES B" "$NH_RPS" "$H_CPU" "" 0
  row "floor: GET /readyz (HTTP + one Redis PING, no domain work)" "$F_RPS" "$F_P50" "$F_P99" "$F_P999" "nginx $HEALTH_BYTES B" "$NH_RPS" "$F_CPU" "$F_CPU_REDIS" 0
  echo "| nginx static JSON ($REDEEM_BYTES B) | $NR_RPS | $NR_P50 | $NR_P99 | $NR_P999 | | | | — | 1.00 |"
  row "**redemption** (target ≥ 0.30, p99 ≤ 10 ms; median of $PAIRS pairs: $R_PAIR_RATIOS)" "$R_RPS" "$R_P50" "$R_P99" "$R_P999" "nginx $REDEEM_BYTES B" "$NR_RPS" "$R_CPU" "$R_CPU_REDIS" "$R_NON2XX"
  row "earn" "$E_RPS" "$E_P50" "$E_P99" "$E_P999" "nginx $REDEEM_BYTES B" "$NR_RPS" "$E_CPU" "$E_CPU_REDIS" "$E_NON2XX"
  row "hold→capture (requests, 2 per checkout)" "$HC_RPS" "$HC_P50" "$HC_P99" "$HC_P999" "nginx $REDEEM_BYTES B" "$NR_RPS" "$HC_CPU" "$HC_CPU_REDIS" "$HC_NON2XX"
  row "offer activation" "$A_RPS" "$A_P50" "$A_P99" "$A_P999" "nginx $REDEEM_BYTES B" "$NR_RPS" "$A_CPU" "$A_CPU_REDIS" "$A_NON2XX"
  echo "| nginx static JSON ($OFFERS_BYTES B) | $NO_RPS | $NO_P50 | $NO_P99 | $NO_P999 | | | | — | 1.00 |"
  row "**offers listing** (target ≥ 0.50, p99 ≤ 5 ms)" "$O_RPS" "$O_P50" "$O_P99" "$O_P999" "nginx $OFFERS_BYTES B" "$NO_RPS" "$O_CPU" "$O_CPU_REDIS" "$O_NON2XX"
  row "offers listing, first answers: each member on each channel once, ranked afresh (before the listing's warm-up; no target)" "$FA_RPS" "$FA_P50" "$FA_P99" "$FA_P999" "nginx $OFFERS_BYTES B" "$NO_RPS" "$FA_CPU" "$FA_CPU_REDIS" "$FA_NON2XX"
  echo "| redis-benchmark EVALSHA load.lua (-c 50) | $RB | | | | | | | — | |"
  echo "| redis-benchmark EVALSHA commit.lua, a redemption's commit (-c 50) | $RBC | | | | | | | — | |"
  echo "| redis-benchmark EVALSHA commit.lua, pipelined (-c 50 -P 16) | $RBCP | | | | | | | — | |"
  echo
  echo "Redemption against Redis alone: the service's $R_RPS redemptions/s are $(ratio "$R_RPS" "$RBC") × the rate at which redis-benchmark, on the same 2 cores, makes Redis run the redemption's own commit script with the arguments of a real redemption (bench/commit_ceiling.py); the target, 0.30 × nginx, is $(ratio "$(awk -v n="$NR_RPS" 'BEGIN { print 0.3 * n }')" "$RBC") × it. Pipelined 16 deep, as the service's own commits now travel, Redis alone runs the script at $RBCP/s: the redemption reaches $(ratio "$R_RPS" "$RBCP") × that, and the target is $(ratio "$(awk -v n="$NR_RPS" 'BEGIN { print 0.3 * n }')" "$RBCP") × it."
  echo
  echo "Over the redemption runs (warm-ups included), tessera-rewards' commits' pipeline wrote $((PB_COMMANDS1 - PB_COMMANDS0)) commands to Redis in $((PB_BATCHES1 - PB_BATCHES0)) batches: $PB_MEAN per batch on average (\`tessera_redis_pipeline_batch_commands\`; at most 256)."
  echo
  echo "CPU budget of a redemption, µs per request from this run ($(nproc) cores give $(nproc) 000 000 µs/s; wrk, the load generator, used $NR_WRK_CPU µs per request against nginx and $R_WRK_CPU against the service). The last two rows price a redemption that does no domain work at all (no authentication, JSON, rules, records or answer), with the cores fully used and without the outbox relay, Kafka and the broker. The middle row pays one blocking round trip on the pool, as the redemption did before its commit went to the pipeline; the last row is a bound for any implementation that keeps this HTTP server and the commit script."
  echo
  echo "| | service | Redis | wrk | total | most redemptions/s the cores allow | × nginx |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  budget() {  # budget NAME SVC REDIS WRK: one row, with the rate $(nproc) cores allow at that cost
    awk -v n="$1" -v a="$2" -v b="$3" -v w="$4" -v c="$(nproc)" -v ng="$NR_RPS" 'BEGIN {
      t = a + b + w; printf "| %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.3f |\n", n, a, b, w, t, c * 1e6 / t, c * 1e6 / t / ng }'
  }
  budget "measured redemption ($R_RPS/s = $(ratio "$R_RPS" "$NR_RPS") ×)" "$R_CPU" "$R_CPU_REDIS" "$R_WRK_CPU"
  budget "no domain work, a blocking pool round trip: /readyz + the scripts' $R_SCRIPT_US µs" "$F_CPU" "$(awk -v a="$F_CPU_REDIS" -v b="$R_SCRIPT_US" 'BEGIN { print a + b }')" "$R_WRK_CPU"
  budget "no domain work, a free Redis round trip: /healthz + the scripts' $R_SCRIPT_US µs" "$H_CPU" "$R_SCRIPT_US" "$R_WRK_CPU"
  echo
  echo "Offers listing: first, every member's first answer on each channel ($FA_N answers, $FA_MISSES of them ranked afresh; bench/offers_first.lua); then in the warm-up $LC_HITS_WARM answers from the replica's listing cache and $LC_MISSES_WARM ranked afresh, and in the measured run $LC_HITS and $LC_MISSES (a member's first answer, and any after a change to it, is a miss — docs/offers.md)."
  echo
  echo "Event → inbox (tessera-notifications, a stack of its own), $(nj rate) events/s for $(nj seconds) s over 1 000 members (target p99 ≤ 50 ms):"
  echo
  echo "| scenario | delivered / produced | lost | throughput/s | p50 ms | p99 ms | p99.9 ms | max ms |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  echo "| ceiling: devbroker produce → consume | | | | $(nj broker_p50_ms) | $(nj broker_p99_ms) | $(nj broker_p999_ms) | $(nj broker_max_ms) |"
  echo "| event → inbox | $(nj delivered) / $(nj produced) | $(nj lost) | $(printf '%.0f' "$(nj throughput_per_s)") | $(nj p50_ms) | $(nj p99_ms) | $(nj p999_ms) | $(nj max_ms) |"
  echo
  echo "Redis memory of one member (MEMORY USAGE over its $(mj "len(v['by_key'])") keys): $(mj "v['bytes']") bytes with $(mj "v['ledger_entries']") ledger entries, 3 lots and $(mj "v['activated_offers']") activated offers (target ≤ 4096) — by key: $(mj "', '.join(f'{k} {b}' for k, b in v['by_key'].items())"); $(mj "v['bytes_at_ledger']['100']") bytes at 100 entries, $(mj "v['bytes_at_ledger']['1000']") at 1 000."
  echo
  echo "$CHART_NOTE"
  if [ -z "$PROFILE_NOTE" ]; then
    for p in redemption offers; do
      echo
      echo "Profile, $p (perf, self time by symbol, top entries):"
      echo
      echo '```'
      cat "$WORK/$p.top"
      echo '```'
      echo
      echo "The same profile by what the process was doing (bench/perf_roles.py):"
      echo
      cat "$WORK/$p.roles"
    done
  else
    echo
    echo "$PROFILE_NOTE"
  fi
} >"$RESULT"
echo
cat "$RESULT"
echo
echo "[bench] written to $RESULT and $CHART"
