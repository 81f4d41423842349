#pragma once
// Requests an A leg answered without a libre server transaction, remembered
// for 64*T1: the INVITE whose 2xx we sent (RFC 6026's Accepted state: its
// retransmissions are absorbed, a CANCEL gets 200) and the caller's BYE (RFC
// 3261's Timer J: a retransmission gets the 200 again). libre's transaction
// would keep the request and its response for that long, ~4 kB a request; a
// key here is ~40 bytes. No libre: unit-tested alone.

#include <cstdint>
#include <deque>
#include <string_view>
#include <unordered_set>
#include <utility>

namespace pbx::net {

class answered_requests {
public:
  explicit answered_requests(std::uint64_t lifetime_ms) : lifetime_(lifetime_ms) {}

  /// `method` answered on the transaction of (`branch`, `sent_by`), at `now_ms`.
  void add(std::string_view method, std::string_view branch, std::string_view sent_by,
           std::uint64_t now_ms);

  /// Whether it was answered less than the lifetime before `now_ms`.
  bool contains(std::string_view method, std::string_view branch, std::string_view sent_by,
                std::uint64_t now_ms);

  std::size_t size() const { return keys_.size(); }

private:
  // A hash of the three (std::hash): a false match in 2^64 would absorb a new request.
  static std::uint64_t key(std::string_view method, std::string_view branch,
                           std::string_view sent_by);
  void expire(std::uint64_t now_ms);

  std::uint64_t lifetime_;
  std::deque<std::pair<std::uint64_t, std::uint64_t>> order_; // key, expiry: one lifetime, FIFO
  std::unordered_multiset<std::uint64_t> keys_;
};

} // namespace pbx::net
