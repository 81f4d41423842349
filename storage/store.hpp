// Persistent tenants, extensions, registrations and meta data in one LMDB
// environment. Reads run on the caller's thread; writes go to one writer
// thread that commits everything queued in one transaction (group commit).
// No exception escapes this API: failures are reported as values.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/batch.hpp"
#include "storage/records.hpp"

namespace pbx::storage {

struct options {
  std::size_t initial_map_size = 64u << 20;
  std::size_t max_batch = 1024;  // batches per write txn at most
  // Under load (writes arrived during the last commit) the writer waits up
  // to `linger` for `linger_until` writes before committing, so one sync
  // serves many writes. An idle store commits a write at once.
  std::chrono::microseconds linger{5000};
  std::size_t linger_until = 64;
  // Threads that sync voicemail files (fsync, rename, fsync(dir)) before
  // their batch reaches the writer.
  std::size_t file_threads = 4;
  // One store per data dir (DIR/node.lock). Off only for tests of LMDB's
  // own multi-process paths (a map grown by another process).
  bool exclusive = true;
};

// What store::open found and fixed under DIR/voicemail.
struct reconcile_report {
  std::size_t files_removed = 0;    // audio without a record
  std::size_t temps_removed = 0;    // spool files, unfinished copies
  std::size_t records_removed = 0;  // records whose file is missing or truncated
};

struct voicemail_counts {
  std::size_t fresh = 0, saved = 0;  // unread, read
};

// error empty = committed.
using done_fn = std::function<void(const std::string& error)>;

class store {
 public:
  // Creates the directory if missing, then reconciles DIR/voicemail with the
  // voicemail records (reconciled() says what it removed). Returns nullptr and sets *error on
  // failure (permissions, newer schema version than we know, not LMDB, ...).
  static std::unique_ptr<store> open(const std::string& dir, const options& opts,
                                     std::string* error);
  // Finishes every pending write (callbacks called), stops the writer thread,
  // closes the env.
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  // Reads: safe from any thread concurrently, each in its own read txn. A
  // storage failure reads as "nothing".
  std::optional<tenant_record> tenant(std::string_view domain) const;
  std::vector<tenant_record> tenants() const;  // sorted by domain
  std::optional<extension_record> extension(std::string_view domain,
                                            std::string_view number) const;
  // Its HA1 and enabled flag, without reading the record.
  std::optional<auth_record> extension_auth(std::string_view domain,
                                            std::string_view number) const;
  std::vector<extension_record> extensions(std::string_view domain) const;  // sorted by number
  // At most `limit` (0: every one) of them, from the first number above
  // `after` ("": from the first): one seek, then only those are decoded.
  std::vector<extension_record> extensions(std::string_view domain, std::string_view after,
                                           std::size_t limit) const;
  // Counts without a scan: the writer keeps one per tenant in the txn that
  // adds or erases its extensions; the totals are LMDB's entry counts.
  std::size_t extension_count(std::string_view domain) const;
  std::size_t extension_total() const;  // of every tenant
  std::size_t tenant_count() const;
  std::size_t binding_count() const;    // stored, expired or not
  std::vector<binding_record> bindings(std::string_view domain,
                                       std::string_view number) const;
  std::vector<binding_record> bindings(std::string_view domain) const;
  // The domains that have bindings (live or expired), sorted; reads keys only.
  std::vector<std::string> binding_domains() const;
  std::optional<std::string> meta(std::string_view key) const;
  std::vector<ban_record> bans() const;      // sorted by ip text
  std::vector<allow_record> allows() const;  // sorted by cidr text
  // The newest `limit` call records of a tenant, newest first; with
  // `extension`, only calls it made or received.
  // `before`: the page after that CDR id (newest first), for paging; an
  // unknown id: nothing. Walks back from the newest (or from that CDR) and
  // stops at `limit` records.
  std::vector<cdr_record> cdrs(std::string_view domain, std::size_t limit,
                               std::string_view extension = {},
                               std::string_view before = {}) const;
  // A tenant's trunks and rules, sorted by name; all trunks of every tenant.
  std::vector<trunk_record> trunks(std::string_view domain) const;
  std::vector<trunk_record> all_trunks() const;
  std::vector<inbound_rule_record> inbound_rules(std::string_view domain) const;
  std::vector<outbound_rule_record> outbound_rules(std::string_view domain) const;
  // The newest `limit` audit entries of a tenant ("" = system-wide), newest first.
  std::vector<audit_record> audit(std::string_view domain, std::size_t limit) const;

  // A mailbox's messages, oldest first (then by id).
  std::vector<voicemail_record> voicemails(std::string_view domain,
                                           std::string_view number) const;
  // Every message of a tenant, by mailbox then id.
  std::vector<voicemail_record> voicemails(std::string_view domain) const;
  std::optional<voicemail_record> voicemail(std::string_view domain, std::string_view number,
                                            std::string_view id) const;
  voicemail_counts voicemail_count(std::string_view domain, std::string_view number) const;

  // The directory the store was opened on (relative file paths start here).
  const std::string& dir() const;
  reconcile_report reconciled() const;

  // Writes: a batch with file moves or copies first goes to the file thread
  // (fsync, rename, fsync(dir)), then joins the writer's queue, so those
  // syncs never hold up the group commit of other writes.
  // Writes: queued to the writer thread; `done` runs on the writer thread
  // after the commit returned (or with an error; then nothing of the batch is
  // applied). `done` may be empty. Do not block long in it: it holds up the
  // writer.
  void submit(batch b, done_fn done);
  // Cluster mode: a batch with configuration or binding changes that is not
  // replicated yet goes to `f` instead of the writer; `f` puts it in etcd
  // (configuration) or on the replica node (bindings) and submits it again,
  // replicated, or calls `done` with why not. Set before any write.
  using replicator_fn = std::function<void(batch, done_fn)>;
  void set_replicator(replicator_fn f);
  // Every key of the configuration tables (a snapshot's diff): (table, key).
  std::vector<std::pair<std::string, std::string>> config_keys() const;
  // Blocking convenience: submit and wait; returns the error or "". Fails
  // (without writing) when called from a `done` callback.
  std::string write(batch b);

  // Figures for tests/bench.
  std::uint64_t commits() const;  // LMDB write txns committed
  std::uint64_t batches() const;  // batches committed
  std::size_t map_size() const;

  // 2: the per-tenant extension counts and the CDR id index (built from
  // the records when a version-1 data dir is opened); 3: the auth records;
  // 4: bindings written without what their key holds (older ones still load,
  // nothing is rewritten; an older binary must not read the new ones); 5: cut
  // binding keys end in the contact's SHA-256 (rewritten at upgrade).
  static constexpr int schema_version = 5;

 private:
  std::size_t entries(detail::table t) const;
  struct impl;
  explicit store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace pbx::storage
