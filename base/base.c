/*
** base/base.c -- errors, logging, clocks, progress bar, growable arrays,
** RNG and small allocation helpers.  See base.h for the contracts.
*/

#include "base.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
** workers or the server's threads may exist.  Relaxed: they guard nothing. */
static atomic_int log_level = NS_LOG_INFO;
static atomic_int log_format = NS_LOG_PLAIN;

void ns_log_set_level(int level) { atomic_store_explicit(&log_level, level, memory_order_relaxed); }
int ns_log_level(void) { return atomic_load_explicit(&log_level, memory_order_relaxed); }
void ns_log_set_format(int format) { atomic_store_explicit(&log_format, format, memory_order_relaxed); }
int ns_log_format(void) { return atomic_load_explicit(&log_format, memory_order_relaxed); }

int ns_log_format_parse(const char *name) {
  if (!strcmp(name, "logfmt")) return NS_LOG_LOGFMT;
  if (!strcmp(name, "json")) return NS_LOG_JSON;
  if (!strcmp(name, "plain")) return NS_LOG_PLAIN;
  return -1;
}

/* A bounded output buffer: appends past the end are dropped (the line is
** cut, never overrun); one byte is always kept for the NUL. */
typedef struct lbuf {
  char *p;
  size_t n, cap;
  int over;               /* something was dropped */
} lbuf;

static void lb_putc(lbuf *b, char c) {
  if (b->n + 1 < b->cap) b->p[b->n++] = c;
  else b->over = 1;
}

static void lb_puts(lbuf *b, const char *s) {
  while (*s) lb_putc(b, *s++);
}

static void lb_printf(lbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lb_printf(lbuf *b, const char *fmt, ...) {
  va_list ap;
  int k;
  if (b->n + 1 >= b->cap) return;
  va_start(ap, fmt);
  k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
  va_end(ap);
  if (k > 0 && b->n + (size_t)k >= b->cap) b->over = 1;
  if (k > 0) b->n = NS_MIN(b->n + (size_t)k, b->cap - 1);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s) {
  size_t n;
  uint32_t cp;
  if (s[0] < 0x80) return 1;
  if (s[0] >= 0xc2 && s[0] <= 0xdf) n = 2, cp = s[0] & 0x1f;
  else if (s[0] >= 0xe0 && s[0] <= 0xef) n = 3, cp = s[0] & 0x0f;
  else if (s[0] >= 0xf0 && s[0] <= 0xf4) n = 4, cp = s[0] & 0x07;
  else return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (s[i] & 0x3f);
  }
  /* overlong forms, surrogates, past U+10FFFF */
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

static void lb_json_str(lbuf *b, const char *s) {
  const unsigned char *u = (const unsigned char *)s;
  lb_putc(b, '"');
  while (*u) {
    size_t k;
    if (*u == '"' || *u == '\\') {
      lb_putc(b, '\\');
      lb_putc(b, (char)*u++);
    } else if (*u == '\n') {
      lb_puts(b, "\\n"), u++;
    } else if (*u == '\t') {
      lb_puts(b, "\\t"), u++;
    } else if (*u < 0x20 || *u == 0x7f) {
      lb_printf(b, "\\u%04x", *u++);
    } else if ((k = utf8_len(u)) == 0) {
      lb_puts(b, "\\ufffd"), u++;   /* invalid UTF-8 byte */
    } else {
      while (k--) lb_putc(b, (char)*u++);
    }
  }
  lb_putc(b, '"');
}

/* A logfmt value: bare when it is a plain token, else double-quoted. */
static void lb_logfmt_str(lbuf *b, const char *s) {
  const unsigned char *u = (const unsigned char *)s;
  int quote = *u == '\0';
  for (; *u; u++)
    if (*u <= ' ' || *u == '=' || *u == '"' || *u == '\\' || *u == 0x7f) quote = 1;
  if (!quote) {
    lb_puts(b, s);
    return;
  }
  lb_putc(b, '"');
  for (u = (const unsigned char *)s; *u; u++) {
    if (*u == '"' || *u == '\\') lb_putc(b, '\\'), lb_putc(b, (char)*u);
    else if (*u == '\n') lb_puts(b, "\\n");
    else if (*u == '\t') lb_puts(b, "\\t");
    else if (*u < 0x20 || *u == 0x7f) lb_printf(b, "\\x%02x", *u);
    else lb_putc(b, (char)*u);
  }
  lb_putc(b, '"');
}

static void lb_num(lbuf *b, int fmt, double d) {
  if (isfinite(d)) lb_printf(b, "%.6g", d);
  else lb_puts(b, fmt == NS_LOG_JSON ? "null" : isnan(d) ? "NaN" : d > 0 ? "+Inf" : "-Inf");
}

/* One line into b: the message (its first msg_len bytes), then the fields;
** truncated adds truncated=true. */
static void render(lbuf *b, int fmt, const char *ts, int lv, const char *msg, size_t msg_len,
                   const ns_log_field *f, size_t n, int truncated) {
  static const char *const plain_prefix[] = {"error: ", "warning: ", "", "debug: "};
  static const char *const names[] = {"error", "warn", "info", "debug"};
  char cut[2048];
  if (msg_len < strlen(msg)) {   /* only when retrying a line that did not fit */
    msg_len = NS_MIN(msg_len, sizeof cut - 1);
    memcpy(cut, msg, msg_len);
    cut[msg_len] = '\0';
    msg = cut;
  }
  if (fmt == NS_LOG_JSON) {
    lb_printf(b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, names[lv]);
    lb_json_str(b, msg);
  } else if (fmt == NS_LOG_LOGFMT) {
    lb_printf(b, "ts=%s level=%s msg=", ts, names[lv]);
    lb_logfmt_str(b, msg);
  } else {
    lb_printf(b, "notescore: %s%s", plain_prefix[lv], msg);
  }
  for (size_t i = 0; i < n; i++) {
    if (f[i].type == 's' && !f[i].s && fmt != NS_LOG_JSON) continue;
    if (fmt == NS_LOG_JSON) lb_printf(b, ",\"%s\":", f[i].key);
    else lb_printf(b, " %s=", f[i].key);
    if (f[i].type == 'i') lb_printf(b, "%lld", f[i].i);
    else if (f[i].type == 'n') lb_num(b, fmt, f[i].d);
    else if (!f[i].s) lb_puts(b, "null");
    else if (fmt == NS_LOG_JSON) lb_json_str(b, f[i].s);
    else lb_logfmt_str(b, f[i].s);
  }
  if (truncated) lb_puts(b, fmt == NS_LOG_JSON ? ",\"truncated\":true" : " truncated=true");
  if (fmt == NS_LOG_JSON) lb_putc(b, '}');
}

void ns_log_format_line(char *buf, size_t cap, int fmt, int64_t now_ms, int level,
                        const char *msg, const ns_log_field *f, size_t n) {
  int lv = level < 0 ? 0 : level > 3 ? 3 : level;
  size_t len = strlen(msg);
  lbuf b = {buf, 0, cap, 0};
  char ts[64] = "";
  if (cap == 0) return;
  if (fmt != NS_LOG_PLAIN) {
    time_t secs = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(now_ms % 1000));
  }
  render(&b, fmt, ts, lv, msg, len, f, n, 0);
  /* Too long: a record cut anywhere could end inside a quoted value, which
  ** no logfmt or JSON parser reads.  Render it again without the fields and
  ** with the message halved until the whole record fits, marked truncated. */
  while (b.over && fmt != NS_LOG_PLAIN) {
    len /= 2;
    b.n = 0;
    b.over = 0;
    render(&b, fmt, ts, lv, msg, len, NULL, 0, 1);
    if (len == 0) break;
  }
  buf[b.n] = '\0';
}

void ns_log_fields(int level, const char *msg, const ns_log_field *f, size_t n) {
  char buf[4096];
  size_t len;
  if (level > ns_log_level()) return;
  ns_log_format_line(buf, sizeof buf - 1, ns_log_format(), ns_now_ms(), level, msg, f, n);
  len = strlen(buf);
  buf[len++] = '\n';
  /* one write so concurrent lines do not interleave */
  fwrite(buf, 1, len, stderr);
}

void ns_log(int level, const char *fmt, ...) {
  va_list ap;
  char msg[2048];
  if (level > ns_log_level()) return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ns_log_fields(level, msg, NULL, 0);
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

/* A "Name:  N kB" field of /proc/self/status in bytes (0 when absent). */
static size_t status_kb_field(const char *name) {
  char line[256];
  size_t kb = 0, n = strlen(name);
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return 0;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, name, n) == 0 && line[n] == ':') {
      kb = (size_t)strtoull(line + n + 1, NULL, 10);
      break;
    }
  fclose(f);
  return kb * 1024u;
}

int ns_memtrace_on(void) {
  static atomic_int on = -1;
  int v = atomic_load_explicit(&on, memory_order_relaxed);
  if (v < 0) {
    const char *e = getenv("NS_MEMTRACE");
    v = e && strcmp(e, "1") == 0;
    atomic_store_explicit(&on, v, memory_order_relaxed);
  }
  return v;
}

void ns_heap_release(void) {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

void ns_memtrace(const char *what) {
  FILE *f;
  if (!ns_memtrace_on()) return;
  fprintf(stderr, "notescore: memtrace: %-40s peak %9.1f MiB  at its end %9.1f MiB\n", what,
          (double)status_kb_field("VmHWM") / 1048576.0,
          (double)status_kb_field("VmRSS") / 1048576.0);
  if ((f = fopen("/proc/self/clear_refs", "w")) != NULL) {
    fputs("5", f);
    fclose(f);
  }
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

void ns_keycodes_init(ns_keycodes *t, unsigned cap) {
  memset(t->code, 0xFF, sizeof t->code);
  t->n = 0;
  t->cap = cap < NS_KEYCODES_MAX ? cap : NS_KEYCODES_MAX;
}

int ns_keycodes_get(ns_keycodes *t, uint64_t key) {
  /* Fibonacci hashing; the table is at most half full, so probes are short */
  size_t h = (size_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> 40) & (2 * NS_KEYCODES_MAX - 1);
  while (t->code[h] != UINT16_MAX) {
    if (t->key[h] == key) return t->code[h];
    h = (h + 1) & (2 * NS_KEYCODES_MAX - 1);
  }
  if (t->n >= t->cap) return -1;
  t->key[h] = key;
  t->code[h] = (uint16_t)t->n;
  return (int)t->n++;
}

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

/* Big arrays (the per-rating columns, masks and CSRs of a scoring run) are
** fresh mmap'd memory from malloc, faulted in 4 KiB at a time on first
** touch.  On a virtual machine a fault costs microseconds (a 10 M-rating
** run spent a fifth of its CPU time in the kernel's fault path), so the
** 2 MiB-aligned interior of every block of HUGE_MIN bytes or more is
** marked for transparent huge pages: one fault per 2 MiB.  A hint only
** (the kernel may ignore it; THP "never" makes it a no-op); the memory
** touched is the same, so RSS does not grow. */
#define HUGE_MIN ((size_t)8 << 20)
#define HUGE_PAGE ((uintptr_t)2 << 20)

static void *huge_hint(void *p, size_t bytes) {
#ifdef MADV_HUGEPAGE
  if (p && bytes >= HUGE_MIN) {
    uintptr_t a = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    uintptr_t b = ((uintptr_t)p + bytes) & ~(HUGE_PAGE - 1);
    if (b > a) (void)madvise((void *)a, b - a, MADV_HUGEPAGE);
  }
#endif
  return p;
}

void *ns_calloc(size_t n, size_t size) {
  if (ALLOC_FAULT()) return NULL;
  if (size && n > SIZE_MAX / size) return NULL;
  return huge_hint(calloc(n ? n : 1, size ? size : 1), n * size);
}

void *ns_mallocn(size_t n, size_t size) {
  if (size && n > SIZE_MAX / size) return NULL;
  if (ALLOC_FAULT()) return NULL;
  return huge_hint(malloc(n && size ? n * size : 1), n * size);
}

void *ns_malloc(size_t size) {
  if (ALLOC_FAULT()) return NULL;
  return huge_hint(malloc(size ? size : 1), size);
}

void *ns_realloc(void *p, size_t size) {
  if (ALLOC_FAULT()) return NULL;
  return huge_hint(realloc(p, size ? size : 1), size);
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
