#pragma once
// The cluster's members as etcd lists them under /actorpbx/v1/nodes/: what a
// member's key holds, and the list kept from each read of the prefix. Pure
// (no CAF, no libre): unit-tested alone.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/etcd_messages.hpp"

namespace pbx {

inline const std::string nodes_prefix = "/actorpbx/v1/nodes/";
inline const std::string node_ids_prefix = "/actorpbx/v1/node-ids/";

/// What nodes of this build speak to each other; a member with another is refused.
/// 2: replicated binding values leave out what their key holds, and cut binding
/// keys end in SHA-256 (storage schemas 4 and 5). 3: no call-leg actors (leg_command
/// adopt and owner_gone; ring_answered without a handle).
constexpr std::uint32_t cluster_wire_version = 3;

struct member {
  std::string name;
  std::uint32_t node = 0;   // its --node-id
  std::string address;      // its CAF middleman, host:port
  std::uint32_t wire = 0;
  std::int64_t start_ms = 0;
  std::int64_t lease = 0;
  std::int64_t seen_ms = 0; // when this node first saw this registration
};

/// The value of /actorpbx/v1/nodes/NAME (JSON).
std::string member_value(const member& m);
/// A key's value read back; empty with `error` set when it is not one.
std::optional<member> parse_member(const std::string& name, const std::string& value,
                                   std::string& error);

class member_list {
public:
  struct changes {
    std::vector<std::string> joined, left;
    std::vector<std::string> refused; // one log line each, said once per registration
  };

  /// Replaces the list with a full read of nodes_prefix at `now_ms`.
  changes apply(const std::vector<etcd::key_value>& kvs, std::int64_t now_ms);
  /// Applies a watch stream's events, in order.
  changes apply(const std::vector<etcd::watch_event>& events, std::int64_t now_ms);

  const std::map<std::string, member>& members() const { return members_; }

private:
  // One key as read: a member put in `into`, or refused. False: not a node key.
  bool take(const etcd::key_value& kv, std::int64_t now_ms, std::map<std::string, member>& into,
            changes& c);

  std::map<std::string, member> members_;
  std::map<std::string, std::int64_t> refused_; // name -> the registration's revision
};

} // namespace pbx
