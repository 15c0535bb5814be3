// libFuzzer: the field-mapping transforms, one mapping at a time, with the
// checks a caller relies on. The first input byte picks a mode:
//   - one of the fixed mappings (every shipped preset, and three that use
//     every transform: first_of_list / strip_port, epoch s/ms/us/ns/auto,
//     naive date-times in fixed offsets and in named zones, JSON in a
//     string, to_number, content blocks to text, fallbacks, constants,
//     defaults, dash_is_empty and a record filter); the rest of the input is
//     JSONL, each line parsed;
//   - a fuzzed mapping: the input is "TOML\n---\nJSONL": the TOML is loaded
//     (named zones included) and, if valid, the lines are parsed through it;
//   - the OpenAI Batch input index: the rest is an output record line, then
//     an input file, indexed with a small byte budget (LoadText: the same
//     per-line code as Load, without a file), then joined;
//   - the time-zone conversion on its own: 8 bytes of instant, per zone.
// Aborts (a finding) when an accepted record breaks what the parser
// promises (time in 1990..2100, ids present), when the batch index's
// counts do not add up or it exceeds its byte budget, or when a zone
// conversion leaves the bounds time_zone.h states.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/time_zone.h"
#include "ingest/batch_input.h"
#include "ingest/mapping.h"
#include "ingest/parser.h"

namespace {

constexpr const char* kAllTransforms[] = {
    R"(version = 1
name = "fuzz-a"
[fields]
ts = { from = ["/t", "/ts"], epoch = "auto", tz = "America/New_York" }
account_created_at = { from = ["/c", "/created"], tz = "Europe/Berlin" }
request_id = ["/id", "/rid", "/request_id"]
account_id = ["/user", "/account_id"]
ip = { from = ["/xff", "/ip"], transforms = ["first_of_list", "strip_port"] }
user_agent = { from = "/ua", transforms = ["first_of_list"] }
messages = { from = ["/req", "/messages", "/input"], json = ["/messages", "/input"], transforms = ["text"] }
model = { from = "/req", json = "/model" }
system = { from = ["/system", "/instructions"], transforms = ["text"] }
max_tokens = { from = "/p/max_tokens", transforms = ["to_number"] }
temperature = { from = "/p/temperature", transforms = ["first_of_list", "to_number"] }
response_content = { from = ["/resp", "/output"], json = "", transforms = ["text"] }
input_tokens = { from = "/u/in", transforms = ["to_number"] }
org_id = { value = "o" }
[defaults]
account_id = "anon"
[filter]
field = "/call_type"
not_in = ["embedding"]
[options]
messages_required = false
dash_is_empty = true
)",
    R"(version = 1
name = "fuzz-b"
[fields]
ts = { from = "/t", epoch = "ms", tz = "Australia/Lord_Howe" }
account_created_at = { from = "/c", epoch = "ns", tz = "+05:45" }
request_id = { from = "/r", transforms = ["to_number"] }
account_id = { from = "/a", transforms = ["first_of_list", "strip_port"] }
messages = { from = "/m", transforms = ["json_in_string", "text"] }
tools = { from = "/tools", json = "" }
stop_reason = { from = "/s", transforms = ["text"] }
[filter]
field = "/k"
in = ["completion", "1"]
)",
    R"(version = 1
name = "fuzz-c"
[fields]
ts = { from = ["/t"], epoch = "us", tz = "UTC" }
account_created_at = { from = "/c", epoch = "s", tz = "Asia/Kolkata" }
account_id = { value = "const" }
request_id = { from = "/r", json = ["/id", ""] }
messages = { from = "/m", json = "", transforms = ["text"] }
ip = { from = "/ip", transforms = ["strip_port", "first_of_list"] }
)",
};

std::vector<std::unique_ptr<dg::RecordParser>> MakeParsers() {
  std::vector<std::unique_ptr<dg::RecordParser>> v;
  for (const auto& name : dg::FieldMapping::PresetNames()) {
    auto m = dg::FieldMapping::Preset(name);
    if (!m) std::abort();
    v.push_back(std::make_unique<dg::RecordParser>(std::move(*m)));
  }
  for (const char* toml : kAllTransforms) {
    auto m = dg::FieldMapping::FromToml(toml, "fuzz.toml");
    if (!m.ok()) {
      std::fprintf(stderr, "fuzz_mapping: %s\n", std::string(dg::StatusMessage(m.status())).c_str());
      std::abort();
    }
    v.push_back(std::make_unique<dg::RecordParser>(std::move(*m)));
  }
  return v;
}

void CheckAccepted(const dg::Interaction& in) {
  if (in.ts < dg::kMinValidTime || in.ts >= dg::kMaxValidTime) std::abort();
  if (in.request_id.empty() || in.account_id.empty()) std::abort();
  if (in.account_created_at != dg::kNoTime &&
      (in.account_created_at < dg::kMinValidTime || in.account_created_at >= dg::kMaxValidTime)) {
    std::abort();
  }
}

// Each line of `text` through `parser`.
void ParseLines(dg::RecordParser& parser, std::string_view text, std::vector<dg::Interaction>* kept) {
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    dg::Interaction in;
    if (auto err = parser.Parse(line, false, &in)) {
      if (err->Message().size() > 4096) std::abort();  // errors quote bounded excerpts
      continue;
    }
    CheckAccepted(in);
    if (kept != nullptr && kept->size() < 16) kept->push_back(std::move(in));
  }
}

void FuzzZones(const uint8_t* data, size_t size) {
  static const char* kZones[] = {"America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata",
                                 "America/Sao_Paulo", "Pacific/Apia", "UTC"};
  static std::vector<const dg::TimeZone*> zones = [] {
    std::vector<const dg::TimeZone*> z;
    for (const char* name : kZones) {
      const auto tz = dg::TimeZone::Find(name);
      if (!tz.ok()) std::abort();
      z.push_back(*tz);
    }
    return z;
  }();
  uint64_t raw = 0;
  std::memcpy(&raw, data, size < 8 ? size : 8);
  const dg::TimeMs span = dg::kMaxValidTime - dg::kMinValidTime;
  const dg::TimeMs u = dg::kMinValidTime + static_cast<dg::TimeMs>(raw % static_cast<uint64_t>(span));
  for (const auto* z : zones) {
    const dg::TimeMs off = z->OffsetAt(u);
    if (off < -15 * dg::kMsPerHour || off > 15 * dg::kMsPerHour) std::abort();
    const dg::TimeMs back = z->LocalToUtc(u + off);
    if (back > u || back < u - 3 * dg::kMsPerHour) std::abort();
    const dg::TimeMs any = z->LocalToUtc(u);  // u read as a wall-clock time
    if (any < u - 15 * dg::kMsPerHour || any > u + 15 * dg::kMsPerHour) std::abort();
  }
}

void FuzzBatchInput(std::string_view text) {
  static dg::RecordParser output(*dg::FieldMapping::Preset("openai-batch"));
  // The first line is output records (to join); the rest is the input file.
  const size_t nl = text.find('\n');
  const std::string_view out_line = text.substr(0, nl);
  const std::string_view input = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  constexpr size_t kBudget = 2048;
  dg::BatchInputIndex index;
  uint64_t shown = 0;
  if (!index.LoadText(input, "input.jsonl", kBudget, [&](const std::string& msg) { shown += !msg.empty(); }, 4).ok()) {
    std::abort();  // only the built-in mapping can fail, and it must not
  }
  const auto& st = index.stats();
  if (st.bytes > kBudget) std::abort();
  if (st.indexed + st.rejected + st.duplicates + st.other_endpoint + st.not_indexed != st.lines) std::abort();
  if (index.size() != st.indexed) std::abort();
  dg::Interaction in;
  if (!output.Parse(out_line, false, &in)) {
    const size_t messages_before = in.messages.size();
    const bool found = index.Apply(&in);
    if (!found && in.messages.size() != messages_before) std::abort();
    CheckAccepted(in);
  }
  for (const char* id : {"request-1", "request-2", "a", ""}) {
    dg::Interaction probe;
    probe.conversation_id = id;
    (void)index.Apply(&probe);
  }
  if (index.stats().joined + index.stats().unmatched == 0) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::vector<std::unique_ptr<dg::RecordParser>> parsers = MakeParsers();
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t n = parsers.size();
  if (mode < 0xF0) {
    ParseLines(*parsers[mode % n], rest, nullptr);
  } else if (mode < 0xF8) {
    const size_t sep = rest.find("\n---\n");
    const std::string_view toml = rest.substr(0, sep);
    auto m = dg::FieldMapping::FromToml(toml, "fuzzed.toml");
    if (!m.ok()) {
      if (dg::StatusMessage(m.status()).empty()) std::abort();  // a refused mapping always says why
      return 0;
    }
    if (sep == std::string_view::npos) return 0;
    dg::RecordParser parser(std::move(*m));
    ParseLines(parser, rest.substr(sep + 5), nullptr);
  } else if (mode < 0xFC) {
    FuzzBatchInput(rest);
  } else {
    FuzzZones(data + 1, size - 1);
  }
  return 0;
}
