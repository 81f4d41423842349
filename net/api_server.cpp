// libmicrohttpd on its own polling thread (epoll). A complete request is
// handed to the API actor and its connection suspended; respond() (any
// thread) stores the answer and resumes the connection, whose handler then
// queues it. A sweeper thread answers 503 for what the actor leaves
// unanswered, so no connection stays suspended forever.
//
// A suspended connection is closed by MHD only in MHD_stop_daemon: every
// resume happens before stop() reaches it (the `resuming` count), so no
// resume ever touches a freed connection.

#include "net/api_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include <caf/send.hpp>

#include "engine/cidr.hpp"
#include "engine/log.hpp"

namespace pbx::net {

namespace {

using clock = std::chrono::steady_clock;

// Per-connection headroom for the request line and headers; bodies are
// copied out of it as they arrive.
constexpr std::size_t connection_memory = 64 * 1024;

struct pending {
  MHD_Connection* conn = nullptr;
  clock::time_point deadline;
  bool answered = false; // resumed (or about to be): the answer is in `answer`
  http_response answer;
};

// MHD's con_cls: one request's state on its connection.
struct request_state {
  std::uint64_t id = 0;
  std::string body;
  std::size_t seen = 0; // body bytes received, kept or not
  bool too_large = false;
  bool dispatched = false;
};

std::string json_error(const std::string& code, const std::string& message) {
  return R"({"code":")" + code + R"(","message":")" + message + R"("})";
}

std::string slurp(const std::string& path, bool& ok) {
  std::ifstream in{path, std::ios::binary};
  ok = static_cast<bool>(in);
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

// "a.b.c.d:port" or "[v6]:port".
bool parse_listen(const std::string& text, sockaddr_storage& ss, socklen_t& len,
                  std::string& host, std::uint16_t& port) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size())
    return false;
  auto p = text.substr(colon + 1);
  if (p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos
      || std::stoul(p) > 65535)
    return false;
  port = static_cast<std::uint16_t>(std::stoul(p));
  host = text.substr(0, colon);
  ss = {};
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    len = sizeof *a;
    return inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &a->sin6_addr) == 1;
  }
  auto* a = reinterpret_cast<sockaddr_in*>(&ss);
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  len = sizeof *a;
  return inet_pton(AF_INET, host.c_str(), &a->sin_addr) == 1;
}

std::string peer_ip(MHD_Connection* conn) {
  auto* info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (!info || !info->client_addr)
    return {};
  char buf[INET6_ADDRSTRLEN] = {};
  auto* sa = info->client_addr;
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  return buf;
}

std::string header(MHD_Connection* conn, const char* name) {
  auto* v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
  return v ? v : "";
}

// "Application/JSON; charset=utf-8" -> "application/json".
std::string media_type(std::string v) {
  v.erase(std::min(v.find(';'), v.size()));
  auto first = v.find_first_not_of(" \t");
  if (first == std::string::npos)
    return {};
  v = v.substr(first, v.find_last_not_of(" \t") - first + 1);
  std::transform(v.begin(), v.end(), v.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return v;
}

enum MHD_Result collect_query(void* cls, enum MHD_ValueKind, const char* key,
                              const char* value) {
  static_cast<std::vector<std::pair<std::string, std::string>>*>(cls)->emplace_back(
    key ? key : "", value ? value : "");
  return MHD_YES;
}

enum MHD_Result queue(MHD_Connection* conn, const http_response& r) {
  auto* resp = MHD_create_response_from_buffer(r.body.size(), const_cast<char*>(r.body.data()),
                                               MHD_RESPMEM_MUST_COPY);
  if (!resp)
    return MHD_NO;
  if (!r.content_type.empty())
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type.c_str());
  for (auto& [name, value] : r.headers)
    if (MHD_add_response_header(resp, name.c_str(), value.c_str()) != MHD_YES)
      log::warn("api: response ", r.id, ": header ", log::quoted(name), " refused");
  auto ok = MHD_queue_response(conn, r.status, resp);
  MHD_destroy_response(resp);
  return ok;
}

enum MHD_Result queue_error(MHD_Connection* conn, unsigned status, const std::string& code,
                            const std::string& message) {
  http_response r;
  r.status = static_cast<std::uint16_t>(status);
  r.body = json_error(code, message);
  return queue(conn, r);
}

} // namespace

struct api_server::impl {
  api_config cfg;
  MHD_Daemon* daemon = nullptr;
  std::uint16_t bound_port = 0;
  std::string host;
  std::atomic<std::uint64_t> next_id{1};

  // The security actor's bans and allow list (guard()), read at accept.
  std::mutex guard_mu;
  std::unordered_map<ip_addr, std::int64_t, ip_addr_hash> bans; // until, unix ms
  std::vector<cidr> allow;

  bool admits(const sockaddr* sa) {
    ip_addr a;
    if (sa->sa_family == AF_INET)
      a = ip_addr::from_v4(&reinterpret_cast<const sockaddr_in*>(sa)->sin_addr);
    else if (sa->sa_family == AF_INET6)
      a = ip_addr::from_v6(&reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr);
    else
      return true;
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
    std::lock_guard<std::mutex> lock{guard_mu};
    auto i = bans.find(a);
    if (i == bans.end())
      return true;
    if (i->second <= now) {
      bans.erase(i);
      return true;
    }
    return std::any_of(allow.begin(), allow.end(), [&](const cidr& c) { return c.contains(a); });
  }

  std::mutex mu;
  std::condition_variable cv;
  std::unordered_map<std::uint64_t, pending> waiting; // suspended connections, by request id
  int resuming = 0;      // resumes in progress outside the lock
  bool stopping = false;
  // While MHD_start_daemon runs its log lines say why it failed. Not under
  // `mu`: MHD may log from calls made with `mu` held.
  std::atomic<bool> starting{false};
  std::mutex log_mu;
  std::string start_error;
  std::thread sweeper;

  // Stores `r` for its request and resumes the connection; false when the
  // request is unknown (its client gone) or answered already.
  bool finish(http_response r) {
    MHD_Connection* conn = nullptr;
    {
      std::lock_guard<std::mutex> lock{mu};
      auto i = waiting.find(r.id);
      if (stopping || i == waiting.end() || i->second.answered)
        return false;
      i->second.answered = true;
      i->second.answer = std::move(r);
      conn = i->second.conn;
      ++resuming;
    }
    MHD_resume_connection(conn);
    std::lock_guard<std::mutex> lock{mu};
    if (--resuming == 0)
      cv.notify_all();
    return true;
  }

  // 503 for requests left unanswered past their deadline.
  void sweep() {
    std::unique_lock<std::mutex> lock{mu};
    while (!stopping) {
      cv.wait_for(lock, std::chrono::milliseconds(250));
      if (stopping)
        break;
      auto now = clock::now();
      std::vector<std::uint64_t> late;
      for (auto& [id, p] : waiting)
        if (!p.answered && p.deadline <= now)
          late.push_back(id);
      lock.unlock();
      for (auto id : late) {
        log::warn("api: request ", id, " unanswered after ", cfg.answer_timeout.count(),
                  " ms: 503");
        http_response r;
        r.id = id;
        r.status = 503;
        r.body = json_error("internal", "no answer");
        finish(std::move(r));
      }
      lock.lock();
    }
  }

  enum MHD_Result handle(MHD_Connection* conn, const char* url, const char* method,
                         const char* upload, std::size_t* upload_size, void** con_cls) {
    auto* st = static_cast<request_state*>(*con_cls);
    if (!st) {
      // Headers are in: a declared body over the limit is refused before it is read.
      *con_cls = st = new request_state;
      auto length = header(conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
      if (!length.empty() && length.find_first_not_of("0123456789") == std::string::npos) {
        if (length.size() > 19 || std::stoull(length) > cfg.max_body)
          return queue_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", too_large_text());
        st->body.reserve(std::stoull(length));
      }
      return MHD_YES;
    }
    if (*upload_size > 0) {
      st->seen += *upload_size;
      if (!st->too_large && st->body.size() + *upload_size > cfg.max_body) {
        st->too_large = true;
        st->body = std::string{};
      }
      if (!st->too_large)
        st->body.append(upload, *upload_size);
      *upload_size = 0;
      // MHD queues an answer only once the body is in: an oversized chunked
      // body is read to its end and dropped, unless it goes on far past the limit.
      return st->too_large && st->seen > 2 * cfg.max_body + (1u << 20) ? MHD_NO : MHD_YES;
    }
    if (st->too_large)
      return queue_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", too_large_text());
    if (!st->dispatched)
      return dispatch(conn, url, method, *st);
    // Resumed: the answer is waiting.
    http_response r;
    {
      std::lock_guard<std::mutex> lock{mu};
      auto i = waiting.find(st->id);
      if (i == waiting.end() || !i->second.answered)
        return MHD_NO; // cannot happen: resumed only once answered
      r = std::move(i->second.answer);
      waiting.erase(i);
    }
    return queue(conn, r);
  }

  enum MHD_Result dispatch(MHD_Connection* conn, const char* url, const char* method,
                           request_state& st) {
    st.dispatched = true;
    st.id = next_id++;
    http_request req;
    req.id = st.id;
    req.method = method;
    req.path = url; // MHD percent-decoded it
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_query, &req.query);
    req.content_type = media_type(header(conn, MHD_HTTP_HEADER_CONTENT_TYPE));
    req.authorization = header(conn, MHD_HTTP_HEADER_AUTHORIZATION);
    req.body = std::move(st.body);
    req.peer_ip = peer_ip(conn);
    req.tls = cfg.tls;
    log::debug("api: request ", st.id, " ", req.method, " ", log::quoted(req.path), " from ",
               req.peer_ip);
    bool accepted = false;
    {
      // Suspended before anyone (actor, sweeper, stop) can answer it, so an
      // answer always finds a suspended connection to resume.
      std::lock_guard<std::mutex> lock{mu};
      if (!stopping && cfg.api) {
        MHD_suspend_connection(conn);
        auto& p = waiting[st.id];
        p.conn = conn;
        p.deadline = clock::now() + cfg.answer_timeout;
        accepted = true;
      }
    }
    if (!accepted)
      return queue_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "internal", "shutting down");
    caf::anon_send(cfg.api, std::move(req));
    return MHD_YES;
  }

  void completed(void** con_cls, MHD_RequestTerminationCode code) {
    auto* st = static_cast<request_state*>(*con_cls);
    if (!st)
      return;
    *con_cls = nullptr;
    if (st->dispatched) {
      std::lock_guard<std::mutex> lock{mu};
      if (waiting.erase(st->id) > 0)
        log::debug("api: request ", st->id, " ended unanswered (", static_cast<int>(code), ")");
    }
    delete st;
  }

  std::string too_large_text() const {
    return "the body is larger than " + std::to_string(cfg.max_body) + " bytes";
  }
};

namespace {

// A banned source is closed at accept, unanswered.
enum MHD_Result on_accept(void* cls, const sockaddr* addr, socklen_t) {
  return static_cast<api_server::impl*>(cls)->admits(addr) ? MHD_YES : MHD_NO;
}

enum MHD_Result on_request(void* cls, MHD_Connection* conn, const char* url,
                           const char* method, const char*, const char* upload,
                           std::size_t* upload_size, void** con_cls) {
  return static_cast<api_server::impl*>(cls)->handle(conn, url, method, upload, upload_size,
                                                      con_cls);
}

void on_completed(void* cls, MHD_Connection*, void** con_cls,
                  MHD_RequestTerminationCode code) {
  static_cast<api_server::impl*>(cls)->completed(con_cls, code);
}

void on_log(void* cls, const char* fmt, va_list ap) {
  char buf[512];
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  std::string line = buf;
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
    line.pop_back();
  auto* s = static_cast<api_server::impl*>(cls);
  if (s->starting) {
    std::lock_guard<std::mutex> lock{s->log_mu};
    s->start_error = line;
    return;
  }
  log::debug("api: ", line);
}

} // namespace

api_server::api_server() : impl_{std::make_unique<impl>()} {}

api_server::~api_server() {
  stop();
}

std::string api_server::start(const api_config& cfg) {
  auto& s = *impl_;
  s.cfg = cfg;
  sockaddr_storage ss{};
  socklen_t len = 0;
  std::uint16_t port = 0;
  if (!parse_listen(cfg.listen, ss, len, s.host, port))
    return "API address '" + cfg.listen + "' is not IP:PORT";
  std::string cert, key;
  if (cfg.tls) {
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
      return "--api-tls: this libmicrohttpd has no TLS support";
    bool ok_cert = false, ok_key = false;
    cert = slurp(cfg.tls_cert_file, ok_cert);
    key = slurp(cfg.tls_key_file, ok_key);
    if (!ok_cert || !ok_key)
      return "API: cannot read the TLS certificate " + cfg.tls_cert_file + " or key "
             + cfg.tls_key_file;
  }
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME
                   | MHD_USE_ITC | MHD_USE_ERROR_LOG;
  if (ss.ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  if (cfg.tls)
    flags |= MHD_USE_TLS;
  {
    std::lock_guard<std::mutex> lock{s.mu};
    s.stopping = false;
  }
  s.starting = true;
  // Without TLS the array is its END item alone.
  MHD_OptionItem tls_opts[] = {
    {MHD_OPTION_HTTPS_MEM_KEY, 0, const_cast<char*>(key.c_str())},
    {MHD_OPTION_HTTPS_MEM_CERT, 0, const_cast<char*>(cert.c_str())},
    {MHD_OPTION_END, 0, nullptr},
  };
  s.daemon = MHD_start_daemon(
    flags, port, on_accept, &s, on_request, &s,
    MHD_OPTION_EXTERNAL_LOGGER, on_log, &s,
    MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&ss),
    MHD_OPTION_CONNECTION_LIMIT, static_cast<unsigned>(cfg.max_connections),
    MHD_OPTION_PER_IP_CONNECTION_LIMIT, static_cast<unsigned>(cfg.max_per_source),
    MHD_OPTION_CONNECTION_TIMEOUT, static_cast<unsigned>(cfg.timeout),
    MHD_OPTION_CONNECTION_MEMORY_LIMIT, connection_memory,
    MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s,
    MHD_OPTION_ARRAY, cfg.tls ? tls_opts : tls_opts + 2,
    MHD_OPTION_END);
  s.starting = false;
  std::string why;
  {
    std::lock_guard<std::mutex> lock{s.log_mu};
    why = std::move(s.start_error);
  }
  if (!s.daemon)
    return "cannot listen on API " + cfg.listen + (why.empty() ? "" : ": " + why)
           + (cfg.tls ? " (check the TLS certificate and key)" : "");
  auto* info = MHD_get_daemon_info(s.daemon, MHD_DAEMON_INFO_BIND_PORT);
  s.bound_port = info && info->port ? info->port : port;
  s.sweeper = std::thread{[&s] { s.sweep(); }};
  return {};
}

void api_server::stop() {
  auto& s = *impl_;
  if (!s.daemon)
    return;
  std::vector<MHD_Connection*> conns;
  {
    std::unique_lock<std::mutex> lock{s.mu};
    s.stopping = true; // from here respond() drops its answers
    s.cv.notify_all();
    s.cv.wait(lock, [&] { return s.resuming == 0; });
    for (auto& [id, p] : s.waiting)
      if (!p.answered) {
        p.answered = true;
        p.answer = http_response{};
        p.answer.id = id;
        p.answer.status = 503;
        p.answer.body = json_error("internal", "shutting down");
        conns.push_back(p.conn);
      }
  }
  if (s.sweeper.joinable())
    s.sweeper.join();
  for (auto* c : conns)
    MHD_resume_connection(c);
  // Give the 503s a moment to leave before every connection is closed.
  for (int i = 0; i < 100; ++i) {
    {
      std::lock_guard<std::mutex> lock{s.mu};
      if (s.waiting.empty())
        break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  MHD_stop_daemon(s.daemon);
  s.daemon = nullptr;
  std::lock_guard<std::mutex> lock{s.mu};
  s.waiting.clear();
}

void api_server::guard(const guard_command& c) {
  auto& s = *impl_;
  std::lock_guard<std::mutex> lock{s.guard_mu};
  switch (c.what) {
    case guard_command::op::ban:
      if (auto a = ip_addr::parse(c.ip))
        s.bans[*a] = c.until_ms;
      break;
    case guard_command::op::unban:
      if (auto a = ip_addr::parse(c.ip))
        s.bans.erase(*a);
      break;
    case guard_command::op::allow:
      s.allow.clear();
      for (auto& text : c.allow)
        if (auto r = cidr::parse(text))
          s.allow.push_back(*r);
      break;
  }
}

void api_server::respond(http_response r) {
  auto id = r.id;
  if (!impl_->finish(std::move(r)))
    log::debug("api: answer to request ", id, " dropped (client gone or answered already)");
}

std::uint16_t api_server::port() const {
  return impl_->bound_port;
}

std::size_t api_server::pending_requests() const {
  std::lock_guard<std::mutex> lock{impl_->mu};
  return impl_->waiting.size();
}

std::string api_server::url() const {
  return std::string{impl_->cfg.tls ? "https://" : "http://"} + impl_->host + ":"
         + std::to_string(impl_->bound_port);
}

} // namespace pbx::net
