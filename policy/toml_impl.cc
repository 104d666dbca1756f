// toml++'s implementation, compiled once into memfd-warden when it links its libraries
// statically (WARDEN_STATIC_DEPS): Debian ships toml++ as a shared library and as headers.
#define TOML_IMPLEMENTATION 1
#include <toml++/toml.h>
