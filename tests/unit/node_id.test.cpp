#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include <caf/all.hpp>

#include "engine/context.hpp"
#include "engine/node_id.hpp"
#include "engine/sip_port.hpp"
#include "engine/sip_port_actor.hpp"

using namespace pbx;

namespace {

struct counting_port final : sip_port {
  int legs = 0, replies = 0;
  void reply(sip_reply) override { ++replies; }
  void leg(leg_command) override { ++legs; }
  void shell_write(shell_output) override {}
  void guard(guard_command) override {}
  void media(media_command) override {}
  void mwi(mwi_command) override {}
  void trunk(trunk_command) override {}
};

} // namespace

TEST_CASE("node ids: the node's number rides in the top 16 bits") {
  CHECK(node_of(qualify(7, 12345)) == 7);
  CHECK((qualify(7, 12345) & local_id_mask) == 12345);
  CHECK(node_of(qualify(65535, local_id_mask)) == 65535);
  CHECK(qualify(1, 5) != qualify(2, 5));
  // A counter that outgrows 48 bits does not spill into the node.
  CHECK(node_of(qualify(3, local_id_mask + 2)) == 3);
  // B legs: the flow's node on top, the maker below it; makers never collide.
  CHECK(node_of(b_leg_id(3, 5, 9)) == 3);
  CHECK(b_leg_id(3, 5, 9) != b_leg_id(3, 6, 9));
  CHECK(b_leg_id(3, 5, 9) != qualify(3, 9)); // nor with the SIP thread's own A legs
  CHECK(node_of(b_leg_id(3, 5, 0xffffffffull + 2)) == 3);
  CHECK(call_id_of(7, 12, 345) == "7-12-345");
}

TEST_CASE("node ids: a command goes to the SIP port of the node that made the id") {
  counting_port mine, other;
  node_context ctx;
  ctx.node = 4;
  ctx.sip = &mine;
  leg_command c;
  c.leg = qualify(4, 1);
  ctx.sip_of(c.leg).leg(c);
  CHECK(mine.legs == 1);
  // Another node's leg, no cluster: dropped (logged once), never sent here.
  c.leg = qualify(5, 1);
  ctx.sip_of(c.leg).leg(c);
  ctx.sip_of(c.leg).leg(c);
  CHECK(mine.legs == 1);
  ctx.remote_sip = [&](node_number n) -> sip_port* { return n == 5 ? &other : nullptr; };
  ctx.sip_of(c.leg).leg(c);
  sip_reply r;
  r.txn = qualify(5, 9);
  ctx.sip_of(r.txn).reply(r);
  CHECK(other.legs == 1);
  CHECK(other.replies == 1);
  CHECK(mine.legs == 1);
  r.txn = qualify(4, 9);
  ctx.sip_of(r.txn).reply(r);
  CHECK(mine.replies == 1);
}

TEST_CASE("node ids: a B leg names the node holding the phone's flow") {
  node_context ctx;
  ctx.node = 4;
  auto local = ctx.new_b_leg(0); // a binding taken by this node
  auto remote = ctx.new_b_leg(9); // one whose REGISTER came in through node 9
  CHECK(node_of(local) == 4);
  CHECK(node_of(remote) == 9);
  CHECK(local != remote);
  CHECK(((remote & local_id_mask) >> maker_shift) == 4);
  CHECK(ctx.new_b_leg(0) != local);
}

TEST_CASE("node ids: another node's leg reaches its SIP port as a message") {
  struct recording_port final : sip_port {
    std::mutex mtx;
    std::condition_variable cv;
    std::vector<std::uint64_t> legs, replies;
    void reply(sip_reply r) override { note(replies, r.txn); }
    void leg(leg_command c) override { note(legs, c.leg); }
    void shell_write(shell_output) override {}
    void guard(guard_command) override {}
    void media(media_command) override {}
    void mwi(mwi_command) override {}
    void trunk(trunk_command) override {}
    void note(std::vector<std::uint64_t>& v, std::uint64_t id) {
      std::lock_guard<std::mutex> g{mtx};
      v.push_back(id);
      cv.notify_all();
    }
  } node2_sip; // node 2's SIP thread
  counting_port mine;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto port_actor = spawn_sip_port_actor(sys, &node2_sip); // what node 2 publishes
  remote_port to_node2{port_actor};
  node_context ctx;
  ctx.node = 1;
  ctx.sip = &mine;
  ctx.remote_sip = [&](node_number n) -> sip_port* { return n == 2 ? &to_node2 : nullptr; };
  leg_command c;
  c.leg = b_leg_id(2, 1, 7); // a phone whose flow is on node 2
  ctx.sip_of(c.leg).leg(c);
  sip_reply r;
  r.txn = qualify(2, 11);
  ctx.sip_of(r.txn).reply(r);
  {
    std::unique_lock<std::mutex> l{node2_sip.mtx};
    REQUIRE(node2_sip.cv.wait_for(l, std::chrono::seconds(5), [&] {
      return node2_sip.legs.size() == 1 && node2_sip.replies.size() == 1;
    }));
    CHECK(node2_sip.legs[0] == b_leg_id(2, 1, 7));
    CHECK(node2_sip.replies[0] == qualify(2, 11));
  }
  CHECK(mine.legs == 0);
  CHECK(mine.replies == 0);
  caf::anon_send_exit(port_actor, caf::exit_reason::user_shutdown);
}
