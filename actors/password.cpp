#include "actors/password.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <vector>

namespace pbx::password {

namespace {

constexpr int default_iterations = 100000;
constexpr std::size_t salt_len = 16;
constexpr std::size_t key_len = 32;

std::string to_hex(const unsigned char* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 0x0f];
  }
  return out;
}

bool from_hex(std::string_view s, std::vector<unsigned char>& out) {
  if (s.size() % 2 != 0)
    return false;
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  out.clear();
  for (std::size_t i = 0; i < s.size(); i += 2) {
    int hi = val(s[i]), lo = val(s[i + 1]);
    if (hi < 0 || lo < 0)
      return false;
    out.push_back(static_cast<unsigned char>(hi * 16 + lo));
  }
  return true;
}

std::vector<unsigned char> derive(std::string_view plain,
                                  const std::vector<unsigned char>& salt,
                                  int iterations, std::size_t len) {
  std::vector<unsigned char> key(len);
  PKCS5_PBKDF2_HMAC(plain.data(), static_cast<int>(plain.size()), salt.data(),
                    static_cast<int>(salt.size()), iterations, EVP_sha256(),
                    static_cast<int>(len), key.data());
  return key;
}

} // namespace

std::string hash(std::string_view plain) {
  std::vector<unsigned char> salt(salt_len);
  RAND_bytes(salt.data(), static_cast<int>(salt.size()));
  auto key = derive(plain, salt, default_iterations, key_len);
  return "pbkdf2-sha256$" + std::to_string(default_iterations) + "$"
         + to_hex(salt.data(), salt.size()) + "$" + to_hex(key.data(), key.size());
}

bool verify(std::string_view plain, std::string_view stored) {
  // pbkdf2-sha256$ITER$SALT$HASH
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    auto pos = stored.find('$', start);
    parts.push_back(stored.substr(start, pos - start));
    if (pos == std::string_view::npos)
      break;
    start = pos + 1;
  }
  if (parts.size() != 4 || parts[0] != "pbkdf2-sha256")
    return false;
  int iterations = std::atoi(std::string{parts[1]}.c_str());
  std::vector<unsigned char> salt, expected;
  if (iterations <= 0 || !from_hex(parts[2], salt) || !from_hex(parts[3], expected)
      || expected.empty())
    return false;
  auto key = derive(plain, salt, iterations, expected.size());
  return CRYPTO_memcmp(key.data(), expected.data(), key.size()) == 0;
}

std::string generate(std::size_t len) {
  static const char alphabet[] = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::vector<unsigned char> bytes(len);
  RAND_bytes(bytes.data(), static_cast<int>(bytes.size()));
  std::string out;
  for (auto b : bytes)
    out += alphabet[b % (sizeof(alphabet) - 1)];
  return out;
}

} // namespace pbx::password
