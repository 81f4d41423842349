#include "engine/metrics.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <mutex>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/forwarding.hpp"
#include "engine/context.hpp"
#include "engine/directory.hpp"

namespace pbx {

namespace metrics {

namespace {

using counter = std::atomic<std::uint64_t>;
constexpr auto relaxed = std::memory_order_relaxed;

// One counter per status code 100..699 (SIP's range; HTTP's fits in it).
struct code_counters {
  static constexpr std::uint16_t first = 100;
  static constexpr std::uint16_t last = 699;
  std::array<counter, last - first + 1> n;
  void add(std::uint16_t code) {
    if (code >= first && code <= last)
      n[code - first].fetch_add(1, relaxed);
  }
};

// Upper bounds of actorpbx_lmdb_commit_seconds' buckets: a commit syncs
// to disk, from ~100 us (fast SSD) to seconds (a stalled disk).
constexpr std::array<std::uint64_t, 14> commit_bounds_ns = {
  100'000,    250'000,     500'000,     1'000'000,   2'500'000,   5'000'000,     10'000'000,
  25'000'000, 50'000'000, 100'000'000, 250'000'000, 500'000'000, 1'000'000'000, 2'500'000'000};

struct histogram {
  std::array<counter, commit_bounds_ns.size() + 1> buckets; // the last: above every bound
  counter sum_ns;
};

constexpr std::size_t exception_index = storage::forward_slot_count;
constexpr std::size_t lag_samples = 1000 / sip_lag_period_ms; // one second of ticks

std::uint64_t steady_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::steady_clock::now().time_since_epoch())
                                      .count());
}

// Static storage: every atomic starts at zero.
code_counters register_responses_, calls_, api_;
std::array<counter, storage::forward_slot_count + 1> decisions_;
histogram commits_;
std::atomic<std::int64_t> registrations_;
std::array<counter, lag_samples> lag_;
counter lag_ticks_;
counter last_tick_ns_; // steady clock; 0: the timer never fired

// The mailbox probe rounds: answers only come once per actor per round.
constexpr std::size_t busiest = 5;
struct probe_rounds {
  std::mutex mtx;
  std::uint64_t round = 0;
  std::chrono::steady_clock::time_point started{};
  std::vector<std::pair<std::string, std::size_t>> top; // this round's busiest, unsorted
} probes_;

} // namespace

void register_response(std::uint16_t code) { register_responses_.add(code); }
void call_ended(std::uint16_t code) { calls_.add(code); }
void api_request(std::uint16_t status) { api_.add(status); }

void rule_decision(std::string_view slot) {
  if (slot.rfind("exception", 0) == 0) {
    decisions_[exception_index].fetch_add(1, relaxed);
  } else if (auto s = forwarding::parse_slot(slot)) {
    decisions_[static_cast<std::size_t>(*s)].fetch_add(1, relaxed);
  }
}

void lmdb_commit(std::uint64_t ns) {
  std::size_t i = 0;
  while (i < commit_bounds_ns.size() && ns > commit_bounds_ns[i])
    ++i;
  commits_.buckets[i].fetch_add(1, relaxed);
  commits_.sum_ns.fetch_add(ns, relaxed);
}

void sip_loop_lag(std::uint64_t ns) {
  // One writer (the SIP thread): the ring needs no more than relaxed stores.
  auto i = lag_ticks_.fetch_add(1, relaxed) % lag_samples;
  lag_[i].store(ns, relaxed);
  last_tick_ns_.store(steady_ns(), relaxed);
}

std::int64_t registrations() { return std::max<std::int64_t>(0, registrations_.load(relaxed)); }

binding_share::~binding_share() {
  registrations_.fetch_sub(static_cast<std::int64_t>(n_), relaxed);
}

void binding_share::set(std::size_t bindings) {
  registrations_.fetch_add(static_cast<std::int64_t>(bindings) - static_cast<std::int64_t>(n_),
                           relaxed);
  n_ = bindings;
}

void answer(const mailbox_probe& p, std::size_t depth) {
  if (depth == 0)
    return;
  std::lock_guard<std::mutex> guard{probes_.mtx};
  if (p.round != probes_.round)
    return; // a round that was rendered already
  auto& top = probes_.top;
  if (top.size() < busiest) {
    top.emplace_back(p.actor, depth);
    return;
  }
  auto least = std::min_element(top.begin(), top.end(),
                                [](auto& a, auto& b) { return a.second < b.second; });
  if (depth > least->second)
    *least = {p.actor, depth};
}

void reset() {
  for (auto* c : {&register_responses_, &calls_, &api_})
    for (auto& n : c->n)
      n.store(0);
  for (auto& n : decisions_)
    n.store(0);
  for (auto& n : commits_.buckets)
    n.store(0);
  commits_.sum_ns.store(0);
  registrations_.store(0);
  for (auto& n : lag_)
    n.store(0);
  lag_ticks_.store(0);
  last_tick_ns_.store(0);
  std::lock_guard<std::mutex> guard{probes_.mtx};
  probes_.top.clear();
  probes_.started = {};
  ++probes_.round;
}

namespace {

// -- the text format

// Seconds as an exact decimal: 1500000 ns -> "0.0015".
std::string seconds(std::uint64_t ns) {
  auto s = std::to_string(ns / 1'000'000'000);
  auto frac = std::to_string(ns % 1'000'000'000);
  frac.insert(0, 9 - frac.size(), '0');
  while (!frac.empty() && frac.back() == '0')
    frac.pop_back();
  if (!frac.empty())
    s += "." + frac;
  return s;
}

// A label value: backslash, double quote and line feed escaped.
std::string escaped(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

void family(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

// `label` empty: no labels.
void sample(std::string& out, std::string_view name, std::string_view label,
            std::string_view value, std::string_view v) {
  out += name;
  if (!label.empty()) {
    out += '{';
    out += label;
    out += "=\"";
    out += escaped(value);
    out += "\"}";
  }
  out += ' ';
  out += v;
  out += '\n';
}

void by_code(std::string& out, const char* name, const char* label, const code_counters& c) {
  for (std::size_t i = 0; i < c.n.size(); ++i)
    if (auto v = c.n[i].load(relaxed))
      sample(out, name, label, std::to_string(code_counters::first + i), std::to_string(v));
}

// This round's busiest actors (largest first); a new round starts, at most
// one a second, and its probes go out.
std::vector<std::pair<std::string, std::size_t>>
probe_round(const std::vector<std::pair<std::string, caf::actor>>& actors) {
  std::vector<std::pair<std::string, std::size_t>> top;
  std::uint64_t round = 0;
  {
    std::lock_guard<std::mutex> guard{probes_.mtx};
    top = probes_.top;
    auto now = std::chrono::steady_clock::now();
    if (probes_.started != std::chrono::steady_clock::time_point{}
        && now - probes_.started < std::chrono::seconds(1))
      round = 0; // too soon: the current round goes on
    else {
      probes_.top.clear();
      probes_.started = now;
      round = ++probes_.round;
    }
  }
  std::sort(top.begin(), top.end(), [](auto& a, auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (round != 0)
    for (auto& [key, a] : actors)
      caf::anon_send<caf::message_priority::high>(a, mailbox_probe{round, key});
  return top;
}

} // namespace

} // namespace metrics

std::string metrics_text(node_context& ctx, caf::actor_system& sys) {
  using namespace metrics;
  std::vector<std::pair<std::string, caf::actor>> domain;
  std::size_t tenants = 0, extensions = 0, calls = 0;
  if (ctx.dir)
    for (auto& e : ctx.dir->entries("")) {
      auto kind = std::string_view{e.first}.substr(0, 2);
      if (kind != "t/" && kind != "e/" && kind != "c/")
        continue;
      tenants += kind == "t/";
      extensions += kind == "e/";
      calls += kind == "c/";
      domain.push_back(std::move(e));
    }
  auto busiest_now = probe_round(domain);

  std::string out;
  out.reserve(4096);
  family(out, "actorpbx_registrations", "gauge", "Live bindings (registered contacts) on the node.");
  sample(out, "actorpbx_registrations", {}, {},
         std::to_string(std::max<std::int64_t>(0, registrations_.load(relaxed))));

  family(out, "actorpbx_calls_live", "gauge", "Calls in progress.");
  sample(out, "actorpbx_calls_live", {}, {}, std::to_string(calls));

  family(out, "actorpbx_calls_total", "counter",
         "Calls ended, by the final SIP code the caller got (200 = answered).");
  by_code(out, "actorpbx_calls_total", "code", calls_);

  family(out, "actorpbx_register_responses_total", "counter",
         "Final responses to REGISTER, by code.");
  by_code(out, "actorpbx_register_responses_total", "code", register_responses_);

  family(out, "actorpbx_rule_decisions_total", "counter",
         "Forwarding decisions carried out, by the rule slot that decided.");
  for (std::size_t i = 0; i < decisions_.size(); ++i)
    sample(out, "actorpbx_rule_decisions_total", "slot",
           i == exception_index ? "exception"
                                : forwarding::slot_name(static_cast<storage::forward_slot>(i)),
           std::to_string(decisions_[i].load(relaxed)));

  family(out, "actorpbx_lmdb_commit_seconds", "histogram",
         "LMDB write-transaction commit latency.");
  {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < commits_.buckets.size(); ++i) {
      cumulative += commits_.buckets[i].load(relaxed);
      sample(out, "actorpbx_lmdb_commit_seconds_bucket", "le",
             i < commit_bounds_ns.size() ? seconds(commit_bounds_ns[i]) : "+Inf",
             std::to_string(cumulative));
    }
    sample(out, "actorpbx_lmdb_commit_seconds_sum", {}, {},
           seconds(commits_.sum_ns.load(relaxed)));
    sample(out, "actorpbx_lmdb_commit_seconds_count", {}, {}, std::to_string(cumulative));
  }

  family(out, "actorpbx_actors", "gauge", "Actors running in the actor system.");
  sample(out, "actorpbx_actors", {}, {}, std::to_string(sys.registry().running()));

  family(out, "actorpbx_live_actors", "gauge", "Live domain actors by kind.");
  sample(out, "actorpbx_live_actors", "kind", "tenant", std::to_string(tenants));
  sample(out, "actorpbx_live_actors", "kind", "extension", std::to_string(extensions));
  sample(out, "actorpbx_live_actors", "kind", "call", std::to_string(calls));

  family(out, "actorpbx_mailbox_depth", "gauge",
         "Queued messages of the 5 busiest domain actors (probed at the previous scrape).");
  for (auto& [key, depth] : busiest_now)
    sample(out, "actorpbx_mailbox_depth", "actor", key, std::to_string(depth));

  family(out, "actorpbx_sip_loop_lag_seconds", "gauge",
         "The SIP thread's event-loop lag, the largest over the last second.");
  {
    std::uint64_t worst = 0;
    for (auto& l : lag_)
      worst = std::max(worst, l.load(relaxed));
    // A loop stuck now fires no timer: the tick it owes counts too.
    if (auto last = last_tick_ns_.load(relaxed)) {
      auto due = last + std::uint64_t{sip_lag_period_ms} * 1'000'000;
      auto now = steady_ns();
      if (now > due)
        worst = std::max(worst, now - due);
    }
    sample(out, "actorpbx_sip_loop_lag_seconds", {}, {}, seconds(worst));
  }

  family(out, "actorpbx_api_requests_total", "counter", "REST requests answered, by HTTP status.");
  by_code(out, "actorpbx_api_requests_total", "status", api_);
  return out;
}

} // namespace pbx
