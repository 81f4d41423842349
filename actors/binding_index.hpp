#pragma once
// A tenant's registered bindings, in memory, without an actor per extension
// or per binding: extension number -> its bindings packed into one string
// each, and one timer wheel for all their expiries. LMDB holds the same
// bindings (written before a REGISTER is answered); this is the copy that
// serves REGISTER, calls and `registrations` without decoding records.
// Not thread-safe: the tenant actor owns it.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
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
  std::size_t extensions() const { return by_number_.size(); }
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
  const auth* cached_auth(std::string_view number) const;
  void cache_auth(std::string_view number, auth a);
  void forget_auth(std::string_view number);

private:
  // One binding in one allocation: contact, params, call_id, ip, user agent.
  struct packed {
    std::string text;
    // contact, params, call_id, ip, user agent; the rest: a transport not in the table
    std::uint16_t len[5] = {0, 0, 0, 0, 0};
    std::uint8_t transport = 0; // index in the table; 0: spelled out in `text`
    std::uint16_t port = 0;
    std::uint16_t via_node = 0;
    std::uint32_t cseq = 0;
    std::int64_t expires_at = 0;
    std::int64_t registered_at = 0;
  };
  struct slot {
    std::vector<packed> bindings;
    std::uint32_t gen = 0;            // of the wheel entry that counts
    std::int64_t scheduled_at = 0;    // its time; 0: none
    const std::string* number = nullptr; // the key in by_number_ (stable)
    bool has_auth = false;
    auth cached;
  };

  static packed pack(const storage::binding_record& r);
  storage::binding_record unpack(const slot& s, const packed& p) const;
  void schedule(std::uint32_t id);

  std::string domain_;
  std::unordered_map<std::string, std::uint32_t> by_number_;
  std::vector<slot> slots_;
  std::vector<std::uint32_t> free_;
  std::size_t bindings_ = 0;
  timer_wheel wheel_;
};

} // namespace pbx
