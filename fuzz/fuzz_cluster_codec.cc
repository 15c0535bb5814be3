// libFuzzer: the cluster's event records (src/cluster/event_codec.h) as a
// worker receives them from the stream -- any bytes are decoded or refused,
// never half-read; a decoded record encodes back to the same bytes; the
// KV keys a decision node watches (accounts, campaigns, matched values),
// and the values of its watched buckets (dg_verdicts, dg_overrides,
// dg_indicators, dg_campaigns, dg_shared); an accepted value of the last
// three formats back to a value that parses to the same entry.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cluster/event_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  uint64_t seq = 0;
  dg::Interaction in;
  if (dg::DecodeEvent(bytes, &seq, &in) && dg::EncodeEvent(seq, in) != bytes) std::abort();
  std::string account;
  if (dg::AccountFromKey(bytes, &account) && dg::AccountKey(account) != bytes) std::abort();
  // A bucket value: parsed or refused; an accepted one holds nothing longer than the value.
  dg::VerdictEntry entry;
  if (dg::ParseVerdictEntry(bytes, &entry) && entry.campaign_id.size() > size) std::abort();
  (void)dg::ParseOverrideEntry(bytes);
  std::string campaign;
  if (dg::CampaignFromKey(bytes, &campaign) && dg::CampaignKey(campaign) != bytes) std::abort();
  uint64_t index_key = 0;
  if (dg::RequestValueFromKey(bytes, &index_key) && dg::RequestValueKey(index_key) != bytes) std::abort();
  dg::RequestValueEntry value, again;
  if (dg::ParseRequestValueEntry(bytes, &value)) {
    if (!dg::ParseRequestValueEntry(dg::FormatRequestValueEntry(value.campaign_id, value.value), &again) ||
        again.campaign_id != value.campaign_id || again.value.kind != value.value.kind ||
        again.value.root != value.value.root || again.value.evidence != value.value.evidence) {
      std::abort();
    }
  }
  dg::CampaignMatch c, c2;
  uint64_t members = 0, members2 = 0;
  if (dg::ParseCampaignEntry(bytes, &c, &members)) {
    if (!dg::ParseCampaignEntry(dg::FormatCampaignEntry(c, members), &c2, &members2) || c2.campaign_id != c.campaign_id ||
        c2.campaign_score != c.campaign_score || c2.measuring != c.measuring || c2.one_customer != c.one_customer ||
        members2 != members) {
      std::abort();
    }
  }
  std::string kind, shared_value;
  if (dg::SharedIndicatorFromKey(bytes, &kind, &shared_value) && dg::SharedIndicatorKey(kind, shared_value) != bytes) {
    std::abort();
  }
  dg::SharedIndicatorRecord row, row2;
  dg::IndicatorKind k{}, k2{};
  if (dg::ParseSharedIndicator(bytes, &row, &k)) {
    if (!dg::ParseSharedIndicator(dg::FormatSharedIndicator(row), &row2, &k2) || k2 != k || row2.value != row.value ||
        row2.trust != row.trust || row2.source != row.source) {
      std::abort();
    }
  }
  return 0;
}
