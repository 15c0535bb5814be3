#include "common/status.h"

#include <cerrno>

#include <absl/strings/cord.h>

namespace dg {
namespace {

// The payload that marks a status for a finer HTTP answer (status.h).
constexpr absl::string_view kHttpPayload = "type.distillguard.dev/http-status";

absl::Status Marked(absl::Status status, absl::string_view http) {
  status.SetPayload(kHttpPayload, absl::Cord(http));
  return status;
}

absl::string_view AsAbsl(std::string_view text) { return {text.data(), text.size()}; }

}  // namespace

int ExitCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 0;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return 2;
    default:
      return 1;
  }
}

int ExitCode(const absl::Status& status) { return ExitCode(status.code()); }

int HttpStatus(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:  // DataLoss, Internal, Unknown, Cancelled
      return 500;
  }
}

int HttpStatus(const absl::Status& status) {
  if (const auto mark = status.GetPayload(kHttpPayload)) {
    if (*mark == "413") return 413;
    if (*mark == "415") return 415;
    if (*mark == "422") return 422;
  }
  return HttpStatus(status.code());
}

absl::Status PayloadTooLargeError(std::string_view message) {
  return Marked(absl::ResourceExhaustedError(AsAbsl(message)), "413");
}

absl::Status UnsupportedMediaTypeError(std::string_view message) {
  return Marked(absl::InvalidArgumentError(AsAbsl(message)), "415");
}

absl::Status UnprocessableError(std::string_view message) { return Marked(absl::InvalidArgumentError(AsAbsl(message)), "422"); }

absl::Status FileError(int errno_value, std::string_view text) {
  const absl::string_view message(text.data(), text.size());
  switch (errno_value) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    default:
      return absl::UnavailableError(message);
  }
}

}  // namespace dg
