#include "storage/store.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <pthread.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <thread>

#include "storage/codec.hpp"
#include "storage/lmdb_env.hpp"

namespace pbx::storage {

namespace {

using detail::from_val;
using detail::mdb_error;
using detail::op;
using detail::table;
using detail::to_val;
using detail::txn;

// New tables may be appended: an older data dir gets them created on open.
constexpr const char* table_names[] = {"tenants", "extensions", "bindings", "meta", "cdrs",
                                       "security", "voicemails", "audit", "trunks",
                                       "inbound_rules", "outbound_rules", "extension_counts",
                                       "cdr_ids", "auth"};
constexpr std::size_t table_count = 14;
// Entries of the CDR index rebuilt per write txn when an older data dir is upgraded.
constexpr std::size_t upgrade_chunk = 50000;
constexpr std::uintmax_t wav_header_size = 44;
constexpr std::size_t min_map_size = 256u << 10;   // room for the first txn
constexpr std::size_t max_map_size = std::size_t(1) << 40;  // stop doubling at 1 TiB
constexpr unsigned max_readers = 512;
constexpr const char* schema_key = "schema_version";

struct pending {
  batch b;
  done_fn done;
  std::vector<std::string> placed;  // files the file thread put in place for it
};

bool is_pre_commit(op::kind k) { return k == op::kind::file_move || k == op::kind::file_copy; }
bool is_post_commit(op::kind k) { return k == op::kind::file_remove || k == op::kind::dir_remove; }

std::string errno_text(const std::string& what, const std::string& path, int err) {
  return what + " " + path + ": " + std::strerror(err);
}

// "" or why the sync failed.
std::string fsync_path(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return errno_text("cannot open", path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  return rc == 0 ? std::string() : errno_text("fsync failed for", path, err);
}

// Copies `from` into a new file `to` and syncs it; "" or the error.
std::string copy_synced(const std::string& from, const std::string& to) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return errno_text("cannot open", from, errno);
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (out < 0) {
    int err = errno;
    ::close(in);
    return errno_text("cannot create", to, err);
  }
  std::string error;
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(in, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = errno_text("cannot read", from, errno);
      break;
    }
    if (n == 0) break;
    for (ssize_t off = 0; off < n && error.empty();) {
      ssize_t w = ::write(out, buf + off, static_cast<std::size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) error = errno_text("cannot write", to, errno);
      else off += w;
    }
    if (!error.empty()) break;
  }
  if (error.empty() && ::fsync(out) != 0) error = errno_text("fsync failed for", to, errno);
  ::close(in);
  if (::close(out) != 0 && error.empty()) error = errno_text("cannot close", to, errno);
  return error;
}

struct failure {
  int rc = 0;
  std::string what;
};

std::string_view domain_of(std::string_view key) { return key.substr(0, key.find(detail::sep)); }

// A counter's stored text; 0 when absent or unreadable.
std::int64_t read_count(std::string_view text) {
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  return ec == std::errc() && end == text.data() + text.size() ? n : 0;
}

// Adds `delta` to the counter under `key`; one at zero (or below) is removed.
int add_count(MDB_txn* t, MDB_dbi dbi, std::string_view key, std::int64_t delta) {
  MDB_val k = to_val(key), v{};
  int rc = mdb_get(t, dbi, &k, &v);
  if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  std::int64_t n = (rc == 0 ? read_count(from_val(v)) : 0) + delta;
  if (n <= 0) {
    rc = mdb_del(t, dbi, &k, nullptr);
    return rc == MDB_NOTFOUND ? 0 : rc;
  }
  std::string text = std::to_string(n);
  MDB_val nv = to_val(text);
  return mdb_put(t, dbi, &k, &nv, 0);
}

// Outcome of one attempt at committing a group of batches.
struct attempt {
  enum kind_t { committed, resized, map_full, txn_full, failed } kind = committed;
  std::string error;
};

}  // namespace

struct store::impl {
  store::replicator_fn replicator_;  // cluster mode: configuration goes to etcd first
  MDB_env* env_ = nullptr;
  MDB_dbi dbis_[table_count] = {};
  bool dbis_open_ = false;
  options opts_;

  // mdb_env_set_mapsize needs every txn of the process closed: txns hold
  // map_lock_ shared, a resize holds it exclusive. gate_ is taken before
  // either so a resize is not starved by a stream of readers (glibc rwlocks
  // prefer readers).
  mutable std::mutex gate_;
  mutable std::shared_mutex map_lock_;

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<pending> queue_;
  bool stopping_ = false;
  std::thread writer_;

  int lock_fd_ = -1;  // DIR/node.lock, flock'd while the store is open
  std::string dir_;
  reconcile_report reconciled_;

  // File steps of batches that carry audio run on their own threads, so the
  // writer's group commit never waits for their fsyncs. Several, because
  // fsyncs in parallel share the file system's journal commits; one mailbox
  // folder always goes to the same one, which keeps its changes in order.
  struct file_worker {
    std::mutex m;
    std::condition_variable cv;
    std::deque<pending> q;
    bool stopping = false;
    std::thread t;
  };
  std::vector<std::unique_ptr<file_worker>> filers_;
  std::atomic<std::uint64_t> copies_{0};

  std::atomic<std::uint64_t> commits_{0};
  std::atomic<std::uint64_t> batches_{0};
  mutable std::atomic<std::size_t> map_size_{0};  // readers refresh it too

  ~impl() {
    // The file thread feeds the writer: it stops (drained) first.
    for (auto& f : filers_) {
      {
        std::lock_guard<std::mutex> l(f->m);
        f->stopping = true;
      }
      f->cv.notify_one();
      if (f->t.joinable()) f->t.join();
    }
    if (writer_.joinable()) {
      {
        std::lock_guard<std::mutex> l(queue_mutex_);
        stopping_ = true;
      }
      queue_cv_.notify_one();
      writer_.join();  // the writer drains the queue before it returns
    }
    if (env_) {
      if (dbis_open_)
        for (MDB_dbi d : dbis_) mdb_dbi_close(env_, d);
      mdb_env_close(env_);
    }
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
  }

  MDB_dbi dbi(table t) const { return dbis_[static_cast<std::size_t>(t)]; }

  void lock_shared() const {
    std::lock_guard<std::mutex> g(gate_);
    map_lock_.lock_shared();
  }

  void refresh_map_size() const {
    MDB_envinfo info;
    if (mdb_env_info(env_, &info) == 0) map_size_ = info.me_mapsize;
  }

  // Another process grew the map (MDB_MAP_RESIZED): adopt its size.
  void adopt_map_size() const {
    std::lock_guard<std::mutex> g(gate_);
    std::unique_lock<std::shared_mutex> x(map_lock_);
    mdb_env_set_mapsize(env_, 0);
    refresh_map_size();
  }

  std::string grow_map() {
    std::lock_guard<std::mutex> g(gate_);
    std::unique_lock<std::shared_mutex> x(map_lock_);
    MDB_envinfo info;
    int rc = mdb_env_info(env_, &info);
    if (rc != 0) return mdb_error("mdb_env_info", rc);
    if (info.me_mapsize >= max_map_size)
      return "map size limit reached (" + std::to_string(info.me_mapsize) + " bytes)";
    rc = mdb_env_set_mapsize(env_, info.me_mapsize * 2);
    if (rc != 0) return mdb_error("mdb_env_set_mapsize", rc);
    refresh_map_size();
    return {};
  }

  // A read txn holding map_lock_ shared for its lifetime.
  class read_scope {
   public:
    explicit read_scope(const impl& s) : s_(s) {}
    ~read_scope() {
      t_.abort();
      if (locked_) s_.map_lock_.unlock_shared();
    }
    int begin() {
      for (int tries = 0; tries < 4; ++tries) {
        s_.lock_shared();
        locked_ = true;
        int rc = t_.begin(s_.env_, nullptr, MDB_RDONLY);
        if (rc != MDB_MAP_RESIZED) return rc;
        s_.map_lock_.unlock_shared();
        locked_ = false;
        s_.adopt_map_size();
      }
      return MDB_MAP_RESIZED;
    }
    MDB_txn* get() const { return t_.get(); }

   private:
    const impl& s_;
    txn t_;
    bool locked_ = false;
  };

  template <class T>
  std::optional<T> get_record(table t, const std::string& key) const {
    read_scope r(*this);
    if (r.begin() != 0) return std::nullopt;
    MDB_val k = to_val(key), v{};
    if (mdb_get(r.get(), dbi(t), &k, &v) != 0) return std::nullopt;
    T out;
    if (!detail::decode(from_val(v), out)) return std::nullopt;
    return out;
  }

  // Records under `prefix` in key order; corrupt values are skipped.
  template <class T>
  std::vector<T> list(table t, std::string_view prefix) const {
    return list<T>(t, prefix, [](std::string_view, std::string_view v, T& rec) {
      return detail::decode(v, rec);
    });
  }

  // decode(key, value, record): false skips an unreadable one.
  template <class T, class Decode>
  std::vector<T> list(table t, std::string_view prefix, Decode&& decode) const {
    std::vector<T> out;
    read_scope r(*this);
    if (r.begin() != 0) return out;
    detail::scan_prefix(r.get(), dbi(t), prefix, [&](std::string_view k, std::string_view v) {
      T rec;
      if (decode(k, v, rec)) out.push_back(std::move(rec));
      return true;
    });
    return out;
  }

  std::string open_env(const std::string& dir) {
    int rc = mdb_env_create(&env_);
    if (rc != 0) {
      env_ = nullptr;
      return mdb_error("mdb_env_create", rc);
    }
    if ((rc = mdb_env_set_maxdbs(env_, table_count)) != 0)
      return mdb_error("mdb_env_set_maxdbs", rc);
    // Every concurrent read holds a reader slot; LMDB's default is 126.
    if ((rc = mdb_env_set_maxreaders(env_, max_readers)) != 0)
      return mdb_error("mdb_env_set_maxreaders", rc);
    if ((rc = mdb_env_set_mapsize(env_, std::max(opts_.initial_map_size, min_map_size))) != 0)
      return mdb_error("mdb_env_set_mapsize", rc);
    // NOTLS: read txns are not tied to a thread slot; sync stays on (durability).
    if ((rc = mdb_env_open(env_, dir.c_str(), MDB_NOTLS, 0640)) != 0)
      return mdb_error("cannot open LMDB environment in " + dir, rc);
    int stale = 0;
    mdb_reader_check(env_, &stale);  // free slots left by a killed process
    if (static_cast<std::size_t>(mdb_env_get_maxkeysize(env_)) < detail::max_key_size)
      return "LMDB max key size is below " + std::to_string(detail::max_key_size);
    try {
      detail::binding_key("d", "n", std::string(detail::max_key_size, 'c'));  // a cut key
    } catch (const std::exception& e) {
      return std::string("cannot make binding keys: ") + e.what();
    }

    txn t;
    if ((rc = t.begin(env_, nullptr, 0)) != 0) return mdb_error("mdb_txn_begin", rc);
    for (std::size_t i = 0; i < table_count; ++i)
      if ((rc = mdb_dbi_open(t.get(), table_names[i], MDB_CREATE, &dbis_[i])) != 0)
        return mdb_error(std::string("mdb_dbi_open(") + table_names[i] + ")", rc);

    long stored = 0;  // none yet: a new data dir
    MDB_val k = to_val(schema_key), v{};
    rc = mdb_get(t.get(), dbi(table::meta), &k, &v);
    if (rc != 0 && rc != MDB_NOTFOUND) return mdb_error("mdb_get(meta)", rc);
    if (rc == 0) {
      std::string_view s = from_val(v);
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), stored);
      if (ec != std::errc() || end != s.data() + s.size())
        return "unreadable schema version '" + std::string(s) + "' in " + dir;
      if (stored > schema_version)
        return "data in " + dir + " has schema version " + std::to_string(stored) +
               ", newer than the supported schema version " + std::to_string(schema_version);
    }
    if ((rc = t.commit()) != 0) return mdb_error("mdb_txn_commit", rc);
    dbis_open_ = true;  // handles opened in a committed txn stay valid
    refresh_map_size();
    return stored < schema_version ? upgrade(stored) : std::string();
  }

  // Runs fn(txn) in a write txn and commits it, growing the map when full
  // (fn starts over in a fresh txn). Only while no writer runs: at open.
  template <class F>
  std::string write_txn(F&& fn) {
    for (;;) {
      txn t;
      int rc = t.begin(env_, nullptr, 0);
      if (rc == MDB_MAP_RESIZED) {
        adopt_map_size();
        continue;
      }
      if (rc != 0) return mdb_error("mdb_txn_begin", rc);
      rc = fn(t.get());
      if (rc == 0) rc = t.commit();
      if (rc == 0) return {};
      if (rc != MDB_MAP_FULL) return mdb_error("schema upgrade", rc);
      t.abort();
      if (std::string e = grow_map(); !e.empty()) return e;
    }
  }

  // What the writer keeps beside the records, built from them for a data
  // dir of an older schema (or an upgrade cut short): version 2 adds the
  // extension count per tenant and the CDR id index (from the keys, nothing
  // decoded), version 3 the auth records (each extension decoded once);
  // version 4 builds nothing (older bindings load as they are); version 5
  // gives cut binding keys their SHA-256 ending. The version is written last.
  std::string upgrade(long stored) {
    std::string e;
    if (stored < 2 && !(e = upgrade_counts()).empty()) return e;
    if (stored < 3 && !(e = build_auth()).empty()) return e;
    if (stored < 5 && !(e = rekey_cut_bindings()).empty()) return e;
    return write_txn([&](MDB_txn* t) {
      std::string version = std::to_string(schema_version);
      MDB_val k = to_val(schema_key), v = to_val(version);
      return mdb_put(t, dbi(table::meta), &k, &v, 0);
    });
  }

  // Rebuilds table `into` from the records of `from`, upgrade_chunk records
  // per write txn; the first drops what a cut-short upgrade left. derive(key,
  // value, found) adds the entries one record gives; they are put with `flags`.
  template <class F>
  std::string rebuild(table from, table into, unsigned flags, F&& derive) {
    auto target = dbi(into);
    std::string last;  // the last record done
    for (bool more = true; more;) {
      std::string chunk_last;
      std::size_t n = 0;
      std::string e = write_txn([&](MDB_txn* t) {
        chunk_last = last;
        n = 0;
        std::vector<std::pair<std::string, std::string>> found;  // key, value
        int rc = last.empty() ? mdb_drop(t, target, 0) : 0;
        if (rc == 0)
          rc = detail::scan_after(t, dbi(from), {}, last,
                                    [&](std::string_view key, std::string_view value) {
            derive(key, value, found);
            chunk_last.assign(key);
            return ++n < upgrade_chunk;
          });
        for (std::size_t i = 0; rc == 0 && i < found.size(); ++i) {
          MDB_val k = to_val(found[i].first), v = to_val(found[i].second);
          rc = mdb_put(t, target, &k, &v, flags);
        }
        return rc;
      });
      if (!e.empty()) return e;
      last = std::move(chunk_last);
      more = n == upgrade_chunk;
    }
    return {};
  }

  // Before schema 5 a cut binding key ended in a hand-made hash; the value
  // has the whole contact, so the key is made again. Keys are read, only the
  // few cut ones (a third sep) decoded.
  std::string rekey_cut_bindings() {
    auto d = dbi(table::bindings);
    return write_txn([&](MDB_txn* t) {
      std::vector<std::pair<std::string, std::string>> cut;  // key, value
      int rc = detail::scan_prefix(t, d, {}, [&](std::string_view k, std::string_view v) {
        if (std::count(k.begin(), k.end(), detail::sep) > 2) cut.emplace_back(k, v);
        return true;
      });
      for (std::size_t i = 0; rc == 0 && i < cut.size(); ++i) {
        auto& [key, value] = cut[i];
        binding_record r;
        if (!detail::decode_binding(key, value, r)) continue;  // unreadable: left as it is
        auto now = detail::binding_key(r.domain, r.number, r.contact);
        if (now == key) continue;
        MDB_val k = to_val(key), k2 = to_val(now), v = to_val(value);
        rc = mdb_del(t, d, &k, nullptr);
        if (rc == 0) rc = mdb_put(t, d, &k2, &v, 0);
      }
      return rc;
    });
  }

  std::string build_auth() {
    // Extensions are scanned in key order, the auth records' order too.
    return rebuild(table::extensions, table::auth, MDB_APPEND,
                   [](std::string_view key, std::string_view value, auto& found) {
      extension_record r;
      if (detail::decode(value, r))  // an unreadable record stays unregistrable
        found.emplace_back(std::string(key), detail::encode(auth_of(r)));
    });
  }

  std::string upgrade_counts() {
    // Ascending CDR keys: a repeated id keeps its newest.
    std::string e = rebuild(table::cdrs, table::cdr_ids, 0,
                            [](std::string_view key, std::string_view, auto& found) {
      auto first = key.find(detail::sep);
      auto second = first == key.npos ? key.npos : key.find(detail::sep, first + 1);
      if (second != key.npos)
        found.emplace_back(detail::cdr_id_key(key.substr(0, first), key.substr(second + 1)),
                           std::string(key));
    });
    if (!e.empty()) return e;
    return write_txn([&](MDB_txn* t) {
      auto counts = dbi(table::extension_counts);
      int rc = mdb_drop(t, counts, 0);
      std::string domain;
      std::int64_t n = 0;
      int put_rc = 0;
      auto put = [&]() {
        if (n == 0) return 0;
        MDB_val k = to_val(domain);
        std::string text = std::to_string(n);
        MDB_val v = to_val(text);
        return mdb_put(t, counts, &k, &v, 0);
      };
      if (rc == 0)
        rc = detail::scan_prefix(t, dbi(table::extensions), {},
                                 [&](std::string_view key, std::string_view) {
          auto d = domain_of(key);
          if (d != domain) {
            if ((put_rc = put()) != 0) return false;
            domain.assign(d);
            n = 0;
          }
          ++n;
          return true;
        });
      if (rc == 0) rc = put_rc;
      if (rc == 0) rc = put();
      return rc;
    });
  }

  // Applies one batch in a nested txn so its failure leaves the parent intact.
  // Extension counts change in the same txn as the extensions: a put that
  // adds a key counts, an overwrite does not, an erase counts only when the
  // key was there.
  failure apply(MDB_txn* parent, const batch& b) {
    txn child;
    int rc = child.begin(env_, parent, 0);
    if (rc != 0) return {rc, mdb_error("mdb_txn_begin(nested)", rc)};
    std::vector<std::pair<std::string, std::int64_t>> counted;  // domain, change
    auto count = [&](std::string_view key, std::int64_t delta) {
      auto domain = domain_of(key);
      for (auto& [d, n] : counted)
        if (d == domain) return void(n += delta);
      counted.emplace_back(std::string(domain), delta);
    };
    auto flush_counts = [&]() -> int {
      for (auto& [domain, n] : counted)
        if (n != 0)
          if (int rc = add_count(child.get(), dbi(table::extension_counts), domain, n); rc != 0)
            return rc;
      counted.clear();
      return 0;
    };
    // Auth records go in after the rest of the batch (nothing in a batch reads
    // them): put beside their extensions, each auth page sat among ~14 pages
    // of extension records, and the kernel's fault-around (64 KiB) mapped
    // those with every auth read, ~170 MB of map at 200,000 registered.
    for (bool auth_pass : {false, true})
    for (const op& o : b.ops()) {
      if ((o.where == table::auth) != auth_pass) continue;
      const MDB_dbi d = dbi(o.where);
      const std::string name = table_names[static_cast<std::size_t>(o.where)];
      const bool extensions = o.where == table::extensions;
      if (o.where == table::extension_counts && (rc = flush_counts()) != 0)
        return {rc, mdb_error("extension count", rc)};
      MDB_val k = to_val(o.key);
      switch (o.what) {
        case op::kind::put: {
          MDB_val v = to_val(o.value);
          rc = mdb_put(child.get(), d, &k, &v, extensions ? MDB_NOOVERWRITE : 0);
          if (rc == 0 && extensions)
            count(o.key, 1);
          else if (rc == MDB_KEYEXIST && extensions) {
            v = to_val(o.value);  // LMDB pointed it at the stored value
            rc = mdb_put(child.get(), d, &k, &v, 0);  // an overwrite: the count stays
          }
          if (rc != 0)
            return {rc, mdb_error("mdb_put(" + name + ")", rc)};
          break;
        }
        case op::kind::erase:
          rc = mdb_del(child.get(), d, &k, nullptr);
          if (rc == 0 && extensions)
            count(o.key, -1);
          if (rc != 0 && rc != MDB_NOTFOUND)
            return {rc, mdb_error("mdb_del(" + name + ")", rc)};
          break;
        case op::kind::erase_prefix:
          rc = extensions ? detail::erase_prefix(child.get(), d, o.key,
                                                 [&](std::string_view key) { count(key, -1); })
                          : detail::erase_prefix(child.get(), d, o.key);
          if (rc != 0)
            return {rc, mdb_error("erase prefix(" + name + ")", rc)};
          break;
        case op::kind::invalid:
          return {EINVAL, o.value};
        default:
          break;  // file steps happen outside the txn
      }
    }
    if ((rc = flush_counts()) != 0) return {rc, mdb_error("extension count", rc)};
    if ((rc = child.commit()) != 0) return {rc, mdb_error("mdb_txn_commit(nested)", rc)};
    return {};
  }

  attempt try_commit(std::vector<pending>& g, std::size_t begin, std::size_t end,
                     std::vector<std::string>& errors) {
    lock_shared();
    std::shared_lock<std::shared_mutex> hold(map_lock_, std::adopt_lock);
    txn parent;
    int rc = parent.begin(env_, nullptr, 0);
    if (rc == MDB_MAP_RESIZED) return {attempt::resized, {}};
    if (rc != 0) return {attempt::failed, mdb_error("mdb_txn_begin", rc)};
    std::uint64_t applied = 0;
    for (std::size_t i = begin; i < end; ++i) {
      failure f = apply(parent.get(), g[i].b);
      if (f.rc == MDB_MAP_FULL) return {attempt::map_full, {}};
      if (f.rc == MDB_TXN_FULL) return {attempt::txn_full, std::move(f.what)};
      errors[i] = std::move(f.what);
      if (f.rc == 0) ++applied;
    }
    rc = parent.commit();
    if (rc == MDB_MAP_FULL) return {attempt::map_full, {}};
    if (rc != 0) return {attempt::failed, mdb_error("mdb_txn_commit", rc)};
    ++commits_;
    batches_ += applied;
    return {};
  }

  // Commits g[begin, end) in one txn, growing the map and replaying as needed.
  void commit_range(std::vector<pending>& g, std::size_t begin, std::size_t end,
                    std::vector<std::string>& errors) {
    auto fail_all = [&](const std::string& e) {
      for (std::size_t i = begin; i < end; ++i)
        if (errors[i].empty()) errors[i] = e;
    };
    for (;;) {
      for (std::size_t i = begin; i < end; ++i) errors[i].clear();
      attempt a = try_commit(g, begin, end, errors);
      switch (a.kind) {
        case attempt::committed:
          return;
        case attempt::resized:
          adopt_map_size();
          continue;
        case attempt::map_full: {
          std::string e = grow_map();
          if (e.empty()) continue;
          for (std::size_t i = begin; i < end; ++i) errors[i] = e;
          return;
        }
        case attempt::txn_full:
          // Too many dirty pages for one txn: commit the halves separately.
          if (end - begin > 1) {
            std::size_t mid = begin + (end - begin) / 2;
            commit_range(g, begin, mid, errors);
            commit_range(g, mid, end, errors);
          } else {
            errors[begin] = a.error;
          }
          return;
        case attempt::failed:
          // Nothing was committed: every batch of the group gets an error.
          fail_all(a.error);
          return;
      }
    }
  }

  std::string resolve(const std::string& path) const {
    return !path.empty() && path[0] == '/' ? path : dir_ + "/" + path;
  }

  // Committed: the files a record no longer names go. Failed: the files put
  // in place for it go (no record will name them).
  void after_commit(pending& p, const std::string& error) {
    std::error_code ec;
    if (!error.empty()) {
      for (auto& f : p.placed) std::filesystem::remove(f, ec);
      return;
    }
    for (const op& o : p.b.ops()) {
      if (o.what == op::kind::file_remove)
        std::filesystem::remove(resolve(o.key), ec);
      else if (o.what == op::kind::dir_remove && !o.key.empty())
        std::filesystem::remove_all(resolve(o.key), ec);
    }
  }

  void enqueue_write(pending p) {
    bool wake;
    {
      std::lock_guard<std::mutex> l(queue_mutex_);
      queue_.push_back(std::move(p));
      wake = queue_.size() == 1 || queue_.size() == opts_.linger_until;
    }
    if (wake) queue_cv_.notify_one();
  }

  // fsync(file) -> rename -> fsync(dir) for every move/copy of `p`; "" or
  // the error, with the temps and the files already placed removed.
  std::string place_files(pending& p) {
    std::set<std::string> dirs;
    std::string error;
    std::error_code ec;
    for (const op& o : p.b.ops()) {
      if (!is_pre_commit(o.what) || !error.empty()) continue;
      const std::string from = resolve(o.key), to = resolve(o.value);
      const auto dir = std::filesystem::path(to).parent_path().string();
      std::filesystem::create_directories(dir, ec);
      if (ec) {
        error = "cannot create directory " + dir + ": " + ec.message();
        break;
      }
      if (o.what == op::kind::file_move) {
        if ((error = fsync_path(from, false)).empty() && ::rename(from.c_str(), to.c_str()) != 0)
          error = errno_text("cannot rename " + from + " to", to, errno);
      } else {
        auto tmp = dir + "/.tmp-" + std::to_string(++copies_) + "-" +
                   std::filesystem::path(to).filename().string();
        error = copy_synced(from, tmp);
        if (error.empty() && ::rename(tmp.c_str(), to.c_str()) != 0)
          error = errno_text("cannot rename " + tmp + " to", to, errno);
        if (!error.empty()) std::filesystem::remove(tmp, ec);
      }
      if (error.empty()) {
        p.placed.push_back(to);
        dirs.insert(dir);
      }
    }
    for (auto& d : dirs)
      if (error.empty()) error = fsync_path(d, true);
    if (error.empty()) return error;
    for (const op& o : p.b.ops())  // a temp handed over is ours to remove
      if (o.what == op::kind::file_move) std::filesystem::remove(resolve(o.key), ec);
    for (auto& f : p.placed) std::filesystem::remove(f, ec);
    p.placed.clear();
    return error;
  }

  // The worker of the folder the batch's first file goes to.
  file_worker& filer_for(const batch& b) {
    for (const op& o : b.ops())
      if (is_pre_commit(o.what)) {
        auto dir = std::filesystem::path(resolve(o.value)).parent_path().string();
        return *filers_[std::hash<std::string>{}(dir) % filers_.size()];
      }
    return *filers_.front();
  }

  void run_files(file_worker& w) {
    for (;;) {
      pending p;
      {
        std::unique_lock<std::mutex> l(w.m);
        w.cv.wait(l, [&] { return w.stopping || !w.q.empty(); });
        if (w.q.empty()) return;
        p = std::move(w.q.front());
        w.q.pop_front();
      }
      std::string error;
      try {
        error = place_files(p);
      } catch (const std::exception& e) {
        error = std::string("file step failed: ") + e.what();
      }
      if (error.empty()) {
        enqueue_write(std::move(p));
        continue;
      }
      try {
        if (p.done) p.done(error);
      } catch (...) {
      }
    }
  }

  // At open, before any write: the voicemail folder and the records agree.
  reconcile_report reconcile() {
    namespace fs = std::filesystem;
    reconcile_report r;
    std::error_code ec;
    const fs::path root = fs::path(dir_) / "voicemail";
    fs::create_directories(root / "spool", ec);
    std::set<std::string> keep;  // relative paths named by a record
    batch broken;
    for (auto& v : list<voicemail_record>(table::voicemails, {})) {
      auto size = fs::file_size(resolve(v.file), ec);
      if (ec || size < wav_header_size) {
        broken.erase_voicemail(v.domain, v.number, v.id);
        ++r.records_removed;
      } else {
        keep.insert(v.file);
      }
    }
    // A greeting lives in its own extension's folder (voicemail/DOMAIN/NUMBER/,
    // actors/mailbox): a file no message names is kept when that extension
    // names it. Only those extensions are read, not every one (a million).
    auto is_greeting = [&](const std::string& rel) {
      auto a = rel.find('/'), b = rel.find('/', a + 1), c = rel.find('/', b + 1);
      if (b == rel.npos || c == rel.npos || rel.find('/', c + 1) != rel.npos) return false;
      auto e = get_record<extension_record>(
          table::extensions, detail::extension_key(std::string_view(rel).substr(a + 1, b - a - 1),
                                                   std::string_view(rel).substr(b + 1, c - b - 1)));
      return e && e->greeting == rel;
    };
    std::vector<std::pair<fs::path, bool>> doomed;  // path, is a temp
    for (auto i = fs::recursive_directory_iterator(root, ec);
         !ec && i != fs::recursive_directory_iterator(); i.increment(ec)) {
      if (!i->is_regular_file(ec)) continue;
      auto rel = "voicemail/" + i->path().lexically_relative(root).generic_string();
      auto name = i->path().filename().string();
      bool temp = rel.rfind("voicemail/spool/", 0) == 0 || name.rfind(".tmp-", 0) == 0;
      if (temp || (keep.count(rel) == 0 && !is_greeting(rel)))
        doomed.emplace_back(i->path(), temp);
    }
    for (auto& [path, temp] : doomed)
      if (fs::remove(path, ec)) ++(temp ? r.temps_removed : r.files_removed);
    if (!broken.empty()) {
      txn t;
      if (t.begin(env_, nullptr, 0) == 0 && apply(t.get(), broken).rc == 0) t.commit();
    }
    return r;
  }

  void run() {
    std::vector<pending> group;
    std::vector<std::string> errors;
    bool busy = false;  // writes arrived while the last group was committed
    for (;;) {
      {
        std::unique_lock<std::mutex> l(queue_mutex_);
        queue_cv_.wait(l, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping and drained
        if (busy && opts_.linger.count() > 0)
          queue_cv_.wait_for(l, opts_.linger, [&] {
            return stopping_ || queue_.size() >= opts_.linger_until;
          });
        std::size_t n = std::min(queue_.size(), std::max<std::size_t>(1, opts_.max_batch));
        for (std::size_t i = 0; i < n; ++i) {
          group.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      errors.assign(group.size(), std::string());
      commit_range(group, 0, group.size(), errors);
      {
        std::lock_guard<std::mutex> l(queue_mutex_);
        busy = !queue_.empty();
      }
      for (std::size_t i = 0; i < group.size(); ++i) after_commit(group[i], errors[i]);
      for (std::size_t i = 0; i < group.size(); ++i) {
        if (!group[i].done) continue;
        try {
          group[i].done(errors[i]);
        } catch (...) {
          // A throwing callback must not kill the writer.
        }
      }
      group.clear();
    }
  }
};

store::store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

store::~store() = default;

namespace {

// Two nodes on one data dir would each answer from their own memory (a
// deleted extension still registering at the other): one owner at a time.
// flock is released by the kernel when the process dies, even by SIGKILL.
std::string lock_dir(const std::string& dir, int& fd) {
  auto path = dir + "/node.lock";
  fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return "cannot open " + path + ": " + std::strerror(errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char pid[32] = {};
    auto n = ::pread(fd, pid, sizeof(pid) - 1, 0);
    std::string owner = n > 0 ? std::string{pid, static_cast<std::size_t>(n)} : "";
    while (!owner.empty() && (owner.back() == '\n' || owner.back() == ' '))
      owner.pop_back();
    ::close(fd);
    fd = -1;
    if (err == EWOULDBLOCK)
      return "data dir " + dir + " is in use by another actorpbx"
             + (owner.empty() ? "" : " (pid " + owner + ")")
             + ": stop it first, or give this node its own --data-dir";
    return "cannot lock " + path + ": " + std::strerror(err);
  }
  auto pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    // The lock holds without the pid; the pid only helps the message above.
  }
  return {};
}

}  // namespace

std::unique_ptr<store> store::open(const std::string& dir, const options& opts,
                                   std::string* error) {
  std::string ignored;
  if (!error) error = &ignored;
  error->clear();
  try {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      *error = "cannot create directory " + dir + ": " + ec.message();
      return nullptr;
    }
    auto p = std::make_unique<impl>();
    p->opts_ = opts;
    p->dir_ = dir;
    if (std::string e = opts.exclusive ? lock_dir(dir, p->lock_fd_) : ""; !e.empty()) {
      *error = std::move(e);
      return nullptr;
    }
    if (std::string e = p->open_env(dir); !e.empty()) {
      *error = std::move(e);
      return nullptr;
    }
    p->reconciled_ = p->reconcile();
    impl* raw = p.get();
    p->writer_ = std::thread([raw] {
      pthread_setname_np(pthread_self(), "pbx.storage");
      raw->run();
    });
    for (std::size_t i = 0; i < std::max<std::size_t>(1, opts.file_threads); ++i) {
      p->filers_.push_back(std::make_unique<impl::file_worker>());
      auto* w = p->filers_.back().get();
      w->t = std::thread([raw, w] {
        pthread_setname_np(pthread_self(), "pbx.files");
        raw->run_files(*w);
      });
    }
    return std::unique_ptr<store>(new store(std::move(p)));
  } catch (const std::exception& e) {
    *error = std::string("store::open: ") + e.what();
  } catch (...) {
    *error = "store::open: unknown error";
  }
  return nullptr;
}

namespace {

// Reads turn any exception (bad_alloc) into "nothing".
template <class R, class F>
R guarded(F&& f) noexcept {
  try {
    return f();
  } catch (...) {
    return R{};
  }
}

}  // namespace

std::optional<tenant_record> store::tenant(std::string_view domain) const {
  return guarded<std::optional<tenant_record>>([&] {
    return impl_->get_record<tenant_record>(table::tenants, detail::tenant_key(domain));
  });
}

std::vector<tenant_record> store::tenants() const {
  return guarded<std::vector<tenant_record>>(
      [&] { return impl_->list<tenant_record>(table::tenants, {}); });
}

std::optional<extension_record> store::extension(std::string_view domain,
                                                 std::string_view number) const {
  return guarded<std::optional<extension_record>>([&] {
    return impl_->get_record<extension_record>(table::extensions,
                                               detail::extension_key(domain, number));
  });
}

std::optional<auth_record> store::extension_auth(std::string_view domain,
                                                 std::string_view number) const {
  return guarded<std::optional<auth_record>>([&] {
    return impl_->get_record<auth_record>(table::auth, detail::extension_key(domain, number));
  });
}

std::vector<extension_record> store::extensions(std::string_view domain) const {
  return extensions(domain, {}, 0);
}

std::vector<extension_record> store::extensions(std::string_view domain, std::string_view after,
                                                std::size_t limit) const {
  return guarded<std::vector<extension_record>>([&] {
    std::vector<extension_record> out;
    impl::read_scope r(*impl_);
    if (r.begin() != 0) return out;
    auto prefix = detail::domain_prefix(domain);
    auto from = after.empty() ? std::string() : detail::extension_key(domain, after);
    detail::scan_after(r.get(), impl_->dbi(table::extensions), prefix, from,
                       [&](std::string_view, std::string_view v) {
      extension_record rec;
      if (detail::decode(v, rec)) out.push_back(std::move(rec));  // corrupt: skipped
      return limit == 0 || out.size() < limit;
    });
    return out;
  });
}

std::size_t store::extension_count(std::string_view domain) const {
  return guarded<std::size_t>([&]() -> std::size_t {
    impl::read_scope r(*impl_);
    if (r.begin() != 0) return 0;
    auto key = detail::tenant_key(domain);
    MDB_val k = to_val(key), v{};
    if (mdb_get(r.get(), impl_->dbi(table::extension_counts), &k, &v) != 0) return 0;
    return static_cast<std::size_t>(read_count(from_val(v)));
  });
}

std::size_t store::entries(detail::table which) const {
  return guarded<std::size_t>([&]() -> std::size_t {
    impl::read_scope r(*impl_);
    MDB_stat stat;
    if (r.begin() != 0 ||
        mdb_stat(r.get(), impl_->dbi(which), &stat) != 0)
      return 0;
    return stat.ms_entries;
  });
}

// These tables hold nothing but their records: LMDB's entry count is theirs.
std::size_t store::extension_total() const { return entries(table::extensions); }
std::size_t store::tenant_count() const { return entries(table::tenants); }
std::size_t store::binding_count() const { return entries(table::bindings); }

std::vector<binding_record> store::bindings(std::string_view domain,
                                            std::string_view number) const {
  return guarded<std::vector<binding_record>>([&] {
    return impl_->list<binding_record>(table::bindings, detail::binding_prefix(domain, number),
                                       detail::decode_binding);
  });
}

std::vector<binding_record> store::bindings(std::string_view domain) const {
  return guarded<std::vector<binding_record>>([&] {
    return impl_->list<binding_record>(table::bindings, detail::domain_prefix(domain),
                                       detail::decode_binding);
  });
}

std::vector<std::string> store::binding_domains() const {
  return guarded<std::vector<std::string>>([&] {
    std::vector<std::string> out;
    impl::read_scope r(*impl_);
    if (r.begin() != 0) return out;
    // Keys only: nothing is decoded.
    detail::scan_prefix(r.get(), impl_->dbi(table::bindings), {},
                        [&](std::string_view key, std::string_view) {
                          auto domain = key.substr(0, key.find(detail::sep));
                          if (out.empty() || out.back() != domain) out.emplace_back(domain);
                          return true;
                        });
    return out;
  });
}

std::vector<trunk_record> store::trunks(std::string_view domain) const {
  return guarded<std::vector<trunk_record>>(
      [&] { return impl_->list<trunk_record>(table::trunks, detail::domain_prefix(domain)); });
}

std::vector<trunk_record> store::all_trunks() const {
  return guarded<std::vector<trunk_record>>(
      [&] { return impl_->list<trunk_record>(table::trunks, {}); });
}

std::vector<inbound_rule_record> store::inbound_rules(std::string_view domain) const {
  return guarded<std::vector<inbound_rule_record>>([&] {
    return impl_->list<inbound_rule_record>(table::inbound_rules, detail::domain_prefix(domain));
  });
}

std::vector<outbound_rule_record> store::outbound_rules(std::string_view domain) const {
  return guarded<std::vector<outbound_rule_record>>([&] {
    return impl_->list<outbound_rule_record>(table::outbound_rules,
                                             detail::domain_prefix(domain));
  });
}

std::vector<ban_record> store::bans() const {
  return guarded<std::vector<ban_record>>(
      [&] { return impl_->list<ban_record>(table::security, "ban/"); });
}

std::vector<allow_record> store::allows() const {
  return guarded<std::vector<allow_record>>(
      [&] { return impl_->list<allow_record>(table::security, "allow/"); });
}

std::vector<cdr_record> store::cdrs(std::string_view domain, std::size_t limit,
                                   std::string_view extension, std::string_view before) const {
  return guarded<std::vector<cdr_record>>([&] {
    std::vector<cdr_record> out;
    if (limit == 0) return out;
    impl::read_scope r(*impl_);
    if (r.begin() != 0) return out;
    std::string from;  // walk back from the tenant's newest, or from below `before`
    if (!before.empty()) {
      auto id = detail::cdr_id_key(domain, before);
      MDB_val k = to_val(id), v{};
      if (mdb_get(r.get(), impl_->dbi(table::cdr_ids), &k, &v) != 0)
        return out;  // an unknown id: nothing
      from.assign(from_val(v));
    }
    detail::scan_prefix_reverse(r.get(), impl_->dbi(table::cdrs), detail::domain_prefix(domain),
                                from, [&](std::string_view, std::string_view v) {
      cdr_record rec;
      if (detail::decode(v, rec) &&
          (extension.empty() || rec.caller == extension || rec.callee == extension))
        out.push_back(std::move(rec));
      return out.size() < limit;
    });
    return out;
  });
}

std::vector<audit_record> store::audit(std::string_view domain, std::size_t limit) const {
  return guarded<std::vector<audit_record>>([&] {
    std::vector<audit_record> out;
    if (limit == 0) return out;
    impl::read_scope r(*impl_);
    if (r.begin() != 0) return out;
    detail::scan_prefix_reverse(r.get(), impl_->dbi(table::audit), detail::domain_prefix(domain),
                                {}, [&](std::string_view, std::string_view v) {
      audit_record rec;
      if (detail::decode(v, rec)) out.push_back(std::move(rec));
      return out.size() < limit;
    });
    return out;
  });
}

std::vector<voicemail_record> store::voicemails(std::string_view domain,
                                               std::string_view number) const {
  return guarded<std::vector<voicemail_record>>([&] {
    auto out = impl_->list<voicemail_record>(table::voicemails,
                                             detail::binding_prefix(domain, number));
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return a.time < b.time;  // keys are in id order already
    });
    return out;
  });
}

std::vector<voicemail_record> store::voicemails(std::string_view domain) const {
  return guarded<std::vector<voicemail_record>>([&] {
    return impl_->list<voicemail_record>(table::voicemails, detail::domain_prefix(domain));
  });
}

std::optional<voicemail_record> store::voicemail(std::string_view domain,
                                                 std::string_view number,
                                                 std::string_view id) const {
  return guarded<std::optional<voicemail_record>>([&] {
    return impl_->get_record<voicemail_record>(table::voicemails,
                                               detail::voicemail_key(domain, number, id));
  });
}

voicemail_counts store::voicemail_count(std::string_view domain,
                                        std::string_view number) const {
  voicemail_counts c;
  for (auto& v : voicemails(domain, number)) ++(v.read ? c.saved : c.fresh);
  return c;
}

const std::string& store::dir() const { return impl_->dir_; }
reconcile_report store::reconciled() const { return impl_->reconciled_; }

std::optional<std::string> store::meta(std::string_view key) const {
  return guarded<std::optional<std::string>>([&]() -> std::optional<std::string> {
    impl::read_scope r(*impl_);
    if (r.begin() != 0) return std::nullopt;
    MDB_val k = to_val(key), v{};
    if (mdb_get(r.get(), impl_->dbi(table::meta), &k, &v) != 0) return std::nullopt;
    return std::string(from_val(v));
  });
}

void store::set_replicator(replicator_fn f) { impl_->replicator_ = std::move(f); }

std::vector<std::pair<std::string, std::string>> store::config_keys() const {
  return guarded<std::vector<std::pair<std::string, std::string>>>([&] {
    std::vector<std::pair<std::string, std::string>> out;
    impl::read_scope r(*impl_);
    if (r.begin() != 0) return out;
    for (auto t : {table::tenants, table::extensions, table::trunks, table::inbound_rules,
                   table::outbound_rules}) {
      const std::string name = table_names[static_cast<std::size_t>(t)];
      detail::scan_prefix(r.get(), impl_->dbi(t), {}, [&](std::string_view key, std::string_view) {
        out.emplace_back(name, std::string(key));
        return true;
      });
    }
    return out;
  });
}

void store::submit(batch b, done_fn done) {
  if (impl_->replicator_ && !b.replicated()
      && (b.has_config_changes() || b.has_binding_changes())) {
    impl_->replicator_(std::move(b), std::move(done));
    return;
  }
  pending p{std::move(b), std::move(done), {}};
  if (p.b.has_file_steps()) {
    auto& w = impl_->filer_for(p.b);
    try {
      std::lock_guard<std::mutex> l(w.m);
      w.q.push_back(std::move(p));
    } catch (...) {
      if (p.done) p.done("store::submit: out of memory");
      return;
    }
    w.cv.notify_one();
    return;
  }
  bool wake = false;  // the writer waits for a first write or a full linger group
  try {
    std::lock_guard<std::mutex> l(impl_->queue_mutex_);
    impl_->queue_.push_back(std::move(p));  // p stays intact if this throws
    wake = impl_->queue_.size() == 1 || impl_->queue_.size() == impl_->opts_.linger_until;
  } catch (...) {
    if (p.done) p.done("store::submit: out of memory");
    return;
  }
  if (wake) impl_->queue_cv_.notify_one();
}

std::string store::write(batch b) {
  if (std::this_thread::get_id() == impl_->writer_.get_id())
    return "store::write called from the writer thread (would deadlock)";
  try {
    auto result = std::make_shared<std::promise<std::string>>();
    std::future<std::string> f = result->get_future();
    submit(std::move(b), [result](const std::string& e) { result->set_value(e); });
    return f.get();
  } catch (const std::exception& e) {
    return std::string("store::write: ") + e.what();
  }
}

std::uint64_t store::commits() const { return impl_->commits_; }
std::uint64_t store::batches() const { return impl_->batches_; }
std::size_t store::map_size() const { return impl_->map_size_; }

}  // namespace pbx::storage
