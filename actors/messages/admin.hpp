#pragma once
// The typed admin layer: who asks (a principal), what they ask (one request
// struct per operation) and the answer (records or a typed error). The shell
// and the REST API are front ends of it: they turn words or JSON into these
// requests and the reply into lines or JSON. Requests go to the admin actor
// (actors/admin.hpp) as the pair (admin_principal, REQUEST); it checks the
// role, dispatches to the actor that owns the data and writes the audit log.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace pbx {

/// A record: named values in a fixed order (the shell prints them as
/// key=value, the API as a JSON object typed by actors/admin_schema.hpp).
using field_list = std::vector<std::pair<std::string, std::string>>;

/// Why a request failed; each front end maps it (HTTP: 400 404 409 403 401
/// 413 415 500).
enum class admin_errc : std::uint8_t {
  none,
  invalid,      // a bad value or shape; `field` names the field when one is to blame
  not_found,    // no such tenant, extension, holiday, message, call
  conflict,     // exists already, or a code another feature holds
  forbidden,    // the principal's role does not allow it
  unauthorized, // no or a bad login
  too_large,
  unsupported,  // a media type the operation does not take
  internal,     // storage or a timeout inside the node
};

const char* to_string(admin_errc code);

/// The answer to every admin request.
struct admin_reply {
  bool ok = true;
  admin_errc code = admin_errc::none;
  std::string field;                // the offending field, when one is to blame
  std::string error;                // the reason (the shell's `ERR` text)
  std::vector<field_list> records;  // the data, one record per item
  std::vector<std::string> notes;   // free lines: help, every bad import line
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, admin_reply& x) {
  return f(caf::meta::type_name("admin_reply"), x.ok, x.code, x.field, x.error, x.records,
           x.notes);
}

inline admin_reply admin_fail(admin_errc code, std::string reason, std::string field = {}) {
  admin_reply r;
  r.ok = false;
  r.code = code;
  r.error = std::move(reason);
  r.field = std::move(field);
  return r;
}

/// `invalid`: a bad request. Without `field`, the field the reason starts
/// with is blamed ("timeout must be 5-600 seconds": timeout).
admin_reply admin_invalid(std::string reason, std::string field = {});

inline admin_reply admin_not_found(std::string reason) {
  return admin_fail(admin_errc::not_found, std::move(reason));
}

inline admin_reply admin_conflict(std::string reason, std::string field = {}) {
  return admin_fail(admin_errc::conflict, std::move(reason), std::move(field));
}

inline admin_reply admin_records(std::vector<field_list> records) {
  admin_reply r;
  r.records = std::move(records);
  return r;
}

/// Who asks. The shell's admin login is `system`; the API's login gives
/// `tenant_admin` to an extension with role=admin and `user` to role=user.
enum class admin_role : std::uint8_t { system, tenant_admin, user };

struct admin_principal {
  admin_role role = admin_role::system;
  std::string domain;  // tenant_admin, user
  std::string number;  // tenant_admin, user: their extension
  std::string via;     // "shell IP" or "api IP": for the audit log
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, admin_principal& x) {
  return f(caf::meta::type_name("admin_principal"), x.role, x.domain, x.number, x.via);
}

/// "admin", or "201@example.test": the audit log's `who`.
std::string principal_name(const admin_principal& who);

// ---- reads, answered through the owner of the data ------------------------

/// `tenant list` (domain empty) or `tenant show DOMAIN`.
struct tenant_query {
  std::string domain;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tenant_query& x) {
  return f(caf::meta::type_name("tenant_query"), x.domain);
}

/// `extension show` (number set) or `extension list` (paged: up to `limit`
/// records after the number `after`; limit 0 = all).
struct extension_query {
  std::string domain;
  std::string number;
  std::size_t limit = 0;
  std::string after;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, extension_query& x) {
  return f(caf::meta::type_name("extension_query"), x.domain, x.number, x.limit, x.after);
}

/// `registrations DOMAIN [NUMBER]`.
struct registrations_query {
  std::string domain;
  std::string number;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, registrations_query& x) {
  return f(caf::meta::type_name("registrations_query"), x.domain, x.number);
}

/// `cdr DOMAIN [limit=N] [extension=NUMBER] [before=CALL_ID]`, newest first.
/// `before` pages: records older than that CDR id.
struct cdr_query {
  std::string domain;
  std::size_t limit = 20;
  std::string extension;
  std::string before;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cdr_query& x) {
  return f(caf::meta::type_name("cdr_query"), x.domain, x.limit, x.extension, x.before);
}

/// `calls [DOMAIN]`: live calls.
struct calls_query {
  std::string domain;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, calls_query& x) {
  return f(caf::meta::type_name("calls_query"), x.domain);
}

/// `hangup CALL_ID`; with `domain` set the call must be that tenant's.
struct hangup_cmd {
  std::string call_id;
  std::string domain;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, hangup_cmd& x) {
  return f(caf::meta::type_name("hangup_cmd"), x.call_id, x.domain);
}

/// `stats`.
struct stats_query {
  bool unused = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stats_query& x) {
  return f(caf::meta::type_name("stats_query"), x.unused);
}

/// `cluster status`: the members etcd lists and etcd's state (engine/membership.hpp).
struct cluster_status_query {
  bool unused = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_status_query& x) {
  return f(caf::meta::type_name("cluster_status_query"), x.unused);
}

/// `admin password NEW`.
struct admin_password_set {
  std::string password;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, admin_password_set& x) {
  return f(caf::meta::type_name("admin_password_set"), x.password);
}

/// `audit [DOMAIN] [limit=N]`: the change log, newest first. Records:
/// `time= who= via= domain= what=`.
struct audit_query {
  std::string domain;
  std::size_t limit = 50;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, audit_query& x) {
  return f(caf::meta::type_name("audit_query"), x.domain, x.limit);
}

/// `extension import`: either CSV text (RFC 4180, the first record naming
/// the fields) or rows already split into fields (a JSON array: row_lines
/// holds each item's index + 1). Every row is checked first: one bad row and
/// nothing is imported (notes: `line N: reason` per bad row, in order).
/// Success: one record `imported=N`.
struct extension_import {
  std::string domain;
  std::string csv;
  std::vector<field_list> rows;
  std::vector<std::size_t> row_lines;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, extension_import& x) {
  return f(caf::meta::type_name("extension_import"), x.domain, x.csv, x.rows, x.row_lines);
}

// ---- changes ----------------------------------------------------------------

/// `tenant add`, handled by the router (it creates tenants).
struct tenant_add {
  std::string domain;
  field_list fields;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tenant_add& x) {
  return f(caf::meta::type_name("tenant_add"), x.domain, x.fields);
}

/// `tenant set DOMAIN field=value...`, handled by the tenant actor.
struct tenant_set {
  std::string domain;
  field_list fields;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tenant_set& x) {
  return f(caf::meta::type_name("tenant_set"), x.domain, x.fields);
}

struct tenant_del {
  std::string domain;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tenant_del& x) {
  return f(caf::meta::type_name("tenant_del"), x.domain);
}

/// Extension commands, routed router -> tenant -> extension.
enum class extension_op : std::uint8_t { add, set, del, copy, import };

struct extension_cmd {
  extension_op op = extension_op::add;
  std::string domain;
  std::string number;     // add/set/del; copy: source
  std::string target;     // copy: the new number
  field_list fields;      // add/set/copy
  std::vector<field_list> rows;  // import: one field list per CSV line
  std::vector<std::size_t> row_lines;  // import: the input line of each row
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, extension_cmd& x) {
  return f(caf::meta::type_name("extension_cmd"), x.op, x.domain, x.number,
           x.target, x.fields, x.rows, x.row_lines);
}

/// Forwarding-domain commands (status, forward, hours, holiday, exception,
/// fac, explain): routed router -> tenant -> the extension `number`, or
/// handled by the tenant itself when `number` is empty.
struct rules_cmd {
  std::string domain;
  std::string number;
  std::string verb, sub;          // e.g. "forward" "set"; explain: "explain" ""
  std::vector<std::string> args;  // positional words: SLOT, status, ID, FEATURE CODE, FROM
  field_list fields;              // the key=value part (action=, note=, mon=, at=...)
  // Filled in by the extension's tenant, which holds its bindings and its line:
  std::uint32_t devices = 0;      // live bindings
  bool on_call = false, ringing = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rules_cmd& x) {
  return f(caf::meta::type_name("rules_cmd"), x.domain, x.number, x.verb, x.sub, x.args,
           x.fields, x.devices, x.on_call, x.ringing);
}

/// Mailbox commands, routed router -> tenant -> the extension that owns the
/// mailbox. The retention sweep sends `expire` the same way.
struct voicemail_cmd {
  std::string domain;
  std::string number;
  std::string verb; // list | del | play | greeting_set | greeting_reset | expire
  std::string arg;  // del/play/expire: the message id; greeting_set: a WAV file
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, voicemail_cmd& x) {
  return f(caf::meta::type_name("voicemail_cmd"), x.domain, x.number, x.verb, x.arg);
}

/// `DELETE /api/tokens?user=U`: the API actor holds the tokens; the admin
/// actor says whether `who` may revoke U's (system: anyone; a tenant admin:
/// its tenant's extensions) and audits it. Success: one record `user=` (U
/// normalized: NUMBER@lower-case domain, or admin).
struct token_revoke {
  std::string user;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, token_revoke& x) {
  return f(caf::meta::type_name("token_revoke"), x.user);
}

/// `trunk status DOMAIN`: one record per trunk of the tenant, from its trunk
/// actor (name auth_mode enabled state registered_until last_register_code
/// last_register_reason next_register_at options last_options_code
/// last_options_at online calls max_calls).
struct trunk_status_query {
  std::string domain;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, trunk_status_query& x) {
  return f(caf::meta::type_name("trunk_status_query"), x.domain);
}

/// `trunk add|set|del|show|list DOMAIN [NAME] key=value...`: a SIP trunk of a
/// tenant (storage/trunk_records.hpp), owned by the tenant actor. The router
/// checks a new DID pool against every other tenant's trunks to the same host.
struct trunk_cmd {
  std::string verb;  // add | set | del | show | list
  std::string domain;
  std::string name;
  field_list fields;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, trunk_cmd& x) {
  return f(caf::meta::type_name("trunk_cmd"), x.verb, x.domain, x.name, x.fields);
}

/// `inbound add|del|list DOMAIN [NAME] key=value...`: an inbound rule.
struct inbound_cmd {
  std::string verb;  // add | del | list
  std::string domain;
  std::string name;
  field_list fields;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, inbound_cmd& x) {
  return f(caf::meta::type_name("inbound_cmd"), x.verb, x.domain, x.name, x.fields);
}

/// `outbound add|set|del|list DOMAIN [NAME] key=value...`: an outbound rule
/// (`route=` may repeat: the routes in order).
struct outbound_cmd {
  std::string verb;  // add | set | del | list
  std::string domain;
  std::string name;
  field_list fields;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, outbound_cmd& x) {
  return f(caf::meta::type_name("outbound_cmd"), x.verb, x.domain, x.name, x.fields);
}

// ---- logins ----------------------------------------------------------------

/// A login: `admin` with the admin password, or `NUMBER@DOMAIN` with the
/// extension's web password. Answered by the admin actor with login_result;
/// the front end reports failures to the security actor (bans, backoff).
struct login_check {
  std::string user;
  std::string password;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, login_check& x) {
  return f(caf::meta::type_name("login_check"), x.user, x.password);
}

struct login_result {
  bool ok = false;
  admin_principal who;  // role, domain, number (via is the front end's to fill)
  std::string reason;   // why not: "wrong password", "no web password", "disabled"...
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, login_result& x) {
  return f(caf::meta::type_name("login_result"), x.ok, x.who, x.reason);
}

/// What a web login needs of an extension (the tenant answers from its record).
struct web_login_query {
  std::string domain;
  std::string number;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, web_login_query& x) {
  return f(caf::meta::type_name("web_login_query"), x.domain, x.number);
}

struct web_credentials {
  bool found = false;
  bool enabled = false;
  std::string role;           // user | admin
  std::string password_hash;  // the web password's PBKDF2, empty: no web login
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, web_credentials& x) {
  return f(caf::meta::type_name("web_credentials"), x.found, x.enabled, x.role,
           x.password_hash);
}

} // namespace pbx
