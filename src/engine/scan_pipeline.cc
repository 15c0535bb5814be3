#include "engine/scan_pipeline.h"

#include <atomic>
#include <exception>
#include <thread>

#include "common/bounded_queue.h"

namespace dg {
namespace {

// One interaction with the stateless half of its analysis done: what the
// reading half hands the engine.
struct Digested {
  Interaction in;
  ContentDigest digest;
};
// Items [0, n) are live; the rest keep their buffers for the next fill.
struct Batch {
  std::vector<Digested> items;
  size_t n = 0;
};
constexpr size_t kBatch = 256;
constexpr size_t kFullBatches = 8;
constexpr size_t kBatchesInCirculation = kFullBatches + 2;

// Thrown on the reading thread when the engine's side has failed: it
// unwinds the reader out of the pipeline instead of reading on for nothing.
struct ReaderCancelled {};

}  // namespace

ScanResult ScanFiles(const std::vector<std::string>& inputs, const ScanOptions& options, Engine* engine,
                   const ScanHooks& hooks) {
  DigestScratch scratch;  // the reading half's token buffers and system-prompt cache
  auto observe = [&](const Interaction& in, const ContentDigest& digest) {
    engine->ObserveDigest(in, digest);
    if (hooks.observed) hooks.observed(in, digest);
  };
  auto digest = [&](Interaction& in, ContentDigest* out) {
    if (hooks.prepare) hooks.prepare(in);
    DigestContent(in, &scratch, out, options.digest);
  };
  BoundedQueue<Batch> full(kFullBatches), empty(kBatchesInCirculation);
  Batch current;
  ContentDigest one;
  const bool two = options.threads >= 2;
  std::atomic<bool> cancelled{false};
  IngestPipeline::Sink sink;
  if (two) {
    sink = [&](Interaction& in) {
      if (cancelled.load(std::memory_order_relaxed)) throw ReaderCancelled{};
      if (current.n == 0 && current.items.empty()) {
        if (auto b = empty.TryPop()) current = std::move(*b);
      }
      if (current.n == current.items.size()) current.items.emplace_back();
      Digested& d = current.items[current.n++];
      std::swap(d.in, in);  // the slot's old buffers go back to the reader
      digest(d.in, &d.digest);
      if (current.n == kBatch) {
        if (!full.Push(std::move(current))) throw ReaderCancelled{};
        current = Batch();
      }
    };
  } else {
    sink = [&](Interaction& in) {
      digest(in, &one);
      observe(in, one);
    };
  }
  IngestPipeline pipeline(options.ingest, sink, [&](const std::string& msg) {
    if (hooks.on_error) hooks.on_error(msg);
  });
  ScanResult result;
  auto read_all = [&] {
    // Several inputs are one timeline: merged by time, not read one after
    // the other (replicas and any file order give the same verdicts).
    if (!pipeline.AddFiles(inputs)) result.stopped = true;
    pipeline.Flush();
  };
  if (two) {
    // An exception on either side ends the scan with that exception on the
    // caller's thread, after the reader has stopped: the reader's is kept
    // and rethrown after the join; the engine's side cancels the reader
    // (its next interaction or push throws ReaderCancelled) before joining.
    std::exception_ptr reader_error;
    std::thread reader([&] {
      try {
        read_all();
        if (current.n > 0) full.Push(std::move(current));
      } catch (const ReaderCancelled&) {
      } catch (...) {
        reader_error = std::current_exception();
      }
      full.Close();
    });
    try {
      while (auto batch = full.Pop()) {
        for (size_t k = 0; k < batch->n; ++k) observe(batch->items[k].in, batch->items[k].digest);
        batch->n = 0;
        empty.Push(std::move(*batch));  // at most kBatchesInCirculation exist: never blocks
      }
    } catch (...) {
      cancelled.store(true, std::memory_order_relaxed);
      full.Close();
      reader.join();
      throw;
    }
    reader.join();
    if (reader_error) std::rethrow_exception(reader_error);
  } else {
    read_all();
  }
  result.stats = pipeline.stats();
  return result;
}

}  // namespace dg
