// FieldCoverage: the share of accepted records carrying each field the
// engine uses, and what is switched off when a family is missing ("no
// payment fingerprints: shared-payment linking is off; add --accounts"),
// so a run says plainly what it could and could not see.
//
// Cost: a few compares and counter increments per interaction; fixed size.
// Not thread-safe (one per pipeline; serve guards its own).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/interaction.h"

namespace dg {

class FieldCoverage {
 public:
  enum Item : uint8_t {
    kIp, kUserAgent, kPaymentFingerprint, kAccountCreatedAt, kEmailDomain, kOrgId, kOrgVerified, kApiKeyId,
    kPrompt, kResponse, kConversationId, kModel, kCountry,
    kCount
  };
  static std::string_view Name(Item i);

  void Observe(const Interaction& in);
  void Merge(const FieldCoverage& other);
  uint64_t records() const { return records_; }
  uint64_t count(Item i) const { return counts_[i]; }
  double Share(Item i) const { return records_ == 0 ? 0.0 : static_cast<double>(counts_[i]) / static_cast<double>(records_); }

  // The warning for each family below 1% of records (none when no record
  // was seen), in a fixed order: what is off, and what to add.
  std::vector<std::string_view> Warnings() const;
  // True when Warnings() would name `i`'s family (fields without a family,
  // such as model or country, are never "missing").
  bool Missing(Item i) const;

  // "coverage: ip 100%  user_agent 98% ..." and one warning line per
  // family below 1% (what is off, and what to add).
  std::string Report() const;
  // {"records":N,"fields":{"ip":1.0,...},"warnings":["..."]}
  std::string Json() const;
  // Prometheus gauges distillguard_field_coverage{field="ip"} 0.98
  std::string Metrics() const;

 private:
  uint64_t records_ = 0;
  std::array<uint64_t, kCount> counts_{};
};

}  // namespace dg
