#pragma once
// The node's metrics (GET /metrics, Prometheus text format 0.0.4): one
// process-wide set of atomic counters that net/, actors/ and storage's commit
// observer bump on their hot paths (no lock, no lookup), and the renderer.
// Included from hot files: keep it free of CAF beyond caf/fwd.hpp.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <caf/fwd.hpp>

namespace pbx {

struct node_context;

/// The whole exposition: every metric of docs/operations.md ("Metrics"), as of
/// now. Also starts a mailbox probe round (actorpbx_mailbox_depth, below).
std::string metrics_text(node_context& ctx, caf::actor_system& sys);

namespace metrics {

/// A final response to a REGISTER left the SIP thread (net/).
void register_response(std::uint16_t code);
/// A call ended with `code` as the caller's final status (actors/call, once per call).
void call_ended(std::uint16_t code);
/// A call carried out a forwarding rule of this slot: a forward_slot's name,
/// or "exception" / "exception:ID" (route_step::slot).
void rule_decision(std::string_view slot);
/// One LMDB write transaction's commit took this long (storage's observer).
void lmdb_commit(std::uint64_t nanoseconds);
/// The period of the SIP thread's lag timer.
constexpr unsigned sip_lag_period_ms = 100;
/// The SIP thread's lag timer fired this late (net/, every sip_lag_period_ms).
void sip_loop_lag(std::uint64_t nanoseconds);
/// The REST API answered a request with HTTP `status` (the API actor).
void api_request(std::uint16_t status);

/// Live bindings on the node (actorpbx_registrations).
std::int64_t registrations();

/// A tenant's share of actorpbx_registrations: set to its number of
/// bindings whenever they change; what is left is given back on destruction.
class binding_share {
public:
  binding_share() = default;
  binding_share(const binding_share&) = delete;
  binding_share& operator=(const binding_share&) = delete;
  ~binding_share();
  void set(std::size_t bindings);

private:
  std::size_t n_ = 0;
};

/// Asks a domain actor how many messages wait in its mailbox: CAF 0.17 lets
/// only the owner read its mailbox, so the renderer sends this (high priority,
/// so it overtakes the queue) and the actor answers with
/// `answer(p, self->mailbox().size())` from its handler.
struct mailbox_probe {
  std::uint64_t round = 0;
  std::string actor; // its directory key: t/DOMAIN, e/DOMAIN/NUMBER, c/CALL
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mailbox_probe& x) {
  return f(x.round, x.actor);
}

void answer(const mailbox_probe& p, std::size_t depth);

/// Tests only: every counter, gauge and probe result back to zero.
void reset();

} // namespace metrics
} // namespace pbx
