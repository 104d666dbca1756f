// Live: the command line around policies. A bad policy stops everything with exit 2 and a
// file:line:column message before the target runs; check and policy --default print policies.
#include <doctest/doctest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

#include "tests/live/harness.h"

namespace warden::test {

TEST_CASE("every class of bad policy: exit 2, file:line:column, and the target never runs") {
  struct Case {
    const char* text;
    const char* where;    // line:column
    const char* message;  // a phrase the message must contain
  };
  const Case cases[] = {
      {"version = 1\nbogus = 3\n", ":2:1:", "unknown key 'bogus'"},
      {"version = 1\n[quota]\nmax_live = \"many\"\n", ":3:12:", "must be an integer"},
      {"version = 1\n[[rule]]\nname = \"[abc\"\naction = \"deny\"\n", ":3:8:", "bad glob"},
      {"version = 1\n[[rule]]\nname_regex = \"(unclosed\"\naction = \"deny\"\n",
       ":3:14:", "bad regex"},
      {"version = 1\n[[rule]]\nflags_any = [\"MFD_BOGUS\"]\naction = \"deny\"\n",
       ":3:14:", "unknown flag \"MFD_BOGUS\""},
      {"version = 1\n[[rule]]\naction = \"deny\"\nerrno = \"ENOTANERRNO\"\n",
       ":4:9:", "unknown errno"},
      {"version = 2\n", ":1:11:", "unsupported policy version"},
      {"version = 1\n[[rule]\n", ":2:", ""},  // TOML syntax error, from toml++
      {"version = 1\n[[rule]]\nname = \"a\"\n", ":2:1:", "missing action"},
      {"version = 1\n[[rule]]\naction = \"explode\"\n", ":3:10:", "must be \"allow\""},
      {"default = \"allow\"\n", ":1:1:", "missing 'version = 1'"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    TempDir dir;
    auto policy = dir.write("bad.toml", c.text);
    std::string marker = dir.file("target-ran");
    auto run = run_warden({"--policy", policy}, {"/bin/sh", "-c", "touch " + marker});
    CHECK(run.exit_code == 2);
    CHECK(run.err.find(policy + c.where) != std::string::npos);
    CHECK(run.err.find(c.message) != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(marker));
    auto check = run_warden_raw({"check", policy});
    CHECK(check.exit_code == 2);
    CHECK(check.err.find(policy + c.where) != std::string::npos);
  }
  // A directory is no policy file: said so, not read as an empty policy (review).
  TempDir dir;
  auto directory = run_warden_raw({"check", dir.path().string()});
  CHECK(directory.exit_code == 2);
  CHECK(directory.err.find(dir.path().string() + ": it is a directory") != std::string::npos);
}

TEST_CASE("check prints the normalized policy, which parses back to itself") {
  TempDir dir;
  auto policy = dir.write("p.toml",
                          "version = 1\n[quota]\nmax_calls = 9\n[[rule]]\nname = \"a*\"\n"
                          "flags_any = [\"MFD_EXEC\", \"MFD_CLOEXEC\"]\naction = \"deny\"\n"
                          "errno = 13\n");
  auto first = run_warden_raw({"check", policy});
  REQUIRE(first.exit_code == 0);
  CHECK(first.out.find("errno = \"EACCES\"") != std::string::npos);
  CHECK(first.out.find("flags_any = [\"MFD_CLOEXEC\", \"MFD_EXEC\"]") != std::string::npos);
  CHECK(first.out.find("max_calls = 9") != std::string::npos);
  // Every default written out, the rule's syscall included.
  for (const char* line :
       {"default = \"allow\"\n", "exec = \"deny\"\n", "io_uring = \"deny\"\n",
        "errno = \"EMFILE\"\n", "ftruncate_errno = \"EFBIG\"\n", "write_errno = \"ENOSPC\"\n",
        "strict_writes = false\n", "syscall = \"memfd_create\"\n"}) {
    CAPTURE(line);
    CHECK(first.out.find(line) != std::string::npos);
  }
  auto again = run_warden_raw({"check", dir.write("normalized.toml", first.out)});
  CHECK(again.exit_code == 0);
  CHECK(again.out == first.out);
}

TEST_CASE("policy --default prints the embedded policy, and it checks clean") {
  auto shown = run_warden_raw({"policy", "--default"});
  REQUIRE(shown.exit_code == 0);
  CHECK(shown.out.find("MFD_EXEC") != std::string::npos);
  TempDir dir;
  CHECK(run_warden_raw({"check", dir.write("default.toml", shown.out)}).exit_code == 0);
  // policy.md shows it: the same TOML, without its comments.
  std::ifstream in(std::string(SOURCE_DIR) + "/docs/policy.md");
  std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t section = doc.find("## The embedded default");
  REQUIRE(section != std::string::npos);
  size_t start = doc.find("```toml\n", section);
  REQUIRE(start != std::string::npos);
  start += 8;
  std::string documented = doc.substr(start, doc.find("```", start) - start);
  std::istringstream lines(shown.out);
  std::string printed, line;
  while (std::getline(lines, line)) {
    if (line.rfind('#', 0) != 0) printed += line + "\n";
  }
  CHECK(documented == printed);
}

TEST_CASE("every sample policy checks clean") {
  int seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(SAMPLE_POLICIES_DIR)) {
    if (entry.path().extension() != ".toml") continue;
    CAPTURE(entry.path().string());
    auto run = run_warden_raw({"check", entry.path().string()});
    CHECK(run.exit_code == 0);
    CHECK(run.err.empty());
    ++seen;
  }
  CHECK(seen >= 4);
}

TEST_CASE("each sample policy does on a real call what docs/policy.md says it shows") {
  auto sample = [](const char* name) { return std::string(SAMPLE_POLICIES_DIR) + "/" + name; };
  auto create = [&](const char* policy, const char* name, const char* flags) {
    return run_warden({"--policy", sample(policy)}, {probe_bin(), "create", name, flags}).exit_code;
  };
  // deny-by-name: a glob with its errno, a regex with the default's.
  CHECK(create("deny-by-name.toml", "payload-1", "0") == EACCES);
  CHECK(create("deny-by-name.toml", "stage12", "0") == EPERM);
  CHECK(create("deny-by-name.toml", "stage12x", "0") == 0);
  // allowlist: default deny; by name and flags; by executable.
  CHECK(create("allowlist.toml", "shm-cache", "1") == 0);
  CHECK(create("allowlist.toml", "shm-cache", "0") == EPERM);  // without MFD_CLOEXEC
  CHECK(create("allowlist.toml", "cache-x", "1") == EPERM);    // not python3
  CHECK(run_warden({"--policy", sample("allowlist.toml")},
                   {"/usr/bin/python3", "-c", "import os; os.memfd_create('cache-x')"})
            .exit_code == 0);
  // kill-exec: MFD_EXEC is fatal, the rest goes through.
  CHECK(create("kill-exec.toml", "x", "0x10") == 128 + SIGKILL);
  CHECK(create("kill-exec.toml", "x", "1") == 0);
  // quota: the 65th memfd alive at once fails with EMFILE.
  std::string many = "create m0";
  for (int i = 1; i <= 64; ++i) many += " ; create m" + std::to_string(i);
  auto quota = run_warden({"--policy", sample("quota.toml")}, probe_script(many));
  CHECK(quota.fact("op64") == "0");
  CHECK(quota.fact("op65") == std::to_string(EMFILE));
  // memory-quota: no memfd_secret; a rule's own 32 MiB; 64 MiB for any one memfd.
  auto bytes = run_warden({"--policy", sample("memory-quota.toml")},
                          probe_script("secret s ; create shm-pool-1 ; ftruncate shm-pool-1 33M ; "
                                       "create big ; ftruncate big 65M ; ftruncate big 64M"));
  CHECK(bytes.fact("op1") == std::to_string(EPERM));
  CHECK(bytes.fact("op3") == std::to_string(EFBIG));
  CHECK(bytes.fact("op5") == std::to_string(EFBIG));
  CHECK(bytes.fact("op6") == "0");
}

TEST_CASE("every TOML example in the README and docs checks clean") {
  // A fragment of rules alone gets the version line a file needs.
  TempDir dir;
  int seen = 0;
  std::vector<std::filesystem::path> pages{std::filesystem::path(SOURCE_DIR) / "README.md"};
  for (const auto& entry : std::filesystem::directory_iterator(std::string(SOURCE_DIR) + "/docs")) {
    if (entry.path().extension() == ".md") pages.push_back(entry.path());
  }
  for (const auto& page : pages) {
    std::ifstream in(page);
    std::string line, block;
    bool inside = false;
    while (std::getline(in, line)) {
      if (!inside && line == "```toml") {
        inside = true;
        block.clear();
      } else if (inside && line == "```") {
        inside = false;
        if (block.find("version =") == std::string::npos) block = "version = 1\n" + block;
        CAPTURE(page.string());
        CAPTURE(block);
        auto run = run_warden_raw({"check", dir.write("example.toml", block)});
        CHECK(run.exit_code == 0);
        CHECK(run.err.empty());
        ++seen;
      } else if (inside) {
        block += line + "\n";
      }
    }
  }
  CHECK(seen >= 3);
}

TEST_CASE("bad command lines exit 2 with a message - --help and --version exit 0") {
  CHECK(run_warden_raw({"run", "--bogus", "--", "/bin/true"}).exit_code == 2);
  CHECK(run_warden_raw({"run", "--default", "maybe", "--", "/bin/true"}).exit_code == 2);
  CHECK(run_warden_raw({"run"}).exit_code == 2);
  CHECK(run_warden_raw({"run", "--orphans", "keep", "--", "/bin/true"}).exit_code == 2);
  auto long_grace = run_warden_raw({"run", "--orphans-grace", "2h", "--", "/bin/true"});
  CHECK(long_grace.exit_code == 2);
  CHECK(long_grace.err.find("--orphans-grace '2h'") != std::string::npos);
  // At most 3600s, as --help says.
  CHECK(run_warden_raw({"run", "--orphans-grace", "3601s", "--", "/bin/true"}).exit_code == 2);
  CHECK(
      run_warden_raw({"run", "--audit", "/dev/null", "--orphans-grace", "3600s", "--", "/bin/true"})
          .exit_code == 0);
  // CLI11's own errors carry the prefix every fatal error has.
  for (const Args& bad : {Args{"run", "--bogus", "--", "/bin/true"},
                          Args{"run", "--default", "maybe", "--", "/bin/true"},
                          Args{"run", "--policy", "/nonexistent.toml", "--", "/bin/true"}}) {
    auto refused = run_warden_raw(bad);
    CHECK(refused.exit_code == 2);
    CHECK(refused.err.rfind("memfd-warden: error: ", 0) == 0);
  }
  auto bad_glob = run_warden_raw({"run", "--deny", "[x", "--", "/bin/true"});
  CHECK(bad_glob.exit_code == 2);
  CHECK(bad_glob.err.find("--deny") != std::string::npos);
  auto missing = run_warden_raw({"run", "--policy", "/nonexistent.toml", "--", "/bin/true"});
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("/nonexistent.toml") != std::string::npos);
  auto help = run_warden_raw({"run", "--help"});
  CHECK(help.exit_code == 0);
  for (const char* option :
       {"--policy", "--allow", "--deny", "--default", "--max-calls", "--max-live", "--audit",
        "--dry-run", "--log-level", "--orphans", "--orphans-grace"}) {
    CAPTURE(option);
    CHECK(help.out.find(option) != std::string::npos);
  }
  auto version = run_warden_raw({"--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.out.find("memfd-warden") != std::string::npos);
}

}  // namespace warden::test
