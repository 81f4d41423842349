#pragma once
// Messages of message-waiting indication (RFC 3842): a SUBSCRIBE to
// message-summary on its way to the mailbox's extension, the extension's
// commands to the SIP thread, and the SIP thread's word that a subscription ended.

#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>

#include "actors/messages/registration.hpp"

namespace pbx {

/// An initial SUBSCRIBE with Event: message-summary and credentials, whose
/// From user is its To user (net/ answers 489, 401 and a foreign mailbox's
/// 403 itself). `txn` names the request; once accepted it also names the subscription.
struct subscribe_request {
  std::uint64_t txn = 0;
  std::string domain;  // lower-case host of the To URI
  std::string user;    // user part of the To URI: the mailbox
  digest_credentials auth;
  flow_info source;
  std::string user_agent;
  std::int64_t expires = -1;  // Expires header, -1 when absent
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, subscribe_request& x) {
  return f(caf::meta::type_name("subscribe_request"), x.txn, x.domain, x.user, x.auth,
           x.source, x.user_agent, x.expires);
}

/// Extension -> SIP thread (sip_port::mwi). A SUBSCRIBE that failed is
/// answered with sip_reply like a REGISTER (same txn space: 401, 403).
///  accept:     200 to SUBSCRIBE `sub`, then the first NOTIFY with `body`;
///              `owner` hears mwi_ended when the subscription ends.
///  notify:     a NOTIFY with `body` in subscription `sub` (unknown `sub`: ignored).
///  end:        a final NOTIFY (terminated;reason=noresource) in `sub`; no mwi_ended.
///  notify_out: an unsolicited NOTIFY with `body` to `target` (a binding's
///              contact) through `route` (its flow), From/To `account`.
struct mwi_command {
  enum class op : std::uint8_t { accept, notify, end, notify_out };
  op what = op::notify;
  std::uint64_t sub = 0;
  std::string body;
  caf::actor owner;
  std::string target, account;
  flow_info route;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mwi_command& x) {
  return f(caf::meta::type_name("mwi_command"), x.what, x.sub, x.body, x.owner, x.target,
           x.account, x.route);
}

/// SIP thread -> the subscription's owner: `sub` is over (`reason`: expired,
/// which includes an unsubscribe with Expires: 0, or failed: a NOTIFY was refused
/// or timed out).
struct mwi_ended {
  std::uint64_t sub = 0;
  std::string reason;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mwi_ended& x) {
  return f(caf::meta::type_name("mwi_ended"), x.sub, x.reason);
}

} // namespace pbx
