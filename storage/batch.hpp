// An ordered list of writes that a store applies in one transaction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/records.hpp"

namespace pbx::storage {

namespace detail {

enum class table : std::uint8_t { tenants, extensions, bindings, meta, cdrs, security };

struct op {
  enum class kind : std::uint8_t {
    put,           // key -> value
    erase,         // one key (missing is fine)
    erase_prefix,  // every key starting with `key`
    invalid,       // encoding failed: `value` holds the reason, fails the batch
  };
  kind what = kind::put;
  table where = table::meta;
  std::string key;
  std::string value;
};

}  // namespace detail

class batch {
 public:
  void put(const tenant_record& r);
  // Also erases the tenant's extensions and bindings.
  void erase_tenant(std::string_view domain);

  void put(const extension_record& r);
  // Also erases that extension's bindings.
  void erase_extension(std::string_view domain, std::string_view number);

  void put(const binding_record& r);
  void erase_binding(std::string_view domain, std::string_view number,
                     std::string_view contact);
  void erase_bindings(std::string_view domain, std::string_view number);

  void put_meta(std::string_view key, std::string_view value);

  void put(const cdr_record& r);

  void put(const ban_record& r);
  void erase_ban(std::string_view ip);
  void put(const allow_record& r);
  void erase_allow(std::string_view cidr);

  bool empty() const { return ops_.empty(); }
  std::size_t size() const { return ops_.size(); }

  // Internal (used by store): the encoded operations, in order.
  const std::vector<detail::op>& ops() const { return ops_; }

 private:
  template <class T>
  void put_encoded(detail::table where, std::string key, const T& r);
  void add(detail::op::kind what, detail::table where, std::string key,
           std::string value = {});

  std::vector<detail::op> ops_;
};

}  // namespace pbx::storage
