// libFuzzer: engine snapshots (engine/snapshot.h) as a restarting
// correlator or `scan --resume` reads them from a bucket or a file. The
// input is taken as a snapshot's payload: the fuzzer writes a valid header
// and checksum in front of it (the checksum would otherwise refuse nearly
// every input before the decoder), and also tries the bytes as a whole
// snapshot, header included. Seeds: real snapshots (fuzz/corpus/fuzz_snapshot,
// payload only). Traps if a refusal has no reason, or if an accepted snapshot
// does not save back to the same bytes; an accepted engine is then driven
// through a few interactions and a check, so state that loads but breaks a
// later stage (an index out of range, a cycle) is found too.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "common/hash.h"
#include "engine/snapshot.h"

namespace {

void Drive(dg::Engine* engine) {
  for (int k = 0; k < 40; ++k) {
    dg::Interaction in;
    in.ts = 1767225600000 + k * 60000;
    in.request_id = "r" + std::to_string(k);
    in.account_id = "a" + std::to_string(k % 5);
    in.ip = "10.0.0." + std::to_string(k % 3);
    in.payment_fingerprint = "card" + std::to_string(k % 2);
    in.messages.push_back({dg::Role::kUser, "Explain your reasoning step by step for task " + std::to_string(k % 4)});
    engine->Observe(in);
  }
  engine->Finish();
  dg::CheckRequest req;
  req.account_id = "a1";
  req.payment_fingerprint = "card0";
  req.ip = "10.0.0.1";
  (void)engine->Check(req);
}

void Try(std::string_view bytes) {
  auto loaded = dg::LoadSnapshot(bytes, dg::Policy::Defaults(), {});
  if (!loaded.ok()) {
    if (loaded.status().message().empty()) std::abort();
    return;
  }
  std::string again;
  dg::SaveSnapshot(**loaded, &again);
  if (again != bytes) std::abort();
  Drive(loaded->get());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  std::string sealed("DGSNAPv1", 8);
  const uint32_t version = dg::kSnapshotVersion, reserved = 0;
  const uint64_t length = size, sum = XXH3_64bits(payload.data(), payload.size());
  sealed.append(reinterpret_cast<const char*>(&version), 4);
  sealed.append(reinterpret_cast<const char*>(&reserved), 4);
  sealed.append(reinterpret_cast<const char*>(&length), 8);
  sealed.append(reinterpret_cast<const char*>(&sum), 8);
  sealed.append(payload);
  Try(sealed);
  Try(payload);
  return 0;
}
