// Test helper for errors as values (common/status.h): the message of a
// failed Status / StatusOr, "" when it succeeded -- so
// EXPECT_EQ(ErrorOf(f()), "f.toml:3: key 'k': reason") checks both that f
// failed and what it said.
#pragma once

#include <string>
#include <utility>

#include "common/status.h"

namespace dg {

inline std::string ErrorOf(const absl::Status& s) { return std::string(StatusMessage(s)); }
template <typename T>
std::string ErrorOf(const absl::StatusOr<T>& s) {
  return ErrorOf(s.status());
}

// For tests that set up state with calls that must succeed and print why
// when one does not: Ok(st->Append(...), &error) is true, or false with
// `error` the message; ValueOr(Store::Open(dir), &error) is the value, or
// T{} (a null pointer) with `error` the message.
inline bool Ok(const absl::Status& s, std::string* error) {
  if (!s.ok()) *error = ErrorOf(s);
  return s.ok();
}
template <typename T>
T ValueOr(absl::StatusOr<T> s, std::string* error) {
  if (!s.ok()) {
    *error = ErrorOf(s.status());
    return T{};
  }
  return std::move(*s);
}

}  // namespace dg
