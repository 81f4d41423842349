#include "engine/context.hpp"

#include "engine/log.hpp"
#include <memory>
#include <unordered_map>

#include "engine/sip_port.hpp"

namespace pbx {

namespace {

// Commands for a node this one cannot reach: said once per node number, dropped.
class unreachable_port final : public sip_port {
public:
  explicit unreachable_port(node_number n) : node_(n) {}
  void reply(sip_reply) override { drop("a SIP reply"); }
  void leg(leg_command) override { drop("a call leg command"); }
  void shell_write(shell_output) override { drop("shell output"); }
  void guard(guard_command) override { drop("a guard command"); }
  void media(media_command) override { drop("a media command"); }
  void mwi(mwi_command) override { drop("an MWI command"); }
  void trunk(trunk_command) override { drop("a trunk command"); }

private:
  void drop(const char* what) {
    if (!said_) {
      said_ = true;
      log::warn("no SIP port for node ", node_, ": ", what, " and what follows for it dropped");
    }
  }
  node_number node_;
  bool said_ = false;
};

} // namespace

std::uint64_t node_context::new_b_leg(node_number via) {
  return b_leg_id(via ? via : node, node, next_leg++);
}

sip_port& node_context::sip_of(std::uint64_t id) const {
  auto n = node_of(id);
  if (n == node)
    return *sip;
  if (remote_sip)
    if (auto* p = remote_sip(n))
      return *p;
  // One per node number, never freed: they are few and tiny.
  static thread_local std::unordered_map<node_number, std::unique_ptr<unreachable_port>> lost;
  auto& p = lost[n];
  if (!p)
    p = std::make_unique<unreachable_port>(n);
  return *p;
}

} // namespace pbx
