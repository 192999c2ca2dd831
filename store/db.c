/*
** store/db.c -- the lowest layer of store/: the one place a SQLite
** connection is opened (flags, busy handler, journal and sync pragmas,
** checkpoint-on-close), statement and bind helpers, transactions and the
** participant cache.  Calls inside store/ go one way (no cycle):
**
**     store.c (open + migrate, snapshot, ingest) -> views.c, import.c, runs.c, db.c
**     runs.c  (run rows, publication)            -> import.c, db.c
**     import.c (bulk import, the row writer)     -> db.c  (and tsv.c's parser)
**     views.c (dashboard views, schema v2/v5)    -> db.c
**     db.c                                       -> nothing else in store/
**
** The readers of dash/ and server/read.c (store/query.c's ns_reader) and
** the bare connections of ns_store_sql_open() are opened here too, so every
** connection of the program is configured the same way.
**
** Read-only connections are opened with SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE:
** a short-lived look at the DB (ns_store_check_file, run by every CLI
** command first) must leave the WAL as it found it whatever the other
** connections do; only writers tidy the WAL up.  (Measured: a read-only
** connection closing last leaves the WAL in place even without the flag --
** it cannot take the exclusive lock a checkpoint-on-close needs -- so the
** flag states the rule rather than changes today's behaviour.)  The
** SQLITE_BUSY_RECOVERY (261) that e2e/dash_consistency sometimes saw came
** from elsewhere: the first process to open the WAL index after every
** connection closed rebuilds it, and a connection without a busy handler
** that starts a read during the rebuild gets 261 (tests/e2e/dash_reader.c).
**
** Thread: a connection is used by one thread at a time (SQLITE_OPEN_NOMUTEX).
*/
#include "store_int.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Busy handler of every handle: retry every millisecond, give up after
** about busy_ms (BUSY_MS by default).  SQLite's own (sqlite3_busy_timeout) backs off to 100 ms
** sleeps, and a waiter that sleeps 100 ms never gets the lock from a writer
** that gives it up for only a moment between long transactions -- a bulk
** import beside `serve` (import.c yields the lock for IMPORT_YIELD_MS after
** each commit).  n is the number of retries of this lock attempt so far. */
#define BUSY_MS 10000
/* Busy retries (~1 ms each) of the calling thread: serve's writer reports
** how long its commits waited for another connection's write lock. */
static _Thread_local uint64_t busy_retries;
uint64_t ns_store_busy_retries(void) { return busy_retries; }

static int busy_wait(void *arg, int n) {
  struct timespec ts = {0, 1000000};
  if (n >= (int)(intptr_t)arg) return 0;
  busy_retries++;
  nanosleep(&ts, NULL);
  return 1;
}

/* ---- small helpers ----------------------------------------------------- */

int ns__db_err(ns_store *s, int src) {
  if (src == SQLITE_BUSY || src == SQLITE_LOCKED) return NS_EBUSY;
  if (src == SQLITE_NOMEM) return NS_ENOMEM;
  if (src == SQLITE_FULL) return NS_ENOSPC;   /* disk full, or max_page_count */
  (void)s;
  return NS_ESQL;
}

int ns__db_exec(ns_store *s, const char *sql) {
  char *msg = NULL;
  int src = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
  if (src != SQLITE_OK) {
    snprintf(s->errbuf, sizeof s->errbuf, "%s", msg ? msg : sqlite3_errstr(src));
    sqlite3_free(msg);
    return ns__db_err(s, src);
  }
  return 0;
}

int ns__db_prepare(ns_store *s, const char *sql, sqlite3_stmt **st) {
  int src = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
  if (src != SQLITE_OK) {
    snprintf(s->errbuf, sizeof s->errbuf, "%s", sqlite3_errmsg(s->db));
    *st = NULL;
    return ns__db_err(s, src);
  }
  return 0;
}

/* Steps a statement that returns no rows and resets it. */
int ns__db_step_done(ns_store *s, sqlite3_stmt *st) {
  int src = sqlite3_step(st);
  if (src != SQLITE_DONE && src != SQLITE_ROW) {
    snprintf(s->errbuf, sizeof s->errbuf, "%s", sqlite3_errmsg(s->db));
    sqlite3_reset(st);
    return ns__db_err(s, src);
  }
  sqlite3_reset(st);
  return 0;
}

/* Binds an optional int64 (NS_TS_NONE -> NULL). */
void ns__db_bind_opt(sqlite3_stmt *st, int i, int64_t v) {
  if (v == NS_TS_NONE) sqlite3_bind_null(st, i);
  else sqlite3_bind_int64(st, i, v);
}

void ns__db_bind_f64(sqlite3_stmt *st, int i, double v) {
  if (isnan(v)) sqlite3_bind_null(st, i);
  else sqlite3_bind_double(st, i, v);
}

void ns__db_bind_text(sqlite3_stmt *st, int i, const char *s) {
  if (!s || !*s) sqlite3_bind_null(st, i);
  else sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

void ns__db_bind_status(sqlite3_stmt *st, int i, int status) {
  ns__db_bind_text(st, i, ns_status_name(status));
}

const char *ns_store_errmsg(const ns_store *s) {
  if (!s) return "no store";
  return s->errbuf[0] ? s->errbuf : "no error";
}

/* ---- participant cache ------------------------------------------------- */

/* The cache maps participant id strings to participants.id without a
** SELECT per row: strtab index i <-> DB id pid[i].  It is brought up to date
** at the start of each write transaction (another handle or process may
** have added participants since) and dropped after a rollback. */

void ns__pcache_drop(ns_store *s) {
  ns_strtab_free(s->pc_tab);
  s->pc_tab = NULL;
  free(s->pc_id);
  s->pc_id = NULL;
  s->pc_cap = 0;
  s->pc_max = 0;
  free(s->pend);
  s->pend = NULL;
  s->pend_n = s->pend_cap = 0;
}

static int pcache_add(ns_store *s, int64_t id, const char *str, size_t len) {
  int32_t idx;
  int rc;
  size_t before = ns_strtab_count(s->pc_tab);
  if ((rc = ns_strtab_intern(s->pc_tab, str, len, &idx)) != 0) return rc;
  if (ns_strtab_count(s->pc_tab) == before) return 0; /* already there */
  if ((size_t)idx >= s->pc_cap) {
    size_t nc = s->pc_cap ? s->pc_cap * 2 : 4096;
    int64_t *n = ns_realloc(s->pc_id, nc * sizeof *n);
    if (!n) return NS_ENOMEM;
    s->pc_id = n;
    s->pc_cap = nc;
  }
  s->pc_id[idx] = id;
  if (id > s->pc_max) s->pc_max = id;
  return 0;
}

/* Loads participants with id > pc_max (all of them the first time).  Call
** inside a transaction. */
int ns__pcache_sync(ns_store *s) {
  sqlite3_stmt *st = NULL;
  int rc = 0, src;
  if (!s->pc_tab && (rc = ns_strtab_new(&s->pc_tab)) != 0) return rc;
  if ((rc = ns__db_prepare(s, "SELECT id, participant_id FROM participants WHERE id > ? ORDER BY id",
                           &st)) != 0)
    return rc;
  sqlite3_bind_int64(st, 1, s->pc_max);
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    const char *str = (const char *)sqlite3_column_text(st, 1);
    if (!str) continue;
    if ((rc = pcache_add(s, sqlite3_column_int64(st, 0), str,
                         (size_t)sqlite3_column_bytes(st, 1))) != 0)
      goto out;
  }
  if (src != SQLITE_DONE) {
    snprintf(s->errbuf, sizeof s->errbuf, "%s", sqlite3_errmsg(s->db));
    rc = ns__db_err(s, src);
  }
out:
  sqlite3_finalize(st);
  return rc;
}

/* DB id of a participant string, inserting it when new.  len 0 -> *id = 0
** and the caller binds NULL.  Call inside a write transaction after
** ns__pcache_sync(). */
int ns__pcache_get(ns_store *s, const char *str, size_t len, int64_t *id) {
  int32_t idx;
  int rc;
  *id = 0;
  if (len == 0) return 0;
  if ((rc = ns__pcache_ref(s, str, len, &idx)) != 0) return rc;
  if (s->pc_id[idx] == 0 && (rc = ns__pcache_flush(s)) != 0) return rc;
  *id = s->pc_id[idx];
  return 0;
}

int ns__pcache_ref(ns_store *s, const char *str, size_t len, int32_t *out) {
  int32_t idx;
  int rc;
  size_t before;
  *out = -1;
  before = ns_strtab_count(s->pc_tab);
  if ((rc = ns_strtab_intern(s->pc_tab, str, len, &idx)) != 0) return rc;
  if (ns_strtab_count(s->pc_tab) != before) {
    if ((size_t)idx >= s->pc_cap) {
      size_t nc = s->pc_cap ? s->pc_cap * 2 : 4096;
      int64_t *n = ns_realloc(s->pc_id, nc * sizeof *n);
      if (!n) return NS_ENOMEM;
      s->pc_id = n;
      s->pc_cap = nc;
    }
    s->pc_id[idx] = 0; /* id assigned by ns__pcache_flush */
    /* The row is written later (ns__pcache_flush), sorted by string, with
    ** ids handed out in that order: inserting 1 M random 64-byte keys one
    ** by one into the UNIQUE index is ~10x slower than inserting them in
    ** order, and sorted ids keep the rowid B-tree append-only too. */
    if (s->pend_n == s->pend_cap) {
      size_t nc = s->pend_cap ? s->pend_cap * 2 : 1024;
      int32_t *n = ns_realloc(s->pend, nc * sizeof *n);
      if (!n) return NS_ENOMEM;
      s->pend = n;
      s->pend_cap = nc;
    }
    s->pend[s->pend_n++] = idx;
  }
  *out = idx;
  return 0;
}

static int cmp_pend(const void *a, const void *b, void *arg) {
  const ns_strtab *t = arg;
  return strcmp(ns_strtab_str(t, *(const int32_t *)a), ns_strtab_str(t, *(const int32_t *)b));
}

int ns__pcache_flush(ns_store *s) {
  int rc = 0;
  if (!s->pend_n) return 0;
  qsort_r(s->pend, s->pend_n, sizeof *s->pend, cmp_pend, s->pc_tab);
  for (size_t i = 0; i < s->pend_n && !rc; i++) {
    int32_t idx = s->pend[i];
    const char *str = ns_strtab_str(s->pc_tab, idx);
    s->pc_id[idx] = ++s->pc_max;
    sqlite3_bind_int64(s->st_part, 1, s->pc_id[idx]);
    sqlite3_bind_text(s->st_part, 2, str, -1, SQLITE_STATIC);
    rc = ns__db_step_done(s, s->st_part);
  }
  s->pend_n = 0;
  return rc;
}

/* ---- transactions ------------------------------------------------------ */

int ns__db_begin_write(ns_store *s) {
  int rc = ns__db_exec(s, "BEGIN IMMEDIATE");
  if (rc) return rc;
  if ((rc = ns__pcache_sync(s)) != 0) ns__db_rollback(s);
  return rc;
}

int ns__db_commit(ns_store *s) {
  int rc = ns__pcache_flush(s);
  if (rc == 0) rc = ns__db_exec(s, "COMMIT");
  if (rc) ns__db_rollback(s);
  return rc;
}

void ns__db_rollback(ns_store *s) {
  if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  ns__pcache_drop(s); /* ids handed out in the transaction are gone */
}


/* ---- connections -------------------------------------------------------- */

int ns__db_open(const char *path, int flags, int busy_ms, sqlite3 **out, char *msg,
                size_t msg_len) {
  sqlite3 *db = NULL;
  int readonly = (flags & NS_STORE_READONLY) != 0, src, rc = 0;
  int oflags = readonly ? SQLITE_OPEN_READONLY
                        : SQLITE_OPEN_READWRITE | ((flags & NS_STORE_CREATE) ? SQLITE_OPEN_CREATE : 0);
  const char *failed = NULL;
  *out = NULL;
  if (msg && msg_len) msg[0] = '\0';
  src = sqlite3_open_v2(path, &db, oflags | SQLITE_OPEN_NOMUTEX, NULL);
  if (src != SQLITE_OK) {
    struct stat sb;
    if (msg && msg_len)
      snprintf(msg, msg_len, "%s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(src));
    rc = (src == SQLITE_CANTOPEN && stat(path, &sb) != 0) ? NS_ENOTFOUND : ns__db_err(NULL, src);
    sqlite3_close_v2(db);
    return rc;
  }
  sqlite3_extended_result_codes(db, 0);
  sqlite3_busy_handler(db, busy_wait, (void *)(intptr_t)(busy_ms > 0 ? busy_ms : BUSY_MS));
  if (readonly) {
    src = sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
    failed = "no checkpoint on close";
  } else {
    src = sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    failed = "PRAGMA journal_mode=WAL";
    if (src == SQLITE_OK) {
      src = sqlite3_exec(db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
      failed = "PRAGMA synchronous=FULL";
    }
  }
  if (src != SQLITE_OK) {
    if (msg && msg_len) snprintf(msg, msg_len, "%s: %s: %s", path, failed, sqlite3_errmsg(db));
    rc = ns__db_err(NULL, src);
    sqlite3_close_v2(db);
    return rc;
  }
  *out = db;
  return 0;
}

int ns_store_sql_open(const char *path, int flags, int busy_ms, struct sqlite3 **db, char *msg,
                      size_t msg_len) {
  return ns__db_open(path, flags, busy_ms, db, msg, msg_len);
}

void ns_store_sql_close(struct sqlite3 *db) {
  if (db) sqlite3_close_v2(db);
}

/* ---- checkpoints off the writer's thread ------------------------------- */

/* By default the connection whose commit leaves the WAL at 1000 frames or
** more runs the checkpoint inside that commit call: it copies the frames
** into the DB file and fsyncs it, up to hundreds of ms in which the serve
** writer thread acknowledges nothing (issue #18's soak: "commit 170 ms").
** Here a thread of its own, with its own connection, runs a PASSIVE
** checkpoint when told by the handle's WAL hook.  PASSIVE never takes the
** write lock and never waits, so writers go on appending to the WAL while
** it copies; after a checkpoint that backfilled everything, the next
** writer restarts the WAL from its start (so the file stays bounded). */
struct ns__ckpt {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  sqlite3 *db;      /* the thread's connection */
  int pages;        /* checkpoint when the WAL has this many frames */
  int want, stop;   /* (mu) */
};

static void *ckpt_main(void *arg) {
  struct ns__ckpt *c = arg;
  pthread_mutex_lock(&c->mu);
  for (;;) {
    while (!c->want && !c->stop) pthread_cond_wait(&c->cv, &c->mu);
    if (c->stop) break;
    c->want = 0;
    pthread_mutex_unlock(&c->mu);
    /* SQLITE_BUSY (another checkpoint running) and errors: the next
    ** commit asks again; the WAL is never lost, only longer */
    (void)sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    pthread_mutex_lock(&c->mu);
  }
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

/* sqlite3_wal_hook: after every commit of the handle, with the WAL's size
** in frames.  Replaces the handle's automatic checkpoint. */
static int ckpt_hook(void *arg, sqlite3 *db, const char *name, int frames) {
  struct ns__ckpt *c = arg;
  (void)db, (void)name;
  if (frames >= c->pages) {
    pthread_mutex_lock(&c->mu);
    c->want = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
  }
  return SQLITE_OK;
}

int ns_store_checkpoint_in_background(ns_store *s, int pages) {
  struct ns__ckpt *c;
  const char *path;
  int rc;
  if (!s || s->readonly || s->ckpt || pages <= 0) return NS_EINVAL;
  path = sqlite3_db_filename(s->db, "main");
  if (!path || !path[0]) return NS_EINVAL;  /* in-memory or temporary DB */
  if (!(c = ns_calloc(1, sizeof *c))) return NS_ENOMEM;
  c->pages = pages;
  if ((rc = ns__db_open(path, 0, 0, &c->db, s->errbuf, sizeof s->errbuf)) != 0) {
    free(c);
    return rc;
  }
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv, NULL);
  if (pthread_create(&c->thread, NULL, ckpt_main, c) != 0) {
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    sqlite3_close_v2(c->db);
    free(c);
    return NS_ENOMEM;
  }
  sqlite3_wal_hook(s->db, ckpt_hook, c);
  s->ckpt = c;
  return 0;
}

void ns__ckpt_stop(ns_store *s) {
  struct ns__ckpt *c = s->ckpt;
  if (!c) return;
  sqlite3_wal_hook(s->db, NULL, NULL);
  sqlite3_wal_autocheckpoint(s->db, 1000);  /* back to SQLite's default */
  pthread_mutex_lock(&c->mu);
  c->stop = 1;
  pthread_cond_signal(&c->cv);
  pthread_mutex_unlock(&c->mu);
  pthread_join(c->thread, NULL);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cv);
  sqlite3_close_v2(c->db);
  free(c);
  s->ckpt = NULL;
}

int ns_store_check_file(const char *path, int must_exist, char *msg, size_t msg_len) {
  static const char magic[16] = "SQLite format 3";
  struct stat sb;
  char head[16];
  FILE *f;
  sqlite3 *db = NULL;
  int version = -1;

#define SAY(...) do { if (msg && msg_len) snprintf(msg, msg_len, __VA_ARGS__); } while (0)
  if (msg && msg_len) msg[0] = '\0';
  if (stat(path, &sb) != 0) {
    int e = errno;
    if (e == ENOENT && !must_exist) return 0; /* the command creates it */
    SAY("%s: cannot open database: %s", path, strerror(e));
    return e == ENOENT ? NS_ENOTFOUND : -e;
  }
  if (S_ISDIR(sb.st_mode)) {
    SAY("%s: is a directory, not a database file", path);
    return NS_EINVAL;
  }
  if (sb.st_size == 0) return 0; /* SQLite treats an empty file as a new DB */
  if (!(f = fopen(path, "rb"))) {
    int e = errno;
    SAY("%s: cannot open database: %s", path, strerror(e));
    return -e;
  }
  if (fread(head, 1, sizeof head, f) != sizeof head || memcmp(head, magic, sizeof magic) != 0) {
    fclose(f);
    SAY("%s: not a notescore database (not an SQLite file; a DB is made by `notescore import "
        "--db`)", path);
    return NS_ESCHEMA;
  }
  fclose(f);
  /* read-only and no checkpoint on close: this look must not disturb the
  ** readers and writers the DB may have right now (see the file comment) */
  if (ns__db_open(path, NS_STORE_READONLY, 0, &db, NULL, 0) == 0) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
  }
  ns_store_sql_close(db);
  if (version > NS_STORE_SCHEMA_VERSION) {
    SAY("%s: database schema version %d is newer than this notescore (%s) supports (versions 1 "
        "to %d); use a newer notescore", path, version, NS_VERSION, NS_STORE_SCHEMA_VERSION);
    return NS_ESCHEMA;
  }
#undef SAY
  return 0;
}
