/*
** store/backup.c -- a consistent copy of a live database (notescore backup).
**
** SQLite's online backup API copies the source page by page into a new
** database.  Copying everything in one sqlite3_backup_step(-1) keeps one
** read transaction open on the source for the whole copy: in WAL mode that
** transaction sees exactly the commits made before it began (every rating
** the server had acknowledged by then) and never blocks the server's writer,
** which keeps appending to the WAL meanwhile.  Copying in small steps
** instead would restart the copy each time another process wrote to the
** source -- under steady ingest, forever.  Cost of the single step: the
** WAL cannot be checkpointed past the copy's snapshot until it ends, so it
** grows by what is ingested during the copy.
**
** The copy goes to DST.tmp-PID first and is fsync'ed, then renamed over DST
** and the directory fsync'ed: DST is the old file or the whole new copy,
** never half of one.
**
** Who calls it: tools/cmd_backup.c.  Thread: the caller's.
*/
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void set_err(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *buf, size_t cap, const char *fmt, ...) {
  va_list ap;
  if (!buf || !cap) return;
  va_start(ap, fmt);
  vsnprintf(buf, cap, fmt, ap);
  va_end(ap);
}

/* fsync of a path (a file, or the directory holding the file). */
static int sync_path(const char *path, int dir) {
  char tmp[4096];
  int fd, rc = 0;
  if (dir) {
    if (strlen(path) >= sizeof tmp) return -ENAMETOOLONG;
    strcpy(tmp, path);
    path = dirname(tmp);
  }
  if ((fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC)) < 0) return -errno;
  if (fsync(fd) != 0) rc = -errno;
  close(fd);
  return rc;
}

int ns_store_backup(const char *src_path, const char *dst_path, int overwrite,
                    ns_backup_stats *stats, char *errbuf, size_t errcap) {
  ns_store *src = NULL;
  sqlite3 *dst = NULL;
  sqlite3_backup *b = NULL;
  char tmp[4096];
  struct stat ss, ds;
  double t0 = ns_monotonic_s();
  int rc = 0, src_rc;
  ns_backup_stats st = {0};

  if (stats) *stats = st;
  set_err(errbuf, errcap, "%s", "");
  if (!src_path || !dst_path || !*dst_path) return NS_EINVAL;
  if (stat(dst_path, &ds) == 0) {
    if (stat(src_path, &ss) == 0 && ss.st_dev == ds.st_dev && ss.st_ino == ds.st_ino) {
      set_err(errbuf, errcap, "%s: is the database itself", dst_path);
      return NS_EINVAL;
    }
    if (!S_ISREG(ds.st_mode)) {
      set_err(errbuf, errcap, "%s: exists and is not a regular file", dst_path);
      return NS_EINVAL;
    }
    if (!overwrite) {
      set_err(errbuf, errcap, "%s: exists (use --force to replace it)", dst_path);
      return NS_EINVAL;
    }
  }
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-%ld", dst_path, (long)getpid()) >= sizeof tmp) {
    set_err(errbuf, errcap, "%s: path too long", dst_path);
    return NS_EINVAL;
  }
  /* the read-only store handle checks that this is a notescore DB of a
  ** schema this build knows, and brings the busy handler */
  if ((rc = ns_store_open(src_path, NS_STORE_READONLY, &src)) != 0) {
    set_err(errbuf, errcap, "%s: %s", src_path,
            rc == NS_ENOTFOUND ? "no such database" : ns_strerror(rc));
    return rc;
  }
  unlink(tmp);
  if ((src_rc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL)) !=
      SQLITE_OK) {
    set_err(errbuf, errcap, "%s: %s", tmp, dst ? sqlite3_errmsg(dst) : sqlite3_errstr(src_rc));
    rc = NS_EIO;
    goto out;
  }
  if (!(b = sqlite3_backup_init(dst, "main", src->db, "main"))) {
    set_err(errbuf, errcap, "%s", sqlite3_errmsg(dst));
    rc = ns__db_err(src, sqlite3_errcode(dst));
    goto out;
  }
  /* BUSY/LOCKED: the source could not be read just now (a WAL recovery by
  ** another process); retry for up to ~10 s */
  for (int tries = 0;; tries++) {
    struct timespec ms10 = {0, 10 * 1000 * 1000};
    src_rc = sqlite3_backup_step(b, -1);
    if (src_rc == SQLITE_DONE) break;
    if ((src_rc == SQLITE_BUSY || src_rc == SQLITE_LOCKED) && tries < 1000) {
      nanosleep(&ms10, NULL);
      continue;
    }
    set_err(errbuf, errcap, "backup: %s", sqlite3_errstr(src_rc));
    rc = ns__db_err(src, src_rc);
    goto out;
  }
  st.pages = (uint64_t)sqlite3_backup_pagecount(b);
out:
  if (b && (src_rc = sqlite3_backup_finish(b)) != SQLITE_OK && rc == 0) {
    set_err(errbuf, errcap, "backup: %s", sqlite3_errmsg(dst));
    rc = ns__db_err(src, src_rc);
  }
  if (dst && sqlite3_close(dst) != SQLITE_OK && rc == 0) {
    set_err(errbuf, errcap, "%s: cannot close", tmp);
    rc = NS_EIO;
  }
  ns_store_close(src);
  if (rc == 0 && (rc = sync_path(tmp, 0)) != 0)
    set_err(errbuf, errcap, "%s: fsync: %s", tmp, strerror(-rc));
  if (rc == 0 && rename(tmp, dst_path) != 0) {
    rc = -errno;
    set_err(errbuf, errcap, "%s: %s", dst_path, strerror(errno));
  }
  if (rc == 0 && (rc = sync_path(dst_path, 1)) != 0)
    set_err(errbuf, errcap, "%s: fsync of the directory: %s", dst_path, strerror(-rc));
  if (rc != 0) {
    char j[4200];
    unlink(tmp);
    snprintf(j, sizeof j, "%s-journal", tmp);
    unlink(j);
  } else {
    if (stat(dst_path, &ds) == 0) st.bytes = (uint64_t)ds.st_size;
    st.seconds = ns_monotonic_s() - t0;
  }
  if (stats) *stats = st;
  return rc;
}
