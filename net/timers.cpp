// libre's timers, kept in delay classes instead of one list.
//
// libre 1.1.0 keeps every timer of an event loop in one list sorted by due
// time and inserts by walking back from the tail. A 500 ms retransmission
// timer therefore walks over every 32 s transaction timer (Timer B/F/J/H,
// session teardown) still pending: at a few hundred calls/s that list holds
// tens of thousands of entries and the walk was ~90% of the SIP thread
// (bench/README.md). The fix that keeps libre as is: this file defines
// libre's own tmr_* functions. libre calls them through its PLT and the
// executable's definitions come first in the dynamic lookup, so every libre
// timer lands here (proved at start-up by net/self_test.cpp).
//
// Each loop has one list per delay value: the clock only moves forward, so a
// timer started with the same delay as the list's others always belongs at
// its tail (O(1)). libre uses a handful of delays (T1 multiples, 32 s, 0);
// past max_exact distinct values the rest share a few sorted lists by delay
// class. The earliest timer is the smallest of the lists' heads.
// The semantics are libre's: due time = tmr_jiffies() + delay, equal due
// times fire in start order, a handler may restart or cancel any timer.

#include "net/timers.hpp"


#include <array>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <re.h>

extern "C" {
// Exported by libre 1.1.0 (not in its headers): the current loop's timer list.
struct list* tmrl_get(void);
}

namespace {

// Upper delay bound (ms) of each shared class; the last class takes the rest.
constexpr std::array<std::uint64_t, 6> class_limits = {16, 128, 600, 2500, 10000, 40000};
constexpr std::size_t class_count = class_limits.size() + 1;
constexpr std::size_t max_exact = 64;

struct timer_queue {
  struct list* owner = nullptr;  // libre's list for this loop: its identity
  std::unordered_map<std::uint64_t, struct list> exact;  // by delay; nodes never move
  std::array<struct list, class_count> shared{};
  std::vector<struct list*> all;  // every list above, for the earliest head
};

// One queue per libre loop (libre has one per thread at most); looked up by
// libre's list pointer. A handful at most, never freed. The registry is never
// destroyed either: once its destructor ran at exit, LeakSanitizer found the
// queues unreachable and reported them.
std::mutex registry_lock;
std::vector<timer_queue*>& registry = *new std::vector<timer_queue*>;
thread_local timer_queue* last = nullptr;

timer_queue* queue_for(struct list* owner) {
  if (last && last->owner == owner)
    return last;
  std::lock_guard<std::mutex> guard(registry_lock);
  for (auto* q : registry)
    if (q->owner == owner)
      return last = q;
  auto* q = new timer_queue;
  q->owner = owner;
  for (auto& l : q->shared) {
    list_init(&l);
    q->all.push_back(&l);
  }
  registry.push_back(q);
  return last = q;
}

// The list a timer with `delay` goes to.
struct list& list_for(timer_queue* q, std::uint64_t delay) {
  auto i = q->exact.find(delay);
  if (i != q->exact.end())
    return i->second;
  if (q->exact.size() < max_exact) {
    auto& l = q->exact[delay];
    list_init(&l);
    q->all.push_back(&l);
    return l;
  }
  std::size_t c = 0;
  while (c < class_limits.size() && delay > class_limits[c])
    ++c;
  return q->shared[c];
}

struct tmr* head_of(const struct list& l) {
  return static_cast<struct tmr*>(list_ledata(list_head(&l)));
}

// The list whose head is due first (ties: the lower class), or null.
struct list* earliest(timer_queue* q) {
  struct list* best = nullptr;
  std::uint64_t due = 0;
  for (auto* l : q->all) {
    auto* t = head_of(*l);
    if (t && (!best || t->jfs < due)) {
      best = l;
      due = t->jfs;
    }
  }
  return best;
}

} // namespace

extern "C" {

void tmr_init(struct tmr* tmr) {
  if (tmr)
    std::memset(tmr, 0, sizeof *tmr);
}

void tmr_start(struct tmr* tmr, uint64_t delay, tmr_h* th, void* arg) {
  if (!tmr)
    return;
  if (tmr->th)
    list_unlink(&tmr->le);
  tmr->th = th;
  tmr->arg = arg;
  if (!th)
    return;
  tmr->jfs = tmr_jiffies() + delay;
  auto& l = list_for(queue_for(tmrl_get()), delay);
  struct le* le = list_tail(&l);
  while (le && static_cast<struct tmr*>(le->data)->jfs > tmr->jfs)
    le = le->prev;
  if (le)
    list_insert_after(&l, le, &tmr->le, tmr);
  else
    list_prepend(&l, &tmr->le, tmr);
}

void tmr_cancel(struct tmr* tmr) {
  tmr_start(tmr, 0, nullptr, nullptr);
}

uint64_t tmr_get_expire(const struct tmr* tmr) {
  if (!tmr || !tmr->th)
    return 0;
  auto now = tmr_jiffies();
  return tmr->jfs > now ? tmr->jfs - now : 0;
}

uint64_t tmr_next_timeout(struct list* tmrl) {
  auto* l = earliest(queue_for(tmrl));
  if (!l)
    return 0; // no timer: the loop waits for I/O only
  auto due = head_of(*l)->jfs;
  auto now = tmr_jiffies();
  return due > now ? due - now : 1;
}

void tmr_poll(struct list* tmrl) {
  auto* q = queue_for(tmrl);
  auto now = tmr_jiffies();
  for (;;) {
    auto* l = earliest(q);
    if (!l)
      return;
    auto* t = head_of(*l);
    if (t->jfs > now)
      return;
    auto* th = t->th;
    auto* arg = t->arg;
    t->th = nullptr;
    list_unlink(&t->le);
    if (th)
      th(arg);
  }
}

int tmr_status(struct re_printf* pf, void*) {
  auto* q = queue_for(tmrl_get());
  std::uint32_t n = 0;
  for (auto* l : q->all)
    n += list_count(l);
  return re_hprintf(pf, "Timers (%u)\n", n);
}

void tmr_debug(void) {}

} // extern "C"

namespace pbx::net {

std::size_t timers_pending() {
  auto* q = queue_for(tmrl_get());
  std::size_t n = 0;
  for (auto* l : q->all)
    n += list_count(l);
  return n;
}

} // namespace pbx::net
