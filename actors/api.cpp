#include "actors/api.hpp"

#include <caf/all.hpp>

#include <openssl/rand.h>

#include <chrono>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>

#include "actors/admin_json.hpp"
#include "actors/messages/security.hpp"
#include "engine/api_port.hpp"
#include "engine/log.hpp"
#include "engine/metrics.hpp"
#include "engine/router.hpp"

namespace pbx {

namespace api_detail {

std::string bearer_token(const std::string& h) {
  constexpr std::size_t hex = 64;
  if (h.size() != 7 + hex)
    return {};
  static const char scheme[] = "bearer ";
  for (std::size_t i = 0; i < 7; ++i)
    if (std::tolower(static_cast<unsigned char>(h[i])) != scheme[i])
      return {};
  auto token = h.substr(7);
  for (char c : token)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return {};
  return token;
}

bool loopback(const std::string& ip) {
  return ip.rfind("127.", 0) == 0 || ip == "::1" || ip.rfind("::ffff:127.", 0) == 0;
}

} // namespace api_detail

namespace {

using self_ptr = caf::stateful_actor<api_state>*;
using json = admin_json::json;
using login_due_atom = caf::atom_constant<caf::atom("apilogin")>;

constexpr auto answer_timeout = std::chrono::seconds(30);
constexpr std::size_t max_depth = 64; // JSON nesting: records are flat

enum class body_kind { none, json, json_or_csv };

// One request being answered.
struct exchange {
  http_request req;
  std::unordered_map<std::string, std::string> param; // path parameters
  admin_principal who;
  std::string token;
  json body;
  bool csv = false;

  const std::string& domain() const { return param.at("domain"); }
  std::string number() const {
    auto i = param.find("number");
    return i == param.end() ? std::string{} : i->second;
  }
  std::optional<std::string> query(const std::string& key) const {
    for (auto& [k, v] : req.query)
      if (k == key)
        return v;
    return std::nullopt;
  }
};

using ex_ptr = std::shared_ptr<exchange>;
using handler = void (*)(self_ptr, const ex_ptr&);

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

std::string iso_seconds(std::int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// ---- answers ------------------------------------------------------------------

void respond(self_ptr self, http_response r) {
  metrics::api_request(r.status);
  self->state.ctx->api_out->respond(std::move(r));
}

void respond_json(self_ptr self, const ex_ptr& x, std::uint16_t status, const json& body) {
  http_response r;
  r.id = x->req.id;
  r.status = status;
  r.body = admin_json::dump(body);
  respond(self, std::move(r));
}

void respond_empty(self_ptr self, const ex_ptr& x) {
  http_response r;
  r.id = x->req.id;
  r.status = 204;
  r.content_type.clear();
  respond(self, std::move(r));
}

http_response error_response(std::uint64_t id, std::uint16_t status, const std::string& code,
                             const std::string& message, const std::string& field = {},
                             const std::vector<std::string>& errors = {}) {
  json body = json::object();
  body["code"] = code;
  body["message"] = message;
  if (!field.empty())
    body["field"] = field;
  if (!errors.empty())
    body["errors"] = errors;
  http_response r;
  r.id = id;
  r.status = status;
  r.body = admin_json::dump(body);
  if (status == 401)
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"actorpbx\"");
  return r;
}

std::uint16_t http_status(admin_errc code) {
  switch (code) {
    case admin_errc::none: return 200;
    case admin_errc::invalid: return 400;
    case admin_errc::not_found: return 404;
    case admin_errc::conflict: return 409;
    case admin_errc::forbidden: return 403;
    case admin_errc::unauthorized: return 401;
    case admin_errc::too_large: return 413;
    case admin_errc::unsupported: return 415;
    case admin_errc::internal: return 500;
  }
  return 500;
}

void fail(self_ptr self, const ex_ptr& x, const admin_reply& r) {
  auto code = r.code == admin_errc::none ? admin_errc::internal : r.code;
  respond(self, error_response(x->req.id, http_status(code), to_string(code), r.error, r.field,
                               r.notes));
}

void fail(self_ptr self, const ex_ptr& x, std::uint16_t status, const std::string& code,
          const std::string& message, const std::string& field = {}) {
  respond(self, error_response(x->req.id, status, code, message, field));
}

void invalid(self_ptr self, const ex_ptr& x, const std::string& message,
             const std::string& field = {}) {
  fail(self, x, admin_invalid(message, field));
}

json items(std::string_view resource, const admin_reply& r) {
  json list = json::array();
  for (auto& rec : r.records)
    list.push_back(admin_json::record(resource, rec));
  json out = json::object();
  out["items"] = std::move(list);
  return out;
}

json first(std::string_view resource, const admin_reply& r) {
  return r.records.empty() ? json::object() : admin_json::record(resource, r.records.front());
}

// Sends `req` to the admin actor as `x`'s principal; a failure is answered
// here, a success handed to `then`.
template <class Request, class Then>
void ask(self_ptr self, const ex_ptr& x, Request req, Then then) {
  self->request(self->state.ctx->admin, answer_timeout, x->who, std::move(req))
    .then(
      [=](admin_reply& r) {
        if (!r.ok)
          return fail(self, x, r);
        then(r);
      },
      [=](const caf::error& err) {
        fail(self, x, admin_fail(admin_errc::internal, "internal: " + self->system().render(err)));
      });
}

// Answers `status` with the records of `resource` as one object or a list.
auto answer_record(self_ptr self, const ex_ptr& x, std::string resource,
                   std::uint16_t status = 200) {
  return [=](admin_reply& r) { respond_json(self, x, status, first(resource, r)); };
}

auto answer_items(self_ptr self, const ex_ptr& x, std::string resource) {
  return [=](admin_reply& r) { respond_json(self, x, 200, items(resource, r)); };
}

auto answer_empty(self_ptr self, const ex_ptr& x) {
  return [=](admin_reply&) { respond_empty(self, x); };
}

// ---- request parts ------------------------------------------------------------

// The body's members as fields; false (answered) on a wrong type.
bool body_fields(self_ptr self, const ex_ptr& x, std::string_view resource, field_list& out,
                 std::initializer_list<std::string_view> skip = {}) {
  if (!x->body.is_object()) {
    invalid(self, x, "the body must be a JSON object");
    return false;
  }
  json rest = json::object();
  for (auto& [k, v] : x->body.items())
    if (std::find(skip.begin(), skip.end(), k) == skip.end())
      rest[k] = v;
  auto r = admin_json::to_fields(resource, rest, out);
  if (!r.ok) {
    fail(self, x, r);
    return false;
  }
  return true;
}

// A required string member of the body; false (answered) when missing or not a string.
bool body_string(self_ptr self, const ex_ptr& x, const std::string& name, std::string& out) {
  if (!x->body.is_object()) {
    invalid(self, x, "the body must be a JSON object");
    return false;
  }
  auto i = x->body.find(name);
  if (i == x->body.end()) {
    invalid(self, x, name + " is required", name);
    return false;
  }
  if (!i->is_string()) {
    invalid(self, x, name + " must be a JSON string", name);
    return false;
  }
  out = i->get<std::string>();
  return true;
}

// Only these members; false (answered) on another.
bool only_members(self_ptr self, const ex_ptr& x, std::initializer_list<std::string_view> known) {
  if (!x->body.is_object()) {
    invalid(self, x, "the body must be a JSON object");
    return false;
  }
  for (auto& [k, v] : x->body.items())
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      invalid(self, x, "unknown field '" + k + "'", k);
      return false;
    }
  return true;
}

// `limit=N` as the shell takes it (1-999999); false (answered) when bad.
bool query_limit(self_ptr self, const ex_ptr& x, std::size_t& limit) {
  auto v = x->query("limit");
  if (!v)
    return true;
  if (v->empty() || v->size() > 6 || v->find_first_not_of("0123456789") != std::string::npos
      || std::stoul(*v) == 0) {
    invalid(self, x, "limit must be 1-999999", "limit");
    return false;
  }
  limit = std::stoul(*v);
  return true;
}

rules_cmd rules(const ex_ptr& x, std::string verb, std::string sub, bool with_number = true) {
  rules_cmd c;
  c.domain = x->domain();
  if (with_number)
    c.number = x->number();
  c.verb = std::move(verb);
  c.sub = std::move(sub);
  return c;
}

// ---- sessions -----------------------------------------------------------------

std::string new_token() {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1)
    return {};
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (auto b : raw) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

void purge_expired(self_ptr self) {
  auto now = now_ms();
  auto& tokens = self->state.tokens;
  for (auto i = tokens.begin(); i != tokens.end();)
    i = i->second.expires_ms <= now ? tokens.erase(i) : std::next(i);
}

const char* role_name(admin_role r) {
  switch (r) {
    case admin_role::system: return "system";
    case admin_role::tenant_admin: return "admin";
    case admin_role::user: return "user";
  }
  return "user";
}

void login(self_ptr self, const ex_ptr& x) {
  if (!only_members(self, x, {"user", "password"}))
    return;
  std::string user, password;
  if (!body_string(self, x, "user", user) || !body_string(self, x, "password", password))
    return;
  flow_info source{x->req.peer_ip, 0, x->req.tls ? "tls" : "tcp"};
  self->request(self->state.ctx->admin, answer_timeout, login_check{user, password})
    .then(
      [=](login_result& l) {
        auto& st = self->state;
        if (l.ok) {
          self->send(st.ctx->security_actor, auth_success{auth_service::api, source});
          auto token = new_token();
          if (token.empty())
            return fail(self, x, 500, "internal", "no random bytes for a token");
          if (++st.logins % 64 == 0)
            purge_expired(self);
          api_token t;
          t.who = l.who;
          t.who.via = "api " + x->req.peer_ip;
          t.user = principal_name(t.who);
          auto ttl = static_cast<std::int64_t>(st.ctx->api_token_ttl);
          t.expires_ms = now_ms() + ttl * 1000;
          json body = json::object();
          body["token"] = token;
          body["expires_at"] = iso_seconds(t.expires_ms);
          body["expires_in"] = ttl;
          body["role"] = role_name(t.who.role);
          if (t.who.role != admin_role::system) {
            body["domain"] = t.who.domain;
            body["extension"] = t.who.number;
          }
          log::info("api: ", t.user, " logged in from ", x->req.peer_ip);
          st.tokens.emplace(token, std::move(t));
          return respond_json(self, x, 200, body);
        }
        auto answer = error_response(x->req.id, 401, "unauthorized", "wrong user or password");
        auto shown = user.size() > 128 ? user.substr(0, 128) : user;
        self->request(st.ctx->security_actor, answer_timeout,
                      auth_failure{auth_service::api, source, shown, {}, l.reason})
          .then(
            [=](std::uint32_t delay_ms) {
              self->state.delayed.emplace(x->req.id, answer);
              self->delayed_send(self, std::chrono::milliseconds(delay_ms),
                                 login_due_atom::value, x->req.id);
            },
            [=](const caf::error&) { respond(self, answer); });
      },
      [=](const caf::error& err) {
        fail(self, x, 500, "internal", "internal: " + self->system().render(err));
      });
}

void logout(self_ptr self, const ex_ptr& x) {
  self->state.tokens.erase(x->token);
  respond_empty(self, x);
}

void revoke(self_ptr self, const ex_ptr& x) {
  auto user = x->query("user").value_or("");
  if (user.empty())
    return invalid(self, x, "user is required (admin or NUMBER@DOMAIN)", "user");
  ask(self, x, token_revoke{user}, [=](admin_reply& r) {
    std::string who = user;
    for (auto& [k, v] : r.records.empty() ? field_list{} : r.records.front())
      if (k == "user")
        who = v;
    std::size_t n = 0;
    auto& tokens = self->state.tokens;
    for (auto i = tokens.begin(); i != tokens.end();) {
      if (i->second.user == who) {
        i = tokens.erase(i);
        ++n;
      } else {
        ++i;
      }
    }
    log::info("api: ", principal_name(x->who), " revoked ", n, " tokens of ", who);
    json body = json::object();
    body["revoked"] = n;
    respond_json(self, x, 200, body);
  });
}

void metrics_route(self_ptr self, const ex_ptr& x) {
  http_response r;
  r.id = x->req.id;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = metrics_text(*self->state.ctx, self->system());
  respond(self, std::move(r));
}

// ---- tenants and extensions ------------------------------------------------------

void tenant_list(self_ptr self, const ex_ptr& x) {
  ask(self, x, tenant_query{}, answer_items(self, x, "tenant"));
}

void tenant_add_route(self_ptr self, const ex_ptr& x) {
  std::string raw;
  if (!body_string(self, x, "domain", raw))
    return;
  auto domain = normalize_domain(raw);
  if (domain.empty())
    return invalid(self, x, "'" + raw + "' is not a domain name", "domain");
  field_list fields;
  if (!body_fields(self, x, "tenant", fields, {"domain"}))
    return;
  ask(self, x, tenant_add{domain, std::move(fields)}, [=](admin_reply&) {
    ask(self, x, tenant_query{domain}, answer_record(self, x, "tenant", 201));
  });
}

void tenant_show(self_ptr self, const ex_ptr& x) {
  ask(self, x, tenant_query{x->domain()}, answer_record(self, x, "tenant"));
}

void tenant_set_route(self_ptr self, const ex_ptr& x) {
  field_list fields;
  if (!body_fields(self, x, "tenant", fields))
    return;
  ask(self, x, tenant_set{x->domain(), std::move(fields)}, [=](admin_reply&) {
    ask(self, x, tenant_query{x->domain()}, answer_record(self, x, "tenant"));
  });
}

void tenant_del_route(self_ptr self, const ex_ptr& x) {
  ask(self, x, tenant_del{x->domain()}, answer_empty(self, x));
}

void extension_list(self_ptr self, const ex_ptr& x) {
  extension_query q;
  q.domain = x->domain();
  if (!query_limit(self, x, q.limit))
    return;
  q.after = x->query("after").value_or("");
  ask(self, x, std::move(q), answer_items(self, x, "extension"));
}

void extension_show(self_ptr self, const ex_ptr& x) {
  ask(self, x, extension_query{x->domain(), x->number(), 0, {}},
      answer_record(self, x, "extension"));
}

void reread_extension(self_ptr self, const ex_ptr& x, const std::string& number,
                      std::uint16_t status) {
  ask(self, x, extension_query{x->domain(), number, 0, {}},
      answer_record(self, x, "extension", status));
}

void extension_add_route(self_ptr self, const ex_ptr& x) {
  extension_cmd cmd;
  cmd.op = extension_op::add;
  cmd.domain = x->domain();
  if (!body_string(self, x, "extension_number", cmd.number)
      || !body_fields(self, x, "extension", cmd.fields, {"extension_number"}))
    return;
  auto number = cmd.number;
  ask(self, x, std::move(cmd),
      [=](admin_reply&) { reread_extension(self, x, number, 201); });
}

void extension_set_route(self_ptr self, const ex_ptr& x) {
  extension_cmd cmd;
  cmd.op = extension_op::set;
  cmd.domain = x->domain();
  cmd.number = x->number();
  if (!body_fields(self, x, "extension", cmd.fields))
    return;
  if (cmd.fields.empty())
    return invalid(self, x, "nothing to set");
  ask(self, x, std::move(cmd),
      [=](admin_reply&) { reread_extension(self, x, x->number(), 200); });
}

void extension_del_route(self_ptr self, const ex_ptr& x) {
  extension_cmd cmd;
  cmd.op = extension_op::del;
  cmd.domain = x->domain();
  cmd.number = x->number();
  ask(self, x, std::move(cmd), answer_empty(self, x));
}

void extension_copy_route(self_ptr self, const ex_ptr& x) {
  extension_cmd cmd;
  cmd.op = extension_op::copy;
  cmd.domain = x->domain();
  cmd.number = x->number();
  if (!body_string(self, x, "extension_number", cmd.target)
      || !body_fields(self, x, "extension", cmd.fields, {"extension_number"}))
    return;
  auto target = cmd.target;
  ask(self, x, std::move(cmd),
      [=](admin_reply&) { reread_extension(self, x, target, 201); });
}

void extension_import_route(self_ptr self, const ex_ptr& x) {
  extension_import req;
  req.domain = x->domain();
  if (x->csv) {
    req.csv = x->req.body;
    if (req.csv.empty())
      return invalid(self, x, "no CSV header line");
  } else {
    if (!x->body.is_array())
      return invalid(self, x, "the body must be a JSON array of extension objects (or text/csv)");
    std::vector<std::string> errors;
    std::string first_field;
    std::size_t line = 0;
    for (auto& item : x->body) {
      ++line;
      field_list row;
      if (!item.is_object()) {
        errors.push_back("line " + std::to_string(line) + ": not a JSON object");
        continue;
      }
      auto r = admin_json::to_fields("extension", item, row);
      if (!r.ok) {
        errors.push_back("line " + std::to_string(line) + ": " + r.error);
        if (first_field.empty())
          first_field = r.field;
        continue;
      }
      req.rows.push_back(std::move(row));
      req.row_lines.push_back(line);
    }
    if (!errors.empty()) {
      auto n = errors.size();
      auto message = errors.front()
                     + (n > 1 ? " (" + std::to_string(n) + " bad lines, listed above)" : "")
                     + "; nothing imported";
      if (errors.size() > 100)
        errors.resize(100);
      return respond(self, error_response(x->req.id, 400, "invalid", message,
                                          n == 1 ? first_field : "", errors));
    }
    if (req.rows.empty())
      return invalid(self, x, "no extension to import");
  }
  ask(self, x, std::move(req), [=](admin_reply& r) {
    respond_json(self, x, 200, first("extension", r));
  });
}

// ---- forwarding rules ---------------------------------------------------------

void status_show(self_ptr self, const ex_ptr& x) {
  ask(self, x, rules(x, "status", "show"), answer_record(self, x, "status"));
}

void status_set(self_ptr self, const ex_ptr& x) {
  auto cmd = rules(x, "status", "set");
  std::string status;
  if (!body_fields(self, x, "status", cmd.fields, {"status"}) || !body_string(self, x, "status", status))
    return;
  cmd.args = {status};
  ask(self, x, std::move(cmd), [=](admin_reply&) { status_show(self, x); });
}

void forward_show(self_ptr self, const ex_ptr& x) {
  ask(self, x, rules(x, "forward", "show"), answer_items(self, x, "forwarding"));
}

void forward_set(self_ptr self, const ex_ptr& x) {
  auto cmd = rules(x, "forward", "set");
  cmd.args = {x->param.at("slot")};
  if (!body_fields(self, x, "forwarding", cmd.fields))
    return;
  ask(self, x, std::move(cmd), [=](admin_reply&) { forward_show(self, x); });
}

void hours_show(self_ptr self, const ex_ptr& x) {
  ask(self, x, rules(x, "hours", "show"), answer_items(self, x, "hours"));
}

void hours_set(self_ptr self, const ex_ptr& x) {
  auto cmd = rules(x, "hours", "set");
  if (!body_fields(self, x, "hours", cmd.fields))
    return;
  ask(self, x, std::move(cmd), [=](admin_reply&) { hours_show(self, x); });
}

// Holidays and exceptions: list, add (201 {"id": N}), del (204).
template <const char* Verb, const char* Resource>
void rule_list(self_ptr self, const ex_ptr& x) {
  ask(self, x, rules(x, Verb, "list"), answer_items(self, x, Resource));
}

template <const char* Verb, const char* Resource>
void rule_add(self_ptr self, const ex_ptr& x) {
  auto cmd = rules(x, Verb, "add");
  if (!body_fields(self, x, Resource, cmd.fields))
    return;
  ask(self, x, std::move(cmd), answer_record(self, x, Resource, 201));
}

template <const char* Verb>
void rule_del(self_ptr self, const ex_ptr& x) {
  auto cmd = rules(x, Verb, "del");
  cmd.args = {x->param.at("id")};
  ask(self, x, std::move(cmd), answer_empty(self, x));
}

constexpr char holiday_verb[] = "holiday";
constexpr char exception_verb[] = "exception";

void fac_list(self_ptr self, const ex_ptr& x) {
  ask(self, x, rules(x, "fac", "list", false), answer_items(self, x, "feature_code"));
}

void fac_set(self_ptr self, const ex_ptr& x) {
  auto cmd = rules(x, "fac", "set", false);
  std::string code;
  if (!only_members(self, x, {"code"}) || !body_string(self, x, "code", code))
    return;
  cmd.args = {x->param.at("feature"), code};
  ask(self, x, std::move(cmd), [=](admin_reply&) { fac_list(self, x); });
}

void explain_route(self_ptr self, const ex_ptr& x) {
  auto from = x->query("from"), to = x->query("to");
  if (!from || from->empty())
    return invalid(self, x, "from is required (the calling number)", "from");
  if (!to || to->empty())
    return invalid(self, x, "to is required (the extension called)", "to");
  rules_cmd cmd;
  cmd.domain = x->domain();
  cmd.number = *to;
  cmd.verb = "explain";
  cmd.args = {*from};
  if (auto at = x->query("at"))
    cmd.fields.emplace_back("at", *at);
  ask(self, x, std::move(cmd), [=](admin_reply& r) {
    json steps = json::array();
    json decision = json::object();
    for (auto& rec : r.records) {
      if (admin_json::label_of(rec).empty())
        steps.push_back(admin_json::record("explain", rec));
      else
        decision = admin_json::record("explain", rec);
    }
    json body = json::object();
    body["steps"] = std::move(steps);
    body["decision"] = std::move(decision);
    respond_json(self, x, 200, body);
  });
}

// ---- live state, history, node-wide ----------------------------------------------

void registrations_route(self_ptr self, const ex_ptr& x) {
  auto number = x->number();
  if (number.empty())
    number = x->query("extension").value_or("");
  ask(self, x, registrations_query{x->domain(), number}, answer_items(self, x, "registration"));
}

void calls_all(self_ptr self, const ex_ptr& x) {
  ask(self, x, calls_query{}, answer_items(self, x, "call"));
}

// A tenant's calls: the tenant must exist (and be the caller's to see).
void calls_tenant(self_ptr self, const ex_ptr& x) {
  ask(self, x, tenant_query{x->domain()}, [=](admin_reply&) {
    ask(self, x, calls_query{x->domain()}, answer_items(self, x, "call"));
  });
}

void hangup_route(self_ptr self, const ex_ptr& x) {
  ask(self, x, hangup_cmd{x->param.at("call_id"), x->domain()}, answer_empty(self, x));
}

void cdrs_route(self_ptr self, const ex_ptr& x) {
  cdr_query q;
  q.domain = x->domain();
  if (!query_limit(self, x, q.limit))
    return;
  q.extension = x->query("extension").value_or("");
  q.before = x->query("before").value_or("");
  auto limit = q.limit;
  q.limit = limit + 1; // one more tells whether there is a next page
  ask(self, x, std::move(q), [=](admin_reply& r) {
    json next = nullptr;
    if (r.records.size() > limit) {
      r.records.resize(limit);
      for (auto& [k, v] : r.records.back())
        if (k == "call_id")
          next = v;
    }
    auto body = items("cdr", r);
    body["next"] = std::move(next);
    respond_json(self, x, 200, body);
  });
}

void voicemail_list(self_ptr self, const ex_ptr& x) {
  ask(self, x, voicemail_cmd{x->domain(), x->number(), "list", {}},
      answer_items(self, x, "voicemail"));
}

void voicemail_del(self_ptr self, const ex_ptr& x) {
  ask(self, x, voicemail_cmd{x->domain(), x->number(), "del", x->param.at("id")},
      answer_empty(self, x));
}

void stats_route(self_ptr self, const ex_ptr& x) {
  ask(self, x, stats_query{}, answer_record(self, x, "stats"));
}

void audit_route(self_ptr self, const ex_ptr& x) {
  audit_query q;
  q.domain = x->query("domain").value_or("");
  if (!query_limit(self, x, q.limit))
    return;
  ask(self, x, std::move(q), answer_items(self, x, "audit"));
}

// ---- routing ----------------------------------------------------------------------

struct method_spec {
  handler run = nullptr;
  body_kind body = body_kind::none;
};

struct route {
  std::vector<std::string> parts; // "{name}" matches one non-empty segment
  std::vector<std::pair<std::string, method_spec>> methods;
};

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  for (;;) {
    auto slash = path.find('/', pos);
    out.push_back(path.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos));
    if (slash == std::string::npos)
      break;
    pos = slash + 1;
  }
  return out;
}

const std::vector<route>& routes() {
  using B = body_kind;
  static const std::vector<route> table = [] {
    std::vector<route> t;
    auto add = [&](const std::string& path,
                   std::vector<std::pair<std::string, method_spec>> methods) {
      t.push_back(route{split_path(path), std::move(methods)});
    };
    const std::string T = "/api/tenants/{domain}", E = T + "/extensions/{number}";
    add("/metrics", {{"GET", {metrics_route}}});
    add("/api/login", {{"POST", {login, B::json}}});
    add("/api/logout", {{"POST", {logout}}});
    add("/api/tokens", {{"DELETE", {revoke}}});
    add("/api/tenants", {{"GET", {tenant_list}}, {"POST", {tenant_add_route, B::json}}});
    add(T, {{"GET", {tenant_show}},
            {"PATCH", {tenant_set_route, B::json}},
            {"DELETE", {tenant_del_route}}});
    add(T + "/extensions", {{"GET", {extension_list}}, {"POST", {extension_add_route, B::json}}});
    add(T + "/extensions/import", {{"POST", {extension_import_route, B::json_or_csv}}});
    add(E, {{"GET", {extension_show}},
            {"PATCH", {extension_set_route, B::json}},
            {"DELETE", {extension_del_route}}});
    add(E + "/copy", {{"POST", {extension_copy_route, B::json}}});
    add(E + "/status", {{"GET", {status_show}}, {"PUT", {status_set, B::json}}});
    add(E + "/forwarding", {{"GET", {forward_show}}});
    add(E + "/forwarding/{slot}", {{"PUT", {forward_set, B::json}}});
    for (auto& base : {T, E}) {
      add(base + "/hours", {{"GET", {hours_show}}, {"PUT", {hours_set, B::json}}});
      add(base + "/holidays", {{"GET", {rule_list<holiday_verb, holiday_verb>}},
                               {"POST", {rule_add<holiday_verb, holiday_verb>, B::json}}});
      add(base + "/holidays/{id}", {{"DELETE", {rule_del<holiday_verb>}}});
    }
    add(E + "/exceptions", {{"GET", {rule_list<exception_verb, exception_verb>}},
                            {"POST", {rule_add<exception_verb, exception_verb>, B::json}}});
    add(E + "/exceptions/{id}", {{"DELETE", {rule_del<exception_verb>}}});
    add(T + "/feature_codes", {{"GET", {fac_list}}});
    add(T + "/feature_codes/{feature}", {{"PUT", {fac_set, B::json}}});
    add(T + "/explain", {{"GET", {explain_route}}});
    add(T + "/registrations", {{"GET", {registrations_route}}});
    add(E + "/registrations", {{"GET", {registrations_route}}});
    add(T + "/calls", {{"GET", {calls_tenant}}});
    add(T + "/calls/{call_id}", {{"DELETE", {hangup_route}}});
    add("/api/calls", {{"GET", {calls_all}}});
    add(T + "/cdrs", {{"GET", {cdrs_route}}});
    add(E + "/voicemail", {{"GET", {voicemail_list}}});
    add(E + "/voicemail/{id}", {{"DELETE", {voicemail_del}}});
    add("/api/stats", {{"GET", {stats_route}}});
    add("/api/audit", {{"GET", {audit_route}}});
    return t;
  }();
  return table;
}

// The route of `path` (literal segments win over parameters), its parameters.
const route* match(const std::string& path,
                   std::unordered_map<std::string, std::string>& params) {
  auto parts = split_path(path);
  const route* best = nullptr;
  int best_score = -1;
  for (auto& r : routes()) {
    if (r.parts.size() != parts.size())
      continue;
    int score = 0;
    bool ok = true;
    for (std::size_t i = 0; i < parts.size() && ok; ++i) {
      auto& t = r.parts[i];
      if (t.size() > 2 && t.front() == '{')
        ok = !parts[i].empty();
      else if (t == parts[i])
        ++score;
      else
        ok = false;
    }
    if (ok && score > best_score) {
      best = &r;
      best_score = score;
    }
  }
  if (best)
    for (std::size_t i = 0; i < parts.size(); ++i) {
      auto& t = best->parts[i];
      if (t.size() > 2 && t.front() == '{')
        params[t.substr(1, t.size() - 2)] = parts[i];
    }
  return best;
}

void unauthorized(self_ptr self, const ex_ptr& x, const std::string& why) {
  fail(self, x, 401, "unauthorized", why);
}

// The principal of the request's token; false (answered 401) without a good one.
bool authenticate(self_ptr self, const ex_ptr& x) {
  if (x->req.authorization.empty()) {
    unauthorized(self, x, "a login is required: Authorization: Bearer TOKEN (POST /api/login)");
    return false;
  }
  auto token = api_detail::bearer_token(x->req.authorization);
  auto& tokens = self->state.tokens;
  auto i = token.empty() ? tokens.end() : tokens.find(token);
  if (i == tokens.end()) {
    unauthorized(self, x, "the token is not valid (expired, revoked or never issued)");
    return false;
  }
  if (i->second.expires_ms <= now_ms()) {
    tokens.erase(i);
    unauthorized(self, x, "the token has expired");
    return false;
  }
  x->who = i->second.who;
  x->token = token;
  return true;
}

void handle(self_ptr self, http_request& req) {
  auto x = std::make_shared<exchange>();
  x->req = std::move(req);
  auto* r = match(x->req.path, x->param);
  if (!r)
    return fail(self, x, 404, "not_found", "no such resource: " + x->req.path);
  const method_spec* spec = nullptr;
  std::string allow;
  for (auto& [m, s] : r->methods) {
    if (m == x->req.method)
      spec = &s;
    allow += (allow.empty() ? "" : ", ") + m;
  }
  if (!spec) {
    auto resp = error_response(x->req.id, 405, "method_not_allowed",
                               x->req.method + " is not allowed here (allowed: " + allow + ")");
    resp.headers.emplace_back("Allow", allow);
    return respond(self, std::move(resp));
  }
  bool is_login = spec->run == login;
  if (spec->run == metrics_route) {
    if (!api_detail::loopback(x->req.peer_ip)) {
      if (!authenticate(self, x))
        return;
      if (x->who.role != admin_role::system)
        return fail(self, x, 403, "forbidden", "forbidden: the metrics are the system administrator's");
    }
  } else if (!is_login && !authenticate(self, x)) {
    return;
  }
  auto& ctype = x->req.content_type;
  switch (spec->body) {
    case body_kind::none:
      if (!x->req.body.empty())
        return fail(self, x, 415, "unsupported", "this request takes no body");
      break;
    case body_kind::json_or_csv:
      if (ctype == "text/csv") {
        x->csv = true;
        break;
      }
      [[fallthrough]];
    case body_kind::json: {
      if (ctype != "application/json")
        return fail(self, x, 415, "unsupported",
                    "the body must be application/json"
                      + std::string(spec->body == body_kind::json_or_csv ? " or text/csv" : "")
                      + (ctype.empty() ? std::string{} : ", not " + ctype));
      if (admin_json::too_deep(x->req.body, max_depth))
        return invalid(self, x, "malformed JSON: nested too deeply");
      bool ok = false;
      x->body = admin_json::parse(x->req.body, ok);
      if (!ok)
        return invalid(self, x, "malformed JSON");
      break;
    }
  }
  if (auto d = x->param.find("domain"); d != x->param.end()) {
    auto raw = d->second;
    d->second = normalize_domain(raw);
    if (d->second.empty())
      return invalid(self, x, "'" + raw + "' is not a domain name", "domain");
  }
  spec->run(self, x);
}

} // namespace

caf::behavior api_actor(caf::stateful_actor<api_state>* self, node_context* ctx) {
  self->state.ctx = ctx;
  return {
    [=](http_request& req) { handle(self, req); },
    [=](login_due_atom, std::uint64_t id) {
      auto& delayed = self->state.delayed;
      auto i = delayed.find(id);
      if (i == delayed.end())
        return;
      auto r = std::move(i->second);
      delayed.erase(i);
      respond(self, std::move(r));
    },
  };
}

} // namespace pbx
