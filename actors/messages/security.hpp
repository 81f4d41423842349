#pragma once
// Messages of the security domain: failed and good authentications reported
// to the node's security actor, sources over a rate limit reported by the SIP
// thread, and the admin's `security ...` commands.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "actors/messages/registration.hpp"

namespace pbx {

/// What a source tried to authenticate to.
enum class auth_service : std::uint8_t { sip_register, sip_invite, shell, api, sip_subscribe };

/// A failed authentication: wrong password, unknown user with credentials,
/// a bad admin login. The security actor logs it, counts it against the
/// source and answers with how long a shell should wait before answering
/// (ms; 0 for SIP, where anonymous senders drop the answer).
struct auth_failure {
  auth_service service = auth_service::sip_register;
  flow_info source;
  std::string user;  // user@domain, or the shell's login name
  std::string user_agent;
  std::string reason;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, auth_failure& x) {
  return f(caf::meta::type_name("auth_failure"), x.service, x.source, x.user, x.user_agent,
           x.reason);
}

/// A good admin login: the source's login backoff starts over.
struct auth_success {
  auth_service service = auth_service::shell;
  flow_info source;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, auth_success& x) {
  return f(caf::meta::type_name("auth_success"), x.service, x.source);
}

/// The SIP thread banned a source on the spot (packet rate, requests
/// without credentials); the security actor records, logs and persists it.
struct rate_exceeded {
  flow_info source;
  std::string limit;  // packet_rate | unauth_rate
  std::uint32_t rate = 0;
  std::string user_agent;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rate_exceeded& x) {
  return f(caf::meta::type_name("rate_exceeded"), x.source, x.limit, x.rate, x.user_agent);
}

/// A request dropped for its User-Agent (the SIP thread reports at most one
/// a minute per source).
struct ua_blocked {
  flow_info source;
  std::string user_agent;
  std::uint32_t dropped = 0;  // since the last report
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ua_blocked& x) {
  return f(caf::meta::type_name("ua_blocked"), x.source, x.user_agent, x.dropped);
}

/// `security ...` from the admin shell, the words after "security".
struct security_cmd {
  std::vector<std::string> words;
  std::string by;  // who asked (the admin's source), for the log
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, security_cmd& x) {
  return f(caf::meta::type_name("security_cmd"), x.words, x.by);
}

} // namespace pbx
