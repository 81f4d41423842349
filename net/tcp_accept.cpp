#include "net/tcp_accept.hpp"

#include <dlfcn.h>

#include <atomic>
#include <cerrno>

#include <re.h>

namespace {

thread_local pbx::net::accept_hook tl_hook = nullptr;
thread_local void* tl_arg = nullptr;
std::atomic<unsigned long> count{0};

using accept_fn = int (*)(struct tcp_conn**, struct tcp_sock*, tcp_estab_h*, tcp_recv_h*,
                          tcp_close_h*, void*);

accept_fn real_accept() {
  static auto fn = reinterpret_cast<accept_fn>(dlsym(RTLD_NEXT, "tcp_accept"));
  return fn;
}

} // namespace

extern "C" int tcp_accept(struct tcp_conn** tcp, struct tcp_sock* ts, tcp_estab_h* eh,
                          tcp_recv_h* rh, tcp_close_h* ch, void* arg) {
  auto real = real_accept();
  if (!real)
    return ENOSYS;
  count.fetch_add(1, std::memory_order_relaxed);
  int err = real(tcp, ts, eh, rh, ch, arg);
  if (err || !tl_hook || !tcp || !*tcp)
    return err;
  if (!tl_hook(*tcp, tl_arg)) {
    // libre's caller rejects the connection: it gets no handler call.
    *tcp = static_cast<struct tcp_conn*>(mem_deref(*tcp));
    return EPERM;
  }
  return 0;
}

namespace pbx::net {

void set_accept_hook(accept_hook hook, void* arg) {
  tl_hook = hook;
  tl_arg = arg;
}

unsigned long accepts() {
  return count.load(std::memory_order_relaxed);
}

} // namespace pbx::net
