#include "cluster/batch_codec.h"

#include <cstring>

#include <fmt/format.h>

namespace dg {
namespace {

constexpr size_t kHeader = 1 + sizeof(uint32_t);

}  // namespace

BatchBuilder::BatchBuilder() { out_.assign(kHeader, '\0'); }

void BatchBuilder::Add(std::string_view body, std::string_view prefix) {
  if (out_.empty()) out_.assign(kHeader, '\0');
  const uint32_t n = static_cast<uint32_t>(prefix.size() + body.size());
  char len[sizeof(n)];
  std::memcpy(len, &n, sizeof(n));
  out_.append(len, sizeof(n));
  out_.append(prefix);
  out_.append(body);
  ++count_;
}

std::string BatchBuilder::Take() {
  if (out_.empty()) out_.assign(kHeader, '\0');
  out_[0] = static_cast<char>(kBatchCodecVersion);
  std::memcpy(out_.data() + 1, &count_, sizeof(count_));
  std::string done = std::move(out_);
  out_.assign(kHeader, '\0');
  count_ = 0;
  return done;
}

absl::Status DecodeBatch(std::string_view message, std::vector<std::string_view>* records) {
  records->clear();
  if (message.size() < kHeader) {
    return absl::InvalidArgumentError(fmt::format("batch: {} bytes, shorter than its 5-byte header", message.size()));
  }
  if (static_cast<uint8_t>(message[0]) != kBatchCodecVersion) {
    return absl::InvalidArgumentError(fmt::format("batch: version byte {:#04x}, expected {:#04x}",
                                                  static_cast<uint8_t>(message[0]), kBatchCodecVersion));
  }
  uint32_t count = 0;
  std::memcpy(&count, message.data() + 1, sizeof(count));
  if (count == 0 || count > kMaxBatchRecords) {
    return absl::InvalidArgumentError(fmt::format("batch: {} records (1 to {})", count, kMaxBatchRecords));
  }
  // Each record needs at least its 4-byte length: a count the bytes cannot
  // hold is refused before anything is reserved.
  if (count > (message.size() - kHeader) / sizeof(uint32_t)) {
    return absl::InvalidArgumentError(
        fmt::format("batch: {} records cannot fit in {} bytes", count, message.size()));
  }
  records->reserve(count);
  size_t pos = kHeader;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t n = 0;
    if (message.size() - pos < sizeof(n)) {
      records->clear();
      return absl::InvalidArgumentError(fmt::format("batch: record {} of {}: torn length at byte {}", i + 1, count, pos));
    }
    std::memcpy(&n, message.data() + pos, sizeof(n));
    pos += sizeof(n);
    if (message.size() - pos < n) {
      records->clear();
      return absl::InvalidArgumentError(fmt::format("batch: record {} of {} claims {} bytes, {} left", i + 1, count, n,
                                                    message.size() - pos));
    }
    records->push_back(message.substr(pos, n));
    pos += n;
  }
  if (pos != message.size()) {
    records->clear();
    return absl::InvalidArgumentError(
        fmt::format("batch: {} bytes after the last of {} records", message.size() - pos, count));
  }
  return absl::OkStatus();
}

}  // namespace dg
