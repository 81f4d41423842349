#pragma once
// A tenant's registered bindings, in memory, without an actor per extension
// or per binding: extension number -> its bindings, each packed into one
// allocation, and one timer wheel for all their expiries. LMDB holds the same
// bindings (written before a REGISTER is answered); this is the copy that
// serves REGISTER, calls and `registrations` without decoding records.
// Not thread-safe: the tenant actor owns it.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/timer_wheel.hpp"
#include "storage/records.hpp"

namespace pbx {

class binding_index {
public:
  binding_index(std::string domain, std::int64_t now);

  /// The extension's bindings (expired ones included until expire() ran).
  std::vector<storage::binding_record> get(std::string_view number) const;
  /// Replaces the extension's bindings with `recs` (empty: forgets it).
  void set(std::string_view number, const std::vector<storage::binding_record>& recs);
  void erase(std::string_view number) { set(number, {}); }

  /// Bindings of `number` with expires_at > now.
  std::size_t live(std::string_view number, std::int64_t now) const;
  std::size_t size() const { return bindings_; }        // bindings
  std::size_t extensions() const { return used_; }
  /// Numbers with at least one binding, sorted.
  std::vector<std::string> numbers() const;

  /// Removes and returns every binding that expired at or before `now`.
  std::vector<storage::binding_record> expire(std::int64_t now);

  std::size_t wheel_entries() const { return wheel_.size(); }

  /// What a REGISTER of a registered extension checks, kept with its
  /// bindings so that a refresh reads no record: the HA1 (hex) and whether
  /// the extension is enabled. Only extensions with bindings keep one; it
  /// goes with them, or with forget_auth() when the record changes.
  struct auth {
    std::string ha1;
    bool enabled = true;
  };
  std::optional<auth> cached_auth(std::string_view number) const;
  /// Keeps `a` with the extension's bindings; an HA1 that is not 32 lower-case
  /// hex digits (an MD5 as digest::ha1 writes it) is not kept.
  void cache_auth(std::string_view number, const auth& a);
  void forget_auth(std::string_view number);

private:
  // Sized for 200,000 registered extensions per node (docs/architecture.md):
  // a binding is ~0.25 kB here. One binding's text in one allocation.
  struct packed {
    std::unique_ptr<char[]> text; // contact, params, call_id, ip, user agent[, transport]
    std::uint16_t len[5] = {0, 0, 0, 0, 0};
    std::uint8_t transport = 0; // index in the table; 0: spelled out last in `text`
    std::uint8_t spelled = 0;   // its length then
    std::uint16_t port = 0;
    std::uint16_t via_node = 0;
    std::uint32_t cseq = 0;
    std::int64_t expires_at = 0;
    std::int64_t registered_at = 0;
  };
  struct slot {
    std::string number; // the key (empty while the slot is free)
    std::vector<packed> bindings;
    std::int64_t scheduled_at = 0; // of the wheel entry that counts; 0: none
    std::uint32_t gen = 0;         // of that entry
    bool has_auth = false;
    bool enabled = true;
    std::array<std::uint8_t, 16> ha1{}; // binary
  };
  static constexpr std::uint32_t none = 0xffffffff;

  static packed pack(const storage::binding_record& r);
  storage::binding_record unpack(const slot& s, const packed& p) const;
  void schedule(std::uint32_t id);

  // Number -> slot id: open addressing with linear probing over slots_,
  // ~8 bytes an extension where a node-based map took ~70.
  std::size_t home(std::string_view number) const;
  std::uint32_t find(std::string_view number) const;
  void insert(std::uint32_t id);
  void remove(std::uint32_t id);
  void grow();

  std::string domain_;
  std::vector<std::uint32_t> table_; // slot ids; `none`: empty. Size: a power of two
  std::size_t used_ = 0;             // ids in table_
  std::vector<slot> slots_;
  std::vector<std::uint32_t> free_;
  std::size_t bindings_ = 0;
  timer_wheel wheel_;
};

} // namespace pbx
