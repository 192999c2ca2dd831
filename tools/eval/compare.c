/*
** tools/eval/compare.c -- reading the three kinds of status input and
** computing the agreement figures of `notescore compare` (contract in
** compare.h).
**
** Reading: one line at a time (getline), split on tabs, columns found by
** header name.  pandas quotes a field only when it holds a tab, newline or
** quote; the columns read here never do, so a field is only stripped of
** surrounding quotes.  Status, core status and decider strings are
** interned into a small table (a real file has a few dozen distinct
** values); rule lists go into one arena.
*/
#include "compare.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../base/base.h"

const char *const ns_cmp_class_names[NS_SCLASS_COUNT] = {"CRH", "CRNH", "NMR", "other"};

#define MAX_STRS 65535  /* interned strings per side (uint16_t indexes) */
#define MAX_FIELDS 512  /* columns of a header we look at */

const char *ns_cmp_kind_name(int kind) {
  switch (kind) {
  case NS_CMP_NOTESCORE: return "notescore output";
  case NS_CMP_REFERENCE: return "reference output";
  case NS_CMP_HISTORY: return "noteStatusHistory";
  default: return "unknown";
  }
}

static void say(char *msg, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *msg, size_t n, const char *fmt, ...) {
  va_list ap;
  if (!msg || !n) return;
  va_start(ap, fmt);
  vsnprintf(msg, n, fmt, ap);
  va_end(ap);
}

void ns_cmp_side_free(ns_cmp_side *s) {
  if (!s) return;
  free(s->path);
  free(s->note_id);
  free(s->cls);
  free(s->status);
  free(s->core_status);
  free(s->decided_by);
  free(s->intercept);
  free(s->factor);
  free(s->rules);
  for (size_t i = 0; i < s->n_strs; i++) free(s->strs[i]);
  free(s->strs);
  free(s->arena);
  free(s);
}

/* ---- building a side ----------------------------------------------------- */

/* Interns text (len bytes, no NUL inside) into s->strs; *idx is a hint on
** entry (an index to try first) and receives the index.  Linear search
** otherwise: the tables stay tiny. */
static int intern(ns_cmp_side *s, const char *t, size_t len, uint16_t *idx) {
  /* a status column repeats a few values: try this call site's last hit */
  if (*idx < s->n_strs && !strncmp(s->strs[*idx], t, len) && s->strs[*idx][len] == '\0') return 0;
  for (size_t i = 0; i < s->n_strs; i++)
    if (s->strs[i][0] == (len ? t[0] : '\0') && !strncmp(s->strs[i], t, len) &&
        s->strs[i][len] == '\0') {
      *idx = (uint16_t)i;
      return 0;
    }
  if (s->n_strs >= MAX_STRS) return NS_ERANGE;
  if ((s->n_strs & (s->n_strs - 1)) == 0 || s->n_strs == 0) { /* grow at powers of 2 */
    size_t cap = s->n_strs ? s->n_strs * 2 : 8;
    char **nv = realloc(s->strs, cap * sizeof *nv);
    if (!nv) return NS_ENOMEM;
    s->strs = nv;
  }
  if (!(s->strs[s->n_strs] = malloc(len + 1))) return NS_ENOMEM;
  memcpy(s->strs[s->n_strs], t, len);
  s->strs[s->n_strs][len] = '\0';
  *idx = (uint16_t)s->n_strs++;
  return 0;
}

/* Appends text to the arena (NUL-terminated); *off receives its offset. */
static int arena_put(ns_cmp_side *s, const char *t, size_t len, uint32_t *off) {
  if (s->arena_len + len + 1 > UINT32_MAX) return NS_ERANGE;
  if (s->arena_len + len + 1 > s->arena_cap) {
    size_t cap = s->arena_cap ? s->arena_cap : 4096;
    char *na;
    while (cap < s->arena_len + len + 1) cap *= 2;
    if (!(na = realloc(s->arena, cap))) return NS_ENOMEM;
    s->arena = na;
    s->arena_cap = cap;
  }
  memcpy(s->arena + s->arena_len, t, len);
  s->arena[s->arena_len + len] = '\0';
  *off = (uint32_t)s->arena_len;
  s->arena_len += len + 1;
  return 0;
}

static int grow(ns_cmp_side *s, size_t *cap) {
  size_t nc = *cap ? *cap * 2 : 1024;
#define G(field)                                                      \
  do {                                                                \
    void *np = realloc(s->field, nc * sizeof *s->field);              \
    if (!np) return NS_ENOMEM;                                        \
    s->field = np;                                                    \
  } while (0)
  G(note_id); G(cls); G(status); G(core_status); G(decided_by);
  G(intercept); G(factor); G(rules);
#undef G
  *cap = nc;
  return 0;
}

/* A field: pointer into the line and length. */
typedef struct fld {
  const char *p;
  size_t n;
} fld;

/* Splits line (no newline) on tabs into at most maxf fields; returns the
** count.  Surrounding double quotes are dropped. */
static int split(char *line, fld *f, int maxf) {
  int nf = 0;
  char *p = line;
  for (;;) {
    char *t = strchr(p, '\t');
    size_t n = t ? (size_t)(t - p) : strlen(p);
    if (nf < maxf) {
      f[nf].p = p;
      f[nf].n = n;
      if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
        f[nf].p = p + 1;
        f[nf].n = n - 2;
      }
      nf++;
    }
    if (!t) break;
    p = t + 1;
  }
  return nf;
}

static int col(const fld *f, int nf, const char *name) {
  size_t n = strlen(name);
  for (int i = 0; i < nf; i++)
    if (f[i].n == n && !memcmp(f[i].p, name, n)) return i;
  return -1;
}

static double to_double(const fld *f, int nf, int c) {
  char buf[64], *end;
  double v;
  if (c < 0 || c >= nf || f[c].n == 0 || f[c].n >= sizeof buf) return NAN;
  memcpy(buf, f[c].p, f[c].n);
  buf[f[c].n] = '\0';
  v = strtod(buf, &end);
  return *end ? NAN : v;
}

static int to_i64(const fld *f, int nf, int c, int64_t *out) {
  char buf[32], *end;
  long long v;
  if (c < 0 || c >= nf || f[c].n == 0 || f[c].n >= sizeof buf) return -1;
  memcpy(buf, f[c].p, f[c].n);
  buf[f[c].n] = '\0';
  /* pandas may write an id column holding NaN as float: "123.0" */
  errno = 0;
  v = strtoll(buf, &end, 10);
  if (errno || end == buf || (*end && strcmp(end, ".0") != 0)) return -1;
  *out = (int64_t)v;
  return 0;
}

static const fld empty = {"", 0};
static const fld *get(const fld *f, int nf, int c) { return c >= 0 && c < nf ? &f[c] : &empty; }

/* Sort order for the rows read: note id, then file order (so that the last
** row of a duplicated id is the one kept). */
typedef struct ord {
  int64_t id;
  size_t row;
} ord;

static int cmp_ord(const void *x, const void *y) {
  const ord *a = x, *b = y;
  if (a->id != b->id) return a->id < b->id ? -1 : 1;
  return a->row < b->row ? -1 : a->row > b->row;
}

/* Puts the rows in note id order and drops all but the last row of an id. */
static int sort_side(ns_cmp_side *s) {
  ord *o;
  ns_cmp_side t;
  size_t k = 0;
  if (s->n == 0) return 0;
  if (!(o = malloc(s->n * sizeof *o))) return NS_ENOMEM;
  for (size_t i = 0; i < s->n; i++) o[i] = (ord){s->note_id[i], i};
  qsort(o, s->n, sizeof *o, cmp_ord);
  memset(&t, 0, sizeof t);
  t.note_id = malloc(s->n * sizeof *t.note_id);
  t.cls = malloc(s->n * sizeof *t.cls);
  t.status = malloc(s->n * sizeof *t.status);
  t.core_status = malloc(s->n * sizeof *t.core_status);
  t.decided_by = malloc(s->n * sizeof *t.decided_by);
  t.intercept = malloc(s->n * sizeof *t.intercept);
  t.factor = malloc(s->n * sizeof *t.factor);
  t.rules = malloc(s->n * sizeof *t.rules);
  if (!t.note_id || !t.cls || !t.status || !t.core_status || !t.decided_by || !t.intercept ||
      !t.factor || !t.rules) {
    free(t.note_id); free(t.cls); free(t.status); free(t.core_status); free(t.decided_by);
    free(t.intercept); free(t.factor); free(t.rules); free(o);
    return NS_ENOMEM;
  }
  for (size_t i = 0; i < s->n; i++) {
    size_t r = o[i].row;
    if (i + 1 < s->n && o[i + 1].id == o[i].id) { /* a later row of this id follows */
      s->n_dup++;
      continue;
    }
    t.note_id[k] = s->note_id[r];
    t.cls[k] = s->cls[r];
    t.status[k] = s->status[r];
    t.core_status[k] = s->core_status[r];
    t.decided_by[k] = s->decided_by[r];
    t.intercept[k] = s->intercept[r];
    t.factor[k] = s->factor[r];
    t.rules[k] = s->rules[r];
    k++;
  }
  free(o);
  free(s->note_id); free(s->cls); free(s->status); free(s->core_status); free(s->decided_by);
  free(s->intercept); free(s->factor); free(s->rules);
  s->note_id = t.note_id; s->cls = t.cls; s->status = t.status; s->core_status = t.core_status;
  s->decided_by = t.decided_by; s->intercept = t.intercept; s->factor = t.factor;
  s->rules = t.rules;
  s->n = k;
  return 0;
}

/* The file to read for path: a directory means DIR/scored_notes.tsv. */
static int resolve(const char *path, char **file, char *msg, size_t msg_len) {
  struct stat sb;
  *file = NULL;
  if (stat(path, &sb) != 0) {
    int e = errno;
    say(msg, msg_len, "%s: %s", path, strerror(e));
    return -e;
  }
  if (S_ISDIR(sb.st_mode)) {
    size_t n = strlen(path);
    char *f = malloc(n + sizeof "/scored_notes.tsv");
    if (!f) return NS_ENOMEM;
    sprintf(f, "%s%sscored_notes.tsv", path, n && path[n - 1] == '/' ? "" : "/");
    if (stat(f, &sb) != 0) {
      int e = errno;
      say(msg, msg_len, "%s: %s (a directory must be a notescore or reference output directory)",
          f, strerror(e));
      free(f);
      return -e;
    }
    *file = f;
    return 0;
  }
  if (!(*file = ns_strdup(path))) return NS_ENOMEM;
  return 0;
}

int ns_cmp_side_load(const char *path, ns_cmp_side **out, char *msg, size_t msg_len) {
  ns_cmp_side *s = NULL;
  FILE *f = NULL;
  char *line = NULL, *file = NULL;
  size_t lcap = 0, cap = 0;
  ssize_t len;
  fld *fl = NULL;
  int rc, nf, c_id, c_status, c_core, c_dec, c_icpt = -1, c_fac = -1, c_rules = -1, c_meta = -1;
  long long lineno = 1;

  *out = NULL;
  if (msg && msg_len) msg[0] = '\0';
  if ((rc = resolve(path, &file, msg, msg_len)) != 0) goto out;
  if (!(s = calloc(1, sizeof *s)) || !(fl = malloc(MAX_FIELDS * sizeof *fl))) {
    rc = NS_ENOMEM;
    goto out;
  }
  s->path = file;
  file = NULL;
  if (!(f = fopen(s->path, "r"))) {
    rc = -errno;
    say(msg, msg_len, "%s: %s", s->path, strerror(errno));
    goto out;
  }
  if ((len = getline(&line, &lcap, f)) < 0) {
    rc = ferror(f) ? NS_EIO : NS_EPARSE;
    say(msg, msg_len, "%s: %s", s->path, rc == NS_EIO ? strerror(errno) : "empty file, no header");
    goto out;
  }
  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
  nf = split(line, fl, MAX_FIELDS);
  c_id = col(fl, nf, "noteId");
  if ((c_status = col(fl, nf, "finalRatingStatus")) >= 0) {
    s->kind = col(fl, nf, "coreNoteInterceptRound1") >= 0 ||
                      col(fl, nf, "coreProvisionalRatingStatus") >= 0
                  ? NS_CMP_NOTESCORE
                  : NS_CMP_REFERENCE;
    c_core = col(fl, nf, "coreRatingStatus");
    c_dec = col(fl, nf, "decidedBy");
    c_icpt = col(fl, nf, "coreNoteIntercept");
    c_fac = col(fl, nf, "coreNoteFactor1");
    c_rules = col(fl, nf, "coreActiveRules");
    c_meta = col(fl, nf, "metaScorerActiveRules");
    s->has_model = c_icpt >= 0 && c_fac >= 0;
  } else if ((c_status = col(fl, nf, "currentStatus")) >= 0) {
    s->kind = NS_CMP_HISTORY;
    c_core = col(fl, nf, "currentCoreStatus");
    c_dec = col(fl, nf, "currentDecidedBy");
  } else {
    rc = NS_EPARSE;
    say(msg, msg_len,
        "%s:1: not a scored_notes.tsv or noteStatusHistory file: the header has neither "
        "finalRatingStatus nor currentStatus",
        s->path);
    goto out;
  }
  if (c_id < 0) {
    rc = NS_EPARSE;
    say(msg, msg_len, "%s:1: missing required column noteId", s->path);
    goto out;
  }
  {
    uint16_t none = 0;
    if ((rc = intern(s, "", 0, &none)) != 0) goto out;
  }

  while ((len = getline(&line, &lcap, f)) >= 0) {
    int64_t id;
    const fld *st;
    size_t i = s->n;
    lineno++;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    if (len == 0) continue;
    nf = split(line, fl, MAX_FIELDS);
    if (to_i64(fl, nf, c_id, &id) != 0) {
      s->n_bad++;
      continue;
    }
    st = get(fl, nf, c_status);
    if (s->kind == NS_CMP_HISTORY && st->n == 0) {
      /* a note with no published status is not a disagreement */
      s->n_unpublished++;
      continue;
    }
    if (i == cap && (rc = grow(s, &cap)) != 0) goto out;
    s->note_id[i] = id;
    {
      char sb[64];
      size_t n = st->n < sizeof sb ? st->n : sizeof sb - 1;
      memcpy(sb, st->p, n);
      sb[n] = '\0';
      s->cls[i] = (uint8_t)ns_report_status_class(sb);
    }
    /* the previous row's indexes are the hints */
    s->status[i] = i ? s->status[i - 1] : 0;
    s->core_status[i] = i ? s->core_status[i - 1] : 0;
    s->decided_by[i] = i ? s->decided_by[i - 1] : 0;
    if ((rc = intern(s, st->p, st->n, &s->status[i])) != 0 ||
        (rc = intern(s, get(fl, nf, c_core)->p, get(fl, nf, c_core)->n, &s->core_status[i])) != 0 ||
        (rc = intern(s, get(fl, nf, c_dec)->p, get(fl, nf, c_dec)->n, &s->decided_by[i])) != 0) {
      if (rc == NS_ERANGE)
        say(msg, msg_len, "%s:%lld: more than %d distinct status or decidedBy values", s->path,
            lineno, MAX_STRS);
      goto out;
    }
    s->intercept[i] = to_double(fl, nf, c_icpt);
    s->factor[i] = to_double(fl, nf, c_fac);
    {
      /* "coreRules | metaRules", either part may be empty */
      char buf[1024];
      const fld *a = get(fl, nf, c_rules), *b = get(fl, nf, c_meta);
      int n = snprintf(buf, sizeof buf, "%.*s%s%.*s", (int)a->n, a->p, a->n && b->n ? " | " : "",
                       (int)b->n, b->p);
      if (n < 0) n = 0;
      if ((size_t)n >= sizeof buf) n = sizeof buf - 1;
      if ((rc = arena_put(s, buf, (size_t)n, &s->rules[i])) != 0) goto out;
    }
    s->n++;
  }
  if (ferror(f)) {
    rc = NS_EIO;
    say(msg, msg_len, "%s: read error", s->path);
    goto out;
  }
  if (s->n == 0) {
    rc = NS_ENODATA;
    say(msg, msg_len, "%s: no notes (%zu rows without a noteId, %zu without a published status)",
        s->path, s->n_bad, s->n_unpublished);
    goto out;
  }
  if ((rc = sort_side(s)) != 0) goto out;
  *out = s;
  s = NULL;
out:
  if (rc == NS_ENOMEM && msg && msg_len && !msg[0]) say(msg, msg_len, "%s: out of memory", path);
  if (f) fclose(f);
  free(line);
  free(fl);
  free(file);
  ns_cmp_side_free(s);
  return rc;
}

long ns_cmp_side_find(const ns_cmp_side *s, int64_t id) {
  size_t lo = 0, hi = s->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->note_id[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < s->n && s->note_id[lo] == id ? (long)lo : -1;
}

/* ---- figures ------------------------------------------------------------ */

void ns_cmp_result_free(ns_cmp_result *r) {
  if (!r) return;
  free(r->by_a);
  free(r->by_b);
  free(r->disagree);
  free(r);
}

/* Pearson correlation of x and y over the pairs where both are finite. */
typedef struct corr {
  size_t n;
  double sx, sy;        /* first pass: sums for the means */
  double sxx, syy, sxy; /* second pass: centred sums */
} corr;

static double pearson(const ns_cmp_side *a, const ns_cmp_side *b, const ns_cmp_pair *p, size_t n,
                      int factor, size_t *count) {
  corr c = {0};
  double mx, my;
  for (size_t i = 0; i < n; i++) {
    double x = factor ? a->factor[p[i].ia] : a->intercept[p[i].ia];
    double y = factor ? b->factor[p[i].ib] : b->intercept[p[i].ib];
    if (!isfinite(x) || !isfinite(y)) continue;
    c.n++;
    c.sx += x;
    c.sy += y;
  }
  *count = c.n;
  if (c.n < 2) return NAN;
  mx = c.sx / (double)c.n;
  my = c.sy / (double)c.n;
  for (size_t i = 0; i < n; i++) {
    double x = factor ? a->factor[p[i].ia] : a->intercept[p[i].ia];
    double y = factor ? b->factor[p[i].ib] : b->intercept[p[i].ib];
    if (!isfinite(x) || !isfinite(y)) continue;
    c.sxx += (x - mx) * (x - mx);
    c.syy += (y - my) * (y - my);
    c.sxy += (x - mx) * (y - my);
  }
  if (c.sxx <= 0 || c.syy <= 0) return NAN;
  return c.sxy / sqrt(c.sxx * c.syy);
}

typedef struct rank {
  int severity;  /* 2: CRH <-> CRNH, 1: any other disagreement */
  double margin; /* secondary key, larger first; -1 when unknown */
  int64_t id;
  ns_cmp_pair p;
} rank;

static int cmp_rank(const void *x, const void *y) {
  const rank *a = x, *b = y;
  if (a->severity != b->severity) return a->severity > b->severity ? -1 : 1;
  if (a->margin != b->margin) return a->margin > b->margin ? -1 : 1;
  return a->id < b->id ? -1 : a->id > b->id;
}

static double margin(const ns_cmp_side *a, const ns_cmp_side *b, ns_cmp_pair p) {
  double x = a->intercept[p.ia], y = b->intercept[p.ib];
  if (isfinite(x) && isfinite(y)) return fabs(x - y);
  if (isfinite(x)) return fabs(x - 0.40);
  if (isfinite(y)) return fabs(y - 0.40);
  return -1;
}

typedef struct gcount {
  size_t notes, agree;
  uint16_t idx;
} gcount;

static int cmp_gcount(const void *x, const void *y) {
  const gcount *a = x, *b = y;
  if (a->notes != b->notes) return a->notes > b->notes ? -1 : 1;
  return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Agreement per decider of one side (dec: that side's decider indexes),
** most notes first; *out points into the side's strings. */
static int groups(const ns_cmp_side *s, const uint16_t *dec, const ns_cmp_pair *p, size_t n,
                  const uint8_t *agree, int side_b, ns_cmp_group **out, size_t *n_out) {
  gcount *g = calloc(s->n_strs ? s->n_strs : 1, sizeof *g);
  size_t k = 0;
  *out = NULL;
  *n_out = 0;
  if (!g) return NS_ENOMEM;
  for (size_t i = 0; i < s->n_strs; i++) g[i].idx = (uint16_t)i;
  for (size_t i = 0; i < n; i++) {
    uint16_t d = dec[side_b ? p[i].ib : p[i].ia];
    g[d].notes++;
    g[d].agree += agree[i];
  }
  qsort(g, s->n_strs, sizeof *g, cmp_gcount);
  while (k < s->n_strs && g[k].notes) k++;
  if (k && !(*out = malloc(k * sizeof **out))) {
    free(g);
    return NS_ENOMEM;
  }
  for (size_t i = 0; i < k; i++)
    (*out)[i] = (ns_cmp_group){s->strs[g[i].idx], g[i].notes, g[i].agree};
  *n_out = k;
  free(g);
  return 0;
}

int ns_cmp_compute(const ns_cmp_side *a, const ns_cmp_side *b, ns_cmp_result **out) {
  ns_cmp_result *r = calloc(1, sizeof *r);
  ns_cmp_pair *p = NULL;
  uint8_t *agree = NULL;
  rank *rk = NULL;
  size_t i = 0, j = 0, n = 0, nd = 0, cap = a->n < b->n ? a->n : b->n;
  int rc = NS_ENOMEM;

  *out = NULL;
  if (!r) return NS_ENOMEM;
  if (!(p = malloc((cap ? cap : 1) * sizeof *p)) || !(agree = malloc(cap ? cap : 1)))
    goto out;
  /* merge join over the two ascending id lists */
  while (i < a->n && j < b->n) {
    if (a->note_id[i] < b->note_id[j]) { r->n_only_a++; i++; }
    else if (a->note_id[i] > b->note_id[j]) { r->n_only_b++; j++; }
    else { p[n++] = (ns_cmp_pair){i++, j++}; }
  }
  r->n_only_a += a->n - i;
  r->n_only_b += b->n - j;
  r->n_common = n;
  for (size_t k = 0; k < n; k++) {
    int ca = a->cls[p[k].ia], cb = b->cls[p[k].ib];
    r->matrix[ca][cb]++;
    agree[k] = ca == cb;
    r->n_agree += agree[k];
    if (ca == NS_SCLASS_CRH && cb == NS_SCLASS_CRH) r->crh_both++;
    if (ca == NS_SCLASS_CRH || cb == NS_SCLASS_CRH) r->crh_either++;
  }
  r->agreement = n ? (double)r->n_agree / (double)n : NAN;
  r->crh_jaccard = r->crh_either ? (double)r->crh_both / (double)r->crh_either : NAN;
  r->r_intercept = pearson(a, b, p, n, 0, &r->n_intercept);
  r->r_factor = pearson(a, b, p, n, 1, &r->n_factor);
  if ((rc = groups(a, a->decided_by, p, n, agree, 0, &r->by_a, &r->n_by_a)) != 0 ||
      (rc = groups(b, b->decided_by, p, n, agree, 1, &r->by_b, &r->n_by_b)) != 0)
    goto out;
  rc = NS_ENOMEM;
  if (!(rk = malloc((n - r->n_agree + 1) * sizeof *rk))) goto out;
  for (size_t k = 0; k < n; k++) {
    int ca, cb;
    if (agree[k]) continue;
    ca = a->cls[p[k].ia];
    cb = b->cls[p[k].ib];
    rk[nd].severity = (ca == NS_SCLASS_CRH && cb == NS_SCLASS_CRNH) ||
                              (ca == NS_SCLASS_CRNH && cb == NS_SCLASS_CRH)
                          ? 2
                          : 1;
    rk[nd].margin = margin(a, b, p[k]);
    rk[nd].id = a->note_id[p[k].ia];
    rk[nd].p = p[k];
    nd++;
  }
  qsort(rk, nd, sizeof *rk, cmp_rank);
  if (!(r->disagree = malloc((nd ? nd : 1) * sizeof *r->disagree))) goto out;
  for (size_t k = 0; k < nd; k++) r->disagree[k] = rk[k].p;
  r->n_disagree = nd;
  rc = 0;
  *out = r;
  r = NULL;
out:
  free(rk);
  free(agree);
  free(p);
  ns_cmp_result_free(r);
  return rc;
}

/* ---- JSON ---------------------------------------------------------------- */

static json_t *num_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *side_json(const ns_cmp_side *s) {
  return json_pack("{s:s, s:s, s:I, s:b, s:I, s:I, s:I}", "path", s->path, "kind",
                   ns_cmp_kind_name(s->kind), "notes", (json_int_t)s->n, "hasModel",
                   s->has_model, "duplicateRows", (json_int_t)s->n_dup, "badRows",
                   (json_int_t)s->n_bad, "unpublishedRows", (json_int_t)s->n_unpublished);
}

static json_t *note_side(const ns_cmp_side *s, size_t i) {
  json_t *o = json_object();
  if (!o) return NULL;
  json_object_set_new(o, "status", json_string(s->strs[s->status[i]]));
  json_object_set_new(o, "coreStatus", json_string(s->strs[s->core_status[i]]));
  json_object_set_new(o, "decidedBy", json_string(s->strs[s->decided_by[i]]));
  json_object_set_new(o, "intercept", num_or_null(s->intercept[i]));
  json_object_set_new(o, "factor", num_or_null(s->factor[i]));
  json_object_set_new(o, "rules", json_string(s->arena + s->rules[i]));
  return o;
}

static json_t *groups_json(const ns_cmp_group *g, size_t n) {
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < n; i++)
    json_array_append_new(
        arr, json_pack("{s:s, s:I, s:I, s:o}", "decidedBy", g[i].decided_by, "notes",
                       (json_int_t)g[i].notes, "agreeing", (json_int_t)g[i].agree, "agreement",
                       num_or_null((double)g[i].agree / (double)g[i].notes)));
  return arr;
}

json_t *ns_cmp_to_json(const ns_cmp_side *a, const ns_cmp_side *b, const ns_cmp_result *r,
                       size_t top) {
  json_t *o = json_object(), *m = json_array(), *cls = json_array(), *t = json_array();
  char id[32];
  if (!o || !m || !cls || !t) goto fail;
  for (int k = 0; k < NS_SCLASS_COUNT; k++) {
    json_t *row = json_array();
    json_array_append_new(cls, json_string(ns_cmp_class_names[k]));
    for (int l = 0; l < NS_SCLASS_COUNT; l++)
      json_array_append_new(row, json_integer((json_int_t)r->matrix[k][l]));
    json_array_append_new(m, row);
  }
  for (size_t k = 0; k < r->n_disagree && k < top; k++) {
    ns_cmp_pair p = r->disagree[k];
    snprintf(id, sizeof id, "%lld", (long long)a->note_id[p.ia]);
    json_array_append_new(t, json_pack("{s:s, s:o, s:o}", "noteId", id, "a", note_side(a, p.ia),
                                       "b", note_side(b, p.ib)));
  }
  json_object_set_new(o, "a", side_json(a));
  json_object_set_new(o, "b", side_json(b));
  json_object_set_new(o, "notesInCommon", json_integer((json_int_t)r->n_common));
  json_object_set_new(o, "onlyInA", json_integer((json_int_t)r->n_only_a));
  json_object_set_new(o, "onlyInB", json_integer((json_int_t)r->n_only_b));
  json_object_set_new(o, "agreeing", json_integer((json_int_t)r->n_agree));
  json_object_set_new(o, "disagreeing", json_integer((json_int_t)r->n_disagree));
  json_object_set_new(o, "statusAgreement", num_or_null(r->agreement));
  json_object_set_new(o, "classes", cls);
  json_object_set_new(o, "confusionMatrix", m);
  json_object_set_new(o, "crhBoth", json_integer((json_int_t)r->crh_both));
  json_object_set_new(o, "crhEither", json_integer((json_int_t)r->crh_either));
  json_object_set_new(o, "crhJaccard", num_or_null(r->crh_jaccard));
  json_object_set_new(o, "agreementByDecidedBy",
                      json_pack("{s:o, s:o}", "a", groups_json(r->by_a, r->n_by_a), "b",
                                groups_json(r->by_b, r->n_by_b)));
  json_object_set_new(o, "interceptCorrelation",
                      json_pack("{s:o, s:I}", "pearson", num_or_null(r->r_intercept), "notes",
                                (json_int_t)r->n_intercept));
  json_object_set_new(o, "factorCorrelation",
                      json_pack("{s:o, s:I}", "pearson", num_or_null(r->r_factor), "notes",
                                (json_int_t)r->n_factor));
  json_object_set_new(o, "topDisagreements", t);
  return o;
fail:
  json_decref(o);
  json_decref(m);
  json_decref(cls);
  json_decref(t);
  return NULL;
}
