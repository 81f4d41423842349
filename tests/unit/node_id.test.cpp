#include <catch2/catch.hpp>

#include "engine/context.hpp"
#include "engine/node_id.hpp"
#include "engine/sip_port.hpp"

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
  CHECK(call_id_of(12, qualify(7, 345)) == "7-12-345");
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
