#include "actors/admin_shell.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <initializer_list>
#include <string_view>

#include "actors/admin_json.hpp"
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

namespace pbx {

namespace {

using self_ptr = caf::stateful_actor<admin_shell_state>*;
using words_t = std::vector<std::string>;

constexpr auto answer_timeout = std::chrono::seconds(30);
constexpr std::size_t max_err = 300;       // an ERR line never echoes more of the input
constexpr std::size_t max_record = 64 * 1024; // a record with an open quote, at most
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

void write(self_ptr self, const admin_reply& r, bool close = false) {
  if (self->state.json_output) // one line, typed as the REST API types it
    return send_out(self, admin_json::dump(admin_json::reply(self->state.resource, r)) + "\n",
                    close);
  std::string out;
  for (auto& line : r.notes)
    out.append(line).append("\n");
  for (auto& rec : r.records)
    out.append(shell::format_record(rec)).append("\n");
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

void finish(self_ptr self, const admin_reply& r) {
  write(self, r);
  self->state.busy = false;
  process_next(self);
}

admin_principal shell_admin(self_ptr self) {
  return admin_principal{admin_role::system, {}, {}, "shell " + self->state.source.ip};
}

// Sends `msg` to the admin layer and answers the connection when it replies.
template <class Message>
void ask(self_ptr self, Message msg) {
  self->state.busy = true;
  self->request(self->state.ctx->admin, answer_timeout, shell_admin(self), std::move(msg))
    .then([=](const admin_reply& r) { finish(self, r); },
          [=](const caf::error& err) {
            finish(self, admin_fail(admin_errc::internal,
                                    "internal: " + self->system().render(err)));
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

// `limit=N` (1-999999), or an error.
std::string parse_limit(const std::string& v, std::size_t& limit) {
  if (v.empty() || v.size() > 6 || v.find_first_not_of("0123456789") != std::string::npos
      || std::stoul(v) == 0)
    return "limit must be 1-999999";
  limit = std::stoul(v);
  return {};
}

void cdr_command(self_ptr self, const words_t& w) {
  std::string err;
  auto domain = domain_arg(w, 1, err);
  if (!err.empty())
    return write(self, admin_invalid(err));
  field_list opts;
  if (auto e = shell::parse_fields(w, 2, opts); !e.empty())
    return write(self, admin_invalid(e));
  cdr_query q;
  q.domain = domain;
  for (auto& [k, v] : opts) {
    if (k == "limit") {
      if (auto e = parse_limit(v, q.limit); !e.empty())
        return write(self, admin_invalid(e));
    } else if (k == "extension") {
      q.extension = v;
    } else if (k == "before") {
      q.before = v;
    } else {
      return write(self, admin_invalid("unknown option '" + k + "'"));
    }
  }
  ask(self, std::move(q));
}

void audit_command(self_ptr self, const words_t& w) {
  audit_query q;
  std::size_t first = 1;
  if (w.size() > 1 && w[1].find('=') == std::string::npos) {
    std::string err;
    q.domain = domain_arg(w, 1, err);
    if (!err.empty())
      return write(self, admin_invalid(err));
    first = 2;
  }
  field_list opts;
  if (auto e = shell::parse_fields(w, first, opts); !e.empty())
    return write(self, admin_invalid(e));
  for (auto& [k, v] : opts) {
    if (k != "limit")
      return write(self, admin_invalid("unknown option '" + k + "'"));
    if (auto e = parse_limit(v, q.limit); !e.empty())
      return write(self, admin_invalid(e));
  }
  ask(self, std::move(q));
}

void calls_command(self_ptr self, const words_t& w) {
  calls_query q;
  if (w.size() > 2)
    return write(self, admin_invalid("usage: calls [DOMAIN]"));
  if (w.size() == 2) {
    std::string err;
    q.domain = domain_arg(w, 1, err);
    if (!err.empty())
      return write(self, admin_invalid(err));
  }
  ask(self, std::move(q));
}

void hangup_command(self_ptr self, const words_t& w) {
  if (w.size() != 2)
    return write(self, admin_invalid("usage: hangup CALL_ID"));
  ask(self, hangup_cmd{w[1], {}});
}

void tenant_command(self_ptr self, const words_t& w) {
  auto sub = w.size() > 1 ? w[1] : "";
  std::string err;
  if (sub == "list")
    return ask(self, tenant_query{});
  auto domain = domain_arg(w, 2, err);
  if (!err.empty())
    return write(self, admin_invalid(err));
  if (sub == "show")
    return ask(self, tenant_query{domain});
  if (sub == "add" || sub == "set") {
    field_list fields;
    if (auto e = shell::parse_fields(w, 3, fields); !e.empty())
      return write(self, admin_invalid(e));
    if (sub == "set")
      return ask(self, tenant_set{domain, std::move(fields)});
    return ask(self, tenant_add{domain, std::move(fields)});
  }
  if (sub == "del") {
    if (w.size() != 3)
      return write(self, admin_invalid("usage: tenant del DOMAIN"));
    return ask(self, tenant_del{domain});
  }
  write(self, admin_invalid("usage: tenant add|set|list|show|del ..."));
}

void extension_command(self_ptr self, const words_t& w) {
  auto sub = w.size() > 1 ? w[1] : "";
  std::string err;
  auto domain = domain_arg(w, 2, err);
  if (!err.empty())
    return write(self, admin_invalid(err));
  if (sub == "list") {
    extension_query q;
    q.domain = domain;
    field_list opts;
    if (auto e = shell::parse_fields(w, 3, opts); !e.empty())
      return write(self, admin_invalid(e));
    for (auto& [k, v] : opts) {
      if (k == "limit") {
        if (auto e = parse_limit(v, q.limit); !e.empty())
          return write(self, admin_invalid(e));
      } else if (k == "after") {
        q.after = v;
      } else {
        return write(self, admin_invalid("unknown option '" + k + "'"));
      }
    }
    return ask(self, std::move(q));
  }
  if (sub == "import") {
    if (w.size() != 3)
      return write(self, admin_invalid("usage: extension import DOMAIN"));
    // The tenant must exist before the CSV lines are read as such.
    auto& st = self->state;
    st.busy = true;
    self->request(st.ctx->admin, answer_timeout, shell_admin(self), tenant_query{domain})
      .then(
        [=](const admin_reply& r) {
          if (r.ok) {
            self->state.import.emplace();
            self->state.import->domain = domain;
            self->state.busy = false;
            return process_next(self);
          }
          finish(self, r);
        },
        [=](const caf::error& err) {
          finish(self, admin_fail(admin_errc::internal,
                                  "internal: " + self->system().render(err)));
        });
    return;
  }
  if (w.size() < 4)
    return write(self, admin_invalid("missing NUMBER"));
  auto number = w[3];
  if (sub == "show")
    return ask(self, extension_query{domain, number, 0, {}});
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
      return write(self, admin_invalid("usage: extension copy DOMAIN FROM TO [extension_password=..]"));
    cmd.op = extension_op::copy;
    cmd.target = w[4];
    first_field = 5;
  } else {
    return write(self, admin_invalid("usage: extension add|set|show|del|list|copy|import ..."));
  }
  if (auto e = shell::parse_fields(w, first_field, cmd.fields); !e.empty())
    return write(self, admin_invalid(e));
  if (cmd.op == extension_op::set && cmd.fields.empty())
    return write(self, admin_invalid("nothing to set"));
  if (cmd.op == extension_op::del && !cmd.fields.empty())
    return write(self, admin_invalid("usage: extension del DOMAIN NUMBER"));
  ask(self, std::move(cmd));
}

// `voicemail list|del|play|greeting DOMAIN NUMBER ...`: the extension that
// owns the mailbox answers.
void voicemail_command(self_ptr self, const words_t& w) {
  auto sub = w.size() > 1 ? w[1] : "";
  const char* usage = "usage: voicemail list|del|play|greeting DOMAIN NUMBER ...";
  if (sub != "list" && sub != "del" && sub != "play" && sub != "greeting")
    return write(self, admin_invalid(usage));
  std::string err;
  auto domain = domain_arg(w, 2, err);
  if (!err.empty())
    return write(self, admin_invalid(err));
  if (w.size() < 4)
    return write(self, admin_invalid("missing NUMBER"));
  voicemail_cmd cmd{domain, w[3], sub, {}};
  if (sub == "list") {
    if (w.size() != 4)
      return write(self, admin_invalid("usage: voicemail list DOMAIN NUMBER"));
  } else if (sub == "del" || sub == "play") {
    if (w.size() != 5)
      return write(self, admin_invalid("usage: voicemail " + sub + " DOMAIN NUMBER ID"));
    cmd.arg = w[4];
  } else if (w.size() == 6 && w[4] == "set") {
    // A path on the node: relative paths would depend on its working directory.
    if (w[5].empty() || w[5][0] != '/')
      return write(self, admin_invalid("FILE must be an absolute path on the node"));
    cmd.verb = "greeting_set";
    cmd.arg = w[5];
  } else if (w.size() == 5 && w[4] == "reset") {
    cmd.verb = "greeting_reset";
  } else {
    return write(self, admin_invalid("usage: voicemail greeting DOMAIN NUMBER set FILE|reset"));
  }
  ask(self, std::move(cmd));
}

// `trunk|inbound|outbound VERB DOMAIN [NAME] key=value...`: the tenant checks
// the fields (actors/trunk_config.hpp).
template <class Cmd>
void config_command(self_ptr self, const words_t& w, const std::string& usage,
                    std::initializer_list<std::string_view> verbs) {
  auto verb = w.size() > 1 ? w[1] : "";
  if (std::find(verbs.begin(), verbs.end(), verb) == verbs.end())
    return write(self, admin_invalid(usage));
  std::string err;
  auto domain = domain_arg(w, 2, err);
  if (!err.empty())
    return write(self, admin_invalid(err));
  Cmd cmd;
  cmd.verb = verb;
  cmd.domain = domain;
  if (verb == "list") {
    if (w.size() != 3)
      return write(self, admin_invalid("usage: " + w[0] + " list DOMAIN"));
    return ask(self, std::move(cmd));
  }
  if (w.size() < 4 || w[3].find('=') != std::string::npos)
    return write(self, admin_invalid("missing NAME (usage: " + w[0] + " " + verb
                                     + " DOMAIN NAME ...)"));
  cmd.name = w[3];
  if (auto e = shell::parse_fields(w, 4, cmd.fields); !e.empty())
    return write(self, admin_invalid(e));
  if ((verb == "show" || verb == "del") && !cmd.fields.empty())
    return write(self, admin_invalid("usage: " + w[0] + " " + verb + " DOMAIN NAME"));
  ask(self, std::move(cmd));
}

// One input line of a CSV import; the line "." ends it unless a quoted field
// is open (RFC 4180 line breaks). The admin layer checks and stores the rows.
void import_line(self_ptr self, const std::string& line) {
  auto& st = self->state;
  auto& job = *st.import;
  if (!job.open_quote && line == ".") {
    extension_import req;
    req.domain = job.domain;
    req.csv = std::move(job.csv);
    st.import.reset();
    return ask(self, std::move(req));
  }
  if (std::count(line.begin(), line.end(), '"') % 2 == 1)
    job.open_quote = !job.open_quote;
  job.csv.append(line).append("\n");
  // A quote never closed would swallow the ".": past one record's limit the
  // record is cut off here and reported as an unterminated quote.
  if (job.open_quote && job.csv.size() - job.quote_start > max_record)
    job.open_quote = false;
  if (!job.open_quote)
    job.quote_start = job.csv.size();
}

// The admin password is checked on the hasher's thread; a wrong one is
// answered after the source's backoff (1 s, 2 s, 4 s...), and counts toward
// its ban.
void login(self_ptr self, const words_t& w) {
  auto& st = self->state;
  if (w.size() != 3 || w[1] != "admin")
    return write(self, admin_invalid("usage: login admin PASSWORD"));
  st.busy = true;
  self->request(st.ctx->admin, answer_timeout, login_check{"admin", w[2]})
    .then(
      [=](const login_result& l) {
        auto& st = self->state;
        if (l.ok) {
          st.logged_in = true;
          self->send(st.ctx->security_actor, auth_success{auth_service::shell, st.source});
          return finish(self, admin_reply{});
        }
        auth_failure f{auth_service::shell, st.source, "admin", {}, "wrong password"};
        self->request(st.ctx->security_actor, answer_timeout, std::move(f))
          .then(
            [=](std::uint32_t delay_ms) {
              self->state.after_backoff = [=] { finish(self, admin_invalid("wrong password")); };
              self->delayed_send(self, std::chrono::milliseconds(delay_ms), resume_atom::value);
            },
            [=](const caf::error&) { finish(self, admin_invalid("wrong password")); });
      },
      [=](const caf::error& err) {
        finish(self, admin_invalid("internal: " + self->system().render(err)));
      });
}

// `admin password NEW`: a new admin password, stored before OK.
void admin_command(self_ptr self, const words_t& w) {
  if (w.size() != 3 || w[1] != "password")
    return write(self, admin_invalid("usage: admin password NEW_PASSWORD"));
  ask(self, admin_password_set{w[2]});
}

void security_command(self_ptr self, const words_t& w) {
  auto& st = self->state;
  security_cmd cmd{words_t(w.begin() + 1, w.end()), st.source.ip};
  st.busy = true;
  self->request(st.ctx->security_actor, answer_timeout, std::move(cmd))
    .then([=](const admin_reply& r) { finish(self, r); },
          [=](const caf::error& err) {
            finish(self, admin_invalid("internal: " + self->system().render(err)));
          });
}

void command(self_ptr self, const std::string& line) {
  auto& st = self->state;
  if (st.import)
    return import_line(self, line);
  auto words = shell::split_words(line);
  if (!words)
    return write(self, admin_invalid("unterminated quote"));
  if (words->empty())
    return; // blank line: nothing to answer
  auto& w = *words;
  st.resource = std::string{admin_json::resource_of_command(w[0])};
  // Hidden (actorpbx shell --json): `output json` or `output text`.
  if (w[0] == "output") {
    if (w.size() != 2 || (w[1] != "json" && w[1] != "text"))
      return write(self, admin_invalid("usage: output json|text"));
    st.json_output = w[1] == "json";
    return write(self, admin_reply{});
  }
  if (w[0] == "quit" || w[0] == "exit")
    return write(self, admin_reply{}, true);
  if (w[0] == "help")
  {
    admin_reply help;
    help.notes = shell_help();
    return write(self, help);
  }
  if (w[0] == "login")
    return login(self, w);
  if (!st.logged_in)
    return write(self, admin_invalid("login required"));
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
    return cdr_command(self, w);
  if (w[0] == "stats")
    return ask(self, stats_query{});
  if (w[0] == "cluster") {
    if (w.size() != 2 || w[1] != "status")
      return write(self, admin_invalid("usage: cluster status"));
    return ask(self, cluster_status_query{});
  }
  if (w[0] == "audit")
    return audit_command(self, w);
  if (w[0] == "admin")
    return admin_command(self, w);
  if (w[0] == "security")
    return security_command(self, w);
  if (w[0] == "trunk" && w.size() >= 2 && w[1] == "status") {
    std::string err;
    auto domain = domain_arg(w, 2, err);
    if (!err.empty())
      return write(self, admin_invalid(err));
    if (w.size() > 3)
      return write(self, admin_invalid("usage: trunk status DOMAIN"));
    return ask(self, trunk_status_query{domain});
  }
  if (w[0] == "trunk")
    return config_command<trunk_cmd>(self, w, "usage: trunk add|set|del|show|list DOMAIN [NAME] "
                                              "key=value...",
                                     {"add", "set", "del", "show", "list"});
  if (w[0] == "inbound")
    return config_command<inbound_cmd>(self, w, "usage: inbound add|del|list DOMAIN [NAME] "
                                                "key=value...",
                                       {"add", "del", "list"});
  if (w[0] == "outbound")
    return config_command<outbound_cmd>(self, w, "usage: outbound add|set|del|list DOMAIN [NAME] "
                                                 "key=value...",
                                        {"add", "set", "del", "list"});
  if (rule_commands::is_rules_verb(w[0])) {
    rules_cmd cmd;
    if (auto e = rule_commands::route(w, cmd); !e.empty())
      return write(self, admin_invalid(e));
    auto raw = cmd.domain;
    cmd.domain = normalize_domain(raw);
    if (cmd.domain.empty())
      return write(self, admin_invalid("'" + raw + "' is not a domain name"));
    return ask(self, std::move(cmd));
  }
  if (w[0] == "registrations") {
    std::string err;
    auto domain = domain_arg(w, 1, err);
    if (!err.empty())
      return write(self, admin_invalid(err));
    if (w.size() > 3)
      return write(self, admin_invalid("usage: registrations DOMAIN [NUMBER]"));
    return ask(self, registrations_query{domain, w.size() == 3 ? w[2] : ""});
  }
  write(self, admin_invalid("unknown command '" + w[0] + "' (try help)"));
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
    "extension list DOMAIN [limit=N] [after=NUMBER]",
    "extension copy DOMAIN FROM TO extension_password=.. [field=value ...]",
    "extension import DOMAIN   (CSV lines follow, the first naming the fields; end with '.')",
    "registrations DOMAIN [NUMBER]",
    "trunk status DOMAIN   (each trunk: registration, OPTIONS keep-alive, calls)",
    "security bans | security ban IP [for=SECONDS] | security unban IP",
    "security allow list | security allow add|del CIDR   (never banned)",
    "admin password NEW_PASSWORD",
    "calls [DOMAIN]   (live calls with their legs and states)",
    "hangup CALL_ID",
    "cdr DOMAIN [limit=N] [extension=NUMBER] [before=CALL_ID]   (newest first)",
    "audit [DOMAIN] [limit=N]   (changes made through the shell and the API, newest first)",
    "voicemail list DOMAIN NUMBER   (id= caller= time= duration= read= file=)",
    "voicemail del DOMAIN NUMBER ID | voicemail play DOMAIN NUMBER ID   (the WAV's path)",
    "voicemail greeting DOMAIN NUMBER set FILE|reset   (FILE: 8 kHz mono 16-bit WAV on the node)",
    "stats   (provisioned records against live actors)",
    "cluster status   (etcd's state and the members: name, node, address, state, lease age)",
    "trunk add DOMAIN NAME auth_mode=REGISTER_AUTH|ACCEPT_REGISTER|IP_AUTH host=H [port=5060] "
    "[transport=udp|tcp] [outbound_proxy=H[:P]] [username=U] [auth_username=A] [password=P] "
    "[register_interval=600] [keep_alive=yes|no] [keep_alive_interval=360] [source_ips=IP,IP] "
    "[did_pool=\"1000-2000\"] [max_calls=N] [did_in=to|request_uri] [diversion=yes|no] "
    "[keep_caller_id=yes|no] [caller_id=NUMBER] [enabled=yes|no]",
    "trunk set DOMAIN NAME key=value ... | trunk del DOMAIN NAME",
    "trunk show DOMAIN NAME | trunk list DOMAIN   (passwords shown as ***)",
    "inbound add DOMAIN NAME trunk=T did=1000-1099 [cid=MASK] office=DEST [outside=DEST] "
    "[holiday=DEST]   (DEST: extension:101 voicemail:101 hangup number:N range:200-299 0)",
    "inbound del DOMAIN NAME | inbound list DOMAIN",
    "outbound add|set DOMAIN NAME [priority=1000] [prefix=00;011] [length=10;11] "
    "[callers=101-110] [strategy=PRIORITIZED|RANDOMLY] [outside_hours=allow|deny] "
    "[holidays=allow|deny] route=TRUNK[:STRIP[:PREPEND[:CALLER_ID]]] ...   (up to 6 route=)",
    "outbound del DOMAIN NAME | outbound list DOMAIN   (by priority)",
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
    "mwi_unsolicited(true|false) outbound_caller_id(TRUNK:NUMBER, repeatable; TRUNK: removes) "
    "anonymous_outbound(yes|no)",
    "tenant fields: e164(yes|no) international_code country_code area_code national_code "
    "e164_remove_symbols e164_remove_same_country e164_remove_duplicate_area(yes|no) "
    "max_trunk_calls(0: no limit)",
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
      write(self, admin_invalid("login timeout"), true);
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
