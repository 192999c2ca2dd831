/*
** base/base.h -- what every notescore module needs.
**
** Error codes and their messages, logging, a progress bar, clocks, growable
** arrays, a deterministic RNG, a string-interning table and a small thread
** pool with deterministic chunking.
**
** Who calls it: every other module.  Thread safety: the functions here are
** safe to call from any thread; objects (ns_strtab, ns_pool, ns_progress) are
** owned by one thread at a time unless their comment says otherwise.
**
** Conventions used across the project:
**   - Every fallible function returns int: 0 (NS_OK) or a negative ns_err.
**     System errors are returned as -errno.  ns_strerror() explains both.
**   - Out-parameters are set on every path (NULL / 0 on failure).
**   - Destroy functions accept NULL and cannot fail.
**   - Library code never calls exit(); only tools/ main() does.
*/
#ifndef NS_BASE_H
#define NS_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The notescore version, recorded with every scoring run. */
#define NS_VERSION "0.1.0"

/* ------------------------------------------------------------------------
** Errors.  X-macro: NAME, value, message.  Values sit below -1000 so they
** never collide with -errno.
*/
#define NS_ERR_MAP(X)                                                        \
  X(NS_ENOMEM,    -1001, "out of memory")                                    \
  X(NS_EINVAL,    -1002, "invalid argument")                                 \
  X(NS_EIO,       -1003, "input/output error")                               \
  X(NS_EPARSE,    -1004, "malformed input")                                  \
  X(NS_ENOTFOUND, -1005, "not found")                                        \
  X(NS_ESQL,      -1006, "database error")                                   \
  X(NS_ELAPACK,   -1007, "linear algebra failure")                           \
  X(NS_EFULL,     -1008, "queue full")                                       \
  X(NS_ECANCELED, -1009, "canceled")                                         \
  X(NS_ECOLUMN,   -1010, "missing required column")                          \
  X(NS_ESCHEMA,   -1011, "database schema is newer than this program")       \
  X(NS_ERANGE,    -1012, "value out of range")                               \
  X(NS_ENODATA,   -1013, "no usable data")                                   \
  X(NS_EBUSY,     -1014, "resource busy")                                    \
  X(NS_ENOSPC,    -1015, "storage full: the database cannot grow")

enum ns_err {
  NS_OK = 0,
#define NS__ERR_ENUM(name, val, msg) name = (val),
  NS_ERR_MAP(NS__ERR_ENUM)
#undef NS__ERR_ENUM
};

/* Message for an error code (ns_err or -errno).  Never NULL; static storage. */
const char *ns_strerror(int rc);
/* Symbolic name ("NS_EPARSE", "ENOENT"); static storage. */
const char *ns_err_name(int rc);

/* ------------------------------------------------------------------------
** Logging to stderr.  Level and format are process-wide and set once by the
** CLI before any thread starts (they are not mutated later).  Each line is
** written with one fwrite, so lines of concurrent threads never interleave.
**
** Formats:
**   NS_LOG_PLAIN   (the default; the batch commands)
**                  notescore: warning: MSG k=v ...
**   NS_LOG_LOGFMT  (serve) one logfmt record per line, UTC timestamp first:
**                  ts=2026-12-02T21:58:35.123Z level=warn msg="MSG" k=v ...
**   NS_LOG_JSON    (serve --log-format json) one JSON object per line:
**                  {"ts":"...","level":"warn","msg":"MSG","k":v,...}
** Strings are quoted and escaped as each format needs (logfmt: values with
** spaces, '=', '"' or control bytes are double-quoted with \" \\ \n \t
** \xNN escapes; JSON: invalid UTF-8 becomes U+FFFD), so a path or an error
** message can never forge a field or break a line.
*/
enum { NS_LOG_ERROR = 0, NS_LOG_WARN = 1, NS_LOG_INFO = 2, NS_LOG_DEBUG = 3 };
enum { NS_LOG_PLAIN = 0, NS_LOG_LOGFMT = 1, NS_LOG_JSON = 2 };
void ns_log_set_level(int level);
int ns_log_level(void);
void ns_log_set_format(int format);
int ns_log_format(void);
/* "logfmt" / "json" / "plain" -> NS_LOG_*; -1 for anything else. */
int ns_log_format_parse(const char *name);
void ns_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A structured line: a message plus typed fields (key = [a-z0-9_]+, chosen
** by the caller).  In the plain format the fields follow the message as
** k=v.  Build the fields with NS_LF_INT / NS_LF_NUM / NS_LF_STR:
**   ns_log_kv(NS_LOG_INFO, "serve: scoring run", NS_LF_INT("run_id", id),
**             NS_LF_STR("status", "published"), NS_LF_NUM("seconds", dt));
** A NULL string field is written as null (JSON) or left out (logfmt). */
typedef struct ns_log_field {
  const char *key;
  char type;                 /* 'i' integer, 'n' number, 's' string */
  long long i;
  double d;
  const char *s;
} ns_log_field;
#define NS_LF_INT(k, x) ((ns_log_field){.key = (k), .type = 'i', .i = (long long)(x)})
#define NS_LF_NUM(k, x) ((ns_log_field){.key = (k), .type = 'n', .d = (double)(x)})
#define NS_LF_STR(k, x) ((ns_log_field){.key = (k), .type = 's', .s = (x)})
void ns_log_fields(int level, const char *msg, const ns_log_field *f, size_t n);
#define ns_log_kv(level, msg, ...)                                            \
  ns_log_fields((level), (msg), (const ns_log_field[]){__VA_ARGS__},          \
                sizeof((const ns_log_field[]){__VA_ARGS__}) / sizeof(ns_log_field))
/* Formats one line (without the newline) into buf (NUL-terminated, cut at
** cap - 1 bytes); the format is fmt, the timestamp now_ms (ms since the
** epoch).  ns_log_fields() uses it; tests call it directly. */
void ns_log_format_line(char *buf, size_t cap, int fmt, int64_t now_ms, int level,
                        const char *msg, const ns_log_field *f, size_t n);
#define ns_error(...) ns_log(NS_LOG_ERROR, __VA_ARGS__)
#define ns_warn(...)  ns_log(NS_LOG_WARN, __VA_ARGS__)
#define ns_info(...)  ns_log(NS_LOG_INFO, __VA_ARGS__)
#define ns_debug(...) ns_log(NS_LOG_DEBUG, __VA_ARGS__)

/* ------------------------------------------------------------------------
** Clocks.
*/
int64_t ns_now_ms(void);        /* wall clock, milliseconds since the epoch */
double ns_monotonic_s(void);    /* monotonic seconds, for durations */
size_t ns_peak_rss_bytes(void); /* peak resident set size of this process */
/* The memory trace (NS_MEMTRACE=1 in the environment; a developer's tool
** for docs/architecture.md "Memory of a scoring run").  ns_memtrace(what)
** prints "notescore: memtrace: WHAT  peak N MiB  at its end M MiB" on
** stderr -- the peak RSS since the previous call (Linux VmHWM) and the RSS
** now -- and resets the peak (Linux /proc/self/clear_refs), so each line is
** one window of the work and what it left resident.  A no-op
** without NS_MEMTRACE=1.  The resets lower what getrusage and the parent's
** wait4 report as the process's peak: measure that without the trace. */
int ns_memtrace_on(void);
void ns_memtrace(const char *what);
/* Gives the heap's free pages back to the system (glibc malloc_trim; a
** no-op elsewhere).  Blocks freed below the mmap threshold stay resident in
** the heap until reused, and a run's stages free and allocate arrays of
** different sizes, so a run calls this between stages: at 10 M ratings it
** lowered the steady part by about 20 MiB (docs/architecture.md, "Memory of
** a scoring run").  Costs a walk of the heap's free blocks. */
void ns_heap_release(void);

/* ------------------------------------------------------------------------
** Progress bar on stderr.  Draws only when stderr is a terminal; always
** silent otherwise (the caller prints its own one-line summary).
*/
typedef struct ns_progress {
  const char *label;   /* short label, borrowed */
  uint64_t total;      /* 0 = unknown */
  uint64_t done;
  double t_start;      /* ns_monotonic_s() at start */
  double t_last_draw;
  int enabled;         /* stderr is a tty */
} ns_progress;
void ns_progress_start(ns_progress *p, const char *label, uint64_t total);
void ns_progress_update(ns_progress *p, uint64_t done);
void ns_progress_finish(ns_progress *p);

/* ------------------------------------------------------------------------
** Growable array of any element type.
**   NS_VEC(int64_t) v = {0};  ns_vec_push(&v, x) returns 0 or NS_ENOMEM.
*/
#define NS_VEC(T) struct { T *a; size_t n, cap; }
int ns__vec_grow(void **a, size_t *cap, size_t elem, size_t need);
#define ns_vec_reserve(v, need)                                              \
  ((need) <= (v)->cap ? 0                                                    \
   : ns__vec_grow((void **)&(v)->a, &(v)->cap, sizeof(*(v)->a), (need)))
#define ns_vec_push(v, x)                                                    \
  (ns_vec_reserve((v), (v)->n + 1) ? NS_ENOMEM : ((v)->a[(v)->n++] = (x), 0))
#define ns_vec_free(v) (free((v)->a), (v)->a = NULL, (v)->n = (v)->cap = 0)

/* ------------------------------------------------------------------------
** Codes for the few distinct keys among many lookups: each new key gets the
** next code (0, 1, ...) in order of first appearance, through a small
** open-addressing hash.  The fits use it to store a table index per rating
** in place of a float (a weight, a (value, weight) pair by their bits):
** the tables hold exactly the caller's floats, so nothing is rounded.
**   ns_keycodes_init(t, cap);  c = ns_keycodes_get(t, key);
** get returns the key's code, or -1 when the key is new and cap codes are
** taken; t->n is the number of codes given.  cap <= NS_KEYCODES_MAX.  The
** struct is 80 KB: allocate it.
*/
#define NS_KEYCODES_MAX 4096u
typedef struct ns_keycodes {
  uint64_t key[2 * NS_KEYCODES_MAX];
  uint16_t code[2 * NS_KEYCODES_MAX];  /* UINT16_MAX: empty slot */
  unsigned n, cap;
} ns_keycodes;
void ns_keycodes_init(ns_keycodes *t, unsigned cap);
int ns_keycodes_get(ns_keycodes *t, uint64_t key);

/* ------------------------------------------------------------------------
** Deterministic RNG: xoshiro256** seeded through splitmix64.  Same seed,
** same stream, on every platform.  Never use rand().
*/
typedef struct ns_rng { uint64_t s[4]; } ns_rng;
void ns_rng_seed(ns_rng *r, uint64_t seed);
uint64_t ns_rng_u64(ns_rng *r);
double ns_rng_uniform(ns_rng *r);              /* [0, 1) */
double ns_rng_normal(ns_rng *r);               /* N(0, 1), Box-Muller */
uint64_t ns_rng_below(ns_rng *r, uint64_t n);  /* [0, n), unbiased */
uint64_t ns_hash64(uint64_t x);                /* splitmix64 finalizer */

/* ------------------------------------------------------------------------
** String interning: string <-> dense index 0..n-1 in first-seen order.
** Strings are copied into the table's arena; pointers from ns_strtab_str()
** stay valid until ns_strtab_free().
*/
typedef struct ns_strtab ns_strtab;
int ns_strtab_new(ns_strtab **out);
void ns_strtab_free(ns_strtab *t);
/* Index of s (length len), adding it if new.  *out = index. */
int ns_strtab_intern(ns_strtab *t, const char *s, size_t len, int32_t *out);
/* Index of s or -1 if absent. */
int32_t ns_strtab_find(const ns_strtab *t, const char *s, size_t len);
const char *ns_strtab_str(const ns_strtab *t, int32_t idx);
size_t ns_strtab_count(const ns_strtab *t);
/* The hot path for bulk lookups: hash once, prefetch, intern later.
** ns_strtab_hash() is the table's hash of s; ns_strtab_prefetch(t, h, 0)
** starts loading the slot of h, and a later (t, h, 1) call (once that slot
** is in cache) starts loading the string it points to.  Prefetching is only
** a hint: any table change in between is harmless.  ns_strtab_intern_hashed
** is ns_strtab_intern with h = ns_strtab_hash(s, len) already computed. */
uint64_t ns_strtab_hash(const char *s, size_t len);
void ns_strtab_prefetch(const ns_strtab *t, uint64_t h, int deep);
int ns_strtab_intern_hashed(ns_strtab *t, const char *s, size_t len, uint64_t h, int32_t *out);

/* ------------------------------------------------------------------------
** Thread pool with deterministic chunking.
**
** ns_pool_for() splits [0, n) into chunks whose boundaries depend only on n
** and chunk_hint -- never on the thread count -- and calls fn(ctx, chunk,
** begin, end) for each, from any worker.  Code that needs a global sum writes
** one partial per chunk and adds the partials in chunk order afterwards, so
** results are bit-identical for any number of threads.
**
** A pool is used by one caller thread at a time.  threads <= 1 runs inline.
*/
typedef struct ns_pool ns_pool;
typedef void (*ns_pool_fn)(void *ctx, size_t chunk, size_t begin, size_t end);
int ns_pool_new(int threads, ns_pool **out);
void ns_pool_free(ns_pool *p);
int ns_pool_threads(const ns_pool *p);
/* Number of chunks ns_pool_for() will use for n items and this hint. */
size_t ns_pool_nchunks(size_t n, size_t chunk_hint);
/* Runs fn over every chunk; returns when all are done. */
void ns_pool_for(ns_pool *p, size_t n, size_t chunk_hint, ns_pool_fn fn, void *ctx);
/* Default thread count: NS_THREADS env var, else online CPUs. */
int ns_default_threads(void);

/* ------------------------------------------------------------------------
** Small helpers.
*/
#define NS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define NS_MAX(a, b) ((a) > (b) ? (a) : (b))
#define NS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* calloc that returns NULL for n*size overflow.  n or size 0 is fine: a
** valid (1-byte) block, so callers never guard "n ? n : 1". */
void *ns_calloc(size_t n, size_t size);
/* malloc of n*size with overflow check; n or size 0 as ns_calloc. */
void *ns_mallocn(size_t n, size_t size);
/* malloc / realloc (size 0 allocates 1 byte). */
void *ns_malloc(size_t size);
void *ns_realloc(void *p, size_t size);
/* strdup with NULL on failure. */
char *ns_strdup(const char *s);

/* ------------------------------------------------------------------------
** Fault injection, for tests (tests/test_fault.c), in the style of SQLite's
** test harness.  Every allocation through the wrappers above (and through
** ns__vec_grow) is a fault point of kind NS_FAULT_ALLOC; the test suite's
** hooks make every allocation of SQLite and jansson a point of kind
** NS_FAULT_LIB, and every SQLite file write, sync and truncate (a VFS
** shim) a point of kind NS_FAULT_IO.  ns_fault_arm(kind, n) makes the n-th point of that kind
** passed from then on fail, once (n = 0: count only).  Disarmed (the
** default), a point costs one relaxed atomic load.  Thread-safe.
*/
enum { NS_FAULT_ALLOC = 0, NS_FAULT_LIB = 1, NS_FAULT_IO = 2, NS_FAULT_KINDS = 3 };
void ns_fault_arm(int kind, uint64_t nth);
void ns_fault_disarm(int kind);
/* Points of kind passed since it was armed. */
uint64_t ns_fault_points(int kind);
/* Whether the armed failure happened; *site (may be NULL) receives the
** code address of the failing point's caller (to count distinct sites). */
int ns_fault_fired(int kind, const void **site);
/* A fault point: 1 when this call must fail.  site identifies the caller. */
int ns_fault_hit(int kind, const void *site);
/* mkdir -p; returns 0 or -errno. */
int ns_mkdir_p(const char *path);

#endif /* NS_BASE_H */
