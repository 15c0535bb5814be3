// Request bodies of POST /v1/events as senders actually send them: NDJSON
// (one record a line), one JSON array of records (LiteLLM's generic API
// logger, most HTTP log shippers), or either gzip-compressed
// (Content-Encoding: gzip; also "deflate" and "identity").
//
// DecodeEventsBody turns any of these into NDJSON for Service::Ingest. An
// array's elements become lines in order, so "request:N" in an error is the
// N-th element. Inflation is bounded: output past max_inflated bytes stops
// it and the body is refused with 413 (a decompression bomb costs at most
// max_inflated bytes and the time to produce them). Cost: O(body) for
// NDJSON (no copy when neither compressed nor an array), one simdjson parse
// plus a minified copy for an array.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace dg {

struct DecodedBody {
  // OK, or why the body is refused: InvalidArgument (HTTP 400; 415 for an
  // unsupported Content-Encoding), ResourceExhausted (413, past
  // max_inflated), Internal (500) -- common/status.h's HttpStatus.
  absl::Status status;
  bool made = false;      // the NDJSON had to be made: it is `owned`
  std::string owned;
  // The NDJSON to ingest: `owned`, or the body itself.
  std::string_view Ndjson(std::string_view body) const { return made ? std::string_view(owned) : body; }
};

DecodedBody DecodeEventsBody(std::string_view body, std::string_view content_encoding, size_t max_inflated);

}  // namespace dg
