#!/usr/bin/env bash
# bench/trunk/run.sh: the cost of a call out through a trunk, against the same call between two
# extensions, on one actorpbx node in one run; then the outbound decision time with N rules.
#
#   bench/trunk/run.sh [--max-rate N] [--start-rate N] [--step N] [--duration S] [--call-ms MS]
#                      [--pairs N] [--only internal|trunk] [--rules N] [--decide-calls N]
#                      [--idle-wait S]
#
# Two paths, the same SIPp caller (extensions 100000.., proxy digest 407, bench/calls/uac_load.xml):
#   internal  caller i -> extension 200000+i, registered at a SIPp UAS on 127.0.0.1 (as bench/calls)
#   trunk     caller i -> 00 1555 000 0000+i -> outbound rule `intl` (prefix 00, strip 2,
#             prepend +, caller ID 15550001111) -> IP_AUTH trunk `carrier` (keep_alive=no) ->
#             a SIPp UAS carrier on 127.0.0.3 (bench/calls/uas_load.xml)
# Rising rates (default 1000, 1500, ... 6000; --step 0 doubles), rate x duration calls per step;
# at each rate one step of each path still climbing (the order alternates from rate to rate).
# A step passes when fewer than 0.1% of its calls fail and the achieved rate is at least 90% of
# the target; a path stops at its first failing step. Per step: server CPU, memory, UDP drops
# and the whole machine's CPU (and the part of it neither the node nor SIPp used). Prints each path's best rate, the server CPU seconds per 1,000
# calls at the rates both passed, and the ratios trunk/internal.
# Then bench_trunk_decide RULES CALLS and 10 CALLS (the outbound decision's p50/p99; --rules 0
# skips it): $BENCH_DECIDE_BIN or build/bench_trunk_decide, built (make -j2) if missing.
# --idle-wait S (<= 600): first wait up to S s for the 1-minute load average to fall below 1.0.
#
# actorpbx from $ACTORPBX_BIN or build/engine/actorpbx. All traffic stays on loopback (127.0.0.1
# and the carrier on 127.0.0.3); every sipp run is bounded (-m, -timeout); only the PIDs this
# script started are stopped; the temp dir is removed at exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"   # ROOT, the shared options and their defaults, the functions
CALLS_DIR="$ROOT/bench/calls"   # the SIPp scenarios of bench/calls

MAX_RATE=6000
START_RATE=1000
STEP=500
CALL_MS=0
PAIRS=5000
RULES=1000
DECIDE_CALLS=200000
IDLE_WAIT=0
FIRST_CALLER=100000
FIRST_CALLEE=200000
FIRST_NUMBER=15550000000          # dialled as 00<number>
CARRIER_IP=127.0.0.3
ROUTE_CALLER_ID=15550001111

usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in -h|--help) usage 0 ;; esac
  [ $# -ge 2 ] || { echo "$1 needs a value" >&2; usage 2 >&2; }
  case "$1" in
    --call-ms) CALL_MS="$2" ;;
    --pairs) PAIRS="$2" ;;
    --rules) RULES="$2" ;;
    --decide-calls) DECIDE_CALLS="$2" ;;
    --idle-wait) IDLE_WAIT="$2" ;;
    --children) echo "unknown option: $1" >&2; usage 2 >&2 ;;
    *) bench_opt "$@" ;;
  esac
  shift 2
done
bench_check_opts MAX_RATE START_RATE STEP DURATION CALL_MS PAIRS RULES DECIDE_CALLS IDLE_WAIT
[ "$CALL_MS" -le 10000 ] || { echo "--call-ms must be <= 10000" >&2; exit 2; }
[ "$PAIRS" -ge 1 ] && [ "$PAIRS" -le 50000 ] || { echo "--pairs must be 1..50000" >&2; exit 2; }
[ "$MAX_RATE" -le 50000 ] || { echo "--max-rate must be <= 50000" >&2; exit 2; }
[ "$RULES" -le 100000 ] || { echo "--rules must be 0..100000 (0: no decision bench)" >&2; exit 2; }
[ "$DECIDE_CALLS" -ge 100 ] && [ "$DECIDE_CALLS" -le 10000000 ] || { echo "--decide-calls must be 100..10000000" >&2; exit 2; }
[ "$IDLE_WAIT" -le 600 ] || { echo "--idle-wait must be 0..600 (seconds)" >&2; exit 2; }
case "$ONLY" in "") PATHS="internal trunk" ;; internal|trunk) PATHS="$ONLY" ;;
  *) echo "--only internal|trunk" >&2; exit 2 ;; esac

# ports (loopback only); override through the environment if they are taken
A_SIP_PORT="${BENCH_ACTORPBX_SIP_PORT:-25260}"
A_SHELL_PORT="${BENCH_ACTORPBX_SHELL_PORT:-25239}"
UAC_PORT="${BENCH_SIPP_UAC_PORT:-25298}"
UAS_PORT="${BENCH_SIPP_UAS_PORT:-25299}"
CARRIER_PORT="${BENCH_CARRIER_PORT:-25297}"

bench_init trunk sipp python3 ss awk

# ---------------------------------------------------------------- injection files
CALLERS="$TMP/callers.csv"; CALLERS_OUT="$TMP/callers-out.csv"; CALLEES="$TMP/callees.csv"
{
  echo "SEQUENTIAL"
  for ((i = 0; i < PAIRS; i++)); do
    echo "$((FIRST_CALLER + i));pw$((FIRST_CALLER + i));$DOMAIN;$((FIRST_CALLEE + i))"
  done
} > "$CALLERS"
{
  echo "SEQUENTIAL"
  for ((i = 0; i < PAIRS; i++)); do
    echo "$((FIRST_CALLER + i));pw$((FIRST_CALLER + i));$DOMAIN;00$((FIRST_NUMBER + i))"
  done
} > "$CALLERS_OUT"
{
  echo "SEQUENTIAL"
  for ((i = 0; i < PAIRS; i++)); do echo "$((FIRST_CALLEE + i));pw$((FIRST_CALLEE + i));$DOMAIN"; done
} > "$CALLEES"

# ---------------------------------------------------------------- the node
# tenant, callers and callees (bench/lib.sh), then the trunk and its one outbound rule
actorpbx_provision() {
  shell_provision 120 "$FIRST_CALLER:$PAIRS" "$FIRST_CALLEE:$PAIRS"
  shell_run 30 \
    "trunk add $DOMAIN carrier auth_mode=IP_AUTH host=$CARRIER_IP port=$CARRIER_PORT keep_alive=no caller_id=15550000000" \
    "outbound add $DOMAIN intl priority=10 prefix=00 route=carrier:2:+:$ROUTE_CALLER_ID"
  echo "  trunk carrier (IP_AUTH, $CARRIER_IP:$CARRIER_PORT), outbound rule intl (prefix 00, strip 2, prepend +, caller ID $ROUTE_CALLER_ID)"
}

# One call through the trunk, the carrier logging what it gets: the Request-URI must be
# sip:+<number>@carrier and the From user the route's caller ID.
probe_trunk() {
  local dir="$TMP/probe-trunk"; mkdir -p "$dir"
  start_sipp_uas "$dir" uas "$CALLS_DIR/uas_load.xml" "$CARRIER_IP" "$CARRIER_PORT" 1 30 \
      -trace_msg -message_file "$dir/carrier-msg.log" || return 1
  local rc=0
  sipp_client "$dir" 20 -sf "$CALLS_DIR/uac_load.xml" -inf "$CALLERS_OUT" -t u1 -i 127.0.0.1 \
      -p "$UAC_PORT" -m 1 || rc=$?
  finish_uas
  python3 - "$dir/carrier-msg.log" "+$FIRST_NUMBER@$CARRIER_IP:$CARRIER_PORT" "$ROUTE_CALLER_ID" "$rc" <<'PY'
import re, sys
path, want_uri, want_from, rc = sys.argv[1:]
try:
    text = open(path, errors="replace").read()
except OSError:
    text = ""
m = re.search(r"^INVITE sip:(\S+) SIP/2\.0\r?\n(.*?)\r?\n\r?\n", text, re.M | re.S)
if not m:
    sys.exit("  probe: the carrier got no INVITE (caller sipp exit %s)" % rc)
frm = next((l for l in m.group(2).splitlines() if l.lower().startswith(("from:", "f:"))), "")
print("  probe: the carrier got INVITE sip:%s, %s (caller sipp exit %s)" % (m.group(1), frm.strip(), rc))
if m.group(1) != want_uri or "sip:%s@" % want_from not in frm or rc != "0":
    sys.exit("  probe: expected sip:%s from %s and a completed call" % (want_uri, want_from))
PY
}

prepare_node() {
  start_server actorpbx || return 1
  local code; code="$(probe_invite "${SERVER_TARGET%:*}" "${SERVER_TARGET##*:}")"
  [ "$code" = 407 ] || { echo "  INVITE probe answered $code (expected 407)" >&2; return 1; }
  case " $PATHS " in *" internal "*) register_callees actorpbx || return 1 ;; esac
  case " $PATHS " in *" trunk "*) probe_trunk || return 1 ;; esac
}

# ---------------------------------------------------------------- one load step
# run_step PATH RATE: writes to $STEP_LINE
#   rate calls ok failed achieved cpu_pct rss_kb pss_kb udp_drops sipp_rc uas_failed cpu_ticks
#   sipp_pct machine_pct others_pct
# sipp_pct: the SIPp caller and callee/carrier; machine_pct: the whole machine's busy time;
# others_pct: machine - node - SIPp, what other processes used (another helper's build...); all
# in % of one core over the step.
# (not run in $(...): the UAS PID must reach STARTED_PIDS of this shell)
run_step() {
  local path=$1 rate=$2
  local calls=$((rate * DURATION)) dir="$TMP/step-$1-$2-$DURATION"
  mkdir -p "$dir"
  local tmo=$((DURATION * 3 + CALL_MS / 1000 + 30)) inf ip port
  if [ "$path" = internal ]; then inf=$CALLERS ip=127.0.0.1 port=$UAS_PORT
  else inf=$CALLERS_OUT ip=$CARRIER_IP port=$CARRIER_PORT; fi
  # the UAS gets some slack in -m: a stray message (e.g. an ACK after its call ended) counts as a call
  start_sipp_uas "$dir" uas "$CALLS_DIR/uas_load.xml" "$ip" "$port" $((calls + calls / 100 + 10)) $((tmo + 15)) || return 1
  local rc=0 g0 g1
  g0="$(children_ticks)"
  sample_start
  # bounded: -m calls, whole run at most tmo s, each message 5 s
  sipp_client "$dir" "$tmo" -sf "$CALLS_DIR/uac_load.xml" -inf "$inf" -t u1 -i 127.0.0.1 -p "$UAC_PORT" \
      -r "$rate" -rp 1000 -m "$calls" -l $((rate * (CALL_MS / 1000 + 5))) -d "$CALL_MS" -pause_msg_ign || rc=$?
  sample_end
  finish_uas
  g1="$(children_ticks)"   # the UAC and the UAS (both waited for by now)
  local uas; uas="$(sipp_counts "$dir/uas-stat.csv")"
  local m; m="$(machine_pct)"
  local gen; gen="$(awk -v g=$((g1 - g0)) -v hz="$HZ" -v t0="$S_T0" -v t1="$S_T1" 'BEGIN{printf "%d", g / hz / (t1 - t0) * 100}')"
  local line; line="$(step_line "$dir/stat.csv" "$rate" "$calls" "$rc" 1 "$uas")"
  set -- $line
  echo "$line $((S_C1 - S_C0)) $gen $m $((m - $6 - gen))"
} > "$STEP_LINE"

print_step() {  # PATH VERDICT rate calls ok failed achieved cpu rss pss drops rc uas_failed ticks sipp machine others
  local p=$1 verdict=$2; shift 2
  local per1k="-"
  [ "$3" -gt 0 ] && per1k="$(awk -v t="${12}" -v hz="$HZ" -v ok="$3" 'BEGIN{printf "%.3f", t / hz / ok * 1000}')"
  printf '  %-8s rate %5d/s  calls %6d  ok %6d  failed %5d  achieved %5d/s  cpu %4d%%  cpu-s/1000 calls %6s  sipp %3d%%  others %3d%%  rss %7d kB  udp-drops %d  uas-failed %d  %s\n' \
    "$p" "$1" "$2" "$3" "$4" "$5" "$6" "$per1k" "${13}" "${15}" "$7" "$9" "${11}" "$verdict"
}

# ---------------------------------------------------------------- the climb, both paths at each rate
climb() {
  declare -A best active
  local p rate k=0 order line verdict w=$(( START_RATE < 500 ? START_RATE : 500 )) keep=$DURATION
  DURATION=2   # warm-up: a short step of each path at a low rate (not measured)
  for p in $PATHS; do
    if run_step "$p" "$w"; then set -- $(cat "$STEP_LINE"); echo "  warm-up $p ${w}/s x 2 s: ok $3 failed $4"; fi
    sleep 1
  done
  DURATION=$keep
  for p in $PATHS; do best[$p]=0; active[$p]=capped; done   # capped: no step failed yet
  rate=$START_RATE
  while [ "$rate" -le "$MAX_RATE" ]; do
    # alternate which path goes first: the second one follows the other's step at the same rate
    if [ $((k % 2)) -eq 0 ]; then order="$PATHS"; else order="$(echo $PATHS | awk '{for(i=NF;i>0;i--) printf "%s ", $i}')"; fi
    for p in $order; do
      [ -n "${active[$p]}" ] || continue
      if ! run_step "$p" "$rate"; then active[$p]=""; continue; fi
      line="$(cat "$STEP_LINE")"
      set -- $line
      verdict="$(awk -v c="$2" -v f="$4" -v a="$5" -v r="$rate" 'BEGIN{print (f*1000 < c && a*10 >= r*9) ? "pass" : "FAIL"}')"
      print_step "$p" "$verdict" $line
      echo "$p step $line $verdict" >> "$RESULTS"
      if [ "$verdict" = pass ]; then best[$p]=$rate; else active[$p]=""; fi
      sleep 2
    done
    local still=""
    for p in $PATHS; do [ -n "${active[$p]}" ] && still=1; done
    [ -n "$still" ] || break
    if [ "$STEP" -gt 0 ]; then rate=$((rate + STEP)); else rate=$((rate * 2)); fi
    k=$((k + 1))
  done
  for p in $PATHS; do echo "$p best ${best[$p]} ${active[$p]}" >> "$RESULTS"; done
}

# ---------------------------------------------------------------- the decision bench
decide() {
  local bin="${BENCH_DECIDE_BIN:-$ROOT/build/bench_trunk_decide}" n out
  if [ ! -x "$bin" ] && [ -z "${BENCH_DECIDE_BIN:-}" ] && [ -f "$ROOT/build/CMakeCache.txt" ]; then
    echo "  building bench_trunk_decide in $ROOT/build (-j2)"
    cmake --build "$ROOT/build" --target bench_trunk_decide -j 2 > "$TMP/decide-build.log" 2>&1 ||
      { tail -20 "$TMP/decide-build.log" >&2; }
  fi
  [ -x "$bin" ] || { echo "  skipped: $bin not found (set BENCH_DECIDE_BIN)"; return 0; }
  for n in $( [ "$RULES" -eq 10 ] && echo 10 || echo "$RULES 10"); do
    out="$(timeout 300 "$bin" "$n" "$DECIDE_CALLS")" || { echo "  $bin $n $DECIDE_CALLS failed: $out" >&2; continue; }
    echo "  $out"
    echo "decide $out" >> "$RESULTS"
  done
}

# ---------------------------------------------------------------- main
load1() { cut -d' ' -f1 /proc/loadavg; }
busy_load() { awk -v l="$(load1)" 'BEGIN{exit !(l >= 1.0)}'; }
waited=0
while busy_load && [ "$waited" -lt "$IDLE_WAIT" ]; do
  [ "$waited" -eq 0 ] && echo "load average $(load1) >= 1.0: waiting up to ${IDLE_WAIT}s for the machine to be idle"
  sleep 10; waited=$((waited + 10))
done
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
busy_load && LOAD_NOTE="UNDER LOAD" || LOAD_NOTE="idle"
echo "bench/trunk: paths $PATHS, $PAIRS callers in $DOMAIN, ${DURATION}s per step, rates $START_RATE..$MAX_RATE" \
     "($([ "$STEP" -gt 0 ] && echo "+$STEP" || echo "x2")), call hold ${CALL_MS} ms, UDP, $(nproc) cores," \
     "load average $LOAD_START ($LOAD_NOTE)"
echo "hz $HZ" >> "$RESULTS"

if [ ! -x "$ACTORPBX_BIN" ]; then
  echo "== calls: skipped ($ACTORPBX_BIN not found; set ACTORPBX_BIN)"
else
  echo "== calls"
  if prepare_node; then
    climb
    stop_pid "$SERVER_PID"
  else
    echo "  the node could not be readied: calls skipped" >&2
    [ -n "${SERVER_PID:-}" ] && stop_pid "$SERVER_PID"
  fi
fi
if [ "$RULES" -gt 0 ]; then
  echo "== outbound decision time (bench_trunk_decide $RULES and 10 rules, $DECIDE_CALLS decisions)"
  decide
fi

# ---------------------------------------------------------------- summary
python3 - "$RESULTS" "$MAX_RATE" "$LOAD_START" "$LOAD_NOTE" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import sys
path, max_rate, load0, note, load1 = sys.argv[1:]
hz, best, capped, steps, decide = 100, {}, {}, {}, []
for l in open(path):
    p = l.split()
    if p[0] == "hz":
        hz = int(p[1])
    elif p[0] == "decide":
        decide.append(dict(kv.split("=", 1) for kv in p[1:]))
    elif p[1] == "best":
        best[p[0]], capped[p[0]] = int(p[2]), len(p) > 3
    elif p[1] == "step":
        f = p[2:]
        steps.setdefault(p[0], {})[int(f[0])] = {
            "calls": int(f[1]), "ok": int(f[2]), "failed": int(f[3]), "achieved": int(f[4]),
            "cpu": int(f[5]), "rss": int(f[6]), "pss": int(f[7]), "ticks": int(f[11]),
            "sipp": int(f[12]), "machine": int(f[13]), "others": int(f[14]),
            "pass": f[-1] == "pass"}
def per1k(s):
    return s["ticks"] / float(hz) / s["ok"] * 1000 if s["ok"] else None
print()
if best:
    print("%-9s %14s %7s %9s %9s %18s %14s" % ("path", "max calls/s", "cpu %", "rss MB", "pss MB",
                                             "cpu-s/1000 calls", "calls/cpu-s"))
for name in ("internal", "trunk"):
    if name not in best:
        continue
    s = steps.get(name, {}).get(best[name])
    if not s or not s["pass"]:
        print("%-9s %14s" % (name, "none passed"))
        continue
    rate = (">= %d" if capped[name] else "%d") % best[name]
    print("%-9s %14s %7d %9.1f %9.1f %18.3f %14.0f" % (
        name, rate, s["cpu"], s["rss"] / 1024.0, s["pss"] / 1024.0, per1k(s),
        1000.0 / per1k(s)))
for name in best:
    if capped[name]:
        print("note: %s did not fail up to --max-rate %s: its figure is a lower bound" % (name, max_rate))
common = sorted(r for r in steps.get("internal", {}) if r in steps.get("trunk", {})
                and steps["internal"][r]["pass"] and steps["trunk"][r]["pass"])
if common:
    print()
    print("server cpu seconds per 1,000 calls at the rates both passed:")
    for r in common:
        i, t = per1k(steps["internal"][r]), per1k(steps["trunk"][r])
        print("  %5d/s  internal %.3f  trunk %.3f  trunk/internal %.2f   (others %d%% / %d%%)"
              % (r, i, t, t / i, steps["internal"][r]["others"], steps["trunk"][r]["others"]))
    r = common[-1]
    i, t = per1k(steps["internal"][r]), per1k(steps["trunk"][r])
    print("cpu per call trunk/internal at %d/s (highest common rate) = %.2f" % (r, t / i))
if best.get("internal") and best.get("trunk"):
    rel = ""
    if capped["trunk"] and not capped["internal"]:
        rel = ">= "
    elif capped["internal"] and not capped["trunk"]:
        rel = "<= "
    if capped["trunk"] and capped["internal"]:
        print("max rate trunk/internal = n/a (both passed every rate up to --max-rate %s)" % max_rate)
    else:
        print("max rate trunk/internal = %s%.2f" % (rel, best["trunk"] / float(best["internal"])))
elif len(best) == 2:
    print("max rate trunk/internal = n/a (a path passed no step)")
for d in decide:
    print("outbound decision, %s rules: p50 %.2f us, p99 %.2f us, max %.1f us (%s calls, %s routed)"
          % (d["rules"], int(d["p50_ns"]) / 1000.0, int(d["p99_ns"]) / 1000.0,
             int(d["max_ns"]) / 1000.0, d["calls"], d["routed"]))
print("load average at start %s (%s), at the end %s" % (load0, note, load1))
PY
