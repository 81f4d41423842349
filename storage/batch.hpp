// An ordered list of writes that a store applies in one transaction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/records.hpp"

namespace pbx::storage {

namespace detail {

enum class table : std::uint8_t {
  tenants, extensions, bindings, meta, cdrs, security, voicemails, audit,
  trunks, inbound_rules, outbound_rules,
  // Kept by the store itself (schema version 2): domain -> number of its
  // extensions (decimal), and domain sep call_id -> that CDR's key.
  extension_counts, cdr_ids,
  // Schema version 3: domain sep number -> auth_record, put and erased with
  // the extension.
  auth
};

struct op {
  enum class kind : std::uint8_t {
    put,           // key -> value
    erase,         // one key (missing is fine)
    erase_prefix,  // every key starting with `key`
    invalid,       // encoding failed: `value` holds the reason, fails the batch
    // Files (paths relative to the store's dir unless absolute). Before the
    // txn, on the store's file thread: key -> value made durable in place.
    file_move,     // fsync(key), rename to value, fsync(value's dir)
    file_copy,     // key copied to a temp beside value, fsync, rename, fsync(dir)
    // After a successful commit, on the writer thread:
    file_remove,   // unlink key (missing is fine)
    dir_remove,    // remove key and everything under it
  };
  kind what = kind::put;
  table where = table::meta;
  std::string key;
  std::string value;
};

}  // namespace detail

// Cluster mode (engine/config_sync.hpp): a change of a tenant's configuration
// (the tenants, extensions, trunks, inbound_rules and outbound_rules tables),
// as it goes to etcd and as every other node applies it to its own LMDB.
struct config_change {
  enum class kind : std::uint8_t { put, erase, erase_prefix };
  kind what = kind::put;
  std::string table;
  std::string key;    // the LMDB key (erase_prefix: the prefix)
  std::string value;  // put: the encoded record
};

// One of the tables above.
bool config_table(std::string_view name);

class batch {
 public:
  void put(const tenant_record& r);
  // Also erases the tenant's extensions (and their count), bindings, CDRs,
  // voicemail records, trunks and inbound/outbound rules, and (after the
  // commit) its voicemail folder.
  void erase_tenant(std::string_view domain);

  void put(const extension_record& r);
  // Also erases that extension's bindings and voicemail records, and (after
  // the commit) its voicemail folder.
  void erase_extension(std::string_view domain, std::string_view number);

  void put(const binding_record& r);
  void erase_binding(std::string_view domain, std::string_view number,
                     std::string_view contact);
  void erase_bindings(std::string_view domain, std::string_view number);

  void put_meta(std::string_view key, std::string_view value);

  void put(const voicemail_record& r);
  void erase_voicemail(std::string_view domain, std::string_view number, std::string_view id);

  // File steps around the txn. A batch with moves or copies is committed
  // only after every file is in place and synced (fsync(file), rename,
  // fsync(dir)), so a record never points at audio that a crash can lose.
  // A failed step fails the batch: a moved temp is removed, files already
  // placed by the batch are removed again, and nothing of the txn applies.
  // The same happens to placed files when the txn itself fails.
  void move_file(std::string_view from, std::string_view to);
  void copy_file(std::string_view from, std::string_view to);
  // Done only once the txn committed: a record is gone before its file.
  void remove_file(std::string_view path);
  void remove_dir(std::string_view path);
  // True when the batch has moves or copies (they run before the txn).
  bool has_file_steps() const;

  void put(const cdr_record& r);
  void put(const audit_record& r);

  // Trunks and rules (key: domain sep name). erase_tenant erases them too.
  void put(const trunk_record& r);
  void erase_trunk(std::string_view domain, std::string_view name);
  void put(const inbound_rule_record& r);
  void erase_inbound_rule(std::string_view domain, std::string_view name);
  void put(const outbound_rule_record& r);
  void erase_outbound_rule(std::string_view domain, std::string_view name);

  void put(const ban_record& r);
  void erase_ban(std::string_view ip);
  void put(const allow_record& r);
  void erase_allow(std::string_view cidr);

  // Cluster mode: this batch's configuration changes, in order; the tenant
  // they concern (empty when none or several).
  std::vector<config_change> config_changes() const;
  std::string config_domain() const;
  // Its changes of registrations (table "bindings"), which go to the
  // tenant's replica node; the tenant of the first (empty: none).
  std::vector<config_change> binding_changes() const;
  std::string binding_domain() const;
  // Whether it has any of either, without copying them (the store asks per write).
  bool has_config_changes() const;
  bool has_binding_changes() const;
  // A change another node made. A put as it was; an erased tenant or
  // extension also erases what hangs on it here (bindings, CDRs, voicemail).
  // A configuration table or "bindings"; any other fails the batch.
  void apply(const config_change& c);
  // Set on a batch whose configuration is already in etcd (or came from it):
  // the store commits it without handing it to its replicator again.
  void set_replicated() { replicated_ = true; }
  bool replicated() const { return replicated_; }

  bool empty() const { return ops_.empty(); }
  std::size_t size() const { return ops_.size(); }

  // Internal (used by store): the encoded operations, in order.
  const std::vector<detail::op>& ops() const { return ops_; }

 private:
  template <class T>
  void put_encoded(detail::table where, std::string key, const T& r);
  // Puts encode(key) under `key`; an encoding that throws fails the batch.
  template <class Encode>
  void put_made(detail::table where, std::string key, Encode&& encode);
  void add(detail::op::kind what, detail::table where, std::string key,
           std::string value = {});

  std::vector<detail::op> ops_;
  bool replicated_ = false;
};

}  // namespace pbx::storage
