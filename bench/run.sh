#!/usr/bin/env bash
# bench/run.sh [BUILD_DIR] — `make bench`. Measures each scenario against a ceiling measured
# in the same run on the same machine, and reports ratios (the machine is shared and noisy).
#
# Scenarios so far:
#   http-plumbing  GET /healthz through the shared HTTP server (routing, request id, metrics,
#                  keep-alive) vs nginx serving the same JSON bytes as a static file.
# Each: wrk -t1 -c64 -d${BENCH_SECONDS:-8}s with keep-alive (wrk's default).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${1:-build}
SECONDS_PER=${BENCH_SECONDS:-8}
CONNS=${BENCH_CONNECTIONS:-64}
WORK=$(mktemp -d /tmp/tessera-bench-XXXXXX)
chmod 755 "$WORK"  # nginx workers run unprivileged and must read the static file
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 200); do curl -sf "$1" >/dev/null && return 0; sleep 0.05; done; return 1; }

# wrk_run NAME URL -> "rps p50_ms p99_ms"
wrk_run() {
  local out
  out=$(wrk -t1 -c"$CONNS" -d"${SECONDS_PER}s" --latency "$2")
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/,"",v); print v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v } else { sub(/s$/,"",v); print v*1000 } }'; }
  echo "$rps $(to_ms "$p50") $(to_ms "$p99")"
}

echo "[bench] starting redis-server, tessera-devbroker and tessera-rewards"
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
  --dir "$WORK" --logfile "$WORK/redis.log" &
PIDS+=($!)
"$BUILD/tools/devbroker/tessera-devbroker" --bootstrap-file "$WORK/bootstrap" >"$WORK/broker.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$WORK/bootstrap" ] && break; sleep 0.1; done
SVC_PORT=$(free_port)
TESSERA_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" TESSERA_KAFKA_BROKERS=$(cat "$WORK/bootstrap") \
TESSERA_HTTP_PORT=$SVC_PORT TESSERA_HTTP_THREADS=2 TESSERA_LOG_LEVEL=warn \
TESSERA_API_KEYS_FILE="$ROOT/config/dev/api-keys.json" TESSERA_JWT_SECRET=dev-jwt-secret \
  "$BUILD/services/rewards/tessera-rewards" >"$WORK/rewards.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$SVC_PORT/healthz"

echo "[bench] starting nginx with the same body as a static file"
NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx/www"
curl -s "http://127.0.0.1:$SVC_PORT/healthz" >"$WORK/nginx/www/healthz.json"
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

echo "[bench] 1/2 ceiling: nginx static JSON ($(wc -c <"$WORK/nginx/www/healthz.json") bytes), ${SECONDS_PER}s, $CONNS connections"
read -r N_RPS N_P50 N_P99 <<<"$(wrk_run nginx "http://127.0.0.1:$NGINX_PORT/healthz.json")"
echo "[bench] 2/2 http-plumbing: tessera-rewards GET /healthz (2 server threads)"
read -r T_RPS T_P50 T_P99 <<<"$(wrk_run plumbing "http://127.0.0.1:$SVC_PORT/healthz")"

RATIO=$(awk -v a="$T_RPS" -v b="$N_RPS" 'BEGIN { printf "%.2f", a/b }')
mkdir -p bench/results
RESULT="bench/results/$(date -u +%Y-%m-%d).md"
{
  echo "# make bench — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release; echo "$PRETTY_NAME")."
  echo "wrk -t1 -c$CONNS -d${SECONDS_PER}s, keep-alive; load generator on the same machine."
  echo
  echo "| scenario | req/s | p50 ms | p99 ms | ratio to ceiling |"
  echo "|---|---:|---:|---:|---:|"
  echo "| ceiling: nginx static JSON | $N_RPS | $N_P50 | $N_P99 | 1.00 |"
  echo "| http-plumbing: GET /healthz | $T_RPS | $T_P50 | $T_P99 | $RATIO |"
} >"$RESULT"
echo
cat "$RESULT"
echo
echo "[bench] written to $RESULT"
