#include <catch2/catch.hpp>

#include <chrono>
#include <future>

#include <caf/all.hpp>

#include "actors/extension.hpp"
#include "actors/messages/directory.hpp"
#include "actors/messages/registration.hpp"
#include "actors/messages/shell.hpp"
#include "engine/directory.hpp"
#include "engine/sip_port.hpp"
#include "tests/unit/no_sip.hpp"
#include "storage/store.hpp"
#include "storage/test_support.hpp"

using namespace pbx;
using storage::test::make_ext;
using storage::test::temp_dir;

namespace {

using test::no_sip; // nothing in this test reaches the SIP thread

struct heard {
  std::promise<void> passivate_request;
  std::promise<std::uint64_t> offer;   // its leg
  std::promise<std::string> line;      // its call id
};

// A tenant that answers the extension's passivate_request, records what the
// extension hands back, and answers requests with a mark of its own.
caf::behavior tenant_double(caf::event_based_actor* self, heard* h) {
  return {
    [=](const passivate_request&) {
      self->send(caf::actor_cast<caf::actor>(self->current_sender()), passivate_ok{});
      h->passivate_request.set_value();
    },
    [=](const call_offer& o) { h->offer.set_value(o.leg); },
    [=](const line_state& l) { h->line.set_value(l.call_id); },
    [=](const callee_query&) { return callee_targets{299, {}, 7, {}, {}, {}}; },
    [=](const rules_cmd&) { return admin_records({{{"from", "the tenant"}}}); },
  };
}

} // namespace

TEST_CASE("nothing routed to a passivating extension is lost", "[passivation]") {
  temp_dir dir;
  auto store = storage::store::open(dir.path, {}, nullptr);
  REQUIRE(store);
  local_directory directory;
  no_sip sip;
  node_context ctx;
  ctx.store = store.get();
  ctx.dir = &directory;
  ctx.sip = &sip;
  ctx.now = [] { return std::int64_t{1800000000}; };
  ctx.idle_passivation = std::chrono::seconds(1);
  heard h;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto tenant = sys.spawn(tenant_double, &h);
  auto ext = sys.spawn(extension_actor, &ctx, tenant, make_ext("p.test", "101"));
  // An idle extension without bindings asks to be forgotten.
  REQUIRE(h.passivate_request.get_future().wait_for(std::chrono::seconds(5))
          == std::future_status::ready);
  // The SIP thread looked it up just before the tenant forgot it: its
  // INVITE and a call's line change arrive after passivate_ok. (REGISTER
  // never reaches an extension: its tenant holds the bindings.)
  call_offer offer;
  offer.leg = qualify(1, 4242);
  offer.domain = "p.test";
  offer.caller = "101";
  caf::anon_send(ext, offer);
  caf::anon_send(ext, line_state{"101", "call-9", line_use::idle});
  caf::scoped_actor me{sys};
  std::uint16_t code = 0;
  me->request(ext, std::chrono::seconds(5), callee_query{"101", "555"})
    .receive([&](const callee_targets& t) { code = t.code; }, [&](caf::error&) {});
  std::vector<field_list> lines;
  me->request(ext, std::chrono::seconds(5), rules_cmd{"p.test", "101", "status", "show", {}})
    .receive([&](const admin_reply& r) { lines = r.records; }, [&](caf::error&) {});
  auto offer_f = h.offer.get_future();
  auto line_f = h.line.get_future();
  REQUIRE(offer_f.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK(offer_f.get() == qualify(1, 4242));
  REQUIRE(line_f.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK(line_f.get() == "call-9");
  CHECK(code == 299); // answered by the tenant, on the extension's behalf
  CHECK(lines == std::vector<field_list>{{{"from", "the tenant"}}});
  caf::anon_send_exit(tenant, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(ext, caf::exit_reason::user_shutdown);
}
