#include "cluster/ops_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cctype>
#include <cstring>

#include <fmt/format.h>

#include "common/parse_int.h"

namespace dg {
namespace {

constexpr size_t kMaxRequestBytes = 16 * 1024;
constexpr int kReadDeadlineMs = 2000;

const char* StatusText(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<OpsServer>> OpsServer::Start(const std::string& listen, Handler handler) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return absl::InvalidArgumentError(fmt::format("--listen '{}': not HOST:PORT", listen));
  const std::string host = listen.substr(0, colon);
  const auto port = ParseDecimal<uint16_t>(listen.substr(colon + 1));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (!port || inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(fmt::format("--listen '{}': not an IPv4 HOST:PORT", listen));
  }
  addr.sin_port = htons(*port);
  std::unique_ptr<OpsServer> server(new OpsServer());
  server->handler_ = std::move(handler);
  server->listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(server->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (server->listen_fd_ < 0 || bind(server->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(server->listen_fd_, 64) != 0) {
    return absl::UnavailableError(fmt::format("listen on {}: {}", listen, std::strerror(errno)));
  }
  socklen_t len = sizeof(addr);
  getsockname(server->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  server->port_ = ntohs(addr.sin_port);
  server->thread_ = std::thread([s = server.get()] { s->Loop(); });
  return server;
}

OpsServer::~OpsServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
}

void OpsServer::Loop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    Serve(fd);
    close(fd);
  }
}

void OpsServer::Serve(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  std::string req;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kReadDeadlineMs);
  size_t header_end = std::string::npos, content_length = 0;
  char buf[4096];
  while (true) {
    if (header_end == std::string::npos) {
      header_end = req.find("\r\n\r\n");
      if (header_end != std::string::npos) {
        // Content-Length, case-insensitively, in the header block only.
        std::string head = req.substr(0, header_end);
        for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (const size_t at = head.find("\r\ncontent-length:"); at != std::string::npos) {
          size_t pos = at + 17;
          while (pos < head.size() && head[pos] == ' ') ++pos;
          size_t end = pos;
          while (end < head.size() && std::isdigit(static_cast<unsigned char>(head[end]))) ++end;
          const auto n = ParseDecimal<uint64_t>(head.substr(pos, end - pos));
          if (!n || *n > kMaxRequestBytes) return;
          content_length = *n;
        }
      }
    }
    if (header_end != std::string::npos && req.size() >= header_end + 4 + content_length) break;
    if (req.size() > kMaxRequestBytes) return;
    const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          deadline - std::chrono::steady_clock::now()).count());
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, left) <= 0) return;
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) return;
    req.append(buf, static_cast<size_t>(n));
  }
  OpsResponse resp;
  const size_t sp1 = req.find(' ');
  const size_t sp2 = sp1 == std::string::npos ? std::string::npos : req.find(' ', sp1 + 1);
  if (sp2 == std::string::npos || sp2 > header_end) {
    resp = OpsResponse{400, "text/plain; charset=utf-8", "bad request\n"};
  } else {
    const std::string method = req.substr(0, sp1);
    std::string path = req.substr(sp1 + 1, sp2 - sp1 - 1);
    if (const size_t q = path.find('?'); q != std::string::npos) path.resize(q);
    resp = handler_(method, path, req.substr(header_end + 4, content_length));
  }
  std::string out = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                resp.status, StatusText(resp.status), resp.content_type, resp.body.size());
  out += resp.body;
  size_t sent = 0;
  while (sent < out.size()) {
    const ssize_t n = write(fd, out.data() + sent, out.size() - sent);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

}  // namespace dg
