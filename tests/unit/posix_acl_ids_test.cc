// Unit: a POSIX ACL set in a caller's place from another user namespace names the caller's users:
// uid_map and gid_map as /proc prints them, and the ids of named entries mapped through them.
#include "supervisor/kernel/posix_acl_ids.h"

#include <doctest/doctest.h>

#include <cstring>
#include <vector>

namespace warden {
namespace {

// version 2, then {tag | perm << 16, id} pairs, as 32-bit words.
std::vector<uint32_t> acl(std::initializer_list<std::pair<uint32_t, uint32_t>> entries) {
  std::vector<uint32_t> words{2};
  for (auto [tag, id] : entries) {
    words.push_back(tag | (4u << 16));
    words.push_back(id);
  }
  return words;
}

size_t map(std::vector<uint32_t>& words, const IdMap& uids, const IdMap& gids) {
  return map_acl_ids(reinterpret_cast<char*>(words.data()), words.size() * 4, uids, gids);
}

}  // namespace

TEST_CASE("uid_map as /proc prints it: ranges, and ids outside them unmapped") {
  IdMap map = parse_id_map("         0      65534          1\n      1000     100000      65536\n");
  REQUIRE(map.size() == 2);
  CHECK(map_id(map, 0) == 65534u);
  CHECK(map_id(map, 1000) == 100000u);
  CHECK(map_id(map, 1000 + 65535) == 100000u + 65535);
  CHECK_FALSE(map_id(map, 1000 + 65536));
  CHECK_FALSE(map_id(map, 1));
  CHECK(parse_id_map("").empty());
  CHECK(parse_id_map("garbage\n").empty());
}

TEST_CASE("an ACL's named users and groups are mapped, the other entries left alone") {
  IdMap uids{{0, 65534, 1}, {10, 2000, 5}};
  IdMap gids{{0, 65534, 1}};
  // USER_OBJ, USER 0, USER 12, GROUP_OBJ, GROUP 0, MASK, OTHER.
  auto words =
      acl({{0x01, ~0u}, {0x02, 0}, {0x02, 12}, {0x04, ~0u}, {0x08, 0}, {0x10, ~0u}, {0x20, ~0u}});
  CHECK(map(words, uids, gids) == 0);
  CHECK(words[2] == ~0u);
  CHECK(words[4] == 65534u);
  CHECK(words[6] == 2002u);
  CHECK(words[8] == ~0u);
  CHECK(words[10] == 65534u);
  CHECK(words[12] == ~0u);
  // A name with no mapping becomes the invalid id: the kernel's EINVAL, after its own checks.
  auto unmapped = acl({{0x01, ~0u}, {0x02, 5}, {0x04, ~0u}, {0x10, ~0u}, {0x20, ~0u}});
  CHECK(map(unmapped, uids, gids) == 1);
  CHECK(unmapped[4] == ~0u);
  auto unmapped_group = acl({{0x08, 7}, {0x02, 0}});
  CHECK(map(unmapped_group, uids, gids) == 1);
  CHECK(unmapped_group[2] == ~0u);
  CHECK(unmapped_group[4] == 65534u);
}

TEST_CASE("a value that is no version-2 ACL is left for the kernel to refuse") {
  IdMap none;
  auto words = acl({{0x02, 5}});
  words[0] = 1;  // another version
  CHECK(map(words, none, none) == 0);
  CHECK(words[2] == 5u);
  std::vector<char> odd(7, '\x02');  // not a header and whole entries
  CHECK(map_acl_ids(odd.data(), odd.size(), none, none) == 0);
  CHECK(odd == std::vector<char>(7, '\x02'));
  CHECK(map_acl_ids(nullptr, 0, none, none) == 0);
}

}  // namespace warden
