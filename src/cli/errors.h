// How a front end reports a failed status: "COMMAND: MESSAGE" on stderr,
// and the process exit code the status's code maps to (common/status.h:
// 2 fix the invocation or its input, 1 the run failed). Cost: one write.
#pragma once

#include <cstdio>
#include <string_view>

#include <fmt/format.h>

#include "common/status.h"

namespace dg::cli {

inline int PrintError(std::string_view command, const absl::Status& status) {
  fmt::print(stderr, "{}: {}\n", command, StatusMessage(status));
  return ExitCode(status);
}

}  // namespace dg::cli
