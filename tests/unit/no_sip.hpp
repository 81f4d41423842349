#pragma once
// A sip_port for unit tests whose actors never reach the SIP thread; a test
// that watches one command overrides just that one.

#include "engine/sip_port.hpp"

namespace pbx::test {

struct no_sip : sip_port {
  void reply(sip_reply) override {}
  void leg(leg_command) override {}
  void shell_write(shell_output) override {}
  void guard(guard_command) override {}
  void media(media_command) override {}
  void mwi(mwi_command) override {}
  void trunk(trunk_command) override {}
};

} // namespace pbx::test
