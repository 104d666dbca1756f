/* Fileless execution, the way malware does it (MITRE ATT&CK T1620): copy an ELF into a memfd
 * and execute it from memory. Usage: fileless_exec [ELF] (default /bin/true). It asks for
 * MFD_EXEC first, as code must where vm.memfd_noexec is set, and falls back to a plain memfd
 * when that is refused. Exits with what the ELF exits with, or with the errno that stopped it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

int main(int argc, char **argv) {
  const char *elf = argc > 1 ? argv[1] : "/bin/true";
  int src = open(elf, O_RDONLY | O_CLOEXEC);
  if (src < 0) {
    perror("fileless_exec: open");
    return errno;
  }
  struct stat st;
  if (fstat(src, &st) != 0) {
    perror("fileless_exec: fstat");
    return errno;
  }

  int fd = memfd_create("payload", MFD_CLOEXEC | MFD_EXEC);
  if (fd < 0) {
    fprintf(stderr, "fileless_exec: memfd_create(MFD_EXEC) refused: %s; trying a plain memfd\n",
            strerror(errno));
    fd = memfd_create("payload", MFD_CLOEXEC);
  }
  if (fd < 0) {
    int err = errno;
    fprintf(stderr, "fileless_exec: memfd_create refused: %s\n", strerror(err));
    return err;
  }
  if (sendfile(fd, src, NULL, (size_t)st.st_size) != st.st_size) {
    perror("fileless_exec: sendfile");
    return errno;
  }
  char *const args[] = {"payload", NULL};
  char *const env[] = {NULL};
  fexecve(fd, args, env);
  int err = errno;
  fprintf(stderr, "fileless_exec: fexecve refused: %s\n", strerror(err));
  return err;
}
