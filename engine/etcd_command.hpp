#pragma once
// An HTTP call to etcd's JSON gateway, made by the SIP thread's libre loop
// (net/etcd_client.cpp) for an actor, and its answer as an actor message.

#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>

namespace pbx {

/// POST `body` to `path` (e.g. /v3/kv/range) on the current etcd endpoint.
/// A `stream` (/v3/watch) has no time limit: each line of its answer comes
/// as a response with `more`, the end as one without. `cancel` ends the
/// stream `id` (no answer).
struct etcd_request {
  std::uint64_t id = 0;
  std::string path;
  std::string body;
  caf::actor reply_to; // gets an etcd_response with the same id
  bool stream = false;
  bool cancel = false;
};

/// `status` 0: no HTTP answer (`error` says why; the next call tries the next endpoint).
struct etcd_response {
  std::uint64_t id = 0;
  std::uint16_t status = 0;
  std::string body;
  std::string error;
  std::string endpoint; // IP:PORT that answered or failed
  bool more = false;    // a stream's line; the stream goes on
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, etcd_response& x) {
  return f(caf::meta::type_name("etcd_response"), x.id, x.status, x.body, x.error, x.endpoint,
           x.more);
}

} // namespace pbx
