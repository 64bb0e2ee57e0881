#!/usr/bin/env bash
# bench/side_by_side.sh BIN_A BIN_B [ROUNDS] — CPU per redemption of two tessera-rewards builds
# measured at the same time: both serve at once on one Redis and development broker, each
# loaded by its own wrk (-c32) over its own 5 000 members, so the machine's changing speed
# falls on both alike. Prints B/A per round. The relay of the binary started first (A) owns the
# outbox streams and publishes B's events too, which inflates A's figure; so run both orders:
# with R1 = Y/X from `side_by_side.sh X Y` and R2 = X/Y from `side_by_side.sh Y X`, the relay's
# share cancels and Y/X = sqrt(R1 / R2). Run by hand after `make build`; not part of make
# test/bench.
set -euo pipefail
cd "$(dirname "$0")/.."
A=$1; B=$2; ROUNDS=${3:-3}; SECONDS_PER=${SECS:-8}; MEMBERS=10000
. bench/dev_stack.sh
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
PORTA=$(free_port); run_rewards $PORTA "$A"; PA=$SVC_PID; PIDS+=($PA)
PORTB=$(free_port); run_rewards $PORTB "$B"; PB=$SVC_PID; PIDS+=($PB)
wait_http "http://127.0.0.1:$PORTA/healthz"; wait_http "http://127.0.0.1:$PORTB/healthz"
python3 bench/seed_rewards.py "http://127.0.0.1:$PORTA" $MEMBERS >/dev/null
for r in $(seq 1 $ROUNDS); do
  MEMBERS=5000 wrk -t1 -c32 -d2s -s bench/redeem.lua "http://127.0.0.1:$PORTA" >/dev/null & WA=$!
  MEMBERS=5000 MEMBER_OFFSET=5000 wrk -t1 -c32 -d2s -s bench/redeem.lua "http://127.0.0.1:$PORTB" >/dev/null; wait $WA
  TA=$(cpu_ticks $PA); TB=$(cpu_ticks $PB); NA=$(redemptions $PORTA); NB=$(redemptions $PORTB)
  MEMBERS=5000 wrk -t1 -c32 -d${SECONDS_PER}s -s bench/redeem.lua "http://127.0.0.1:$PORTA" >$WORK/wa & WA=$!
  MEMBERS=5000 MEMBER_OFFSET=5000 wrk -t1 -c32 -d${SECONDS_PER}s -s bench/redeem.lua "http://127.0.0.1:$PORTB" >$WORK/wb; wait $WA
  TA2=$(cpu_ticks $PA); TB2=$(cpu_ticks $PB); NA2=$(redemptions $PORTA); NB2=$(redemptions $PORTB)
  HZ=$(getconf CLK_TCK)
  awk -v ta=$((TA2-TA)) -v tb=$((TB2-TB)) -v na=$((NA2-NA)) -v nb=$((NB2-NB)) -v hz=$HZ -v r=$r 'BEGIN {
    a = ta*1e6/hz/na; b = tb*1e6/hz/nb; printf "round %d: A %d req %.1f us/req | B %d req %.1f us/req | B/A %.3f\n", r, na, a, nb, b, b/a }'
done
