#pragma once
// Messages of the registration domain: a parsed REGISTER on its way to the
// extension actor, and the registrar's answer on its way back to the SIP thread.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace pbx {

/// Digest credentials as sent in an Authorization header (already decoded by net/).
struct digest_credentials {
  bool present = false;
  std::string scheme;  // "Digest", or another scheme we reject
  std::string username, realm, nonce, uri, response, algorithm, qop, nc, cnonce;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, digest_credentials& x) {
  return f(caf::meta::type_name("digest_credentials"), x.present, x.scheme,
           x.username, x.realm, x.nonce, x.uri, x.response, x.algorithm, x.qop,
           x.nc, x.cnonce);
}

/// One Contact of a REGISTER.
struct contact_entry {
  std::string uri;      // the URI inside <>, as sent
  std::string params;   // header parameters other than expires, verbatim (";q=0.5;+sip.instance=..")
  std::int64_t expires = -1;  // the contact's expires parameter, -1 when absent
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, contact_entry& x) {
  return f(caf::meta::type_name("contact_entry"), x.uri, x.params, x.expires);
}

/// Where a request came from: the flow a phone behind NAT is reachable on.
struct flow_info {
  std::string ip;
  std::uint16_t port = 0;
  std::string transport;  // udp|tcp
  std::uint16_t node = 0; // the node whose SIP stack holds it; 0: this node
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, flow_info& x) {
  return f(caf::meta::type_name("flow_info"), x.ip, x.port, x.transport, x.node);
}

/// A REGISTER, parsed by the SIP thread; `txn` names its server transaction.
struct register_request {
  std::uint64_t txn = 0;
  std::string domain;  // lower-case host of the To URI
  std::string user;    // user part of the To URI (the extension number)
  std::vector<contact_entry> contacts;
  bool star = false;            // Contact: *
  std::int64_t expires = -1;    // Expires header, -1 when absent
  digest_credentials auth;
  std::string call_id;
  std::uint32_t cseq = 0;
  flow_info source;
  std::string user_agent;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, register_request& x) {
  return f(caf::meta::type_name("register_request"), x.txn, x.domain, x.user,
           x.contacts, x.star, x.expires, x.auth, x.call_id, x.cseq, x.source,
           x.user_agent);
}

/// REGISTERs for one tenant that the SIP thread read in one pass of its
/// loop: one message (and one commit of their bindings) instead of one each.
struct register_batch {
  std::vector<register_request> requests;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, register_batch& x) {
  return f(caf::meta::type_name("register_batch"), x.requests);
}

/// A current binding as listed in a 200 to REGISTER.
struct listed_contact {
  std::string uri;
  std::string params;
  std::int64_t expires = 0;  // seconds left
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, listed_contact& x) {
  return f(caf::meta::type_name("listed_contact"), x.uri, x.params, x.expires);
}

/// The final answer to a request, carried out by the SIP thread.
struct sip_reply {
  std::uint64_t txn = 0;
  std::uint16_t code = 500;
  std::string reason;
  std::vector<listed_contact> contacts;  // for 200 to REGISTER
  std::string challenge_realm;           // non-empty: add WWW-Authenticate
  std::string challenge_nonce;
  bool stale = false;
  std::uint32_t min_expires = 0;         // non-zero: add Min-Expires (423)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sip_reply& x) {
  return f(caf::meta::type_name("sip_reply"), x.txn, x.code, x.reason,
           x.contacts, x.challenge_realm, x.challenge_nonce, x.stale,
           x.min_expires);
}

/// A commit of bindings failed: the tenant reloads the bindings of `numbers`
/// and answers each REGISTER transaction of `txns` with 500.
struct binding_write_failed {
  std::vector<std::uint64_t> txns;
  std::string error;
  std::vector<std::string> numbers;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, binding_write_failed& x) {
  return f(caf::meta::type_name("binding_write_failed"), x.txns, x.error, x.numbers);
}

} // namespace pbx
