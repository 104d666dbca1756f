// The hot path allocates nothing per notification once warm: a memfd_create allowed, one denied
// and a quota-checked ftruncate each go through the real handlers (caller reads, name read,
// decision, ledger, audit encoding and write) with a counting malloc in place. The calls are our
// own thread's, so /proc/TID, process_vm_readv and pidfd_getfd all work on a real task. Its own
// binary: replacing malloc would fight the sanitizers' allocators, so sanitizer builds skip it.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "policy/policy_parse.h"
#include "supervisor/calls/call_dispatch.h"
#include "supervisor/kernel/trapped_syscalls.h"

extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* pointer, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
void __libc_free(void* pointer);
}

namespace {
bool g_counting = false;
size_t g_allocations = 0;
void note() {
  if (g_counting) ++g_allocations;
}
}  // namespace

// glibc lets a program replace malloc and friends as a set; these count and hand over to glibc.
extern "C" {
void* malloc(size_t size) {
  note();
  return __libc_malloc(size);
}
void* calloc(size_t count, size_t size) {
  note();
  return __libc_calloc(count, size);
}
void* realloc(void* pointer, size_t size) {
  note();
  return __libc_realloc(pointer, size);
}
void* memalign(size_t alignment, size_t size) {
  note();
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(size_t alignment, size_t size) {
  note();
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, size_t alignment, size_t size) {
  note();
  *out = __libc_memalign(alignment, size);
  return *out != nullptr ? 0 : ENOMEM;
}
void free(void* pointer) { __libc_free(pointer); }
}

namespace warden {
namespace {

// A channel for a caller that is always there. An allowed memfd is made as NotifyChannel makes
// it, then either closed at once (as a target that uses it briefly would) or kept (to be grown).
class LocalChannel final : public CallChannel {
 public:
  bool caller_waiting() override { return true; }
  int fail(int) override { return 0; }
  int complete(int64_t) override { return 0; }
  int pass_through() override { return 0; }
  int deliver_memfd(const MemfdSpec& spec, const std::function<bool(int)>& on_created) override {
    int fd = ::memfd_create(spec.name, spec.flags);
    if (fd < 0 || !on_created(fd)) return -EPERM;
    if (keep_) {
      kept_.push_back(fd);
    } else {
      ::close(fd);
    }
    return fd;
  }
  void keep_next() { keep_ = true; }
  int last_kept() const { return kept_.back(); }

 private:
  bool keep_ = false;
  std::vector<int> kept_;
};

char g_allowed[] = "an-allowed-name-longer-than-sso";
char g_denied[] = "a-denied-name-longer-than-sso";

TrappedRequest call(int nr, uint64_t arg0, uint64_t arg1) {
  TrappedRequest request;
  request.tid = ::gettid();
  request.syscall = *classify_syscall(0xc000003e /* AUDIT_ARCH_X86_64 */, nr);
  request.args[0] = arg0;
  request.args[1] = arg1;
  return request;
}

TEST_CASE("no allocation per notification: allow, deny and a checked ftruncate, once warm") {
  auto policy = parse_policy(R"(version = 1
exec = "deny"
[quota]
max_bytes = "1G"
[[rule]]
id = "the-denied-one"
name = "a-denied-*"
action = "deny"
errno = "EPERM"
)",
                             "test");
  REQUIRE(policy.has_value());
  auto ledger = MemfdLedger::open(policy->rules.size());
  auto audit = AuditLog::open(AuditDestination::from_option("/dev/null"), policy->quota);
  REQUIRE(ledger.has_value());
  REQUIRE(audit.has_value());
  SuperviseOptions options;
  CallDispatcher dispatcher(*policy, options, *ledger, *audit);
  LocalChannel channel;
  TrappedRequest allow = call(319, reinterpret_cast<uint64_t>(g_allowed), MFD_CLOEXEC);
  TrappedRequest deny = call(319, reinterpret_cast<uint64_t>(g_denied), MFD_CLOEXEC);
  channel.keep_next();
  dispatcher.handle(allow, channel);  // one memfd that stays, for ftruncate
  TrappedRequest grow = call(77 /* ftruncate */, static_cast<uint64_t>(channel.last_kept()), 0);
  LocalChannel brief;

  auto round = [&](int size) {
    dispatcher.handle(allow, brief);
    dispatcher.handle(deny, brief);
    grow.args[1] = static_cast<uint64_t>(size);
    dispatcher.handle(grow, channel);
  };
  for (int i = 0; i < 300; ++i) round(4096 * (i % 3));  // warm: buffers and pools grow here
  g_allocations = 0;
  g_counting = true;
  for (int i = 0; i < 1000; ++i) round(4096 * (i % 3));
  g_counting = false;
  CHECK(g_allocations == 0);
  CHECK(audit->count(Decision::kAllow) == 2601);  // creates and growths
  CHECK(audit->count(Decision::kDeny) == 1300);
  // Control: the counter does count (a test that cannot fail proves nothing).
  g_counting = true;
  std::vector<int> grown(1000);
  g_counting = false;
  CHECK(g_allocations >= 1);
}

}  // namespace
}  // namespace warden
