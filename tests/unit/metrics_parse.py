"""Reads metrics_sample's output with prometheus_client's parser (the
official one) and checks what it understood. Exit 77: no prometheus_client."""
import subprocess
import sys

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    print("prometheus_client is not installed for", sys.executable)
    sys.exit(77)

text = subprocess.run([sys.argv[1]], check=True, capture_output=True, text=True).stdout
families = {f.name: f for f in text_string_to_metric_families(text)}


def samples(name):
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in families[name].samples}


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        print(text)
        sys.exit(1)


# The parser drops _total from a counter family's name.
expected = {
    "actorpbx_registrations": "gauge", "actorpbx_calls_live": "gauge",
    "actorpbx_calls": "counter", "actorpbx_register_responses": "counter",
    "actorpbx_rule_decisions": "counter", "actorpbx_lmdb_commit_seconds": "histogram",
    "actorpbx_actors": "gauge", "actorpbx_live_actors": "gauge",
    "actorpbx_mailbox_depth": "gauge", "actorpbx_sip_loop_lag_seconds": "gauge",
    "actorpbx_api_requests": "counter",
}
for name, kind in expected.items():
    check(name in families, "family " + name)
    check(families[name].type == kind, name + " is a " + kind)
check(len(families) == len(expected), "no other families: %s" % sorted(families))

check(samples("actorpbx_registrations") == {("actorpbx_registrations", ()): 5}, "registrations")
rr = samples("actorpbx_register_responses")
check(rr == {("actorpbx_register_responses_total", (("code", "200"),)): 3,
             ("actorpbx_register_responses_total", (("code", "401"),)): 1,
             ("actorpbx_register_responses_total", (("code", "423"),)): 1}, "register responses")
calls = samples("actorpbx_calls")
check(calls[("actorpbx_calls_total", (("code", "200"),))] == 2, "answered calls")
check(calls[("actorpbx_calls_total", (("code", "487"),))] == 1, "cancelled calls")
rules = samples("actorpbx_rule_decisions")
check(len(rules) == 17, "16 slots and exception")
check(rules[("actorpbx_rule_decisions_total", (("slot", "exception"),))] == 1, "exception")
check(rules[("actorpbx_rule_decisions_total", (("slot", "available_non_office_hours"),))] == 1,
      "slot")

h = samples("actorpbx_lmdb_commit_seconds")
buckets = sorted(((float(dict(k[1])["le"]), v) for k, v in h.items()
                  if k[0] == "actorpbx_lmdb_commit_seconds_bucket"))
counts = [v for _, v in buckets]
check(counts == sorted(counts), "buckets are cumulative")
check(buckets[-1] == (float("inf"), 3), "+Inf holds every commit")
check(h[("actorpbx_lmdb_commit_seconds_count", ())] == 3, "count")
check(abs(h[("actorpbx_lmdb_commit_seconds_sum", ())] - 9.004120) < 1e-9, "sum")
check(dict(buckets)[0.00025] == 1 and dict(buckets)[0.005] == 2 and dict(buckets)[2.5] == 2,
      "bucket boundaries")

live = samples("actorpbx_live_actors")
check(live[("actorpbx_live_actors", (("kind", "tenant"),))] == 1, "tenants")
check(live[("actorpbx_live_actors", (("kind", "extension"),))] == 1, "extensions")
check(live[("actorpbx_live_actors", (("kind", "call"),))] == 0, "calls")
check(samples("actorpbx_actors")[("actorpbx_actors", ())] >= 2, "actors")
depth = samples("actorpbx_mailbox_depth")
check(depth == {("actorpbx_mailbox_depth", (("actor", "e/example.test/101"),)): 12,
                ("actorpbx_mailbox_depth", (("actor", 't/quote"back\\slash\nline.test'),)): 3},
      "mailbox depth, labels unescaped back to the keys: %s" % depth)
check(samples("actorpbx_sip_loop_lag_seconds")[("actorpbx_sip_loop_lag_seconds", ())] < 1,
      "loop lag")
api = samples("actorpbx_api_requests")
check(api == {("actorpbx_api_requests_total", (("status", "200"),)): 1,
              ("actorpbx_api_requests_total", (("status", "401"),)): 1}, "api requests")
print("ok: %d families, %d samples" % (len(families), sum(len(f.samples) for f in families.values())))
