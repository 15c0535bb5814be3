// AccountDirectory: what a provider's own database knows about its accounts
// (sign-up time, payment instrument fingerprint, e-mail domain,
// organisation and whether it is verified, country, verification level,
// free labels), joined to each interaction by account id. Gateway logs
// lack these; the engine's shared-payment, new-account and same-org rules
// need them, and the access rules (decide/access_rules.h) read the verified
// ones: verified_country, jurisdiction, verification_level, org_type,
// payment_verified.
//
// Input: JSONL (one object per line) or CSV with a header line, columns
//   account_id, created_at, payment_fingerprint, email_domain, org_id,
//   org_verified, country, verification, labels,
//   verified_country, jurisdiction, verification_level, org_type,
//   payment_verified
// (any order; unknown columns are an error; labels separated by ';' in CSV,
// a list or a string in JSONL; created_at RFC 3339 or epoch seconds;
// org_verified and payment_verified true/false/1/0/yes/no;
// verification_level an integer 0..100). Errors name file:line and column.
// `country` is what the customer declared; `verified_country` and
// `jurisdiction` are what the provider verified (KYC of the person or the
// organisation). An empty value is missing, and missing is never verified.
//
// Join rule: a non-empty attribute from the directory fills the field; a
// record's own value stays only where the directory has none, so an empty
// field in a log never erases what the directory knows.
//
// Cost: one hash-map entry per account (~100 bytes plus the strings);
// Load is O(file); Apply is one hash lookup per interaction. Loading stops
// with an error past max_accounts entries (memory bounded by the caller).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "common/status.h"
#include "ingest/interaction.h"

namespace dg {

struct AccountAttributes {
  std::string account_id;
  TimeMs created_at = kNoTime;
  std::string payment_fingerprint;
  std::string email_domain;
  std::string org_id;
  int8_t org_verified = -1;
  std::string country;
  std::string verification;
  std::vector<std::string> labels;
  // Verified attributes (access rules). Empty / -1: missing.
  std::string verified_country;
  std::string jurisdiction;
  int32_t verification_level = -1;
  std::string org_type;
  int8_t payment_verified = -1;
};

// One account as a JSON object in the input's JSONL form (what serve
// stores; LoadText reads it back).
std::string AccountToJson(const AccountAttributes& a);

class AccountDirectory {
 public:
  // Reads a JSONL or CSV file (decided by its first non-blank character:
  // '{' is JSONL). Errors: InvalidArgument "FILE:LINE: column 'C': why"
  // for a bad row (the rows before it are kept), ResourceExhausted past
  // set_max_accounts, NotFound / PermissionDenied / Unavailable for a file
  // that cannot be read. Later rows for the same account update the
  // earlier ones field by field.
  absl::Status LoadFile(const std::string& path);
  // The same from memory (PUT /v1/accounts bodies; JSON arrays allowed).
  absl::Status LoadText(std::string_view text, const std::string& origin);
  // Upserts one account (non-empty fields replace, empty ones keep).
  void Upsert(const AccountAttributes& a);

  // Fills `in` from the account's attributes (see the join rule above).
  // True when the account is known.
  bool Apply(Interaction* in) const;
  const AccountAttributes* Find(std::string_view account_id) const;

  size_t size() const { return accounts_.size(); }
  void ForEach(const std::function<void(const AccountAttributes&)>& fn) const {
    for (const auto& [id, a] : accounts_) fn(a);
  }
  void set_max_accounts(size_t n) { max_accounts_ = n; }

 private:
  absl::Status AddJsonLine(std::string_view line, const std::string& where);
  // One parsed row (a JSONL line or a CSV record): needs an account id and
  // room under max_accounts_; then upserted.
  absl::Status AddRow(const AccountAttributes& a, const std::string& where);
  absl::flat_hash_map<std::string, AccountAttributes> accounts_;
  size_t max_accounts_ = 50u << 20;
};

}  // namespace dg
