// Scan outputs (SCHEMA.md, "Output of distillguard scan"):
//   accounts.jsonl  one line per account seen
//   campaigns.jsonl one line per campaign
//   report.html     the same for a person, self-contained, with SVG charts,
//                   and the field coverage (what the logs let it see)
// Cost: O(accounts + campaign members); written once at the end of a scan.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "ingest/coverage.h"
#include "report/views.h"

namespace dg {

struct RunInfo {
  std::string inputs;
  uint64_t interactions = 0;
  double seconds = 0;
  // Field coverage of the records read (scan; serve since it started):
  // report.html shows the shares and, prominently, what is switched off.
  // nullptr or no records: the section is left out.
  const FieldCoverage* coverage = nullptr;
};

// One account / campaign as a JSON object (the lines of the files below;
// also serve's analyst API). Read-only on the engine.
void AppendAccountJson(std::string& out, const Engine& engine, const AccountState& a);
void AppendCampaignJson(std::string& out, const CampaignView& c, const Engine& engine);

// Each returns Unavailable ("PATH: cannot write: REASON", "PATH: write
// failed: REASON") on an I/O failure.
absl::Status WriteAccounts(const Engine& engine, const std::string& path);
absl::Status WriteCampaigns(const std::vector<CampaignView>& campaigns, const Engine& engine, const std::string& path);
absl::Status WriteReport(const std::vector<CampaignView>& campaigns, const Engine& engine, const RunInfo& info,
                         const std::string& path);

}  // namespace dg
