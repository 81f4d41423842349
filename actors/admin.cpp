#include "actors/admin.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <unordered_set>

#include "actors/admin_schema.hpp"
#include "actors/extension_fields.hpp"
#include "actors/messages/call.hpp"
#include "actors/password_hasher.hpp"
#include "actors/shell_syntax.hpp"
#include "engine/directory.hpp"
#include "engine/log.hpp"
#include "engine/metrics.hpp"
#include "engine/router.hpp"
#include "storage/store.hpp"

namespace pbx {

namespace admin_access {

namespace {

const std::string denied = "forbidden: ";

bool is_user(const admin_principal& w) { return w.role == admin_role::user; }
bool is_system(const admin_principal& w) { return w.role == admin_role::system; }

// A tenant admin or a user stays inside its own tenant.
std::string own_tenant(const admin_principal& who, const std::string& domain) {
  if (is_system(who) || normalize_domain(domain) == who.domain)
    return {};
  return denied + "tenant " + domain + " is not yours";
}

std::string own_extension(const admin_principal& who, const std::string& domain,
                          const std::string& number) {
  if (auto e = own_tenant(who, domain); !e.empty())
    return e;
  if (is_user(who) && number != who.number)
    return denied + "extension " + number + " is not yours";
  return {};
}

std::string admins_only(const admin_principal& who, const std::string& domain) {
  if (is_user(who))
    return denied + "an administrator's operation";
  return own_tenant(who, domain);
}

std::string system_only(const admin_principal& who) {
  return is_system(who) ? std::string{} : denied + "the system administrator's operation";
}

} // namespace

std::string check(const admin_principal& who, tenant_query& req) {
  if (req.domain.empty())
    return is_user(who) ? denied + "an administrator's operation" : std::string{};
  return admins_only(who, req.domain);
}

std::string check(const admin_principal& who, const tenant_add&) { return system_only(who); }

std::string check(const admin_principal& who, const tenant_set& req) {
  return admins_only(who, req.domain);
}

std::string check(const admin_principal& who, const tenant_del&) { return system_only(who); }

std::string check(const admin_principal& who, const extension_cmd& req) {
  if (!is_user(who))
    return own_tenant(who, req.domain);
  if (req.op != extension_op::set)
    return denied + "an administrator's operation";
  if (auto e = own_extension(who, req.domain, req.number); !e.empty())
    return e;
  // A user changes their voicemail settings and web password only.
  static const std::unordered_set<std::string> mine = {
    "voicemail_pin", "pin_auth", "time_readout", "mwi_unsolicited", "password"};
  for (auto& kv : req.fields)
    if (mine.count(kv.first) == 0)
      return denied + "field " + kv.first + " is the administrator's";
  return {};
}

std::string check(const admin_principal& who, const extension_import& req) {
  return admins_only(who, req.domain);
}

std::string check(const admin_principal& who, const extension_query& req) {
  if (is_user(who) && req.number.empty())
    return denied + "an administrator's operation";
  return own_extension(who, req.domain, req.number);
}

std::string check(const admin_principal& who, const rules_cmd& req) {
  if (!is_user(who))
    return own_tenant(who, req.domain);
  // A user: their own status, forwarding, hours and exceptions.
  if (req.number.empty() || req.verb == "explain" || req.verb == "fac"
      || req.verb == "holiday")
    return denied + "an administrator's operation";
  return own_extension(who, req.domain, req.number);
}

// Trunks and routing rules: the tenant's administrators only.
std::string check(const admin_principal& who, const trunk_cmd& req) {
  return admins_only(who, req.domain);
}

std::string check(const admin_principal& who, const inbound_cmd& req) {
  return admins_only(who, req.domain);
}

std::string check(const admin_principal& who, const outbound_cmd& req) {
  return admins_only(who, req.domain);
}

std::string check(const admin_principal& who, const voicemail_cmd& req) {
  if (is_user(who) && req.verb != "list" && req.verb != "del")
    return denied + "an administrator's operation";
  return own_extension(who, req.domain, req.number);
}

std::string check(const admin_principal& who, const registrations_query& req) {
  return admins_only(who, req.domain);
}

std::string check(const admin_principal& who, cdr_query& req) {
  if (auto e = own_tenant(who, req.domain); !e.empty())
    return e;
  if (is_user(who)) {
    if (!req.extension.empty() && req.extension != who.number)
      return denied + "the calls of extension " + req.extension + " are not yours";
    req.extension = who.number;
  }
  return {};
}

std::string check(const admin_principal& who, calls_query& req) {
  if (is_user(who))
    return denied + "an administrator's operation";
  // The node's calls are the system's; a tenant admin asks for its tenant's.
  if (!is_system(who) && req.domain.empty())
    return denied + "the system administrator's operation (ask for your tenant's calls)";
  if (!is_system(who) && normalize_domain(req.domain) != who.domain)
    return denied + "tenant " + req.domain + " is not yours";
  return {};
}

std::string check(const admin_principal& who, hangup_cmd& req) {
  if (is_user(who))
    return denied + "an administrator's operation";
  if (!is_system(who)) {
    if (!req.domain.empty() && normalize_domain(req.domain) != who.domain)
      return denied + "tenant " + req.domain + " is not yours";
    req.domain = who.domain;
  }
  return {};
}

std::string check(const admin_principal& who, const stats_query&) { return system_only(who); }
std::string check(const admin_principal& who, const cluster_status_query&) { return system_only(who); }

std::string check(const admin_principal& who, const admin_password_set&) {
  return system_only(who);
}

std::string check(const admin_principal& who, audit_query& req) {
  if (is_user(who))
    return denied + "an administrator's operation";
  if (!is_system(who)) {
    if (!req.domain.empty() && normalize_domain(req.domain) != who.domain)
      return denied + "tenant " + req.domain + " is not yours";
    req.domain = who.domain;
  }
  return {};
}

std::string check(const admin_principal& who, token_revoke& req) {
  if (is_user(who))
    return denied + "an administrator's operation";
  auto at = req.user.find('@');
  if (at != std::string::npos) {
    auto domain = normalize_domain(req.user.substr(at + 1));
    if (!domain.empty())
      req.user = req.user.substr(0, at) + "@" + domain;
  }
  if (is_system(who))
    return {};
  if (at == std::string::npos || req.user.substr(at + 1) != who.domain)
    return denied + "the logins of " + req.user + " are not yours";
  return {};
}

std::string check(const admin_principal& who, const trunk_status_query& req) {
  return admins_only(who, req.domain);
}

} // namespace admin_access

namespace {

using self_ptr = caf::stateful_actor<admin_state>*;

constexpr auto answer_timeout = std::chrono::seconds(30);
constexpr std::size_t max_listed = 100;   // import errors listed one by one
constexpr std::size_t import_batch = 500; // rows per commit: other work gets through between
constexpr std::size_t max_record = 64 * 1024;

admin_reply internal(self_ptr self, const caf::error& err) {
  return admin_fail(admin_errc::internal, "internal: " + self->system().render(err));
}

// ---- the audit log -----------------------------------------------------------

bool secret(const std::string& key) {
  return key == "password" || key == "extension_password" || key == "voicemail_pin";
}

std::string with_fields(std::string what, const field_list& fields) {
  for (auto& [k, v] : fields)
    what += " " + shell::format_record({{k, secret(k) ? "***" : v}});
  return what;
}

std::string describe(const tenant_add& r) { return with_fields("tenant add " + r.domain, r.fields); }
std::string describe(const tenant_set& r) { return with_fields("tenant set " + r.domain, r.fields); }
std::string describe(const tenant_del& r) { return "tenant del " + r.domain; }

std::string describe(const extension_cmd& r) {
  static const char* ops[] = {"add", "set", "del", "copy", "import"};
  auto what = std::string("extension ") + ops[static_cast<int>(r.op)] + " " + r.domain + " "
              + r.number;
  if (r.op == extension_op::copy)
    what += " " + r.target;
  return with_fields(std::move(what), r.fields);
}

std::string describe(const rules_cmd& r) {
  std::string what = r.verb + (r.sub.empty() ? "" : " " + r.sub) + " " + r.domain;
  if (!r.number.empty())
    what += " " + r.number;
  for (auto& a : r.args)
    what += " " + a;
  return with_fields(std::move(what), r.fields);
}

template <class Cmd>
std::string describe_named(const char* noun, const Cmd& r) {
  return with_fields(std::string(noun) + " " + r.verb + " " + r.domain + " " + r.name, r.fields);
}

std::string describe(const trunk_cmd& r) { return describe_named("trunk", r); }
std::string describe(const inbound_cmd& r) { return describe_named("inbound", r); }
std::string describe(const outbound_cmd& r) { return describe_named("outbound", r); }

template <class Cmd>
bool changes_named(const Cmd& r) {
  return r.verb != "show" && r.verb != "list";
}

bool changes(const trunk_cmd& r) { return changes_named(r); }
bool changes(const inbound_cmd& r) { return changes_named(r); }
bool changes(const outbound_cmd& r) { return changes_named(r); }

std::string describe(const voicemail_cmd& r) {
  return "voicemail " + r.verb + " " + r.domain + " " + r.number
         + (r.arg.empty() ? "" : " " + r.arg);
}

std::string describe(const hangup_cmd& r) { return "hangup " + r.call_id; }
std::string describe(const admin_password_set&) { return "admin password ***"; }

bool changes(const rules_cmd& r) {
  return r.verb != "explain" && r.sub != "show" && r.sub != "list";
}

bool changes(const voicemail_cmd& r) { return r.verb != "list" && r.verb != "play"; }

// Writes the audit entry, then runs `then` (which answers): a change
// acknowledged is a change audited. A failed audit write is logged; the
// change itself is committed already.
void audit(self_ptr self, const admin_principal& who, const std::string& domain,
           std::string what, std::function<void()> stored = nullptr) {
  auto& st = self->state;
  storage::audit_record rec;
  rec.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  rec.seq = ++st.audit_seq;
  rec.who = principal_name(who);
  rec.via = who.via;
  rec.domain = normalize_domain(domain);
  rec.what = std::move(what);
  storage::batch b;
  b.put(rec);
  st.writes.submit(self, *st.ctx->store, std::move(b), [stored](const std::string& err) {
    if (!err.empty())
      log::error("admin: the audit log could not be written: ", err);
    if (stored)
      stored();
  });
}

// Sends `req` to `to`; answers the caller, and audits when it changed something.
template <class Request>
caf::result<admin_reply> forward(self_ptr self, const caf::actor& to, const admin_principal& who,
                                 Request req, std::string audit_domain, std::string what) {
  auto rp = self->make_response_promise<admin_reply>();
  self->request(to, answer_timeout, std::move(req))
    .then(
      [=](admin_reply& r) mutable {
        // Answered once the audit entry is stored: a reader of the log sees it.
        if (r.ok && !what.empty())
          return audit(self, who, audit_domain, what,
                       [rp, r = std::move(r)]() mutable { rp.deliver(std::move(r)); });
        rp.deliver(std::move(r));
      },
      [=](const caf::error& err) mutable { rp.deliver(internal(self, err)); });
  return rp;
}

// ---- extension import ----------------------------------------------------------

struct import_job {
  std::string domain;
  std::vector<field_list> rows;
  std::vector<std::size_t> lines;
  std::vector<std::string> errors;
  std::size_t bad = 0;
  std::size_t next = 0;
};

void import_error(import_job& job, std::size_t line, const std::string& why) {
  if (job.errors.size() < max_listed)
    job.errors.push_back("line " + std::to_string(line) + ": " + why);
  ++job.bad;
}

// CSV text to rows; a CSV error is a bad line like any other. False when
// no header line came.
bool split_csv_rows(const std::string& csv, import_job& job) {
  std::vector<std::string> header;
  std::size_t line = 0, pos = 0;
  while (pos <= csv.size()) {
    // One record: lines until the quotes balance (RFC 4180 line breaks).
    auto first = line + 1;
    std::string record;
    bool complete = false;
    while (pos <= csv.size()) {
      auto nl = csv.find('\n', pos);
      auto part = csv.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      if (!part.empty() && part.back() == '\r')
        part.pop_back();
      pos = nl == std::string::npos ? csv.size() + 1 : nl + 1;
      ++line;
      record += (record.empty() && line == first ? "" : "\n") + part;
      if (std::count(record.begin(), record.end(), '"') % 2 == 0) {
        complete = true;
        break;
      }
      if (record.size() >= max_record) // the shell stops waiting for the quote here too
        break;
    }
    if (!complete) {
      import_error(job, first, "unterminated quote");
      continue;
    }
    if (record.find_first_not_of(" \t\r\n") == std::string::npos)
      continue;
    auto cells = shell::split_csv(record);
    if (!cells) {
      import_error(job, first, "unterminated quote");
      continue;
    }
    if (header.empty()) {
      header = *cells;
      if (std::find(header.begin(), header.end(), "extension_number") == header.end())
        import_error(job, first, "the header names no extension_number");
      continue;
    }
    if (cells->size() != header.size()) {
      import_error(job, first, "expected " + std::to_string(header.size()) + " fields, got "
                                 + std::to_string(cells->size()));
      continue;
    }
    field_list row;
    for (std::size_t i = 0; i < cells->size(); ++i)
      if (!(*cells)[i].empty())
        row.emplace_back(header[i], (*cells)[i]);
    job.rows.push_back(std::move(row));
    job.lines.push_back(first);
  }
  return !header.empty();
}

// Every row checked before anything is written.
void check_rows(self_ptr self, import_job& job, bool allow_weak) {
  auto& store = *self->state.ctx->store;
  std::unordered_set<std::string> numbers;
  std::vector<field_list> good;
  std::vector<std::size_t> good_lines;
  for (std::size_t i = 0; i < job.rows.size(); ++i) {
    auto& row = job.rows[i];
    auto line = job.lines[i];
    std::string number;
    for (auto& [k, v] : row)
      if (k == "extension_number")
        number = v;
    if (!valid_extension_number(number)) {
      import_error(job, line, "extension_number must be 3-64 digits");
      continue;
    }
    if (!numbers.insert(number).second || store.extension(job.domain, number)) {
      import_error(job, line, "extension " + number + " exists");
      continue;
    }
    if (auto e = check_password_fields(row); !e.empty()) {
      import_error(job, line, e);
      continue;
    }
    storage::extension_record scratch;
    scratch.domain = job.domain;
    scratch.number = number;
    if (auto e = apply_extension_fields(scratch, row, true, allow_weak); !e.empty()) {
      import_error(job, line, e);
      continue;
    }
  }
}

void import_commit(self_ptr self, std::shared_ptr<import_job> job, admin_principal who,
                   caf::typed_response_promise<admin_reply> rp) {
  if (job->next >= job->rows.size()) {
    auto n = job->rows.size();
    audit(self, who, job->domain,
          "extension import " + job->domain + " imported=" + std::to_string(n),
          [rp, n]() mutable { rp.deliver(admin_records({{{"imported", std::to_string(n)}}})); });
    return;
  }
  extension_cmd cmd;
  cmd.op = extension_op::import;
  cmd.domain = job->domain;
  bool hash = false;
  for (auto end = std::min(job->rows.size(), job->next + import_batch); job->next < end;
       ++job->next) {
    hash |= has_password_field(job->rows[job->next]);
    cmd.rows.push_back(std::move(job->rows[job->next]));
    cmd.row_lines.push_back(job->lines[job->next]);
  }
  auto first = cmd.row_lines.front();
  auto failed = [=](admin_reply r) mutable {
    if (first > 1)
      r.error += "; the rows before line " + std::to_string(first) + " were imported";
    rp.deliver(std::move(r));
  };
  auto send = [=](extension_cmd cmd) mutable {
    self->request(self->state.ctx->router, answer_timeout, std::move(cmd))
      .then(
        [=](admin_reply& r) mutable {
          if (!r.ok)
            return failed(std::move(r));
          import_commit(self, job, who, rp);
        },
        [=](const caf::error& err) mutable { failed(internal(self, err)); });
  };
  if (!hash)
    return send(std::move(cmd));
  self->request(self->state.ctx->hasher, answer_timeout, hash_rows_atom::value, std::move(cmd.rows))
    .then(
      [=](std::vector<field_list>& rows) mutable {
        cmd.rows = std::move(rows);
        send(std::move(cmd));
      },
      [=](const caf::error& err) mutable { failed(internal(self, err)); });
}

caf::result<admin_reply> import(self_ptr self, const admin_principal& who, extension_import& req) {
  auto domain = normalize_domain(req.domain);
  auto tenant = self->state.ctx->store->tenant(domain);
  if (!tenant)
    return admin_not_found("no tenant " + req.domain);
  auto job = std::make_shared<import_job>();
  job->domain = domain;
  bool header = true;
  if (!req.csv.empty()) {
    header = split_csv_rows(req.csv, *job);
  } else {
    job->rows = std::move(req.rows);
    job->lines = std::move(req.row_lines);
    job->lines.resize(job->rows.size(), 0);
  }
  auto csv_errors = std::move(job->errors);
  auto csv_bad = job->bad;
  job->errors.clear();
  job->bad = 0;
  check_rows(self, *job, tenant->allow_weak_passwords);
  if (csv_bad > 0 || job->bad > 0) {
    // Both lists are in line order; merged, every bad line is in file order.
    std::vector<std::string> all;
    auto line_of = [](const std::string& e) { return std::stoul(e.substr(5)); };
    std::merge(csv_errors.begin(), csv_errors.end(), job->errors.begin(), job->errors.end(),
               std::back_inserter(all), [&](const std::string& a, const std::string& b) {
                 bool la = a.rfind("line ", 0) == 0, lb = b.rfind("line ", 0) == 0;
                 return la && lb ? line_of(a) < line_of(b) : la;
               });
    auto bad = csv_bad + job->bad;
    if (all.size() > max_listed)
      all.resize(max_listed);
    auto r = admin_invalid(all.front()
                           + (bad > 1 ? " (" + std::to_string(bad) + " bad lines, listed above)"
                                      : std::string{})
                           + "; nothing imported",
                           "");
    r.field.clear();
    r.notes = std::move(all);
    if (bad > max_listed)
      r.notes.push_back("... and " + std::to_string(bad - max_listed) + " more");
    return r;
  }
  if (!header)
    return admin_invalid("no CSV header line");
  if (job->rows.empty())
    return admin_invalid("no extension to import");
  auto rp = self->make_response_promise<admin_reply>();
  import_commit(self, job, who, rp);
  return rp;
}

// ---- node-wide operations --------------------------------------------------------

// Asks every live call for its state; answers when all did (or timed out).
caf::result<admin_reply> calls(self_ptr self, const calls_query& q) {
  auto domain = normalize_domain(q.domain);
  if (!q.domain.empty() && domain.empty())
    return admin_invalid("'" + q.domain + "' is not a domain name", "domain");
  auto list = self->state.ctx->dir->list("c/");
  if (list.empty())
    return admin_reply{};
  struct gather {
    std::size_t left;
    admin_reply r;
    caf::typed_response_promise<admin_reply> rp;
  };
  auto g = std::make_shared<gather>(
    gather{list.size(), {}, self->make_response_promise<admin_reply>()});
  auto one_done = [=] {
    if (--g->left == 0)
      g->rp.deliver(g->r);
  };
  for (auto& c : list)
    self->request(c, std::chrono::seconds(2), call_info_atom::value)
      .then(
        [=](const std::vector<std::string>& i) {
          if (i.size() == 7 && (domain.empty() || i[1] == domain))
            g->r.records.push_back(field_list{{"call_id", i[0]}, {"domain", i[1]},
                                              {"caller", i[2]}, {"callee", i[3]},
                                              {"state", i[4]}, {"seconds", i[5]},
                                              {"legs", i[6]}});
          one_done();
        },
        [=](caf::error&) { one_done(); }); // ended meanwhile
  return g->rp;
}

caf::result<admin_reply> hangup(self_ptr self, const admin_principal& who, const hangup_cmd& h) {
  auto call = self->state.ctx->dir->lookup(call_key(h.call_id));
  if (!call)
    return admin_not_found("no call " + h.call_id);
  auto rp = self->make_response_promise<admin_reply>();
  auto end_it = [=]() mutable {
    self->send(call, hangup_atom::value);
    audit(self, who, h.domain, describe(h), [rp]() mutable { rp.deliver(admin_reply{}); });
  };
  if (h.domain.empty()) {
    end_it();
    return rp;
  }
  // A tenant's hangup: the call must be the tenant's.
  self->request(call, std::chrono::seconds(2), call_info_atom::value)
    .then(
      [=](const std::vector<std::string>& i) mutable {
        if (i.size() == 7 && i[1] == normalize_domain(h.domain))
          return end_it();
        rp.deliver(admin_not_found("no call " + h.call_id));
      },
      [=](caf::error&) mutable { rp.deliver(admin_not_found("no call " + h.call_id)); });
  return rp;
}

// Live actors against provisioned records: passivation at work.
admin_reply stats(self_ptr self) {
  auto& ctx = *self->state.ctx;
  return admin_records({field_list{
    {"tenants", std::to_string(ctx.store->tenant_count())},
    {"extensions", std::to_string(ctx.store->extension_total())},
    {"registrations", std::to_string(metrics::registrations())},
    {"live_tenant_actors", std::to_string(ctx.dir->count("t/"))},
    {"live_extension_actors", std::to_string(ctx.dir->count("e/"))},
    {"actors", std::to_string(self->system().registry().running())},
  }});
}

admin_reply audit_log(self_ptr self, const audit_query& q) {
  auto domain = normalize_domain(q.domain);
  if (!q.domain.empty() && domain.empty())
    return admin_invalid("'" + q.domain + "' is not a domain name", "domain");
  admin_reply r;
  for (auto& a : self->state.ctx->store->audit(domain, q.limit))
    r.records.push_back(field_list{{"time", admin_schema::iso_time_ms(a.time_ms)}, {"who", a.who}, {"via", a.via},
                                   {"domain", a.domain}, {"what", a.what}});
  return r;
}

caf::result<admin_reply> admin_password(self_ptr self, const admin_principal& who,
                                        const admin_password_set& p) {
  if (p.password.size() < 8 || p.password.size() > 128)
    return admin_invalid("the admin password must be 8-128 characters", "password");
  auto rp = self->make_response_promise<admin_reply>();
  self->request(self->state.ctx->hasher, answer_timeout, hash_atom::value, p.password)
    .then(
      [=](const std::string& hash) mutable {
        storage::batch b;
        b.put_meta("admin_password_hash", hash);
        self->state.writes.submit(self, *self->state.ctx->store, std::move(b),
                                  [=](const std::string& err) mutable {
                                    if (!err.empty()) {
                                      rp.deliver(admin_fail(admin_errc::internal,
                                                            "storage: " + err));
                                      return;
                                    }
                                    log::info("admin: the admin password was changed by ",
                                              who.via);
                                    audit(self, who, "", describe(p),
                                          [rp]() mutable { rp.deliver(admin_reply{}); });
                                  });
      },
      [=](const caf::error& err) mutable { rp.deliver(internal(self, err)); });
  return rp;
}

// Extension changes with a web password: its KDF runs on the hasher's thread.
caf::result<admin_reply> extension_change(self_ptr self, const admin_principal& who,
                                          extension_cmd cmd) {
  auto what = describe(cmd);
  auto domain = cmd.domain;
  if (auto e = check_password_fields(cmd.fields); !e.empty())
    return admin_invalid(e);
  if (!has_password_field(cmd.fields))
    return forward(self, self->state.ctx->router, who, std::move(cmd), domain, what);
  auto rp = self->make_response_promise<admin_reply>();
  std::vector<field_list> rows{std::move(cmd.fields)};
  self->request(self->state.ctx->hasher, answer_timeout, hash_rows_atom::value, std::move(rows))
    .then(
      [=](std::vector<field_list>& hashed) mutable {
        cmd.fields = std::move(hashed.front());
        self->request(self->state.ctx->router, answer_timeout, std::move(cmd))
          .then(
            [=](admin_reply& r) mutable {
              if (r.ok)
                return audit(self, who, domain, what,
                             [rp, r = std::move(r)]() mutable { rp.deliver(std::move(r)); });
              rp.deliver(std::move(r));
            },
            [=](const caf::error& err) mutable { rp.deliver(internal(self, err)); });
      },
      [=](const caf::error& err) mutable { rp.deliver(internal(self, err)); });
  return rp;
}

admin_reply forbidden(std::string reason) {
  return admin_fail(admin_errc::forbidden, std::move(reason));
}

bool changes(const tenant_add&) { return true; }
bool changes(const tenant_set&) { return true; }

// A request the router hands on to the owner of the data; a change is
// audited under its tenant.
template <class Request>
caf::result<admin_reply> to_owner(self_ptr self, const admin_principal& who, Request req) {
  if (auto e = admin_access::check(who, req); !e.empty())
    return forbidden(e);
  auto what = changes(req) ? describe(req) : std::string{};
  auto domain = req.domain;
  return forward(self, self->state.ctx->router, who, std::move(req), domain, what);
}

// A read the owner of the data answers.
template <class Query>
caf::result<admin_reply> read_owner(self_ptr self, const admin_principal& who, Query q) {
  if (auto e = admin_access::check(who, q); !e.empty())
    return forbidden(e);
  return forward(self, self->state.ctx->router, who, std::move(q), {}, {});
}

// Tenant list for a tenant admin: only its own.
caf::result<admin_reply> tenants(self_ptr self, const admin_principal& who, tenant_query q) {
  if (who.role == admin_role::system || !q.domain.empty())
    return forward(self, self->state.ctx->router, who, std::move(q), {}, {});
  return forward(self, self->state.ctx->router, who, tenant_query{who.domain}, {}, {});
}

caf::result<login_result> login(self_ptr self, const login_check& l) {
  auto rp = self->make_response_promise<login_result>();
  auto verify = [=](std::string stored, admin_principal who) mutable {
    if (stored.empty()) {
      rp.deliver(login_result{false, {}, "wrong password"});
      return;
    }
    self->request(self->state.ctx->hasher, answer_timeout, verify_atom::value, l.password,
                  std::move(stored))
      .then(
        [=](bool good) mutable {
          rp.deliver(good ? login_result{true, who, {}}
                          : login_result{false, {}, "wrong password"});
        },
        [=](const caf::error& err) mutable {
          rp.deliver(login_result{false, {}, "internal: " + self->system().render(err)});
        });
  };
  if (l.user == "admin") {
    verify(self->state.ctx->store->meta("admin_password_hash").value_or(""), admin_principal{});
    return rp;
  }
  auto at = l.user.find('@');
  auto domain = at == std::string::npos ? std::string{} : normalize_domain(l.user.substr(at + 1));
  auto number = at == std::string::npos ? std::string{} : l.user.substr(0, at);
  if (domain.empty() || !valid_extension_number(number)) {
    rp.deliver(login_result{false, {}, "unknown user"});
    return rp;
  }
  self->request(self->state.ctx->router, answer_timeout, web_login_query{domain, number})
    .then(
      [=](const web_credentials& c) mutable {
        if (!c.found) {
          rp.deliver(login_result{false, {}, "unknown user"});
          return;
        }
        if (!c.enabled) {
          rp.deliver(login_result{false, {}, "extension disabled"});
          return;
        }
        if (c.password_hash.empty()) {
          rp.deliver(login_result{false, {}, "no web password set"});
          return;
        }
        admin_principal who;
        who.role = c.role == "admin" ? admin_role::tenant_admin : admin_role::user;
        who.domain = domain;
        who.number = number;
        verify(c.password_hash, who);
      },
      [=](const caf::error&) mutable {
        rp.deliver(login_result{false, {}, "unknown user"});
      });
  return rp;
}

} // namespace

caf::behavior admin_actor(caf::stateful_actor<admin_state>* self, node_context* ctx) {
  self->state.ctx = ctx;
  auto router = [=] { return self->state.ctx->router; };
  return {
    [=](const admin_principal& who, tenant_query& q) -> caf::result<admin_reply> {
      if (auto e = admin_access::check(who, q); !e.empty())
        return forbidden(e);
      return tenants(self, who, std::move(q));
    },
    [=](const admin_principal& who, tenant_add& c) { return to_owner(self, who, std::move(c)); },
    [=](const admin_principal& who, tenant_set& c) { return to_owner(self, who, std::move(c)); },
    [=](const admin_principal& who, tenant_del& c) -> caf::result<admin_reply> {
      if (auto e = admin_access::check(who, c); !e.empty())
        return forbidden(e);
      auto what = describe(c);
      // Audited system-wide; the tenant's own history stays in the log.
      return forward(self, router(), who, std::move(c), {}, what);
    },
    [=](const admin_principal& who, extension_cmd& c) -> caf::result<admin_reply> {
      if (c.op == extension_op::import)
        return admin_invalid("use extension_import");
      if (auto e = admin_access::check(who, c); !e.empty())
        return forbidden(e);
      return extension_change(self, who, std::move(c));
    },
    [=](const admin_principal& who, extension_import& c) -> caf::result<admin_reply> {
      if (auto e = admin_access::check(who, c); !e.empty())
        return forbidden(e);
      return import(self, who, c);
    },
    [=](const admin_principal& who, extension_query& q) { return read_owner(self, who, std::move(q)); },
    [=](const admin_principal& who, rules_cmd& c) { return to_owner(self, who, std::move(c)); },
    [=](const admin_principal& who, voicemail_cmd& c) { return to_owner(self, who, std::move(c)); },
    [=](const admin_principal& who, trunk_cmd& c) { return to_owner(self, who, std::move(c)); },
    [=](const admin_principal& who, inbound_cmd& c) { return to_owner(self, who, std::move(c)); },
    [=](const admin_principal& who, outbound_cmd& c) { return to_owner(self, who, std::move(c)); },
    [=](const admin_principal& who, registrations_query& q) { return read_owner(self, who, std::move(q)); },
    [=](const admin_principal& who, cdr_query& q) { return read_owner(self, who, std::move(q)); },
    [=](const admin_principal& who, trunk_status_query& q) {
      return read_owner(self, who, std::move(q));
    },
    [=](const admin_principal& who, calls_query& q) -> caf::result<admin_reply> {
      if (auto e = admin_access::check(who, q); !e.empty())
        return forbidden(e);
      return calls(self, q);
    },
    [=](const admin_principal& who, hangup_cmd& h) -> caf::result<admin_reply> {
      if (auto e = admin_access::check(who, h); !e.empty())
        return forbidden(e);
      return hangup(self, who, h);
    },
    [=](const admin_principal& who, const stats_query& q) -> caf::result<admin_reply> {
      if (auto e = admin_access::check(who, q); !e.empty())
        return forbidden(e);
      return stats(self);
    },
    [=](const admin_principal& who, const cluster_status_query& q) -> caf::result<admin_reply> {
      if (auto e = admin_access::check(who, q); !e.empty())
        return forbidden(e);
      auto& ctx = *self->state.ctx;
      if (!ctx.membership) {
        admin_reply r;
        r.notes.push_back("cluster: off (single node)");
        return r;
      }
      auto rp = self->make_response_promise<admin_reply>();
      self->request(ctx.membership, answer_timeout, q)
        .then([=](admin_reply& r) mutable { rp.deliver(std::move(r)); },
              [=](caf::error& e) mutable {
                rp.deliver(admin_fail(admin_errc::internal, "cluster: no answer from membership: "
                                       + self->system().render(e)));
              });
      return rp;
    },
    [=](const admin_principal& who, const admin_password_set& p) -> caf::result<admin_reply> {
      if (auto e = admin_access::check(who, p); !e.empty())
        return forbidden(e);
      return admin_password(self, who, p);
    },
    [=](const admin_principal& who, audit_query& q) -> caf::result<admin_reply> {
      if (auto e = admin_access::check(who, q); !e.empty())
        return forbidden(e);
      return audit_log(self, q);
    },
    [=](const admin_principal& who, token_revoke& t) -> caf::result<admin_reply> {
      if (t.user.empty())
        return admin_invalid("user is required", "user");
      if (auto e = admin_access::check(who, t); !e.empty())
        return forbidden(e);
      // Answered once the entry is stored: the API revokes, then it is listed.
      auto rp = self->make_response_promise<admin_reply>();
      auto at = t.user.find('@');
      audit(self, who, at == std::string::npos ? std::string{} : t.user.substr(at + 1),
            "tokens revoke " + t.user,
            [rp, user = t.user]() mutable { rp.deliver(admin_records({field_list{{"user", user}}})); });
      return rp;
    },
    [=](const login_check& l) -> caf::result<login_result> { return login(self, l); },
    [=](const write_done& w) { self->state.writes.done(w); },
  };
}

} // namespace pbx
