// Unit: globs, memfd flags and errno names.
#include <doctest/doctest.h>

#include <cerrno>

#include "policy/errno_names.h"
#include "policy/glob.h"
#include "policy/memfd_flags.h"

namespace warden {

TEST_CASE("glob validation") {
  CHECK_FALSE(glob_problem("evil*"));
  CHECK_FALSE(glob_problem("[]]x"));
  CHECK_FALSE(glob_problem("[!a-z]"));
  CHECK_FALSE(glob_problem("[[:digit:]]*"));
  CHECK_FALSE(glob_problem("a\\*"));
  CHECK(glob_problem("[abc"));
  CHECK(glob_problem("x\\"));
  CHECK(glob_problem("[[:digit]"));
}

TEST_CASE("glob matching is whole-string and * crosses /") {
  CHECK(glob_match("evil*", "evil-1"));
  CHECK_FALSE(glob_match("evil*", "not-evil"));
  CHECK(glob_match("/usr/*", "/usr/lib/x/y"));
  CHECK(glob_match("a\\*", "a*"));
  CHECK_FALSE(glob_match("a\\*", "ab"));
  CHECK(glob_match("", ""));
}

TEST_CASE("vm.memfd_noexec completes the flags as mm/memfd.c does") {
  struct Case {
    uint32_t flags;
    int scope;
    int error;
    uint32_t completed;
  };
  for (Case c : {Case{0, 0, 0, kMfdExec}, Case{0, 1, 0, kMfdNoexecSeal}, Case{0, 2, 0, kMfdNoexecSeal},
                 Case{kMfdExec, 0, 0, kMfdExec}, Case{kMfdExec, 1, 0, kMfdExec},
                 Case{kMfdExec, 2, EACCES, kMfdExec}, Case{kMfdNoexecSeal, 0, 0, kMfdNoexecSeal},
                 Case{kMfdNoexecSeal, 2, 0, kMfdNoexecSeal},
                 Case{kMfdCloexec | kMfdHugetlb, 1, 0, kMfdCloexec | kMfdHugetlb | kMfdNoexecSeal},
                 Case{kMfdAllowSealing, 0, 0, kMfdAllowSealing | kMfdExec}}) {
    CAPTURE(c.flags);
    CAPTURE(c.scope);
    uint32_t flags = c.flags;
    CHECK(apply_noexec_scope(&flags, c.scope) == c.error);
    CHECK(flags == c.completed);
  }
}

TEST_CASE("memfd flag validity mirrors mm/memfd.c") {
  CHECK_FALSE(memfd_flags_invalid(0));
  CHECK_FALSE(memfd_flags_invalid(kMfdCloexec | kMfdAllowSealing | kMfdNoexecSeal));
  CHECK(memfd_flags_invalid(0x20));
  CHECK(memfd_flags_invalid(kMfdExec | kMfdNoexecSeal));
  CHECK(memfd_flags_invalid(21u << kMfdHugeShift));  // size bits need HUGETLB
  CHECK_FALSE(memfd_flags_invalid(kMfdHugetlb | (21u << kMfdHugeShift)));
  CHECK(memfd_flag_names(kMfdCloexec | kMfdExec) ==
        std::vector<std::string>{"MFD_CLOEXEC", "MFD_EXEC"});
  CHECK(*memfd_flag_from_name("MFD_NOEXEC_SEAL") == kMfdNoexecSeal);
  CHECK_FALSE(memfd_flag_from_name("MFD_cloexec"));
}

TEST_CASE("errno names both ways") {
  CHECK(*errno_from_name("EACCES") == EACCES);
  CHECK(*errno_from_name("EDQUOT") == EDQUOT);
  CHECK(*errno_from_name("13") == 13);
  CHECK_FALSE(errno_from_name("eacces"));
  CHECK_FALSE(errno_from_name("0"));
  CHECK_FALSE(errno_from_name("4096"));
  CHECK_FALSE(errno_from_name("12abc"));
  CHECK(errno_name(EMFILE) == "EMFILE");
  CHECK(errno_name(4000) == "4000");
}

}  // namespace warden
