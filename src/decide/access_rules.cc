#include "decide/access_rules.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <cerrno>
#include <sstream>

#include <fmt/format.h>
#include <absl/container/flat_hash_set.h>
#include <toml++/toml.h>

#include "common/hash.h"
#include "common/sha256.h"
#include "common/toml_int.h"
#include "signals/signals.h"

namespace dg {

std::string_view AccessEffectName(AccessEffect e) {
  switch (e) {
    case AccessEffect::kDenyModel: return "deny_model";
    case AccessEffect::kRequireVerification: return "require_verification";
    case AccessEffect::kWithholdReasoning: return "withhold_reasoning";
    case AccessEffect::kCapOutputTokens: return "cap_output_tokens";
  }
  return "deny_model";
}

std::string_view AccessModeName(AccessMode m) { return m == AccessMode::kDryRun ? "dry_run" : "enforce"; }

Decision AccessEffectDecision(AccessEffect e) {
  switch (e) {
    case AccessEffect::kDenyModel: return Decision::kBlock;
    case AccessEffect::kRequireVerification: return Decision::kChallenge;
    case AccessEffect::kWithholdReasoning: return Decision::kWithholdReasoning;
    case AccessEffect::kCapOutputTokens: return Decision::kAllow;
  }
  return Decision::kBlock;
}

int DecisionRank(Decision d) {
  switch (d) {
    case Decision::kAllow: return 0;
    case Decision::kWithholdReasoning: return 1;
    case Decision::kThrottle: return 2;
    case Decision::kChallenge: return 3;
    case Decision::kBlock: return 4;
  }
  return 0;
}

namespace {

constexpr int kCountry = 0, kJurisdiction = 1, kOrgType = 2, kLabel = 3;
constexpr size_t kMaxRules = 100000;
constexpr size_t kMaxListValues = 4096;
constexpr size_t kMaxVocabulary = 60000;  // ids are uint16 (0, 1 reserved)
constexpr size_t kMaxModelsCached = 4096;  // per RulesFor cache, across shards
constexpr size_t kMaxOutcomesCached = 1u << 20;
constexpr size_t kMaxTextBytes = 4096;

absl::string_view AV(std::string_view v) { return absl::string_view(v.data(), v.size()); }

bool Contains(const AccessIdSet& set, uint16_t id) {
  if (set.size() <= 8) return std::find(set.begin(), set.end(), id) != set.end();
  return std::binary_search(set.begin(), set.end(), id);
}

// * and ? globs (iterative, with one backtrack point: linear in practice).
bool GlobMatch(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// A date or date-time: TOML's own (2026-06-01, 2026-06-01T00:00:00Z) or a
// string of either form. Dates are UTC midnight.
std::optional<TimeMs> DateOf(const toml::node& n) {
  if (const auto* d = n.as_date()) {
    const std::string s = fmt::format("{:04}-{:02}-{:02}T00:00:00Z", d->get().year, d->get().month, d->get().day);
    return ParseRfc3339(s);
  }
  if (const auto* dt = n.as_date_time()) {
    std::ostringstream os;
    os << dt->get();
    std::string s = os.str();
    if (!dt->get().offset) s += "Z";
    return ParseRfc3339(s);
  }
  if (const auto v = n.value<std::string>()) {
    if (v->size() == 10) return ParseRfc3339(*v + "T00:00:00Z");
    return ParseRfc3339(*v);
  }
  return std::nullopt;
}

bool ReadWholeFile(const std::string& path, std::string* text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *text = ss.str();
  return true;
}

// Words a customer-facing text must not carry: they would tell an attacker
// that (and how) the detector judged it.
bool RevealsDetector(std::string_view text, std::string* word) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const char* kWords[] = {"detector", "distill", "score", "campaign", "suspicious", "harvest", "flagged", "automation"};
  for (const char* w : kWords) {
    if (lower.find(w) != std::string::npos) {
      *word = w;
      return true;
    }
  }
  for (const auto& s : kSignals) {
    if (lower.find(s.name) != std::string::npos) {
      *word = std::string(s.name);
      return true;
    }
  }
  return false;
}

}  // namespace

// The TOML walk: every key checked, every error "ORIGIN:LINE: key 'K': why".
class AccessLoader {
 public:
  AccessLoader(AccessRuleSet* set, const std::string& origin) : s_(set), origin_(origin) {}

  // The first error, "ORIGIN:LINE: key 'K': why" (empty while ok()).
  const std::string& error() const { return error_; }

  bool Fail(const toml::node& n, std::string_view key, std::string_view why) {
    if (ok_) error_ = fmt::format("{}:{}: key '{}': {}", origin_, n.source().begin.line, key, why);
    ok_ = false;
    return false;
  }
  bool ok() const { return ok_; }

  std::optional<std::string> Text(const toml::node& n, std::string_view key, bool allow_empty = false) {
    const auto v = n.value<std::string>();
    if (!v || !n.is_string()) return Fail(n, key, "must be a string"), std::nullopt;
    if (!allow_empty && v->empty()) return Fail(n, key, "must not be empty"), std::nullopt;
    if (v->size() > kMaxTextBytes) return Fail(n, key, fmt::format("longer than {} bytes", kMaxTextBytes)), std::nullopt;
    return v;
  }

  std::optional<std::vector<std::string>> List(const toml::node& n, std::string_view key) {
    const auto* arr = n.as_array();
    if (arr == nullptr) return Fail(n, key, "must be a list of strings"), std::nullopt;
    if (arr->empty()) return Fail(n, key, "must not be empty (a rule that names nothing would never match)"), std::nullopt;
    if (arr->size() > kMaxListValues) return Fail(n, key, fmt::format("more than {} values", kMaxListValues)), std::nullopt;
    std::vector<std::string> out;
    for (const auto& el : *arr) {
      auto v = Text(el, key);
      if (!v) return std::nullopt;
      out.push_back(std::move(*v));
    }
    return out;
  }

  bool IdList(const toml::node& n, std::string_view key, int field, AccessIdSet* out) {
    auto list = List(n, key);
    if (!list) return false;
    for (const auto& v : *list) {
      if (s_->vocab_[field].size() >= kMaxVocabulary && s_->Lookup(field, v) < 2) {
        return Fail(n, key, fmt::format("more than {} distinct values in the rules", kMaxVocabulary));
      }
      out->push_back(s_->Intern(field, v));
    }
    std::sort(out->begin(), out->end());
    out->erase(std::unique(out->begin(), out->end()), out->end());
    return true;
  }

  bool Predicates(const toml::table& t, std::string_view table_key, AccessPredicates* p, bool* reads_detector) {
    if (t.empty()) return Fail(t, table_key, "an empty condition table (give at least one predicate, or leave the table out)");
    for (const auto& [k, node] : t) {
      const std::string key = fmt::format("{}.{}", table_key, k.str());
      const std::string_view name = k.str();
      using B = AccessPredicates;
      auto mark = [&](uint32_t bit) {
        p->present |= bit;
        return true;
      };
      // The list predicates: one row each (name, the interned field, the set).
      struct ListPredicate {
        std::string_view name;
        int field;
        AccessIdSet AccessPredicates::*set;
        uint32_t bit;
      };
      static constexpr ListPredicate kLists[] = {
          {"verified_country_in", kCountry, &B::country_in, B::kCountryIn},
          {"verified_country_not_in", kCountry, &B::country_not_in, B::kCountryNotIn},
          {"jurisdiction_in", kJurisdiction, &B::jurisdiction_in, B::kJurisdictionIn},
          {"jurisdiction_not_in", kJurisdiction, &B::jurisdiction_not_in, B::kJurisdictionNotIn},
          {"org_type_in", kOrgType, &B::org_type_in, B::kOrgTypeIn},
          {"org_type_not_in", kOrgType, &B::org_type_not_in, B::kOrgTypeNotIn},
          {"labels_any", kLabel, &B::labels_any, B::kLabelsAny},
          {"labels_none", kLabel, &B::labels_none, B::kLabelsNone},
      };
      const auto* list = std::find_if(std::begin(kLists), std::end(kLists), [&](const ListPredicate& l) { return l.name == name; });
      if (list != std::end(kLists)) {
        if (!IdList(node, key, list->field, &(p->*(list->set)))) return false;
        mark(list->bit);
      } else if (name == "verification_level_at_least") {
        const auto v = TomlInteger(node);
        if (!v || *v < 0 || *v > 100) return Fail(node, key, "must be an integer in [0, 100]");
        p->min_level = static_cast<int32_t>(*v);
        mark(B::kMinLevel);
      } else if (name == "account_age_days_at_least") {
        const auto v = node.value<double>();
        if (!v || !node.is_number() || !(*v >= 0) || *v > 36500) return Fail(node, key, "must be a number of days in [0, 36500]");
        p->min_age_ms = static_cast<TimeMs>(*v * kMsPerDay);
        s_->age_thresholds_.push_back(p->min_age_ms);
        mark(B::kMinAge);
      } else if (name == "payment_verified" || name == "org_verified") {
        const auto v = node.value<bool>();
        if (!v || !node.is_boolean()) return Fail(node, key, "must be true or false");
        (name == "payment_verified" ? p->payment_verified : p->org_verified) = *v ? 1 : 0;
        mark(name == "payment_verified" ? B::kPaymentVerified : B::kOrgVerified);
      } else if (name == "detector_decision_in") {
        auto list = List(node, key);
        if (!list) return false;
        for (const auto& d : *list) {
          bool found = false;
          for (const Decision dec : {Decision::kAllow, Decision::kThrottle, Decision::kChallenge, Decision::kBlock,
                                     Decision::kWithholdReasoning}) {
            if (d == DecisionName(dec)) {
              p->detector_mask |= static_cast<uint8_t>(1u << static_cast<unsigned>(dec));
              found = true;
            }
          }
          if (!found) {
            return Fail(node, key,
                        fmt::format("'{}' is not a decision (expected allow, throttle, challenge, block, withhold_reasoning)",
                                    d.substr(0, 60)));
          }
        }
        *reads_detector = true;
        mark(B::kDetectorIn);
      } else if (name == "detector_score_at_least") {
        const auto v = node.value<double>();
        if (!v || !node.is_number() || !(*v >= 0) || *v > 1) return Fail(node, key, "must be a number in [0, 1]");
        p->min_score = *v;
        s_->score_thresholds_.push_back(*v);
        *reads_detector = true;
        mark(B::kMinScore);
      } else {
        return Fail(node, key,
                    "unknown predicate (expected verified_country_in, verified_country_not_in, jurisdiction_in, "
                    "jurisdiction_not_in, verification_level_at_least, org_type_in, org_type_not_in, "
                    "account_age_days_at_least, payment_verified, org_verified, labels_any, labels_none, "
                    "detector_decision_in, detector_score_at_least)");
      }
    }
    return true;
  }

  bool Rule(const toml::table& t, size_t index) {
    AccessRule r;
    r.line = static_cast<int>(t.source().begin.line);
    const std::string where = fmt::format("rule[{}]", index);
    std::optional<AccessEffect> effect;
    const toml::node* cap_node = nullptr;
    for (const auto& [k, node] : t) {
      const std::string_view name = k.str();
      const std::string key = fmt::format("{}.{}", where, name);
      if (name == "id") {
        auto v = Text(node, key);
        if (!v) return false;
        for (const char c : *v) {
          if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
            return Fail(node, key, "letters, digits, '-', '_' and '.' only");
          }
        }
        r.id = std::move(*v);
      } else if (name == "mode") {
        auto v = Text(node, key);
        if (!v) return false;
        if (*v == "enforce") r.mode = AccessMode::kEnforce;
        else if (*v == "dry_run") r.mode = AccessMode::kDryRun;
        else return Fail(node, key, "must be \"enforce\" or \"dry_run\"");
      } else if (name == "models") {
        auto v = List(node, key);
        if (!v) return false;
        r.models = std::move(*v);
      } else if (name == "released_after") {
        const auto d = DateOf(node);
        if (!d) return Fail(node, key, "must be a date (2026-06-01) or an RFC 3339 date-time");
        r.released_after = *d;
        if (!has_catalogue_) return Fail(node, key, "needs a model catalogue (catalogue = \"FILE\" at the top of the file)");
      } else if (name == "effect") {
        auto v = Text(node, key);
        if (!v) return false;
        for (const AccessEffect e : {AccessEffect::kDenyModel, AccessEffect::kRequireVerification, AccessEffect::kWithholdReasoning,
                                     AccessEffect::kCapOutputTokens}) {
          if (*v == AccessEffectName(e)) effect = e;
        }
        if (!effect) {
          return Fail(node, key, "must be deny_model, require_verification, withhold_reasoning or cap_output_tokens");
        }
      } else if (name == "cap_output_tokens") {
        const auto v = TomlInteger(node);
        if (!v || *v < 1 || *v > 10000000) return Fail(node, key, "must be an integer in [1, 10000000]");
        r.cap_output_tokens = static_cast<uint32_t>(*v);
        cap_node = &node;
      } else if (name == "customer_reason") {
        auto v = Text(node, key);
        if (!v) return false;
        r.customer_reason = std::move(*v);
        std::string word;
        if (RevealsDetector(r.customer_reason, &word)) {
          return Fail(node, key, fmt::format("a customer-facing text must not reveal the detector (it says '{}')", word));
        }
      } else if (name == "audit_reason") {
        auto v = Text(node, key);
        if (!v) return false;
        r.audit_reason = std::move(*v);
      } else if (name == "when" || name == "require") {
        const auto* table = node.as_table();
        if (table == nullptr) return Fail(node, key, "must be a table of predicates");
        const bool when = name == "when";
        if (!Predicates(*table, key, when ? &r.when : &r.require, &r.reads_detector)) return false;
        (when ? r.has_when : r.has_require) = true;
      } else {
        return Fail(node, key,
                    "unknown key (expected id, mode, models, released_after, effect, cap_output_tokens, customer_reason, "
                    "audit_reason, when, require)");
      }
    }
    auto missing = [&](std::string_view what) { return Fail(t, where, fmt::format("{} is required", what)); };
    if (r.id.empty()) return missing("id");
    if (!ids_.insert(r.id).second) return Fail(t, where + ".id", fmt::format("'{}' is used by an earlier rule", r.id));
    if (r.models.empty() && !r.released_after) return missing("models or released_after");
    if (!effect) return missing("effect");
    r.effect = *effect;
    if (r.effect == AccessEffect::kCapOutputTokens && r.cap_output_tokens == 0) return missing("cap_output_tokens (with effect cap_output_tokens)");
    if (r.effect != AccessEffect::kCapOutputTokens && cap_node != nullptr) {
      return Fail(*cap_node, where + ".cap_output_tokens", "only with effect = \"cap_output_tokens\"");
    }
    if (r.customer_reason.empty()) return missing("customer_reason");
    if (r.audit_reason.empty()) return missing("audit_reason");
    if (!r.has_when && !r.has_require) return missing("a condition ([rule.when] or [rule.require])");
    s_->rules_.push_back(std::move(r));
    return true;
  }

  bool Root(const toml::table& root, const std::function<bool(const std::string&, std::string*)>& read_file) {
    // The catalogue first: released_after needs it.
    if (const toml::node* c = root.get("catalogue")) {
      auto path = Text(*c, "catalogue");
      if (!path) return false;
      if (!read_file) return Fail(*c, "catalogue", "no catalogue can be read here");
      std::filesystem::path p(*path);
      if (p.is_relative()) p = std::filesystem::path(origin_).parent_path() / p;
      std::string text;
      if (!read_file(p.string(), &text)) return Fail(*c, "catalogue", fmt::format("{}: cannot read", p.string()));
      auto cat = AccessRuleSet::ParseCatalogue(text, p.string());
      if (!cat.ok()) {
        if (ok_) error_ = std::string(StatusMessage(cat.status()));
        ok_ = false;
        return false;
      }
      s_->catalogue_ = std::move(*cat);
      s_->catalogue_sha256_ = Sha256Hex(text);
      has_catalogue_ = true;
    }
    bool have_version = false;
    for (const auto& [k, node] : root) {
      const std::string_view name = k.str();
      if (name == "catalogue") continue;
      if (name == "format") {
        if (TomlInteger(node) != 1) return Fail(node, name, "unsupported format (expected 1)");
      } else if (name == "version") {
        std::string v;
        if (const auto i = TomlInteger(node)) v = std::to_string(*i);
        else if (node.is_string()) {
          auto t = Text(node, name);
          if (!t) return false;
          v = *t;
        } else {
          return Fail(node, name, "must be a string or an integer (the rules' version, recorded in the audit)");
        }
        s_->version_ = v;
        have_version = true;
      } else if (name == "rule") {
        const auto* arr = node.as_array();
        if (arr == nullptr || !arr->is_array_of_tables()) return Fail(node, name, "must be [[rule]] tables");
        if (arr->size() > kMaxRules) return Fail(node, name, fmt::format("more than {} rules", kMaxRules));
        size_t index = 0;
        for (const auto& el : *arr) {
          if (!Rule(*el.as_table(), ++index)) return false;
        }
      } else {
        return Fail(node, name, "unknown key (expected format, version, catalogue, rule)");
      }
    }
    if (!have_version) {
      error_ = fmt::format("{}:1: key 'version': required (the rules' version, recorded in the audit)", origin_);
      return ok_ = false;
    }
    return true;
  }

 private:
  AccessRuleSet* s_;
  const std::string& origin_;
  std::string error_;
  bool ok_ = true;
  bool has_catalogue_ = false;
  absl::flat_hash_set<std::string> ids_;
};

uint16_t AccessRuleSet::Intern(int field, std::string_view value) {
  auto& vocab = vocab_[field];
  const auto it = vocab.find(AV(value));
  if (it != vocab.end()) return it->second;
  const auto id = static_cast<uint16_t>(vocab.size() + 2);
  vocab.emplace(std::string(value), id);
  return id;
}

uint16_t AccessRuleSet::Lookup(int field, std::string_view value) const {
  if (value.empty()) return 0;
  const auto it = vocab_[field].find(AV(value));
  return it == vocab_[field].end() ? 1 : it->second;
}

absl::StatusOr<absl::flat_hash_map<std::string, TimeMs>> AccessRuleSet::ParseCatalogue(std::string_view text,
                                                                                      const std::string& origin) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& err) {
    return absl::InvalidArgumentError(fmt::format("{}:{}: {}", origin, err.source().begin.line, err.description()));
  }
  absl::flat_hash_map<std::string, TimeMs> out;
  for (const auto& [k, node] : root) {
    if (k.str() == "format") {
      if (TomlInteger(node) != 1) {
        return absl::InvalidArgumentError(
            fmt::format("{}:{}: key 'format': unsupported format (expected 1)", origin, node.source().begin.line));
      }
      continue;
    }
    if (k.str() != "models" || !node.is_table()) {
      return absl::InvalidArgumentError(
          fmt::format("{}:{}: key '{}': unknown key (expected format and a [models] table of name = release date)", origin,
                      node.source().begin.line, k.str()));
    }
    for (const auto& [name, date] : *node.as_table()) {
      const auto d = DateOf(date);
      if (!d || name.str().empty()) {
        return absl::InvalidArgumentError(fmt::format("{}:{}: key 'models.{}': must be a release date (2026-06-01)", origin,
                                                      date.source().begin.line, name.str().substr(0, 100)));
      }
      out[std::string(name.str())] = *d;
    }
  }
  return out;
}

absl::StatusOr<std::shared_ptr<const AccessRuleSet>> AccessRuleSet::FromToml(
    std::string_view text, const std::string& origin, const std::function<bool(const std::string&, std::string*)>& read_file) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& err) {
    return absl::InvalidArgumentError(fmt::format("{}:{}: {}", origin, err.source().begin.line, err.description()));
  }
  std::shared_ptr<AccessRuleSet> set(new AccessRuleSet());
  set->origin_ = origin;
  set->sha256_ = Sha256Hex(text);
  AccessLoader loader(set.get(), origin);
  if (!loader.Root(root, read_file)) return absl::InvalidArgumentError(loader.error());
  for (auto* v : {&set->score_thresholds_}) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }
  std::sort(set->age_thresholds_.begin(), set->age_thresholds_.end());
  set->age_thresholds_.erase(std::unique(set->age_thresholds_.begin(), set->age_thresholds_.end()), set->age_thresholds_.end());
  set->BuildIndex();
  return set;
}

absl::StatusOr<std::shared_ptr<const AccessRuleSet>> AccessRuleSet::Load(const std::string& path) {
  std::string text;
  if (!ReadWholeFile(path, &text)) return FileError(errno, fmt::format("{}: cannot read the access rules file", path));
  return FromToml(text, path, ReadWholeFile);
}

bool AccessRuleSet::Covers(const AccessRule& rule, std::string_view model) const {
  for (const auto& m : rule.models) {
    if (m.find_first_of("*?") == std::string::npos ? m == model : GlobMatch(m, model)) return true;
  }
  if (rule.released_after) {
    const auto it = catalogue_.find(AV(model));
    if (it != catalogue_.end() && it->second > *rule.released_after) return true;
  }
  return false;
}

std::shared_ptr<const AccessRuleSet::Covering> AccessRuleSet::CoveringFor(std::string_view model) const {
  ModelShard& shard = models_[Hash64(model) % kShards];
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    const auto it = shard.map.find(AV(model));
    if (it != shard.map.end()) return it->second;
  }
  auto cov = std::make_shared<Covering>();
  cov->bits.assign(words_, 0);
  for (uint32_t idx = 0; idx < rules_.size(); ++idx) {
    if (!Covers(rules_[idx], model)) continue;
    cov->list.push_back(idx);
    cov->bits[idx / 64] |= uint64_t{1} << (idx % 64);
  }
  std::lock_guard<std::mutex> lock(shard.mu);
  if (shard.map.size() >= kMaxModelsCached / kShards) shard.map.clear();  // models named by clients are unbounded
  shard.map.emplace(std::string(model), cov);
  return cov;
}

std::shared_ptr<const std::vector<uint32_t>> AccessRuleSet::RulesFor(std::string_view model) const {
  auto cov = CoveringFor(model);
  const std::vector<uint32_t>* list = &cov->list;
  return std::shared_ptr<const std::vector<uint32_t>>(std::move(cov), list);
}

void AccessRuleSet::BuildIndex() {
  words_ = (rules_.size() + 63) / 64;
  auto bitset = [&] { return std::vector<uint64_t>(words_, 0); };
  auto set = [](std::vector<uint64_t>& b, uint32_t idx) { b[idx / 64] |= uint64_t{1} << (idx % 64); };
  for (int t = 0; t < 2; ++t) {
    TableIndex& ti = index_[t];
    ti.present = bitset();
    for (auto& v : ti.payment_fail) v = bitset();
    for (auto& v : ti.org_fail) v = bitset();
    for (auto& v : ti.detector_fail) v = bitset();
    for (uint32_t idx = 0; idx < rules_.size(); ++idx) {
      const AccessRule& r = rules_[idx];
      if (!(t == 0 ? r.has_when : r.has_require)) continue;
      const AccessPredicates& p = t == 0 ? r.when : r.require;
      set(ti.present, idx);
      using B = AccessPredicates;
      const std::array<std::pair<uint32_t, const AccessIdSet*>, kListKinds> lists = {{
          {B::kCountryIn, &p.country_in}, {B::kCountryNotIn, &p.country_not_in}, {B::kJurisdictionIn, &p.jurisdiction_in},
          {B::kJurisdictionNotIn, &p.jurisdiction_not_in}, {B::kOrgTypeIn, &p.org_type_in}, {B::kOrgTypeNotIn, &p.org_type_not_in},
          {B::kLabelsAny, &p.labels_any}, {B::kLabelsNone, &p.labels_none}}};
      for (size_t k = 0; k < kListKinds; ++k) {
        if (!(p.present & lists[k].first)) continue;
        if (ti.has[k].empty()) ti.has[k] = bitset();
        set(ti.has[k], idx);
        for (const uint16_t id : *lists[k].second) {
          if (ti.naming[k].size() <= id) ti.naming[k].resize(id + 1u);
          ti.naming[k][id].push_back(idx);
        }
      }
      if (p.present & B::kMinLevel) {
        if (ti.has_level.empty()) ti.has_level = bitset();
        set(ti.has_level, idx);
        ti.level.emplace_back(p.min_level, idx);
      }
      if (p.present & B::kMinAge) {
        if (ti.has_age.empty()) ti.has_age = bitset();
        set(ti.has_age, idx);
        ti.age.emplace_back(p.min_age_ms, idx);
      }
      if (p.present & B::kMinScore) ti.score.emplace_back(p.min_score, idx);
      for (int v = -1; v <= 1; ++v) {
        if ((p.present & B::kPaymentVerified) && (v < 0 || v != p.payment_verified)) set(ti.payment_fail[v + 1], idx);
        if ((p.present & B::kOrgVerified) && (v < 0 || v != p.org_verified)) set(ti.org_fail[v + 1], idx);
      }
      for (unsigned d = 0; d < ti.detector_fail.size(); ++d) {
        if ((p.present & B::kDetectorIn) && !((p.detector_mask >> d) & 1u)) set(ti.detector_fail[d], idx);
      }
    }
    for (size_t k = 0; k < kListKinds; ++k) {
      ti.naming_bits[k].resize(ti.naming[k].size());
      for (size_t id = 0; id < ti.naming[k].size(); ++id) {
        auto& list = ti.naming[k][id];
        if (list.size() < 2 * words_ || list.size() < 16) continue;
        ti.naming_bits[k][id] = bitset();
        for (const uint32_t idx : list) set(ti.naming_bits[k][id], idx);
        list = {};
      }
    }
    auto desc = [](const auto& a, const auto& b) { return a.first > b.first; };
    std::sort(ti.level.begin(), ti.level.end(), desc);
    std::sort(ti.age.begin(), ti.age.end(), desc);
    std::sort(ti.score.begin(), ti.score.end(), desc);
  }
}

namespace {

void Or(uint64_t* dst, const std::vector<uint64_t>& src) {
  for (size_t w = 0; w < src.size(); ++w) dst[w] |= src[w];
}
void SetBit(uint64_t* b, uint32_t idx) { b[idx / 64] |= uint64_t{1} << (idx % 64); }
void ClearBit(uint64_t* b, uint32_t idx) { b[idx / 64] &= ~(uint64_t{1} << (idx % 64)); }
bool AnyBit(const std::vector<uint64_t>& v) {
  for (const uint64_t w : v) {
    if (w) return true;
  }
  return false;
}

}  // namespace

// The rules of table `t` whose predicates do not all hold for `s`, into
// `fail` (words_ words, zeroed by the caller). `scratch`: words_ words.
void AccessRuleSet::Failing(const TableIndex& t, const AccessSubject& s, uint64_t* fail, uint64_t* scratch) const {
  const size_t W = words_;
  // "in" lists: every rule with the predicate fails, but those naming the value.
  // Rules naming value v in list kind k: cleared from, or set in, `bits`.
  auto clear_naming = [&](size_t k, uint16_t v, uint64_t* bits) {
    if (v >= t.naming[k].size()) return;
    if (const auto& b = t.naming_bits[k][v]; !b.empty()) {
      for (size_t w = 0; w < W; ++w) bits[w] &= ~b[w];
      return;
    }
    for (const uint32_t idx : t.naming[k][v]) ClearBit(bits, idx);
  };
  auto set_naming = [&](size_t k, uint16_t v, uint64_t* bits) {
    if (v >= t.naming[k].size()) return;
    if (const auto& b = t.naming_bits[k][v]; !b.empty()) return Or(bits, b);
    for (const uint32_t idx : t.naming[k][v]) SetBit(bits, idx);
  };
  auto in_list = [&](size_t k, uint16_t v) {
    if (t.has[k].empty()) return;
    std::copy(t.has[k].begin(), t.has[k].end(), scratch);
    if (v >= 2) clear_naming(k, v, scratch);
    for (size_t w = 0; w < W; ++w) fail[w] |= scratch[w];
  };
  // "not in" lists: the rules naming the value fail; missing fails them all.
  auto not_in_list = [&](size_t k, uint16_t v) {
    if (t.has[k].empty()) return;
    if (v == 0) return Or(fail, t.has[k]);
    set_naming(k, v, fail);
  };
  in_list(kCountryInL, s.country);
  not_in_list(kCountryNotInL, s.country);
  in_list(kJurisdictionInL, s.jurisdiction);
  not_in_list(kJurisdictionNotInL, s.jurisdiction);
  in_list(kOrgTypeInL, s.org_type);
  not_in_list(kOrgTypeNotInL, s.org_type);
  // Labels: any of the account's (interned) labels.
  auto for_labels = [&](auto&& fn) {
    for (uint64_t lo = s.labels_lo; lo != 0; lo &= lo - 1) fn(static_cast<uint16_t>(__builtin_ctzll(lo)));
    for (const uint16_t id : s.labels_hi) fn(id);
  };
  if (!t.has[kLabelsAnyL].empty()) {
    std::copy(t.has[kLabelsAnyL].begin(), t.has[kLabelsAnyL].end(), scratch);
    for_labels([&](uint16_t id) { clear_naming(kLabelsAnyL, id, scratch); });
    for (size_t w = 0; w < W; ++w) fail[w] |= scratch[w];
  }
  if (!t.has[kLabelsNoneL].empty()) {
    for_labels([&](uint16_t id) { set_naming(kLabelsNoneL, id, fail); });
  }
  // Thresholds, highest first: the rules above the account's value fail.
  if (!t.level.empty()) {
    if (s.level < 0) {
      Or(fail, t.has_level);
    } else {
      for (const auto& [thr, idx] : t.level) {
        if (thr <= s.level) break;
        SetBit(fail, idx);
      }
    }
  }
  if (!t.age.empty()) {
    if (s.age_ms < 0) {
      Or(fail, t.has_age);
    } else {
      for (const auto& [thr, idx] : t.age) {
        if (thr <= s.age_ms) break;
        SetBit(fail, idx);
      }
    }
  }
  for (const auto& [thr, idx] : t.score) {
    if (thr <= s.score) break;
    SetBit(fail, idx);
  }
  Or(fail, t.payment_fail[static_cast<size_t>(s.payment_verified + 1)]);
  Or(fail, t.org_fail[static_cast<size_t>(s.org_verified + 1)]);
  Or(fail, t.detector_fail[static_cast<size_t>(s.detector)]);
}

AccessOutcome AccessRuleSet::EvaluateIndexed(const AccessSubject& s, std::string_view model) const {
  AccessOutcome out;
  const auto cov = CoveringFor(model);
  if (cov->list.empty()) return out;
  const size_t W = words_;
  thread_local std::vector<uint64_t> buf;
  buf.assign(3 * W, 0);
  uint64_t* when_fail = buf.data();
  uint64_t* req_fail = when_fail + W;
  uint64_t* scratch = req_fail + W;
  if (AnyBit(index_[0].present)) Failing(index_[0], s, when_fail, scratch);
  if (AnyBit(index_[1].present)) Failing(index_[1], s, req_fail, scratch);
  int best_rank = -1;
  for (size_t w = 0; w < W; ++w) {
    // Applies: covered, its `when` (if any) holds, its `require` (if any) fails.
    uint64_t applies = cov->bits[w] & ~(index_[0].present[w] & when_fail[w]) & (~index_[1].present[w] | req_fail[w]);
    for (; applies != 0; applies &= applies - 1) {
      const auto idx = static_cast<uint32_t>(w * 64 + static_cast<size_t>(__builtin_ctzll(applies)));
      const AccessRule& r = rules_[idx];
      out.triggered.push_back(idx);
      if (r.mode != AccessMode::kEnforce) continue;
      if (r.effect == AccessEffect::kCapOutputTokens) {
        if (out.cap_rule < 0 || r.cap_output_tokens < out.cap_tokens) {
          out.cap_rule = static_cast<int32_t>(idx);
          out.cap_tokens = r.cap_output_tokens;
        }
        continue;
      }
      const int rank = DecisionRank(AccessEffectDecision(r.effect));
      if (rank > best_rank) {
        best_rank = rank;
        out.enforced = static_cast<int32_t>(idx);
      }
    }
  }
  return out;
}

AccessSubject AccessRuleSet::Subject(const AccountAttributes* a, Decision detector, double score, TimeMs now) const {
  AccessSubject s;
  s.attributes = a;
  s.detector = detector;
  s.score = score;
  s.score_bucket = ScoreBucket(score);
  if (a == nullptr) return s;
  s.country = Lookup(kCountry, a->verified_country);
  s.jurisdiction = Lookup(kJurisdiction, a->jurisdiction);
  s.org_type = Lookup(kOrgType, a->org_type);
  s.level = a->verification_level;
  s.payment_verified = a->payment_verified;
  s.org_verified = a->org_verified;
  if (a->created_at != kNoTime) s.age_ms = std::max<TimeMs>(0, now - a->created_at);
  s.age_bucket = AgeBucket(a->created_at, now);
  for (const auto& l : a->labels) {
    const uint16_t id = Lookup(kLabel, l);
    if (id < 2) continue;
    if (id < 64) s.labels_lo |= uint64_t{1} << id;
    else s.labels_hi.push_back(id);
  }
  return s;
}

namespace {

bool HasLabel(const AccessSubject& s, uint16_t id) {
  if (id < 64) return (s.labels_lo >> id) & 1u;
  return std::find(s.labels_hi.begin(), s.labels_hi.end(), id) != s.labels_hi.end();
}

bool AnyLabel(const AccessSubject& s, const AccessIdSet& set) {
  for (const uint16_t id : set) {
    if (HasLabel(s, id)) return true;
  }
  return false;
}

}  // namespace

bool AccessRuleSet::Holds(const AccessPredicates& p, const AccessSubject& s) const {
  using B = AccessPredicates;
  const uint32_t f = p.present;
  if ((f & B::kCountryIn) && (s.country == 0 || !Contains(p.country_in, s.country))) return false;
  if ((f & B::kCountryNotIn) && (s.country == 0 || Contains(p.country_not_in, s.country))) return false;
  if ((f & B::kJurisdictionIn) && (s.jurisdiction == 0 || !Contains(p.jurisdiction_in, s.jurisdiction))) return false;
  if ((f & B::kJurisdictionNotIn) && (s.jurisdiction == 0 || Contains(p.jurisdiction_not_in, s.jurisdiction))) return false;
  if ((f & B::kMinLevel) && s.level < p.min_level) return false;
  if ((f & B::kOrgTypeIn) && (s.org_type == 0 || !Contains(p.org_type_in, s.org_type))) return false;
  if ((f & B::kOrgTypeNotIn) && (s.org_type == 0 || Contains(p.org_type_not_in, s.org_type))) return false;
  if ((f & B::kMinAge) && (s.age_ms < 0 || s.age_ms < p.min_age_ms)) return false;
  if ((f & B::kPaymentVerified) && (s.payment_verified < 0 || s.payment_verified != p.payment_verified)) return false;
  if ((f & B::kOrgVerified) && (s.org_verified < 0 || s.org_verified != p.org_verified)) return false;
  if ((f & B::kLabelsAny) && !AnyLabel(s, p.labels_any)) return false;
  if ((f & B::kLabelsNone) && AnyLabel(s, p.labels_none)) return false;
  if ((f & B::kDetectorIn) && !((p.detector_mask >> static_cast<unsigned>(s.detector)) & 1u)) return false;
  if ((f & B::kMinScore) && s.score < p.min_score) return false;
  return true;
}

bool AccessRuleSet::Applies(const AccessRule& r, const AccessSubject& s) const {
  if (r.has_when && !Holds(r.when, s)) return false;
  if (r.has_require && Holds(r.require, s)) return false;
  return true;
}

AccessOutcome AccessRuleSet::Evaluate(const AccessSubject& s, const std::vector<uint32_t>& rule_indices) const {
  AccessOutcome out;
  int best_rank = -1;
  for (const uint32_t idx : rule_indices) {
    const AccessRule& r = rules_[idx];
    if (!Applies(r, s)) continue;
    out.triggered.push_back(idx);
    if (r.mode != AccessMode::kEnforce) continue;
    if (r.effect == AccessEffect::kCapOutputTokens) {
      if (out.cap_rule < 0 || r.cap_output_tokens < out.cap_tokens) {
        out.cap_rule = static_cast<int32_t>(idx);
        out.cap_tokens = r.cap_output_tokens;
      }
      continue;
    }
    const int rank = DecisionRank(AccessEffectDecision(r.effect));
    if (rank > best_rank) {
      best_rank = rank;
      out.enforced = static_cast<int32_t>(idx);
    }
  }
  return out;
}

uint32_t AccessRuleSet::ScoreBucket(double score) const {
  return static_cast<uint32_t>(std::upper_bound(score_thresholds_.begin(), score_thresholds_.end(), score) - score_thresholds_.begin());
}

uint32_t AccessRuleSet::AgeBucket(TimeMs created_at, TimeMs now) const {
  if (created_at == kNoTime) return 0;
  const TimeMs age = std::max<TimeMs>(0, now - created_at);
  return 1 + static_cast<uint32_t>(std::upper_bound(age_thresholds_.begin(), age_thresholds_.end(), age) - age_thresholds_.begin());
}

uint64_t AccessRuleSet::CacheKey(std::string_view account_id, uint64_t generation, std::string_view model, Decision detector,
                                 uint32_t score_bucket) {
  uint64_t key = HashCombine(Hash64(account_id), Hash64(model, 0x6d6f64656c));
  key = HashCombine(key, generation);
  return HashCombine(key, (uint64_t{score_bucket} << 8) ^ static_cast<uint64_t>(detector));
}

bool AccessRuleSet::Probe(std::string_view account_id, uint64_t generation, std::string_view model, Decision detector, double score,
                          TimeMs now, std::shared_ptr<const AccessOutcome>* outcome) const {
  const uint64_t key = CacheKey(account_id, generation, model, detector, ScoreBucket(score));
  OutcomeShard& shard = outcomes_[key % kShards];
  std::lock_guard<std::mutex> lock(shard.mu);
  const auto it = shard.map.find(key);
  if (it == shard.map.end() || AgeBucket(it->second.created_at, now) != it->second.age_bucket) return false;
  *outcome = it->second.outcome;
  return true;
}

std::shared_ptr<const AccessOutcome> AccessRuleSet::Decide(std::string_view account_id, uint64_t generation, std::string_view model,
                                                           const AccessSubject& s) const {
  AccessOutcome evaluated = EvaluateIndexed(s, model);
  std::shared_ptr<const AccessOutcome> outcome;
  if (!evaluated.triggered.empty()) outcome = std::make_shared<const AccessOutcome>(std::move(evaluated));
  const uint64_t key = CacheKey(account_id, generation, model, s.detector, s.score_bucket);
  OutcomeShard& shard = outcomes_[key % kShards];
  std::lock_guard<std::mutex> lock(shard.mu);
  if (shard.map.size() >= kMaxOutcomesCached / kShards) shard.map.clear();
  shard.map.insert_or_assign(key, CachedOutcome{s.attributes ? s.attributes->created_at : kNoTime, s.age_bucket, outcome});
  return outcome;
}

std::vector<std::string_view> AccessRuleSet::Missing(const AccessRule& r, const AccessSubject& s) const {
  std::vector<std::string_view> out;
  using B = AccessPredicates;
  const uint32_t f = (r.has_when ? r.when.present : 0) | (r.has_require ? r.require.present : 0);
  if ((f & (B::kCountryIn | B::kCountryNotIn)) && s.country == 0) out.push_back("verified_country");
  if ((f & (B::kJurisdictionIn | B::kJurisdictionNotIn)) && s.jurisdiction == 0) out.push_back("jurisdiction");
  if ((f & B::kMinLevel) && s.level < 0) out.push_back("verification_level");
  if ((f & (B::kOrgTypeIn | B::kOrgTypeNotIn)) && s.org_type == 0) out.push_back("org_type");
  if ((f & B::kMinAge) && s.age_ms < 0) out.push_back("created_at");
  if ((f & B::kPaymentVerified) && s.payment_verified < 0) out.push_back("payment_verified");
  if ((f & B::kOrgVerified) && s.org_verified < 0) out.push_back("org_verified");
  return out;
}

void ApplyAccess(const AccessRuleSet& rules, const AccessOutcome& outcome, CheckResult* result) {
  if (outcome.enforced >= 0) {
    const AccessRule& r = rules.rules()[static_cast<size_t>(outcome.enforced)];
    const Decision d = AccessEffectDecision(r.effect);
    if (DecisionRank(d) >= DecisionRank(result->decision)) {
      result->decision = d;
      result->rule_id = r.id;
      result->rule_message = r.customer_reason;
      result->rule_visible = !r.reads_detector;
      result->rule_decided = true;
      result->ttl_s = std::min(result->ttl_s, 60);  // rules reload: a short cache
    }
  }
  if (outcome.cap_rule >= 0 && result->decision != Decision::kBlock && result->decision != Decision::kChallenge) {
    result->max_output_tokens = outcome.cap_tokens;
    if (result->rule_id.empty()) {
      const AccessRule& r = rules.rules()[static_cast<size_t>(outcome.cap_rule)];
      result->rule_id = r.id;
      result->rule_message = r.customer_reason;
      result->rule_visible = !r.reads_detector;
    }
    result->ttl_s = std::min(result->ttl_s, 60);
  }
}

}  // namespace dg
