#include "engine/shell_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include <editline/readline.h>

namespace pbx {

namespace {

bool send_line(int fd, const std::string& line) {
  auto data = line + "\n";
  std::size_t off = 0;
  while (off < data.size()) {
    auto n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0)
      return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Prints the answer up to its closing OK/ERR line; false when the node hung up.
bool print_answer(int fd, std::string& buf) {
  for (;;) {
    std::size_t pos;
    while ((pos = buf.find('\n')) != std::string::npos) {
      auto line = buf.substr(0, pos);
      buf.erase(0, pos + 1);
      std::cout << line << "\n";
      if (line == "OK" || line.rfind("ERR", 0) == 0)
        return true;
    }
    char chunk[4096];
    auto n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0)
      return false;
    buf.append(chunk, static_cast<std::size_t>(n));
  }
}

} // namespace

int run_shell_client(const std::string& address) {
  auto colon = address.rfind(':');
  std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  int port = colon == std::string::npos ? 5039 : std::atoi(address.c_str() + colon + 1);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<uint16_t>(port));
  if (port <= 0 || port > 65535 || inet_pton(AF_INET, host.c_str(), &sin.sin_addr) != 1) {
    std::fprintf(stderr, "actorpbx shell: bad address '%s' (want IP:PORT)\n", address.c_str());
    return 2;
  }
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)) != 0) {
    std::fprintf(stderr, "actorpbx shell: cannot connect to %s: %s\n", address.c_str(),
                 std::strerror(errno));
    return 1;
  }
  bool tty = isatty(STDIN_FILENO);
  std::string buf;
  bool importing = false;
  for (;;) {
    char* raw = tty ? readline(importing ? "csv> " : "actorpbx> ") : nullptr;
    std::string line;
    if (tty) {
      if (!raw)
        break;
      line = raw;
      std::free(raw);
      if (!line.empty() && !importing)
        add_history(line.c_str());
    } else if (!std::getline(std::cin, line)) {
      break;
    }
    if (!send_line(fd, line))
      break;
    // An import is answered once, after its closing ".".
    if (!importing && line.rfind("extension import", 0) == 0) {
      importing = true;
      continue;
    }
    if (importing) {
      if (line != ".")
        continue;
      importing = false;
    }
    if (line.find_first_not_of(" \t") == std::string::npos)
      continue;
    if (!print_answer(fd, buf))
      break;
    if (line == "quit" || line == "exit")
      break;
  }
  ::close(fd);
  return 0;
}

} // namespace pbx
