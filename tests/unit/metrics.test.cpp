#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <caf/all.hpp>

#include "actors/extension.hpp"
#include "actors/tenant.hpp"
#include "actors/messages/directory.hpp"
#include "engine/context.hpp"
#include "engine/directory.hpp"
#include "engine/metrics.hpp"
#include "storage/commit_observer.hpp"
#include "storage/store.hpp"
#include "storage/test_support.hpp"
#include "tests/unit/no_sip.hpp"

using namespace pbx;
using storage::test::make_ext;
using storage::test::temp_dir;

namespace {

// The lines of `text` from `# HELP name` up to the next family.
std::string family_of(const std::string& text, const std::string& name) {
  auto start = text.find("# HELP " + name + " ");
  if (start == std::string::npos)
    return {};
  auto end = text.find("# HELP ", start + 1);
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// The value of the sample whose name and labels are exactly `series`; -1: none.
double value_of(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos)
    return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

// Stands in for a domain actor: answers probes with a depth it is told.
caf::behavior probed(caf::event_based_actor* self, std::size_t depth,
                     std::shared_ptr<std::promise<void>> answered) {
  return {
    [=](const metrics::mailbox_probe& p) {
      metrics::answer(p, depth);
      answered->set_value();
    },
  };
}

struct fixture {
  local_directory dir;
  node_context ctx;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  fixture() {
    metrics::reset();
    ctx.dir = &dir;
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

} // namespace

TEST_CASE("metrics: counters, labelled counters, gauges and the histogram, exactly",
          "[metrics]") {
  fixture f;
  metrics::register_response(200);
  metrics::register_response(200);
  metrics::register_response(401);
  metrics::register_response(99);  // not a status code: not counted
  metrics::call_ended(486);
  metrics::api_request(404);
  metrics::rule_decision("exception:7");
  metrics::rule_decision("busy_no_answer");
  metrics::rule_decision("no_such_slot");
  metrics::lmdb_commit(50'000);        // 0.00005 s: first bucket
  metrics::lmdb_commit(1'000'000);     // 0.001 s: le is inclusive
  metrics::lmdb_commit(3'000'000'000); // 3 s: above every bound
  metrics::binding_share a, b;
  a.set(2);
  b.set(3);
  b.set(1);
  auto text = metrics_text(f.ctx, *f.sys);

  CHECK(family_of(text, "actorpbx_registrations")
        == "# HELP actorpbx_registrations Live bindings (registered contacts) on the node.\n"
           "# TYPE actorpbx_registrations gauge\n"
           "actorpbx_registrations 3\n");
  CHECK(family_of(text, "actorpbx_register_responses_total")
        == "# HELP actorpbx_register_responses_total Final responses to REGISTER, by code.\n"
           "# TYPE actorpbx_register_responses_total counter\n"
           "actorpbx_register_responses_total{code=\"200\"} 2\n"
           "actorpbx_register_responses_total{code=\"401\"} 1\n");
  CHECK(family_of(text, "actorpbx_calls_total")
        == "# HELP actorpbx_calls_total Calls ended, by the final SIP code the caller got "
           "(200 = answered).\n"
           "# TYPE actorpbx_calls_total counter\n"
           "actorpbx_calls_total{code=\"486\"} 1\n");
  CHECK(value_of(text, "actorpbx_api_requests_total{status=\"404\"}") == 1);
  CHECK(value_of(text, "actorpbx_rule_decisions_total{slot=\"exception\"}") == 1);
  CHECK(value_of(text, "actorpbx_rule_decisions_total{slot=\"busy_no_answer\"}") == 1);
  CHECK(value_of(text, "actorpbx_rule_decisions_total{slot=\"available_office_hours\"}") == 0);
  CHECK(family_of(text, "actorpbx_lmdb_commit_seconds")
        == "# HELP actorpbx_lmdb_commit_seconds LMDB write-transaction commit latency.\n"
           "# TYPE actorpbx_lmdb_commit_seconds histogram\n"
           "actorpbx_lmdb_commit_seconds_bucket{le=\"0.0001\"} 1\n"
           "actorpbx_lmdb_commit_seconds_bucket{le=\"0.00025\"} 1\n"
           "actorpbx_lmdb_commit_seconds_bucket{le=\"0.0005\"} 1\n"
           "actorpbx_lmdb_commit_seconds_bucket{le=\"0.001\"} 2\n"
           "actorpbx_lmdb_commit_seconds_bucket{le=\"0.0025\"} 2\n"
           "actorpbx_lmdb_commit_seconds_bucket{le=\"0.005\"} 2\n"
           "actorpbx_lmdb_commit_seconds_bucket{le=\"0.01\"} 2\n"
           "actorpbx_lmdb_commit_seconds_bucket{le=\"0.025\"} 2\n"
           "actorpbx_lmdb_commit_seconds_bucket{le=\"0.05\"} 2\n"
           "actorpbx_lmdb_commit_seconds_bucket{le=\"0.1\"} 2\n"
           "actorpbx_lmdb_commit_seconds_bucket{le=\"0.25\"} 2\n"
           "actorpbx_lmdb_commit_seconds_bucket{le=\"0.5\"} 2\n"
           "actorpbx_lmdb_commit_seconds_bucket{le=\"1\"} 2\n"
           "actorpbx_lmdb_commit_seconds_bucket{le=\"2.5\"} 2\n"
           "actorpbx_lmdb_commit_seconds_bucket{le=\"+Inf\"} 3\n"
           "actorpbx_lmdb_commit_seconds_sum 3.00105\n"
           "actorpbx_lmdb_commit_seconds_count 3\n");
  CHECK(family_of(text, "actorpbx_sip_loop_lag_seconds")
        == "# HELP actorpbx_sip_loop_lag_seconds The SIP thread's event-loop lag, the largest "
           "over the last second.\n"
           "# TYPE actorpbx_sip_loop_lag_seconds gauge\n"
           "actorpbx_sip_loop_lag_seconds 0\n");
  // Every family of the spec, each once, and the text ends with a line feed.
  for (auto* name : {"actorpbx_registrations", "actorpbx_calls_live", "actorpbx_calls_total",
                     "actorpbx_register_responses_total", "actorpbx_rule_decisions_total",
                     "actorpbx_lmdb_commit_seconds", "actorpbx_actors", "actorpbx_live_actors",
                     "actorpbx_mailbox_depth", "actorpbx_sip_loop_lag_seconds",
                     "actorpbx_api_requests_total"}) {
    auto type = std::string{"# TYPE "} + name + " ";
    CHECK(text.find(type) != std::string::npos);
    CHECK(text.find(type) == text.rfind(type));
  }
  CHECK(text.back() == '\n');
}

TEST_CASE("metrics: a binding share is given back when its extension goes", "[metrics]") {
  fixture f;
  {
    metrics::binding_share s;
    s.set(4);
    CHECK(value_of(metrics_text(f.ctx, *f.sys), "actorpbx_registrations") == 4);
  }
  CHECK(value_of(metrics_text(f.ctx, *f.sys), "actorpbx_registrations") == 0);
}

TEST_CASE("metrics: the SIP loop lag is the largest of the last second", "[metrics]") {
  fixture f;
  metrics::sip_loop_lag(3'000'000);
  metrics::sip_loop_lag(250'000);
  CHECK(value_of(metrics_text(f.ctx, *f.sys), "actorpbx_sip_loop_lag_seconds") >= 0.003);
  for (int i = 0; i < 10; ++i) // a second of punctual ticks pushes it out
    metrics::sip_loop_lag(1'000);
  CHECK(value_of(metrics_text(f.ctx, *f.sys), "actorpbx_sip_loop_lag_seconds") < 0.003);
}

TEST_CASE("metrics: live domain actors and their mailboxes, by directory key", "[metrics]") {
  fixture f;
  auto answered_t = std::make_shared<std::promise<void>>();
  auto answered_e = std::make_shared<std::promise<void>>();
  auto answered_c = std::make_shared<std::promise<void>>();
  auto t = f.sys->spawn(probed, 0, answered_t);
  auto e = f.sys->spawn(probed, 7, answered_e);
  auto c = f.sys->spawn(probed, 2, answered_c);
  f.dir.register_first_wins("t/we\"ird\\domain", t);
  f.dir.register_first_wins("e/we\"ird\\domain/101", e);
  f.dir.register_first_wins("c/1-5", c);
  auto first = metrics_text(f.ctx, *f.sys); // sends the probes
  CHECK(family_of(first, "actorpbx_mailbox_depth").find("\nactorpbx_mailbox_depth{")
        == std::string::npos);
  CHECK(value_of(first, "actorpbx_calls_live") == 1);
  CHECK(value_of(first, "actorpbx_live_actors{kind=\"tenant\"}") == 1);
  CHECK(value_of(first, "actorpbx_live_actors{kind=\"extension\"}") == 1);
  CHECK(value_of(first, "actorpbx_live_actors{kind=\"call\"}") == 1);
  CHECK(value_of(first, "actorpbx_actors") >= 3);
  for (auto* p : {&answered_t, &answered_e, &answered_c})
    REQUIRE((*p)->get_future().wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  // Largest first; an empty mailbox is not among the busiest; labels escaped.
  CHECK(family_of(metrics_text(f.ctx, *f.sys), "actorpbx_mailbox_depth")
        == "# HELP actorpbx_mailbox_depth Queued messages of the 5 busiest domain actors "
           "(probed at the previous scrape).\n"
           "# TYPE actorpbx_mailbox_depth gauge\n"
           "actorpbx_mailbox_depth{actor=\"e/we\\\"ird\\\\domain/101\"} 7\n"
           "actorpbx_mailbox_depth{actor=\"c/1-5\"} 2\n");
  for (auto& a : {t, e, c})
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

namespace {

// Blocks in its first message until released: what follows it queues up.
caf::behavior slow(caf::event_based_actor* self, std::shared_future<void> release,
                   std::shared_ptr<std::promise<std::size_t>> depth) {
  return {
    [=](int) { release.wait(); },
    [=](const metrics::mailbox_probe& p) {
      auto n = self->mailbox().size();
      metrics::answer(p, n);
      depth->set_value(n);
    },
  };
}

} // namespace

TEST_CASE("metrics: a probe overtakes a queue and counts it", "[metrics]") {
  fixture f;
  std::promise<void> release;
  auto depth = std::make_shared<std::promise<std::size_t>>();
  auto a = f.sys->spawn(slow, release.get_future().share(), depth);
  f.dir.register_first_wins("e/q.test/101", a);
  for (int i = 0; i < 11; ++i)
    caf::anon_send(a, i);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  metrics_text(f.ctx, *f.sys);
  release.set_value();
  auto got = depth->get_future();
  REQUIRE(got.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  auto n = got.get();
  // The first message was being handled; at most a round's few others were
  // taken before the probe's round.
  CHECK(n >= 7);
  CHECK(n <= 10);
  CHECK(value_of(metrics_text(f.ctx, *f.sys), "actorpbx_mailbox_depth{actor=\"e/q.test/101\"}")
        == static_cast<double>(n));
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

TEST_CASE("metrics: storage reports every write commit to its observer", "[metrics]") {
  fixture f;
  temp_dir dir;
  storage::set_commit_observer(&metrics::lmdb_commit);
  auto store = storage::store::open(dir.path, {}, nullptr);
  REQUIRE(store);
  auto before = value_of(metrics_text(f.ctx, *f.sys), "actorpbx_lmdb_commit_seconds_count");
  storage::batch b;
  b.put(make_ext("m.test", "101"));
  REQUIRE(store->write(std::move(b)).empty());
  CHECK(store->extension("m.test", "101")); // reads commit nothing
  auto text = metrics_text(f.ctx, *f.sys);
  CHECK(value_of(text, "actorpbx_lmdb_commit_seconds_count") == before + 1);
  CHECK(value_of(text, "actorpbx_lmdb_commit_seconds_bucket{le=\"+Inf\"}") == before + 1);
  CHECK(value_of(text, "actorpbx_lmdb_commit_seconds_sum") > 0);
  storage::set_commit_observer(nullptr);
}

TEST_CASE("metrics: a tenant counts the bindings it brings back and drops the expired",
          "[metrics]") {
  fixture f;
  temp_dir dir;
  auto store = storage::store::open(dir.path, {}, nullptr);
  REQUIRE(store);
  test::no_sip sip;
  std::atomic<std::int64_t> now{1'800'000'000};
  f.ctx.store = store.get();
  f.ctx.sip = &sip;
  f.ctx.now = [&now] { return now.load(); };
  f.ctx.idle_passivation = std::chrono::seconds(600);
  storage::batch b;
  storage::tenant_record t;
  t.domain = "r.test";
  b.put(t);
  b.put(make_ext("r.test", "101"));
  for (auto [contact, expires] : {std::pair{"sip:a@1.2.3.4", now + 60},
                                  std::pair{"sip:b@1.2.3.4", now + 3600},
                                  std::pair{"sip:gone@1.2.3.4", now - 1}}) {
    storage::binding_record r;
    r.domain = "r.test";
    r.number = "101";
    r.contact = contact;
    r.expires_at = expires;
    b.put(r);
  }
  REQUIRE(store->write(std::move(b)).empty());
  auto registrations = [&] {
    return value_of(metrics_text(f.ctx, *f.sys), "actorpbx_registrations");
  };
  auto until = [&](double want) {
    for (int i = 0; i < 500 && registrations() != want; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return registrations();
  };
  auto tenant = f.sys->spawn(tenant_actor, &f.ctx, t);
  CHECK(until(2) == 2); // the expired one is not brought back
  now += 60;            // sip:a runs out; the tenant's next tick drops it
  CHECK(until(1) == 1);
  for (int i = 0; i < 500 && store->bindings("r.test", "101").size() != 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(store->bindings("r.test", "101").size() == 1); // and from storage too
  caf::anon_send_exit(tenant, caf::exit_reason::user_shutdown);
  CHECK(until(0) == 0); // a tenant that ends gives its bindings back
}
