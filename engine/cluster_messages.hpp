#pragma once
// What nodes of a cluster send each other's node actor (engine/membership.cpp)
// about registrations: the owner's binding writes to its replica, and a
// tenant's bindings to the member it hands the tenant to. The answer is a
// string: empty once the receiver's LMDB has it, else why not.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "actors/messages/directory.hpp"
#include "storage/batch.hpp"

namespace pbx {

/// A batch's binding changes (storage::batch::binding_changes), in order.
struct binding_replica {
  std::string domain;
  std::vector<std::uint8_t> kinds; // storage::config_change::kind
  std::vector<std::string> keys;
  std::vector<std::string> values;
};

/// Every binding of a tenant: the receiver's bindings of it become these.
struct binding_snapshot {
  std::string domain;
  std::vector<storage::binding_record> bindings;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, binding_replica& x) {
  return f(caf::meta::type_name("binding_replica"), x.domain, x.kinds, x.keys, x.values);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, binding_snapshot& x) {
  return f(caf::meta::type_name("binding_snapshot"), x.domain, x.bindings);
}

/// The message of a batch's binding changes, and the batch that applies one.
binding_replica replica_of(const storage::batch& b);
storage::batch batch_of(const binding_replica& r);
storage::batch batch_of(const binding_snapshot& s);

} // namespace pbx
