#include "storage/batch.hpp"

#include <cstdio>
#include <exception>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "storage/codec.hpp"

namespace pbx::storage {

namespace detail {

std::string tenant_key(std::string_view domain) { return std::string(domain); }

std::string domain_prefix(std::string_view domain) {
  std::string k;
  k.reserve(domain.size() + 1);
  k.append(domain).push_back(sep);
  return k;
}

std::string extension_key(std::string_view domain, std::string_view number) {
  std::string k = domain_prefix(domain);
  k.append(number);
  return k;
}

std::string binding_prefix(std::string_view domain, std::string_view number) {
  std::string k = extension_key(domain, number);
  k.push_back(sep);
  return k;
}

std::string cdr_key(std::string_view domain, std::int64_t start_ms, std::string_view call_id) {
  char stamp[24];
  std::snprintf(stamp, sizeof(stamp), "%020lld", static_cast<long long>(start_ms));
  std::string k = domain_prefix(domain);
  k += stamp;
  k.push_back(sep);
  k += call_id;
  return k;
}

std::string cdr_id_key(std::string_view domain, std::string_view call_id) {
  std::string k = domain_prefix(domain);
  k += call_id;
  return k;
}

std::string audit_key(std::string_view domain, std::int64_t time_ms, std::uint64_t seq) {
  char stamp[48];
  // sep is '\0': the stamp is taken by its length, not as a C string.
  int n = std::snprintf(stamp, sizeof(stamp), "%020lld%c%020llu", static_cast<long long>(time_ms),
                        sep, static_cast<unsigned long long>(seq));
  return domain_prefix(domain) + std::string(stamp, static_cast<std::size_t>(n));
}

std::string voicemail_key(std::string_view domain, std::string_view number,
                          std::string_view id) {
  std::string k = binding_prefix(domain, number);
  k.append(id);
  return k;
}

namespace {

// The first 128 bits of the contact's SHA-256, as 32 hex digits.
std::string contact_digest(std::string_view contact) {
  static EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);  // fetched once
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (sha256 == nullptr
      || EVP_Digest(contact.data(), contact.size(), md, &n, sha256, nullptr) != 1 || n < 16)
    throw std::runtime_error("SHA-256 is not available");
  char hex[33];
  std::size_t len = 0;
  if (OPENSSL_buf2hexstr_ex(hex, sizeof(hex), &len, md, 16, '\0') != 1)
    throw std::runtime_error("hex encoding failed");
  return std::string(hex, 32);
}

}  // namespace

std::string binding_value(const binding_record& r, std::string_view key) {
  binding_record v = r;
  v.domain.clear();
  v.number.clear();
  if (key.size() == r.domain.size() + r.number.size() + 2 + r.contact.size())
    v.contact.clear(); // the key (domain sep number sep) ends with it, uncut
  return encode(v);
}

bool decode_binding(std::string_view key, std::string_view value, binding_record& out) {
  if (!decode(value, out))
    return false;
  if (!out.domain.empty())
    return true; // written before schema 4
  auto a = key.find(sep);
  auto b = a == std::string_view::npos ? a : key.find(sep, a + 1);
  if (b == std::string_view::npos)
    return false;
  out.domain.assign(key.substr(0, a));
  out.number.assign(key.substr(a + 1, b - a - 1));
  if (out.contact.empty())
    out.contact.assign(key.substr(b + 1));
  return true;
}

std::string binding_key(std::string_view domain, std::string_view number,
                        std::string_view contact) {
  std::string k = binding_prefix(domain, number);
  if (k.size() + contact.size() <= max_key_size) {
    k.append(contact);
    return k;
  }
  constexpr std::size_t tail = 1 + 32;  // sep + hex hash
  if (k.size() + tail > max_key_size) {
    // Domain + number alone are too long: let LMDB reject it (MDB_BAD_VALSIZE).
    k.append(contact);
    return k;
  }
  k.append(contact.substr(0, max_key_size - tail - k.size()));
  k.push_back(sep);
  k += contact_digest(contact);
  return k;
}

}  // namespace detail

using detail::op;
using detail::table;

void batch::add(op::kind what, table where, std::string key, std::string value) {
  ops_.push_back(op{what, where, std::move(key), std::move(value)});
}

template <class Encode>
void batch::put_made(table where, std::string key, Encode&& encode) {
  // Encoding here keeps the work off the single writer thread.
  try {
    auto value = encode(key);
    add(op::kind::put, where, std::move(key), std::move(value));
  } catch (const std::exception& e) {
    add(op::kind::invalid, where, {}, std::string("encoding failed: ") + e.what());
  } catch (...) {
    add(op::kind::invalid, where, {}, "encoding failed");
  }
}

template <class T>
void batch::put_encoded(table where, std::string key, const T& r) {
  put_made(where, std::move(key), [&](const std::string&) { return detail::encode(r); });
}

void batch::put(const tenant_record& r) {
  put_encoded(table::tenants, detail::tenant_key(r.domain), r);
}

void batch::put(const cdr_record& r) {
  auto key = detail::cdr_key(r.domain, r.start_ms, r.call_id);
  add(op::kind::put, table::cdr_ids, detail::cdr_id_key(r.domain, r.call_id), key);
  put_encoded(table::cdrs, std::move(key), r);
}

void batch::put(const audit_record& r) {
  put_encoded(table::audit, detail::audit_key(r.domain, r.time_ms, r.seq), r);
}

void batch::erase_tenant(std::string_view domain) {
  add(op::kind::erase, table::tenants, detail::tenant_key(domain));
  add(op::kind::erase_prefix, table::cdrs, detail::domain_prefix(domain));
  add(op::kind::erase_prefix, table::cdr_ids, detail::domain_prefix(domain));
  add(op::kind::erase_prefix, table::extensions, detail::domain_prefix(domain));
  add(op::kind::erase_prefix, table::auth, detail::domain_prefix(domain));
  add(op::kind::erase, table::extension_counts, detail::tenant_key(domain));
  add(op::kind::erase_prefix, table::bindings, detail::domain_prefix(domain));
  add(op::kind::erase_prefix, table::voicemails, detail::domain_prefix(domain));
  add(op::kind::erase_prefix, table::trunks, detail::domain_prefix(domain));
  add(op::kind::erase_prefix, table::inbound_rules, detail::domain_prefix(domain));
  add(op::kind::erase_prefix, table::outbound_rules, detail::domain_prefix(domain));
  add(op::kind::dir_remove, table::voicemails, "voicemail/" + std::string(domain));
}

void batch::put(const trunk_record& r) {
  put_encoded(table::trunks, detail::extension_key(r.domain, r.name), r);
}

void batch::erase_trunk(std::string_view domain, std::string_view name) {
  add(op::kind::erase, table::trunks, detail::extension_key(domain, name));
}

void batch::put(const inbound_rule_record& r) {
  put_encoded(table::inbound_rules, detail::extension_key(r.domain, r.name), r);
}

void batch::erase_inbound_rule(std::string_view domain, std::string_view name) {
  add(op::kind::erase, table::inbound_rules, detail::extension_key(domain, name));
}

void batch::put(const outbound_rule_record& r) {
  put_encoded(table::outbound_rules, detail::extension_key(r.domain, r.name), r);
}

void batch::erase_outbound_rule(std::string_view domain, std::string_view name) {
  add(op::kind::erase, table::outbound_rules, detail::extension_key(domain, name));
}

void batch::put(const extension_record& r) {
  auto key = detail::extension_key(r.domain, r.number);
  put_encoded(table::auth, key, auth_of(r));
  put_encoded(table::extensions, std::move(key), r);
}

void batch::erase_extension(std::string_view domain, std::string_view number) {
  add(op::kind::erase, table::extensions, detail::extension_key(domain, number));
  add(op::kind::erase, table::auth, detail::extension_key(domain, number));
  erase_bindings(domain, number);
  add(op::kind::erase_prefix, table::voicemails, detail::binding_prefix(domain, number));
  add(op::kind::dir_remove, table::voicemails,
      "voicemail/" + std::string(domain) + "/" + std::string(number));
}

void batch::put(const binding_record& r) {
  put_made(table::bindings, detail::binding_key(r.domain, r.number, r.contact),
           [&](const std::string& key) { return detail::binding_value(r, key); });
}

void batch::erase_binding(std::string_view domain, std::string_view number,
                          std::string_view contact) {
  add(op::kind::erase, table::bindings, detail::binding_key(domain, number, contact));
}

void batch::erase_bindings(std::string_view domain, std::string_view number) {
  add(op::kind::erase_prefix, table::bindings, detail::binding_prefix(domain, number));
}

void batch::put(const ban_record& r) {
  put_encoded(table::security, "ban/" + r.ip, r);
}

void batch::erase_ban(std::string_view ip) {
  add(op::kind::erase, table::security, "ban/" + std::string(ip));
}

void batch::put(const allow_record& r) {
  put_encoded(table::security, "allow/" + r.cidr, r);
}

void batch::erase_allow(std::string_view cidr) {
  add(op::kind::erase, table::security, "allow/" + std::string(cidr));
}

void batch::put_meta(std::string_view key, std::string_view value) {
  add(op::kind::put, table::meta, std::string(key), std::string(value));
}

void batch::put(const voicemail_record& r) {
  put_encoded(table::voicemails, detail::voicemail_key(r.domain, r.number, r.id), r);
}

void batch::erase_voicemail(std::string_view domain, std::string_view number,
                            std::string_view id) {
  add(op::kind::erase, table::voicemails, detail::voicemail_key(domain, number, id));
}

void batch::move_file(std::string_view from, std::string_view to) {
  add(op::kind::file_move, table::voicemails, std::string(from), std::string(to));
}

void batch::copy_file(std::string_view from, std::string_view to) {
  add(op::kind::file_copy, table::voicemails, std::string(from), std::string(to));
}

void batch::remove_file(std::string_view path) {
  add(op::kind::file_remove, table::voicemails, std::string(path));
}

void batch::remove_dir(std::string_view path) {
  add(op::kind::dir_remove, table::voicemails, std::string(path));
}

bool batch::has_file_steps() const {
  for (auto& o : ops_)
    if (o.what == op::kind::file_move || o.what == op::kind::file_copy)
      return true;
  return false;
}

namespace {

constexpr table config_tables[] = {table::tenants, table::extensions, table::trunks,
                                   table::inbound_rules, table::outbound_rules};
constexpr std::string_view config_names[] = {"tenants", "extensions", "trunks",
                                             "inbound_rules", "outbound_rules"};

// The name of a configuration table; empty for any other.
std::string_view config_name(table t) {
  for (std::size_t i = 0; i < std::size(config_tables); ++i)
    if (config_tables[i] == t) return config_names[i];
  return {};
}

}  // namespace

bool config_table(std::string_view name) {
  for (auto n : config_names)
    if (n == name) return true;
  return false;
}

namespace {

// The table name an op is replicated under (configuration, or with
// `bindings` the bindings table); empty for any other op.
std::string_view replicated_as(const op& o, bool bindings) {
  if (o.what != op::kind::put && o.what != op::kind::erase && o.what != op::kind::erase_prefix)
    return {};
  if (bindings) return o.where == table::bindings ? std::string_view("bindings") : std::string_view();
  return config_name(o.where);
}

std::vector<config_change> changes_where(const std::vector<op>& ops, bool bindings) {
  std::vector<config_change> out;
  for (auto& o : ops) {
    auto name = replicated_as(o, bindings);
    if (name.empty()) continue;
    config_change c;
    c.what = o.what == op::kind::put     ? config_change::kind::put
             : o.what == op::kind::erase ? config_change::kind::erase
                                         : config_change::kind::erase_prefix;
    c.table = std::string(name);
    c.key = o.key;
    c.value = o.value;
    out.push_back(std::move(c));
  }
  return out;
}

bool any_where(const std::vector<op>& ops, bool bindings) {
  for (auto& o : ops)
    if (!replicated_as(o, bindings).empty()) return true;
  return false;
}

}  // namespace

std::vector<config_change> batch::config_changes() const { return changes_where(ops_, false); }

std::vector<config_change> batch::binding_changes() const { return changes_where(ops_, true); }

bool batch::has_config_changes() const { return any_where(ops_, false); }

bool batch::has_binding_changes() const { return any_where(ops_, true); }

std::string batch::binding_domain() const {
  for (auto& o : ops_)
    if (o.where == table::bindings) return o.key.substr(0, o.key.find(detail::sep));
  return {};
}

std::string batch::config_domain() const {
  std::string domain;
  for (auto& o : ops_) {
    if (replicated_as(o, false).empty()) continue;
    auto d = o.key.substr(0, o.key.find(detail::sep));
    if (!domain.empty() && d != domain) return {};
    domain = std::move(d);
  }
  return domain;
}

void batch::apply(const config_change& c) {
  table where = table::meta;
  bool known = c.table == "bindings";
  if (known) where = table::bindings;
  for (std::size_t i = 0; i < std::size(config_tables); ++i)
    if (config_names[i] == c.table) {
      where = config_tables[i];
      known = true;
    }
  if (!known) {
    add(op::kind::invalid, table::meta, {}, "not a replicated table: " + c.table);
    return;
  }
  switch (c.what) {
    case config_change::kind::put:
      if (where == table::extensions) {  // its auth record comes with it
        extension_record r;
        if (!detail::decode(c.value, r) || detail::extension_key(r.domain, r.number) != c.key) {
          add(op::kind::invalid, table::meta, {}, "unreadable extension record " + c.key);
          return;
        }
        put_encoded(table::auth, c.key, auth_of(r));
      }
      add(op::kind::put, where, c.key, c.value);
      return;
    case config_change::kind::erase_prefix:
      if (where == table::extensions) add(op::kind::erase_prefix, table::auth, c.key);
      add(op::kind::erase_prefix, where, c.key);
      return;
    case config_change::kind::erase: {
      auto cut = c.key.find(detail::sep);
      if (where == table::tenants)
        erase_tenant(c.key);
      else if (where == table::extensions && cut != std::string::npos)
        erase_extension(std::string_view(c.key).substr(0, cut),
                        std::string_view(c.key).substr(cut + 1));
      else
        add(op::kind::erase, where, c.key);
      return;
    }
  }
}

}  // namespace pbx::storage
