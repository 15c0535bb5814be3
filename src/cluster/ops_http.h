// OpsServer: the operations endpoint of a cluster node (worker, correlator,
// decision node): GET /metrics, /healthz, /readyz and, on a decision node,
// POST /v1/check -- a plain HTTP/1.1 server on one thread, one request per
// connection (Connection: close), for probes and scrapes rather than
// client traffic. Requests are bounded (16 KB header + body, 2 s to
// arrive); anything else gets 400/404.
//
// Cost: one thread; one accept + one read + one write per request.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include <absl/status/statusor.h>

namespace dg {

struct OpsResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class OpsServer {
 public:
  // method ("GET"/"POST"), path (without the query), body.
  using Handler = std::function<OpsResponse(const std::string& method, const std::string& path, const std::string& body)>;
  // listen: HOST:PORT (port 0: any free port, see port()). Starts serving.
  static absl::StatusOr<std::unique_ptr<OpsServer>> Start(const std::string& listen, Handler handler);
  ~OpsServer();  // stops and joins
  OpsServer(const OpsServer&) = delete;
  OpsServer& operator=(const OpsServer&) = delete;
  int port() const { return port_; }

 private:
  OpsServer() = default;
  void Loop();
  void Serve(int fd);
  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace dg
