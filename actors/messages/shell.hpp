#pragma once
// Messages of the admin shell: lines in from a TCP connection, output back out,
// and the commands the shell session sends to tenant and extension actors.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "actors/messages/registration.hpp"

namespace pbx {

using field_list = std::vector<std::pair<std::string, std::string>>;

/// A connection was accepted from `source`: its session starts.
struct shell_opened {
  std::uint64_t conn = 0;
  flow_info source;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shell_opened& x) {
  return f(caf::meta::type_name("shell_opened"), x.conn, x.source);
}

/// A line typed into connection `conn` (without its line end).
struct shell_line {
  std::uint64_t conn = 0;
  std::string text;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shell_line& x) {
  return f(caf::meta::type_name("shell_line"), x.conn, x.text);
}

/// The client went away or half-closed: what it sent is still answered.
struct shell_closed {
  std::uint64_t conn = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shell_closed& x) {
  return f(caf::meta::type_name("shell_closed"), x.conn);
}

/// The answer to one command: data lines then OK or ERR.
struct shell_result {
  bool ok = true;
  std::string error;
  std::vector<std::string> lines;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shell_result& x) {
  return f(caf::meta::type_name("shell_result"), x.ok, x.error, x.lines);
}

/// An answer that is `ERR reason`.
inline shell_result shell_error(std::string reason) {
  return shell_result{false, std::move(reason), {}};
}

/// Tenant commands, handled by the router (add/list) and the tenant actor.
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
  std::vector<std::string> args;  // the words after DOMAIN [NUMBER]
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rules_cmd& x) {
  return f(caf::meta::type_name("rules_cmd"), x.domain, x.number, x.verb, x.sub, x.args);
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

} // namespace pbx
