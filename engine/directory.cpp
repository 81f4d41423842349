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

namespace {

// A key's kind: what precedes its first '/', with the '/'.
std::string_view kind_of(std::string_view key) {
  auto slash = key.find('/');
  return slash == key.npos ? std::string_view{} : key.substr(0, slash + 1);
}

} // namespace

void local_directory::changed(const std::string& key, const caf::actor& owner, int delta) {
  if (auto kind = kind_of(key); !kind.empty()) {
    auto& n = kinds_[std::string{kind}];
    n = delta > 0 ? n + 1 : n - 1;
  }
  for (auto& [prefix, fn] : watches_)
    if (key.compare(0, prefix.size(), prefix) == 0)
      fn(key, owner);
}

void local_directory::watch(std::string prefix, watch_fn fn) {
  std::lock_guard<std::mutex> guard{mtx_};
  watches_.emplace_back(std::move(prefix), std::move(fn));
}

caf::actor local_directory::register_first_wins(const std::string& key,
                                                caf::actor a) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto res = map_.emplace(key, std::move(a));
  if (res.second)
    changed(key, res.first->second, 1);
  return res.first->second;
}

void local_directory::unregister(const std::string& key, const caf::actor& a) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = map_.find(key);
  if (i != map_.end() && i->second == a) {
    map_.erase(i);
    changed(key, caf::actor{}, -1);
  }
}

std::size_t local_directory::count(std::string_view prefix) const {
  std::lock_guard<std::mutex> guard{mtx_};
  if (kind_of(prefix).size() == prefix.size() && !prefix.empty()) {
    auto i = kinds_.find(std::string{prefix});
    return i == kinds_.end() ? 0 : i->second;
  }
  std::size_t n = 0;
  for (auto& [key, a] : map_)
    n += key.compare(0, prefix.size(), prefix) == 0 ? 1 : 0;
  return n;
}

} // namespace pbx
