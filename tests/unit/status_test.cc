#include "common/status.h"

#include <cerrno>

#include <gtest/gtest.h>

namespace dg {
namespace {

TEST(Status, ExitCodes) {
  EXPECT_EQ(ExitCode(absl::OkStatus()), 0);
  // What the caller must fix: usage, configuration, input.
  EXPECT_EQ(ExitCode(absl::InvalidArgumentError("p.toml:3: key 'mode': unknown")), 2);
  EXPECT_EQ(ExitCode(absl::NotFoundError("x: cannot read")), 2);
  EXPECT_EQ(ExitCode(absl::OutOfRangeError("ts")), 2);
  EXPECT_EQ(ExitCode(absl::AlreadyExistsError("x")), 2);
  EXPECT_EQ(ExitCode(absl::PermissionDeniedError("x")), 2);
  EXPECT_EQ(ExitCode(absl::UnauthenticatedError("x")), 2);
  // A run that failed.
  EXPECT_EQ(ExitCode(absl::UnavailableError("x: write failed")), 1);
  EXPECT_EQ(ExitCode(absl::DataLossError("x: corrupt")), 1);
  EXPECT_EQ(ExitCode(absl::ResourceExhaustedError("x")), 1);
  EXPECT_EQ(ExitCode(absl::FailedPreconditionError("in use")), 1);
  EXPECT_EQ(ExitCode(absl::InternalError("x")), 1);
  EXPECT_EQ(ExitCode(absl::UnknownError("x")), 1);
  EXPECT_EQ(ExitCode(absl::CancelledError("x")), 1);
}

TEST(Status, EveryCodeHasAnExitCodeAndAnHttpStatus) {
  for (int c = 0; c <= 16; ++c) {
    const auto code = static_cast<absl::StatusCode>(c);
    const int exit = ExitCode(code);
    EXPECT_TRUE(exit == 0 || exit == 1 || exit == 2) << c;
    EXPECT_EQ(exit == 0, code == absl::StatusCode::kOk) << c;
    const int http = HttpStatus(code);
    EXPECT_EQ(http == 200, code == absl::StatusCode::kOk) << c;
    EXPECT_TRUE(http == 200 || (http >= 400 && http < 600)) << c;
    // What the caller must fix is never a server error.
    if (exit == 2) {
      EXPECT_LT(http, 500) << c;
    }
  }
}

TEST(Status, HttpStatuses) {
  EXPECT_EQ(HttpStatus(absl::OkStatus()), 200);
  EXPECT_EQ(HttpStatus(absl::InvalidArgumentError("field 'action': must be ...")), 400);
  EXPECT_EQ(HttpStatus(absl::OutOfRangeError("x")), 400);
  EXPECT_EQ(HttpStatus(absl::UnauthenticatedError("x")), 401);
  EXPECT_EQ(HttpStatus(absl::PermissionDeniedError("x")), 403);
  EXPECT_EQ(HttpStatus(absl::NotFoundError("no such indicator")), 404);
  EXPECT_EQ(HttpStatus(absl::AlreadyExistsError("x")), 409);
  EXPECT_EQ(HttpStatus(absl::FailedPreconditionError("x")), 409);
  EXPECT_EQ(HttpStatus(absl::AbortedError("x")), 409);
  EXPECT_EQ(HttpStatus(absl::ResourceExhaustedError("x")), 429);
  EXPECT_EQ(HttpStatus(absl::UnimplementedError("x")), 501);
  EXPECT_EQ(HttpStatus(absl::UnavailableError("database is locked")), 503);
  EXPECT_EQ(HttpStatus(absl::DeadlineExceededError("x")), 504);
  EXPECT_EQ(HttpStatus(absl::DataLossError("x")), 500);
  EXPECT_EQ(HttpStatus(absl::InternalError("x")), 500);
  EXPECT_EQ(HttpStatus(absl::UnknownError("x")), 500);
}

TEST(Status, MarkedErrorsKeepTheirCodeAndGiveTheFinerHttpStatus) {
  const absl::Status too_large = PayloadTooLargeError("decompressed body exceeds 64 bytes");
  EXPECT_EQ(too_large.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(HttpStatus(too_large), 413);
  EXPECT_EQ(StatusMessage(too_large), "decompressed body exceeds 64 bytes");
  const absl::Status encoding = UnsupportedMediaTypeError("unsupported Content-Encoding 'br'");
  EXPECT_EQ(encoding.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpStatus(encoding), 415);
  EXPECT_EQ(ExitCode(encoding), 2);
  const absl::Status refused = UnprocessableError("rules.toml:5: key 'rule[1].effect': unknown");
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpStatus(refused), 422);
  // The same code without the mark is the plain answer.
  EXPECT_EQ(HttpStatus(absl::Status(refused.code(), refused.message())), 400);
}

TEST(Status, ReturnIfError) {
  int reached = 0;
  auto step = [&](absl::Status s) -> absl::Status {
    DG_RETURN_IF_ERROR(s);
    ++reached;
    return absl::OkStatus();
  };
  EXPECT_TRUE(step(absl::OkStatus()).ok());
  EXPECT_EQ(step(absl::UnavailableError("disk")).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(reached, 1);
  auto value = [&](absl::Status s) -> absl::StatusOr<int> {
    DG_RETURN_IF_ERROR(s);
    return 7;
  };
  EXPECT_EQ(*value(absl::OkStatus()), 7);
  EXPECT_EQ(value(absl::NotFoundError("x")).status().code(), absl::StatusCode::kNotFound);
}

TEST(Status, FileErrorsByErrno) {
  const auto missing = FileError(ENOENT, "a.jsonl: cannot open: No such file or directory");
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(StatusMessage(missing), "a.jsonl: cannot open: No such file or directory") << "the message is kept as written";
  EXPECT_EQ(StatusMessage(absl::OkStatus()), "");
  EXPECT_EQ(FileError(ENOTDIR, "m").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FileError(EACCES, "m").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(FileError(EPERM, "m").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(FileError(EIO, "m").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(FileError(ENOSPC, "m").code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace dg
