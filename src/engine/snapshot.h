// Engine snapshots: every piece of state that changes a verdict, written to
// bytes and read back into a fresh Engine, so that a long-running node (the
// cluster's correlator, `scan --resume`) restarts from a snapshot plus the
// events after it instead of replaying its whole history.
//
// What is saved: the account table (every AccountState slot, free slots in
// their order, the CLOCK hand and eviction counters; the id map is rebuilt
// from the slots), the summaries of forgotten accounts, the latest verdict
// record per account, analysts' overrides, the indicator index, the
// campaign forest and aggregates, the link graph, imported (shared)
// indicators, both template indexes (current and old generation), the
// population's token baseline, and the engine's counters and clock position
// (interactions, newest timestamp, last re-examined day). Not saved:
// scratch buffers, the verdict observer, the policy and options (the caller
// constructs the engine with them; a fingerprint of both is saved and must
// match, else the snapshot is refused).
//
// Format (host byte order, like serve's log and the cluster's records):
//   header  8 bytes "DGSNAPv1", uint32 kSnapshotVersion, uint32 0,
//           uint64 payload bytes, uint64 XXH3-64 of the payload
//   payload sections in a fixed order, each opened by a 4-byte tag
//           ("POLI", "ACCT", ...) so that an error can say where it is;
//           hash maps are written in key order, so the same state always
//           gives the same bytes (Save(Load(Save(e))) == Save(e)).
// Each struct's encoding is in one place (snapshot.cc), next to a
// static_assert on its size: a field added to AccountState, IndicatorStats,
// CampaignAggregate, ... without updating the encoder fails the build
// rather than silently resetting state on restart. (A field that fits into
// existing padding does not change the size; the resume tests, which
// compare a resumed run with an uninterrupted one, are the second net.)
//
// Loading reads outside input (a file, a KV bucket): the version, the
// length and the checksum are checked first; then every count is bounded by
// the bytes left before anything is allocated, every enum and every
// account index is range-checked, and the campaign forest must be acyclic.
// Anything wrong gives an error saying what, at which byte and in which
// section; the engine is then not returned (the caller replays instead).
// No recursion. Fuzzed: fuzz/fuzz_snapshot.cc.
//
// Cost: Save and Load are O(state) (Save sorts each hash map's keys).
// Size: ~1.6 KB per account slot, ~110 B per indicator value, ~230 B per
// template cluster -- on the standard scenario x0.3, 45.6 MB for 6,029
// accounts, two thirds of it the prompt template index; ~0.9 s of CPU to
// save and ~1 s to load there (BENCHMARKS.md, "Engine snapshots").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <absl/status/statusor.h>

#include "engine/engine.h"

namespace dg {

inline constexpr uint32_t kSnapshotVersion = 11;  // 2: changed_hour, the cleared population; 3: repeats; 4: value kinds; 5: repeat ages; 6: cards seen; 7: 64-bit reason masks, networks; 8: the rotating cleared population; 9: which repeats are system prompts; 10: which are client configurations; 11: a reviewable account's clean run
inline constexpr size_t kSnapshotHeaderBytes = 32;

// Appends the engine's snapshot to *out. Const: safe while nothing observes.
void SaveSnapshot(const Engine& engine, std::string* out);

// A new engine with the policy and options given, holding the snapshot's
// state; an error (InvalidArgument / FailedPrecondition for a snapshot of
// another version, policy or options) when the bytes are not a complete,
// intact snapshot of this version.
absl::StatusOr<std::unique_ptr<Engine>> LoadSnapshot(std::string_view bytes, const Policy& policy,
                                                     const EngineOptions& options);

// The 64-bit fingerprint of a policy and engine options that a snapshot
// records (every field, allow lists in sorted order).
uint64_t SnapshotConfigFingerprint(const Policy& policy, const EngineOptions& options);

}  // namespace dg
