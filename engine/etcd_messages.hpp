#pragma once
// The JSON bodies of etcd 3.4's HTTP gateway (/v3/...) that membership uses:
// built and parsed here, with nlohmann-json and OpenSSL's base64; no CAF, no
// libre, so unit tests link it alone. Keys and values travel base64-coded;
// 64-bit numbers come back as JSON strings.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pbx::etcd {

std::string base64_encode(const std::string& raw);
/// Empty optional when `text` is not base64.
std::optional<std::string> base64_decode(const std::string& text);

/// The first key after every key starting with `prefix` (a range's end).
std::string prefix_end(std::string prefix);

struct key_value {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t lease = 0;
};

// Request bodies (POST to the path in each comment).
std::string lease_grant_body(std::int64_t ttl);      // /v3/lease/grant
std::string lease_keepalive_body(std::int64_t id);   // /v3/lease/keepalive
std::string lease_revoke_body(std::int64_t id);      // /v3/lease/revoke
std::string range_prefix_body(const std::string& prefix); // /v3/kv/range
/// /v3/kv/txn: puts every (key, value) on `lease` if none of the keys exists
/// yet; otherwise reads each key back (to say which one was taken).
std::string create_all_body(const std::vector<std::pair<std::string, std::string>>& kvs,
                            std::int64_t lease);
/// /v3/kv/txn: deletes `key` if it is still at `mod_revision` (a fenced release).
std::string delete_if_body(const std::string& key, std::int64_t mod_revision);

/// A txn's condition: `key`'s create (0: absent) or mod revision equals `revision`.
struct txn_compare {
  enum class target { create, mod };
  std::string key;
  target what = target::create;
  std::int64_t revision = 0;
};
/// A txn's write: put, delete one key, or delete every key under a prefix.
struct txn_op {
  enum class kind { put, erase, erase_prefix };
  kind what = kind::put;
  std::string key;
  std::string value;
};
/// /v3/kv/txn: the writes if every condition holds (nothing otherwise).
std::string txn_body(const std::vector<txn_compare>& compare, const std::vector<txn_op>& ops);
/// /v3/watch (a stream): every change under `prefix` from `start_revision` on.
std::string watch_prefix_body(const std::string& prefix, std::int64_t start_revision);

// Parsed responses; `error` is set when the body is not the expected answer
// (an etcd error object, bad JSON).
struct lease_grant_result {
  std::int64_t id = 0;
  std::int64_t ttl = 0;
  std::string error;
};
lease_grant_result parse_lease_grant(const std::string& body);

struct keepalive_result {
  std::int64_t ttl = 0; // 0: the lease is gone (expired or revoked)
  std::string error;
};
keepalive_result parse_keepalive(const std::string& body);

struct range_result {
  std::vector<key_value> kvs;
  std::int64_t revision = 0;
  std::string error;
};
range_result parse_range(const std::string& body);

struct txn_result {
  bool succeeded = false;
  std::vector<key_value> existing; // on failure: the keys that were there
  std::string error;
};
txn_result parse_txn(const std::string& body);

/// One line of a watch stream: created, a batch of events, or canceled
/// (compacted: `compact_revision` is the oldest revision still there).
struct watch_event {
  bool deleted = false; // else a put
  key_value kv;         // a delete carries only key and mod_revision
};

struct watch_result {
  bool created = false;
  bool canceled = false;
  std::int64_t compact_revision = 0;
  std::int64_t revision = 0; // the store's revision when sent
  std::vector<watch_event> events;
  std::string error;
};
watch_result parse_watch(const std::string& line);

/// Cuts a stream's body (the watch: one JSON object per line) into lines as
/// bytes arrive. A line longer than `max_line` without its end is not etcd
/// talking: feed() says so and the stream is to be dropped, so a peer that
/// never sends a newline cannot grow the buffer without bound.
class line_buffer {
public:
  explicit line_buffer(std::size_t max_line = 4u << 20) : max_line_(max_line) {}
  /// Appends `n` bytes and calls `line(text)` for each complete non-empty
  /// line. False: the unfinished line is over `max_line`.
  template <class F>
  bool feed(const char* data, std::size_t n, F&& line) {
    pending_.append(data, n);
    std::size_t start = 0, nl;
    while ((nl = pending_.find('\n', start)) != std::string::npos) {
      if (nl > start)
        line(pending_.substr(start, nl - start));
      start = nl + 1;
    }
    pending_.erase(0, start);
    return pending_.size() <= max_line_;
  }
  /// What came after the last newline (an error body, a last line).
  std::string take_rest() { return std::move(pending_); }

private:
  std::size_t max_line_;
  std::string pending_;
};

} // namespace pbx::etcd
