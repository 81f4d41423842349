// Internal to storage/: key layout and value encoding. No LMDB here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <streambuf>
#include <string>
#include <string_view>

#include <cereal/archives/portable_binary.hpp>

namespace pbx::storage {
struct binding_record;
}

namespace pbx::storage::detail {

// LMDB's compiled-in key limit (checked against the env when a store opens).
// Batches build keys before they reach an env, so it is a constant.
constexpr std::size_t max_key_size = 511;

// Separator between key parts: no domain, number or URI contains a NUL, and it
// sorts before every other byte, so "a.test\0" never matches "a.test2\0...".
constexpr char sep = '\0';

std::string tenant_key(std::string_view domain);
std::string extension_key(std::string_view domain, std::string_view number);
std::string domain_prefix(std::string_view domain);  // domain + sep
std::string binding_prefix(std::string_view domain, std::string_view number);
// domain sep start_ms (20 digits, so keys sort by time) sep call_id
std::string cdr_key(std::string_view domain, std::int64_t start_ms, std::string_view call_id);
// domain sep call_id: where the cdr_ids table keeps that CDR's key (paging by id).
std::string cdr_id_key(std::string_view domain, std::string_view call_id);
std::string audit_key(std::string_view domain, std::int64_t time_ms, std::uint64_t seq);
// domain sep number sep id: a mailbox's messages sit together, by id.
std::string voicemail_key(std::string_view domain, std::string_view number, std::string_view id);

// domain sep number sep contact when that fits in max_key_size. Otherwise
// (long contacts) the contact is cut so the key is exactly max_key_size long:
// prefix + contact head + sep + 32 hex digits: the first 128 bits of the whole
// contact's SHA-256 (OpenSSL; since schema 5, before it a hand-made hash). The
// extra sep cannot occur in the short form, so both forms never collide; the
// value keeps the full contact then. Throws when SHA-256 is not available
// (a store refuses to open then).
std::string binding_key(std::string_view domain, std::string_view number,
                        std::string_view contact);

// Since schema 4 a binding's value leaves out (writes empty) what its key
// holds: the domain, the number, and the contact unless it was cut. ~55 bytes
// of ~250 a binding, in the pages every REGISTER rewrites.
// `key` is binding_key() of `r`.
std::string binding_value(const binding_record& r, std::string_view key);
// Decodes a binding's value and fills what the key holds (values written
// before schema 4 have it all); false when the value is unreadable.
bool decode_binding(std::string_view key, std::string_view value, binding_record& out);

// Throws on failure (cereal/bad_alloc): callers catch.
// One stream per thread: building an ostringstream (its locale) cost more
// than encoding a binding.
template <class T>
std::string encode(const T& value) {
  thread_local std::ostringstream out(std::ios::binary);
  out.str({});
  out.clear();
  {
    cereal::PortableBinaryOutputArchive ar(out);
    ar(value);
  }
  return out.str();
}

// Reads straight from the LMDB page without copying it first.
class view_buf : public std::streambuf {
 public:
  explicit view_buf(std::string_view bytes) {
    char* begin = const_cast<char*>(bytes.data());
    setg(begin, begin, begin + bytes.size());
  }
};

// false on a truncated or corrupt value.
template <class T>
bool decode(std::string_view bytes, T& out) noexcept {
  try {
    view_buf buf(bytes);
    std::istream in(&buf);
    cereal::PortableBinaryInputArchive ar(in);
    T value;
    ar(value);
    out = std::move(value);
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace pbx::storage::detail
