#include "storage/lmdb_env.hpp"

#include <atomic>

#include "storage/commit_observer.hpp"

namespace pbx::storage {

namespace {
std::atomic<commit_observer> observer{nullptr};
}

void set_commit_observer(commit_observer f) { observer.store(f, std::memory_order_release); }

}  // namespace pbx::storage

namespace pbx::storage::detail {

void commit_took(std::chrono::steady_clock::duration d) {
  if (auto f = observer.load(std::memory_order_acquire))
    f(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()));
}

std::string mdb_error(std::string_view what, int rc) {
  std::string s(what);
  s += ": ";
  s += mdb_strerror(rc);
  return s;
}

int erase_prefix(MDB_txn* t, MDB_dbi dbi, std::string_view prefix,
                 const std::function<void(std::string_view key)>& erased) {
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
    if (erased) erased(from_val(k));
    rc = mdb_cursor_del(c.get(), 0);
    if (rc != 0) return rc;
  }
}

}  // namespace pbx::storage::detail
