#pragma once
// SIP -> actor messages: what net/ reads out of a decoded request. No CAF
// runtime and no SIP-thread state, so the fuzzers (tests/fuzz) drive it
// directly. Includes <re.h>: net/ only.

#include <string>

#include <re.h>
#undef MIN
#undef MAX

#include "actors/messages/call.hpp"
#include "actors/messages/mwi.hpp"
#include "actors/messages/registration.hpp"

namespace pbx::net {

std::string to_string(const struct pl& pl);

/// The user part of a URI with its %-escapes decoded.
std::string uri_user(const struct pl& user);

/// Lower-cased host of a URI.
std::string lower_host(const struct pl& host);

/// Decodes the digest credentials of header `id` (Authorization or Proxy-Authorization).
void decode_credentials(const struct sip_msg* msg, enum sip_hdrid id, digest_credentials& out);

/// Decodes one Contact value and checks what libre lets through; false if malformed.
bool decode_contact(const struct sip_hdr* hdr, struct sip_addr& addr);

/// Returns 0 when `msg` is well formed, else the status to answer it with
/// (and a reason in `reason`); -1 means drop it silently.
int check_request(const struct sip_msg* msg, const char** reason);

/// Where a message came from.
flow_info flow_of(const struct sip_msg* msg);

/// The User-Agent header's value, empty without one.
std::string user_agent_of(const struct sip_msg* msg);

/// A checked REGISTER as a request for the registrar (txn left 0). Returns
/// nullptr, or the reason phrase of the 400 it deserves.
const char* decode_register(const struct sip_msg* msg, register_request& req);

/// A checked initial SUBSCRIBE as a request for the mailbox's extension
/// (txn left 0). Returns nullptr, or the reason phrase of the 400 it deserves.
const char* decode_subscribe(const struct sip_msg* msg, subscribe_request& req);

/// A checked initial INVITE as an offer to the caller's extension (leg left 0).
void decode_offer(const struct sip_msg* msg, call_offer& offer);

/// The message body as bytes.
std::string body_of(const struct sip_msg* msg);

/// A copy of the request `msg` without the headers its dialog and responses
/// never read (credentials, User-Agent, Subject, Max-Forwards, Accept*, X-...),
/// from the same socket and addresses; nullptr if it cannot be made. libre
/// keeps an A leg's INVITE for the session's life and 32 s after (its server
/// transaction): this is what it keeps instead.
struct sip_msg* dialog_copy(const struct sip_msg* msg);

} // namespace pbx::net
