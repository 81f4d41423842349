#pragma once
// Ids that say which node made them. A leg, transaction or call id carries
// its node's number in the top 16 bits, so ids stay unique in a cluster and
// a leg id names the node whose SIP thread holds the phone's flow.

#include <cstdint>
#include <string>

namespace pbx {

using node_number = std::uint16_t;

constexpr unsigned node_shift = 48;
constexpr std::uint64_t local_id_mask = (std::uint64_t{1} << node_shift) - 1;

/// `local` (below 2^48) made on node `node`.
constexpr std::uint64_t qualify(node_number node, std::uint64_t local) {
  return (std::uint64_t{node} << node_shift) | (local & local_id_mask);
}

/// Where a node's actors start counting B legs; its SIP thread's A legs and
/// transactions count from 1.
constexpr std::uint64_t first_b_leg = std::uint64_t{1} << 46;

/// The node that made `id`.
constexpr node_number node_of(std::uint64_t id) {
  return static_cast<node_number>(id >> node_shift);
}

/// A call's id (its CDR id and directory key): NODE-BOOT-LEG, where LEG is
/// the A leg's id on that node. Unique across restarts and nodes.
inline std::string call_id_of(std::uint64_t boot, std::uint64_t a_leg) {
  return std::to_string(node_of(a_leg)) + "-" + std::to_string(boot) + "-"
         + std::to_string(a_leg & local_id_mask);
}

} // namespace pbx
