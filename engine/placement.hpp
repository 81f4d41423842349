#pragma once
// Which node a tenant lives on. Placement decides the node; activation (the
// router) spawns the tenant there. Alone, every tenant is this node's; in a
// cluster the preferred owner is the highest rendezvous (HRW) score over the
// live members, so a join or a loss moves only the tenants whose best member
// changed.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>

#include "engine/node_id.hpp"

namespace pbx {

struct placed_member {
  std::string name;   // --node-name: what the score hashes
  node_number number = 0;
  bool operator==(const placed_member& o) const { return name == o.name && number == o.number; }
};

class placement {
public:
  virtual ~placement() = default;
  /// The node that should own `domain`.
  virtual node_number owner(std::string_view domain) const = 0;
  /// Every member in the order they should take `domain` over (owner first).
  virtual std::vector<node_number> order(std::string_view domain) const = 0;
};

/// One node owns everything.
class single_node final : public placement {
public:
  explicit single_node(node_number self) : self_(self) {}
  node_number owner(std::string_view) const override { return self_; }
  std::vector<node_number> order(std::string_view) const override { return {self_}; }

private:
  node_number self_;
};

/// Rendezvous hashing over a member list (set again whenever membership changes).
class rendezvous final : public placement {
public:
  explicit rendezvous(std::vector<placed_member> members);
  node_number owner(std::string_view domain) const override;
  std::vector<node_number> order(std::string_view domain) const override;

  /// The score of `member` for `domain`: the first 8 bytes of SHA-256 over
  /// both, so every node computes the same order.
  static std::uint64_t score(std::string_view member, std::string_view domain);

private:
  std::vector<placed_member> members_;
};

/// To the router whenever members or claims change (cluster mode): it
/// activates only what is placed here and hands the rest to its owner.
struct placement_update {
  std::shared_ptr<const placement> placed;
};

} // namespace pbx

// Local only (a snapshot shared by pointer): never crosses the middleman.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(pbx::placement_update)
