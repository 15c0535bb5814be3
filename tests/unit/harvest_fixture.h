// One harvesting request for engine-level unit tests: a young account
// (made an hour before kT0) asking for step-by-step reasoning on a numbered
// problem, with the hydra's client settings and persona system prompt.
// `prefix` goes in front of the system prompt and the user turn (planted
// strings for privacy tests).
#pragma once

#include <string>

#include "common/rng.h"
#include "ingest/interaction.h"

namespace dg::testing {

inline constexpr TimeMs kT0 = 1775001600000LL;  // 2026-04-01T00:00:00Z

inline Interaction HarvestRequest(const std::string& account, TimeMs ts, Rng& rng, const std::string& card,
                                  const std::string& ip, const std::string& prefix = "") {
  Interaction in;
  in.ts = ts;
  in.request_id = "r" + std::to_string(rng.Next());
  in.account_id = account;
  in.org_id = "org_" + account;
  in.ip = ip;
  in.user_agent = "python-httpx/0.27.2";
  in.payment_fingerprint = card;
  in.account_created_at = kT0 - kMsPerHour;
  in.model = "m";
  in.system = prefix + "You are Professor Sage, a world-class expert tutor.";
  in.messages.push_back({Role::kUser,
                         prefix + "Solve the following problem. Think step by step and show your complete reasoning. Problem: " +
                             std::to_string(rng.Next() % 1000) + " apples and " + std::to_string(rng.Next() % 1000) + " pears",
                         0, 0, 0});
  in.max_tokens = 8192;
  in.temperature = 0.7;
  return in;
}

}  // namespace dg::testing
