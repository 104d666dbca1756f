// The live suite's entry point: doctest, plus --warden-backend=unotify|ptrace, which every run of
// memfd-warden in the suite then uses (ctest registers the suite once per backend).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  constexpr const char* kFlag = "--warden-backend=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], kFlag, std::strlen(kFlag)) == 0) {
      ::setenv("WARDEN_BACKEND", argv[i] + std::strlen(kFlag), 1);
    }
  }
  doctest::Context context;
  context.applyCommandLine(argc, argv);
  return context.run();
}
