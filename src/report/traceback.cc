#include "report/traceback.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>
#include <simdjson.h>

#include "common/hash.h"

namespace dg {
namespace {

constexpr char kMagic[8] = {'D', 'G', 'R', 'E', 'S', 'P', '1', '\n'};

std::array<uint16_t, kMinHashBins> Fold(const Signature& sig) {
  std::array<uint16_t, kMinHashBins> out{};
  for (size_t i = 0; i < kMinHashBins; ++i) out[i] = static_cast<uint16_t>(sig[i] ^ (sig[i] >> 16));
  return out;
}

uint64_t BandKey(const std::array<uint16_t, kMinHashBins>& bins, size_t band) {
  uint64_t h = band + 1;
  for (size_t r = 0; r < kLshRows; ++r) h = HashCombine(h, bins[band * kLshRows + r]);
  return h;
}

std::string TextOf(simdjson::dom::element e) {
  std::string_view s;
  if (e.get_string().get(s) == simdjson::SUCCESS) return std::string(s);
  simdjson::dom::array blocks;
  if (e.get_array().get(blocks) == simdjson::SUCCESS) {
    std::string out;
    for (simdjson::dom::element b : blocks) {
      std::string_view t;
      if (b["text"].get_string().get(t) == simdjson::SUCCESS) out += std::string(t) + "\n";
    }
    return out;
  }
  simdjson::dom::element content;
  if (e["content"].get(content) == simdjson::SUCCESS) return TextOf(content);
  return {};
}

}  // namespace

ResponseIndexWriter::~ResponseIndexWriter() {
  if (f_ != nullptr) std::fclose(f_);
}

absl::Status ResponseIndexWriter::Open(const std::string& path) {
  path_ = path;
  f_ = std::fopen(path.c_str(), "wb");
  if (f_ == nullptr || std::fwrite(kMagic, 1, sizeof(kMagic), f_) != sizeof(kMagic)) {
    return absl::UnavailableError(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
  }
  return absl::OkStatus();
}

// Records: 'A' u32 length, bytes (a new account; ids by order of first
// appearance) or 'R' u32 account, i64 ts, 32 x u16 bins.
void ResponseIndexWriter::Add(std::string_view account, TimeMs ts, const Signature& sig) {
  if (f_ == nullptr) return;
  auto [it, inserted] = accounts_.try_emplace(std::string(account), static_cast<uint32_t>(accounts_.size()));
  if (inserted) {
    const auto len = static_cast<uint32_t>(account.size());
    std::fputc('A', f_);
    std::fwrite(&len, 4, 1, f_);
    std::fwrite(account.data(), 1, account.size(), f_);
  }
  const auto bins = Fold(sig);
  std::fputc('R', f_);
  std::fwrite(&it->second, 4, 1, f_);
  std::fwrite(&ts, 8, 1, f_);
  std::fwrite(bins.data(), 2, bins.size(), f_);
  ++written_;
}

absl::Status ResponseIndexWriter::Close() {
  if (f_ == nullptr) return absl::OkStatus();
  const bool ok = std::ferror(f_) == 0;
  const bool closed = std::fclose(f_) == 0;
  f_ = nullptr;
  if (!ok || !closed) return absl::UnavailableError(fmt::format("{}: write failed: {}", path_, std::strerror(errno)));
  return absl::OkStatus();
}

void ResponseIndex::Add(std::string_view account, TimeMs ts, const Signature& sig) {
  auto [it, inserted] = account_ids_.try_emplace(std::string(account), static_cast<uint32_t>(accounts_.size()));
  if (inserted) accounts_.emplace_back(account);
  entries_.push_back({it->second, ts, Fold(sig)});
}

absl::StatusOr<ResponseIndex> ResponseIndex::Load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(path + ": not a distillguard response index");
  char magic[sizeof(kMagic)];
  if (!f.read(magic, sizeof(magic)) || std::memcmp(magic, kMagic, sizeof(kMagic)) != 0) {
    return absl::InvalidArgumentError(path + ": not a distillguard response index");
  }
  ResponseIndex idx;
  char tag;
  while (f.get(tag)) {
    if (tag == 'A') {
      uint32_t len = 0;
      std::string id;
      if (!f.read(reinterpret_cast<char*>(&len), 4) || len > (1u << 20)) break;
      id.resize(len);
      if (!f.read(id.data(), len)) break;
      idx.account_ids_.emplace(id, static_cast<uint32_t>(idx.accounts_.size()));
      idx.accounts_.push_back(std::move(id));
    } else if (tag == 'R') {
      Print p{};
      if (!f.read(reinterpret_cast<char*>(&p.account), 4) || !f.read(reinterpret_cast<char*>(&p.ts), 8) ||
          !f.read(reinterpret_cast<char*>(p.bins.data()), 2 * kMinHashBins) || p.account >= idx.accounts_.size()) {
        return absl::DataLossError(path + ": truncated or corrupt record");
      }
      idx.entries_.push_back(p);
    } else {
      return absl::DataLossError(path + ": corrupt record tag");
    }
  }
  if (!f.eof()) {
    return absl::DataLossError(path + ": truncated");
  }
  return idx;
}

void ResponseIndex::Build() {
  for (; built_ < entries_.size(); ++built_) {
    for (size_t b = 0; b < kLshBands; ++b) bands_[BandKey(entries_[built_].bins, b)].push_back(static_cast<uint32_t>(built_));
  }
}

std::vector<ResponseIndex::Hit> ResponseIndex::Query(const Signature& sig, double min_similarity) {
  Build();
  const auto bins = Fold(sig);
  std::vector<uint32_t> candidates;
  for (size_t b = 0; b < kLshBands; ++b) {
    const auto it = bands_.find(BandKey(bins, b));
    if (it != bands_.end()) candidates.insert(candidates.end(), it->second.begin(), it->second.end());
  }
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  std::vector<Hit> hits;
  for (const uint32_t c : candidates) {
    size_t same = 0;
    for (size_t i = 0; i < kMinHashBins; ++i) same += entries_[c].bins[i] == bins[i];
    const double sim = static_cast<double>(same) / kMinHashBins;
    if (sim >= min_similarity) hits.push_back({c, sim});
  }
  std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
    return a.similarity != b.similarity ? a.similarity > b.similarity : a.entry < b.entry;
  });
  return hits;
}

absl::StatusOr<std::vector<std::string>> ReadSuspectTexts(const std::string& path) {
  std::ifstream f(path);
  if (!f) return absl::NotFoundError(path + ": cannot read");
  std::vector<std::string> out;
  simdjson::dom::parser parser;
  std::string line;
  while (std::getline(f, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    simdjson::dom::element doc;
    simdjson::dom::object o;
    if (parser.parse(line).get(doc) != simdjson::SUCCESS || doc.get_object().get(o) != simdjson::SUCCESS) {
      out.push_back(line);  // plain text
      continue;
    }
    std::string text;
    simdjson::dom::element e;
    for (const char* key : {"text", "completion", "output", "response"}) {
      if (text.empty() && o.at_key(key).get(e) == simdjson::SUCCESS) text = TextOf(e);
    }
    if (text.empty() && o.at_pointer("/choices/0/message/content").get(e) == simdjson::SUCCESS) text = TextOf(e);
    simdjson::dom::array messages;
    if (text.empty() && o["messages"].get_array().get(messages) == simdjson::SUCCESS) {
      for (simdjson::dom::element m : messages) {
        std::string_view role;
        if (m["role"].get_string().get(role) == simdjson::SUCCESS && role == "assistant") text = TextOf(m);
      }
    }
    out.push_back(std::move(text));
  }
  return out;
}

}  // namespace dg
