#include "supervisor/kernel/noexec_seal.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "policy/memfd_flags.h"

namespace warden {
namespace {
constexpr int kSealExec = 0x0020;  // F_SEAL_EXEC (6.3), missing from Debian 12's glibc headers
}  // namespace

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
  return (flags & ~kMfdExec) | kMfdNoexecSeal;  // an MFD_EXEC the namespace implied gives way
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

uint32_t traced_call_flags(uint32_t flags, bool seal) {
  if (!seal || !kernel_has_noexec_seal() || (flags & (kMfdNoexecSeal | kMfdExec))) return flags;
  return flags | kMfdAllowSealing;
}

int seal_traced_memfd(int fd, uint32_t requested_flags, bool seal) {
  if (!seal || !kernel_has_noexec_seal() || (requested_flags & (kMfdNoexecSeal | kMfdExec))) {
    return 0;  // sealed by the caller's own flags (MFD_EXEC is refused before it gets here)
  }
  int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0) return errno;
  if (seals & kSealExec) return 0;  // the namespace implied MFD_NOEXEC_SEAL: as natively
  // vm.memfd_noexec = 0 made it executable: do what MFD_NOEXEC_SEAL does (mode without exec bits,
  // F_SEAL_EXEC), then close it to seals unless the caller asked for sealing.
  struct stat st {};
  if (::fstat(fd, &st) != 0 || ::fchmod(fd, st.st_mode & 07666) != 0 ||
      ::fcntl(fd, F_ADD_SEALS, kSealExec) != 0) {
    return errno;
  }
  if (!(requested_flags & kMfdAllowSealing) && ::fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL) != 0) {
    return errno;
  }
  return 0;
}

}  // namespace warden
