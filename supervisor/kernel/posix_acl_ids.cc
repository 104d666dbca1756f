#include "supervisor/kernel/posix_acl_ids.h"

#include <charconv>
#include <cstring>

namespace warden {
namespace {

constexpr uint32_t kAclVersion = 2;   // POSIX_ACL_XATTR_VERSION
constexpr uint16_t kAclUser = 0x02;   // ACL_USER
constexpr uint16_t kAclGroup = 0x08;  // ACL_GROUP
constexpr size_t kHeader = 4, kEntry = 8;
constexpr uint32_t kInvalidId = ~0u;  // (uid_t)-1: no user, in any namespace

}  // namespace

IdMap parse_id_map(std::string_view text) {
  IdMap map;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    uint32_t fields[3];
    size_t got = 0;
    const char* p = line.data();
    const char* stop = line.data() + line.size();
    while (got < 3 && p < stop) {
      while (p < stop && *p == ' ') ++p;
      auto [next, ec] = std::from_chars(p, stop, fields[got]);
      if (ec != std::errc()) break;
      p = next;
      ++got;
    }
    if (got == 3) map.push_back({fields[0], fields[1], fields[2]});
  }
  return map;
}

std::optional<uint32_t> map_id(const IdMap& map, uint32_t inside) {
  for (const auto& range : map) {
    if (inside >= range.inside && inside - range.inside < range.count) {
      return range.outside + (inside - range.inside);
    }
  }
  return std::nullopt;
}

bool is_posix_acl_name(std::string_view name) {
  return name == "system.posix_acl_access" || name == "system.posix_acl_default";
}

size_t map_acl_ids(char* value, size_t size, const IdMap& uids, const IdMap& gids) {
  if (size < kHeader || (size - kHeader) % kEntry != 0) return 0;
  uint32_t version = 0;
  std::memcpy(&version, value, sizeof(version));
  if (version != kAclVersion) return 0;
  size_t unmapped = 0;
  for (size_t at = kHeader; at < size; at += kEntry) {
    uint16_t tag = 0;
    uint32_t id = 0;
    std::memcpy(&tag, value + at, sizeof(tag));
    if (tag != kAclUser && tag != kAclGroup) continue;
    std::memcpy(&id, value + at + 4, sizeof(id));
    uint32_t mapped = map_id(tag == kAclUser ? uids : gids, id).value_or(kInvalidId);
    unmapped += mapped == kInvalidId;
    std::memcpy(value + at + 4, &mapped, sizeof(mapped));
  }
  return unmapped;
}

}  // namespace warden
