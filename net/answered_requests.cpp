#include "net/answered_requests.hpp"

#include <functional>
#include <string>

namespace pbx::net {

std::uint64_t answered_requests::key(std::string_view method, std::string_view branch,
                                     std::string_view sent_by) {
  std::string k;
  k.reserve(method.size() + branch.size() + sent_by.size() + 2);
  k.append(method).push_back('\0');
  k.append(branch).push_back('\0');
  k.append(sent_by);
  return std::hash<std::string>{}(k);
}

void answered_requests::expire(std::uint64_t now_ms) {
  while (!order_.empty() && order_.front().second <= now_ms) {
    keys_.erase(keys_.find(order_.front().first));
    order_.pop_front();
  }
}

void answered_requests::add(std::string_view method, std::string_view branch,
                            std::string_view sent_by, std::uint64_t now_ms) {
  expire(now_ms);
  auto k = key(method, branch, sent_by);
  keys_.insert(k);
  order_.emplace_back(k, now_ms + lifetime_);
}

bool answered_requests::contains(std::string_view method, std::string_view branch,
                                 std::string_view sent_by, std::uint64_t now_ms) {
  expire(now_ms);
  return keys_.count(key(method, branch, sent_by)) > 0;
}

} // namespace pbx::net
