#include "engine/cluster_messages.hpp"

#include "storage/codec.hpp"

namespace pbx {

binding_replica replica_of(const storage::batch& b) {
  binding_replica r;
  r.domain = b.binding_domain();
  for (auto& c : b.binding_changes()) {
    r.kinds.push_back(static_cast<std::uint8_t>(c.what));
    r.keys.push_back(c.key);
    r.values.push_back(c.value);
  }
  return r;
}

storage::batch batch_of(const binding_replica& r) {
  storage::batch b;
  for (std::size_t i = 0; i < r.kinds.size() && i < r.keys.size() && i < r.values.size(); ++i) {
    storage::config_change c;
    c.what = static_cast<storage::config_change::kind>(r.kinds[i]);
    if (r.kinds[i] > static_cast<std::uint8_t>(storage::config_change::kind::erase_prefix))
      c.table = "invalid"; // fails the batch: not from a node of this build
    else
      c.table = "bindings";
    c.key = r.keys[i];
    c.value = r.values[i];
    b.apply(c);
  }
  b.set_replicated();
  return b;
}

storage::batch batch_of(const binding_snapshot& s) {
  storage::batch b;
  storage::config_change all;
  all.what = storage::config_change::kind::erase_prefix;
  all.table = "bindings";
  all.key = storage::detail::domain_prefix(s.domain);
  b.apply(all);
  for (auto& rec : s.bindings)
    if (rec.domain == s.domain)
      b.put(rec);
  b.set_replicated();
  return b;
}

} // namespace pbx
