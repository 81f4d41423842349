#include "actors/admin_shell.hpp"

#include <caf/all.hpp>

#include "actors/extension_fields.hpp"
#include "actors/messages/call.hpp"
#include "actors/messages/directory.hpp"
#include "actors/password.hpp"
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

void process_next(self_ptr self);

void write(self_ptr self, const shell_result& r, bool close = false) {
  std::string out;
  for (auto& line : r.lines)
    out.append(line).append("\n");
  out.append(r.ok ? "OK" : "ERR " + r.error).append("\n");
  self->state.ctx->sip->shell_write(self->state.conn, std::move(out), close);
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
          {"extensions", std::to_string(st.extension_count(t.domain))}};
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
  if (sub == "add") {
    tenant_add cmd{domain, {}};
    if (auto e = shell::parse_fields(w, 3, cmd.fields); !e.empty())
      return write(self, shell_error(e));
    return ask_router(self, std::move(cmd));
  }
  if (sub == "del") {
    if (w.size() != 3)
      return write(self, shell_error("usage: tenant del DOMAIN"));
    return ask_router(self, tenant_del{domain});
  }
  write(self, shell_error("usage: tenant add|list|show|del ..."));
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
    if (!store.tenant(domain))
      return write(self, shell_error("no tenant " + domain));
    st.importing = true;
    st.import_domain = domain;
    st.import_header.clear();
    st.import_cmd = extension_cmd{};
    st.import_cmd.op = extension_op::import;
    st.import_cmd.domain = domain;
    st.import_error.clear();
    st.import_line = 0;
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
  if (auto e = hash_password_fields(cmd.fields); !e.empty())
    return write(self, shell_error(e));
  if (cmd.op == extension_op::set && cmd.fields.empty())
    return write(self, shell_error("nothing to set"));
  if (cmd.op == extension_op::del && !cmd.fields.empty())
    return write(self, shell_error("usage: extension del DOMAIN NUMBER"));
  ask_router(self, std::move(cmd));
}

// One line of a CSV import; the line "." ends it.
void import_line(self_ptr self, const std::string& line) {
  auto& st = self->state;
  if (line == ".") {
    st.importing = false;
    if (!st.import_error.empty())
      return finish(self, shell_error(st.import_error));
    if (st.import_header.empty())
      return finish(self, shell_error("no CSV header line"));
    for (std::size_t i = 0; i < st.import_cmd.rows.size(); ++i)
      if (auto e = hash_password_fields(st.import_cmd.rows[i]); !e.empty())
        return finish(self, shell_error("line " + std::to_string(st.import_cmd.row_lines[i]) + ": " + e));
    return ask_router(self, std::move(st.import_cmd));
  }
  ++st.import_line;
  if (!st.import_error.empty() || line.empty())
    return; // keep reading until "."; the first error is what we report
  auto where = "line " + std::to_string(st.import_line) + ": ";
  auto cells = shell::split_csv(line);
  if (!cells) {
    st.import_error = where + "unterminated quote";
    return;
  }
  if (st.import_header.empty()) {
    st.import_header = *cells;
    bool has_number = false;
    for (auto& h : st.import_header)
      has_number |= h == "extension_number";
    if (!has_number)
      st.import_error = where + "the header names no extension_number";
    return;
  }
  if (cells->size() != st.import_header.size()) {
    st.import_error = where + "expected " + std::to_string(st.import_header.size())
                      + " fields, got " + std::to_string(cells->size());
    return;
  }
  field_list row;
  for (std::size_t i = 0; i < cells->size(); ++i)
    if (!(*cells)[i].empty())
      row.emplace_back(st.import_header[i], (*cells)[i]);
  st.import_cmd.rows.push_back(std::move(row));
  st.import_cmd.row_lines.push_back(st.import_line);
}

void login(self_ptr self, const words_t& w) {
  if (w.size() != 3 || w[1] != "admin")
    return write(self, shell_error("usage: login admin PASSWORD"));
  auto stored = self->state.ctx->store->meta("admin_password_hash");
  if (!stored || !password::verify(w[2], *stored)) {
    log::warn("shell: failed login on connection ", self->state.conn);
    return write(self, shell_error("wrong password"));
  }
  self->state.logged_in = true;
  write(self, shell_result{});
}

void command(self_ptr self, const std::string& line) {
  auto& st = self->state;
  if (st.importing)
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
  if (w[0] == "hangup")
    return hangup_command(self, w);
  if (w[0] == "cdr")
    return write(self, cdr_command(self, w));
  if (w[0] == "stats")
    return write(self, stats(self));
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
    command(self, line);
  }
  // The client is gone (or half-closed): close once every line is answered.
  if (st.peer_gone && !st.busy && st.queued.empty()) {
    st.ctx->sip->shell_write(st.conn, {}, true);
    self->quit();
  }
}

} // namespace

const std::vector<std::string>& shell_help() {
  static const std::vector<std::string> lines = {
    "login admin PASSWORD",
    "tenant add DOMAIN [name=NAME] [timezone=ZONE]",
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
    "calls [DOMAIN]   (live calls with their legs and states)",
    "hangup CALL_ID",
    "cdr DOMAIN [limit=N] [extension=NUMBER]   (newest first)",
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
    "department voicemail_pin no_answer_timeout timezone(IANA, blank = the tenant's)",
  };
  return lines;
}

caf::behavior admin_shell_actor(caf::stateful_actor<admin_shell_state>* self,
                                node_context* ctx, std::uint64_t conn) {
  self->state.ctx = ctx;
  self->state.conn = conn;
  return {
    [=](shell_line& l) {
      self->state.queued.push_back(std::move(l.text));
      process_next(self);
    },
    [=](const shell_closed&) {
      self->state.peer_gone = true;
      self->state.importing = false; // an import without its "." is dropped
      process_next(self);
    },
  };
}

caf::behavior shell_hub_actor(caf::stateful_actor<shell_hub_state>* self,
                              node_context* ctx) {
  return {
    [=](shell_line& l) {
      auto& s = self->state.sessions[l.conn];
      if (!s)
        // Detached: login and password hashing (PBKDF2) block their own
        // thread, never the scheduler that serves SIP.
        s = self->spawn<caf::linked + caf::detached>(admin_shell_actor, ctx, l.conn);
      self->send(s, std::move(l));
    },
    [=](const shell_closed& c) {
      auto i = self->state.sessions.find(c.conn);
      if (i == self->state.sessions.end())
        return;
      self->send(i->second, c); // it answers what it has, then ends
      self->state.sessions.erase(i);
    },
  };
}

} // namespace pbx
