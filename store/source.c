/*
** store/source.c -- where the TSV reader's bytes come from: a plain file,
** stdin ("-"), a gzip file (zlib's inflate) or a zip archive holding one
** file (libarchive).  The kind is decided by the first bytes, not by the
** name, so a renamed file or a compressed stream on stdin is read the same.
**
** Why not gzread(): it treats a truncated stream as a short read unless the
** caller asks gzerror() at the right moment; with inflate() directly the
** end of the input before the end of a gzip member is an explicit state,
** and the error names how far the compressed input went.  Several gzip
** members back to back (`cat a.gz b.gz`) are one stream, as gzip reads them.
**
** Errors: ns__bsrc_read() returns NS_EIO (corrupt or truncated
** compressed data, a zip holding several files) or -errno, and
** ns__bsrc_msg() says why, for people ("truncated gzip data: ...").
** Thread: one source per thread; no shared state.
*/
#include "store_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

enum { BS_PLAIN, BS_GZIP, BS_ZIP };

#define IN_CAP (256u * 1024)

struct ns__bsrc {
  int fd, own_fd;
  int type;
  unsigned char *in;        /* raw input buffer */
  size_t in_pos, in_end;    /* unconsumed raw bytes are in[in_pos..in_end) */
  int in_eof;
  uint64_t raw;             /* raw (compressed) bytes read from fd */
  uint64_t out;             /* bytes handed to the caller */
  /* gzip */
  z_stream z;
  int z_init, in_member;
  /* zip */
  struct archive *ar;
  int ar_done;
  char entry[256];
  char msg[512];
};

static void set_msg(ns__bsrc *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_msg(ns__bsrc *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->msg, sizeof s->msg, fmt, ap);
  va_end(ap);
}

/* Refills in[] from the fd (after dropping the consumed bytes).  0 or -errno. */
static int fill_in(ns__bsrc *s) {
  ssize_t k;
  if (s->in_pos > 0) {
    memmove(s->in, s->in + s->in_pos, s->in_end - s->in_pos);
    s->in_end -= s->in_pos;
    s->in_pos = 0;
  }
  if (s->in_end == IN_CAP || s->in_eof) return 0;
  do k = read(s->fd, s->in + s->in_end, IN_CAP - s->in_end);
  while (k < 0 && errno == EINTR);
  if (k < 0) {
    int e = errno;
    set_msg(s, "read error: %s", strerror(e));
    return -e;
  }
  if (k == 0) s->in_eof = 1;
  s->in_end += (size_t)k;
  s->raw += (uint64_t)k;
  return 0;
}

/* libarchive's read callback: the bytes already peeked first, then the fd. */
static la_ssize_t zip_read_cb(struct archive *a, void *ctx, const void **buf) {
  ns__bsrc *s = ctx;
  size_t n;
  (void)a;
  if (s->in_pos == s->in_end) {
    s->in_pos = s->in_end = 0;
    if (fill_in(s) < 0) {
      archive_set_error(a, EIO, "%s", s->msg);
      return -1;
    }
  }
  n = s->in_end - s->in_pos;
  *buf = s->in + s->in_pos;
  s->in_pos = s->in_end;
  return (la_ssize_t)n;
}

int ns__bsrc_open(const char *path, ns__bsrc **out, char *msg, size_t cap) {
  ns__bsrc *s;
  int rc = 0;
  *out = NULL;
  if (cap) msg[0] = '\0';
  if (!(s = ns_calloc(1, sizeof *s)) || !(s->in = ns_malloc(IN_CAP))) {
    free(s);
    return NS_ENOMEM;
  }
  if (!strcmp(path, "-")) {
    s->fd = 0;
  } else {
    struct stat sb;
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
      rc = -errno;
      snprintf(msg, cap, "cannot open: %s", strerror(-rc));
      goto fail;
    }
    s->own_fd = 1;
    if (fstat(s->fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
      rc = -EISDIR;
      snprintf(msg, cap, "is a directory");
      goto fail;
    }
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  }
  /* peek: enough bytes for the magic numbers (a pipe may deliver less) */
  while (s->in_end < 4 && !s->in_eof)
    if ((rc = fill_in(s)) < 0) {
      snprintf(msg, cap, "%s", s->msg);
      goto fail;
    }
  if (s->in_end >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b) {
    s->type = BS_GZIP;
    if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK) {
      rc = NS_ENOMEM;
      goto fail;
    }
    s->z_init = 1;
  } else if (s->in_end >= 4 && !memcmp(s->in, "PK\x03\x04", 4)) {
    struct archive_entry *e;
    int r;
    s->type = BS_ZIP;
    if (!(s->ar = archive_read_new())) {
      rc = NS_ENOMEM;
      goto fail;
    }
    archive_read_support_format_zip(s->ar);
    if (archive_read_open(s->ar, s, NULL, zip_read_cb, NULL) != ARCHIVE_OK) {
      snprintf(msg, cap, "cannot read the zip archive: %s", archive_error_string(s->ar));
      rc = NS_EIO;
      goto fail;
    }
    /* the first file of the archive (directory entries skipped) */
    while ((r = archive_read_next_header(s->ar, &e)) == ARCHIVE_OK &&
           archive_entry_filetype(e) == AE_IFDIR) {
    }
    if (r == ARCHIVE_EOF) {
      snprintf(msg, cap, "the zip archive holds no file");
      rc = NS_EIO;
      goto fail;
    }
    if (r < ARCHIVE_WARN) {
      snprintf(msg, cap, "corrupt zip archive: %s", archive_error_string(s->ar));
      rc = NS_EIO;
      goto fail;
    }
    snprintf(s->entry, sizeof s->entry, "%s", archive_entry_pathname(e) ? archive_entry_pathname(e) : "?");
  } else {
    s->type = BS_PLAIN;
  }
  *out = s;
  return 0;
fail:
  ns__bsrc_close(s);
  return rc;
}

static int read_gzip(ns__bsrc *s, unsigned char *buf, size_t n, size_t *got) {
  *got = 0;
  s->z.next_out = buf;
  s->z.avail_out = (uInt)NS_MIN(n, (size_t)1 << 30);
  while (s->z.avail_out == (uInt)NS_MIN(n, (size_t)1 << 30)) {
    int zr, rc;
    if (s->in_pos == s->in_end) {
      if ((rc = fill_in(s)) < 0) return rc;
    }
    if (s->in_pos == s->in_end) {
      /* no more input: fine between members, a truncation inside one */
      if (s->in_member) {
        set_msg(s, "truncated gzip data: the input ends at byte %llu inside a compressed stream "
                   "(after %llu uncompressed bytes)",
                (unsigned long long)s->raw, (unsigned long long)s->out);
        return NS_EIO;
      }
      break;
    }
    if (!s->in_member) {
      inflateReset(&s->z);
      s->in_member = 1;
    }
    s->z.next_in = s->in + s->in_pos;
    s->z.avail_in = (uInt)(s->in_end - s->in_pos);
    zr = inflate(&s->z, Z_NO_FLUSH);
    s->in_pos = s->in_end - s->z.avail_in;
    if (zr == Z_STREAM_END) {
      s->in_member = 0;
    } else if (zr == Z_BUF_ERROR || zr == Z_OK) {
      /* needs more input (or the output is full: the loop ends) */
    } else {
      uint64_t at = s->raw - (s->in_end - s->in_pos);
      set_msg(s, "corrupt gzip data near compressed byte %llu: %s", (unsigned long long)at,
              s->z.msg ? s->z.msg : zr == Z_MEM_ERROR ? "out of memory" : "bad data");
      return zr == Z_MEM_ERROR ? NS_ENOMEM : NS_EIO;
    }
  }
  *got = NS_MIN(n, (size_t)1 << 30) - s->z.avail_out;
  return 0;
}

static int read_zip(ns__bsrc *s, unsigned char *buf, size_t n, size_t *got) {
  la_ssize_t k;
  struct archive_entry *e;
  int r;
  *got = 0;
  if (s->ar_done) return 0;
  k = archive_read_data(s->ar, buf, n);
  if (k < 0) {
    set_msg(s, "corrupt or truncated zip data in '%s' (after %llu uncompressed bytes): %s",
            s->entry, (unsigned long long)s->out, archive_error_string(s->ar));
    return NS_EIO;
  }
  if (k > 0) {
    *got = (size_t)k;
    return 0;
  }
  /* the end of the entry: one file per archive, as the public download */
  s->ar_done = 1;
  while ((r = archive_read_next_header(s->ar, &e)) == ARCHIVE_OK &&
         archive_entry_filetype(e) == AE_IFDIR) {
  }
  if (r == ARCHIVE_OK || r == ARCHIVE_WARN) {
    set_msg(s, "the zip archive holds more than one file ('%s' and '%s'): unpack it, or zip one "
               "file per archive",
            s->entry, archive_entry_pathname(e) ? archive_entry_pathname(e) : "?");
    return NS_EIO;
  }
  if (r != ARCHIVE_EOF) {
    set_msg(s, "corrupt or truncated zip archive after '%s': %s", s->entry,
            archive_error_string(s->ar));
    return NS_EIO;
  }
  return 0;
}

int ns__bsrc_read(ns__bsrc *s, void *buf, size_t n, size_t *got) {
  int rc;
  *got = 0;
  if (n == 0) return 0;
  switch (s->type) {
  case BS_GZIP: rc = read_gzip(s, buf, n, got); break;
  case BS_ZIP: rc = read_zip(s, buf, n, got); break;
  default:
    if (s->in_pos == s->in_end && !s->in_eof) {
      /* straight into the caller's buffer: no copy for plain files */
      ssize_t k;
      do k = read(s->fd, buf, n);
      while (k < 0 && errno == EINTR);
      if (k < 0) {
        int e = errno;
        set_msg(s, "read error: %s", strerror(e));
        return -e;
      }
      if (k == 0) s->in_eof = 1;
      s->raw += (uint64_t)k;
      *got = (size_t)k;
    } else {
      *got = NS_MIN(n, s->in_end - s->in_pos);
      memcpy(buf, s->in + s->in_pos, *got);
      s->in_pos += *got;
    }
    rc = 0;
  }
  s->out += *got;
  return rc;
}

const char *ns__bsrc_msg(const ns__bsrc *s) { return s->msg; }

uint64_t ns__bsrc_raw_bytes(const ns__bsrc *s) { return s->raw; }

const char *ns__bsrc_type(const ns__bsrc *s) {
  return s->type == BS_GZIP ? "gzip" : s->type == BS_ZIP ? "zip" : "plain";
}

void ns__bsrc_close(ns__bsrc *s) {
  if (!s) return;
  if (s->z_init) inflateEnd(&s->z);
  if (s->ar) archive_read_free(s->ar);
  if (s->own_fd) close(s->fd);
  free(s->in);
  free(s);
}
