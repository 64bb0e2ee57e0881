#!/usr/bin/env bash
# run-stack.sh [BUILD_DIR] — the local stack in the foreground (`make run`):
# redis-server (data and AOF under run/redis), the development Kafka broker, and the three
# services with the development credentials. Prints every address and writes run/stack.env.
# Ctrl-C or SIGTERM stops everything and leaves no process behind.
#
# Ports: REDIS_PORT (6390), REWARDS_PORT (8081), OFFERS_PORT (8082), NOTIFICATIONS_PORT (8083),
# PROVIDER_PORT (8090: the development provider sink; messages land in run/sent/<channel>.jsonl).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${1:-build}
RUN="$ROOT/run"
REDIS_PORT=${REDIS_PORT:-6390}
PROVIDER_PORT=${PROVIDER_PORT:-8090}
declare -A PORTS=([rewards]=${REWARDS_PORT:-8081} [offers]=${OFFERS_PORT:-8082} [notifications]=${NOTIFICATIONS_PORT:-8083})
SERVICES=(rewards offers notifications)

mkdir -p "$RUN/redis" "$RUN/logs" "$RUN/sent"
PIDS=()          # everything, for the liveness watch
INFRA_PIDS=()    # redis-server, tessera-devbroker: stopped last
SERVICE_PIDS=()  # the three services: stopped first, while Redis and Kafka still answer

# stop_group SECONDS PID...: SIGTERM, wait up to SECONDS, then SIGKILL what is left.
stop_group() {
  local limit=$1
  shift
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 $((limit * 10))); do
    local alive=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && return 0
    sleep 0.1
  done
  for pid in "$@"; do kill -KILL "$pid" 2>/dev/null || true; done
}

stop_all() {
  trap - INT TERM EXIT
  echo
  echo "stopping the stack..."
  [ ${#SERVICE_PIDS[@]} -gt 0 ] && stop_group 15 "${SERVICE_PIDS[@]}"
  [ ${#INFRA_PIDS[@]} -gt 0 ] && stop_group 10 "${INFRA_PIDS[@]}"
  wait 2>/dev/null || true
  echo "stopped."
}
trap 'stop_all; exit 0' INT TERM
trap 'stop_all' EXIT

for port in "$REDIS_PORT" "$PROVIDER_PORT" "${PORTS[@]}"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is already in use; set REDIS_PORT / REWARDS_PORT / OFFERS_PORT / NOTIFICATIONS_PORT" >&2
    exit 1
  fi
done

redis-server "$ROOT/config/redis.conf" --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$RUN/redis" --appendonly yes \
  --appendfsync everysec --save "" --daemonize no --logfile "$RUN/logs/redis.log" &
PIDS+=($!)
INFRA_PIDS+=($!)

"$BUILD/tools/provider-sink/tessera-provider-sink" --dir "$RUN/sent" --port "$PROVIDER_PORT" \
  >"$RUN/logs/provider-sink.log" 2>&1 &
PIDS+=($!)
INFRA_PIDS+=($!)

rm -f "$RUN/kafka.bootstrap"
"$BUILD/tools/devbroker/tessera-devbroker" --bootstrap-file "$RUN/kafka.bootstrap" >"$RUN/logs/devbroker.log" 2>&1 &
PIDS+=($!)
INFRA_PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$RUN/kafka.bootstrap" ] && break; sleep 0.1; done
[ -s "$RUN/kafka.bootstrap" ] || { echo "the development broker did not start: see $RUN/logs/devbroker.log" >&2; exit 1; }
BROKERS=$(cat "$RUN/kafka.bootstrap")
for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

export TESSERA_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export TESSERA_KAFKA_BROKERS="$BROKERS"
export TESSERA_API_KEYS_FILE="$ROOT/config/dev/api-keys.json"
export TESSERA_JWT_SECRET_FILE="$ROOT/config/dev/jwt-secret"
export TESSERA_QUOTE_SECRET_FILE="$ROOT/config/dev/quote-secret"
export TESSERA_PROGRAM_FILE="$ROOT/config/program.json"
export TESSERA_PROVIDER_URL="http://127.0.0.1:$PROVIDER_PORT"
for s in "${SERVICES[@]}"; do
  TESSERA_HTTP_PORT=${PORTS[$s]} "$BUILD/services/$s/tessera-$s" >"$RUN/logs/$s.log" 2>&1 &
  PIDS+=($!)
  SERVICE_PIDS+=($!)
done

deadline=$((SECONDS + 60))
for s in "${SERVICES[@]}"; do
  until curl -sf "http://127.0.0.1:${PORTS[$s]}/readyz" >/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "tessera-$s is not ready after 60 s; its log:" >&2
      tail -n 20 "$RUN/logs/$s.log" >&2
      exit 1
    fi
    sleep 0.2
  done
done

tools/seed-demo.sh "http://127.0.0.1:${PORTS[rewards]}" "http://127.0.0.1:${PORTS[offers]}"

{
  echo "TESSERA_REDIS_URL=$TESSERA_REDIS_URL"
  echo "TESSERA_KAFKA_BROKERS=$TESSERA_KAFKA_BROKERS"
  echo "TESSERA_REWARDS_URL=http://127.0.0.1:${PORTS[rewards]}"
  echo "TESSERA_OFFERS_URL=http://127.0.0.1:${PORTS[offers]}"
  echo "TESSERA_NOTIFICATIONS_URL=http://127.0.0.1:${PORTS[notifications]}"
} >"$RUN/stack.env"

cat <<TXT

Tessera is running (development stack — in-memory Kafka, development credentials):
  rewards        http://127.0.0.1:${PORTS[rewards]}     (/healthz /readyz /metrics)
  offers         http://127.0.0.1:${PORTS[offers]}
  notifications  http://127.0.0.1:${PORTS[notifications]}
  redis          $TESSERA_REDIS_URL   (data and AOF in run/redis)
  kafka          $TESSERA_KAFKA_BROKERS   (tessera-devbroker, in memory)
  provider sink  http://127.0.0.1:$PROVIDER_PORT   (e-mail, SMS, push land in run/sent/<channel>.jsonl)
  logs           run/logs/*.log        environment: run/stack.env
  demo members   m-1001 m-1002 m-1003, e.g.
                 curl -H 'Authorization: Bearer dev-pos' http://127.0.0.1:${PORTS[rewards]}/v1/members/m-1001
                 curl -H 'Authorization: Bearer dev-storefront' 'http://127.0.0.1:${PORTS[offers]}/v1/members/m-1001/offers?channel=web'
  tokens         dev-admin dev-ops dev-storefront dev-pos dev-agent dev-service
                 app token for a member: $BUILD/tools/devtoken/tessera-devtoken <member_id>
Press Ctrl-C to stop everything.
TXT

# Stay in the foreground; if any process dies, stop the rest.
while true; do
  for pid in "${PIDS[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "a stack process (pid $pid) exited; see run/logs/" >&2
      exit 1
    fi
  done
  sleep 1 &
  wait $! || true
done
