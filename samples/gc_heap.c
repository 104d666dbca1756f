/* A garbage-collected runtime's heap, sized the way such runtimes do it: one memfd reserved at
 * the maximum heap size (ftruncate), the initially committed part backed up front (fallocate),
 * the whole mapped shared, the committed part touched. Usage: gc_heap HEAP_MIB COMMITTED_MIB.
 * Exits 0 when the heap is up; on a refusal it says which step failed and exits with the errno
 * (under memfd-warden: EFBIG from ftruncate past a byte quota, ENOSPC from fallocate). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int fail(const char *step, size_t bytes) {
  int err = errno;
  fprintf(stderr, "gc_heap: %s (%zu MiB): %s\n", step, bytes >> 20, strerror(err));
  return err ? err : 1;
}

int main(int argc, char **argv) {
  size_t heap = (size_t)(argc > 1 ? atol(argv[1]) : 64) << 20;
  size_t committed = (size_t)(argc > 2 ? atol(argv[2]) : 16) << 20;
  int fd = memfd_create("gc-heap", MFD_CLOEXEC);
  if (fd < 0) return fail("memfd_create", 0);
  if (ftruncate(fd, (off_t)heap) != 0) return fail("reserving the heap (ftruncate)", heap);
  if (fallocate(fd, 0, 0, (off_t)committed) != 0) {
    return fail("committing the young generation (fallocate)", committed);
  }
  char *base = mmap(NULL, heap, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return fail("mapping the heap", heap);
  for (size_t page = 0; page < committed; page += 4096) base[page] = 1;
  printf("gc_heap: %zu MiB heap, %zu MiB committed: ok\n", heap >> 20, committed >> 20);
  return 0;
}
