#include "actors/trunk_config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

#include "actors/e164.hpp"
#include "actors/inbound_rule.hpp"
#include "actors/number_list.hpp"
#include "actors/outbound_rule.hpp"

namespace pbx::trunk_config {

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
  });
}

// `value` as a number in [lo, hi], or an error naming `key`.
std::string parse_uint(const std::string& key, const std::string& value, std::uint32_t lo,
                       std::uint32_t hi, std::uint32_t& out) {
  auto range = key + " must be " + std::to_string(lo) + "-" + std::to_string(hi);
  if (!all_digits(value) || value.size() > 9)
    return range;
  auto n = std::stoul(value);
  if (n < lo || n > hi)
    return range;
  out = static_cast<std::uint32_t>(n);
  return {};
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

// A DNS name (letters, digits, '-', '.') or an IP literal.
bool valid_host(std::string_view h) {
  if (is_ip_literal(h))
    return true;
  if (h.empty() || h.size() > 253 || h.front() == '.' || h.back() == '.' || h.front() == '-')
    return false;
  return std::all_of(h.begin(), h.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
  });
}

// host, host:port, [v6] or [v6]:port.
bool valid_host_port(std::string_view hp) {
  std::string_view host = hp, port;
  if (!hp.empty() && hp.front() == '[') {
    auto end = hp.find(']');
    if (end == std::string_view::npos)
      return false;
    host = hp.substr(1, end - 1);
    if (!is_ip_literal(host) || host.find(':') == std::string_view::npos)
      return false;
    auto rest = hp.substr(end + 1);
    if (!rest.empty()) {
      if (rest.front() != ':')
        return false;
      port = rest.substr(1);
      if (port.empty())
        return false;
    }
  } else if (auto colon = hp.find(':'); colon != std::string_view::npos) {
    if (is_ip_literal(hp)) // a bare IPv6 literal
      return true;
    host = hp.substr(0, colon);
    port = hp.substr(colon + 1);
    if (port.empty())
      return false;
  }
  if (!valid_host(host))
    return false;
  if (port.empty())
    return true;
  return all_digits(port) && port.size() <= 5 && std::stoul(std::string{port}) >= 1
         && std::stoul(std::string{port}) <= 65535;
}

// A caller ID sent to a trunk: digits, an optional leading '+', up to 32.
bool valid_caller_id(std::string_view s) {
  if (!s.empty() && s.front() == '+')
    s.remove_prefix(1);
  return all_digits(s) && s.size() <= 32;
}

// A SIP user or auth name: printable, no blanks, quotes or '@'.
bool valid_user(std::string_view s) {
  return s.size() <= 128 && std::all_of(s.begin(), s.end(), [](char c) {
           auto u = static_cast<unsigned char>(c);
           return u > 0x20 && u < 0x7f && c != '"' && c != '@' && c != '\\';
         });
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (c == ',' || c == ';' || c == ' ' || c == '\t') {
      if (!cur.empty())
        out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty())
    out.push_back(std::move(cur));
  return out;
}

// Shown as the other boolean fields are (true|false); input takes yes|no too.
std::string yes_no(bool b) { return b ? "true" : "false"; }

// The matchers name record fields ("did_numbers: ..."); the shell's names are blamed.
std::string shell_names(std::string err) {
  static const std::pair<std::string_view, std::string_view> names[] = {
    {"did_numbers", "did"},     {"cid_number_mask", "cid"}, {"number_prefix", "prefix"},
    {"number_length", "length"}, {"number_mask", "callers"}, {"routing_strategy", "strategy"},
    {"routes", "route"},        {"enabled", "e164"},        {"remove_symbols", "e164_remove_symbols"},
    {"remove_same_country", "e164_remove_same_country"},
    {"remove_duplicate_area", "e164_remove_duplicate_area"}};
  for (auto& [from, to] : names) {
    if (err.compare(0, from.size(), from) != 0)
      continue;
    auto next = err.size() > from.size() ? err[from.size()] : ' ';
    if (!std::isalnum(static_cast<unsigned char>(next)) && next != '_') // the whole word
      return std::string{to} + err.substr(from.size());
  }
  return err;
}

} // namespace

bool valid_name(std::string_view name) {
  return !name.empty() && name.size() <= 32 && std::all_of(name.begin(), name.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
         });
}

bool is_ip_literal(std::string_view text) {
  if (text.empty() || text.size() > 45)
    return false;
  std::string s{text};
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool parse_yes_no(std::string_view v, bool& out) {
  if (v == "yes" || v == "true" || v == "1") {
    out = true;
    return true;
  }
  if (v == "no" || v == "false" || v == "0") {
    out = false;
    return true;
  }
  return false;
}

std::string apply_trunk_fields(storage::trunk_record& rec, const field_list& fields) {
  auto next = rec;
  for (auto& [k, v] : fields) {
    if (k == "name") {
      return "name is the trunk's key: delete the trunk and add it under the new name";
    } else if (k == "auth_mode") {
      auto m = upper(v);
      if (m != "REGISTER_AUTH" && m != "ACCEPT_REGISTER" && m != "IP_AUTH")
        return "auth_mode must be REGISTER_AUTH, ACCEPT_REGISTER or IP_AUTH";
      next.auth_mode = m;
    } else if (k == "host") {
      if (!v.empty() && !valid_host(v))
        return "host '" + v + "' is neither a host name nor an IP address";
      next.host = lower(v);
    } else if (k == "port") {
      std::uint32_t p = 0;
      if (auto e = parse_uint(k, v, 1, 65535, p); !e.empty())
        return e;
      next.port = static_cast<std::uint16_t>(p);
    } else if (k == "transport") {
      auto t = lower(v);
      if (t != "udp" && t != "tcp")
        return "transport must be udp or tcp";
      next.transport = t;
    } else if (k == "outbound_proxy") {
      if (!v.empty() && !valid_host_port(v))
        return "outbound_proxy must be HOST or HOST:PORT (port 1-65535)";
      next.outbound_proxy = lower(v);
    } else if (k == "username" || k == "auth_username") {
      if (!valid_user(v))
        return k + " must be up to 128 printable characters without blanks, quotes or '@'";
      (k == "username" ? next.username : next.auth_username) = v;
    } else if (k == "password") {
      if (v.size() > 128)
        return "password must be up to 128 characters";
      next.password = v;
    } else if (k == "register_interval") {
      if (auto e = parse_uint(k, v, 60, 3600, next.register_interval); !e.empty())
        return e;
    } else if (k == "keep_alive_interval") {
      if (auto e = parse_uint(k, v, 10, 3600, next.keep_alive_interval); !e.empty())
        return e;
    } else if (k == "max_calls") {
      if (auto e = parse_uint(k, v, 0, 100000, next.max_calls); !e.empty())
        return e;
    } else if (k == "keep_alive" || k == "diversion" || k == "keep_caller_id" || k == "enabled") {
      bool b = false;
      if (!parse_yes_no(v, b))
        return k + " must be yes or no";
      (k == "keep_alive"       ? next.keep_alive
       : k == "diversion"      ? next.diversion
       : k == "keep_caller_id" ? next.keep_caller_id
                               : next.enabled) = b;
    } else if (k == "source_ips") {
      std::vector<std::string> ips;
      for (auto& ip : split_list(v)) {
        if (!is_ip_literal(ip))
          return "source_ips: '" + ip + "' is not an IP address";
        if (std::find(ips.begin(), ips.end(), ip) == ips.end())
          ips.push_back(ip);
      }
      if (ips.size() > 32)
        return "source_ips: at most 32 addresses";
      next.source_ips = std::move(ips);
    } else if (k == "did_pool") {
      std::string err;
      auto pool = number_list::parse_pool(v, err);
      if (!pool)
        return "did_pool: " + err;
      next.did_pool = number_list::format(*pool);
    } else if (k == "did_in") {
      if (v != "to" && v != "request_uri")
        return "did_in must be to or request_uri";
      next.did_in_request_uri = v == "request_uri";
    } else if (k == "caller_id") {
      if (!v.empty() && !valid_caller_id(v))
        return "caller_id must be a number: digits with an optional leading +, up to 32";
      next.caller_id = v;
    } else {
      return "unknown field '" + k + "'";
    }
  }
  rec = std::move(next);
  return {};
}

std::string check_trunk(const storage::trunk_record& rec) {
  if (rec.auth_mode == "REGISTER_AUTH") {
    if (rec.host.empty())
      return "host is required by REGISTER_AUTH";
    if (rec.username.empty())
      return "username is required by REGISTER_AUTH";
    if (rec.password.empty())
      return "password is required by REGISTER_AUTH";
  } else if (rec.auth_mode == "ACCEPT_REGISTER") {
    if (rec.username.empty())
      return "username is required by ACCEPT_REGISTER (the gateway registers with it)";
    if (rec.password.empty())
      return "password is required by ACCEPT_REGISTER";
  } else if (rec.auth_mode == "IP_AUTH") {
    if (rec.source_ips.empty() && !is_ip_literal(rec.host))
      return rec.host.empty()
               ? "host is required by IP_AUTH (an IP address), or source_ips"
               : "host must be an IP address for IP_AUTH (calls are accepted by source "
                 "address), or list the provider's addresses in source_ips";
  } else {
    return "auth_mode must be REGISTER_AUTH, ACCEPT_REGISTER or IP_AUTH";
  }
  return {};
}

field_list describe_trunk(const storage::trunk_record& r) {
  std::string ips;
  for (auto& ip : r.source_ips)
    ips += (ips.empty() ? "" : ",") + ip;
  return {{"name", r.name},
          {"auth_mode", r.auth_mode},
          {"host", r.host},
          {"port", std::to_string(r.port)},
          {"transport", r.transport},
          {"outbound_proxy", r.outbound_proxy},
          {"username", r.username},
          {"auth_username", r.auth_username},
          {"password", r.password.empty() ? "" : "***"},
          {"register_interval", std::to_string(r.register_interval)},
          {"keep_alive", yes_no(r.keep_alive)},
          {"keep_alive_interval", std::to_string(r.keep_alive_interval)},
          {"source_ips", ips},
          {"did_pool", r.did_pool},
          {"max_calls", std::to_string(r.max_calls)},
          {"did_in", r.did_in_request_uri ? "request_uri" : "to"},
          {"diversion", yes_no(r.diversion)},
          {"keep_caller_id", yes_no(r.keep_caller_id)},
          {"caller_id", r.caller_id},
          {"enabled", yes_no(r.enabled)}};
}

std::string pool_conflict(const storage::trunk_record& rec,
                          const std::vector<storage::trunk_record>& all) {
  if (rec.host.empty() || rec.did_pool.empty())
    return {};
  std::string err;
  auto mine = number_list::parse_pool(rec.did_pool, err);
  if (!mine)
    return {};  // apply_trunk_fields refused it already
  auto host = lower(rec.host);
  for (auto& other : all) {
    if (other.domain == rec.domain && other.name == rec.name)
      continue;
    if (other.did_pool.empty() || lower(other.host) != host)
      continue;
    auto theirs = number_list::parse_pool(other.did_pool, err);
    if (theirs && number_list::overlaps(*mine, *theirs))
      return "did_pool " + rec.did_pool + " overlaps the pool " + other.did_pool + " of trunk "
             + other.name + " of tenant " + other.domain + " (same host " + host + ")";
  }
  return {};
}

std::string apply_inbound_fields(storage::inbound_rule_record& rec, const field_list& fields) {
  auto next = rec;
  bool office = false, outside = false, holiday = false;
  for (auto& [k, v] : fields) {
    if (k == "trunk") {
      if (!valid_name(v))
        return "trunk must be a trunk's name";
      next.trunk = v;
    } else if (k == "did") {
      next.did_numbers = v;
    } else if (k == "cid") {
      next.cid_number_mask = v;
    } else if (k == "office" || k == "outside" || k == "holiday") {
      std::string err;
      auto d = inbound_rule::parse_destination(v, err);
      if (!d)
        return k + ": " + err;
      (k == "office" ? next.office : k == "outside" ? next.outside : next.holiday) = *d;
      (k == "office" ? office : k == "outside" ? outside : holiday) = true;
    } else if (k == "name") {
      return "name is the rule's key";
    } else {
      return "unknown field '" + k + "'";
    }
  }
  if (next.trunk.empty())
    return "trunk is required";
  if (next.did_numbers.empty())
    return "did is required";
  if (!office)
    return "office is required (the destination in office hours)";
  // Spec 15.2 gives three destinations; one given alone serves all three.
  if (!outside)
    next.outside = next.office;
  if (!holiday)
    next.holiday = next.office;
  rec = std::move(next);
  return {};
}

std::string check_inbound(const storage::inbound_rule_record& rec,
                          const storage::trunk_record& trunk) {
  return shell_names(inbound_rule::validate(rec, trunk));
}

field_list describe_inbound(const storage::inbound_rule_record& r) {
  return {{"name", r.name},
          {"trunk", r.trunk},
          {"did", r.did_numbers},
          {"cid", r.cid_number_mask},
          {"office", inbound_rule::format_destination(r.office)},
          {"outside", inbound_rule::format_destination(r.outside)},
          {"holiday", inbound_rule::format_destination(r.holiday)}};
}

namespace {

std::string parse_route(const std::string& v, storage::outbound_route& out) {
  std::vector<std::string> parts;
  std::size_t pos = 0;
  while (true) {
    auto colon = v.find(':', pos);
    parts.push_back(v.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos));
    if (colon == std::string::npos)
      break;
    pos = colon + 1;
  }
  if (parts.size() > 4)
    return "route '" + v + "' must be TRUNK[:STRIP[:PREPEND[:CALLER_ID]]]";
  storage::outbound_route r;
  r.trunk = parts[0];
  if (!valid_name(r.trunk))
    return "route '" + v + "': TRUNK must be a trunk's name";
  if (parts.size() > 1 && !parts[1].empty()) {
    if (!all_digits(parts[1]) || parts[1].size() > 1)
      return "route '" + v + "': STRIP must be 0-9 digits to strip";
    r.strip_digits = static_cast<std::uint32_t>(std::stoul(parts[1]));
  }
  if (parts.size() > 2)
    r.prepend = parts[2];
  if (parts.size() > 3) {
    if (!parts[3].empty() && !valid_caller_id(parts[3]))
      return "route '" + v + "': CALLER_ID must be a number (digits, optional leading +)";
    r.outbound_caller_id = parts[3];
  }
  out = std::move(r);
  return {};
}

} // namespace

std::string apply_outbound_fields(storage::outbound_rule_record& rec, const field_list& fields) {
  auto next = rec;
  std::vector<storage::outbound_route> routes;
  bool any_route = false;
  for (auto& [k, v] : fields) {
    if (k == "priority") {
      if (auto e = parse_uint(k, v, 0, 99999, next.priority); !e.empty())
        return e;
    } else if (k == "prefix") {
      next.number_prefix = v;
    } else if (k == "length") {
      next.number_length = v;
    } else if (k == "callers") {
      next.number_mask = v;
    } else if (k == "strategy") {
      auto s = upper(v);
      if (s != "PRIORITIZED" && s != "RANDOMLY")
        return "strategy must be PRIORITIZED or RANDOMLY";
      next.routing_strategy = s;
    } else if (k == "outside_hours" || k == "holidays") {
      if (v != "allow" && v != "deny")
        return k + " must be allow or deny";
      (k == "outside_hours" ? next.disable_outside_hours : next.disable_on_holidays) =
        v == "deny";
    } else if (k == "route") {
      any_route = true;
      if (routes.size() >= outbound_rule::max_routes)
        return "route: at most " + std::to_string(outbound_rule::max_routes) + " routes";
      storage::outbound_route r;
      if (auto e = parse_route(v, r); !e.empty())
        return e;
      routes.push_back(std::move(r));
    } else if (k == "name") {
      return "name is the rule's key";
    } else {
      return "unknown field '" + k + "'";
    }
  }
  if (any_route)
    next.routes = std::move(routes);
  rec = std::move(next);
  return {};
}

std::string check_outbound(const storage::outbound_rule_record& rec) {
  if (rec.routes.empty())
    return "route is required: route=TRUNK[:STRIP[:PREPEND[:CALLER_ID]]]";
  return shell_names(outbound_rule::validate(rec));
}

std::string format_route(const storage::outbound_route& r) {
  std::vector<std::string> parts{r.trunk, std::to_string(r.strip_digits), r.prepend,
                                 r.outbound_caller_id};
  while (parts.size() > 1 && (parts.back().empty() || (parts.size() == 2 && parts.back() == "0")))
    parts.pop_back();
  std::string out;
  for (auto& p : parts)
    out += (out.empty() ? "" : ":") + p;
  return out;
}

field_list describe_outbound(const storage::outbound_rule_record& r) {
  std::string routes;
  for (auto& route : r.routes)
    routes += (routes.empty() ? "" : ",") + format_route(route);
  return {{"name", r.name},
          {"priority", std::to_string(r.priority)},
          {"prefix", r.number_prefix},
          {"length", r.number_length},
          {"callers", r.number_mask},
          {"strategy", r.routing_strategy},
          {"outside_hours", r.disable_outside_hours ? "deny" : "allow"},
          {"holidays", r.disable_on_holidays ? "deny" : "allow"},
          {"routes", routes}};
}

std::string apply_tenant_trunk_field(storage::e164_record& e, std::uint32_t& max_trunk_calls,
                                     const std::string& k, const std::string& v, bool& known) {
  known = true;
  bool* flag = k == "e164"                         ? &e.enabled
               : k == "e164_remove_symbols"        ? &e.remove_symbols
               : k == "e164_remove_same_country"   ? &e.remove_same_country
               : k == "e164_remove_duplicate_area" ? &e.remove_duplicate_area
                                                   : nullptr;
  if (flag) {
    if (!parse_yes_no(v, *flag))
      return k + " must be yes or no";
    return {};
  }
  std::string* code = k == "international_code" ? &e.international_code
                      : k == "country_code"     ? &e.country_code
                      : k == "area_code"        ? &e.area_code
                      : k == "national_code"    ? &e.national_code
                                                : nullptr;
  if (code) {
    if (!v.empty() && (!all_digits(v) || v.size() > 6))
      return k + " must be digits (up to 6)";
    *code = v;
    return {};
  }
  if (k == "max_trunk_calls")
    return parse_uint(k, v, 0, 100000, max_trunk_calls);
  known = false;
  return {};
}

std::string check_e164(const storage::e164_record& e164) {
  return shell_names(e164::validate(e164));
}

field_list describe_tenant_trunk_fields(const storage::e164_record& e,
                                        std::uint32_t max_trunk_calls) {
  return {{"e164", yes_no(e.enabled)},
          {"international_code", e.international_code},
          {"country_code", e.country_code},
          {"area_code", e.area_code},
          {"national_code", e.national_code},
          {"e164_remove_symbols", yes_no(e.remove_symbols)},
          {"e164_remove_same_country", yes_no(e.remove_same_country)},
          {"e164_remove_duplicate_area", yes_no(e.remove_duplicate_area)},
          {"max_trunk_calls", std::to_string(max_trunk_calls)}};
}

std::string apply_outbound_caller_ids(std::vector<storage::outbound_caller_id>& ids,
                                      std::string_view value) {
  auto next = ids;
  std::string text{value};
  std::size_t pos = 0;
  do {
    auto comma = text.find(',', pos);
    auto item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? std::string::npos : comma + 1;
    auto colon = item.find(':');
    if (colon == std::string::npos)
      return "outbound_caller_id must be TRUNK:NUMBER (TRUNK: alone removes it)";
    auto trunk = item.substr(0, colon), number = item.substr(colon + 1);
    if (!valid_name(trunk))
      return "outbound_caller_id: '" + trunk + "' is not a trunk's name";
    if (!number.empty() && !valid_caller_id(number))
      return "outbound_caller_id: '" + number + "' is not a number";
    auto i = std::find_if(next.begin(), next.end(),
                          [&](const storage::outbound_caller_id& c) { return c.trunk == trunk; });
    if (number.empty()) {
      if (i != next.end())
        next.erase(i);
    } else if (i != next.end()) {
      i->caller_id = number;
    } else {
      next.push_back({trunk, number});
    }
  } while (pos != std::string::npos);
  if (next.size() > 64)
    return "outbound_caller_id: at most 64 trunks";
  ids = std::move(next);
  return {};
}

std::string format_outbound_caller_ids(const std::vector<storage::outbound_caller_id>& ids) {
  std::string out;
  for (auto& c : ids)
    out += (out.empty() ? "" : ",") + c.trunk + ":" + c.caller_id;
  return out;
}

} // namespace pbx::trunk_config
