// Traceback: which accounts received the responses found in a suspect data
// set or in a suspect model's outputs.
//
// ResponseIndex keeps, for every response served, a compact fingerprint --
// the account, the time, and the 32 MinHash bins (16 bits each) of the
// response's opening kResponsePrintBytes, masked and shingled like prompts
// (content/minhash.h) -- never the text: 76 bytes a response. A query
// fingerprints the suspect text the same way and finds candidates through
// LSH (8 bands of 4 bins), then keeps those whose share of equal bins (an
// estimate of the Jaccard similarity of their 3-token shingles) reaches
// the threshold; light edits -- words changed, added or dropped -- keep
// most shingles, so near-copies are found, not only exact ones.
//
// The index file (scan --out DIR/responses.fp, or rebuilt from a serve
// data directory's log) is written as a stream: memory while scanning is
// O(accounts), not O(responses). Loading it costs 76 B per response plus
// the LSH tables (~8 x 12 B per response).
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "common/status.h"
#include "common/time.h"
#include "content/analyzer.h"  // ResponseSignature
#include "content/minhash.h"
#include "content/tokens.h"

namespace dg {

// Appends fingerprints to DIR/responses.fp as they are served.
class ResponseIndexWriter {
 public:
  ~ResponseIndexWriter();
  // Unavailable "PATH: cannot write: REASON" when the file cannot be created.
  absl::Status Open(const std::string& path);
  void Add(std::string_view account, TimeMs ts, const Signature& sig);
  // Unavailable "PATH: write failed: REASON" when a write or the close failed.
  absl::Status Close();
  uint64_t written() const { return written_; }

 private:
  std::FILE* f_ = nullptr;
  std::string path_;
  absl::flat_hash_map<std::string, uint32_t> accounts_;
  uint64_t written_ = 0;
};

class ResponseIndex {
 public:
  struct Print {
    uint32_t account;
    TimeMs ts;
    std::array<uint16_t, kMinHashBins> bins;
  };
  struct Hit {
    uint32_t entry;
    double similarity;
  };

  void Add(std::string_view account, TimeMs ts, const Signature& sig);
  // NotFound when the file cannot be opened, InvalidArgument when it is not
  // an index ("PATH: not a distillguard response index" either way),
  // DataLoss when it is truncated or corrupt.
  static absl::StatusOr<ResponseIndex> Load(const std::string& path);
  // Entries at least min_similarity alike, best first.
  std::vector<Hit> Query(const Signature& sig, double min_similarity);
  size_t size() const { return entries_.size(); }
  const Print& entry(uint32_t idx) const { return entries_[idx]; }
  const std::string& account(uint32_t idx) const { return accounts_[idx]; }

 private:
  void Build();
  std::vector<std::string> accounts_;
  absl::flat_hash_map<std::string, uint32_t> account_ids_;
  std::vector<Print> entries_;
  absl::flat_hash_map<uint64_t, std::vector<uint32_t>> bands_;
  size_t built_ = 0;  // entries already in bands_
};

// Suspect texts from a JSONL file: each line's "text", "completion",
// "output", "response" (string or {"content": ...}), OpenAI
// choices[0].message.content, or the last assistant message; a line that is
// not JSON is taken as text. NotFound "PATH: cannot read" if unreadable.
absl::StatusOr<std::vector<std::string>> ReadSuspectTexts(const std::string& path);

}  // namespace dg
