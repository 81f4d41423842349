// Prints the metrics text of a fixed state, for metrics_parse.py to read
// with Prometheus' own parser.

#include <chrono>
#include <cstdio>
#include <future>
#include <memory>

#include <caf/all.hpp>

#include "engine/context.hpp"
#include "engine/directory.hpp"
#include "engine/metrics.hpp"

using namespace pbx;

namespace {

caf::behavior probed(caf::event_based_actor*, std::size_t depth,
                     std::shared_ptr<std::promise<void>> answered) {
  return {
    [=](const metrics::mailbox_probe& p) {
      metrics::answer(p, depth);
      answered->set_value();
    },
  };
}

} // namespace

int main() {
  for (int i = 0; i < 3; ++i)
    metrics::register_response(200);
  metrics::register_response(401);
  metrics::register_response(423);
  metrics::call_ended(200);
  metrics::call_ended(200);
  metrics::call_ended(487);
  metrics::rule_decision("exception:3");
  metrics::rule_decision("available_non_office_hours");
  metrics::lmdb_commit(120'000);
  metrics::lmdb_commit(4'000'000);
  metrics::lmdb_commit(9'000'000'000);
  metrics::sip_loop_lag(0);
  metrics::api_request(200);
  metrics::api_request(401);
  metrics::binding_share bindings;
  bindings.set(5);

  local_directory dir;
  node_context ctx;
  ctx.dir = &dir;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto t_done = std::make_shared<std::promise<void>>();
  auto e_done = std::make_shared<std::promise<void>>();
  auto t = sys.spawn(probed, 3, t_done);
  auto e = sys.spawn(probed, 12, e_done);
  dir.register_first_wins("t/quote\"back\\slash\nline.test", t);
  dir.register_first_wins("e/example.test/101", e);
  metrics_text(ctx, sys); // the probes go out
  t_done->get_future().wait_for(std::chrono::seconds(5));
  e_done->get_future().wait_for(std::chrono::seconds(5));
  std::fputs(metrics_text(ctx, sys).c_str(), stdout);
  caf::anon_send_exit(t, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(e, caf::exit_reason::user_shutdown);
  return 0;
}
