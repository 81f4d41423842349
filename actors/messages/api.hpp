#pragma once
// Messages between the HTTP server (net/api_server, its own thread) and the
// API actor (actors/api): one request in, one response out, matched by id.
// net/ only moves bytes; routes, JSON and logins live in the actor.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace pbx {

/// A complete HTTP request (the body is whole and within the size limit).
struct http_request {
  std::uint64_t id = 0;
  std::string method;        // GET POST PUT PATCH DELETE ...
  std::string path;          // /api/tenants/example.test (percent-decoded)
  std::vector<std::pair<std::string, std::string>> query;  // decoded ?k=v pairs, in order
  std::string content_type;  // without parameters, lower-case: application/json
  std::string authorization; // the header as sent ("Bearer ...")
  std::string body;
  std::string peer_ip;
  bool tls = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_request& x) {
  return f(caf::meta::type_name("http_request"), x.id, x.method, x.path, x.query,
           x.content_type, x.authorization, x.body, x.peer_ip, x.tls);
}

struct http_response {
  std::uint64_t id = 0;
  std::uint16_t status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra, e.g. WWW-Authenticate
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_response& x) {
  return f(caf::meta::type_name("http_response"), x.id, x.status, x.content_type, x.body,
           x.headers);
}

} // namespace pbx
