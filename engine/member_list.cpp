#include "engine/member_list.hpp"

#include <set>

#include <nlohmann/json.hpp>

namespace pbx {

using json = nlohmann::json;

std::string member_value(const member& m) {
  return json{{"node", m.node}, {"address", m.address}, {"wire", m.wire},
              {"start_ms", m.start_ms}}
    .dump();
}

std::optional<member> parse_member(const std::string& name, const std::string& value,
                                   std::string& error) {
  auto j = json::parse(value, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    error = "not JSON";
    return std::nullopt;
  }
  auto node = j.find("node"), address = j.find("address"), wire = j.find("wire"),
       start = j.find("start_ms");
  if (node == j.end() || !node->is_number_unsigned() || address == j.end()
      || !address->is_string() || wire == j.end() || !wire->is_number_unsigned()) {
    error = "no node, address or wire";
    return std::nullopt;
  }
  member m;
  m.name = name;
  m.node = node->get<std::uint32_t>();
  m.address = address->get<std::string>();
  m.wire = wire->get<std::uint32_t>();
  if (start != j.end() && start->is_number_integer())
    m.start_ms = start->get<std::int64_t>();
  return m;
}

bool member_list::take(const etcd::key_value& kv, std::int64_t now_ms,
                       std::map<std::string, member>& into, changes& c) {
  if (kv.key.rfind(nodes_prefix, 0) != 0)
    return false;
  auto name = kv.key.substr(nodes_prefix.size());
  std::string error;
  auto m = parse_member(name, kv.value, error);
  if (m && m->wire != cluster_wire_version)
    error = "wire version " + std::to_string(m->wire) + ", this node speaks "
            + std::to_string(cluster_wire_version);
  if (!error.empty()) {
    auto& said = refused_[name];
    if (said != kv.mod_revision) {
      said = kv.mod_revision;
      c.refused.push_back("cluster: refusing member '" + name + "' (" + kv.key + "): " + error);
    }
    into.erase(name);
    return true;
  }
  refused_.erase(name);
  m->lease = kv.lease;
  auto old = members_.find(name);
  // The same registration keeps its first sighting; a new lease is a new one.
  if (old != members_.end() && old->second.lease == m->lease)
    m->seen_ms = old->second.seen_ms;
  else
    m->seen_ms = now_ms;
  if (old == members_.end())
    c.joined.push_back(name);
  into[name] = std::move(*m);
  return true;
}

member_list::changes member_list::apply(const std::vector<etcd::key_value>& kvs,
                                        std::int64_t now_ms) {
  changes c;
  std::map<std::string, member> next;
  std::set<std::string> present;
  for (auto& kv : kvs)
    if (take(kv, now_ms, next, c))
      present.insert(kv.key.substr(nodes_prefix.size()));
  for (auto& [name, m] : members_)
    if (!next.count(name))
      c.left.push_back(name);
  for (auto it = refused_.begin(); it != refused_.end();)
    it = present.count(it->first) ? std::next(it) : refused_.erase(it);
  members_ = std::move(next);
  return c;
}

member_list::changes member_list::apply(const std::vector<etcd::watch_event>& events,
                                        std::int64_t now_ms) {
  changes c;
  for (auto& e : events) {
    if (e.kv.key.rfind(nodes_prefix, 0) != 0)
      continue;
    auto name = e.kv.key.substr(nodes_prefix.size());
    if (e.deleted) {
      refused_.erase(name);
      if (members_.erase(name))
        c.left.push_back(name);
      continue;
    }
    bool was = members_.count(name) > 0;
    take(e.kv, now_ms, members_, c);
    if (was && !members_.count(name))
      c.left.push_back(name); // now refused
  }
  return c;
}

} // namespace pbx
