// Test helper for errors as values (common/status.h): the message of a
// failed Status / StatusOr, "" when it succeeded -- so
// EXPECT_EQ(ErrorOf(f()), "f.toml:3: key 'k': reason") checks both that f
// failed and what it said.
#pragma once

#include <string>

#include "common/status.h"

namespace dg {

inline std::string ErrorOf(const absl::Status& s) { return std::string(StatusMessage(s)); }
template <typename T>
std::string ErrorOf(const absl::StatusOr<T>& s) {
  return ErrorOf(s.status());
}

}  // namespace dg
