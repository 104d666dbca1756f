/* A shared-memory cache the way real programs build one: create a sealable memfd, size it,
 * map it, fill it, seal its size, and let a forked worker read it through the inherited mapping
 * and through the fd. Exits 0 on success, else the errno of the step that failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define CACHE_SIZE (1 << 20)

static int fail(const char *step) {
  int err = errno;
  fprintf(stderr, "shm_cache: %s: %s\n", step, strerror(err));
  return err ? err : 1;
}

int main(void) {
  int fd = memfd_create("shm-cache", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return fail("memfd_create");
  if (ftruncate(fd, CACHE_SIZE) != 0) return fail("ftruncate");
  char *cache = mmap(NULL, CACHE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (cache == MAP_FAILED) return fail("mmap");
  for (int i = 0; i < CACHE_SIZE; i += 4096) snprintf(cache + i, 64, "entry-%d", i / 4096);
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK) != 0) return fail("F_ADD_SEALS");

  pid_t worker = fork();
  if (worker < 0) return fail("fork");
  if (worker == 0) {
    char via_fd[16] = {0};
    if (pread(fd, via_fd, 7, 4096 * 3) != 7) _exit(2);
    _exit(strcmp(cache + 4096 * 3, "entry-3") == 0 && strcmp(via_fd, "entry-3") == 0 ? 0 : 3);
  }
  int status = 0;
  waitpid(worker, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "shm_cache: the worker could not read the cache\n");
    return 4;
  }
  printf("shm_cache: 1 MiB cache in memfd fd %d shared with worker %d: ok\n", fd, worker);
  return 0;
}
