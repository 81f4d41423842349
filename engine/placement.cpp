#include "engine/placement.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <utility>

namespace pbx {

std::uint64_t rendezvous::score(std::string_view member, std::string_view domain) {
  static thread_local EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  static const EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // The NUL keeps ("ab", "c") and ("a", "bc") apart.
  const char sep = '\0';
  EVP_DigestInit_ex(ctx, sha256, nullptr);
  EVP_DigestUpdate(ctx, member.data(), member.size());
  EVP_DigestUpdate(ctx, &sep, 1);
  EVP_DigestUpdate(ctx, domain.data(), domain.size());
  EVP_DigestFinal_ex(ctx, out, &len);
  std::uint64_t s = 0;
  for (int i = 0; i < 8; ++i)
    s = (s << 8) | out[i];
  return s;
}

rendezvous::rendezvous(std::vector<placed_member> members) : members_(std::move(members)) {}

std::vector<node_number> rendezvous::order(std::string_view domain) const {
  std::vector<std::pair<std::uint64_t, const placed_member*>> scored;
  scored.reserve(members_.size());
  for (auto& m : members_)
    scored.emplace_back(score(m.name, domain), &m);
  // Ties (never seen with SHA-256) fall to the name, so every node agrees.
  std::sort(scored.begin(), scored.end(), [](auto& a, auto& b) {
    return a.first != b.first ? a.first > b.first : a.second->name < b.second->name;
  });
  std::vector<node_number> out;
  out.reserve(scored.size());
  for (auto& [s, m] : scored)
    out.push_back(m->number);
  return out;
}

node_number rendezvous::owner(std::string_view domain) const {
  auto o = order(domain);
  return o.empty() ? 0 : o.front();
}

} // namespace pbx
