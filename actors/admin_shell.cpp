#include "actors/admin_shell.hpp"

#include <caf/all.hpp>

#include "actors/extension_fields.hpp"
#include "actors/messages/call.hpp"
#include "actors/messages/directory.hpp"
#include "actors/messages/security.hpp"
#include "actors/password_hasher.hpp"
#include "actors/rule_commands.hpp"
#include "actors/shell_syntax.hpp"
#include "engine/directory.hpp"
#include "engine/log.hpp"
#include "engine/router.hpp"
#include "engine/sip_port.hpp"
#include "storage/store.hpp"

namespace pbx {

namespace {

using self_ptr = caf::stateful_actor<admin_shell_state>*;
using words_t = std::vector<std::string>;

constexpr auto answer_timeout = std::chrono::seconds(30);
constexpr std::size_t max_err = 300;       // an ERR line never echoes more of the input
constexpr std::size_t max_listed = 100;    // import errors listed one by one
constexpr std::size_t import_batch = 500;  // rows per commit: other work gets through between
constexpr std::size_t max_record = 64 * 1024;
constexpr auto login_timeout = std::chrono::seconds(120);

using resume_atom = caf::atom_constant<caf::atom("resume")>;
using login_due_atom = caf::atom_constant<caf::atom("logindue")>;

void process_next(self_ptr self);

// Output to the connection; it also hands back the lines done so far (flow control).
void send_out(self_ptr self, std::string text, bool close = false) {
  auto& st = self->state;
  shell_output o;
  o.conn = st.conn;
  o.text = std::move(text);
  o.close = close;
  o.consumed = st.unacked;
  st.unacked = 0;
  st.ctx->sip->shell_write(std::move(o));
}

void write(self_ptr self, const shell_result& r, bool close = false) {
  std::string out;
  for (auto& line : r.lines)
    out.append(line).append("\n");
  if (r.ok) {
    out.append("OK\n");
  } else {
    // A 60 KB bad value is not echoed back whole.
    auto err = r.error.size() <= max_err
                 ? r.error
                 : r.error.substr(0, max_err) + "... (" + std::to_string(r.error.size())
                     + " bytes)";
    for (auto& c : err)
      if (c == '\n' || c == '\r')
        c = ' ';
    out.append("ERR ").append(err).append("\n");
  }
  send_out(self, std::move(out), close);
}

void finish(self_ptr self, const shell_result& r) {
  write(self, r);
  self->state.busy = false;
  process_next(self);
}

// Sends `msg` to the router and answers the connection when it replies.
template <class Message>
void ask_router(self_ptr self, Message msg) {
  self->state.busy = true;
  self->request(self->state.ctx->router, answer_timeout, std::move(msg))
    .then([=](const shell_result& r) { finish(self, r); },
          [=](const caf::error& err) {
            finish(self, shell_error("internal: " + self->system().render(err)));
          });
}

std::string domain_arg(const words_t& w, std::size_t i, std::string& err) {
  if (w.size() <= i) {
    err = "missing DOMAIN";
    return {};
  }
  auto d = normalize_domain(w[i]);
  if (d.empty())
    err = "'" + w[i] + "' is not a domain name";
  return d;
}

field_list tenant_fields(const storage::tenant_record& t, storage::store& st) {
  return {{"domain", t.domain},
          {"name", t.name},
          {"timezone", t.timezone},
          {"extensions", std::to_string(st.extension_count(t.domain))},
          {"allow_weak_passwords", t.allow_weak_passwords ? "true" : "false"},
          {"voicemail_number", t.voicemail_number},
          {"voicemail_max_seconds", std::to_string(t.voicemail_max_seconds)},
          {"voicemail_min_seconds", std::to_string(t.voicemail_min_seconds)},
          {"voicemail_silence_seconds", std::to_string(t.voicemail_silence_seconds)},
          {"voicemail_retain_days", std::to_string(t.voicemail_retain_days)}};
}

shell_result registrations(self_ptr self, const std::string& domain,
                           const std::string& number) {
  auto& store = *self->state.ctx->store;
  if (!store.tenant(domain))
    return shell_error("no tenant " + domain);
  if (!number.empty() && !store.extension(domain, number))
    return shell_error("no extension " + number);
  auto now = self->state.ctx->now();
  auto list = number.empty() ? store.bindings(domain) : store.bindings(domain, number);
  shell_result r;
  for (auto& b : list) {
    if (b.expires_at <= now)
      continue;
    r.lines.push_back(shell::format_record({
      {"extension", b.number},
      {"contact", b.contact},
      {"ip", b.received_ip},
      {"port", std::to_string(b.received_port)},
      {"transport", b.transport},
      {"user_agent", b.user_agent},
      {"expires_in", std::to_string(b.expires_at - now)},
    }));
  }
  return r;
}

// Live actors against provisioned records: passivation at work.
shell_result stats(self_ptr self) {
  auto& ctx = *self->state.ctx;
  std::size_t provisioned = 0, tenants = 0;
  for (auto& t : ctx.store->tenants()) {
    ++tenants;
    provisioned += ctx.store->extension_count(t.domain);
  }
  return shell_result{true, {}, {shell::format_record(field_list{
    {"tenants", std::to_string(tenants)},
    {"extensions", std::to_string(provisioned)},
    {"live_tenant_actors", std::to_string(ctx.dir->count("t/"))},
    {"live_extension_actors", std::to_string(ctx.dir->count("e/"))},
    {"actors", std::to_string(self->system().registry().running())},
  })}};
}

std::string iso_ms(std::int64_t ms) {
  if (ms == 0)
    return {};
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return std::string{buf} + "." + std::to_string(1000 + ms % 1000).substr(1) + "Z";
}

shell_result cdr_command(self_ptr self, const words_t& w) {
  std::string err;
  auto domain = domain_arg(w, 1, err);
  if (!err.empty())
    return shell_error(err);
  auto& store = *self->state.ctx->store;
  if (!store.tenant(domain))
    return shell_error("no tenant " + domain);
  field_list opts;
  if (auto e = shell::parse_fields(w, 2, opts); !e.empty())
    return shell_error(e);
  std::size_t limit = 20;
  std::string extension;
  for (auto& [k, v] : opts) {
    if (k == "limit") {
      if (v.empty() || v.size() > 6 || v.find_first_not_of("0123456789") != std::string::npos
          || std::stoul(v) == 0)
        return shell_error("limit must be 1-999999");
      limit = std::stoul(v);
    } else if (k == "extension") {
      extension = v;
    } else {
      return shell_error("unknown option '" + k + "'");
    }
  }
  shell_result r;
  for (auto& c : store.cdrs(domain, limit, extension)) {
    std::string devices;
    for (auto& d : c.devices)
      devices += (devices.empty() ? "" : ",") + d.contact + "=" + std::to_string(d.code);
    auto secs = [](std::int64_t from, std::int64_t to) {
      return from && to ? std::to_string((to - from + 500) / 1000) : std::string{"0"};
    };
    r.lines.push_back(shell::format_record(field_list{
      {"call_id", c.call_id},
      {"caller", c.caller},
      {"callee", c.callee},
      {"start", iso_ms(c.start_ms)},
      {"ring", iso_ms(c.ring_ms)},
      {"answer", iso_ms(c.answer_ms)},
      {"end", iso_ms(c.end_ms)},
      {"ring_seconds", secs(c.start_ms, c.answer_ms ? c.answer_ms : c.end_ms)},
      {"talk_seconds", secs(c.answer_ms, c.end_ms)},
      {"status", c.status},
      {"sip_code", std::to_string(c.sip_code)},
      {"end_reason", c.end_reason},
      {"devices", devices},
      {"reroute_reason", c.reroute_reason},
      {"answered_by", c.answered_by},
      {"voicemail_id", c.voicemail_id},
      {"forwarded", [&] {
         std::string f;
         for (auto& n : c.forwarded)
           f += (f.empty() ? "" : ",") + n;
         return f;
       }()},
    }));
  }
  return r;
}

// Asks every live call for its state; answers when all did (or timed out).
void calls_command(self_ptr self, const words_t& w) {
  std::string domain;
  if (w.size() > 2)
    return write(self, shell_error("usage: calls [DOMAIN]"));
  if (w.size() == 2) {
    std::string err;
    domain = domain_arg(w, 1, err);
    if (!err.empty())
      return write(self, shell_error(err));
  }
  auto calls = self->state.ctx->dir->list("c/");
  if (calls.empty())
    return write(self, shell_result{});
  struct gather {
    std::size_t left;
    shell_result r;
  };
  auto g = std::make_shared<gather>(gather{calls.size(), {}});
  self->state.busy = true;
  auto one_done = [=] {
    if (--g->left == 0)
      finish(self, g->r);
  };
  for (auto& c : calls)
    self->request(c, std::chrono::seconds(2), call_info_atom::value)
      .then(
        [=](const std::vector<std::string>& i) {
          if (i.size() == 7 && (domain.empty() || i[1] == domain))
            g->r.lines.push_back(shell::format_record(field_list{
              {"call_id", i[0]}, {"domain", i[1]}, {"caller", i[2]}, {"callee", i[3]},
              {"state", i[4]}, {"seconds", i[5]}, {"legs", i[6]}}));
          one_done();
        },
        [=](caf::error&) { one_done(); }); // ended meanwhile
}

void hangup_command(self_ptr self, const words_t& w) {
  if (w.size() != 2)
    return write(self, shell_error("usage: hangup CALL_ID"));
  auto call = self->state.ctx->dir->lookup(call_key(w[1]));
  if (!call)
    return write(self, shell_error("no call " + w[1]));
  self->send(call, hangup_atom::value);
  write(self, shell_result{});
}

void tenant_command(self_ptr self, const words_t& w) {
  auto& store = *self->state.ctx->store;
  auto sub = w.size() > 1 ? w[1] : "";
  std::string err;
  if (sub == "list") {
    shell_result r;
    for (auto& t : store.tenants())
      r.lines.push_back(shell::format_record(tenant_fields(t, store)));
    return write(self, r);
  }
  auto domain = domain_arg(w, 2, err);
  if (!err.empty())
    return write(self, shell_error(err));
  if (sub == "show") {
    auto t = store.tenant(domain);
    if (!t)
      return write(self, shell_error("no tenant " + domain));
    return write(self, shell_result{true, {}, {shell::format_record(tenant_fields(*t, store))}});
  }
  if (sub == "add" || sub == "set") {
    field_list fields;
    if (auto e = shell::parse_fields(w, 3, fields); !e.empty())
      return write(self, shell_error(e));
    if (sub == "set")
      return ask_router(self, tenant_set{domain, std::move(fields)});
    return ask_router(self, tenant_add{domain, std::move(fields)});
  }
  if (sub == "del") {
    if (w.size() != 3)
      return write(self, shell_error("usage: tenant del DOMAIN"));
    return ask_router(self, tenant_del{domain});
  }
  write(self, shell_error("usage: tenant add|set|list|show|del ..."));
}

void extension_command(self_ptr self, const words_t& w) {
  auto& st = self->state;
  auto& store = *st.ctx->store;
  auto sub = w.size() > 1 ? w[1] : "";
  std::string err;
  auto domain = domain_arg(w, 2, err);
  if (!err.empty())
    return write(self, shell_error(err));
  if (sub == "list") {
    if (!store.tenant(domain))
      return write(self, shell_error("no tenant " + domain));
    shell_result r;
    for (auto& e : store.extensions(domain))
      r.lines.push_back(shell::format_record(describe_extension(e)));
    return write(self, r);
  }
  if (sub == "import") {
    if (w.size() != 3)
      return write(self, shell_error("usage: extension import DOMAIN"));
    if (!store.tenant(domain))
      return write(self, shell_error("no tenant " + domain));
    st.import.emplace();
    st.import->domain = domain;
    st.import->allow_weak = store.tenant(domain)->allow_weak_passwords;
    return; // answered after the line "."
  }
  if (w.size() < 4)
    return write(self, shell_error("missing NUMBER"));
  auto number = w[3];
  if (sub == "show") {
    if (!store.tenant(domain))
      return write(self, shell_error("no tenant " + domain));
    auto e = store.extension(domain, number);
    if (!e)
      return write(self, shell_error("no extension " + number));
    return write(self, shell_result{true, {}, {shell::format_record(describe_extension(*e))}});
  }
  extension_cmd cmd;
  cmd.domain = domain;
  cmd.number = number;
  std::size_t first_field = 4;
  if (sub == "add") {
    cmd.op = extension_op::add;
  } else if (sub == "set") {
    cmd.op = extension_op::set;
  } else if (sub == "del") {
    cmd.op = extension_op::del;
  } else if (sub == "copy") {
    if (w.size() < 5)
      return write(self, shell_error("usage: extension copy DOMAIN FROM TO [extension_password=..]"));
    cmd.op = extension_op::copy;
    cmd.target = w[4];
    first_field = 5;
  } else {
    return write(self, shell_error("usage: extension add|set|show|del|list|copy|import ..."));
  }
  if (auto e = shell::parse_fields(w, first_field, cmd.fields); !e.empty())
    return write(self, shell_error(e));
  if (auto e = check_password_fields(cmd.fields); !e.empty())
    return write(self, shell_error(e));
  if (cmd.op == extension_op::set && cmd.fields.empty())
    return write(self, shell_error("nothing to set"));
  if (cmd.op == extension_op::del && !cmd.fields.empty())
    return write(self, shell_error("usage: extension del DOMAIN NUMBER"));
  if (!has_password_field(cmd.fields))
    return ask_router(self, std::move(cmd));
  // The web password's KDF runs on the hasher's thread.
  st.busy = true;
  std::vector<field_list> rows{std::move(cmd.fields)};
  self->request(st.ctx->hasher, answer_timeout, hash_rows_atom::value, std::move(rows))
    .then(
      [=](std::vector<field_list>& hashed) mutable {
        cmd.fields = std::move(hashed.front());
        ask_router(self, std::move(cmd));
      },
      [=](const caf::error& err) {
        finish(self, shell_error("internal: " + self->system().render(err)));
      });
}

// `voicemail list|del|play|greeting DOMAIN NUMBER ...`: the extension that
// owns the mailbox answers.
void voicemail_command(self_ptr self, const words_t& w) {
  auto sub = w.size() > 1 ? w[1] : "";
  const char* usage = "usage: voicemail list|del|play|greeting DOMAIN NUMBER ...";
  if (sub != "list" && sub != "del" && sub != "play" && sub != "greeting")
    return write(self, shell_error(usage));
  std::string err;
  auto domain = domain_arg(w, 2, err);
  if (!err.empty())
    return write(self, shell_error(err));
  if (w.size() < 4)
    return write(self, shell_error("missing NUMBER"));
  voicemail_cmd cmd{domain, w[3], sub, {}};
  if (sub == "list") {
    if (w.size() != 4)
      return write(self, shell_error("usage: voicemail list DOMAIN NUMBER"));
  } else if (sub == "del" || sub == "play") {
    if (w.size() != 5)
      return write(self, shell_error("usage: voicemail " + sub + " DOMAIN NUMBER ID"));
    cmd.arg = w[4];
  } else if (w.size() == 6 && w[4] == "set") {
    // A path on the node: relative paths would depend on its working directory.
    if (w[5].empty() || w[5][0] != '/')
      return write(self, shell_error("FILE must be an absolute path on the node"));
    cmd.verb = "greeting_set";
    cmd.arg = w[5];
  } else if (w.size() == 5 && w[4] == "reset") {
    cmd.verb = "greeting_reset";
  } else {
    return write(self, shell_error("usage: voicemail greeting DOMAIN NUMBER set FILE|reset"));
  }
  ask_router(self, std::move(cmd));
}

void import_error(import_job& job, std::size_t line, const std::string& why) {
  if (job.errors.size() < max_listed)
    job.errors.push_back("line " + std::to_string(line) + ": " + why);
  ++job.bad;
}

// Checks one complete CSV record as it arrives; a good row is kept as text.
void import_record(self_ptr self, std::size_t line, std::string record) {
  auto& job = *self->state.import;
  auto& store = *self->state.ctx->store;
  if (record.find_first_not_of(" \t\r\n") == std::string::npos)
    return;
  auto cells = shell::split_csv(record);
  if (!cells)
    return import_error(job, line, "unterminated quote");
  if (job.header.empty()) {
    job.header = *cells;
    if (std::find(job.header.begin(), job.header.end(), "extension_number") == job.header.end())
      import_error(job, line, "the header names no extension_number");
    return;
  }
  if (cells->size() != job.header.size())
    return import_error(job, line, "expected " + std::to_string(job.header.size())
                                     + " fields, got " + std::to_string(cells->size()));
  field_list row;
  std::string number;
  for (std::size_t i = 0; i < cells->size(); ++i) {
    if ((*cells)[i].empty())
      continue;
    if (job.header[i] == "extension_number")
      number = (*cells)[i];
    row.emplace_back(job.header[i], (*cells)[i]);
  }
  if (!valid_extension_number(number))
    return import_error(job, line, "extension_number must be 3-64 digits");
  if (!job.numbers.insert(number).second || store.extension(job.domain, number))
    return import_error(job, line, "extension " + number + " exists");
  if (auto e = check_password_fields(row); !e.empty())
    return import_error(job, line, e);
  storage::extension_record scratch;
  scratch.domain = job.domain;
  scratch.number = number;
  if (auto e = apply_extension_fields(scratch, row, true, job.allow_weak); !e.empty())
    return import_error(job, line, e);
  job.rows.emplace_back(line, std::move(record));
}

// Commits the next batch of a clean import; answers once all are in.
void import_commit(self_ptr self) {
  auto& st = self->state;
  auto& job = *st.import;
  if (job.next >= job.rows.size()) {
    auto n = job.rows.size();
    st.import.reset();
    return finish(self, shell_result{true, {}, {"imported=" + std::to_string(n)}});
  }
  extension_cmd cmd;
  cmd.op = extension_op::import;
  cmd.domain = job.domain;
  bool hash = false;
  for (auto end = std::min(job.rows.size(), job.next + import_batch); job.next < end; ++job.next) {
    auto& [line, record] = job.rows[job.next];
    auto cells = shell::split_csv(record);
    field_list row;
    for (std::size_t i = 0; cells && i < cells->size(); ++i)
      if (!(*cells)[i].empty())
        row.emplace_back(job.header[i], (*cells)[i]);
    hash |= has_password_field(row);
    cmd.rows.push_back(std::move(row));
    cmd.row_lines.push_back(line);
    record = std::string{}; // sent: its memory goes back
  }
  auto first = cmd.row_lines.front();
  auto failed = [=](const std::string& why) {
    self->state.import.reset();
    auto done = first > 1 ? "; the rows before line " + std::to_string(first) + " were imported"
                          : std::string{};
    finish(self, shell_error(why + done));
  };
  auto send = [=](extension_cmd cmd) {
    self->request(self->state.ctx->router, answer_timeout, std::move(cmd))
      .then(
        [=](const shell_result& r) {
          if (!r.ok)
            return failed(r.error);
          import_commit(self);
        },
        [=](const caf::error& err) { failed("internal: " + self->system().render(err)); });
  };
  if (!hash)
    return send(std::move(cmd));
  self->request(st.ctx->hasher, answer_timeout, hash_rows_atom::value, std::move(cmd.rows))
    .then(
      [=](std::vector<field_list>& rows) mutable {
        cmd.rows = std::move(rows);
        send(std::move(cmd));
      },
      [=](const caf::error& err) { failed("internal: " + self->system().render(err)); });
}

// One input line of a CSV import; the line "." ends it. A quoted field may
// hold line breaks (RFC 4180): its record goes on until the quotes balance.
void import_line(self_ptr self, const std::string& line) {
  auto& st = self->state;
  auto& job = *st.import;
  ++job.line;
  bool open = !job.partial.empty();
  if (!open && line == ".") {
    if (job.bad > 0) {
      auto r = shell_error(job.errors.front() + (job.bad > 1 ? " (" + std::to_string(job.bad)
                                                                 + " bad lines, listed above)"
                                                             : std::string{})
                           + "; nothing imported");
      r.lines = std::move(job.errors);
      if (job.bad > max_listed)
        r.lines.push_back("... and " + std::to_string(job.bad - max_listed) + " more");
      st.import.reset();
      return write(self, r);
    }
    if (job.header.empty()) {
      st.import.reset();
      return write(self, shell_error("no CSV header line"));
    }
    if (job.rows.empty()) {
      st.import.reset();
      return write(self, shell_error("no extension to import"));
    }
    st.busy = true;
    return import_commit(self);
  }
  if (open) {
    job.partial.append("\n").append(line);
  } else {
    job.partial = line;
    job.partial_line = job.line;
  }
  if (std::count(job.partial.begin(), job.partial.end(), '"') % 2 == 0) {
    auto record = std::move(job.partial);
    job.partial.clear();
    return import_record(self, job.partial_line, std::move(record));
  }
  if (job.partial.size() > max_record) {
    import_error(job, job.partial_line, "unterminated quote");
    job.partial.clear();
  }
}

// The admin password is checked on the hasher's thread; a wrong one is
// answered after the source's backoff (1 s, 2 s, 4 s...), and counts toward
// its ban.
void login(self_ptr self, const words_t& w) {
  auto& st = self->state;
  if (w.size() != 3 || w[1] != "admin")
    return write(self, shell_error("usage: login admin PASSWORD"));
  auto stored = st.ctx->store->meta("admin_password_hash");
  st.busy = true;
  self->request(st.ctx->hasher, answer_timeout, verify_atom::value, w[2], stored.value_or(""))
    .then(
      [=](bool good) {
        auto& st = self->state;
        if (good) {
          st.logged_in = true;
          self->send(st.ctx->security_actor, auth_success{auth_service::shell, st.source});
          return finish(self, shell_result{});
        }
        auth_failure f{auth_service::shell, st.source, "admin", {}, "wrong password"};
        self->request(st.ctx->security_actor, answer_timeout, std::move(f))
          .then(
            [=](std::uint32_t delay_ms) {
              self->state.after_backoff = [=] { finish(self, shell_error("wrong password")); };
              self->delayed_send(self, std::chrono::milliseconds(delay_ms), resume_atom::value);
            },
            [=](const caf::error&) { finish(self, shell_error("wrong password")); });
      },
      [=](const caf::error& err) {
        finish(self, shell_error("internal: " + self->system().render(err)));
      });
}

// `admin password NEW`: a new admin password, stored before OK.
void admin_command(self_ptr self, const words_t& w) {
  auto& st = self->state;
  if (w.size() != 3 || w[1] != "password")
    return write(self, shell_error("usage: admin password NEW_PASSWORD"));
  if (w[2].size() < 8 || w[2].size() > 128)
    return write(self, shell_error("the admin password must be 8-128 characters"));
  st.busy = true;
  self->request(st.ctx->hasher, answer_timeout, hash_atom::value, w[2])
    .then(
      [=](const std::string& hash) {
        auto& st = self->state;
        storage::batch b;
        b.put_meta("admin_password_hash", hash);
        st.writes.submit(self, *st.ctx->store, std::move(b), [=](const std::string& err) {
          if (!err.empty())
            return finish(self, shell_error("storage: " + err));
          log::info("shell: the admin password was changed from ", self->state.source.ip);
          finish(self, shell_result{});
        });
      },
      [=](const caf::error& err) {
        finish(self, shell_error("internal: " + self->system().render(err)));
      });
}

void security_command(self_ptr self, const words_t& w) {
  auto& st = self->state;
  security_cmd cmd{words_t(w.begin() + 1, w.end()), st.source.ip};
  st.busy = true;
  self->request(st.ctx->security_actor, answer_timeout, std::move(cmd))
    .then([=](const shell_result& r) { finish(self, r); },
          [=](const caf::error& err) {
            finish(self, shell_error("internal: " + self->system().render(err)));
          });
}

void command(self_ptr self, const std::string& line) {
  auto& st = self->state;
  if (st.import)
    return import_line(self, line);
  auto words = shell::split_words(line);
  if (!words)
    return write(self, shell_error("unterminated quote"));
  if (words->empty())
    return; // blank line: nothing to answer
  auto& w = *words;
  if (w[0] == "quit" || w[0] == "exit")
    return write(self, shell_result{}, true);
  if (w[0] == "help")
    return write(self, shell_result{true, {}, shell_help()});
  if (w[0] == "login")
    return login(self, w);
  if (!st.logged_in)
    return write(self, shell_error("login required"));
  if (w[0] == "tenant")
    return tenant_command(self, w);
  if (w[0] == "extension")
    return extension_command(self, w);
  if (w[0] == "calls")
    return calls_command(self, w);
  if (w[0] == "voicemail")
    return voicemail_command(self, w);
  if (w[0] == "hangup")
    return hangup_command(self, w);
  if (w[0] == "cdr")
    return write(self, cdr_command(self, w));
  if (w[0] == "stats")
    return write(self, stats(self));
  if (w[0] == "admin")
    return admin_command(self, w);
  if (w[0] == "security")
    return security_command(self, w);
  if (rule_commands::is_rules_verb(w[0])) {
    rules_cmd cmd;
    if (auto e = rule_commands::route(w, cmd); !e.empty())
      return write(self, shell_error(e));
    auto raw = cmd.domain;
    cmd.domain = normalize_domain(raw);
    if (cmd.domain.empty())
      return write(self, shell_error("'" + raw + "' is not a domain name"));
    return ask_router(self, std::move(cmd));
  }
  if (w[0] == "registrations") {
    std::string err;
    auto domain = domain_arg(w, 1, err);
    if (!err.empty())
      return write(self, shell_error(err));
    if (w.size() > 3)
      return write(self, shell_error("usage: registrations DOMAIN [NUMBER]"));
    return write(self, registrations(self, domain, w.size() == 3 ? w[2] : ""));
  }
  write(self, shell_error("unknown command '" + w[0] + "' (try help)"));
}

void process_next(self_ptr self) {
  auto& st = self->state;
  while (!st.busy && !st.queued.empty()) {
    auto line = std::move(st.queued.front());
    st.queued.pop_front();
    ++st.unacked;
    command(self, line);
  }
  if (st.busy)
    return;
  // The client is gone (or half-closed): close once every line is answered.
  if (st.peer_gone) {
    send_out(self, {}, true);
    self->quit();
  } else if (st.unacked > 0) {
    send_out(self, {}); // room for more lines
  }
}

} // namespace

const std::vector<std::string>& shell_help() {
  static const std::vector<std::string> lines = {
    "login admin PASSWORD",
    "tenant add DOMAIN [name=NAME] [timezone=ZONE] [allow_weak_passwords=true|false] "
    "[voicemail_number=777] [voicemail_max_seconds=180] [voicemail_min_seconds=1] "
    "[voicemail_silence_seconds=5] [voicemail_retain_days=30]",
    "tenant set DOMAIN field=value ...",
    "tenant list",
    "tenant show DOMAIN",
    "tenant del DOMAIN",
    "extension add DOMAIN NUMBER extension_password=.. [field=value ...]",
    "extension set DOMAIN NUMBER field=value ...",
    "extension show DOMAIN NUMBER",
    "extension del DOMAIN NUMBER",
    "extension list DOMAIN",
    "extension copy DOMAIN FROM TO extension_password=.. [field=value ...]",
    "extension import DOMAIN   (CSV lines follow, the first naming the fields; end with '.')",
    "registrations DOMAIN [NUMBER]",
    "security bans | security ban IP [for=SECONDS] | security unban IP",
    "security allow list | security allow add|del CIDR   (never banned)",
    "admin password NEW_PASSWORD",
    "calls [DOMAIN]   (live calls with their legs and states)",
    "hangup CALL_ID",
    "cdr DOMAIN [limit=N] [extension=NUMBER]   (newest first)",
    "voicemail list DOMAIN NUMBER   (id= caller= time= duration= read= file=)",
    "voicemail del DOMAIN NUMBER ID | voicemail play DOMAIN NUMBER ID   (the WAV's path)",
    "voicemail greeting DOMAIN NUMBER set FILE|reset   (FILE: 8 kHz mono 16-bit WAV on the node)",
    "stats   (provisioned records against live actors)",
    "status set DOMAIN NUMBER available|away|dnd|lunch|trip [note=TEXT]",
    "status show DOMAIN NUMBER",
    "forward show DOMAIN NUMBER",
    "forward set DOMAIN NUMBER SLOT action=ACTION [number=N] [mailbox=N] [timeout=SECONDS]",
    "hours show|set DOMAIN [NUMBER] [mode=GLOBAL|CUSTOM] [mon=09:00-12:00,13:00-18:00|on|off] ...",
    "holiday add DOMAIN [NUMBER] name=NAME date=YYYY-MM-DD[..YYYY-MM-DD] [time=HH:MM-HH:MM] "
    "[every_year=true]",
    "holiday list DOMAIN [NUMBER] | holiday del DOMAIN [NUMBER] ID",
    "exception add DOMAIN NUMBER caller=PATTERN when=ALL_HOURS|SPECIFIC_HOURS|"
    "OUTSIDE_SPECIFIC_HOURS [mon=..] ... action=ACTION [number=N] [mailbox=N]",
    "exception list DOMAIN NUMBER | exception del DOMAIN NUMBER ID",
    "fac list DOMAIN | fac set DOMAIN FEATURE CODE",
    "explain DOMAIN FROM TO [at=ISO-8601]   (dry run of the forwarding decision)",
    "help",
    "quit",
    "fields: extension_number extension_password display_name email role(user|admin) "
    "enabled(true|false) name password mobile_phone work_phone home_phone address "
    "department voicemail_pin no_answer_timeout timezone(IANA, blank = the tenant's) "
    "pin_auth(true|false) time_readout(12h|24h|off) max_messages(1-9999) "
    "mwi_unsolicited(true|false)",
  };
  return lines;
}

caf::behavior admin_shell_actor(caf::stateful_actor<admin_shell_state>* self,
                                node_context* ctx, std::uint64_t conn, flow_info source) {
  self->state.ctx = ctx;
  self->state.conn = conn;
  self->state.source = std::move(source);
  self->delayed_send(self, login_timeout, login_due_atom::value);
  return {
    [=](shell_line& l) {
      self->state.queued.push_back(std::move(l.text));
      process_next(self);
    },
    [=](const shell_closed&) {
      self->state.peer_gone = true;
      self->state.import.reset(); // an import without its "." is dropped
      process_next(self);
    },
    [=](resume_atom) {
      if (auto k = std::move(self->state.after_backoff)) {
        self->state.after_backoff = nullptr;
        k();
      }
    },
    [=](login_due_atom) {
      auto& st = self->state;
      if (st.logged_in || st.peer_gone)
        return;
      log::info("shell: connection ", st.conn, " from ", st.source.ip,
                " did not log in within ", login_timeout.count(), " s, closing");
      st.unacked += static_cast<std::uint32_t>(st.queued.size());
      st.queued.clear();
      write(self, shell_error("login timeout"), true);
      self->quit();
    },
    [=](const write_done& w) { self->state.writes.done(w); },
  };
}

// One session actor per connection, scheduled like every other actor: the
// slow work (password hashing) goes to the hasher, so no thread is tied to a
// connection.
caf::behavior shell_hub_actor(caf::stateful_actor<shell_hub_state>* self,
                              node_context* ctx) {
  // Sessions are linked (they end with the hub at shutdown); the hub traps
  // their exits, so a failing session costs only its own connection.
  self->set_exit_handler([=](caf::exit_msg& m) {
    auto& st = self->state;
    auto i = st.conn_of.find(m.source);
    if (i == st.conn_of.end()) {
      self->quit(m.reason); // the node is stopping
      return;
    }
    auto conn = i->second;
    st.conn_of.erase(i);
    if (st.sessions.erase(conn) > 0 && m.reason != caf::exit_reason::normal)
      ctx->sip->shell_write(shell_output{conn, "ERR internal error\n", true, 1u << 30});
  });
  return {
    [=](shell_opened& o) {
      auto s = self->spawn<caf::linked>(admin_shell_actor, ctx, o.conn, std::move(o.source));
      self->state.sessions[o.conn] = s;
      self->state.conn_of[s.address()] = o.conn;
    },
    [=](shell_line& l) {
      auto i = self->state.sessions.find(l.conn);
      if (i != self->state.sessions.end())
        self->send(i->second, std::move(l));
    },
    [=](const shell_closed& c) {
      auto i = self->state.sessions.find(c.conn);
      if (i != self->state.sessions.end())
        self->send(i->second, c); // it answers what it has, then ends
    },
  };
}

} // namespace pbx
