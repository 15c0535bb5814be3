// Wire: the compact binary record serve keeps for each accepted interaction
// in its log -- the interaction's identifiers and infrastructure (account,
// org, key, address, user agent, payment fingerprint, e-mail domain, model,
// tool names) and its ContentDigest, but never prompt or response text, so
// the store holds fingerprints and features only (privacy by default).
// Replaying the records in log order rebuilds the engine's state exactly.
//
// Format: a version byte, then fixed-width little-endian integers and
// length-prefixed strings. Decode checks every length against the record
// and returns false on any inconsistency (a torn or foreign record is never
// half-applied). ~250-450 bytes per interaction. O(record size).
#pragma once

#include <string>
#include <string_view>

#include "content/analyzer.h"
#include "ingest/interaction.h"

namespace dg {

// Version 2 adds reasoning tokens and the turn fingerprints (response and
// history, content/analyzer.h) at the end; version 1 records still decode
// (without them: their histories are not checked on replay). Version 3 adds
// the request fingerprint of deterministic requests (older records replay
// without it: their repeats are not counted).
inline constexpr uint8_t kWireVersion = 3;

// The digest's response signature (for traceback) rides with the record
// when the interaction carried a response.
std::string EncodeRecord(const Interaction& in, const ContentDigest& digest);
// Fills the text-free fields of *in (text fields left empty) and *digest.
bool DecodeRecord(std::string_view record, Interaction* in, ContentDigest* digest);

}  // namespace dg
