#include "engine/directory.hpp"

namespace pbx {

std::string tenant_key(std::string_view domain) {
  std::string k = "t/";
  k += domain;
  return k;
}

std::string extension_key(std::string_view domain, std::string_view number) {
  std::string k = "e/";
  k += domain;
  k += '/';
  k += number;
  return k;
}

std::string call_key(std::string_view call_id) {
  std::string k = "c/";
  k += call_id;
  return k;
}

std::string trunk_key(std::string_view domain, std::string_view name) {
  std::string k = "k/";
  k += domain;
  k += '/';
  k += name;
  return k;
}

std::string trunk_source_key(std::string_view ip) {
  std::string k = "ks/";
  k += ip;
  return k;
}

std::vector<caf::actor> local_directory::list(std::string_view prefix) const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<caf::actor> out;
  for (auto& [key, a] : map_)
    if (key.compare(0, prefix.size(), prefix) == 0)
      out.push_back(a);
  return out;
}

std::vector<std::pair<std::string, caf::actor>>
local_directory::entries(std::string_view prefix) const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<std::pair<std::string, caf::actor>> out;
  for (auto& [key, a] : map_)
    if (key.compare(0, prefix.size(), prefix) == 0)
      out.emplace_back(key, a);
  return out;
}

caf::actor local_directory::lookup(const std::string& key) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = map_.find(key);
  return i == map_.end() ? caf::actor{} : i->second;
}

caf::actor local_directory::register_first_wins(const std::string& key,
                                                caf::actor a) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto res = map_.emplace(key, std::move(a));
  return res.first->second;
}

void local_directory::unregister(const std::string& key, const caf::actor& a) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = map_.find(key);
  if (i != map_.end() && i->second == a)
    map_.erase(i);
}

std::size_t local_directory::count(std::string_view prefix) const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::size_t n = 0;
  for (auto& [key, a] : map_)
    n += key.compare(0, prefix.size(), prefix) == 0 ? 1 : 0;
  return n;
}

} // namespace pbx
