// Unit: the kernel floor check's release parsing.
#include "supervisor/kernel_support.h"

#include <doctest/doctest.h>

namespace warden {

TEST_CASE("kernel release parsing for the 5.14 floor") {
  auto ours = parse_kernel_release("6.18.44-fc-v657");
  REQUIRE(ours.has_value());
  CHECK(ours->major == 6);
  CHECK(ours->minor == 18);
  CHECK(ours->at_least(5, 14));
  CHECK_FALSE(parse_kernel_release("5.13.0")->at_least(5, 14));
  CHECK(parse_kernel_release("5.14")->at_least(5, 14));
  CHECK_FALSE(parse_kernel_release("linux"));
  CHECK_FALSE(parse_kernel_release("6"));
}

}  // namespace warden
