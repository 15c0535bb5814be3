// Errors as values: the project's error vocabulary on absl::Status and
// absl::StatusOr<T> (Debian's libabsl-dev). A function that can fail
// returns one of them instead of filling a `std::string* error`; the
// message is the text a person reads (unchanged from before: file:line,
// field and reason, which tests and docs grep), the code says what kind of
// failure it is, and this file is the ONE place that turns a code into a
// process exit code or an HTTP status.
//
// The codes used, and what each means here:
//   InvalidArgument    malformed input or configuration: a bad line, key,
//                      field or flag value. The message names where
//                      ("FILE:LINE: key 'K': reason", "field 'F': reason").
//   NotFound           a file, directory, campaign or id that does not exist.
//   OutOfRange         a value outside what is accepted (a date past the
//                      clock, a number past its bound).
//   AlreadyExists      the thing to create is there already.
//   PermissionDenied   not allowed: a file the process may not open, a token
//                      of the wrong role.
//   Unauthenticated    no or a wrong credential.
//   FailedPrecondition the system's state forbids it now (a data directory
//                      in use by another process).
//   ResourceExhausted  a bound was hit (body size, store size, rate).
//   Unavailable        an I/O or storage failure (a read or write failed, a
//                      disk full, a database busy); retrying may work.
//   DataLoss           corrupt stored data: a store, index or value that
//                      distillguard wrote itself reads back wrong.
//   Internal           a defect: something that cannot happen did.
//
// Exit codes (ExitCode): 0 success; 2 the invocation, its configuration or
// its input must be fixed (InvalidArgument, NotFound, OutOfRange,
// AlreadyExists, PermissionDenied, Unauthenticated); 1 the run failed
// (every other code). HTTP statuses: HttpStatus, table in status.cc.
// Three HTTP answers have no code of their own; their errors are made by
// the constructors below, which keep the code (for exit codes) and mark
// the status so that HttpStatus gives the finer answer: 413 (a body too
// large once decoded), 415 (an unsupported Content-Encoding), 422 (a
// well-formed request refused for what it refers to: a rules file that
// fails to load on reload). Protocol answers that no error lies behind
// (405 wrong method, 404 no route, 401 no token, 431 / 413 the header or
// raw body past the server's limit) stay with the HTTP layer.
//
// Debian's abseil is built with its own absl::string_view (not
// std::string_view), and dg::Message is the chat message type:
// StatusMessage() gives a status's text as a std::string_view for fmt and
// the standard library.
//
// DG_RETURN_IF_ERROR(expr): returns expr's status from the enclosing
// function (which returns absl::Status or absl::StatusOr<T>) when it is not
// OK.
//
// Cost: an OK status is one word and allocates nothing; an error allocates
// its message once. The mappings are a switch, O(1).
#pragma once

#include <string>
#include <string_view>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#define DG_RETURN_IF_ERROR(expr)                         \
  do {                                                   \
    if (absl::Status dg_status_ = (expr); !dg_status_.ok()) \
      return dg_status_;                                 \
  } while (false)

namespace dg {

// The status's message as a std::string_view (empty for OK).
inline std::string_view StatusMessage(const absl::Status& status) {
  const auto m = status.message();
  return {m.data(), m.size()};
}

// Process exit code for `status`: 0, 1 or 2 (above).
int ExitCode(const absl::Status& status);
int ExitCode(absl::StatusCode code);

// HTTP status for `status`: 200 OK, 400 InvalidArgument / OutOfRange,
// 401 Unauthenticated, 403 PermissionDenied, 404 NotFound,
// 409 AlreadyExists / FailedPrecondition / Aborted, 429 ResourceExhausted,
// 501 Unimplemented, 503 Unavailable, 504 DeadlineExceeded, 500 the rest
// (DataLoss, Internal, Unknown, Cancelled).
int HttpStatus(const absl::Status& status);
int HttpStatus(absl::StatusCode code);

// ResourceExhausted, HTTP 413.
absl::Status PayloadTooLargeError(std::string_view message);
// InvalidArgument, HTTP 415.
absl::Status UnsupportedMediaTypeError(std::string_view message);
// InvalidArgument, HTTP 422.
absl::Status UnprocessableError(std::string_view message);

// A failed file operation as a status, from errno: ENOENT / ENOTDIR
// NotFound, EACCES / EPERM PermissionDenied, anything else Unavailable.
// `message` is the whole text ("PATH: cannot open: REASON").
absl::Status FileError(int errno_value, std::string_view message);

}  // namespace dg
