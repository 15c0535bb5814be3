// In-process ingest throughput of serve's Service (no HTTP): JSONL batches
// from a file through Ingest() on T threads -- parse, digest, durable
// SQLite append, engine apply. Separates the service's own cost from the
// HTTP layer's. Usage: dg_serve_ingest_bench FILE [EVENTS] [BATCH] [THREADS]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "serve/service.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE [EVENTS] [BATCH] [THREADS]\n", argv[0]);
    return 2;
  }
  const size_t events = argc > 2 ? std::stoul(argv[2]) : 200000;
  const size_t batch = argc > 3 ? std::stoul(argv[3]) : 5000;
  const int threads = argc > 4 ? std::stoi(argv[4]) : 2;
  std::ifstream in(argv[1]);
  std::vector<std::string> batches;
  std::string cur, line;
  size_t n = 0, bytes = 0;
  while (n < events && std::getline(in, line)) {
    cur += line;
    cur += '\n';
    bytes += line.size() + 1;
    if (++n % batch == 0) batches.push_back(std::move(cur)), cur.clear();
  }
  if (!cur.empty()) batches.push_back(std::move(cur));
  const auto dir = std::filesystem::temp_directory_path() / "dg_serve_ingest_bench";
  std::filesystem::remove_all(dir);
  dg::ServiceOptions so;
  so.data_dir = dir.string();
  auto opened = dg::Service::Open(so);
  if (!opened.ok()) {
    std::fprintf(stderr, "%s\n", opened.status().ToString().c_str());
    return 1;
  }
  auto svc = std::move(*opened);
  std::atomic<size_t> next{0}, accepted{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (size_t i; (i = next++) < batches.size();) accepted += svc->Ingest(batches[i], "bench").accepted;
    });
  }
  for (auto& t : pool) t.join();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("events=%zu seconds=%.3f events_per_s=%.0f MB_per_s=%.1f batch=%zu threads=%d\n", accepted.load(), s,
              accepted / s, bytes / s / 1e6, batch, threads);
  svc.reset();
  std::filesystem::remove_all(dir);
  return 0;
}
