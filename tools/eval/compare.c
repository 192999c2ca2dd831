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

/* The reference's scorer column prefixes (shared reference-output-columns.md):
** the core model and the eight others of base/dataset.h's enum ns_model. */
const char *const ns_cmp_model_names[NS_CMP_MODELS] = {
    "core",      "coreWithTopics", "expansion", "expansionPlus",         "group",
    "multiGroup", "topic",         "gaussian",  "gaussianCoreWithTopics"};

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
  for (int k = 0; k < NS_CMP_MODELS; k++) free(s->model_status[k]);
  for (size_t i = 0; i < s->n_strs; i++) free(s->strs[i]);
  free(s->strs);
  free(s->rule);
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

/* Grows every per-note array to twice *cap; the model status arrays only
** for the columns in models (bit k: ns_cmp_model_names[k]). */
static int grow(ns_cmp_side *s, size_t *cap, unsigned models) {
  size_t nc = *cap ? *cap * 2 : 1024;
#define G(field)                                                      \
  do {                                                                \
    void *np = realloc(s->field, nc * sizeof *s->field);              \
    if (!np) return NS_ENOMEM;                                        \
    s->field = np;                                                    \
  } while (0)
  G(note_id); G(cls); G(status); G(core_status); G(decided_by);
  G(intercept); G(factor); G(rules);
  for (int k = 0; k < NS_CMP_MODELS; k++)
    if (models & (1u << k)) G(model_status[k]);
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

/* Reorders every per-note array of s to rows keep[0..k) (k <= s->n). */
static int permute(ns_cmp_side *s, const size_t *keep, size_t k) {
#define P(field)                                                      \
  do {                                                                \
    if (s->field) {                                                   \
      void *np_ = malloc((k ? k : 1) * sizeof *s->field);             \
      if (!np_) return NS_ENOMEM;                                     \
      for (size_t i_ = 0; i_ < k; i_++)                               \
        memcpy((char *)np_ + i_ * sizeof *s->field, &s->field[keep[i_]], sizeof *s->field); \
      free(s->field);                                                 \
      s->field = np_;                                                 \
    }                                                                 \
  } while (0)
  /* a failure part way leaves arrays of mixed order: the caller frees the
  ** side (ns_cmp_side_load) or keeps s->n unchanged below (exclude) */
  P(note_id); P(cls); P(status); P(core_status); P(decided_by);
  P(intercept); P(factor); P(rules);
  for (int m = 0; m < NS_CMP_MODELS; m++) P(model_status[m]);
#undef P
  s->n = k;
  return 0;
}

/* Puts the rows in note id order and drops all but the last row of an id. */
static int sort_side(ns_cmp_side *s) {
  ord *o;
  size_t *keep, k = 0;
  int rc;
  if (s->n == 0) return 0;
  if (!(o = malloc(s->n * sizeof *o))) return NS_ENOMEM;
  if (!(keep = malloc(s->n * sizeof *keep))) {
    free(o);
    return NS_ENOMEM;
  }
  for (size_t i = 0; i < s->n; i++) o[i] = (ord){s->note_id[i], i};
  qsort(o, s->n, sizeof *o, cmp_ord);
  for (size_t i = 0; i < s->n; i++) {
    if (i + 1 < s->n && o[i + 1].id == o[i].id) { /* a later row of this id follows */
      s->n_dup++;
      continue;
    }
    keep[k++] = o[i].row;
  }
  free(o);
  rc = permute(s, keep, k);
  free(keep);
  return rc;
}

size_t ns_cmp_rule_len(const char *d) {
  size_t n = strlen(d);
  /* a name, then " (v" + at least one character + ")" at the end */
  if (n >= 6 && d[n - 1] == ')')
    for (size_t i = n - 5; i > 0; i--)
      if (d[i] == ' ' && d[i + 1] == '(' && d[i + 2] == 'v') return i;
  return n;
}

/* Fills s->rule: each string's index without its version suffix (interned
** too; a suffix-free string maps to itself). */
static int build_rules(ns_cmp_side *s) {
  size_t n0 = s->n_strs;
  int rc;
  if (!(s->rule = malloc(2 * n0 * sizeof *s->rule))) return NS_ENOMEM;
  for (size_t i = 0; i < n0; i++) {
    uint16_t idx = (uint16_t)i;
    if ((rc = intern(s, s->strs[i], ns_cmp_rule_len(s->strs[i]), &idx)) != 0) return rc;
    s->rule[i] = idx;
  }
  /* strings added above have no suffix */
  for (size_t i = n0; i < s->n_strs; i++) s->rule[i] = (uint16_t)i;
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
  int c_model[NS_CMP_MODELS];
  unsigned models = 0;
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
    for (int k = 0; k < NS_CMP_MODELS; k++) {
      char name[64];
      snprintf(name, sizeof name, "%sRatingStatus", ns_cmp_model_names[k]);
      if ((c_model[k] = col(fl, nf, name)) >= 0) models |= 1u << k;
    }
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
  /* allocated here so that a side with no rows still says which columns
  ** it has (grow reallocs them) */
  for (int k = 0; k < NS_CMP_MODELS; k++)
    if ((models & (1u << k)) && !(s->model_status[k] = malloc(sizeof *s->model_status[k]))) {
      rc = NS_ENOMEM;
      goto out;
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
    if (i == cap && (rc = grow(s, &cap, models)) != 0) goto out;
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
    for (int k = 0; k < NS_CMP_MODELS; k++) {
      const fld *m;
      if (!(models & (1u << k))) continue;
      m = get(fl, nf, c_model[k]);
      s->model_status[k][i] = i ? s->model_status[k][i - 1] : 0;
      if ((rc = intern(s, m->p, m->n, &s->model_status[k][i])) != 0) {
        if (rc == NS_ERANGE)
          say(msg, msg_len, "%s:%lld: more than %d distinct status or decidedBy values", s->path,
              lineno, MAX_STRS);
        goto out;
      }
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
  if ((rc = sort_side(s)) != 0 || (rc = build_rules(s)) != 0) {
    if (rc == NS_ERANGE)
      say(msg, msg_len, "%s: more than %d distinct status or decidedBy values", s->path, MAX_STRS);
    goto out;
  }
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

static int cmp_i64(const void *x, const void *y) {
  int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
  return a < b ? -1 : a > b;
}

int ns_cmp_locked_load(const char *path, int64_t **ids, size_t *n, char *msg, size_t msg_len) {
  struct stat sb;
  char *file = NULL, *line = NULL;
  FILE *f = NULL;
  fld *fl = NULL;
  int64_t *v = NULL;
  size_t lcap = 0, nv = 0, cap = 0;
  ssize_t len;
  int rc = 0, nf, c_id, c_lock;

  *ids = NULL;
  *n = 0;
  if (msg && msg_len) msg[0] = '\0';
  if (stat(path, &sb) != 0) {
    rc = -errno;
    say(msg, msg_len, "%s: %s", path, strerror(errno));
    return rc;
  }
  if (S_ISDIR(sb.st_mode)) {
    size_t pn = strlen(path);
    if (!(file = malloc(pn + sizeof "/noteStatusHistory-00000.tsv"))) return NS_ENOMEM;
    sprintf(file, "%s%snoteStatusHistory-00000.tsv", path, pn && path[pn - 1] == '/' ? "" : "/");
  } else if (!(file = ns_strdup(path))) {
    return NS_ENOMEM;
  }
  if (!(fl = malloc(MAX_FIELDS * sizeof *fl))) {
    rc = NS_ENOMEM;
    goto out;
  }
  if (!(f = fopen(file, "r"))) {
    rc = -errno;
    say(msg, msg_len, "%s: %s", file, strerror(errno));
    goto out;
  }
  if ((len = getline(&line, &lcap, f)) < 0) {
    rc = NS_EPARSE;
    say(msg, msg_len, "%s: empty file, no header", file);
    goto out;
  }
  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
  nf = split(line, fl, MAX_FIELDS);
  c_id = col(fl, nf, "noteId");
  c_lock = col(fl, nf, "lockedStatus");
  if (c_id < 0 || c_lock < 0) {
    rc = NS_EPARSE;
    say(msg, msg_len, "%s:1: not a noteStatusHistory file: needs columns noteId and lockedStatus",
        file);
    goto out;
  }
  while ((len = getline(&line, &lcap, f)) >= 0) {
    int64_t id;
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    nf = split(line, fl, MAX_FIELDS);
    if (get(fl, nf, c_lock)->n == 0 || to_i64(fl, nf, c_id, &id) != 0) continue;
    if (nv == cap) {
      size_t nc = cap ? cap * 2 : 1024;
      int64_t *nw = realloc(v, nc * sizeof *nw);
      if (!nw) {
        rc = NS_ENOMEM;
        goto out;
      }
      v = nw;
      cap = nc;
    }
    v[nv++] = id;
  }
  if (ferror(f)) {
    rc = NS_EIO;
    say(msg, msg_len, "%s: read error", file);
    goto out;
  }
  if (nv) {
    size_t k = 1;
    qsort(v, nv, sizeof *v, cmp_i64);
    for (size_t i = 1; i < nv; i++)
      if (v[i] != v[k - 1]) v[k++] = v[i];
    nv = k;
  }
  *ids = v;
  *n = nv;
  v = NULL;
out:
  if (rc == NS_ENOMEM && msg && msg_len && !msg[0]) say(msg, msg_len, "%s: out of memory", path);
  if (f) fclose(f);
  free(v);
  free(line);
  free(fl);
  free(file);
  return rc;
}

void ns_cmp_side_exclude(ns_cmp_side *s, const int64_t *ids, size_t n) {
  size_t j = 0, k = 0;
  for (size_t i = 0; i < s->n; i++) {
    while (j < n && ids[j] < s->note_id[i]) j++;
    if (j < n && ids[j] == s->note_id[i]) continue;
    if (k != i) {
      /* rows only move down (k < i): in place, no allocation */
#define M(field) s->field[k] = s->field[i]
      M(note_id); M(cls); M(status); M(core_status); M(decided_by);
      M(intercept); M(factor); M(rules);
#undef M
      for (int m = 0; m < NS_CMP_MODELS; m++)
        if (s->model_status[m]) s->model_status[m][k] = s->model_status[m][i];
    }
    k++;
  }
  s->n_locked += s->n - k;
  s->n = k;
}

/* ---- figures ------------------------------------------------------------ */

void ns_cmp_result_free(ns_cmp_result *r) {
  if (!r) return;
  free(r->by_a);
  free(r->by_b);
  free(r->disagree);
  free(r->by_rule);
  free(r->rule_pairs);
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

static int cmp_rule_group(const void *x, const void *y) {
  const ns_cmp_rule_group *a = x, *b = y;
  if (a->disagree != b->disagree) return a->disagree > b->disagree ? -1 : 1;
  if (a->notes != b->notes) return a->notes > b->notes ? -1 : 1;
  return strcmp(a->rule, b->rule);
}

/* Status disagreements per B rule (without version suffix). */
static int rule_groups(const ns_cmp_side *a, const ns_cmp_side *b, const ns_cmp_pair *p,
                       size_t n, ns_cmp_result *r) {
  ns_cmp_rule_group *g = calloc(b->n_strs ? b->n_strs : 1, sizeof *g);
  size_t k = 0;
  if (!g) return NS_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    ns_cmp_rule_group *x = &g[b->rule[b->decided_by[p[i].ib]]];
    int ca = a->cls[p[i].ia], cb = b->cls[p[i].ib];
    x->notes++;
    if (ca != cb) {
      x->disagree++;
      x->pairs[ca][cb]++;
    }
  }
  for (size_t i = 0; i < b->n_strs; i++)
    if (g[i].notes) {
      g[k] = g[i];
      g[k].rule = b->strs[i];
      k++;
    }
  qsort(g, k, sizeof *g, cmp_rule_group);
  r->by_rule = g;
  r->n_by_rule = k;
  return 0;
}

static int cmp_rule_pair_names(const void *x, const void *y) {
  const ns_cmp_rule_pair *a = x, *b = y;
  int c = strcmp(a->a, b->a);
  return c ? c : strcmp(a->b, b->b);
}

static int cmp_rule_pair_count(const void *x, const void *y) {
  const ns_cmp_rule_pair *a = x, *b = y;
  if (a->notes != b->notes) return a->notes > b->notes ? -1 : 1;
  return cmp_rule_pair_names(x, y);
}

/* decidedBy agreement and the differing rule pairs, counted. */
static int rule_pairs(const ns_cmp_side *a, const ns_cmp_side *b, const ns_cmp_pair *p, size_t n,
                      ns_cmp_result *r) {
  ns_cmp_rule_pair *v = malloc((n ? n : 1) * sizeof *v);
  size_t nv = 0, k = 0;
  if (!v) return NS_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const char *ra = a->strs[a->rule[a->decided_by[p[i].ia]]];
    const char *rb = b->strs[b->rule[b->decided_by[p[i].ib]]];
    if (!strcmp(ra, rb)) r->n_rule_agree++;
    else v[nv++] = (ns_cmp_rule_pair){ra, rb, 1};
  }
  r->rule_agreement = n ? (double)r->n_rule_agree / (double)n : NAN;
  qsort(v, nv, sizeof *v, cmp_rule_pair_names);
  for (size_t i = 0; i < nv; i++) {
    if (k && !cmp_rule_pair_names(&v[k - 1], &v[i])) v[k - 1].notes++;
    else v[k++] = v[i];
  }
  qsort(v, k, sizeof *v, cmp_rule_pair_count);
  r->rule_pairs = v;
  r->n_rule_pairs = k;
  return 0;
}

/* Per-scorer status columns both sides have: exact text (FIRM_REJECT and
** NEEDS_YOUR_HELP are statuses of their own there). */
static void model_figures(const ns_cmp_side *a, const ns_cmp_side *b, const ns_cmp_pair *p,
                          size_t n, ns_cmp_result *r) {
  for (int k = 0; k < NS_CMP_MODELS; k++) {
    ns_cmp_model *m = &r->models[k];
    const uint16_t *sa = a->model_status[k], *sb = b->model_status[k];
    if (!sa || !sb) continue;
    m->present = 1;
    for (size_t i = 0; i < n; i++) {
      const char *x = a->strs[sa[p[i].ia]], *y = b->strs[sb[p[i].ib]];
      m->scored_a += x[0] != '\0';
      m->scored_b += y[0] != '\0';
      if (x[0] && y[0]) {
        m->scored_both++;
        m->agree += !strcmp(x, y);
      }
    }
  }
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
      (rc = groups(b, b->decided_by, p, n, agree, 1, &r->by_b, &r->n_by_b)) != 0 ||
      (rc = rule_groups(a, b, p, n, r)) != 0 || (rc = rule_pairs(a, b, p, n, r)) != 0)
    goto out;
  model_figures(a, b, p, n, r);
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
  return json_pack("{s:s, s:s, s:I, s:b, s:I, s:I, s:I, s:I}", "path", s->path, "kind",
                   ns_cmp_kind_name(s->kind), "notes", (json_int_t)s->n, "hasModel",
                   s->has_model, "duplicateRows", (json_int_t)s->n_dup, "badRows",
                   (json_int_t)s->n_bad, "unpublishedRows", (json_int_t)s->n_unpublished,
                   "lockedNotesLeftOut", (json_int_t)s->n_locked);
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

/* [{a, b, notes}] of the non-zero off-diagonal cells, most notes first
** (ties: A's class, then B's, in class order). */
static json_t *pairs_json(const size_t m[NS_SCLASS_COUNT][NS_SCLASS_COUNT]) {
  json_t *arr = json_array();
  size_t done[NS_SCLASS_COUNT][NS_SCLASS_COUNT] = {{0}};
  for (;;) {
    int bi = -1, bj = -1;
    for (int i = 0; i < NS_SCLASS_COUNT; i++)
      for (int j = 0; j < NS_SCLASS_COUNT; j++)
        if (m[i][j] && !done[i][j] && (bi < 0 || m[i][j] > m[bi][bj])) bi = i, bj = j;
    if (bi < 0 || !arr) break;
    done[bi][bj] = 1;
    json_array_append_new(arr, json_pack("{s:s, s:s, s:I}", "a", ns_cmp_class_names[bi], "b",
                                         ns_cmp_class_names[bj], "notes", (json_int_t)m[bi][bj]));
  }
  return arr;
}

json_t *ns_cmp_to_json(const ns_cmp_side *a, const ns_cmp_side *b, const ns_cmp_result *r,
                       size_t top) {
  json_t *byr = json_array(), *rp = json_array(), *mods = json_array();
  json_t *o = json_object(), *m = json_array(), *cls = json_array(), *t = json_array();
  char id[32];
  if (!o || !m || !cls || !t || !byr || !rp || !mods) goto fail;
  for (size_t k = 0; k < r->n_by_rule; k++) {
    const ns_cmp_rule_group *g = &r->by_rule[k];
    json_array_append_new(
        byr, json_pack("{s:s, s:I, s:I, s:o, s:o}", "decidedBy", g->rule, "notes",
                       (json_int_t)g->notes, "disagreeing", (json_int_t)g->disagree,
                       "statusAgreement", num_or_null(1.0 - (double)g->disagree / (double)g->notes),
                       "pairs", pairs_json(g->pairs)));
  }
  for (size_t k = 0; k < r->n_rule_pairs; k++)
    json_array_append_new(rp, json_pack("{s:s, s:s, s:I}", "a", r->rule_pairs[k].a, "b",
                                        r->rule_pairs[k].b, "notes",
                                        (json_int_t)r->rule_pairs[k].notes));
  for (int k = 0; k < NS_CMP_MODELS; k++) {
    const ns_cmp_model *x = &r->models[k];
    if (!x->present) continue;
    json_array_append_new(
        mods, json_pack("{s:s, s:I, s:I, s:I, s:I, s:o}", "model", ns_cmp_model_names[k],
                        "scoredA", (json_int_t)x->scored_a, "scoredB", (json_int_t)x->scored_b,
                        "scoredBoth", (json_int_t)x->scored_both, "agreeing",
                        (json_int_t)x->agree,
                        "agreement",
                        num_or_null(x->scored_both ? (double)x->agree / (double)x->scored_both
                                                   : NAN)));
  }
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
  json_object_set_new(o, "decidedByAgreement", num_or_null(r->rule_agreement));
  json_object_set_new(o, "decidedByAgreeing", json_integer((json_int_t)r->n_rule_agree));
  json_object_set_new(o, "disagreementsByDecidedBy", byr);
  json_object_set_new(o, "decidedByConfusion", rp);
  json_object_set_new(o, "models", mods);
  return o;
fail:
  json_decref(byr);
  json_decref(rp);
  json_decref(mods);
  json_decref(o);
  json_decref(m);
  json_decref(cls);
  json_decref(t);
  return NULL;
}
