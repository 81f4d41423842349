#include "actors/password_hasher.hpp"

#include <caf/all.hpp>

#include "actors/extension_fields.hpp"
#include "actors/messages/shell.hpp"
#include "actors/password.hpp"

namespace pbx {

caf::behavior password_hasher() {
  return {
    [](verify_atom, const std::string& plain, const std::string& stored) {
      return password::verify(plain, stored);
    },
    [](hash_atom, const std::string& plain) { return password::hash(plain); },
    [](hash_rows_atom, std::vector<field_list>& rows) {
      for (auto& r : rows)
        hash_password_fields(r);
      return std::move(rows);
    },
  };
}

} // namespace pbx
