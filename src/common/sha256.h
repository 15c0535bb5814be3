// SHA-256 of a byte string, as 64 lowercase hex digits: the identity of a
// configuration file as loaded (access rules, model catalogue) in the audit
// trail, and the links of the audit's hash chain. OpenSSL's libcrypto
// (Debian libssl-dev): a hand-written digest is not worth its risk.
// Cost: ~2 ns a byte (one EVP call).
#pragma once

#include <string>
#include <string_view>

namespace dg {

std::string Sha256Hex(std::string_view bytes);

}  // namespace dg
