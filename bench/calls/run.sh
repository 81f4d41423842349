#!/usr/bin/env bash
# bench/calls/run.sh: call throughput (and memory per held call) of actorpbx against Kamailio 5.6.
#
#   bench/calls/run.sh [--max-rate N] [--start-rate N] [--step N] [--duration S] [--call-ms MS]
#                      [--only actorpbx|kamailio] [--children N] [--pairs N]
#   bench/calls/run.sh --concurrent N --hold S [--only ...] [--children N]
#
# Rate mode: SIPp UAC (caller, proxy digest 407) -> server -> one SIPp UAS on which every callee
# is registered; one call = INVITE/407/ACK/INVITE+auth/100/180/200/ACK/(pause --call-ms)/BYE/200,
# no media. Rising rates, rate x duration calls per step; a step passes when fewer than 0.1% of
# its calls fail and the achieved rate is at least 90% of the target; the first failing step ends
# the climb. Server CPU (utime+stime of all its processes over the step) and memory (VmRSS summed,
# PSS summed, at the end of the step) are sampled. Prints `ratio actorpbx/kamailio`.
# Concurrent mode: holds N answered calls (N <= 20000) for S seconds (S <= 120) and prints the
# server's RSS and PSS growth per held call: at the peak, and settled (all calls up and none set
# up for 64*T1 + 2 s: the set-up's transactions gone; needs --hold >= ~70).
#
# Builds nothing. actorpbx comes from $ACTORPBX_BIN or build/engine/actorpbx (skipped if absent,
# or if it does not serve INVITE yet). Kamailio: bench/calls/kamailio.cfg.in, a tm stateful proxy.
# All traffic stays on 127.0.0.1; every sipp run is bounded (-m, -timeout); only the PIDs this
# script started are stopped; the temp dir is removed at exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"   # ROOT, the shared options and their defaults, the functions

MAX_RATE=8000
START_RATE=250
CALL_MS=0         # pause between the ACK and the BYE (rate mode)
PAIRS=""          # callers and callees (default: 5000 in rate mode, N in concurrent mode)
CONCURRENT=0
HOLD=0
FIRST_CALLER=100000
FIRST_CALLEE=200000

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --call-ms) CALL_MS="$2" ;;
    --pairs) PAIRS="$2" ;;
    --concurrent) CONCURRENT="$2" ;;
    --hold) HOLD="$2" ;;
    *) bench_opt "$@" ;;
  esac
  shift 2
done
bench_check_opts MAX_RATE START_RATE STEP DURATION CALL_MS CHILDREN CONCURRENT HOLD
[ "$CALL_MS" -le 10000 ] || { echo "--call-ms must be <= 10000" >&2; exit 2; }
case "$ONLY" in ""|actorpbx|kamailio) ;; *) echo "--only actorpbx|kamailio" >&2; exit 2 ;; esac
if [ "$CONCURRENT" -gt 0 ]; then
  [ "$CONCURRENT" -le 20000 ] || { echo "--concurrent must be <= 20000" >&2; exit 2; }
  [ "$HOLD" -ge 2 ] && [ "$HOLD" -le 120 ] || { echo "--hold must be 2..120 (seconds)" >&2; exit 2; }
  # set up the N calls over at most half the hold time, so that all N are up together
  CONC_RATE=$(( (2 * CONCURRENT + HOLD - 1) / HOLD ))
  [ "$CONC_RATE" -ge 50 ] || CONC_RATE=50
  if [ "$CONC_RATE" -gt 2000 ]; then
    echo "--concurrent $CONCURRENT needs --hold >= $(( (2 * CONCURRENT + 1999) / 2000 )) (calls set up at <= 2000/s)" >&2
    exit 2
  fi
  PAIRS="${PAIRS:-$CONCURRENT}"
else
  [ "$HOLD" -eq 0 ] || { echo "--hold goes with --concurrent" >&2; exit 2; }
  PAIRS="${PAIRS:-5000}"
fi
[[ "$PAIRS" =~ ^[0-9]+$ ]] && [ "$PAIRS" -ge 1 ] && [ "$PAIRS" -le 50000 ] || { echo "--pairs must be 1..50000" >&2; exit 2; }

# ports (loopback only); override through the environment if they are taken
A_SIP_PORT="${BENCH_ACTORPBX_SIP_PORT:-25160}"
A_SHELL_PORT="${BENCH_ACTORPBX_SHELL_PORT:-25139}"
K_SIP_PORT="${BENCH_KAMAILIO_SIP_PORT:-25170}"
UAC_PORT="${BENCH_SIPP_UAC_PORT:-25198}"
UAS_PORT="${BENCH_SIPP_UAS_PORT:-25199}"

bench_init calls sipp python3 ss

# ---------------------------------------------------------------- injection files
CALLERS="$TMP/callers.csv"; CALLEES="$TMP/callees.csv"
{
  echo "SEQUENTIAL"
  for ((i = 0; i < PAIRS; i++)); do
    echo "$((FIRST_CALLER + i));pw$((FIRST_CALLER + i));$DOMAIN;$((FIRST_CALLEE + i))"
  done
} > "$CALLERS"
{
  echo "SEQUENTIAL"
  for ((i = 0; i < PAIRS; i++)); do echo "$((FIRST_CALLEE + i));pw$((FIRST_CALLEE + i));$DOMAIN"; done
} > "$CALLEES"

# ---------------------------------------------------------------- servers (start_*: bench/lib.sh)
# provision: tenant + callers + callees through the shell (extension import)
actorpbx_provision() { shell_provision 120 "$FIRST_CALLER:$PAIRS" "$FIRST_CALLEE:$PAIRS"; }

# Starts the SIPp UAS for CALLS calls, bounded by TIMEOUT s; sets UAS_PID.
start_uas() {
  start_sipp_uas "$1" uas "$HERE/uas_load.xml" 127.0.0.1 "$UAS_PORT" "$2" "$3" ||
    { echo "(port: BENCH_SIPP_UAS_PORT)" >&2; return 1; }
}

# ---------------------------------------------------------------- one load step
# writes to $STEP_LINE: rate calls ok failed achieved cpu_pct rss_kb pss_kb udp_drops sipp_rc uas_failed
# (not run in $(...): the UAS PID must reach STARTED_PIDS of this shell)
run_step() {
  local rate=$1
  local calls=$((rate * DURATION)) dir="$TMP/step-$2-$rate"
  mkdir -p "$dir"
  local tmo=$((DURATION * 3 + CALL_MS / 1000 + 30))
  # the UAS gets some slack in -m: a stray message (e.g. an ACK after its call ended) counts as a call
  start_uas "$dir" $((calls + calls / 100 + 10)) $((tmo + 15)) || return 1
  local rc=0
  sample_start
  # bounded: -m calls, whole run at most tmo s, each message 5 s
  sipp_client "$dir" "$tmo" -sf "$HERE/uac_load.xml" -inf "$CALLERS" -t u1 -i 127.0.0.1 -p "$UAC_PORT" \
      -r "$rate" -rp 1000 -m "$calls" -l $((rate * (CALL_MS / 1000 + 5))) -d "$CALL_MS" -pause_msg_ign || rc=$?
  sample_end
  finish_uas
  local uas; uas="$(sipp_counts "$dir/uas-stat.csv")"
  step_line "$dir/stat.csv" "$rate" "$calls" "$rc" 1 "$uas"
} > "$STEP_LINE"

# ---------------------------------------------------------------- rate climb (bench_server: bench/lib.sh)
prepare_server() {  # start, probe, register the callees
  local name=$1
  start_server "$name" || return 1
  local code; code="$(probe_invite "${SERVER_TARGET%:*}" "${SERVER_TARGET##*:}")"
  case "$code" in
    407) ;;
    405) echo "$name: INVITE not served yet (405)"; stop_pid "$SERVER_PID"; return 1 ;;
    *) echo "$name: INVITE probe answered $code (expected 407): skipped"; stop_pid "$SERVER_PID"; return 1 ;;
  esac
  register_callees "$name" || { echo "  $name: callee registration failed: skipped" >&2; stop_pid "$SERVER_PID"; return 1; }
}

# warm-up: one short step at a low rate (not measured)
warm_up() {
  local w=$(( START_RATE < 500 ? START_RATE : 500 ))
  local keep=$DURATION; DURATION=2
  if run_step "$w" "$1-warm"; then
    set -- $(cat "$STEP_LINE"); echo "  warm-up ${w}/s x 2 s: ok $3 failed $4"
  fi
  DURATION=$keep
}

print_step() {  # NAME VERDICT rate calls ok failed achieved cpu rss pss drops rc uas_failed
  local name=$1 verdict=$2; shift 2
  printf '  %-9s rate %5d/s  calls %6d  ok %6d  failed %5d  achieved %5d/s  cpu %4d%%  rss %7d kB  pss %7d kB  udp-drops %d  uas-failed %d  %s\n' \
    "$name" "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$9" "${11}" "$verdict"
}

# ---------------------------------------------------------------- concurrent calls
concurrent_server() {
  local name=$1
  echo "== $name"
  prepare_server "$name" || { echo "$name none" >> "$RESULTS"; return 0; }
  local dir="$TMP/conc-$name"; mkdir -p "$dir"
  local ramp=$(( (CONCURRENT + CONC_RATE - 1) / CONC_RATE ))
  local tmo=$((ramp + HOLD + 40))
  sleep 1
  local base; base="$(mem_kb "$SERVER_PID")"
  start_uas "$dir" "$CONCURRENT" $((tmo + 15)) || { echo "$name none" >> "$RESULTS"; stop_pid "$SERVER_PID"; return 0; }
  ( sipp_client "$dir" "$tmo" -sf "$HERE/uac_load.xml" -inf "$CALLERS" -t u1 -i 127.0.0.1 -p "$UAC_PORT" \
        -r "$CONC_RATE" -rp 1000 -m "$CONCURRENT" -l "$CONCURRENT" -d $((HOLD * 1000)) -pause_msg_ign
    echo $? > "$dir/rc" ) &
  local uac=$!
  STARTED_PIDS+=("$uac")
  # sample the server's memory every second; keep the peak (all calls held near ramp..hold).
  # The settled sample: every call up and none set up for 64*T1 + 2 s, so no transaction state
  # of the set-up is left (the 2xx kept for retransmission, the ACK kept for a resent 2xx):
  # what a call costs while it lasts. Only when the hold leaves that window (--hold >= ~70).
  local peak_rss=0 peak_pss=0 settled_rss=0 settled_pss=0 m r p
  local t0=$SECONDS settle_at=$((ramp + 34))
  while kill -0 "$uac" 2>/dev/null; do
    m="$(mem_kb "$SERVER_PID")"; set -- $m; r=$1; p=$2
    [ "$r" -gt "$peak_rss" ] && peak_rss=$r
    [ "$p" -gt "$peak_pss" ] && peak_pss=$p
    if [ "$settled_pss" -eq 0 ] && [ $((SECONDS - t0)) -ge "$settle_at" ] &&
       [ $((SECONDS - t0)) -lt $((HOLD - 1)) ]; then
      settled_rss=$r; settled_pss=$p
    fi
    sleep 1
  done
  wait "$uac" 2>/dev/null || true
  finish_uas
  local c; c="$(sipp_counts "$dir/stat.csv")"; set -- $c
  local ok=$1 failed=$2 rc; rc="$(cat "$dir/rc" 2>/dev/null || echo "?")"
  set -- $base
  python3 - "$name" "$CONCURRENT" "$HOLD" "$CONC_RATE" "$ok" "$failed" "$1" "$2" "$peak_rss" "$peak_pss" "$rc" \
      "$settled_rss" "$settled_pss" <<'PY' | tee -a "$RESULTS"
import sys
name, n, hold, rate, ok, failed, rss0, pss0, rss1, pss1, rc, rss2, pss2 = sys.argv[1:]
n, ok, failed = int(n), int(ok), int(failed)
rss0, pss0, rss1, pss1, rss2, pss2 = map(int, (rss0, pss0, rss1, pss1, rss2, pss2))
settled = ("; settled: rss %d kB, pss %d kB, per call: rss %.2f kB, pss %.2f kB"
           % (rss2, pss2, (rss2 - rss0) / float(n), (pss2 - pss0) / float(n))
           if pss2 else "; settled: not sampled (--hold too short)")
print("%s conc calls %d held %ss (set up at %s/s): ok %d failed %d (sipp exit %s); "
      "rss %d -> %d kB, pss %d -> %d kB; per call: rss %.2f kB, pss %.2f kB%s"
      % (name, n, hold, rate, ok, failed, rc, rss0, rss1, pss0, pss1,
         (rss1 - rss0) / float(n), (pss1 - pss0) / float(n), settled))
PY
  stop_pid "$SERVER_PID"
}

# ---------------------------------------------------------------- main
if [ "$CONCURRENT" -gt 0 ]; then
  echo "bench/calls --concurrent: $CONCURRENT calls held ${HOLD}s, set up at ${CONC_RATE}/s, $PAIRS caller/callee pairs, $(nproc) cores"
  runner=concurrent_server
else
  echo "bench/calls: $PAIRS caller/callee pairs in $DOMAIN, ${DURATION}s per step, rates $START_RATE..$MAX_RATE" \
       "($([ "$STEP" -gt 0 ] && echo "+$STEP" || echo "x2")), call hold ${CALL_MS} ms, UDP, $(nproc) cores"
  runner=bench_server
fi
run_servers "$runner"
[ "$CONCURRENT" -gt 0 ] && exit 0

# ---------------------------------------------------------------- summary
print_summary "max calls/s" "calls/cpu-s" calls
