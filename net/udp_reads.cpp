#include "net/udp_reads.hpp"

#include <dlfcn.h>

#include <atomic>
#include <cerrno>
#include <unordered_map>

#include <re.h>

namespace {

using listen_fn = int (*)(int, int, fd_h*, void*);

listen_fn real_listen() {
  static auto fn = reinterpret_cast<listen_fn>(dlsym(RTLD_NEXT, "fd_listen"));
  return fn;
}

struct libre_handler {
  fd_h* fh = nullptr;
  void* arg = nullptr;
};

struct batch {
  libre_handler inner;
  unsigned max = 1;
  bool* read_one = nullptr;
};

// Per thread, as libre's loops are: what libre last set for each fd.
thread_local std::unordered_map<int, libre_handler> tl_set;
thread_local std::unordered_map<int, batch> tl_batches;
thread_local unsigned long tl_epoch = 0; // bumped whenever a handler is set by someone else
std::atomic<unsigned long> passes{0};

void batch_handler(int flags, void* arg) {
  auto b = *static_cast<batch*>(arg); // a copy: a handler that re-listens drops the original
  auto epoch = tl_epoch;
  for (unsigned i = 0; i < b.max; ++i) {
    *b.read_one = false;
    b.inner.fh(flags, b.inner.arg);
    // Nothing read (EAGAIN), or the fd's handlers changed under us: the
    // loop's next poll decides. libre's UDP socket is never freed by what
    // it reads (the SIP transport outlives every request).
    if (!*b.read_one || epoch != tl_epoch)
      break;
    if (i == 0)
      passes.fetch_add(1, std::memory_order_relaxed);
  }
}

} // namespace

extern "C" int fd_listen(int fd, int flags, fd_h* fh, void* arg) {
  auto real = real_listen();
  if (!real)
    return ENOSYS;
  if (fh != batch_handler) {
    // libre (or anyone) sets a handler of its own: batching ends for this fd.
    tl_batches.erase(fd);
    ++tl_epoch;
    if (fh)
      tl_set[fd] = libre_handler{fh, arg};
    else
      tl_set.erase(fd);
  }
  return real(fd, flags, fh, arg);
}

namespace pbx::net {

bool batch_reads(int fd, unsigned max, bool* read_one) {
  auto i = tl_set.find(fd);
  if (i == tl_set.end() || !read_one || max == 0)
    return false;
  auto& b = tl_batches[fd];
  b = batch{i->second, max, read_one};
  return real_listen() && real_listen()(fd, FD_READ, batch_handler, &b) == 0;
}

unsigned long batched_passes() {
  return passes.load(std::memory_order_relaxed);
}

} // namespace pbx::net
