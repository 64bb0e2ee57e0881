#!/usr/bin/env bash
# bench/instructions.sh BIN... — instructions per redemption (valgrind callgrind's Ir) of each
# tessera-rewards binary given, on one seeded Redis and development broker. Instruction counts do
# not move with the machine's load, so they compare two builds where timed runs on this shared
# machine cannot (see bench/README.md, session 11). Each binary runs under callgrind with
# instrumentation off; it is switched on for SECS (10) seconds of wrk -c8 redemptions over 2 000
# members (while wrk keeps loading it), and Ir over that window is divided by the redemptions
# it answered. ROUNDS="1 2"
# repeats the set. Run by hand (needs valgrind and a `make build`); not part of make test/bench.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)"; exit 1; }
SECS=${SECS:-10}; MEMBERS=2000
. bench/dev_stack.sh
SVC_PORT=$(free_port); run_rewards $SVC_PORT "$1"; wait_http "http://127.0.0.1:$SVC_PORT/healthz"
python3 bench/seed_rewards.py "http://127.0.0.1:$SVC_PORT" $MEMBERS >/dev/null
kill -TERM $SVC_PID; wait $SVC_PID 2>/dev/null || true
for round in ${ROUNDS:-1}; do
n=0
for bin in "$@"; do
  n=$((n + 1))  # builds are usually all called tessera-rewards: each gets files of its own
  SVC_PORT=$(free_port); OUT=$WORK/cg.$n.$round
  run_rewards $SVC_PORT valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=$OUT.%p "$bin"
  wait_http "http://127.0.0.1:$SVC_PORT/healthz"
  MEMBERS=$MEMBERS wrk -t1 -c8 -d3s -s bench/redeem.lua "http://127.0.0.1:$SVC_PORT" >/dev/null  # warm the cache
  # Instrumentation is switched while load runs: valgrind reads the request only when one of the
  # program's threads runs, so a switch on an idle service lands late.
  MEMBERS=$MEMBERS wrk -t1 -c8 -d$((SECS + 4))s -s bench/redeem.lua "http://127.0.0.1:$SVC_PORT" >/dev/null & WRK=$!
  sleep 1; callgrind_control -i on $SVC_PID >/dev/null; sleep 1; B=$(redemptions $SVC_PORT)
  sleep "$SECS"
  # The switch off lands within the next second: count to its middle.
  A=$(redemptions $SVC_PORT); callgrind_control -i off $SVC_PID >/dev/null; sleep 1; A2=$(redemptions $SVC_PORT); A=$(((A + A2) / 2))
  wait $WRK
  kill -TERM $SVC_PID; wait $SVC_PID 2>/dev/null || true
  IR=$(awk '/^totals:/ {s+=$2} END {printf "%.0f", s}' $OUT.*)
  echo "$bin round $round: $((A-B)) redemptions, $IR Ir, $(awk -v i=$IR -v n=$((A-B)) 'BEGIN{printf "%.0f", i/n}') Ir/redemption"
done; done
