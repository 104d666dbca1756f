// warden_tiny_fuse DIR FILE UID [hold|hold-getattr|uncached]: a one-file FUSE filesystem at DIR
// whose "prog" (mode 0755) serves FILE's bytes, mounted for user UID without allow_other: as a
// user's own FUSE mount (sshfs, an AppImage, rclone) is, so that even root may not look inside it.
// Serves requests in the foreground until DIR is unmounted; prints "mounted" once it is. Talks
// /dev/fuse directly. With `hold` it never answers a read: whoever reads prog's bytes waits for
// ever (or until this process ends, which aborts the connection). With `hold-getattr`, once prog
// has been opened, it never answers a request for attributes (the kernel caches them for 1 s), as a
// stalled network filesystem does not. With `uncached`, the kernel keeps no entry or attributes
// (timeouts of 0): every lookup through the mount asks the server.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

enum { kMaxRead = 131072 };

static char* data;
static size_t size;
static int device;
static unsigned owner;

static void reply(uint64_t unique, int error, const void* body, size_t length) {
  static char out[sizeof(struct fuse_out_header) + kMaxRead];
  struct fuse_out_header* header = (struct fuse_out_header*)out;
  header->unique = unique;
  header->error = error;
  header->len = (uint32_t)(sizeof(*header) + (error ? 0 : length));
  if (!error && length) memcpy(out + sizeof(*header), body, length);
  (void)!write(device, out, header->len);
}

static void attributes(uint64_t node, struct fuse_attr* attr) {
  memset(attr, 0, sizeof(*attr));
  attr->ino = node;
  attr->nlink = node == 1 ? 2 : 1;
  attr->mode = node == 1 ? (S_IFDIR | 0755) : (S_IFREG | 0755);
  attr->size = node == 1 ? 0 : size;
  attr->blocks = (attr->size + 511) / 512;
  attr->uid = owner;
  attr->gid = owner;
  attr->blksize = 4096;
}

int main(int argc, char** argv) {
  int hold = argc == 5 && strcmp(argv[4], "hold") == 0;
  int hold_getattr = argc == 5 && strcmp(argv[4], "hold-getattr") == 0;
  int uncached = argc == 5 && strcmp(argv[4], "uncached") == 0;
  if (argc != 4 && !hold && !hold_getattr && !uncached) return 2;
  unsigned valid = uncached ? 0 : 1;  // seconds the kernel may keep an entry or attributes
  int opened = 0;
  FILE* file = fopen(argv[2], "rb");
  if (file == NULL || fseek(file, 0, SEEK_END) != 0) return 2;
  size = (size_t)ftell(file);
  rewind(file);
  data = malloc(size);
  if (data == NULL || fread(data, 1, size, file) != size) return 2;
  fclose(file);
  owner = (unsigned)atoi(argv[3]);
  device = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (device < 0) {
    perror("/dev/fuse");
    return 3;
  }
  char options[128];
  snprintf(options, sizeof(options), "fd=%d,rootmode=40000,user_id=%u,group_id=%u", device, owner,
           owner);
  if (mount("tiny_fuse", argv[1], "fuse.tiny_fuse", MS_NOSUID | MS_NODEV, options) != 0) {
    perror("mount");
    return 3;
  }
  printf("mounted\n");
  fflush(stdout);
  static char in[(1 << 20) + 4096];
  for (;;) {
    ssize_t got = read(device, in, sizeof(in));
    if (got < 0 && (errno == EINTR || errno == ENOENT)) continue;
    if (got < 0) return errno == ENODEV ? 0 : 1;  // ENODEV: unmounted
    const struct fuse_in_header* header = (const struct fuse_in_header*)in;
    const char* body = in + sizeof(*header);
    switch (header->opcode) {
      case FUSE_INIT: {
        const struct fuse_init_in* init = (const struct fuse_init_in*)body;
        struct fuse_init_out out = {0};
        out.major = FUSE_KERNEL_VERSION;
        out.minor = FUSE_KERNEL_MINOR_VERSION;
        out.max_readahead = init->max_readahead;
        out.max_write = 4096;
        out.max_background = 4;
        out.congestion_threshold = 3;
        out.time_gran = 1;
        reply(header->unique, 0, &out, sizeof(out));
        break;
      }
      case FUSE_LOOKUP: {
        if (header->nodeid != 1 || strcmp(body, "prog") != 0) {
          reply(header->unique, -ENOENT, NULL, 0);
          break;
        }
        struct fuse_entry_out entry = {0};
        entry.nodeid = 2;
        entry.attr_valid = valid;
        entry.entry_valid = valid;
        attributes(2, &entry.attr);
        reply(header->unique, 0, &entry, sizeof(entry));
        break;
      }
      case FUSE_GETATTR: {
        if (hold_getattr && opened) break;  // held back: no reply
        struct fuse_attr_out out = {0};
        out.attr_valid = valid;
        attributes(header->nodeid, &out.attr);
        reply(header->unique, 0, &out, sizeof(out));
        break;
      }
      case FUSE_OPEN:
        opened = 1;
        /* fall through */
      case FUSE_OPENDIR: {
        struct fuse_open_out out = {0};
        out.fh = 1;
        reply(header->unique, 0, &out, sizeof(out));
        break;
      }
      case FUSE_READ: {
        if (hold) break;  // held back: no reply
        const struct fuse_read_in* read_in = (const struct fuse_read_in*)body;
        size_t offset = read_in->offset,
               length = read_in->size > kMaxRead ? kMaxRead : read_in->size;
        if (offset >= size) {
          length = 0;
        } else if (offset + length > size) {
          length = size - offset;
        }
        reply(header->unique, 0, data + (offset < size ? offset : 0), length);
        break;
      }
      case FUSE_FORGET:
      case FUSE_BATCH_FORGET:
        break;  // no reply
      case FUSE_RELEASE:
      case FUSE_RELEASEDIR:
      case FUSE_FLUSH:
        reply(header->unique, 0, NULL, 0);
        break;
      case FUSE_DESTROY:
        reply(header->unique, 0, NULL, 0);
        return 0;
      default:
        reply(header->unique, -ENOSYS, NULL, 0);
        break;
    }
  }
}
