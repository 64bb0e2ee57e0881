# Sourced by bench/instructions.sh and bench/side_by_side.sh (from the repository root): a scratch
# directory ($WORK, removed on exit), a redis-server ($RP) and a development broker started in it,
# a program file with pending_days 0 (benchmark members spend at once), and helpers. Everything
# started (PIDS) is stopped on exit.
WORK=$(mktemp -d /tmp/tessera-dev-XXXXXX); PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 600); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; return 1; }
RP=$(free_port)
redis-server config/redis.conf --port "$RP" --bind 127.0.0.1 --save "" --appendonly no --daemonize no --dir "$WORK" --logfile "$WORK/redis.log" & PIDS+=($!)
build/tools/devbroker/tessera-devbroker --bootstrap-file "$WORK/bootstrap" >"$WORK/broker.log" 2>&1 & PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$WORK/bootstrap" ] && break; sleep 0.1; done
for _ in $(seq 1 100); do redis-cli -p "$RP" ping >/dev/null 2>&1 && break; sleep 0.1; done
python3 -c 'import json,sys; p=json.load(open("config/program.json")); p["pending_days"]=0; json.dump(p,open(sys.argv[1],"w"))' "$WORK/program.json"
# run_rewards PORT COMMAND...: tessera-rewards (COMMAND, e.g. the binary or valgrind ... binary)
# on PORT against this stack, in the background; sets SVC_PID.
run_rewards() {
  local port=$1; shift
  TESSERA_REDIS_URL="redis://127.0.0.1:$RP/0" TESSERA_KAFKA_BROKERS=$(cat "$WORK/bootstrap") TESSERA_HTTP_PORT=$port \
  TESSERA_HTTP_THREADS=2 TESSERA_LOG_LEVEL=warn TESSERA_API_KEYS_FILE=config/dev/api-keys.json TESSERA_JWT_SECRET=dev-jwt-secret \
  TESSERA_PROGRAM_FILE="$WORK/program.json" "$@" >>"$WORK/svc.log" 2>&1 &
  SVC_PID=$!
}
# redemptions PORT: redemptions the tessera-rewards on PORT has answered with 201.
redemptions() { curl -s "http://127.0.0.1:$1/metrics" | awk '/^tessera_http_requests_total.*redemptions.*201/ {print $2}'; }
