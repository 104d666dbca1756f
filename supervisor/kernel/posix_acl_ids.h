// POSIX ACLs as setxattr takes them (system.posix_acl_access, system.posix_acl_default): a
// version-2 header, then entries {tag, perm, id} whose named users and groups are numbered as the
// calling task's user namespace numbers them; the kernel maps them through that namespace.
// memfd-warden, setting one in a caller's place from its own namespace, maps them first with the
// caller's uid_map and gid_map, so the ACL names the users the caller named.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace warden {

struct IdMapRange {
  uint32_t inside = 0;   // the first id as the caller's namespace numbers it
  uint32_t outside = 0;  // ... and as the reader's (memfd-warden's) does
  uint32_t count = 0;
};
using IdMap = std::vector<IdMapRange>;

// /proc/PID/uid_map or gid_map as read by memfd-warden ("inside outside count" lines).
IdMap parse_id_map(std::string_view text);
std::optional<uint32_t> map_id(const IdMap& map, uint32_t inside);

bool is_posix_acl_name(std::string_view name);

// Rewrites in place the ids of the named user and group entries of `value` from the caller's
// numbering to memfd-warden's. One with no mapping becomes the invalid id (-1), which the kernel
// refuses with EINVAL after its own earlier checks (a read-only mount's EROFS first), as it would
// the caller's. A value that is no well-formed version-2 ACL is left for the kernel to refuse.
// Returns how many ids had no mapping.
size_t map_acl_ids(char* value, size_t size, const IdMap& uids, const IdMap& gids);

}  // namespace warden
