#include "correlate/shared_indicators.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>

#include "common/hash.h"
#include "common/parse_int.h"
#include "correlate/correlator.h"
#include "correlate/indicator_index.h"

namespace dg {
namespace {

uint64_t SharedKey(IndicatorKind kind, std::string_view value) {
  if (kind == IndicatorKind::kClient) return IndicatorIndex::Key(kind, HashCombine(Hash64(value), 0x5ca1ab1eULL));
  return IndicatorIndex::Key(kind, Hash64(value));
}

// Key of an address masked to `len` bits (family and length are part of it).
uint64_t NetKey(const IpAddress& a, int len) {
  std::array<unsigned char, 16> masked{};
  const int whole = len / 8;
  std::copy(a.bytes.begin(), a.bytes.begin() + whole, masked.begin());
  if (len % 8) masked[static_cast<size_t>(whole)] = a.bytes[static_cast<size_t>(whole)] & static_cast<unsigned char>(0xff << (8 - len % 8));
  return HashCombine(Hash64(std::string_view(reinterpret_cast<const char*>(masked.data()), 16)),
                     static_cast<uint64_t>(len) + (a.v4 ? 0x400 : 0x600));
}

}  // namespace


std::string_view SharedTrustName(SharedTrust t) { return t == SharedTrust::kBlock ? "block" : "review"; }

std::optional<SharedTrust> SharedTrustByName(std::string_view name) {
  if (name == "block") return SharedTrust::kBlock;
  if (name == "review") return SharedTrust::kReview;
  return std::nullopt;
}

const SharedEntry* SharedIndicators::Match(const std::string& payment, const std::string& ip) const {
  if (entries_.empty()) return nullptr;
  const SharedEntry* found = nullptr;
  auto consider = [&](uint64_t key) {
    const auto it = entries_.find(key);
    if (it == entries_.end()) return false;
    if (found == nullptr || it->second.trust == SharedTrust::kBlock) found = &it->second;
    return found->trust == SharedTrust::kBlock;  // nothing stronger to look for
  };
  if (!payment.empty() && consider(SharedKey(IndicatorKind::kPayment, payment))) return found;
  IpAddress addr;
  if (!ip.empty() && ParseAddress(ip, &addr)) {
    for (const int len : addr.v4 ? v4_lengths_ : v6_lengths_) {
      if (consider(NetKey(addr, len))) return found;
    }
  }
  return found;
}

namespace {

// A network "addr[/len]" as the address and prefix length it names; false
// for one a partner may not share (unparsable, wider than /16 or /32).
bool ParseSharedNetwork(const std::string& value, IpAddress* addr, int* len) {
  // "a.b.c.d", "a.b.c.0/24", "2001:db8::/48", "::ffff:a.b.c.d/120": the
  // network as given (a bare address is that host only). Networks wider
  // than /16 (IPv4) or /32 (IPv6) are refused: one shared indicator must
  // not be able to block a whole provider's customers.
  const size_t slash = value.find('/');
  if (!ParseAddress(std::string_view(value).substr(0, slash), addr)) return false;
  const bool mapped = addr->v4 && value.find(':') != std::string::npos;
  *len = addr->v4 ? 32 : 128;
  if (slash != std::string::npos) {
    const std::string_view digits = std::string_view(value).substr(slash + 1);
    const auto parsed = digits.size() <= 3 ? ParseDecimal<int>(digits) : std::nullopt;
    if (!parsed || *parsed < 0) return false;
    *len = *parsed;
    if (mapped) *len -= 96;  // ::ffff:a.b.c.d/120 is a.b.c.d/24
  }
  return *len <= (addr->v4 ? 32 : 128) && *len >= (addr->v4 ? 16 : 32);
}

}  // namespace

std::optional<std::string> SharedIndicators::Canonical(IndicatorKind kind, const std::string& value) {
  if (value.empty()) return std::nullopt;
  if (kind == IndicatorKind::kIpPrefix) {
    IpAddress addr;
    int len = 0;
    if (!ParseSharedNetwork(value, &addr, &len)) return std::nullopt;
    unsigned char masked[16] = {};
    const int whole = len / 8;
    std::copy(addr.bytes.begin(), addr.bytes.begin() + whole, masked);
    if (len % 8) masked[whole] = addr.bytes[static_cast<size_t>(whole)] & static_cast<unsigned char>(0xff << (8 - len % 8));
    char buf[INET6_ADDRSTRLEN];
    if (inet_ntop(addr.v4 ? AF_INET : AF_INET6, masked, buf, sizeof(buf)) == nullptr) return std::nullopt;
    return std::string(buf) + "/" + std::to_string(len);
  }
  if (kind != IndicatorKind::kPayment && kind != IndicatorKind::kClient) return std::nullopt;
  return value;
}

bool SharedIndicators::Add(IndicatorKind kind, const std::string& value, const std::string& source, SharedTrust trust) {
  if (value.empty()) return false;
  uint64_t key = 0;
  if (kind == IndicatorKind::kIpPrefix) {
    IpAddress addr;
    int len = 0;
    if (!ParseSharedNetwork(value, &addr, &len)) return false;
    key = NetKey(addr, len);
    auto& lengths = addr.v4 ? v4_lengths_ : v6_lengths_;
    if (std::find(lengths.begin(), lengths.end(), len) == lengths.end()) {
      lengths.push_back(len);
      std::sort(lengths.rbegin(), lengths.rend());  // most specific first
    }
  } else if (kind == IndicatorKind::kPayment || kind == IndicatorKind::kClient) {
    key = SharedKey(kind, value);
  } else {
    return false;
  }
  const auto [it, inserted] = entries_.try_emplace(key);
  if (!inserted && it->second.trust == SharedTrust::kBlock && trust == SharedTrust::kReview) return true;  // never lowered by a re-import
  it->second.source = source;
  it->second.trust = trust;
  return true;
}

bool SharedIndicators::Remove(IndicatorKind kind, const std::string& value) {
  if (kind == IndicatorKind::kIpPrefix) {
    IpAddress addr;
    int len = 0;
    // The prefix length stays in the lookup list: one extra probe at most.
    return ParseSharedNetwork(value, &addr, &len) && entries_.erase(NetKey(addr, len)) > 0;
  }
  if (kind != IndicatorKind::kPayment && kind != IndicatorKind::kClient) return false;
  return entries_.erase(SharedKey(kind, value)) > 0;
}

}  // namespace dg
