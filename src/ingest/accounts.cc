#include "ingest/accounts.h"

#include <cerrno>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <simdjson.h>

#include "common/json_out.h"

namespace dg {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

constexpr std::string_view kColumns[] = {"account_id", "created_at", "payment_fingerprint", "email_domain", "org_id",
                                         "org_verified", "country", "verification", "labels",
                                         "verified_country", "jurisdiction", "verification_level", "org_type",
                                         "payment_verified"};
constexpr int32_t kMaxVerificationLevel = 100;
constexpr size_t kMaxLineBytes = 1u << 20;

std::string_view Trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t' || v.front() == '\r')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r')) v.remove_suffix(1);
  return v;
}

std::optional<int8_t> Bool(std::string_view v) {
  if (v.empty()) return int8_t{-1};
  if (v == "true" || v == "1" || v == "yes" || v == "TRUE" || v == "True") return int8_t{1};
  if (v == "false" || v == "0" || v == "no" || v == "FALSE" || v == "False") return int8_t{0};
  return std::nullopt;
}

std::optional<TimeMs> Time(std::string_view v) {
  if (auto t = ParseRfc3339(v)) return t;
  double secs = 0;
  std::istringstream is{std::string(v)};
  if (is >> secs && is.eof()) return EpochSecondsToMs(secs);
  return std::nullopt;
}

// One CSV line to fields: commas, "quoted" fields with "" escapes. A line
// is a record (a newline inside quotes is not supported: an error).
bool SplitCsv(std::string_view line, std::vector<std::string>* out, std::string* why) {
  out->clear();
  std::string cur;
  bool quoted = false, was_quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          cur.push_back('"');
          ++i;
        } else {
          quoted = false;
        }
      } else {
        cur.push_back(c);
      }
    } else if (c == '"' && Trim(cur).empty() && !was_quoted) {
      quoted = was_quoted = true;
      cur.clear();
    } else if (c == ',') {
      out->push_back(was_quoted ? cur : std::string(Trim(cur)));
      cur.clear();
      was_quoted = false;
    } else {
      cur.push_back(c);
    }
  }
  if (quoted) {
    *why = "unterminated quoted field (a newline inside quotes is not supported)";
    return false;
  }
  out->push_back(was_quoted ? cur : std::string(Trim(cur)));
  return true;
}

// Sets one named attribute from text. Returns the reason when invalid.
std::optional<std::string> SetField(AccountAttributes* a, std::string_view col, std::string_view v) {
  if (col == "account_id") {
    a->account_id = v;
  } else if (col == "created_at") {
    if (v.empty()) return std::nullopt;
    const auto t = Time(v);
    if (!t) return fmt::format("'{}' is not an RFC 3339 date-time or epoch seconds", v.substr(0, 60));
    a->created_at = *t;
  } else if (col == "payment_fingerprint") {
    a->payment_fingerprint = v;
  } else if (col == "email_domain") {
    a->email_domain = v;
  } else if (col == "org_id") {
    a->org_id = v;
  } else if (col == "org_verified") {
    const auto b = Bool(v);
    if (!b) return fmt::format("'{}' is not true/false", v.substr(0, 60));
    a->org_verified = *b;
  } else if (col == "country") {
    a->country = v;
  } else if (col == "verification") {
    a->verification = v;
  } else if (col == "verified_country") {
    a->verified_country = v;
  } else if (col == "jurisdiction") {
    a->jurisdiction = v;
  } else if (col == "org_type") {
    a->org_type = v;
  } else if (col == "payment_verified") {
    const auto b = Bool(v);
    if (!b) return fmt::format("'{}' is not true/false", v.substr(0, 60));
    a->payment_verified = *b;
  } else if (col == "verification_level") {
    if (v.empty()) return std::nullopt;
    int32_t level = 0;
    bool ok = v.size() <= 3;
    for (const char c : v) ok = ok && c >= '0' && c <= '9';
    if (ok) {
      for (const char c : v) level = level * 10 + (c - '0');
    }
    if (!ok || level > kMaxVerificationLevel) {
      return fmt::format("'{}' is not an integer in [0, {}]", v.substr(0, 60), kMaxVerificationLevel);
    }
    a->verification_level = level;
  } else if (col == "labels") {
    a->labels.clear();
    size_t pos = 0;
    while (pos <= v.size()) {
      size_t end = v.find(';', pos);
      if (end == std::string_view::npos) end = v.size();
      const auto label = Trim(v.substr(pos, end - pos));
      if (!label.empty()) a->labels.emplace_back(label);
      pos = end + 1;
    }
  } else {
    return fmt::format("unknown column (expected {})", fmt::join(kColumns, ", "));
  }
  return std::nullopt;
}

}  // namespace

std::string AccountToJson(const AccountAttributes& a) {
  std::string s = "{\"account_id\":";
  AppendJsonString(s, a.account_id);
  if (a.created_at != kNoTime) {
    s += ",\"created_at\":";
    AppendJsonString(s, FormatRfc3339(a.created_at));
  }
  for (auto [name, v] : {std::pair<std::string_view, const std::string*>{"payment_fingerprint", &a.payment_fingerprint},
                         {"email_domain", &a.email_domain}, {"org_id", &a.org_id}, {"country", &a.country},
                         {"verification", &a.verification}, {"verified_country", &a.verified_country},
                         {"jurisdiction", &a.jurisdiction}, {"org_type", &a.org_type}}) {
    if (v->empty()) continue;
    s += fmt::format(",\"{}\":", name);
    AppendJsonString(s, *v);
  }
  if (a.org_verified >= 0) s += a.org_verified ? ",\"org_verified\":true" : ",\"org_verified\":false";
  if (a.payment_verified >= 0) s += a.payment_verified ? ",\"payment_verified\":true" : ",\"payment_verified\":false";
  if (a.verification_level >= 0) s += fmt::format(",\"verification_level\":{}", a.verification_level);
  if (!a.labels.empty()) {
    s += ",\"labels\":[";
    for (size_t i = 0; i < a.labels.size(); ++i) {
      if (i) s += ",";
      AppendJsonString(s, a.labels[i]);
    }
    s += "]";
  }
  s += "}";
  return s;
}

void AccountDirectory::Upsert(const AccountAttributes& a) {
  auto [it, fresh] = accounts_.try_emplace(a.account_id, a);
  if (fresh) return;
  AccountAttributes& d = it->second;
  if (a.created_at != kNoTime) d.created_at = a.created_at;
  for (auto [dst, src] : {std::pair{&d.payment_fingerprint, &a.payment_fingerprint}, {&d.email_domain, &a.email_domain},
                          {&d.org_id, &a.org_id}, {&d.country, &a.country}, {&d.verification, &a.verification},
                          {&d.verified_country, &a.verified_country}, {&d.jurisdiction, &a.jurisdiction},
                          {&d.org_type, &a.org_type}}) {
    if (!src->empty()) *dst = *src;
  }
  if (a.org_verified >= 0) d.org_verified = a.org_verified;
  if (a.payment_verified >= 0) d.payment_verified = a.payment_verified;
  if (a.verification_level >= 0) d.verification_level = a.verification_level;
  if (!a.labels.empty()) d.labels = a.labels;
}

const AccountAttributes* AccountDirectory::Find(std::string_view account_id) const {
  const auto it = accounts_.find(absl::string_view(account_id.data(), account_id.size()));
  return it == accounts_.end() ? nullptr : &it->second;
}

bool AccountDirectory::Apply(Interaction* in) const {
  const AccountAttributes* a = Find(in->account_id);
  if (a == nullptr) return false;
  if (a->created_at != kNoTime) in->account_created_at = a->created_at;
  if (!a->payment_fingerprint.empty()) in->payment_fingerprint = a->payment_fingerprint;
  if (!a->email_domain.empty()) in->email_domain = a->email_domain;
  if (!a->org_id.empty()) in->org_id = a->org_id;
  if (a->org_verified >= 0) in->org_verified = a->org_verified;
  if (!a->country.empty()) in->country = a->country;
  if (!a->verification.empty()) in->verification = a->verification;
  return true;
}

absl::Status AccountDirectory::AddJsonLine(std::string_view line, const std::string& where) {
  static thread_local simdjson::dom::parser parser;
  element doc;
  if (const auto ec = parser.parse(line.data(), line.size()).get(doc); ec != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(fmt::format("{}: malformed JSON: {}", where, simdjson::error_message(ec)));
  }
  if (doc.type() != element_type::OBJECT) {
    return absl::InvalidArgumentError(fmt::format("{}: an account must be a JSON object", where));
  }
  AccountAttributes a;
  for (auto [key, value] : simdjson::dom::object(doc)) {
    std::string text;
    switch (value.type()) {
      case element_type::STRING: text = std::string_view(value); break;
      case element_type::INT64: text = std::to_string(int64_t(value)); break;
      case element_type::UINT64: text = std::to_string(uint64_t(value)); break;
      case element_type::DOUBLE: text = fmt::format("{}", double(value)); break;
      case element_type::BOOL: text = bool(value) ? "true" : "false"; break;
      case element_type::NULL_VALUE: break;
      case element_type::ARRAY:
        if (key == "labels") {
          for (element l : simdjson::dom::array(value)) {
            std::string_view s;
            if (l.get(s) != simdjson::SUCCESS) {
              return absl::InvalidArgumentError(fmt::format("{}: column 'labels': labels must be strings", where));
            }
            if (!text.empty()) text.push_back(';');
            text.append(s);
          }
          break;
        }
        [[fallthrough]];
      default:
        return absl::InvalidArgumentError(fmt::format("{}: column '{}': expected a string, number or boolean", where, key));
    }
    if (auto why = SetField(&a, key, text)) {
      return absl::InvalidArgumentError(fmt::format("{}: column '{}': {}", where, key, *why));
    }
  }
  return AddRow(a, where);
}

absl::Status AccountDirectory::AddRow(const AccountAttributes& a, const std::string& where) {
  if (a.account_id.empty()) {
    return absl::InvalidArgumentError(fmt::format("{}: column 'account_id': required", where));
  }
  if (accounts_.size() >= max_accounts_ && Find(a.account_id) == nullptr) {
    return absl::ResourceExhaustedError(fmt::format("{}: more than {} accounts", where, max_accounts_));
  }
  Upsert(a);
  return absl::OkStatus();
}

absl::Status AccountDirectory::LoadText(std::string_view text, const std::string& origin) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return absl::OkStatus();
  if (text[first] == '[') {  // one JSON array of accounts
    simdjson::dom::parser parser;
    simdjson::dom::array arr;
    if (const auto ec = parser.parse(text.data() + first, text.size() - first).get(arr); ec != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(fmt::format("{}: not a JSON array: {}", origin, simdjson::error_message(ec)));
    }
    size_t idx = 0;
    for (element el : arr) {
      ++idx;
      DG_RETURN_IF_ERROR(AddJsonLine(simdjson::minify(el), fmt::format("{}:[{}]", origin, idx)));
    }
    return absl::OkStatus();
  }
  const bool json = text[first] == '{';
  std::vector<std::string> header, fields;
  bool have_header = false;
  size_t pos = 0;
  uint64_t line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = Trim(text.substr(pos, end - pos));
    pos = end + 1;
    ++line_no;
    const std::string where = fmt::format("{}:{}", origin, line_no);
    if (line.empty()) continue;
    if (line.size() > kMaxLineBytes) {
      return absl::InvalidArgumentError(fmt::format("{}: line longer than {} bytes", where, kMaxLineBytes));
    }
    if (json) {
      DG_RETURN_IF_ERROR(AddJsonLine(line, where));
      continue;
    }
    std::string why;
    if (!SplitCsv(line, have_header ? &fields : &header, &why)) {
      return absl::InvalidArgumentError(fmt::format("{}: {}", where, why));
    }
    if (!have_header) {  // the first non-blank line names the columns
      have_header = true;
      bool has_id = false;
      for (const auto& h : header) {
        AccountAttributes probe;
        if (auto bad = SetField(&probe, h, "")) {
          return absl::InvalidArgumentError(fmt::format("{}: column '{}': {}", where, h, *bad));
        }
        has_id |= h == "account_id";
      }
      if (!has_id) {
        return absl::InvalidArgumentError(fmt::format("{}: the header needs an account_id column", where));
      }
      continue;
    }
    if (fields.size() != header.size()) {
      return absl::InvalidArgumentError(fmt::format("{}: {} fields, the header has {}", where, fields.size(), header.size()));
    }
    AccountAttributes a;
    for (size_t c = 0; c < fields.size(); ++c) {
      if (auto bad = SetField(&a, header[c], fields[c])) {
        return absl::InvalidArgumentError(fmt::format("{}: column '{}': {}", where, header[c], *bad));
      }
    }
    DG_RETURN_IF_ERROR(AddRow(a, where));
  }
  return absl::OkStatus();
}

absl::Status AccountDirectory::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return FileError(errno, fmt::format("{}: cannot read the accounts file", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return LoadText(ss.str(), path);
}

}  // namespace dg
