#include "engine/config_sync.hpp"

#include <set>

namespace pbx::config_sync {

std::string key_of(const storage::config_change& c) {
  return prefix + c.table + "/" + c.key;
}

std::optional<storage::config_change> change_of(const etcd::key_value& kv, bool deleted) {
  if (kv.key.rfind(prefix, 0) != 0)
    return std::nullopt;
  auto rest = kv.key.substr(prefix.size());
  auto slash = rest.find('/');
  if (slash == std::string::npos || !storage::config_table(rest.substr(0, slash)))
    return std::nullopt;
  storage::config_change c;
  c.what = deleted ? storage::config_change::kind::erase : storage::config_change::kind::put;
  c.table = rest.substr(0, slash);
  c.key = rest.substr(slash + 1);
  if (!deleted)
    c.value = kv.value;
  return c;
}

std::vector<etcd::txn_op> ops_of(const std::vector<storage::config_change>& changes) {
  std::vector<etcd::txn_op> out;
  for (auto& c : changes) {
    etcd::txn_op o;
    o.key = key_of(c);
    switch (c.what) {
      case storage::config_change::kind::put:
        o.what = etcd::txn_op::kind::put;
        o.value = c.value;
        break;
      case storage::config_change::kind::erase:
        o.what = etcd::txn_op::kind::erase;
        break;
      case storage::config_change::kind::erase_prefix:
        o.what = etcd::txn_op::kind::erase_prefix;
        break;
    }
    out.push_back(std::move(o));
  }
  return out;
}

std::vector<std::string> txn_bodies(const std::vector<storage::config_change>& changes,
                                    const std::vector<etcd::txn_compare>& fence,
                                    std::size_t max_ops) {
  auto ops = ops_of(changes);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < ops.size(); i += max_ops) {
    std::vector<etcd::txn_op> part(ops.begin() + static_cast<std::ptrdiff_t>(i),
                                   ops.begin() + static_cast<std::ptrdiff_t>(
                                                   std::min(ops.size(), i + max_ops)));
    out.push_back(etcd::txn_body(fence, part));
  }
  return out;
}

bool creates_tenant(const std::vector<storage::config_change>& changes) {
  if (changes.empty())
    return false;
  for (auto& c : changes)
    if (c.table != "tenants" || c.what != storage::config_change::kind::put)
      return false;
  return true;
}

storage::batch snapshot(const std::vector<etcd::key_value>& kvs,
                        const std::vector<std::pair<std::string, std::string>>& local,
                        std::size_t* erased) {
  storage::batch b;
  std::set<std::pair<std::string, std::string>> held;
  for (auto& kv : kvs)
    if (auto c = change_of(kv, false)) {
      held.emplace(c->table, c->key);
      b.apply(*c);
    }
  std::size_t n = 0;
  // Tenants first: erasing one erases its extensions, trunks and rules too.
  for (auto* table : {"tenants", "extensions", "trunks", "inbound_rules", "outbound_rules"})
    for (auto& [t, key] : local)
      if (t == table && !held.count({t, key})) {
        storage::config_change c;
        c.what = storage::config_change::kind::erase;
        c.table = t;
        c.key = key;
        b.apply(c);
        ++n;
      }
  if (erased)
    *erased = n;
  b.set_replicated();
  return b;
}

} // namespace pbx::config_sync
