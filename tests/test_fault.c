/*
** tests/test_fault.c -- fault injection in the style of SQLite's test
** harness (issue #18).
**
** Two kinds of fault point (base/base.h, ns_fault_*):
**   NS_FAULT_ALLOC  every allocation of ours (the ns_ wrappers), jansson's
**                   included (server/body.c routes them through ns_malloc);
**   NS_FAULT_LIB    every allocation of SQLite (sqlite3_config(
**                   SQLITE_CONFIG_MALLOC) wrapper below);
**   NS_FAULT_IO     every write, sync and truncate of a SQLite file, through
**                   the VFS shim below, which fails with SQLITE_IOERR_WRITE
**                   (or SQLITE_FULL: the disk is full).
** A sweep first runs a scenario with the points only counted (N of them),
** then runs it again with the failure placed at point 1, 1+s, 1+2s, ... (s
** chosen so that at most MAX_RUNS runs are made, 4 * MAX_RUNS for our own
** allocations), and after every run checks:
** no crash (the test process would die), a negative error code or success,
** the DB passes `PRAGMA integrity_check`, nothing acknowledged (rc 0) is
** missing, a failed write stored nothing of its transaction, and -- under
** ASan -- no leak.  Each sweep prints one line to stderr: points, runs,
** runs where the fault fired, distinct failing code sites, error codes seen.
**
** Scenarios: bulk import, one scoring run with its publication, an ingest
** group commit, and the HTTP body parser.
*/
#include "harness.h"

#include <jansson.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/dataset.h"
#include "../engine/pipeline.h"
#include "../server/server_int.h"
#include "../store/store.h"
#include "../tools/gen/gen.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LEAK_CHECK() ASSERT_EQ(__lsan_do_recoverable_leak_check(), 0)
#else
#define LEAK_CHECK() ((void)0)
#endif

#define MAX_RUNS 120

/* ---- SQLite: allocation hook and VFS shim ------------------------------ */

static sqlite3_mem_methods real_mem;
static int io_fail_code = SQLITE_IOERR_WRITE;

static void *mem_malloc(int n) {
  if (ns_fault_hit(NS_FAULT_LIB, __builtin_return_address(0))) return NULL;
  return real_mem.xMalloc(n);
}

static void *mem_realloc(void *p, int n) {
  if (ns_fault_hit(NS_FAULT_LIB, __builtin_return_address(0))) return NULL;
  return real_mem.xRealloc(p, n);
}


typedef struct ffile {
  sqlite3_file base;
  sqlite3_file *real;         /* follows this struct in the same block */
} ffile;

static sqlite3_vfs *real_vfs;
static sqlite3_vfs shim_vfs;
static sqlite3_io_methods shim_io;

#define REAL(f) (((ffile *)(f))->real)
#define IO_FAULT() ns_fault_hit(NS_FAULT_IO, __builtin_return_address(0))

static int f_close(sqlite3_file *f) { return REAL(f)->pMethods->xClose(REAL(f)); }
static int f_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o) {
  return REAL(f)->pMethods->xRead(REAL(f), b, n, o);
}
static int f_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o) {
  if (IO_FAULT()) return io_fail_code;
  return REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int f_truncate(sqlite3_file *f, sqlite3_int64 n) {
  if (IO_FAULT()) return SQLITE_IOERR_TRUNCATE;
  return REAL(f)->pMethods->xTruncate(REAL(f), n);
}
static int f_sync(sqlite3_file *f, int fl) {
  if (IO_FAULT()) return SQLITE_IOERR_FSYNC;
  return REAL(f)->pMethods->xSync(REAL(f), fl);
}
static int f_size(sqlite3_file *f, sqlite3_int64 *n) { return REAL(f)->pMethods->xFileSize(REAL(f), n); }
static int f_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int f_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int f_check(sqlite3_file *f, int *o) {
  return REAL(f)->pMethods->xCheckReservedLock(REAL(f), o);
}
static int f_fcntl(sqlite3_file *f, int op, void *a) {
  return REAL(f)->pMethods->xFileControl(REAL(f), op, a);
}
static int f_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int f_dev(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int f_shm_map(sqlite3_file *f, int pg, int sz, int ext, void volatile **pp) {
  return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, pp);
}
static int f_shm_lock(sqlite3_file *f, int off, int n, int fl) {
  return REAL(f)->pMethods->xShmLock(REAL(f), off, n, fl);
}
static void f_shm_barrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int f_shm_unmap(sqlite3_file *f, int del) { return REAL(f)->pMethods->xShmUnmap(REAL(f), del); }
static int f_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **pp) {
  return REAL(f)->pMethods->xFetch(REAL(f), o, n, pp);
}
static int f_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p) {
  return REAL(f)->pMethods->xUnfetch(REAL(f), o, p);
}

static int v_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out) {
  ffile *p = (ffile *)f;
  int rc;
  p->real = (sqlite3_file *)(p + 1);
  rc = real_vfs->xOpen(real_vfs, name, p->real, flags, out);
  p->base.pMethods = rc == SQLITE_OK && p->real->pMethods ? &shim_io : NULL;
  return rc;
}
static int v_delete(sqlite3_vfs *v, const char *n, int sync) {
  return real_vfs->xDelete(real_vfs, n, sync);
}
static int v_access(sqlite3_vfs *v, const char *n, int fl, int *o) {
  return real_vfs->xAccess(real_vfs, n, fl, o);
}
static int v_full(sqlite3_vfs *v, const char *n, int k, char *o) {
  return real_vfs->xFullPathname(real_vfs, n, k, o);
}
static int v_random(sqlite3_vfs *v, int n, char *o) { return real_vfs->xRandomness(real_vfs, n, o); }
static int v_sleep(sqlite3_vfs *v, int us) { return real_vfs->xSleep(real_vfs, us); }
static int v_time(sqlite3_vfs *v, double *t) { return real_vfs->xCurrentTime(real_vfs, t); }
static int v_lasterr(sqlite3_vfs *v, int n, char *o) {
  return real_vfs->xGetLastError(real_vfs, n, o);
}
static int v_time64(sqlite3_vfs *v, sqlite3_int64 *t) {
  return real_vfs->xCurrentTimeInt64(real_vfs, t);
}

/* Installs both hooks (once per test process: the runner forks per test). */
static void install_hooks(void) {
  sqlite3_mem_methods m;
  sqlite3_shutdown();
  ASSERT_EQ(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real_mem), SQLITE_OK);
  m = real_mem;
  m.xMalloc = mem_malloc;
  m.xRealloc = mem_realloc;
  ASSERT_EQ(sqlite3_config(SQLITE_CONFIG_MALLOC, &m), SQLITE_OK);
  ASSERT_EQ(sqlite3_initialize(), SQLITE_OK);
  real_vfs = sqlite3_vfs_find(NULL);
  ASSERT(real_vfs != NULL);
  shim_vfs = *real_vfs;
  shim_vfs.zName = "ns_fault";
  shim_vfs.szOsFile = (int)sizeof(ffile) + real_vfs->szOsFile;
  shim_vfs.xOpen = v_open;
  shim_vfs.xDelete = v_delete;
  shim_vfs.xAccess = v_access;
  shim_vfs.xFullPathname = v_full;
  shim_vfs.xRandomness = v_random;
  shim_vfs.xSleep = v_sleep;
  shim_vfs.xCurrentTime = v_time;
  shim_vfs.xGetLastError = v_lasterr;
  shim_vfs.xCurrentTimeInt64 = v_time64;
  shim_vfs.iVersion = 2;   /* no xSetSystemCall & co. */
  shim_io = (sqlite3_io_methods){3, f_close, f_read, f_write, f_truncate, f_sync, f_size,
                                 f_lock, f_unlock, f_check, f_fcntl, f_sector, f_dev,
                                 f_shm_map, f_shm_lock, f_shm_barrier, f_shm_unmap,
                                 f_fetch, f_unfetch};
  ASSERT_EQ(sqlite3_vfs_register(&shim_vfs, 1), SQLITE_OK);
  ns__body_init();   /* jansson allocates through ns_malloc: NS_FAULT_ALLOC */
}

/* ---- DB checks (hooks disarmed) ---------------------------------------- */

static int64_t q1(const char *db, const char *sql) {
  sqlite3 *h;
  sqlite3_stmt *st;
  int64_t v = -1;
  ASSERT_EQ(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  sqlite3_busy_timeout(h, 5000);
  ASSERT_EQ(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

static void assert_integrity(const char *db) {
  sqlite3 *h;
  sqlite3_stmt *st;
  ASSERT_EQ(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  ASSERT_EQ(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  ASSERT_STREQ((const char *)sqlite3_column_text(st, 0), "ok");
  sqlite3_finalize(st);
  sqlite3_close(h);
}

static void rm_db(const char *db) {
  char p[600];
  unlink(db);
  snprintf(p, sizeof p, "%s-wal", db);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", db);
  unlink(p);
  snprintf(p, sizeof p, "%s-runlock", db);
  unlink(p);
}

static void copy_file(const char *from, const char *to) {
  size_t len;
  char *b = ns_test_slurp(from, &len);
  FILE *f = fopen(to, "wb");
  ASSERT(b != NULL && f != NULL);
  ASSERT_EQ(fwrite(b, 1, len, f), len);
  ASSERT_EQ(fclose(f), 0);
  free(b);
}

/* ---- the sweep ----------------------------------------------------------- */

typedef struct scenario {
  const char *name;
  int (*run)(struct scenario *sc);             /* the operation under faults */
  void (*check)(struct scenario *sc, int rc);  /* invariants, hooks disarmed */
  char dir[400], db[500], base_db[500];
  int64_t n_ratings, n_notes;                  /* expected after success */
} scenario;

static void sweep(scenario *sc, int kind, const char *label, int want_code) {
  uint64_t n, stride, runs = 0, fired = 0, ok = 0;
  const void *sites[256];
  int n_sites = 0, codes[16], n_codes = 0, rc;
  char codes_txt[256] = "";
  size_t off = 0;
  ns_fault_arm(kind, 0);
  rc = sc->run(sc);
  n = ns_fault_points(kind);
  ns_fault_disarm(kind);
  ASSERT_OK(rc);
  sc->check(sc, rc);
  ASSERT(n > 0);
  /* our own points are few: every one of them; the libraries' in samples */
  stride = n / (kind == NS_FAULT_ALLOC ? 4 * MAX_RUNS : MAX_RUNS) + 1;
  for (uint64_t k = 1; k <= n; k += stride) {
    const void *site;
    ns_fault_arm(kind, k);
    rc = sc->run(sc);
    ns_fault_disarm(kind);
    runs++;
    ASSERT(rc <= 0);
    if (ns_fault_fired(kind, &site)) {
      int seen = 0;
      fired++;
      for (int i = 0; i < n_sites; i++) seen |= sites[i] == site;
      if (!seen && n_sites < (int)NS_ARRAY_LEN(sites)) sites[n_sites++] = site;
    }
    if (rc == 0) ok++;
    else {
      int seen = 0;
      for (int i = 0; i < n_codes; i++) seen |= codes[i] == rc;
      if (!seen && n_codes < (int)NS_ARRAY_LEN(codes)) codes[n_codes++] = rc;
    }
    sc->check(sc, rc);
  }
  for (int i = 0; i < n_codes; i++)
    off += (size_t)snprintf(codes_txt + off, sizeof codes_txt - off, "%s%s", i ? "," : "",
                            ns_err_name(codes[i]));
  fprintf(stderr,
          "fault sweep %-8s %-5s: %6llu points, %3llu runs (every %llu), %3llu fired, "
          "%3d distinct sites, %3llu succeeded anyway, errors: %s\n",
          sc->name, label, (unsigned long long)n, (unsigned long long)runs,
          (unsigned long long)stride, (unsigned long long)fired, n_sites,
          (unsigned long long)ok, n_codes ? codes_txt : "-");
  ASSERT(fired > 0);
  if (want_code) {
    int seen = 0;
    for (int i = 0; i < n_codes; i++) seen |= codes[i] == want_code;
    ASSERT(seen);
  }
  LEAK_CHECK();
}

/* A small data set (gen), and a DB with it imported, shared by scenarios. */
static void setup(scenario *sc, const char *name) {
  ns_gen_opts o;
  ns_gen_stats gs;
  ns_store *s;
  char p[600];
  memset(sc, 0, sizeof *sc);
  sc->name = name;
  snprintf(sc->dir, sizeof sc->dir, "%s/data", ns_test_tmpdir());
  snprintf(sc->db, sizeof sc->db, "%s/f.db", ns_test_tmpdir());
  snprintf(sc->base_db, sizeof sc->base_db, "%s/base.db", ns_test_tmpdir());
  ns_gen_default_opts(&o);
  o.raters = 40;
  o.notes = 20;
  o.ratings = 400;
  o.seed = 7;
  ASSERT_OK(ns_gen_run(&o, sc->dir, &gs));
  snprintf(p, sizeof p, "%s/truth_notes.tsv", sc->dir);
  unlink(p);
  snprintf(p, sizeof p, "%s/truth_raters.tsv", sc->dir);
  unlink(p);
  install_hooks();
  ASSERT_OK(ns_store_open(sc->base_db, NS_STORE_CREATE, &s));
  ASSERT_OK(ns_store_import(s, sc->dir, NULL, NULL));
  ns_store_close(s);
  sc->n_ratings = q1(sc->base_db, "SELECT count(*) FROM ratings");
  sc->n_notes = q1(sc->base_db, "SELECT count(*) FROM notes");
  ASSERT(sc->n_ratings > 0);
}

/* ---- import -------------------------------------------------------------- */

static int run_import(scenario *sc) {
  ns_store *s;
  int rc;
  rm_db(sc->db);
  if ((rc = ns_store_open(sc->db, NS_STORE_CREATE, &s)) != 0) return rc;
  rc = ns_store_import(s, sc->dir, NULL, NULL);
  ns_store_close(s);
  return rc;
}

static void check_import(scenario *sc, int rc) {
  ns_store *s;
  struct stat sb;
  if (stat(sc->db, &sb) != 0) {
    ASSERT(rc != 0);   /* failed before the DB existed */
    return;
  }
  assert_integrity(sc->db);
  if (rc == 0) {
    /* acknowledged: every row is there */
    ASSERT_EQ(q1(sc->db, "SELECT count(*) FROM ratings"), sc->n_ratings);
    ASSERT_EQ(q1(sc->db, "SELECT count(*) FROM notes"), sc->n_notes);
  }
  /* a failed import is repaired by running it again */
  ASSERT_OK(ns_store_open(sc->db, NS_STORE_CREATE, &s));
  ASSERT_OK(ns_store_import(s, sc->dir, NULL, NULL));
  ns_store_close(s);
  ASSERT_EQ(q1(sc->db, "SELECT count(*) FROM ratings"), sc->n_ratings);
}

TEST(fault_import_alloc) {
  scenario sc;
  setup(&sc, "import");
  sc.run = run_import;
  sc.check = check_import;
  sweep(&sc, NS_FAULT_ALLOC, "alloc", NS_ENOMEM);
  sweep(&sc, NS_FAULT_LIB, "lib", 0);
}

TEST(fault_import_io) {
  scenario sc;
  setup(&sc, "import");
  sc.run = run_import;
  sc.check = check_import;
  sweep(&sc, NS_FAULT_IO, "io", NS_ESQL);
  io_fail_code = SQLITE_FULL;   /* the disk is full */
  sweep(&sc, NS_FAULT_IO, "full", NS_ENOSPC);
}

/* ---- one scoring run and its publication ---------------------------------- */

static int run_score(scenario *sc) {
  ns_store *s = NULL;
  ns_dataset *ds = NULL;
  ns_scores *out = NULL;
  ns_params p;
  int64_t run_id = 0;
  int rc;
  rm_db(sc->db);
  copy_file(sc->base_db, sc->db);
  if ((rc = ns_store_open(sc->db, 0, &s)) != 0) goto out;
  if ((rc = ns_store_snapshot(s, &ds)) != 0) goto out;
  ns_params_default(&p);
  p.threads = 2;
  p.progress = 0;
  p.now_ms = 1700000000000LL;
  if ((rc = ns_store_run_begin(s, "{}", &run_id)) != 0) goto out;
  if ((rc = ns_pipeline_run(ds, &p, NULL, &out, NULL)) == 0) rc = ns_store_run_publish(s, run_id, out, ds, NULL);
  /* as score --db and serve do; if this fails too, the next run reaps it */
  if (rc != 0) (void)ns_store_run_fail(s, run_id, "failed");
out:
  ns_scores_free(out);
  ns_dataset_free(ds);
  ns_store_close(s);
  return rc;
}

static void check_score(scenario *sc, int rc) {
  ns_store *s;
  int reaped;
  assert_integrity(sc->db);
  /* no run stays 'running' once its handle is gone */
  ASSERT_OK(ns_store_open(sc->db, 0, &s));
  ASSERT_OK(ns_store_runs_reap(s, &reaped));
  ns_store_close(s);
  ASSERT_EQ(q1(sc->db, "SELECT count(*) FROM runs WHERE status = 'running'"), 0);
  if (rc == 0) {
    ASSERT_EQ(q1(sc->db, "SELECT status = 'published' FROM runs WHERE run_id = "
                         "(SELECT run_id FROM current_run)"), 1);
    ASSERT_EQ(q1(sc->db, "SELECT count(*) FROM note_scores WHERE run_id = "
                         "(SELECT run_id FROM current_run)"), sc->n_notes);
  } else {
    /* never half-published: no current run, no score rows */
    ASSERT_EQ(q1(sc->db, "SELECT count(*) FROM current_run"), 0);
    ASSERT_EQ(q1(sc->db, "SELECT count(*) FROM note_scores"), 0);
  }
}

TEST(fault_score_alloc) {
  scenario sc;
  setup(&sc, "score");
  sc.run = run_score;
  sc.check = check_score;
  sweep(&sc, NS_FAULT_ALLOC, "alloc", NS_ENOMEM);
  sweep(&sc, NS_FAULT_LIB, "lib", 0);
}

TEST(fault_score_io) {
  scenario sc;
  setup(&sc, "score");
  sc.run = run_score;
  sc.check = check_score;
  sweep(&sc, NS_FAULT_IO, "io", NS_ESQL);
}

/* ---- an ingest group commit ---------------------------------------------- */

#define N_INGEST 50

static int run_ingest(scenario *sc) {
  ns_store *s;
  ns_ingest_rating r[N_INGEST];
  ns_ingest_note nt = {900001, "fault-author", 1700000000000LL, -1, NS_CLASS_NONE};
  char names[N_INGEST][16];
  int rc;
  rm_db(sc->db);
  copy_file(sc->base_db, sc->db);
  for (int i = 0; i < N_INGEST; i++) {
    snprintf(names[i], sizeof names[i], "fault-r%d", i);
    r[i] = (ns_ingest_rating){900001, names[i], 1700000000000LL + i, NS_LEVEL_HELPFUL, 0,
                              NS_SOURCE_DEFAULT};
  }
  if ((rc = ns_store_open(sc->db, 0, &s)) != 0) return rc;
  rc = ns_store_ingest(s, &nt, 1, r, N_INGEST, NULL, 0);
  ns_store_close(s);
  return rc;
}

static void check_ingest(scenario *sc, int rc) {
  assert_integrity(sc->db);
  /* acknowledged => all stored; refused => nothing of the batch */
  ASSERT_EQ(q1(sc->db, "SELECT count(*) FROM ratings WHERE note_id = 900001"), rc == 0 ? N_INGEST : 0);
  ASSERT_EQ(q1(sc->db, "SELECT count(*) FROM notes WHERE note_id = 900001"), rc == 0 ? 1 : 0);
  ASSERT_EQ(q1(sc->db, "SELECT count(*) FROM ratings"), sc->n_ratings + (rc == 0 ? N_INGEST : 0));
}

TEST(fault_ingest_alloc) {
  scenario sc;
  setup(&sc, "ingest");
  sc.run = run_ingest;
  sc.check = check_ingest;
  sweep(&sc, NS_FAULT_ALLOC, "alloc", NS_ENOMEM);
  sweep(&sc, NS_FAULT_LIB, "lib", 0);
}

TEST(fault_ingest_io) {
  scenario sc;
  setup(&sc, "ingest");
  sc.run = run_ingest;
  sc.check = check_ingest;
  sweep(&sc, NS_FAULT_IO, "io", NS_ESQL);
  io_fail_code = SQLITE_FULL;   /* the disk is full */
  sweep(&sc, NS_FAULT_IO, "full", NS_ENOSPC);
}

/* ---- the HTTP body parser --------------------------------------------------- */

static char body[N_INGEST * 160];

static int run_body(scenario *sc) {
  ns__batch b;
  int rc;
  memset(&b, 0, sizeof b);
  rc = ns__body_parse(&b, NS_FILE_RATINGS, NS_BODY_NDJSON, body, strlen(body));
  if (rc == 0) {
    /* every line is stored or reported: none vanishes */
    ASSERT_EQ(ns__batch_rows(&b) + b.n_rejected, N_INGEST);
    /* no line is turned into a reject by a failed allocation */
    ASSERT_EQ(b.n_rejected, 5);
    if (!ns_fault_fired(NS_FAULT_ALLOC, NULL)) ASSERT_EQ(ns__batch_rows(&b), N_INGEST - 5);
  }
  ns__batch_free(&b);
  return rc;
}

static void check_body(scenario *sc, int rc) { ASSERT(rc == 0 || rc == NS_ENOMEM); }

TEST(fault_body_alloc) {
  scenario sc;
  size_t off = 0;
  memset(&sc, 0, sizeof sc);
  sc.name = "body";
  install_hooks();
  for (int i = 0; i < N_INGEST; i++)
    off += (size_t)snprintf(body + off, sizeof body - off,
                            "{\"noteId\":%d,\"raterParticipantId\":\"rater-%d\",\"createdAtMillis\":%d,"
                            "\"helpfulnessLevel\":\"%s\",\"helpfulClear\":1}\n",
                            i + 1, i, 1000 + i, i % 10 == 3 ? "MEH" : "HELPFUL");
  sc.run = run_body;
  sc.check = check_body;
  sweep(&sc, NS_FAULT_ALLOC, "alloc", NS_ENOMEM);
}
