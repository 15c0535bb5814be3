#include "ingest/coverage.h"

#include <fmt/format.h>

namespace dg {
namespace {

constexpr std::array<std::string_view, FieldCoverage::kCount> kNames = {
    "ip", "user_agent", "payment_fingerprint", "account_created_at", "email_domain", "org_id", "org_verified",
    "api_key_id", "prompt_text", "response_text", "conversation_id", "model", "country"};

struct Family {
  FieldCoverage::Item item;
  std::string_view warning;
};
// What the engine loses without each family (docs/SIGNALS.md).
constexpr Family kFamilies[] = {
    {FieldCoverage::kPaymentFingerprint, "no payment fingerprints: shared-payment linking is off; add --accounts"},
    {FieldCoverage::kAccountCreatedAt, "no account creation times: new-account signals are off; add --accounts"},
    {FieldCoverage::kEmailDomain, "no e-mail domains: disposable-domain and shared-domain signals are off; add --accounts"},
    {FieldCoverage::kOrgId, "no organisation ids: same-organisation exemptions cannot apply (legitimate multi-account orgs may be linked); add --accounts"},
    {FieldCoverage::kIp, "no client IPs: shared-address linking and network signals are off; map an address field (docs/LOGS.md)"},
    {FieldCoverage::kUserAgent, "no user agents: client-fingerprint linking is off; map a user-agent field (docs/LOGS.md)"},
    {FieldCoverage::kPrompt, "no prompt text: content signals (templates, coverage sweeps) are off; log request bodies"},
    {FieldCoverage::kResponse, "no response text: traceback fingerprints are off; log response bodies"},
};

}  // namespace

std::string_view FieldCoverage::Name(Item i) { return kNames[i]; }

void FieldCoverage::Observe(const Interaction& in) {
  ++records_;
  counts_[kIp] += !in.ip.empty();
  counts_[kUserAgent] += !in.user_agent.empty();
  counts_[kPaymentFingerprint] += !in.payment_fingerprint.empty();
  counts_[kAccountCreatedAt] += in.account_created_at != kNoTime;
  counts_[kEmailDomain] += !in.email_domain.empty();
  counts_[kOrgId] += !in.org_id.empty();
  counts_[kOrgVerified] += in.org_verified >= 0;
  counts_[kApiKeyId] += !in.api_key_id.empty();
  counts_[kPrompt] += !in.LastUserText().empty();
  counts_[kResponse] += !in.response_text.empty();
  counts_[kConversationId] += !in.conversation_id.empty();
  counts_[kModel] += !in.model.empty();
  counts_[kCountry] += !in.country.empty();
}

void FieldCoverage::Merge(const FieldCoverage& other) {
  records_ += other.records_;
  for (size_t i = 0; i < kCount; ++i) counts_[i] += other.counts_[i];
}

std::vector<std::string_view> FieldCoverage::Warnings() const {
  std::vector<std::string_view> out;
  if (records_ == 0) return out;
  for (const auto& f : kFamilies) {
    if (Share(f.item) < 0.01) out.push_back(f.warning);
  }
  return out;
}

bool FieldCoverage::Missing(Item i) const {
  if (records_ == 0 || Share(i) >= 0.01) return false;
  for (const auto& f : kFamilies) {
    if (f.item == i) return true;
  }
  return false;
}

std::string FieldCoverage::Report() const {
  std::string s = fmt::format("coverage of {} records:", records_);
  for (size_t i = 0; i < kCount; ++i) s += fmt::format(" {} {:.0f}%", kNames[i], 100.0 * Share(static_cast<Item>(i)));
  s += "\n";
  for (const auto w : Warnings()) s += fmt::format("warning: {}\n", w);
  return s;
}

std::string FieldCoverage::Json() const {
  std::string s = fmt::format("{{\"records\":{},\"fields\":{{", records_);
  for (size_t i = 0; i < kCount; ++i) {
    s += fmt::format("{}\"{}\":{:.4f}", i ? "," : "", kNames[i], Share(static_cast<Item>(i)));
  }
  s += "},\"warnings\":[";
  bool first = true;
  for (const auto w : Warnings()) {
    s += fmt::format("{}\"{}\"", first ? "" : ",", w);  // fixed texts: no escaping needed
    first = false;
  }
  s += "]}";
  return s;
}

std::string FieldCoverage::Metrics() const {
  std::string s =
      "# HELP distillguard_field_coverage Share of accepted records carrying each field the engine uses\n"
      "# TYPE distillguard_field_coverage gauge\n";
  for (size_t i = 0; i < kCount; ++i) {
    s += fmt::format("distillguard_field_coverage{{field=\"{}\"}} {:.4f}\n", kNames[i], Share(static_cast<Item>(i)));
  }
  return s;
}

}  // namespace dg
