// libFuzzer: the policy parser on arbitrary bytes. It must never crash or hang, and whatever it
// accepts must print (memfd-warden check) as text that parses back to the same text.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "policy/policy_parse.h"
#include "policy/policy_print.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto policy = warden::parse_policy(text, "fuzz.toml");
  if (!policy) {
    if (policy.error().message().rfind("fuzz.toml:", 0) != 0) std::abort();  // file:line:col
    return 0;
  }
  std::string printed = warden::format_policy(*policy);
  auto again = warden::parse_policy(printed, "printed.toml");
  if (!again || warden::format_policy(*again) != printed) std::abort();
  return 0;
}
