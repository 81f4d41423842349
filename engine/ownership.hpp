#pragma once
// Who owns each tenant in a cluster: the claims etcd holds under
// /actorpbx/v1/owner/DOMAIN (each on its owner's lease) over the live
// members. A claimed tenant is its claimant's; an unclaimed one goes to its
// preferred member (highest rendezvous score), which claims it. Pure (no CAF,
// no libre): the membership actor feeds it and acts on decide().

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/etcd_messages.hpp"
#include "engine/placement.hpp"

namespace pbx {

inline const std::string owners_prefix = "/actorpbx/v1/owner/";

struct owner_claim {
  std::string node;              // the claimant's --node-name
  std::int64_t mod_revision = 0; // fences it: a release compares this
  std::int64_t lease = 0;
  bool operator==(const owner_claim& o) const {
    return node == o.node && mod_revision == o.mod_revision && lease == o.lease;
  }
};

class ownership final : public placement {
public:
  ownership() = default;
  ownership(std::vector<placed_member> live, std::map<std::string, owner_claim> claims);

  /// The claimant when it is live, else the preferred member (0: no member).
  node_number owner(std::string_view domain) const override;
  std::vector<node_number> order(std::string_view domain) const override;

  /// The preferred member's name (empty: no member).
  std::string preferred(std::string_view domain) const;
  /// The live claimant's name (empty: unclaimed, or its claimant is gone).
  std::string claimant(std::string_view domain) const;
  /// The name of the member with `number` (empty: none).
  std::string name_of(node_number number) const;
  /// The domains `name` holds claims on.
  std::vector<std::string> owned_by(const std::string& name) const;

  struct plan {
    std::vector<std::string> claim;                              // domains to claim
    std::vector<std::pair<std::string, std::int64_t>> release;   // (domain, its claim's revision)
  };
  /// What member `self` does for the tenants it knows (`domains`): claim the
  /// unclaimed ones it is preferred for; give up its claims on tenants whose
  /// preferred member is another one that is `ready` (reachable), or that no
  /// longer exist.
  plan decide(const std::string& self, const std::set<std::string>& domains,
              const std::set<std::string>& ready) const;

  /// Keeps the claims from a read of owners_prefix, or a watch's events.
  void set_claims(const std::vector<etcd::key_value>& kvs);
  void apply(const std::vector<etcd::watch_event>& events);
  void set_members(std::vector<placed_member> live);
  const std::map<std::string, owner_claim>& claims() const { return claims_; }
  /// The same members and claims (what the router would be told again).
  bool same_as(const ownership& o) const;

private:
  bool live(const std::string& name) const;

  std::vector<placed_member> members_;
  rendezvous hrw_{{}};
  std::map<std::string, owner_claim> claims_; // by domain
};

} // namespace pbx
