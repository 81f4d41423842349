#include "storage/lmdb_env.hpp"

namespace pbx::storage::detail {

std::string mdb_error(std::string_view what, int rc) {
  std::string s(what);
  s += ": ";
  s += mdb_strerror(rc);
  return s;
}

int erase_prefix(MDB_txn* t, MDB_dbi dbi, std::string_view prefix) {
  if (prefix.empty()) return EINVAL;
  cursor c;
  int rc = c.open(t, dbi);
  if (rc != 0) return rc;
  for (;;) {
    // Re-seek after every delete rather than rely on cursor position rules.
    MDB_val k = to_val(prefix), v{};
    rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc != 0) return rc;
    if (from_val(k).substr(0, prefix.size()) != prefix) return 0;
    rc = mdb_cursor_del(c.get(), 0);
    if (rc != 0) return rc;
  }
}

}  // namespace pbx::storage::detail
