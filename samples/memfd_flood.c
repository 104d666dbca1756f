/* Creates memfds (and keeps them open) until the system, or a quota, says no. Prints how many it
 * got and the errno that stopped it. Usage: memfd_flood [LIMIT] (default 100000). Exits 0 when it
 * reached LIMIT, else the errno. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(int argc, char **argv) {
  long limit = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
  long made = 0;
  for (; made < limit; ++made) {
    char name[32];
    snprintf(name, sizeof(name), "flood-%ld", made);
    if (memfd_create(name, MFD_CLOEXEC) < 0) {
      int err = errno;
      printf("memfd_flood: created %ld memfds, then: %s\n", made, strerror(err));
      return err;
    }
  }
  printf("memfd_flood: created %ld memfds\n", made);
  return 0;
}
