// Internal to storage/: thin RAII helpers over LMDB. The only header in the
// project that includes <lmdb.h>; never include it from a public header.
#pragma once

#include <lmdb.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

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

// Calls f(key, value) for the entries under `prefix` (all when empty), in key
// order until f returns false, from the first key
// above `after` (from the prefix's first when `after` is empty): one seek,
// not a walk from the prefix's start. 0 or an LMDB error.
template <class F>
int scan_after(MDB_txn* t, MDB_dbi dbi, std::string_view prefix, std::string_view after, F&& f) {
  cursor c;
  int rc = c.open(t, dbi);
  if (rc != 0) return rc;
  std::string_view start = after.empty() ? prefix : after;
  MDB_val k = to_val(start), v{};
  rc = mdb_cursor_get(c.get(), &k, &v, start.empty() ? MDB_FIRST : MDB_SET_RANGE);
  if (rc == 0 && !after.empty() && from_val(k) == after)
    rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
  while (rc == 0) {
    std::string_view key = from_val(k);
    if (key.substr(0, prefix.size()) != prefix) return 0;
    if (!f(key, from_val(v))) return 0;
    rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
  }
  return rc == MDB_NOTFOUND ? 0 : rc;
}

// Every entry under `prefix` (all entries when empty).
template <class F>
int scan_prefix(MDB_txn* t, MDB_dbi dbi, std::string_view prefix, F&& f) {
  return scan_after(t, dbi, prefix, {}, std::forward<F>(f));
}

// Calls f(key, value) for the entries under a non-empty `prefix` in reverse
// key order, from the last one below `before` (the prefix's last entry when
// `before` is empty), until f returns false. 0 or an LMDB error.
template <class F>
int scan_prefix_reverse(MDB_txn* t, MDB_dbi dbi, std::string_view prefix,
                        std::string_view before, F&& f) {
  if (prefix.empty()) return EINVAL;
  // The first key past the prefix's range: the prefix with its last byte
  // below 0xff raised by one (every key under it sorts before that).
  std::string bound(before.empty() ? prefix : before);
  if (before.empty()) {
    while (!bound.empty() && static_cast<unsigned char>(bound.back()) == 0xff) bound.pop_back();
    if (!bound.empty()) bound.back() = static_cast<char>(static_cast<unsigned char>(bound.back()) + 1);
  }
  cursor c;
  int rc = c.open(t, dbi);
  if (rc != 0) return rc;
  MDB_val k = to_val(bound), v{};
  rc = bound.empty() ? MDB_NOTFOUND : mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
  if (rc == 0)
    rc = mdb_cursor_get(c.get(), &k, &v, MDB_PREV);  // the last key below the bound
  else if (rc == MDB_NOTFOUND)
    rc = mdb_cursor_get(c.get(), &k, &v, MDB_LAST);  // nothing at or above it
  while (rc == 0) {
    std::string_view key = from_val(k);
    if (key.substr(0, prefix.size()) != prefix) return 0;
    if (!f(key, from_val(v))) return 0;
    rc = mdb_cursor_get(c.get(), &k, &v, MDB_PREV);
  }
  return rc == MDB_NOTFOUND ? 0 : rc;
}

// Deletes every key starting with a non-empty `prefix`, telling `erased`
// (when set) each key before it goes. 0 or an LMDB error.
int erase_prefix(MDB_txn* t, MDB_dbi dbi, std::string_view prefix,
                 const std::function<void(std::string_view key)>& erased = nullptr);

}  // namespace pbx::storage::detail
