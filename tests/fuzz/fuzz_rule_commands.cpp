// Admin shell lines of the forwarding domain (status, forward, hours,
// holiday, exception, fac, explain), one per input line, against one tenant
// and its extensions as the tenant and extension actors would run them.
// rule_commands.hpp promises that a bad command changes nothing, and
// `changed` is what makes the actors store a change: so a record may differ
// after a command only when it succeeded and said `changed`.

#include <chrono>
#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <string_view>

#include <cereal/archives/binary.hpp>

#include "actors/rule_commands.hpp"
#include "actors/shell_syntax.hpp"

using namespace pbx;

namespace {

template <class Record>
std::string bytes_of(const Record& r) {
  std::ostringstream out;
  {
    cereal::BinaryOutputArchive ar(out);
    ar(r);
  }
  return out.str();
}

void check(bool ok) {
  if (!ok)
    __builtin_trap();
}

struct world {
  storage::tenant_record tenant;
  std::map<std::string, storage::extension_record> exts;
};

void explain(world& w, const rules_cmd& cmd) {
  std::string caller;
  std::chrono::system_clock::time_point at;
  if (!rule_commands::explain_args(cmd, caller, at).empty())
    return;
  if (cmd.args.size() < 2)  // "now" otherwise: a fixed moment keeps runs repeatable
    at = std::chrono::system_clock::time_point{std::chrono::seconds{1774774800}};
  auto it = w.exts.find(cmd.number);
  if (it == w.exts.end())
    return;
  forwarding::call_facts facts;
  facts.caller = caller;
  facts.at = at;
  auto lookup = [&](const std::string& number) -> std::optional<rule_commands::explain_target> {
    auto e = w.exts.find(number);
    if (e == w.exts.end())
      return std::nullopt;
    return rule_commands::explain_target{e->second, true};
  };
  auto r = rule_commands::explain(it->second, w.tenant, facts, lookup);
  check(r.ok && !r.records.empty());
}

void one_line(world& w, std::string_view line) {
  auto words = shell::split_words(line);
  if (!words || words->empty() || !rule_commands::is_rules_verb((*words)[0]))
    return;
  rules_cmd cmd;
  if (!rule_commands::route(*words, cmd).empty())
    return;
  if (cmd.verb == "explain")
    return explain(w, cmd);
  bool changed = false;
  admin_reply r;
  // Compared (slowly, through cereal) only when a change is not allowed.
  if (cmd.number.empty()) {
    auto before = w.tenant;
    r = rule_commands::on_tenant(cmd, w.tenant, changed);
    check((r.ok && changed) || bytes_of(w.tenant) == bytes_of(before));
  } else {
    // A few extensions: enough for forwards to follow each other.
    if (!w.exts.count(cmd.number) && w.exts.size() >= 8)
      return;
    auto& ext = w.exts[cmd.number];
    ext.number = cmd.number;
    auto before = ext;
    rule_commands::line_facts facts;
    facts.devices = 1;
    r = rule_commands::on_extension(cmd, ext, facts, changed);
    check((r.ok && changed) || bytes_of(ext) == bytes_of(before));
  }
  check(r.ok || !changed);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  world w;
  w.tenant.domain = "fuzz.example.test";
  w.tenant.timezone = "Europe/Berlin";
  std::string_view in{reinterpret_cast<const char*>(data), size};
  while (!in.empty()) {
    auto end = in.find('\n');
    one_line(w, in.substr(0, end));
    if (end == std::string_view::npos)
      break;
    in.remove_prefix(end + 1);
  }
  return 0;
}
