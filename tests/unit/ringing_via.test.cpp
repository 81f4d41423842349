// A cluster: the B leg to a phone leaves through the node holding its flow;
// when that node is gone, a UDP phone is reached from here and a TCP one is
// unreachable (480 at once, not at the no-answer timeout).

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include <caf/all.hpp>

#include "actors/ringing.hpp"
#include "engine/leg_command.hpp"
#include "engine/message_types.hpp"
#include "engine/node_id.hpp"
#include "engine/sip_port.hpp"

using namespace pbx;

namespace {

struct dial_port final : sip_port {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<std::uint64_t> dialed;
  void leg(leg_command c) override {
    if (c.what != leg_command::op::dial)
      return;
    std::lock_guard<std::mutex> g{mtx};
    dialed.push_back(c.leg);
    cv.notify_all();
  }
  void reply(sip_reply) override {}
  void shell_write(shell_output) override {}
  void guard(guard_command) override {}
  void media(media_command) override {}
  void mwi(mwi_command) override {}
  void trunk(trunk_command) override {}
};

call_target target(const std::string& transport, node_number via) {
  call_target t;
  t.contact = "sip:102@192.0.2.7:5062;transport=" + transport;
  t.flow.ip = "192.0.2.7";
  t.flow.port = 5062;
  t.flow.transport = transport;
  t.flow.node = via;
  return t;
}

} // namespace

TEST_CASE("ringing: a gone node's UDP phone is dialed from here, its TCP phone is not") {
  // Declared before the actor system: its actors use them until it is gone.
  dial_port mine, node5;
  node_context ctx;
  caf::actor_system_config cfg;
  add_message_types(cfg);
  caf::actor_system sys{cfg};
  ctx.node = 1;
  ctx.sip = &mine;
  ctx.remote_sip = [](node_number) -> sip_port* { return nullptr; };
  ctx.remote_router = [](node_number) { return caf::actor{}; }; // node 5 is gone
  caf::scoped_actor call{sys};
  // Rings one target; the node whose port got the dial (0: none within 5 s).
  auto dialed_on = [&](call_target t, dial_port& port) -> node_number {
    ringing_plan plan;
    plan.targets = {std::move(t)};
    plan.no_answer_timeout = 30;
    auto r = sys.spawn(ringing_actor, &ctx, caf::actor{call}, plan);
    std::unique_lock<std::mutex> l{port.mtx};
    bool got = port.cv.wait_for(l, std::chrono::seconds(5), [&] { return !port.dialed.empty(); });
    auto n = got ? node_of(port.dialed[0]) : node_number{0};
    l.unlock();
    caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
    return n;
  };

  SECTION("UDP: the leg is made for this node") {
    CHECK(dialed_on(target("udp", 5), mine) == 1);
  }

  SECTION("TCP only: 480 at once, nothing dialed") {
    ringing_plan plan;
    plan.targets = {target("tcp", 5), target("tls", 5)};
    plan.no_answer_timeout = 30;
    sys.spawn(ringing_actor, &ctx, caf::actor{call}, plan);
    bool failed = false;
    call->receive(
      [&](ring_failed& f) {
        failed = true;
        CHECK(f.code == 480);
        REQUIRE(f.devices.size() == 2);
        CHECK(f.devices[0].code == 480);
      },
      caf::after(std::chrono::seconds(5)) >> [] {});
    CHECK(failed);
    std::lock_guard<std::mutex> g{mine.mtx};
    CHECK(mine.dialed.empty());
  }

  SECTION("a live node's phone is dialed through that node") {
    ctx.remote_router = [&](node_number n) {
      return n == 5 ? caf::actor{call} : caf::actor{}; // any live handle
    };
    ctx.remote_sip = [&](node_number n) -> sip_port* { return n == 5 ? &node5 : nullptr; };
    CHECK(dialed_on(target("tcp", 5), node5) == 5);
  }
}
