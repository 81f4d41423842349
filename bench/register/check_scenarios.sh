#!/usr/bin/env bash
# bench/register/check_scenarios.sh: run the REGISTER scenarios of tests/e2e/sipp against Kamailio
# (the in-memory registrar of kamailio.cfg.in), to show they pass against a known-good registrar
# and fail when the answer is wrong. Not a test of actorpbx (that is tests/e2e/test_sipp_register.py).
#
#   bench/register/check_scenarios.sh        # exit 0 when every check gives the expected result
#
# Kamailio serves domain example.test, password of user U = secretU; loopback only; every sipp
# run is bounded; only the Kamailio PID started here is stopped; the temp dir is removed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SIPP_DIR="$(cd "$HERE/../../tests/e2e/sipp" && pwd)"
PORT="${CHECK_KAMAILIO_PORT:-25170}"
SIPP_PORT="${CHECK_SIPP_PORT:-25199}"
TMP="$(mktemp -d /tmp/check-scenarios.XXXXXX)"
KPID=""

cleanup() {
  if [ -n "$KPID" ] && kill -0 "$KPID" 2>/dev/null; then
    kill -TERM "$KPID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$KPID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$KPID" 2>/dev/null && kill -KILL "$KPID" 2>/dev/null || true
    wait "$KPID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

sed -e "s/@LISTEN_IP@/127.0.0.1/g" -e "s/@PORT@/$PORT/g" -e "s/@CHILDREN@/2/g" \
    -e "s/@DOMAIN@/example.test/g" -e "s/@PW_PREFIX@/secret/g" "$HERE/kamailio.cfg.in" > "$TMP/k.cfg"
kamailio -c -f "$TMP/k.cfg" > "$TMP/check.log" 2>&1 || { cat "$TMP/check.log"; exit 1; }
kamailio -f "$TMP/k.cfg" -DD -E -Y "$TMP" -P "$TMP/k.pid" -x tlsf -m 64 -M 8 > "$TMP/k.log" 2>&1 &
KPID=$!
for _ in $(seq 1 50); do ss -H -lnu "( sport = :$PORT )" | grep -q . && break; sleep 0.1; done

FAILS=0
n=7000
# check SCENARIO TRANSPORT NUMBER;PASSWORD;DOMAIN EXPECT(pass|fail) [DESCRIPTION]
check() {
  local sc=$1 t=$2 line=$3 want=$4 what=${5:-} rc=0 dom got
  dom="${line##*;}"
  printf 'SEQUENTIAL\n%s\n' "$line" > "$TMP/inf.csv"
  ( cd "$TMP" && timeout 40 sipp -sf "$SIPP_DIR/$sc.xml" -inf "$TMP/inf.csv" -auth_uri "$dom" -t "$t" \
      -i 127.0.0.1 -p "$SIPP_PORT" -m 1 -timeout 15s -timeout_error -nostdin \
      "127.0.0.1:$PORT" > "$TMP/sipp.out" 2>&1 ) || rc=$?
  got=pass; [ "$rc" -eq 0 ] || got=fail
  if [ "$got" = "$want" ]; then r=ok; else r=WRONG; FAILS=$((FAILS + 1)); fi
  printf '%-5s %-24s %-3s %-32s expect %-4s got %-4s (sipp rc %s) %s\n' "$r" "$sc" "$t" "$line" "$want" "$got" "$rc" "$what"
}
u() { echo "$1;secret$1;${2:-example.test}"; }   # injection line for user number $1

for t in u1 t1; do
  b=$n; n=$((n + 100))                          # fresh user numbers per transport
  check register_digest         "$t" "$(u $((b + 1)))" pass
  check register_wrong_password "$t" "$(u $((b + 2)))" pass
  check unregister              "$t" "$(u $((b + 3)))" pass
  check fetch                   "$t" "$(u $((b + 4)))" pass
  check two_bindings            "$t" "$(u $((b + 5)))" pass "(leaves 2 bindings)"
  check min_expires             "$t" "$(u $((b + 6)))" pass
  check unknown_domain          "$t" "$(u $((b + 7)) nowhere.test)" pass
  # wrong answers must make the scenarios fail
  check register_digest         "$t" "$((b + 8));bad;example.test" fail "(403 instead of 200)"
  check fetch                   "$t" "$((b + 9));bad;example.test" fail "(403 instead of 200)"
  check unknown_domain          "$t" "$(u $((b + 10)))" fail "(401 instead of 404)"
  check register_wrong_password "$t" "$(u $((b + 11)) nowhere.test)" fail "(404 instead of 401/403)"
  check min_expires             "$t" "$(u $((b + 12)) nowhere.test)" fail "(404 instead of 401/423)"
  check unregister              "$t" "$(u $((b + 5)))" fail "(the two other bindings are still listed)"
done

echo "wrong results: $FAILS"
[ "$FAILS" -eq 0 ]
