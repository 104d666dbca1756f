// Live: from a trial run to an enforced policy. A workload runs under --dry-run, `suggest` turns
// its audit into a policy, and the same workload passes that policy without one refusal, while a
// variant that makes a new name or grows past the quota is refused.
#include <doctest/doctest.h>

#include <cerrno>

#include "tests/live/harness.h"

namespace warden::test {
namespace {

Args workload(const std::string& text) { return probe_script(text); }

const std::string kWorkload =
    "create cache-101 ; ftruncate cache-101 64K ; create cache-202 ; ftruncate cache-202 128K ; "
    "create cache-303 ; create session ; close cache-101 ; create cache-404";

}  // namespace

TEST_CASE("suggest: the workload passes the policy its dry run suggests, a variant does not") {
  TempDir dir;
  std::string trial_audit = dir.file("trial.jsonl");
  // A byte limit far above anything makes the trial record growth, so bytes can be suggested.
  Args trial_args{
      "run",     "--dry-run", "--max-bytes",
      "1T",      "--policy",  dir.write("deny-all.toml", "version = 1\ndefault = \"deny\"\n"),
      "--audit", trial_audit, "--"};
  for (const auto& arg : workload(kWorkload)) trial_args.push_back(arg);
  auto trial = run_warden_raw(trial_args);
  REQUIRE(trial.exit_code == 0);
  auto suggested = run_warden_raw({"suggest", trial_audit});
  REQUIRE(suggested.exit_code == 0);
  CAPTURE(suggested.out);
  std::string policy = dir.write("suggested.toml", suggested.out);
  CHECK(run_warden_raw({"check", policy}).exit_code == 0);
  CHECK(suggested.out.find("name = 'cache-*'") != std::string::npos);
  CHECK(suggested.out.find("name = 'session'") != std::string::npos);
  CHECK(suggested.out.find("default = \"deny\"") != std::string::npos);
  // The quotas: the trial's peaks (64 + 128 KiB held together, 128 KiB in one memfd) plus
  // --headroom percent, rounded up, and always at least one more than the peak.
  CHECK(suggested.out.find("max_bytes = 245760\n") != std::string::npos);  // 25% by default
  CHECK(suggested.out.find("max_memfd_bytes = 163840\n") != std::string::npos);
  auto doubled = run_warden_raw({"suggest", "--headroom", "100", trial_audit});
  CHECK(doubled.out.find("max_bytes = 393216\n") != std::string::npos);
  CHECK(doubled.out.find("max_memfd_bytes = 262144\n") != std::string::npos);
  auto exact = run_warden_raw({"suggest", "--headroom", "0", "--default", "allow", trial_audit});
  CHECK(exact.out.find("max_bytes = 196609\n") != std::string::npos);
  CHECK(exact.out.find("max_memfd_bytes = 131073\n") != std::string::npos);
  CHECK(exact.out.find("default = \"allow\"") != std::string::npos);
  CHECK(run_warden_raw({"suggest", "--headroom", "1001", trial_audit}).exit_code == 2);

  // The same workload, enforced: no refusal, every operation succeeds.
  auto enforced = run_warden({"--policy", policy}, workload(kWorkload));
  CHECK(enforced.exit_code == 0);
  CHECK(enforced.count("deny") == 0);
  for (int op = 1; op <= 8; ++op) CHECK(enforced.fact("op" + std::to_string(op)) == "0");
  // Another number of the same name passes: the glob.
  CHECK(run_warden({"--policy", policy}, workload("create cache-999")).fact("op1") == "0");
  // A new name is refused (default deny: EPERM), and so is growth past the suggested limit
  // (128 KiB seen, plus 25%).
  auto renamed = run_warden({"--policy", policy}, workload("create other-name"));
  CHECK(renamed.fact("op1") == std::to_string(EPERM));
  auto grown =
      run_warden({"--policy", policy}, workload("create cache-505 ; ftruncate cache-505 1M"));
  CHECK(grown.fact("op1") == "0");
  CHECK(grown.fact("op2") == std::to_string(EFBIG));
  // Control: natively the variant's calls all succeed.
  auto native = run_native(workload("create other-name ; ftruncate other-name 1M"));
  CHECK(native.fact("op1") == "0");
  CHECK(native.fact("op2") == "0");
}

TEST_CASE("suggest: bad input gets a clear error") {
  TempDir dir;
  auto missing = run_warden_raw({"suggest", dir.file("nope.jsonl")});
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("cannot read") != std::string::npos);
  const std::string start = "{\"event\":\"start\",\"run\":\"r\"}\n";
  // A line that is not a record among records (one a full disk cut short) is skipped and named;
  // a file with no record at all is an error naming its first line.
  auto cut = run_warden_raw({"suggest", dir.write("cut.jsonl", start + "not json\n")});
  CHECK(cut.exit_code == 0);
  CHECK(cut.err.find("cut.jsonl:2") != std::string::npos);
  CHECK(cut.out.find("not audit records, skipped") != std::string::npos);
  auto garbage = run_warden_raw({"suggest", dir.write("bad.jsonl", "not json\n")});
  CHECK(garbage.exit_code == 2);
  CHECK(garbage.err.find("bad.jsonl:1: not an audit record") != std::string::npos);
  auto nobody = run_warden_raw({"suggest", "--container", "x", dir.write("empty.jsonl", start)});
  CHECK(nobody.exit_code == 2);
  CHECK(nobody.err.find("no record names the container \"x\"") != std::string::npos);
}

}  // namespace warden::test
