// Unit: the pure pieces of byte quotas: sizes, policy keys, decide_growth, and the per-ABI
// decoding of growth calls (i386 cannot run on our machines, so this is its check).
#include <doctest/doctest.h>
#include <linux/audit.h>

#include "policy/decide.h"
#include "policy/policy_parse.h"
#include "policy/policy_print.h"
#include "policy/sizes.h"
#include "supervisor/calls/growth_args.h"
#include "supervisor/kernel/trapped_syscalls.h"

namespace warden {

TEST_CASE("sizes: bytes, binary and decimal units, and refusals") {
  std::string problem;
  CHECK(*parse_size("4096", &problem) == 4096);
  CHECK(*parse_size("512MiB", &problem) == 512ULL << 20);
  CHECK(*parse_size("2G", &problem) == 2ULL << 30);
  CHECK(*parse_size("1 KiB", &problem) == 1024);
  CHECK(*parse_size("1 G", &problem) == 1ULL << 30);  // blanks around number and unit
  CHECK(*parse_size("5 ", &problem) == 5);
  CHECK(*parse_size("3MB", &problem) == 3000000);
  CHECK(*parse_size("0", &problem) == 0);
  CHECK_FALSE(parse_size("12Q", &problem));
  CHECK(problem.find("unknown unit \"Q\"") == 0);
  CHECK_FALSE(parse_size("-1M", &problem));
  CHECK_FALSE(parse_size("MiB", &problem));
  CHECK_FALSE(parse_size("99999999999999999999", &problem));
  CHECK_FALSE(parse_size("17179869184GiB", &problem));  // overflows 64 bits
  CHECK(format_size(512ULL << 20) == "512MiB");
  CHECK(format_size(1536) == "1536");
  CHECK(format_size(3ULL << 30) == "3GiB");
}

TEST_CASE("durations: milliseconds, seconds, and refusals") {
  std::string problem;
  CHECK(*parse_duration_ms("500ms", &problem) == 500);
  CHECK(*parse_duration_ms("2s", &problem) == 2000);
  CHECK(*parse_duration_ms("3", &problem) == 3000);
  CHECK(*parse_duration_ms("0", &problem) == 0);
  CHECK(*parse_duration_ms("3600s", &problem) == 3600000);
  CHECK_FALSE(parse_duration_ms("3601s", &problem));
  CHECK(problem.find("longer than an hour") == 0);
  CHECK_FALSE(parse_duration_ms("-1s", &problem));
  CHECK_FALSE(parse_duration_ms("1.5s", &problem));
  CHECK_FALSE(parse_duration_ms("2m", &problem));
  CHECK_FALSE(parse_duration_ms("", &problem));
  CHECK_FALSE(parse_duration_ms("ms", &problem));
  CHECK_FALSE(parse_duration_ms("99999999999999999999ms", &problem));
}

TEST_CASE("byte quota keys parse, print back, and refuse misuse") {
  auto policy = parse_policy(R"(version = 1
[quota]
max_bytes = "2GiB"
max_memfd_bytes = 1048576
ftruncate_errno = "EDQUOT"
write_errno = 28
strict_writes = true
[[rule]]
name = "pool-*"
action = "allow"
max_bytes = "64M"
max_live = 4
[[rule]]
syscall = "memfd_secret"
action = "deny"
)",
                             "q.toml");
  REQUIRE_MESSAGE(policy.has_value(), (policy ? "" : policy.error().message()));
  CHECK(*policy->quota.max_bytes == 2ULL << 30);
  CHECK(*policy->quota.max_memfd_bytes == 1 << 20);
  CHECK(policy->quota.ftruncate_errno == EDQUOT);
  CHECK(policy->quota.write_errno == ENOSPC);
  CHECK(policy->quota.strict_writes);
  CHECK(*policy->rules[0].max_bytes == 64ULL << 20);
  CHECK(*policy->rules[0].max_live == 4);
  CHECK(policy->rules[1].syscall == CreateCall::kMemfdSecret);
  CHECK(policy->tracks_bytes());
  auto again = parse_policy(format_policy(*policy), "normalized");
  REQUIRE(again.has_value());
  CHECK(format_policy(*again) == format_policy(*policy));

  const std::pair<const char*, const char*> bad[] = {
      {"version = 1\n[quota]\nmax_bytes = \"lots\"\n", "q:3:13: quota.max_bytes: not a size"},
      {"version = 1\n[quota]\nmax_bytes = 1.5\n", "q:3:13: quota.max_bytes must be a size"},
      {"version = 1\n[quota]\nstrict_writes = \"yes\"\n", "q:3:17: quota.strict_writes must be"},
      {"version = 1\n[[rule]]\naction = \"deny\"\nmax_bytes = 1\n",
       "q:4:13: rule 1: max_bytes limits the memfds a rule admits"},
      {"version = 1\n[[rule]]\nsyscall = \"memfd_secret\"\nname = \"x\"\naction = \"deny\"\n",
       "q:4:8: rule 1: memfd_secret takes no name"},
      {"version = 1\n[[rule]]\nsyscall = \"open\"\naction = \"deny\"\n",
       "q:3:11: rule 1: syscall must be"},
  };
  for (const auto& [text, expected] : bad) {
    CAPTURE(text);
    auto result = parse_policy(text, "q");
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().message().rfind(expected, 0) == 0);
  }
}

TEST_CASE("decide_growth: caps, the tree, the rule, and shrinking") {
  auto policy = parse_policy(R"(version = 1
[quota]
max_bytes = 1000
max_memfd_bytes = 600
ftruncate_errno = "EFBIG"
write_errno = "ENOSPC"
[[rule]]
name = "r"
action = "allow"
max_bytes = 300
)",
                             "t");
  REQUIRE(policy.has_value());
  std::vector<RuleUsage> usage{{1, 200}};
  QuotaState state{0, 2, 800, usage};
  auto verdict = [&](GrowthKind kind, uint64_t old_charge, uint64_t new_charge,
                     std::optional<size_t> rule = std::nullopt) {
    return decide_growth(*policy, {kind, old_charge, new_charge, rule}, state);
  };
  CHECK(verdict(GrowthKind::kFtruncate, 100, 300).action == Action::kAllow);  // 800+200
  CHECK(verdict(GrowthKind::kFtruncate, 100, 301).reason == Reason::kQuotaBytes);
  CHECK(verdict(GrowthKind::kFtruncate, 100, 301).errno_value == EFBIG);
  CHECK(verdict(GrowthKind::kWrite, 100, 301).errno_value == ENOSPC);
  CHECK(verdict(GrowthKind::kFallocate, 0, 601).reason == Reason::kQuotaMemfdBytes);
  CHECK(verdict(GrowthKind::kFtruncate, 200, 301, 0).reason == Reason::kRuleBytes);
  CHECK(verdict(GrowthKind::kFtruncate, 200, 300, 0).action == Action::kAllow);
  CHECK(verdict(GrowthKind::kFtruncate, 900, 0).action == Action::kAllow);  // shrink: always
  CHECK(verdict(GrowthKind::kFtruncate, 5, 5).action == Action::kAllow);
  QuotaState full{0, 1, UINT64_MAX - 1, {}};
  CHECK(decide_growth(*policy, {GrowthKind::kWrite, 0, 10, std::nullopt}, full).reason ==
        Reason::kQuotaBytes);  // no overflow wraps the sum under the limit
}

TEST_CASE("rule max_live refuses creates beyond the rule's own live count") {
  auto policy =
      parse_policy("version = 1\n[[rule]]\nname = \"p*\"\naction = \"allow\"\nmax_live = 1\n", "t");
  REQUIRE(policy.has_value());
  std::vector<RuleUsage> one{{1, 0}};
  CHECK(decide(*policy, {"p1", 0, "", CreateCall::kMemfdCreate}, {0, 1, 0, one}).reason ==
        Reason::kRuleLive);
  CHECK(decide(*policy, {"q1", 0, "", CreateCall::kMemfdCreate}, {0, 1, 0, one}).action ==
        Action::kAllow);
  std::vector<RuleUsage> none{{0, 0}};
  CHECK(decide(*policy, {"p1", 0, "", CreateCall::kMemfdCreate}, {0, 1, 0, none}).action ==
        Action::kAllow);
}

namespace {
std::array<uint64_t, 6> with_args(std::initializer_list<uint64_t> args) {
  std::array<uint64_t, 6> data{};
  size_t i = 0;
  for (uint64_t value : args) data[i++] = value;
  return data;
}
}  // namespace

TEST_CASE("growth arguments decode per ABI") {
  auto x64 = decode_growth_args(TrappedCall::kFallocate, Abi::kX86_64,
                                with_args({5, 1, 1ULL << 33, 4096}));
  CHECK(x64.fd == 5);
  CHECK(x64.mode == 1);
  CHECK(x64.offset == 1LL << 33);
  CHECK(x64.length == 4096);
  // i386 splits 64-bit offsets and lengths over register pairs, low half first.
  auto i386 = decode_growth_args(TrappedCall::kFallocate, Abi::kI386,
                                 with_args({5, 1, 0x10, 0x2, 0x20, 0x0}));
  CHECK(i386.offset == (2LL << 32 | 0x10));
  CHECK(i386.length == 0x20);
  auto ftruncate64 =
      decode_growth_args(TrappedCall::kFtruncate64, Abi::kI386, with_args({3, 0x1000, 0x1}));
  CHECK(ftruncate64.length == (1LL << 32 | 0x1000));
  // i386 ftruncate takes a signed 32-bit length; the upper register half is not the caller's.
  auto negative = decode_growth_args(TrappedCall::kFtruncate, Abi::kI386,
                                     with_args({3, 0xdeadbeefffffffffULL}));
  CHECK(negative.length == -1);
  CHECK(negative.fd == 3);
  CHECK_FALSE(negative.by_path);
  // truncate names its file by a path, even a null one (EFAULT, not an fd).
  auto by_null_path =
      decode_growth_args(TrappedCall::kTruncate, Abi::kX86_64, with_args({0, 4096}));
  CHECK(by_null_path.by_path);
  CHECK(by_null_path.path == 0);
  CHECK(by_null_path.length == 4096);
  auto truncate64 =
      decode_growth_args(TrappedCall::kTruncate64, Abi::kI386, with_args({0x8000, 0x1000, 0x1}));
  CHECK(truncate64.by_path);
  CHECK(truncate64.path == 0x8000);
  CHECK(truncate64.length == (1LL << 32 | 0x1000));
  auto pwrite =
      decode_growth_args(TrappedCall::kPwrite64, Abi::kI386, with_args({7, 0x1000, 100, 0x5, 0x1}));
  CHECK(pwrite.has_offset);
  CHECK(pwrite.offset == (1LL << 32 | 5));
  auto writev = decode_growth_args(TrappedCall::kWritev, Abi::kI386, with_args({1, 0x2000, 3}));
  CHECK(writev.compat_iov);
  CHECK(writev.iov_count == 3);
  auto pwritev2 = decode_growth_args(TrappedCall::kPwritev2, Abi::kX86_64,
                                     with_args({1, 0x2000, 2, static_cast<uint64_t>(-1), 0, 0x10}));
  CHECK_FALSE(pwritev2.has_offset);  // offset -1: the file position
  CHECK(pwritev2.rwf_flags == 0x10);
  auto x32 =
      decode_growth_args(TrappedCall::kPwritev2, Abi::kX32, with_args({1, 0x2000, 2, 64, 0x10, 0}));
  CHECK(x32.offset == 64);
  CHECK(x32.rwf_flags == 0x10);
  auto splice = decode_growth_args(TrappedCall::kSplice, Abi::kX86_64,
                                   with_args({4, 0, 9, 0x3000, 65536, 0}));
  CHECK(splice.fd == 9);  // the destination, not the source
  CHECK(splice.in_fd == 4);
  CHECK(splice.out_offset_pointer == 0x3000);
  CHECK(splice.length == 65536);
  CHECK_FALSE(splice.emulated);
  // copy_file_range(in, off_in, out, off_out, len, flags); a length is a size_t: 2^64 - 1 is
  // no -1 to the handler, which reads it unsigned.
  auto copy = decode_growth_args(TrappedCall::kCopyFileRange, Abi::kX86_64,
                                 with_args({4, 0x1000, 9, 0x3000, ~0ULL, 0}));
  CHECK(copy.in_fd == 4);
  CHECK(copy.in_offset_pointer == 0x1000);
  CHECK(copy.fd == 9);
  CHECK(static_cast<uint64_t>(copy.length) == ~0ULL);
  CHECK(copy.copy_flags == 0);
  // sendfile(out, in, offset, count): the offset is the source's; i386's sendfile has a 32-bit
  // off_t there, its sendfile64 a loff_t.
  auto sendfile =
      decode_growth_args(TrappedCall::kSendfile, Abi::kX86_64, with_args({9, 4, 0x2000, 4096}));
  CHECK(sendfile.fd == 9);
  CHECK(sendfile.in_fd == 4);
  CHECK(sendfile.in_offset_pointer == 0x2000);
  CHECK(sendfile.in_offset_size == 8);
  CHECK(sendfile.length == 4096);
  auto narrow =
      decode_growth_args(TrappedCall::kSendfile, Abi::kI386, with_args({9, 4, 0x2000, 4096}));
  CHECK(narrow.in_offset_size == 4);
  auto wide =
      decode_growth_args(TrappedCall::kSendfile64, Abi::kI386, with_args({9, 4, 0x2000, 4096}));
  CHECK(wide.in_offset_size == 8);
}

TEST_CASE("syscall numbers per ABI, as the filter and the decoder both see them") {
  auto number = [](TrappedCall call, Abi abi) -> int {
    for (const auto& entry : trapped_syscalls()) {
      if (entry.call == call && entry.abi == abi) return entry.nr;
    }
    return -1;
  };
  CHECK(number(TrappedCall::kMemfdCreate, Abi::kX86_64) == 319);
  CHECK(number(TrappedCall::kMemfdCreate, Abi::kI386) == 356);
  CHECK(number(TrappedCall::kMemfdCreate, Abi::kX32) == (0x40000000 | 319));
  CHECK(number(TrappedCall::kMemfdSecret, Abi::kX86_64) == 447);
  CHECK(number(TrappedCall::kFtruncate, Abi::kX86_64) == 77);
  CHECK(number(TrappedCall::kFtruncate64, Abi::kI386) == 194);
  CHECK(number(TrappedCall::kFtruncate64, Abi::kX86_64) == -1);  // no such call there
  CHECK(number(TrappedCall::kFallocate, Abi::kI386) == 324);
  CHECK(number(TrappedCall::kWritev, Abi::kX32) == (0x40000000 | 516));  // x32's own compat call
  auto decoded = classify_syscall(AUDIT_ARCH_I386, 356);
  REQUIRE(decoded.has_value());
  CHECK(decoded->call == TrappedCall::kMemfdCreate);
  CHECK(decoded->abi == Abi::kI386);
  CHECK_FALSE(classify_syscall(AUDIT_ARCH_X86_64, 356).has_value());
}

}  // namespace warden
