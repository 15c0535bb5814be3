// Reading a TOML integer safely: toml++'s value<int64_t>() converts a float
// by casting, which is undefined behaviour for floats outside int64's range
// (found by fuzz_config: `version = 8.8e66`). Only a TOML integer is an
// integer here; anything else is "not an integer". O(1).
#pragma once

#include <cstdint>
#include <optional>

#include <toml++/toml.h>

namespace dg {

inline std::optional<int64_t> TomlInteger(const toml::node& n) {
  if (const auto* i = n.as_integer()) return i->get();
  return std::nullopt;
}

}  // namespace dg
