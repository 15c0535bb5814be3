#include "ingest/batch_input.h"

#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "ingest/line_reader.h"
#include "ingest/mapping.h"
#include "ingest/parser.h"

namespace dg {
namespace {

// How an input line maps onto an Interaction: only the request half. The
// time and account are constants (the output record has the real ones).
constexpr std::string_view kInputMapping = R"(version = 1
name = "openai-batch-input"
[fields]
ts = { value = "2000-01-01T00:00:00Z" }
request_id = "/custom_id"
account_id = { value = "batch-input" }
model = "/body/model"
system = "/body/instructions"
messages = { from = ["/body/messages", "/body/input", "/body/prompt"], transforms = ["text"] }
tools = "/body/tools"
max_tokens = ["/body/max_completion_tokens", "/body/max_tokens", "/body/max_output_tokens"]
temperature = "/body/temperature"
[filter]
field = "/url"
in = ["/v1/chat/completions", "/v1/responses", "/v1/completions"]
)";

// Accounted per entry besides the strings' bytes: the map slot (key and
// value objects), its control byte and the vectors' headers.
constexpr size_t kEntryOverhead = sizeof(std::string) + 128;

// The input mapping, parsed once per process.
absl::StatusOr<const FieldMapping*> InputMapping() {
  static const absl::StatusOr<FieldMapping> m = FieldMapping::FromToml(kInputMapping, "openai-batch-input");
  if (!m.ok()) {  // a defect in the constant above; cli.batch_join loads it
    return absl::InternalError(fmt::format("batch input mapping: {}", StatusMessage(m.status())));
  }
  return &*m;
}

}  // namespace

// One pass over an input file: the parser and the error budget.
struct BatchInputIndex::Loader {
  RecordParser parser;
  const std::string& origin;
  size_t max_bytes;
  const ErrorFn& on_error;
  size_t max_errors_shown;
  uint64_t shown = 0;
  bool full = false;
  Interaction in;
};

BatchInputIndex::BatchInputIndex() = default;
BatchInputIndex::~BatchInputIndex() = default;

void BatchInputIndex::AddLine(Loader& ld, std::string_view line, bool padded, uint64_t line_no) {
  auto show = [&](const std::string& msg) {
    if (ld.shown++ < ld.max_errors_shown) ld.on_error(fmt::format("{}:{}: {}", ld.origin, line_no, msg));
  };
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) return;
  ++stats_.lines;
  if (ld.full) {
    ++stats_.not_indexed;
    return;
  }
  Interaction& in = ld.in;
  in = Interaction();
  if (auto err = ld.parser.Parse(line, padded, &in)) {
    if (err->filtered) {
      ++stats_.other_endpoint;
      return;
    }
    if (err->field == "request_id") err->field = "custom_id";
    ++stats_.rejected;
    show(err->Message());
    return;
  }
  if (index_.contains(in.request_id)) {
    ++stats_.duplicates;
    show(fmt::format("field 'custom_id': duplicate: '{}' was seen before; the first request is kept",
                     in.request_id.substr(0, 80)));
    return;
  }
  size_t bytes = kEntryOverhead + in.request_id.size() + in.model.size() + in.system.size();
  for (const auto& m : in.messages) bytes += sizeof(Message) + m.text.size();
  for (const auto& t : in.tool_names) bytes += sizeof(std::string) + t.size();
  if (stats_.bytes + bytes > ld.max_bytes) {
    ld.full = true;
    ++stats_.not_indexed;
    ld.on_error(fmt::format("{}:{}: batch input index full ({} bytes, --batch-input-bytes): this and later requests are "
                            "not indexed; their responses are scanned without prompts",
                            ld.origin, line_no, ld.max_bytes));
    return;
  }
  Request req;
  req.model = std::move(in.model);
  req.system = std::move(in.system);
  req.messages = std::move(in.messages);
  req.tool_names = std::move(in.tool_names);
  req.tools_hash = in.tools_hash;
  req.max_tokens = in.max_tokens;
  req.has_temperature = !std::isnan(in.temperature);
  req.temperature = req.has_temperature ? in.temperature : 0;
  index_.emplace(std::move(in.request_id), std::move(req));
  stats_.bytes += bytes;
  ++stats_.indexed;
}

absl::Status BatchInputIndex::Load(const std::string& path, size_t max_bytes, size_t max_line_bytes, const ErrorFn& on_error,
                                   size_t max_errors_shown) {
  const auto mapping = InputMapping();
  if (!mapping.ok()) return mapping.status();
  auto opened = LineReader::Open(path, max_line_bytes);
  if (!opened.ok()) return opened.status();
  const std::unique_ptr<LineReader>& reader = *opened;
  Loader ld{RecordParser(**mapping), path, max_bytes, on_error, max_errors_shown, 0, false, {}};
  for (;;) {
    std::string_view line;
    const auto st = reader->Next(&line);
    if (st == LineReader::Status::kEof) break;
    if (st == LineReader::Status::kError) {
      return absl::Status(reader->error().code(), fmt::format("{}:{}: {}", path, reader->line_number(), StatusMessage(reader->error())));
    }
    if (st == LineReader::Status::kTooLong) {
      ++stats_.lines;
      ++stats_.rejected;
      if (ld.shown++ < max_errors_shown) {
        on_error(fmt::format("{}:{}: line_too_long: longer than {} bytes (--max-line-bytes)", path, reader->line_number(),
                             max_line_bytes));
      }
      continue;
    }
    AddLine(ld, line, true, reader->line_number());
  }
  return absl::OkStatus();
}

absl::Status BatchInputIndex::LoadText(std::string_view text, const std::string& origin, size_t max_bytes,
                                       const ErrorFn& on_error, size_t max_errors_shown) {
  const auto mapping = InputMapping();
  if (!mapping.ok()) return mapping.status();
  Loader ld{RecordParser(**mapping), origin, max_bytes, on_error, max_errors_shown, 0, false, {}};
  uint64_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    ++line_no;
    AddLine(ld, text.substr(0, nl), false, line_no);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  return absl::OkStatus();
}

bool BatchInputIndex::Apply(Interaction* in) {
  const auto it = in->conversation_id.empty() ? index_.end() : index_.find(in->conversation_id);
  if (it == index_.end()) {
    ++stats_.unmatched;
    return false;
  }
  const Request& r = it->second;
  if (in->messages.empty()) in->messages = r.messages;
  if (in->system.empty()) in->system = r.system;
  if (in->model.empty()) in->model = r.model;
  if (in->tools_hash == 0 && in->tool_names.empty()) {
    in->tool_names = r.tool_names;
    in->tools_hash = r.tools_hash;
  }
  if (in->max_tokens < 0) in->max_tokens = r.max_tokens;
  if (std::isnan(in->temperature) && r.has_temperature) in->temperature = r.temperature;
  ++stats_.joined;
  return true;
}

std::string BatchInputIndex::Summary(const std::string& path) const {
  return fmt::format(
      "batch input {}: {} requests indexed ({:.1f} KiB), {} bad lines, {} duplicate custom_id, {} other endpoints, "
      "{} not indexed (--batch-input-bytes)\n",
      path, stats_.indexed, stats_.bytes / 1024.0, stats_.rejected, stats_.duplicates, stats_.other_endpoint,
      stats_.not_indexed);
}

}  // namespace dg
