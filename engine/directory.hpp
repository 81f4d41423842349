#pragma once
// Resolves a key (a tenant domain, or domain + extension) to the actor that
// owns it. Local today; a cluster directory implements the same interface
// (rendezvous hashing over members, remote actors through CAF's middleman).

#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor.hpp>

namespace pbx {

class directory {
public:
  virtual ~directory() = default;
  /// Returns the owner of `key`, or an invalid handle.
  virtual caf::actor lookup(const std::string& key) const = 0;
  /// Registers `a` unless someone else owns `key`; returns the owner that won.
  virtual caf::actor register_first_wins(const std::string& key, caf::actor a) = 0;
  /// Removes `key` only if `a` still owns it.
  virtual void unregister(const std::string& key, const caf::actor& a) = 0;
  /// Number of registered keys that start with `prefix` (live actors). A
  /// kind ("t/", "e/", "c/", "k/", "ks/") is a counter, not a scan.
  virtual std::size_t count(std::string_view prefix) const = 0;
  /// Called with (key, owner) for every key starting with `prefix` that is
  /// registered, and with (key, invalid) when it is removed, in the order of
  /// the changes. The SIP thread keeps its routes this way (no lock per
  /// request); the callback runs under the directory's lock, so it must only
  /// hand the change on. Watches are set before anything registers.
  using watch_fn = std::function<void(const std::string& key, const caf::actor& owner)>;
  virtual void watch(std::string prefix, watch_fn fn) = 0;
  /// The actors whose keys start with `prefix` (live calls for the shell).
  virtual std::vector<caf::actor> list(std::string_view prefix) const = 0;
  /// The keys that start with `prefix` with their actors (metrics).
  virtual std::vector<std::pair<std::string, caf::actor>> entries(std::string_view prefix) const = 0;
};

/// Keys used across the code base.
std::string tenant_key(std::string_view domain);
std::string extension_key(std::string_view domain, std::string_view number);
std::string call_key(std::string_view call_id);
std::string trunk_key(std::string_view domain, std::string_view name);
/// A trunk provider's source address: INVITEs from it go to that trunk, not to digest.
std::string trunk_source_key(std::string_view ip);

/// A directory for one node: a map behind a mutex (SIP thread and actors both read it).
class local_directory final : public directory {
public:
  caf::actor lookup(const std::string& key) const override;
  caf::actor register_first_wins(const std::string& key, caf::actor a) override;
  void unregister(const std::string& key, const caf::actor& a) override;
  std::size_t count(std::string_view prefix) const override;
  std::vector<caf::actor> list(std::string_view prefix) const override;
  std::vector<std::pair<std::string, caf::actor>> entries(std::string_view prefix) const override;
  void watch(std::string prefix, watch_fn fn) override;

private:
  void changed(const std::string& key, const caf::actor& owner, int delta);

  mutable std::mutex mtx_;
  std::unordered_map<std::string, caf::actor> map_;
  std::unordered_map<std::string, std::size_t> kinds_; // "t/" -> live keys of that kind
  std::vector<std::pair<std::string, watch_fn>> watches_;
};

} // namespace pbx
