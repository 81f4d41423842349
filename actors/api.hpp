#pragma once
// The REST API actor (docs/api.md, docs/api.yaml): every http_request of
// net/api_server comes here and is answered exactly once through
// ctx->api_out. It parses (JSON with nlohmann-json), authenticates (logins
// and bearer tokens live here, in memory), builds the same typed admin
// requests the shell builds and formats the admin layer's replies as JSON.
// Roles are the admin actor's business, not this one's.

#include <cstdint>
#include <string>
#include <unordered_map>

#include <caf/fwd.hpp>

#include "actors/messages/admin.hpp"
#include "actors/messages/api.hpp"
#include "engine/context.hpp"

namespace pbx {

/// A login's bearer token.
struct api_token {
  admin_principal who;     // via = "api PEER_IP"
  std::string user;        // principal_name(who): admin or NUMBER@DOMAIN
  std::int64_t expires_ms = 0; // unix milliseconds
};

struct api_state {
  static inline const char* name = "api";
  node_context* ctx = nullptr;
  std::unordered_map<std::string, api_token> tokens;          // by the 64 hex digits
  std::unordered_map<std::uint64_t, http_response> delayed;   // failed logins in their backoff
  std::uint64_t logins = 0;                                   // purge expired tokens now and then
};

caf::behavior api_actor(caf::stateful_actor<api_state>* self, node_context* ctx);

namespace api_detail {

/// `Bearer TOKEN` with TOKEN 64 lower-case hex digits: the token, else empty.
std::string bearer_token(const std::string& authorization);

/// 127.0.0.0/8, ::1 (also IPv4-mapped).
bool loopback(const std::string& ip);

} // namespace api_detail

} // namespace pbx
