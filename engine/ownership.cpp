#include "engine/ownership.hpp"

#include <algorithm>
#include <utility>

namespace pbx {

namespace {

// The domain of an owner key; empty when `key` is not one.
std::string domain_of(const std::string& key) {
  if (key.rfind(owners_prefix, 0) != 0 || key.size() == owners_prefix.size())
    return {};
  return key.substr(owners_prefix.size());
}

} // namespace

ownership::ownership(std::vector<placed_member> live, std::map<std::string, owner_claim> claims)
  : claims_(std::move(claims)) {
  set_members(std::move(live));
}

void ownership::set_members(std::vector<placed_member> live) {
  members_ = std::move(live);
  hrw_ = rendezvous{members_};
}

bool ownership::live(const std::string& name) const {
  return std::any_of(members_.begin(), members_.end(),
                     [&](const placed_member& m) { return m.name == name; });
}

bool ownership::same_as(const ownership& o) const {
  return members_ == o.members_ && claims_ == o.claims_;
}

std::string ownership::name_of(node_number number) const {
  for (auto& m : members_)
    if (m.number == number)
      return m.name;
  return {};
}

std::string ownership::claimant(std::string_view domain) const {
  auto it = claims_.find(std::string{domain});
  // A claim outlives its member only until etcd deletes it with the lease.
  return it != claims_.end() && live(it->second.node) ? it->second.node : std::string{};
}

std::string ownership::preferred(std::string_view domain) const {
  return name_of(hrw_.owner(domain));
}

node_number ownership::owner(std::string_view domain) const {
  auto c = claimant(domain);
  if (c.empty())
    return hrw_.owner(domain);
  for (auto& m : members_)
    if (m.name == c)
      return m.number;
  return 0;
}

std::vector<node_number> ownership::order(std::string_view domain) const {
  return hrw_.order(domain);
}

std::vector<std::string> ownership::owned_by(const std::string& name) const {
  std::vector<std::string> out;
  for (auto& [domain, c] : claims_)
    if (c.node == name)
      out.push_back(domain);
  return out;
}

ownership::plan ownership::decide(const std::string& self, const std::set<std::string>& domains,
                                  const std::set<std::string>& ready) const {
  plan p;
  for (auto& domain : domains) {
    auto c = claimant(domain);
    auto best = preferred(domain);
    if (c.empty() && best == self)
      p.claim.push_back(domain);
    else if (c == self && best != self && ready.count(best))
      p.release.emplace_back(domain, claims_.at(domain).mod_revision);
  }
  for (auto& [domain, c] : claims_)
    if (c.node == self && !domains.count(domain))
      p.release.emplace_back(domain, c.mod_revision);
  return p;
}

void ownership::set_claims(const std::vector<etcd::key_value>& kvs) {
  claims_.clear();
  for (auto& kv : kvs)
    if (auto d = domain_of(kv.key); !d.empty())
      claims_[d] = owner_claim{kv.value, kv.mod_revision, kv.lease};
}

void ownership::apply(const std::vector<etcd::watch_event>& events) {
  for (auto& e : events) {
    auto d = domain_of(e.kv.key);
    if (d.empty())
      continue;
    if (e.deleted)
      claims_.erase(d);
    else
      claims_[d] = owner_claim{e.kv.value, e.kv.mod_revision, e.kv.lease};
  }
}

} // namespace pbx
