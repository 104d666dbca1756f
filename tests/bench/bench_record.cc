// bench_record [AUDIT [COUNT]]: what building, chaining and writing one decision record costs,
// without a target: the mean over COUNT records (300,000) of an allowed create's record written to
// AUDIT (/dev/null). A diagnosis for docs/performance.md, not a target.
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "supervisor/calls/audit_log.h"

int main(int argc, char** argv) {
  using namespace warden;
  auto log = AuditLog::open(AuditDestination::from_option(argc > 1 ? argv[1] : "/dev/null"), {});
  if (!log) {
    std::fprintf(stderr, "bench_record: %s\n", log.error().message().c_str());
    return 1;
  }
  DecisionRecord record;
  record.pid = 1234;
  record.tid = 1235;
  record.name = "bench-sized";
  record.flags = 1;  // MFD_CLOEXEC
  record.fd = 4;
  long count = argc > 2 ? std::atol(argv[2]) : 300000;
  auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) log->write(record);
  std::chrono::duration<double, std::nano> spent = std::chrono::steady_clock::now() - start;
  std::printf("record (encode, chain, write) %7.0f ns\n",
              spent.count() / static_cast<double>(count));
}
