// ScanFiles: the batch path from log files to an engine's verdicts, the
// pipeline `distillguard scan` drives (and any other batch front end):
//
//   files -> IngestPipeline (read, parse, dedup, merge, reorder; ingest/)
//         -> hooks.prepare(Interaction&)   enrichment, coverage (caller's)
//         -> DigestContent                 stateless text half (content/)
//         -> Engine::ObserveDigest         stateful stages, in time order
//         -> hooks.observed(in, digest)    e.g. the traceback index
//
// With threads = 2 the reading half (read, parse, prepare, digest) runs on
// a second thread and hands the engine batches of 256 interactions through
// a bounded queue (8 full batches in flight, 10 in circulation, their
// buffers reused); order is kept, so the verdicts are the same as with one
// thread, byte for byte. prepare and on_error run on the reading thread,
// observed on the caller's; prepare and observed see interactions in the
// engine's order. An exception from a hook, the reader or the engine stops
// both threads and reaches the caller of ScanFiles (the reading thread is
// always joined first); the engine is then mid-stream and must not be
// reused.
//
// Cost: the ingest and content costs per interaction, plus one move of the
// Interaction into a batch slot. Memory: the ingest bounds (pipeline.h) plus
// at most 10 x 256 interactions with their text (~10 MB at 4 KB each).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "content/analyzer.h"
#include "engine/engine.h"
#include "ingest/pipeline.h"

namespace dg {

struct ScanOptions {
  IngestOptions ingest;
  int threads = 2;  // 1: everything on the caller's thread
  DigestOptions digest;
};

struct ScanHooks {
  std::function<void(Interaction&)> prepare;                              // optional
  std::function<void(const Interaction&, const ContentDigest&)> observed;  // optional
  std::function<void(const std::string&)> on_error;                       // bad lines (file:line: field: reason)
};

struct ScanResult {
  IngestStats stats;
  bool stopped = false;  // strict mode stopped at the first bad line
};

// Feeds every input (merged into one timeline) through the engine; the
// engine is not Finish()ed (the caller may still observe).
ScanResult ScanFiles(const std::vector<std::string>& inputs, const ScanOptions& options, Engine* engine,
                   const ScanHooks& hooks);

}  // namespace dg
