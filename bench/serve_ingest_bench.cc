// In-process ingest throughput of serve's Service (no HTTP): JSONL batches
// from a file through Ingest() on T threads -- parse, digest, durable
// SQLite append, engine apply. Separates the service's own cost from the
// HTTP layer's. Then the SQLite append path alone (#21): the wire records
// the run logged, appended again to a fresh Store in batches of the same
// size (one durable transaction and fsync each), timed without parsing,
// digesting or the engine.
// Usage: dg_serve_ingest_bench FILE [EVENTS] [BATCH] [THREADS]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "serve/service.h"
#include "serve/store.h"

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

  // The append path alone, on the records serve logged.
  std::vector<std::string> records;
  {
    auto logged = dg::Store::Open(dir.string());
    if (!logged.ok()) {
      std::fprintf(stderr, "%s\n", logged.status().ToString().c_str());
      return 1;
    }
    const absl::Status read = (*logged)->ForEachRecord([&](std::string_view r) { records.emplace_back(r); });
    if (!read.ok()) {
      std::fprintf(stderr, "%s\n", read.ToString().c_str());
      return 1;
    }
  }
  std::vector<std::vector<std::string>> record_batches;
  size_t record_bytes = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    if (i % batch == 0) record_batches.emplace_back();
    record_bytes += records[i].size();
    record_batches.back().push_back(std::move(records[i]));
  }
  const auto dir2 = std::filesystem::temp_directory_path() / "dg_serve_ingest_bench_store";
  std::filesystem::remove_all(dir2);
  std::filesystem::create_directories(dir2);
  {
    auto store = dg::Store::Open(dir2.string());
    if (!store.ok()) {
      std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
      return 1;
    }
    const auto a0 = std::chrono::steady_clock::now();
    for (const auto& b : record_batches) {
      if (absl::Status st = (*store)->Append(b, {}); !st.ok()) {
        std::fprintf(stderr, "%s\n", st.ToString().c_str());
        return 1;
      }
    }
    const double as = std::chrono::duration<double>(std::chrono::steady_clock::now() - a0).count();
    std::printf("store_append: events=%zu seconds=%.3f events_per_s=%.0f wire_MB_per_s=%.1f bytes_per_record=%.0f batches=%zu\n",
                records.size(), as, records.size() / as, record_bytes / as / 1e6,
                records.empty() ? 0.0 : static_cast<double>(record_bytes) / records.size(), record_batches.size());
  }
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(dir2);
  return 0;
}
