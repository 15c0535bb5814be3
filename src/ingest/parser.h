// RecordParser: one JSONL line to an Interaction, through a FieldMapping.
//
// Uses simdjson's DOM parser (one tape per line, reused; ~1 GB/s on typical
// records). The mapping's pointers are compiled at construction: each
// record's top-level keys are indexed in one pass (first occurrence wins, as
// at_key), and a pointer costs a slot lookup plus at_pointer for whatever
// follows its first segment. Accepts both SCHEMA.md shapes with the canonical mapping. On a
// bad record returns a ParseError naming the reason, the field and what was
// wrong; the Interaction is then unspecified and must not be used.
// Not thread-safe: use one parser per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ingest/interaction.h"
#include "ingest/mapping.h"

namespace dg {

// Why a line was not accepted. Counted per reason in the run summary.
enum class Reject : uint8_t {
  kMalformedJson,
  kNotObject,
  kMissingField,
  kWrongType,
  kBadTimestamp,
  kBadValue,
  kLineTooLong,
  kIoError,
  kOutOfRange,  // parsed, but outside what the run accepts (scan: dated too far past its clock)
  kCount
};
inline constexpr size_t kRejectCount = static_cast<size_t>(Reject::kCount);
std::string_view RejectName(Reject r);

struct ParseError {
  Reject reason;
  std::string field;   // empty when the whole line is at fault
  std::string detail;  // human-readable, without file:line
  bool filtered = false;  // not an error: the mapping's [filter] excluded the record
  std::string Message() const;  // "field 'ts': bad timestamp: ..."
};

class RecordParser {
 public:
  explicit RecordParser(FieldMapping mapping);
  ~RecordParser();
  RecordParser(const RecordParser&) = delete;  // owns simdjson parser buffers
  RecordParser& operator=(const RecordParser&) = delete;

  // `line` must be followed by at least kLinePadding readable bytes when
  // `padded` is true (LineReader guarantees it); otherwise it is copied.
  std::optional<ParseError> Parse(std::string_view line, bool padded, Interaction* out);

  const FieldMapping& mapping() const { return mapping_; }

 private:
  struct Impl;
  FieldMapping mapping_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dg
