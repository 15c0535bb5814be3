// libFuzzer: the access rules file and its model catalogue (TOML an
// operator -- or anyone with write access to a config repository --
// controls, reloaded live by SIGHUP and POST /v1/access/reload). Errors
// must be messages, never crashes. The input is a rules file, optionally
// followed by a line "#--- catalogue" and the catalogue that
// `catalogue = "..."` reads; a set that loads is evaluated for a few
// accounts and models (globs, released_after, every predicate, the
// outcome cache, the audit's "missing" list and ApplyAccess).
#include <cstdint>
#include <string>
#include <string_view>

#include "decide/access_rules.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  constexpr std::string_view kSplit = "\n#--- catalogue\n";
  const size_t split = input.find(kSplit);
  const std::string_view rules_text = input.substr(0, split);
  const std::string catalogue(split == std::string_view::npos ? std::string_view() : input.substr(split + kSplit.size()));
  // Either way is fine here: the fuzzer looks for crashes and hangs.
  (void)dg::AccessRuleSet::ParseCatalogue(catalogue.empty() ? rules_text : std::string_view(catalogue), "models.toml");
  auto read = [&](const std::string&, std::string* text) {
    if (split == std::string_view::npos) return false;
    *text = catalogue;
    return true;
  };
  const auto loaded = dg::AccessRuleSet::FromToml(rules_text, "fuzz/rules.toml", read);
  if (!loaded.ok()) return 0;
  const auto& set = *loaded;
  dg::AccountAttributes a;
  a.account_id = "acct";
  a.verified_country = "US";
  a.jurisdiction = "EU";
  a.verification_level = 2;
  a.org_type = "company";
  a.payment_verified = 1;
  a.org_verified = 0;
  a.created_at = 1770000000000LL;
  a.labels = {"trial", "partner"};
  const dg::AccountAttributes* const known = &a;
  for (const dg::AccountAttributes* who : {known, static_cast<const dg::AccountAttributes*>(nullptr)}) {
    for (const char* model : {"atlas-4-pro", "atlas-3", "", "m"}) {
      for (const dg::Decision d : {dg::Decision::kAllow, dg::Decision::kThrottle, dg::Decision::kBlock}) {
        const auto s = set->Subject(who, d, 0.55, 1780000000000LL);
        const char* id = who ? "acct" : "nobody";
        const auto decided = set->Decide(id, 1, model, s);
        std::shared_ptr<const dg::AccessOutcome> probed;
        if (!set->Probe(id, 1, model, d, 0.55, 1780000000000LL, &probed) || probed != decided) __builtin_trap();
        const dg::AccessOutcome outcome = decided ? *decided : dg::AccessOutcome{};
        // The index and the reference evaluation agree on every input.
        const auto reference = set->Evaluate(s, *set->RulesFor(model));
        if (reference.triggered != outcome.triggered || reference.enforced != outcome.enforced ||
            reference.cap_rule != outcome.cap_rule) {
          __builtin_trap();
        }
        dg::CheckResult r;
        r.decision = d;
        dg::ApplyAccess(*set, outcome, &r);
        for (const uint32_t idx : outcome.triggered) (void)set->Missing(set->rules()[idx], s);
      }
    }
  }
  return 0;
}
