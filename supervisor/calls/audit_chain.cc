#include "supervisor/calls/audit_chain.h"

#include <sodium.h>
#include <sys/random.h>

#include <cerrno>

namespace warden {

ChainValue chain_mac(const RunKey& key, const ChainValue& previous, std::string_view prefix) {
  crypto_generichash_state state;
  crypto_generichash_init(&state, key.data(), key.size(), kChainBytes);
  crypto_generichash_update(&state, previous.data(), previous.size());
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(prefix.data()),
                            prefix.size());
  ChainValue out{};
  crypto_generichash_final(&state, out.data(), out.size());
  return out;
}

void to_hex(const unsigned char* bytes, size_t size, char* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 0xf];
  }
}

bool from_hex(std::string_view hex, unsigned char* out, size_t size) {
  if (hex.size() != 2 * size) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < size; ++i) {
    int high = nibble(hex[2 * i]), low = nibble(hex[2 * i + 1]);
    if (high < 0 || low < 0) return false;
    out[i] = static_cast<unsigned char>(high << 4 | low);
  }
  return true;
}

Result<AuditChain> AuditChain::create() {
  // Not the command line's fault (code 0 would say so: main.cc).
  if (::sodium_init() < 0) return Error{ENOTRECOVERABLE, "initialising libsodium"};
  AuditChain chain;
  unsigned char id[kRunIdBytes];
  if (::getrandom(chain.key_.data(), chain.key_.size(), 0) !=
          static_cast<ssize_t>(chain.key_.size()) ||
      ::getrandom(id, sizeof(id), 0) != static_cast<ssize_t>(sizeof(id))) {
    return errno_error("drawing the audit log's run key (getrandom)");
  }
  to_hex(id, sizeof(id), chain.run_hex_.data());
  return chain;
}

ChainValue AuditChain::link(std::string_view prefix) {
  previous_ = chain_mac(key_, previous_, prefix);
  ++seq_;
  return previous_;
}

}  // namespace warden
