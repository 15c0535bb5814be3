// The ingest ceiling: the same JSONL read by a minimal simdjson loop that
// only extracts the fields distillguard uses (no mapping, no validation, no
// analysis), to compare with `scan` on the same file (issue #7: scan within
// 3x of this). Usage: dg_parse_ceiling FILE
#include <chrono>
#include <cstdio>
#include <string_view>
#include <utility>

#include <simdjson.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s FILE.jsonl\n", argv[0]);
    return 2;
  }
  simdjson::padded_string data;
  if (simdjson::padded_string::load(argv[1]).get(data) != simdjson::SUCCESS) {
    std::fprintf(stderr, "%s: cannot read\n", argv[1]);
    return 1;
  }
  // Timed from here: the file is already in memory (loading it is I/O and
  // page faults, not parsing).
  const auto t0 = std::chrono::steady_clock::now();
  // The DOM API dispatches at run time to the CPU's best kernel (the
  // header-only On Demand API would be compiled for the generic one).
  simdjson::dom::parser parser;
  simdjson::dom::document_stream docs;
  if (parser.parse_many(data, 1u << 24).get(docs) != simdjson::SUCCESS) return 1;
  size_t events = 0, bad = 0, text_bytes = 0;
  auto text = [&](simdjson::dom::element e) {
    std::string_view s;
    if (e.get_string().get(s) == simdjson::SUCCESS) text_bytes += s.size();
  };
  for (auto doc_result : docs) {
    simdjson::dom::element doc;
    simdjson::dom::object o;
    if (std::move(doc_result).get(doc) != simdjson::SUCCESS || doc.get_object().get(o) != simdjson::SUCCESS) {
      ++bad;
      continue;
    }
    for (const char* key : {"ts", "request_id", "account_id", "org_id", "ip", "user_agent", "payment_fingerprint", "model", "system"}) {
      simdjson::dom::element e;
      if (o.at_key(key).get(e) == simdjson::SUCCESS) text(e);
    }
    simdjson::dom::array msgs;
    if (o["messages"].get_array().get(msgs) == simdjson::SUCCESS) {
      for (simdjson::dom::element m : msgs) {
        simdjson::dom::element c;
        if (m.get_object().at_key("content").get(c) == simdjson::SUCCESS) text(c);
      }
    }
    simdjson::dom::element r;
    if (o.at_pointer("/response/content").get(r) == simdjson::SUCCESS) text(r);
    int64_t n = 0;
    double d = 0;
    if (o["max_tokens"].get_int64().get(n) != simdjson::SUCCESS) n = 0;
    if (o["temperature"].get_double().get(d) != simdjson::SUCCESS) d = 0;
    text_bytes += static_cast<size_t>(n + d);
    ++events;
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("events=%zu bad=%zu seconds=%.3f events_per_s=%.0f MB_per_s=%.1f\n", events, bad, s, events / s, data.size() / s / 1e6);
  return text_bytes == 0;  // keeps the loop from being optimised away
}
