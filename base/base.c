/*
** base/base.c -- errors, logging, clocks, progress bar, growable arrays,
** RNG and small allocation helpers.  See base.h for the contracts.
*/

#include "base.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- errors ------------------------------------------------------------ */

const char *ns_strerror(int rc) {
  switch (rc) {
  case NS_OK: return "success";
#define NS__ERR_MSG(name, val, msg) case name: return msg;
  NS_ERR_MAP(NS__ERR_MSG)
#undef NS__ERR_MSG
  default: break;
  }
  if (rc < 0 && rc > -1000) return strerror(-rc);
  return "unknown error";
}

const char *ns_err_name(int rc) {
  switch (rc) {
  case NS_OK: return "NS_OK";
#define NS__ERR_NAME(name, val, msg) case name: return #name;
  NS_ERR_MAP(NS__ERR_NAME)
#undef NS__ERR_NAME
  default: break;
  }
  if (rc < 0 && rc > -1000) {
    const char *n = strerrorname_np(-rc);
    return n ? n : "EUNKNOWN";
  }
  return "EUNKNOWN";
}

/* ---- logging ----------------------------------------------------------- */

/* Read by every thread that logs; set by the CLI (and tests) while pool
** workers or the server's threads may exist.  Relaxed: it guards nothing. */
static atomic_int log_level = NS_LOG_INFO;

void ns_log_set_level(int level) { atomic_store_explicit(&log_level, level, memory_order_relaxed); }
int ns_log_level(void) { return atomic_load_explicit(&log_level, memory_order_relaxed); }

void ns_log(int level, const char *fmt, ...) {
  static const char *const prefix[] = {"error: ", "warning: ", "", "debug: "};
  va_list ap;
  char buf[2048];
  if (level > ns_log_level()) return;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  /* one fprintf so concurrent lines do not interleave */
  fprintf(stderr, "notescore: %s%s\n", prefix[level < 0 ? 0 : level > 3 ? 3 : level], buf);
}

/* ---- clocks ------------------------------------------------------------ */

int64_t ns_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double ns_monotonic_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

size_t ns_peak_rss_bytes(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return (size_t)ru.ru_maxrss * 1024u; /* Linux reports KiB */
}

/* ---- progress bar ------------------------------------------------------ */

static void progress_draw(ns_progress *p, int final) {
  double el = ns_monotonic_s() - p->t_start;
  if (p->total) {
    double f = (double)p->done / (double)p->total;
    int w = 30, fill = (int)(f * w + 0.5);
    if (fill > w) fill = w;
    fprintf(stderr, "\r%-12s [%.*s%*s] %5.1f%%  %llu/%llu  %.1fs%s", p->label, fill,
            "##############################", w - fill, "", f * 100.0,
            (unsigned long long)p->done, (unsigned long long)p->total, el,
            final ? "\n" : "");
  } else {
    fprintf(stderr, "\r%-12s %llu  %.1fs%s", p->label, (unsigned long long)p->done, el,
            final ? "\n" : "");
  }
  fflush(stderr);
}

void ns_progress_start(ns_progress *p, const char *label, uint64_t total) {
  memset(p, 0, sizeof *p);
  p->label = label;
  p->total = total;
  p->t_start = p->t_last_draw = ns_monotonic_s();
  p->enabled = isatty(STDERR_FILENO) && getenv("NS_NO_PROGRESS") == NULL;
}

void ns_progress_update(ns_progress *p, uint64_t done) {
  double now;
  p->done = done;
  if (!p->enabled) return;
  now = ns_monotonic_s();
  if (now - p->t_last_draw < 0.1) return;
  p->t_last_draw = now;
  progress_draw(p, 0);
}

void ns_progress_finish(ns_progress *p) {
  if (p->enabled) progress_draw(p, 1);
}

/* ---- growable arrays --------------------------------------------------- */

int ns__vec_grow(void **a, size_t *cap, size_t elem, size_t need) {
  size_t nc = *cap ? *cap : 16;
  void *na;
  while (nc < need) {
    if (nc > SIZE_MAX / 2) return NS_ENOMEM;
    nc *= 2;
  }
  if (nc > SIZE_MAX / elem) return NS_ENOMEM;
  if (ns_fault_hit(NS_FAULT_ALLOC, __builtin_return_address(0))) return NS_ENOMEM;
  na = realloc(*a, nc * elem);
  if (!na) return NS_ENOMEM;
  *a = na;
  *cap = nc;
  return 0;
}

/* ---- RNG --------------------------------------------------------------- */

uint64_t ns_hash64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

void ns_rng_seed(ns_rng *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) {
    x += 0x9e3779b97f4a7c15ull;
    r->s[i] = ns_hash64(x);
  }
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ns_rng_u64(ns_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double ns_rng_uniform(ns_rng *r) { return (double)(ns_rng_u64(r) >> 11) * 0x1.0p-53; }

double ns_rng_normal(ns_rng *r) {
  double u1 = ns_rng_uniform(r), u2 = ns_rng_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t ns_rng_below(ns_rng *r, uint64_t n) {
  uint64_t lim, x;
  if (n <= 1) return 0;
  lim = UINT64_MAX - UINT64_MAX % n;
  do x = ns_rng_u64(r); while (x >= lim);
  return x % n;
}

/* ---- fault injection ---------------------------------------------------- */

static struct {
  atomic_int armed;
  atomic_uint_fast64_t passed, nth;
  atomic_int fired;
  const void *_Atomic site;
} faults[NS_FAULT_KINDS];

void ns_fault_arm(int kind, uint64_t nth) {
  atomic_store(&faults[kind].armed, 0);
  atomic_store(&faults[kind].passed, 0);
  atomic_store(&faults[kind].nth, nth);
  atomic_store(&faults[kind].fired, 0);
  atomic_store(&faults[kind].site, NULL);
  atomic_store(&faults[kind].armed, 1);
}

void ns_fault_disarm(int kind) { atomic_store(&faults[kind].armed, 0); }

uint64_t ns_fault_points(int kind) { return atomic_load(&faults[kind].passed); }

int ns_fault_fired(int kind, const void **site) {
  if (site) *site = atomic_load(&faults[kind].site);
  return atomic_load(&faults[kind].fired);
}

int ns_fault_hit(int kind, const void *site) {
  uint64_t k;
  if (!atomic_load_explicit(&faults[kind].armed, memory_order_relaxed)) return 0;
  k = atomic_fetch_add(&faults[kind].passed, 1) + 1;
  if (k != atomic_load(&faults[kind].nth)) return 0;
  atomic_store(&faults[kind].site, site);
  atomic_store(&faults[kind].fired, 1);
  return 1;
}

/* ---- allocation helpers ------------------------------------------------ */

#define ALLOC_FAULT() ns_fault_hit(NS_FAULT_ALLOC, __builtin_return_address(0))

void *ns_calloc(size_t n, size_t size) {
  if (ALLOC_FAULT()) return NULL;
  return calloc(n ? n : 1, size ? size : 1);
}

void *ns_mallocn(size_t n, size_t size) {
  if (size && n > SIZE_MAX / size) return NULL;
  if (ALLOC_FAULT()) return NULL;
  return malloc(n && size ? n * size : 1);
}

void *ns_malloc(size_t size) {
  if (ALLOC_FAULT()) return NULL;
  return malloc(size ? size : 1);
}

void *ns_realloc(void *p, size_t size) {
  if (ALLOC_FAULT()) return NULL;
  return realloc(p, size ? size : 1);
}

char *ns_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d;
  if (ALLOC_FAULT()) return NULL;
  d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

int ns_mkdir_p(const char *path) {
  char buf[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof buf) return NS_EINVAL;
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] == '/' || buf[i] == '\0') {
      char c = buf[i];
      buf[i] = '\0';
      if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -errno;
      buf[i] = c;
    }
  }
  return 0;
}
