#!/usr/bin/env bash
# bench/api/run.sh: the REST API's throughput and latency, and what API load costs SIP.
#
#   bench/api/run.sh [--duration S] [--api-rate N] [--register-opts "..."]
#
# 1. One node (loopback ports), a tenant with 100 extensions imported through the API, an admin
#    token. wrk with 10 connections for --duration seconds (default 10) on
#    GET /api/tenants/bench.test/extensions/100050 and on
#    PUT .../extensions/100050/forwarding/busy_office_hours; requests/s, p50 and p99 latency.
# 2. bench/register/run.sh --only actorpbx twice, side by side in one run: once alone, once while
#    a second wrk keeps --api-rate API requests/s (default 1000: 10 connections, each waiting
#    1000*10/N ms between requests) on GET extension of the node under test. The ratio of the two
#    climbs' best REGISTER rate and REGISTERs per CPU-second is what API load costs SIP.
#
# Builds nothing: actorpbx from $ACTORPBX_BIN or build/engine/actorpbx. Loopback only; every
# load is bounded (wrk -d, the register climb's own bounds); only PIDs started here are stopped.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DURATION=10
API_RATE=1000
REGISTER_OPTS="--max-rate 16000 --start-rate 2000 --duration 5"
usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2" ;;
    --api-rate) API_RATE="$2" ;;
    --register-opts) REGISTER_OPTS="$2" ;;
    -h|--help) usage 0 ;;
    *) usage 2 ;;
  esac
  shift 2
done
for t in wrk python3 sipp; do command -v "$t" >/dev/null || { echo "missing: $t" >&2; exit 1; }; done
ACTORPBX_BIN="${ACTORPBX_BIN:-$ROOT/build/engine/actorpbx}"
[ -x "$ACTORPBX_BIN" ] || { echo "no actorpbx at $ACTORPBX_BIN" >&2; exit 1; }

TMP="$(mktemp -d /tmp/bench-api.XXXXXX)"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PW="bench-api-$$-$RANDOM"
SIP_PORT="${BENCH_API_SIP_PORT:-26060}"
SHELL_PORT="${BENCH_API_SHELL_PORT:-26039}"
API_PORT="${BENCH_API_PORT:-26888}"
REG_API_PORT="${BENCH_API_REGISTER_API_PORT:-26889}"
BASE="http://127.0.0.1:$API_PORT"

# api_setup URL: logs in as admin, prints the token (waits up to 20 s for the API)
api_token() {
  python3 - "$1" "$PW" <<'PY'
import json, sys, time, urllib.request
base, pw = sys.argv[1], sys.argv[2]
deadline = time.monotonic() + 20
while True:
    try:
        req = urllib.request.Request(base + "/api/login", method="POST",
                                     data=json.dumps({"user": "admin", "password": pw}).encode(),
                                     headers={"Content-Type": "application/json"})
        print(json.load(urllib.request.urlopen(req, timeout=5))["token"])
        break
    except Exception as e:
        if time.monotonic() > deadline:
            sys.exit("no API login: %s" % e)
        time.sleep(0.2)
PY
}

# wrk_run NAME SCRIPT URL [extra wrk args]: prints "NAME req/s p50_ms p99_ms errors"
wrk_run() {
  local name=$1 script=$2 url=$3; shift 3
  wrk -t2 -c10 -d"${DURATION}s" --timeout 5s --latency -s "$script" "$@" "$url" > "$TMP/wrk-$name.txt" 2>&1
  python3 - "$name" "$TMP/wrk-$name.txt" <<'PY'
import re, sys
name, text = sys.argv[1], open(sys.argv[2]).read()
def ms(label):
    m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s)\s*$" % label, text, re.M)
    if not m:
        return float("nan")
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
errs = re.search(r"Socket errors:.*", text)
print("  %-22s %9.0f req/s   p50 %7.2f ms   p99 %7.2f ms   non-2xx %s%s" % (
    name, rps, ms("50"), ms("99"), non2xx.group(1) if non2xx else 0,
    "   " + errs.group(0) if errs else ""))
PY
}

cat > "$TMP/get.lua" <<'LUA'
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
LUA
cat > "$TMP/put.lua" <<'LUA'
local numbers = {"300", "301", "302", "303"}
local i = 0
wrk.method = "PUT"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i + 1
  return wrk.format(nil, nil, nil,
    '{"action":"FORWARD_TO_NUMBER","number":"' .. numbers[i % 4 + 1] .. '"}')
end
LUA
# paced: each connection waits DELAY ms between requests (10 connections: 10000/DELAY req/s)
cat > "$TMP/paced.lua" <<LUA
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
function delay() return $((10000 / API_RATE)) end
LUA

echo "bench/api: $(nproc) cores, wrk 10 connections x ${DURATION}s, actorpbx $ACTORPBX_BIN"
# ---------------------------------------------------------------- 1. API alone
mkdir -p "$TMP/node/data"
ACTORPBX_ADMIN_PASSWORD="$PW" "$ACTORPBX_BIN" --data-dir "$TMP/node/data" \
  --sip-listen "127.0.0.1:$SIP_PORT" --shell-listen "127.0.0.1:$SHELL_PORT" \
  --api-listen "127.0.0.1:$API_PORT" --security-allow 127.0.0.0/8 --log-level warn \
  > "$TMP/node/stdout.log" 2> "$TMP/node/stderr.log" &
NODE=$!; PIDS+=("$NODE")
export BENCH_TOKEN; BENCH_TOKEN="$(api_token "$BASE")"
python3 - "$BASE" "$BENCH_TOKEN" <<'PY'
import json, sys, urllib.request
base, token = sys.argv[1], sys.argv[2]
def call(method, path, body):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json",
                                          "Authorization": "Bearer " + token})
    return urllib.request.urlopen(req, timeout=30).status
call("POST", "/api/tenants", {"domain": "bench.test"})
call("POST", "/api/tenants/bench.test/extensions/import",
     [{"extension_number": str(n), "extension_password": "pw%d-secret" % n} for n in range(100000, 100100)])
print("  provisioned bench.test with 100 extensions through the API")
PY
EXT="$BASE/api/tenants/bench.test/extensions/100050"
wrk_run "GET extension" "$TMP/get.lua" "$EXT"
wrk_run "PUT forwarding" "$TMP/put.lua" "$EXT/forwarding/busy_office_hours"
echo "  node after the runs: $(awk '/VmRSS/{print $2, $3}' "/proc/$NODE/status") RSS"
kill "$NODE"; wait "$NODE" 2>/dev/null || true; PIDS=()

# ---------------------------------------------------------------- 2. REGISTER with and without API load
export BENCH_ADMIN_PW="$PW"
export BENCH_ACTORPBX_ARGS="--api-listen 127.0.0.1:$REG_API_PORT"
echo
echo "bench/register alone ($REGISTER_OPTS):"
# shellcheck disable=SC2086
"$ROOT/bench/register/run.sh" --only actorpbx $REGISTER_OPTS | tee "$TMP/alone.txt"

echo
echo "bench/register while the API gets $API_RATE requests/s:"
(
  # the register run starts its node; once its API answers, load it until stopped
  BENCH_TOKEN="$(api_token "http://127.0.0.1:$REG_API_PORT")" || exit 0
  export BENCH_TOKEN
  python3 - "http://127.0.0.1:$REG_API_PORT" "$BENCH_TOKEN" <<'PY'
import sys, time, urllib.request
base, token = sys.argv[1], sys.argv[2]
deadline = time.monotonic() + 60
while time.monotonic() < deadline:   # the tenant is provisioned by the register run
    try:
        urllib.request.urlopen(urllib.request.Request(
            base + "/api/tenants/bench.test/extensions/100050",
            headers={"Authorization": "Bearer " + token}), timeout=5)
        break
    except Exception:
        time.sleep(0.2)
PY
  exec wrk -t1 -c10 -d600s --timeout 5s -s "$TMP/paced.lua" \
    "http://127.0.0.1:$REG_API_PORT/api/tenants/bench.test/extensions/100050" > "$TMP/wrk-paced.txt" 2>&1
) &
LOADER=$!; PIDS+=("$LOADER")
# shellcheck disable=SC2086
"$ROOT/bench/register/run.sh" --only actorpbx $REGISTER_OPTS | tee "$TMP/loaded.txt"
pkill -INT -P "$LOADER" wrk 2>/dev/null || true
kill -INT "$LOADER" 2>/dev/null || true
wait "$LOADER" 2>/dev/null || true
PIDS=()
API_DONE="$(grep -E "requests in" "$TMP/wrk-paced.txt" 2>/dev/null || echo "no wrk summary")"
API_RPS="$(grep -E "Requests/sec" "$TMP/wrk-paced.txt" 2>/dev/null || echo "")"
echo "  API load during the climb: $API_DONE $API_RPS"

python3 - "$TMP/alone.txt" "$TMP/loaded.txt" <<'PY'
import re, sys
def row(path):
    for l in open(path):
        if l.startswith("actorpbx"):
            nums = re.findall(r"[\d.]+", l)
            return float(nums[0]), float(nums[-1])  # best rate, regs per cpu-second
    sys.exit("no summary line in " + path)
(r0, e0), (r1, e1) = row(sys.argv[1]), row(sys.argv[2])
print()
print("REGISTER with API load / alone: best rate %.0f / %.0f = %.2f, per CPU-second %.0f / %.0f = %.2f"
      % (r1, r0, r1 / r0, e1, e0, e1 / e0))
PY
