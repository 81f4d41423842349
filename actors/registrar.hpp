#pragma once
// RFC 3261 section 10.3 on one extension's binding set, without actors or I/O,
// so every rule is unit-testable with a fixed clock.

#include <cstdint>
#include <string>
#include <vector>

#include "actors/messages/registration.hpp"
#include "engine/context.hpp"
#include "storage/records.hpp"

namespace pbx::registrar {

struct outcome {
  std::uint16_t code = 200;
  std::string reason = "OK";
  std::uint32_t min_expires = 0;                 // set with 423
  std::vector<storage::binding_record> bindings; // the set after the request
  std::vector<storage::binding_record> upserts;  // to persist
  std::vector<std::string> removed;              // contacts to erase
};

/// Applies `req` to `current` (the extension's bindings) at time `now`.
/// On any error the binding set is left as it was (minus expired entries).
outcome apply(const std::vector<storage::binding_record>& current,
              const register_request& req, const registrar_settings& cfg,
              std::int64_t now);

/// The Contact list of a 200: every binding with its remaining seconds.
std::vector<listed_contact> listing(const std::vector<storage::binding_record>& b,
                                    std::int64_t now);

} // namespace pbx::registrar
