// A probe for inside containers, linked statically (a busybox rootfs has no libraries):
// container_probe NAME FLAGS [SIZE|-] [exec|hold]
//   memfd_create(NAME, FLAGS); prints fd=, link= and seals=; then with SIZE, ftruncate(fd, SIZE);
//   with exec, copies /bin/busybox into the memfd and runs it as "true" through
//   /proc/self/fd/N; with hold, keeps the memfd for 3 s. Exits 0, or with the errno of the first
//   call that failed.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char** argv) {
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
  if (argc > 4 && strcmp(argv[4], "hold") == 0) sleep(3);
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
