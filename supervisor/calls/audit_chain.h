// Tamper evidence for the audit log: every record of a run carries the run's id, its sequence
// number and a MAC chained to the record before it, keyed with a secret drawn for this run alone.
// The key lives only in memfd-warden's memory while the run lasts (the target can neither read
// it nor trace memfd-warden: docs/hardening.md), so the target can neither recompute the chain
// over a record it changed nor forge one that fits. The closing summary discloses the key and
// seals the chain, so that anyone can verify the log afterwards (`memfd-warden verify`).
//
// A record on disk is its JSON object with the chain last:
//   {"time":...,"event":...,...,"run":"<32 hex>","seq":N,"chain":"<64 hex>"}
// chain = BLAKE2b-256 keyed with the run key, over (previous record's chain, or 32 zero bytes for
// seq 0) followed by the record's bytes up to and including the seq number.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "policy/result.h"

namespace warden {

inline constexpr size_t kChainBytes = 32;
inline constexpr size_t kRunKeyBytes = 32;
inline constexpr size_t kRunIdBytes = 16;

using ChainValue = std::array<unsigned char, kChainBytes>;
using RunKey = std::array<unsigned char, kRunKeyBytes>;

// The chain function, shared by the writer and the verifier.
ChainValue chain_mac(const RunKey& key, const ChainValue& previous, std::string_view prefix);

// Lowercase hex of `bytes` into `out` (2 chars a byte); and back (false on bad input).
void to_hex(const unsigned char* bytes, size_t size, char* out);
bool from_hex(std::string_view hex, unsigned char* out, size_t size);

// The writer's side: one per run. No allocation after creation.
class AuditChain {
 public:
  // Draws the run id and key from the kernel (getrandom).
  static Result<AuditChain> create();

  std::string_view run_id() const { return {run_hex_.data(), run_hex_.size()}; }
  uint64_t next_seq() const { return seq_; }
  const RunKey& key() const { return key_; }

  // `prefix` is a record up to and including its seq number (which must be next_seq()).
  // Returns the chain value to append, and advances to the next record.
  ChainValue link(std::string_view prefix);

 private:
  AuditChain() = default;
  RunKey key_{};
  std::array<char, kRunIdBytes * 2> run_hex_{};
  ChainValue previous_{};
  uint64_t seq_ = 0;
};

}  // namespace warden
