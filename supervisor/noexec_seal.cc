#include "supervisor/noexec_seal.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include "policy/memfd_flags.h"

namespace warden {

bool kernel_has_noexec_seal() {
  static const bool has = [] {
    int fd = ::memfd_create("memfd-warden-noexec-probe", MFD_CLOEXEC | kMfdNoexecSeal);
    if (fd < 0) return false;
    ::close(fd);
    return true;
  }();
  return has;
}

uint32_t sealed_flags(uint32_t flags, bool seal) {
  if (!seal || !kernel_has_noexec_seal()) return flags;
  return flags | kMfdNoexecSeal;
}

int restore_seal_policy(int fd, uint32_t requested_flags, bool seal) {
  // The kernel leaves a memfd sealable when the caller asked for sealing, or for the exec seal
  // (MFD_NOEXEC_SEAL implies MFD_ALLOW_SEALING): only otherwise does it start with F_SEAL_SEAL.
  if (!seal || !kernel_has_noexec_seal() ||
      (requested_flags & (kMfdAllowSealing | kMfdNoexecSeal))) {
    return 0;
  }
  return ::fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL) == 0 ? 0 : errno;
}

}  // namespace warden
