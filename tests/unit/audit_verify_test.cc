// Unit: the audit log's chain and `verify`. Real runs are written with AuditLog to a temporary
// file, then altered line by line the ways a target would alter them; verify must call each one
// out, at the right line, and call an untouched log intact.
#include <doctest/doctest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "supervisor/calls/audit_chain.h"
#include "supervisor/calls/audit_log.h"
#include "supervisor/calls/audit_verify.h"

namespace warden {
namespace {

// The lines of one run: start, `decisions` decision records, summary.
std::vector<std::string> one_run(int decisions, const char* program = "/bin/target") {
  char path[] = "/tmp/warden-verify-XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  ::close(fd);
  {
    auto log = AuditLog::open(AuditDestination::from_option(path), Quota{});
    REQUIRE(log.has_value());
    log->write_start("memfd-warden test", program);
    for (int i = 0; i < decisions; ++i) {
      DecisionRecord record;
      std::string name = "name-" + std::to_string(i);
      record.name = name;
      record.decision = i % 2 ? Decision::kDeny : Decision::kAllow;
      log->write(record);
    }
    log->write_summary(SuperviseResult{});
  }
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ::unlink(path);
  return lines;
}

VerifyReport verify(const std::vector<std::string>& texts) {
  std::vector<AuditLine> lines;
  for (size_t i = 0; i < texts.size(); ++i) {
    lines.push_back({"log:" + std::to_string(i + 1), texts[i]});
  }
  return verify_audit(lines);
}

std::string all_problems(const VerifyReport& report) {
  std::ostringstream out;
  for (const auto& run : report.runs) {
    for (const auto& problem : run.problems) out << problem << "\n";
  }
  for (const auto& problem : report.problems) out << problem << "\n";
  return out.str();
}

bool mentions(const VerifyReport& report, const std::string& text) {
  return all_problems(report).find(text) != std::string::npos;
}

}  // namespace

TEST_CASE("an untouched run verifies, and carries run, seq and chain on every record") {
  auto lines = one_run(4);
  REQUIRE(lines.size() == 6);
  auto report = verify(lines);
  CHECK(report.intact());
  REQUIRE(report.runs.size() == 1);
  CHECK(report.runs[0].sealed);
  CHECK(report.runs[0].records == 6);
  CHECK(report.runs[0].program == "/bin/target");
  for (size_t i = 0; i < lines.size(); ++i) {
    CHECK(lines[i].find("\"seq\":" + std::to_string(i) + ",\"chain\":\"") != std::string::npos);
  }
  CHECK(lines.back().find("\"seal\":{\"key\":\"") != std::string::npos);
}

TEST_CASE("every alteration is found, at its line") {
  auto lines = one_run(4);
  SUBCASE("a changed byte") {
    auto changed = lines;
    changed[2].replace(changed[2].find("name-1"), 6, "name-9");
    auto report = verify(changed);
    CHECK_FALSE(report.intact());
    CHECK(mentions(report, "log:3: record 2 was changed"));
  }
  SUBCASE("a removed record") {
    auto cut = lines;
    cut.erase(cut.begin() + 2);
    CHECK(mentions(verify(cut), "records 2 missing before log:3"));
  }
  SUBCASE("truncated to nothing, then the run went on") {
    std::vector<std::string> rest(lines.begin() + 4, lines.end());
    CHECK(mentions(verify(rest), "records 0-3 missing before log:1"));
  }
  SUBCASE("the end cut off: no seal") {
    std::vector<std::string> head(lines.begin(), lines.end() - 1);
    auto report = verify(head);
    CHECK_FALSE(report.intact());
    CHECK(mentions(report, "not sealed"));
  }
  SUBCASE("a replayed record") {
    auto replayed = lines;
    replayed.insert(replayed.begin() + 4, lines[1]);
    CHECK(mentions(verify(replayed), "log:5: record 1 again"));
  }
  SUBCASE("a forged record that copies the run id and guesses a chain") {
    auto forged = lines;
    std::string fake = lines[2];
    fake.replace(fake.find("name-1"), 6, "benign");
    forged.insert(forged.begin() + 3, fake);  // as if it were record 2 ... with 2's number
    CHECK_FALSE(verify(forged).intact());
  }
  SUBCASE("a line that is no record, and a record without a chain") {
    auto junk = lines;
    junk.insert(junk.begin() + 1, "hello");
    junk.insert(junk.begin() + 1, R"({"time":"x","event":"decision","decision":"allow"})");
    auto report = verify(junk);
    CHECK(mentions(report, "log:3: not an audit record"));
    CHECK(mentions(report, "log:2: a record without a chain"));
  }
  SUBCASE("a whole fake run beside the real one cannot hide a cut in the real one") {
    auto fake_run = one_run(1, "/bin/fake");
    std::vector<std::string> mixed = fake_run;
    mixed.insert(mixed.end(), lines.begin() + 3, lines.end());  // the real run, its head cut
    auto report = verify(mixed);
    REQUIRE(report.runs.size() == 2);
    CHECK(report.runs[0].problems.empty());  // the fake run is self-consistent ...
    CHECK_FALSE(report.runs[1].problems.empty());  // ... and the real one shows the cut
    CHECK_FALSE(report.intact());
  }
  SUBCASE("a record after the seal") {
    auto after = lines;
    after.push_back(lines[1]);
    CHECK_FALSE(verify(after).intact());
  }
}

TEST_CASE("several runs in one file, one after another or interleaved, verify run by run") {
  auto a = one_run(2), b = one_run(3);
  std::vector<std::string> appended = a;
  appended.insert(appended.end(), b.begin(), b.end());
  auto report = verify(appended);
  CHECK(report.intact());
  CHECK(report.runs.size() == 2);
  std::vector<std::string> interleaved;
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    if (i < a.size()) interleaved.push_back(a[i]);
    if (i < b.size()) interleaved.push_back(b[i]);
  }
  CHECK(verify(interleaved).intact());
  CHECK_FALSE(verify({}).intact());  // no records at all proves nothing
}

TEST_CASE("the chain depends on the key, the previous value and every byte") {
  RunKey key{}, other{};
  other[0] = 1;
  ChainValue zero{}, one{};
  one[31] = 1;
  auto base = chain_mac(key, zero, "{\"a\":1");
  CHECK(base == chain_mac(key, zero, "{\"a\":1"));
  CHECK(base != chain_mac(other, zero, "{\"a\":1"));
  CHECK(base != chain_mac(key, one, "{\"a\":1"));
  CHECK(base != chain_mac(key, zero, "{\"a\":2"));
  char hex[64];
  to_hex(base.data(), base.size(), hex);
  ChainValue back{};
  CHECK(from_hex({hex, 64}, back.data(), back.size()));
  CHECK(back == base);
  CHECK_FALSE(from_hex("zz", back.data(), 1));
}

}  // namespace warden
