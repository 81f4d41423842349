// What crosses CAF's middleman between cluster nodes must be announced
// (engine/message_types.cpp): an unannounced type fails to serialize, and the
// request is lost between nodes (seen as "unexpected_message" on the shell).

#include <catch2/catch.hpp>

#include <caf/all.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "actors/messages/admin.hpp"
#include "actors/messages/call.hpp"
#include "actors/messages/media.hpp"
#include "actors/messages/mwi.hpp"
#include "actors/messages/registration.hpp"
#include "engine/leg_command.hpp"
#include "engine/message_types.hpp"

using namespace pbx;

namespace {

template <class T>
void crosses(caf::actor_system& sys, T value, const char* what) {
  INFO(what);
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  auto out = caf::make_message(std::move(value));
  auto err = sink(out);
  REQUIRE_FALSE(err);
  caf::message in;
  caf::binary_deserializer source{sys, buf};
  REQUIRE_FALSE(source(in));
  CHECK(in.match_elements<T>());
}

} // namespace

TEST_CASE("message types: what the router hands to another node serializes") {
  caf::actor_system_config cfg;
  add_message_types(cfg);
  caf::actor_system sys{cfg};
  // SIP traffic and the replies to it.
  crosses(sys, register_request{}, "register_request");
  crosses(sys, subscribe_request{}, "subscribe_request");
  crosses(sys, call_offer{}, "call_offer");
  crosses(sys, sip_reply{}, "sip_reply");
  crosses(sys, leg_command{}, "leg_command");
  crosses(sys, leg_event{}, "leg_event");
  crosses(sys, media_command{}, "media_command");
  // Admin requests for a tenant (router: shell_to_tenant) and their answers.
  crosses(sys, tenant_query{}, "tenant_query");
  crosses(sys, extension_query{}, "extension_query");
  crosses(sys, extension_cmd{}, "extension_cmd");
  crosses(sys, extension_import{}, "extension_import");
  crosses(sys, registrations_query{}, "registrations_query");
  crosses(sys, cdr_query{}, "cdr_query");
  crosses(sys, calls_query{}, "calls_query");
  crosses(sys, hangup_cmd{}, "hangup_cmd");
  crosses(sys, web_login_query{}, "web_login_query");
  crosses(sys, web_credentials{}, "web_credentials");
  crosses(sys, admin_reply{}, "admin_reply");
}
