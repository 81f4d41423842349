// Internal to storage/: thin RAII helpers over LMDB. The only header in the
// project that includes <lmdb.h>; never include it from a public header.
#pragma once

#include <lmdb.h>

#include <chrono>
#include <string>
#include <string_view>

namespace pbx::storage::detail {

// Tells the commit observer (storage/commit_observer.hpp) about one commit.
void commit_took(std::chrono::steady_clock::duration d);

// "what: <mdb_strerror>", e.g. "mdb_txn_commit: No space left on device".
std::string mdb_error(std::string_view what, int rc);

inline MDB_val to_val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

inline std::string_view from_val(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

// Owns a txn until commit() or destruction (which aborts).
class txn {
 public:
  txn() = default;
  txn(const txn&) = delete;
  txn& operator=(const txn&) = delete;
  ~txn() { abort(); }

  int begin(MDB_env* env, MDB_txn* parent, unsigned flags) {
    abort();
    timed_ = parent == nullptr && (flags & MDB_RDONLY) == 0;
    return mdb_txn_begin(env, parent, flags, &t_);
  }
  // LMDB frees the txn whatever the result.
  int commit() {
    MDB_txn* t = t_;
    t_ = nullptr;
    if (!t) return EINVAL;
    if (!timed_) return mdb_txn_commit(t);
    auto start = std::chrono::steady_clock::now();
    int rc = mdb_txn_commit(t);
    commit_took(std::chrono::steady_clock::now() - start);
    return rc;
  }
  void abort() {
    if (t_) mdb_txn_abort(t_);
    t_ = nullptr;
  }
  MDB_txn* get() const { return t_; }

 private:
  MDB_txn* t_ = nullptr;
  bool timed_ = false; // a top-level write: its commit writes (and syncs) the pages
};

class cursor {
 public:
  cursor() = default;
  cursor(const cursor&) = delete;
  cursor& operator=(const cursor&) = delete;
  ~cursor() {
    if (c_) mdb_cursor_close(c_);
  }
  int open(MDB_txn* t, MDB_dbi dbi) { return mdb_cursor_open(t, dbi, &c_); }
  MDB_cursor* get() const { return c_; }

 private:
  MDB_cursor* c_ = nullptr;
};

// Calls f(key, value) for every entry whose key starts with `prefix` (all
// entries when empty), in key order, until f returns false. Returns 0 or an
// LMDB error.
template <class F>
int scan_prefix(MDB_txn* t, MDB_dbi dbi, std::string_view prefix, F&& f) {
  cursor c;
  int rc = c.open(t, dbi);
  if (rc != 0) return rc;
  MDB_val k = to_val(prefix), v{};
  rc = mdb_cursor_get(c.get(), &k, &v, prefix.empty() ? MDB_FIRST : MDB_SET_RANGE);
  while (rc == 0) {
    std::string_view key = from_val(k);
    if (key.substr(0, prefix.size()) != prefix) return 0;
    if (!f(key, from_val(v))) return 0;
    rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
  }
  return rc == MDB_NOTFOUND ? 0 : rc;
}

// Deletes every key starting with a non-empty `prefix`. 0 or an LMDB error.
int erase_prefix(MDB_txn* t, MDB_dbi dbi, std::string_view prefix);

}  // namespace pbx::storage::detail
