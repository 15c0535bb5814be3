#include "cluster/snapshot_store.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include <fmt/format.h>

#include "common/hash.h"
#include "common/parse_int.h"

namespace dg {

std::string FormatManifest(const SnapshotManifest& h) {
  std::string pos;
  for (const uint64_t p : h.pos) pos += (pos.empty() ? "" : ",") + std::to_string(p);
  return fmt::format("v1 gen={} slot={} next={} bytes={} chunks={} xxh3={:016x} pos={}", h.gen, h.slot, h.next, h.bytes,
                     h.chunks, h.xxh3, pos);
}

absl::Status ParseManifest(std::string_view text, size_t partitions, SnapshotManifest* h) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(fmt::format("snapshot manifest '{}': {}", text.substr(0, 200), why));
  };
  if (text.substr(0, 3) != "v1 ") return bad("not a v1 manifest");
  size_t fields = 0;
  for (size_t at = 3; at < text.size();) {
    size_t end = text.find(' ', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view field = text.substr(at, end - at);
    at = end + 1;
    const size_t eq = field.find('=');
    if (eq == std::string_view::npos) return bad("a field without '='");
    const std::string_view key = field.substr(0, eq), value = field.substr(eq + 1);
    if (key == "pos") {
      h->pos.clear();
      for (size_t p = 0; p <= value.size();) {
        size_t comma = value.find(',', p);
        if (comma == std::string_view::npos) comma = value.size();
        const auto n = ParseDecimal<uint64_t>(value.substr(p, comma - p));
        if (!n || h->pos.size() >= partitions) return bad("bad partition positions");
        h->pos.push_back(*n);
        p = comma + 1;
      }
      ++fields;
      continue;
    }
    uint64_t n = 0;
    if (key == "xxh3") {
      if (value.size() != 16 || std::sscanf(std::string(value).c_str(), "%16" SCNx64, &n) != 1) return bad("bad xxh3");
    } else {
      const auto d = ParseDecimal<uint64_t>(value);
      if (!d) return bad(fmt::format("'{}' is not a count", key));
      n = *d;
    }
    if (key == "gen") h->gen = n;
    else if (key == "slot") h->slot = n;
    else if (key == "next") h->next = n;
    else if (key == "bytes") h->bytes = n;
    else if (key == "chunks") h->chunks = n;
    else if (key == "xxh3") h->xxh3 = n;
    else return bad(fmt::format("unknown field '{}'", key));
    ++fields;
  }
  if (fields != 7) return bad("missing fields");
  if (h->pos.size() != partitions) return bad(fmt::format("{} partition positions, the cluster has {}", h->pos.size(), partitions));
  if (h->slot > 1) return bad("slot is not 0 or 1");
  if (h->chunks == 0 || h->chunks > (h->bytes >> 10) + 1024) return bad("chunk count does not fit the size");
  return absl::OkStatus();
}

std::string SnapshotChunkKey(uint64_t slot, uint64_t chunk) { return fmt::format("s{}.{}", slot, chunk); }

absl::StatusOr<std::unique_ptr<Engine>> LoadNewestSnapshot(KvBucket* bucket, size_t partitions, const Policy& policy,
                                                           const EngineOptions& options, SnapshotManifest* head) {
  auto text = bucket->Get("head");
  if (!text.ok()) return text.status();
  if (auto s = ParseManifest(*text, partitions, head); !s.ok()) return s;
  std::string bytes;
  // The manifest's size is not trusted for an allocation: the bytes grow
  // with the chunks actually read, and stop at the size it claims.
  bytes.reserve(std::min<uint64_t>(head->bytes, uint64_t{64} << 20));
  for (uint64_t c = 0; c < head->chunks; ++c) {
    auto chunk = bucket->Get(SnapshotChunkKey(head->slot, c));
    if (!chunk.ok()) {
      return absl::DataLossError(fmt::format("snapshot gen {}: chunk {} of {}: {}", head->gen, c, head->chunks,
                                             std::string(chunk.status().message())));
    }
    if (bytes.size() + chunk->size() > head->bytes) break;
    bytes += *chunk;
  }
  if (bytes.size() != head->bytes || XXH3_64bits(bytes.data(), bytes.size()) != head->xxh3) {
    return absl::DataLossError(fmt::format("snapshot gen {}: its chunks give {} bytes that do not match the manifest "
                                           "({} bytes, xxh3 {:016x}): torn or overwritten",
                                           head->gen, bytes.size(), head->bytes, head->xxh3));
  }
  auto engine = LoadSnapshot(bytes, policy, options);
  if (!engine.ok()) {
    return absl::Status(engine.status().code(), fmt::format("snapshot gen {}: {}", head->gen, std::string(engine.status().message())));
  }
  return engine;
}

absl::Status StoreSnapshot(ReliablePublisher* pub, KvBucket* bucket, std::string_view snapshot, size_t chunk_bytes,
                           SnapshotManifest* manifest) {
  const size_t chunk = std::max<size_t>(chunk_bytes, 1024);
  manifest->bytes = snapshot.size();
  manifest->xxh3 = XXH3_64bits(snapshot.data(), snapshot.size());
  manifest->chunks = std::max<uint64_t>(1, (snapshot.size() + chunk - 1) / chunk);
  // A failed write leaves nothing queued behind for the next snapshot.
  auto fail = [pub](absl::Status s) {
    pub->Discard();
    return s;
  };
  for (uint64_t c = 0; c < manifest->chunks; ++c) {
    const size_t at = static_cast<size_t>(c) * chunk;
    if (auto s = pub->Add(bucket->Subject(SnapshotChunkKey(manifest->slot, c)),
                          std::string(snapshot.substr(std::min(at, snapshot.size()), chunk)), "");
        !s.ok()) {
      return fail(s);
    }
  }
  if (auto s = pub->Flush(); !s.ok()) return fail(s);
  return bucket->Put("head", FormatManifest(*manifest));
}

}  // namespace dg
