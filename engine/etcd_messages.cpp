#include "engine/etcd_messages.hpp"

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

namespace pbx::etcd {

using json = nlohmann::json;

std::string base64_encode(const std::string& raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  auto n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                           reinterpret_cast<const unsigned char*>(raw.data()),
                           static_cast<int>(raw.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(const std::string& text) {
  if (text.size() % 4 != 0)
    return std::nullopt;
  if (text.empty())
    return std::string{};
  std::string out(3 * (text.size() / 4) + 1, '\0');
  auto n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                           reinterpret_cast<const unsigned char*>(text.data()),
                           static_cast<int>(text.size()));
  if (n < 0)
    return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes: drop them.
  std::size_t pad = 0;
  for (auto it = text.rbegin(); it != text.rend() && *it == '=' && pad < 2; ++it)
    ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

std::string prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = prefix.back();
    if (static_cast<unsigned char>(last) < 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0'); // every key
}

namespace {

// etcd's gateway writes int64 as strings; accept numbers too.
std::int64_t int64_of(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null())
    return 0;
  if (it->is_number_integer())
    return it->get<std::int64_t>();
  if (it->is_string()) {
    try {
      return std::stoll(it->get<std::string>());
    } catch (...) {
      return 0;
    }
  }
  return 0;
}

std::string b64_field(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string())
    return {};
  return base64_decode(it->get<std::string>()).value_or(std::string{});
}

// The gateway's error object (HTTP status >= 400 or a stream's "error").
std::string error_of(const json& j) {
  if (!j.is_object())
    return "not a JSON object";
  auto e = j.find("error");
  if (e == j.end())
    return {};
  if (e->is_object())
    return e->value("message", std::string{"etcd error"});
  if (e->is_string())
    return j.value("message", e->get<std::string>());
  return "etcd error";
}

// Parses `body`; a streamed answer (keepalive) may hold several lines: the first counts.
json parse_first(const std::string& body, std::string& error) {
  auto end = body.find('\n');
  auto text = body.substr(0, end);
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    error = "bad JSON from etcd";
    return json{};
  }
  error = error_of(j);
  return j;
}

key_value kv_of(const json& j) {
  key_value kv;
  kv.key = b64_field(j, "key");
  kv.value = b64_field(j, "value");
  kv.create_revision = int64_of(j, "create_revision");
  kv.mod_revision = int64_of(j, "mod_revision");
  kv.lease = int64_of(j, "lease");
  return kv;
}

} // namespace

std::string lease_grant_body(std::int64_t ttl) {
  return json{{"TTL", std::to_string(ttl)}}.dump();
}

std::string lease_keepalive_body(std::int64_t id) {
  return json{{"ID", std::to_string(id)}}.dump();
}

std::string lease_revoke_body(std::int64_t id) {
  return json{{"ID", std::to_string(id)}}.dump();
}

std::string range_prefix_body(const std::string& prefix) {
  return json{{"key", base64_encode(prefix)}, {"range_end", base64_encode(prefix_end(prefix))}}
    .dump();
}

std::string create_all_body(const std::vector<std::pair<std::string, std::string>>& kvs,
                            std::int64_t lease) {
  auto compare = json::array(), success = json::array(), failure = json::array();
  for (auto& [key, value] : kvs) {
    auto k = base64_encode(key);
    compare.push_back({{"key", k}, {"target", "CREATE"}, {"result", "EQUAL"},
                       {"create_revision", "0"}});
    success.push_back({{"request_put",
                        {{"key", k}, {"value", base64_encode(value)},
                         {"lease", std::to_string(lease)}}}});
    failure.push_back({{"request_range", {{"key", k}}}});
  }
  return json{{"compare", compare}, {"success", success}, {"failure", failure}}.dump();
}

std::string delete_if_body(const std::string& key, std::int64_t mod_revision) {
  return txn_body({{key, txn_compare::target::mod, mod_revision}},
                  {{txn_op::kind::erase, key, {}}});
}

std::string txn_body(const std::vector<txn_compare>& compare, const std::vector<txn_op>& ops) {
  auto cmp = json::array(), success = json::array();
  for (auto& c : compare) {
    bool create = c.what == txn_compare::target::create;
    cmp.push_back({{"key", base64_encode(c.key)},
                   {"target", create ? "CREATE" : "MOD"},
                   {"result", "EQUAL"},
                   {create ? "create_revision" : "mod_revision", std::to_string(c.revision)}});
  }
  for (auto& o : ops) {
    auto k = base64_encode(o.key);
    switch (o.what) {
      case txn_op::kind::put:
        success.push_back({{"request_put", {{"key", k}, {"value", base64_encode(o.value)}}}});
        break;
      case txn_op::kind::erase:
        success.push_back({{"request_delete_range", {{"key", k}}}});
        break;
      case txn_op::kind::erase_prefix:
        success.push_back({{"request_delete_range",
                            {{"key", k}, {"range_end", base64_encode(prefix_end(o.key))}}}});
        break;
    }
  }
  return json{{"compare", cmp}, {"success", success}}.dump();
}

std::string watch_prefix_body(const std::string& prefix, std::int64_t start_revision) {
  return json{{"create_request",
               {{"key", base64_encode(prefix)},
                {"range_end", base64_encode(prefix_end(prefix))},
                {"start_revision", std::to_string(start_revision)}}}}
    .dump();
}

lease_grant_result parse_lease_grant(const std::string& body) {
  lease_grant_result r;
  auto j = parse_first(body, r.error);
  if (!r.error.empty())
    return r;
  r.id = int64_of(j, "ID");
  r.ttl = int64_of(j, "TTL");
  if (r.id == 0)
    r.error = "etcd granted no lease";
  return r;
}

keepalive_result parse_keepalive(const std::string& body) {
  keepalive_result r;
  auto j = parse_first(body, r.error);
  if (!r.error.empty())
    return r;
  auto res = j.find("result");
  r.ttl = int64_of(res != j.end() && res->is_object() ? *res : j, "TTL");
  return r;
}

range_result parse_range(const std::string& body) {
  range_result r;
  auto j = parse_first(body, r.error);
  if (!r.error.empty())
    return r;
  if (auto h = j.find("header"); h != j.end() && h->is_object())
    r.revision = int64_of(*h, "revision");
  if (auto kvs = j.find("kvs"); kvs != j.end() && kvs->is_array())
    for (auto& kv : *kvs)
      if (kv.is_object())
        r.kvs.push_back(kv_of(kv));
  return r;
}

txn_result parse_txn(const std::string& body) {
  txn_result r;
  auto j = parse_first(body, r.error);
  if (!r.error.empty())
    return r;
  auto s = j.find("succeeded");
  r.succeeded = s != j.end() && s->is_boolean() && s->get<bool>();
  if (r.succeeded)
    return r;
  if (auto resps = j.find("responses"); resps != j.end() && resps->is_array())
    for (auto& resp : *resps) {
      auto range = resp.find("response_range");
      if (range == resp.end() || !range->is_object())
        continue;
      if (auto kvs = range->find("kvs"); kvs != range->end() && kvs->is_array())
        for (auto& kv : *kvs)
          if (kv.is_object())
            r.existing.push_back(kv_of(kv));
    }
  return r;
}

watch_result parse_watch(const std::string& line) {
  watch_result r;
  auto j = parse_first(line, r.error);
  if (!r.error.empty())
    return r;
  auto res = j.find("result");
  if (res == j.end() || !res->is_object()) {
    r.error = "no result in a watch line";
    return r;
  }
  auto flag = [&](const char* name) {
    auto f = res->find(name);
    return f != res->end() && f->is_boolean() && f->get<bool>();
  };
  r.created = flag("created");
  r.canceled = flag("canceled");
  r.compact_revision = int64_of(*res, "compact_revision");
  if (auto h = res->find("header"); h != res->end() && h->is_object())
    r.revision = int64_of(*h, "revision");
  if (auto evs = res->find("events"); evs != res->end() && evs->is_array())
    for (auto& ev : *evs) {
      if (!ev.is_object())
        continue;
      watch_event e;
      e.deleted = ev.value("type", std::string{"PUT"}) == "DELETE";
      if (auto kv = ev.find("kv"); kv != ev.end() && kv->is_object())
        e.kv = kv_of(*kv);
      r.events.push_back(std::move(e));
    }
  return r;
}

} // namespace pbx::etcd
