// libre's re_regex, same results, each pattern read once per thread.
//
// libre 1.1.0 parses SIP with re_regex: every Via, From, To, Contact, CSeq,
// URI and parameter goes through it, about thirty calls per REGISTER. Each
// call reads its pattern afresh (again at every start position it tries),
// then tests each character against the pattern's ranges, lower-casing
// through the locale: under REGISTER load re_regex was a fifth of the node's
// CPU (bench/README.md). This file defines re_regex, which libre calls
// through its PLT (proved at start-up by net/self_test.cpp), as net/timers.cpp
// does for timers. A pattern is compiled once per thread into tokens, each
// class into a 256-bit table of the raw bytes it takes, and the same search
// runs over those.
//
// The results must be libre's to the letter, quirks included: the search
// stops (ENOENT) when a literal meets the end of the input; a class takes as
// many characters as it can and never gives any back; a '~' class skips
// quoted strings and backslash escapes and strips one pair of surrounding
// quotes; a capture is written as soon as its class matched, even in a try
// that fails later; a pattern error (EINVAL) counts only once a try reaches
// it. Characters are compared lower-cased in the "C" locale (the node never
// calls setlocale). tests/unit/regex.test.cpp compares this with libre's own
// function on generated patterns and inputs.

#include "net/regex.hpp"


#include <cerrno>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <re.h>

namespace {

inline std::uint8_t lower(std::uint8_t c) {
  return c >= 'A' && c <= 'Z' ? static_cast<std::uint8_t>(c + ('a' - 'A')) : c;
}

struct token {
  enum kind_t : std::uint8_t { literal, cls, invalid } kind = literal;
  std::uint8_t ch = 0;      // literal, lower-cased
  bool neg = false;         // class: '^' or '~'
  bool qesc = false;        // class: '~'
  std::uint32_t nmin = 0, nmax = 0;
  std::uint64_t bits[4] = {}; // class: which raw bytes it takes
};

struct range {
  std::uint8_t min, max;
};

struct program {
  std::vector<token> tokens;
  std::size_t classes = 0;
};

// libre keeps at most this many ranges in one class.
constexpr std::uint32_t max_ranges = 64;

// libre's test of a lower-cased character against a class's ranges, done
// once for every raw byte.
void set_bits(token& t, const range* r, std::uint32_t n) {
  for (unsigned b = 0; b < 256; ++b) {
    auto c = lower(static_cast<std::uint8_t>(b));
    std::uint32_t i = 0;
    while (i < n && (c < r[i].min || c > r[i].max))
      ++i;
    if (t.neg ? i == n : i != n)
      t.bits[b >> 6] |= std::uint64_t{1} << (b & 63);
  }
}

// Reads `expr` with libre's state machine, once. Where libre's loop would
// stop inside a class (EINVAL), an `invalid` token ends the program.
void compile(const char* expr, program& prog) {
  prog.tokens.clear();
  prog.classes = 0;
  bool fm = false, ec = false, eesc = false, range_open = false;
  range chrv[max_ranges];
  std::uint32_t n = 0;
  token cur;
  for (const char* ep = expr; *ep; ++ep) {
    auto c = static_cast<std::uint8_t>(*ep);
    if (c == '\\' && !eesc) {
      eesc = true;
      continue;
    }
    if (!fm) {
      if (c == '[' && !eesc) {
        fm = true;
        ec = false;
        range_open = false;
        n = 0;
        cur = token{};
        cur.kind = token::cls;
        continue;
      }
      token lit;
      lit.ch = lower(c);
      prog.tokens.push_back(lit);
      eesc = false;
      continue;
    }
    if (ec) {
      if (c == '*') {
        cur.nmin = 0;
        cur.nmax = UINT32_MAX;
      } else if (c == '+') {
        cur.nmin = 1;
        cur.nmax = UINT32_MAX;
      } else if (c >= '1' && c <= '9') {
        cur.nmin = cur.nmax = static_cast<std::uint32_t>(c - '0');
      } else {
        break;
      }
      set_bits(cur, chrv, n);
      prog.tokens.push_back(cur);
      ++prog.classes;
      fm = false;
      eesc = false;
      continue;
    }
    if (eesc) {
      eesc = false;
    } else if (c == ']') {
      ec = true;
      continue;
    } else if (c == '~' && n == 0) {
      cur.qesc = cur.neg = true;
      continue;
    } else if (c == '^' && n == 0) {
      cur.neg = true;
      continue;
    } else if (c == '-' && n != 0 && !range_open) {
      range_open = true;
      --n;
      continue;
    }
    if (n >= max_ranges)
      break;
    chrv[n].max = lower(c);
    if (range_open)
      range_open = false;  // min stays: the start taken back at '-'
    else
      chrv[n].min = lower(c);
    ++n;
  }
  if (fm) {
    token bad;
    bad.kind = token::invalid;
    prog.tokens.push_back(bad);
  }
}

inline bool takes(const token& t, char c) {
  auto b = static_cast<std::uint8_t>(c);
  return (t.bits[b >> 6] >> (b & 63)) & 1;
}

enum class attempt { matched, next, stop_enoent, stop_einval };

// One try at `p`, `l` characters left; libre's inner loop over the tokens.
attempt try_at(const program& prog, const char* p, std::size_t l, struct pl* const* args) {
  std::size_t arg = 0;
  for (const auto& t : prog.tokens) {
    if (t.kind == token::literal) {
      if (!l)
        return attempt::stop_enoent;
      if (lower(static_cast<std::uint8_t>(*p)) != t.ch)
        return attempt::next;
      ++p;
      --l;
      continue;
    }
    if (t.kind == token::invalid)
      return attempt::stop_einval;
    struct pl* out = args[arg++];
    struct pl got{p, 0};
    bool quote = false, esc = false;
    std::uint32_t nm = 0;
    for (; l && nm < t.nmax; ++nm, ++p, --l, ++got.l) {
      if (t.qesc) {
        if (esc) {
          esc = false;
          continue;
        }
        if (*p == '\\') {
          esc = true;
          continue;
        }
        if (*p == '"') {
          quote = !quote;
          continue;
        }
        if (quote)
          continue;
      }
      if (!takes(t, *p))
        break;
    }
    if (t.qesc && got.l > 1 && got.p[0] == '"' && got.p[got.l - 1] == '"') {
      got.p += 1;
      got.l -= 2;
      nm -= 2;
    }
    if (nm < t.nmin || nm > t.nmax)
      return attempt::next;
    if (out)
      *out = got;
  }
  return attempt::matched;
}

thread_local unsigned long calls = 0;

// Compiled patterns, per thread. libre's patterns are mostly literals at
// fixed addresses, but some are printed into a stack buffer (a parameter
// name inside), so an entry is found by address and then checked by text.
struct cached {
  std::string expr;
  program prog;
};
constexpr std::size_t cache_slots = 64, cache_ways = 8;

struct cache_slot {
  std::vector<cached> ways;
  std::size_t next = 0; // the way replaced next once full
};

const program& compiled(const char* expr) {
  thread_local std::vector<cache_slot> cache(cache_slots);
  auto& slot = cache[(reinterpret_cast<std::uintptr_t>(expr) >> 3) % cache_slots];
  for (auto& w : slot.ways)
    if (std::strcmp(w.expr.c_str(), expr) == 0)
      return w.prog;
  cached* c;
  if (slot.ways.size() < cache_ways) {
    c = &slot.ways.emplace_back();
  } else {
    c = &slot.ways[slot.next];
    slot.next = (slot.next + 1) % cache_ways;
  }
  c->expr = expr;
  compile(expr, c->prog);
  return c->prog;
}

int run(const program& prog, const char* ptr, std::size_t len, const char* expr,
        struct pl* const* args) {
  // A first literal, or a first class that needs a character, rules out
  // every start its first character does not fit: skip those at once.
  const token* head = prog.tokens.empty() ? nullptr : &prog.tokens.front();
  bool skip_literal = head && head->kind == token::literal;
  bool skip_class = head && head->kind == token::cls && head->nmin > 0 && !head->qesc;
  for (std::size_t start = 0; start < len; ++start) {
    if ((skip_literal && lower(static_cast<std::uint8_t>(ptr[start])) != head->ch)
        || (skip_class && !takes(*head, ptr[start])))
      continue;
    switch (try_at(prog, ptr + start, len - start, args)) {
      case attempt::matched:
        return 0;
      case attempt::next:
        break;
      case attempt::stop_enoent:
        return ENOENT;
      case attempt::stop_einval:
        return EINVAL;
    }
  }
  // Out of input: libre's answer without reading the pattern.
  return *expr ? ENOENT : 0;
}

} // namespace

extern "C" int re_regex(const char* ptr, size_t len, const char* expr, ...) {
  ++calls;
  if (!ptr || !expr)
    return EINVAL;
  const auto& prog = compiled(expr);
  // Every capture argument up front; libre takes them as it reaches each class.
  thread_local std::vector<struct pl*> args;
  args.clear();
  va_list ap;
  va_start(ap, expr);
  for (std::size_t i = 0; i < prog.classes; ++i)
    args.push_back(va_arg(ap, struct pl*));
  va_end(ap);
  return run(prog, ptr, len, expr, args.data());
}

namespace pbx::net {

unsigned long regex_calls() {
  return calls;
}

} // namespace pbx::net
