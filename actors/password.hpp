#pragma once
// Web and admin passwords are stored as PBKDF2-HMAC-SHA256 with a random salt.

#include <string>
#include <string_view>

namespace pbx::password {

/// Returns "pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX".
std::string hash(std::string_view plain);

/// Checks `plain` against a string made by hash().
bool verify(std::string_view plain, std::string_view stored);

/// A random password of `len` characters from an unambiguous alphabet.
std::string generate(std::size_t len = 20);

} // namespace pbx::password
