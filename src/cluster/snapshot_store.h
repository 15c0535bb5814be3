// Snapshot store: the correlator's engine snapshots (engine/snapshot.h) in
// the replicated KV bucket dg_snapshots (docs/SCALE.md, "Correlator
// snapshots"). libnats 3.4 has no object store, and a KV value is bounded
// by the server's max_payload (1 MiB by default), so a snapshot is cut into
// chunks:
//
//   s<slot>.<i>   chunk i of the snapshot in slot 0 or 1
//   head          the manifest: "v1 gen=G slot=S next=N bytes=B chunks=K
//                 xxh3=X pos=P0,P1,..,P(P-1)"
//
// A new snapshot goes to the slot the current head does not name, and head
// is put last: a writer that dies half way leaves the previous snapshot
// whole. next: the global sequence number the engine had applied through
// (exclusive); pos[p]: the digest stream sequence partition p's consumer
// restarts from (every digest at or after `next` lies at or after it;
// earlier ones are dropped by the correlator's sequence check).
//
// The manifest and the chunks are outside input: the manifest parser
// refuses anything but exactly its seven fields (sizes bounded, one
// position per partition), the loader never allocates more than 64 MiB on
// the manifest's word (the bytes grow with the chunks actually read), and
// the chunks must give exactly the manifest's size and XXH3 before the
// engine decoder sees them. Cost: one KV get or put per chunk (256 KiB by
// default; at most 64 in flight when storing) plus the engine's encode or
// decode.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "cluster/jetstream.h"
#include "engine/snapshot.h"

namespace dg {

struct SnapshotManifest {
  uint64_t gen = 0;     // 0: no snapshot yet
  uint64_t slot = 0;    // 0 or 1
  uint64_t next = 0;    // global sequence applied through (exclusive)
  uint64_t bytes = 0;   // the snapshot's size
  uint64_t chunks = 0;  // 0: no snapshot yet
  uint64_t xxh3 = 0;    // of the whole snapshot
  std::vector<uint64_t> pos;  // per partition: digest stream restart position
};

std::string FormatManifest(const SnapshotManifest& m);
// InvalidArgument with the manifest's first 200 bytes and the reason.
absl::Status ParseManifest(std::string_view text, size_t partitions, SnapshotManifest* m);
std::string SnapshotChunkKey(uint64_t slot, uint64_t chunk);

// The engine of the newest snapshot in `bucket`, and its manifest.
// NotFound: there is none; any other error: it is unusable (torn,
// overwritten, corrupt, of another version, policy or options), said in the
// message; the caller replays from the start.
absl::StatusOr<std::unique_ptr<Engine>> LoadNewestSnapshot(KvBucket* bucket, size_t partitions, const Policy& policy,
                                                           const EngineOptions& options, SnapshotManifest* manifest);

// Stores `snapshot` (SaveSnapshot's bytes) as the manifest's slot in chunks
// of chunk_bytes (at least 1 KiB), then the manifest (its bytes, xxh3 and
// chunks filled in here; gen, slot, next and pos are the caller's),
// through `pub`: a publisher the caller keeps for its snapshots (one per
// node, not one per snapshot: see NatsLink::Retire), empty on return.
absl::Status StoreSnapshot(ReliablePublisher* pub, KvBucket* bucket, std::string_view snapshot, size_t chunk_bytes,
                           SnapshotManifest* manifest);

}  // namespace dg
