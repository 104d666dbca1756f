// A probe for inside containers, linked statically (a busybox rootfs has no libraries):
// container_probe NAME FLAGS [SIZE|-] [exec|hold [FILE]]
//   memfd_create(NAME, FLAGS); prints fd=, link= and seals=; then with SIZE, ftruncate(fd, SIZE);
//   with exec, copies /bin/busybox into the memfd and runs it as "true" through
//   /proc/self/fd/N; with hold, prints held=1 once it has grown the memfd (a line for a script
//   to wait on) and keeps the memfd for 3 s, or with FILE until FILE exists (30 s at most).
//   Exits 0, or with the errno of the first call that failed.
// container_probe --uffd-name
//   memfd_create with its name in a page that a userfaultfd of ours must fill, and that nobody
//   fills: the call waits for as long as the userfaultfd lives. Exits 3 without a userfaultfd
//   (CAP_SYS_PTRACE, or vm.unprivileged_userfaultfd), else with the call's errno.
// container_probe --xattrs
//   a memfd, then a user.* attribute set on it with fsetxattr and with setxattrat (Linux 6.13,
//   syscall 463): prints fsetxattr= and setxattrat= (0 or the errno). Exits 0.
// container_probe --landlock
//   a file in /dev/shm, then a Landlock domain that handles truncation and allows it nowhere, and
//   truncate(2) of the file: prints landlock= (landlock_restrict_self) and, when that succeeded,
//   truncate= (0 or the errno). Exits 0.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

static int uffd_name(void) {
  int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
  if (uffd < 0) return 3;
  struct uffdio_api api = {.api = UFFD_API};
  if (ioctl(uffd, UFFDIO_API, &api) != 0) return 3;
  long page_size = sysconf(_SC_PAGESIZE);
  void* page =
      mmap(NULL, (size_t)page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return errno;
  struct uffdio_register reg = {.range = {(unsigned long)page, (unsigned long)page_size},
                                .mode = UFFDIO_REGISTER_MODE_MISSING};
  if (ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) return 3;
  return syscall(SYS_memfd_create, page, 0) < 0 ? errno : 0;
}

static int xattrs(void) {
  int fd = (int)syscall(SYS_memfd_create, "attributes", 0);
  if (fd < 0) return errno;
  printf("fsetxattr=%d\n", fsetxattr(fd, "user.a", "v", 1, 0) == 0 ? 0 : errno);
  struct {
    unsigned long long value;
    unsigned size, flags;
  } args = {(unsigned long)"v", 1, 0};
  long at = syscall(463, fd, "", AT_EMPTY_PATH, "user.b", &args, sizeof(args));
  printf("setxattrat=%d\n", at == 0 ? 0 : errno);
  return 0;
}

static int landlock(void) {
  char path[64];
  snprintf(path, sizeof(path), "/dev/shm/landlocked-%d", (int)getpid());
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  unsigned long long handled = 1ULL << 14;  // LANDLOCK_ACCESS_FS_TRUNCATE (ABI 3, Linux 6.2)
  int ruleset = (int)syscall(SYS_landlock_create_ruleset, &handled, sizeof(handled), 0);
  long restricted = -1;
  if (ruleset >= 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0) {
    restricted = syscall(SYS_landlock_restrict_self, ruleset, 0);
  }
  printf("landlock=%d\n", restricted == 0 ? 0 : errno);
  if (restricted == 0) printf("truncate=%d\n", truncate(path, 4096) == 0 ? 0 : errno);
  unlink(path);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "--uffd-name") == 0) return uffd_name();
  if (argc == 2 && strcmp(argv[1], "--xattrs") == 0) return xattrs();
  if (argc == 2 && strcmp(argv[1], "--landlock") == 0) return landlock();
  if (argc < 3) return 64;
  long fd = syscall(SYS_memfd_create, argv[1], strtoul(argv[2], NULL, 0));
  if (fd < 0) return errno;
  char path[64], link[512] = {0};
  snprintf(path, sizeof(path), "/proc/self/fd/%ld", fd);
  ssize_t n = readlink(path, link, sizeof(link) - 1);
  printf("fd=%ld\nlink=%s\nseals=%d\n", fd, n > 0 ? link : "?", fcntl((int)fd, F_GET_SEALS));
  fflush(stdout);
  if (argc > 3 && strcmp(argv[3], "-") != 0) {
    if (ftruncate((int)fd, strtoll(argv[3], NULL, 0)) != 0) return errno;
  }
  if (argc > 4 && strcmp(argv[4], "hold") == 0) {
    printf("held=1\n");
    fflush(stdout);
    if (argc > 5) {  // until the file argv[5] exists, for 30 s at most
      for (int i = 0; i < 3000 && access(argv[5], F_OK) != 0; ++i) usleep(10 * 1000);
    } else {
      sleep(3);
    }
  }
  if (argc > 4 && strcmp(argv[4], "exec") == 0) {
    int in = open("/bin/busybox", O_RDONLY);
    if (in < 0) return 65;
    char buffer[65536];
    for (ssize_t got; (got = read(in, buffer, sizeof(buffer))) > 0;) {
      if (write((int)fd, buffer, (size_t)got) != got) return 66;
    }
    char* args[] = {"true", NULL};
    char* env[] = {NULL};
    execve(path, args, env);
    return errno;
  }
  return 0;
}
