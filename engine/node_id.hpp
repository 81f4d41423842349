#pragma once
// Ids that say which node they belong to. A leg or transaction id carries in
// its top 16 bits the node whose SIP thread holds it (the phone's flow), so
// ids stay unique in a cluster and a command finds its SIP thread. Legs that
// actors make (B legs) also carry the maker's number in the next 16 bits:
// two nodes dialling through a third never pick the same id. Layout:
// [flow node 16][maker node 16, 0: the SIP thread][counter 32].

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

constexpr unsigned maker_shift = 32;

/// A leg that node `maker`'s actors make, reaching its phone through node
/// `via`'s SIP thread; `n` is the maker's counter.
constexpr std::uint64_t b_leg_id(node_number via, node_number maker, std::uint64_t n) {
  return qualify(via, (std::uint64_t{maker} << maker_shift) | (n & 0xffffffffu));
}

/// The node that made `id`.
constexpr node_number node_of(std::uint64_t id) {
  return static_cast<node_number>(id >> node_shift);
}

/// A call's id (its CDR id and directory key): NODE-BOOT-N, the N-th call of
/// this start of the node that runs it. Unique across restarts and nodes
/// (an A leg's id is not: its node's counter starts again at a restart).
inline std::string call_id_of(node_number node, std::uint64_t boot, std::uint64_t n) {
  return std::to_string(node) + "-" + std::to_string(boot) + "-" + std::to_string(n);
}

} // namespace pbx
