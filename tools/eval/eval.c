/*
** tools/eval/eval.c -- metrics of a scoring run against gen's ground truth.
**
** Called by tools/cmd_eval.c and the tests.  Single-threaded.
**
** Both files are read line by line and mapped by header name, so extra or
** reordered columns are fine.  The scored notes are kept as (noteId,
** status, intercept) sorted by noteId; truth notes look themselves up by
** binary search.  Status strings are interned in an ns_strtab, so any
** status (including ones we do not know) is counted and compared exactly.
*/
#include "eval.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../base/base.h"
#include "../gen/gen.h"

#define MAX_FIELDS 512

/* ---- a minimal header-mapped TSV reader ----------------------------------- */

/* One open file.  fld[] points into line[] and is valid until the next
** next_line(); the header names live in their own copy (hdr). */
typedef struct tsv {
  FILE *f;
  const char *path;       /* borrowed, for messages */
  char *line;             /* getline() buffer, reused for every row */
  size_t cap;
  long lineno;            /* 1-based number of the line in line[] */
  int nf;                 /* fields in the current row */
  char *fld[MAX_FIELDS];
  char *hdr;              /* copy of the header line's fields */
  int nh;                 /* header fields */
  char *hname[MAX_FIELDS];
} tsv;

static void set_err(char *err, size_t len, const char *fmt, ...) {
  va_list ap;
  if (!err || !len) return;
  va_start(ap, fmt);
  vsnprintf(err, len, fmt, ap);
  va_end(ap);
}

/* Splits the current line in place on tabs, dropping the line end (LF or
** CRLF).  Fields beyond MAX_FIELDS are merged into the last one, which is
** harmless: eval only looks at a handful of named columns. */
static void split(tsv *t) {
  char *p = t->line;
  size_t n = strlen(p);
  while (n && (p[n - 1] == '\n' || p[n - 1] == '\r')) p[--n] = '\0';
  t->nf = 0;
  t->fld[t->nf++] = p;
  for (; *p; p++)
    if (*p == '\t') {
      *p = '\0';
      if (t->nf < MAX_FIELDS) t->fld[t->nf++] = p + 1;
    }
}

/* Reads the next line; 1 = got one, 0 = end of file, <0 = error. */
static int next_line(tsv *t) {
  errno = 0;
  if (getline(&t->line, &t->cap, t->f) < 0) return ferror(t->f) ? (errno ? -errno : NS_EIO) : 0;
  t->lineno++;
  split(t);
  return 1;
}

static int tsv_open(tsv *t, const char *path, char *err, size_t elen) {
  int rc;
  memset(t, 0, sizeof *t);
  t->path = path;
  t->f = fopen(path, "rb");
  if (!t->f) {
    rc = -errno;
    set_err(err, elen, "%s: %s", path, ns_strerror(rc));
    return rc;
  }
  rc = next_line(t);
  if (rc <= 0) {
    set_err(err, elen, "%s:1: %s", path, rc == 0 ? "empty file, expected a header line" : ns_strerror(rc));
    return rc == 0 ? NS_EPARSE : rc;
  }
  /* keep the header names: the line buffer is reused for every row */
  {
    size_t total = 0;
    for (int i = 0; i < t->nf; i++) total += strlen(t->fld[i]) + 1;
    t->hdr = malloc(total ? total : 1);
    if (!t->hdr) return NS_ENOMEM;
    total = 0;
    for (int i = 0; i < t->nf; i++) {
      size_t l = strlen(t->fld[i]) + 1;
      memcpy(t->hdr + total, t->fld[i], l);
      t->hname[i] = t->hdr + total;
      total += l;
    }
    t->nh = t->nf;
  }
  return 0;
}

static void tsv_close(tsv *t) {
  if (t->f) fclose(t->f);
  free(t->line);
  free(t->hdr);
  memset(t, 0, sizeof *t);
}

/* Column index by name; -1 if absent (and an error if required). */
static int col(const tsv *t, const char *name, int required, int *rc, char *err, size_t elen) {
  for (int i = 0; i < t->nh; i++)
    if (!strcmp(t->hname[i], name)) return i;
  if (required && !*rc) {
    set_err(err, elen, "%s:1: missing required column '%s'", t->path, name);
    *rc = NS_ECOLUMN;
  }
  return -1;
}

/* Field c of the current row; "" for an absent optional column or a short
** row (a short row then fails to parse where a value is required). */
static const char *field(const tsv *t, int c) { return c >= 0 && c < t->nf ? t->fld[c] : ""; }

static int parse_i64(const char *s, int64_t *out) {
  char *end;
  long long v;
  errno = 0;
  if (!*s) return -1;
  v = strtoll(s, &end, 10);
  /* accept "123.0", as pandas writes float-typed id columns */
  if (*end == '.') {
    const char *p = end + 1;
    while (*p == '0') p++;
    if (*p) return -1;
  } else if (*end) {
    return -1;
  }
  if (errno) return -1;
  *out = v;
  return 0;
}

/* A double; empty, "nan", "NaN", "<NA>" -> NAN.  -1 on garbage. */
static int parse_num(const char *s, double *out) {
  char *end;
  if (!*s || !strcmp(s, "<NA>")) {
    *out = NAN;
    return 0;
  }
  *out = strtod(s, &end);
  return *end ? -1 : 0;
}

/* 0/1 flags as gen writes them, plus the spellings pandas would use; an
** empty cell is 0 so optional flag columns may be left blank. */
static int parse_bool(const char *s, int *out) {
  if (!strcmp(s, "1") || !strcmp(s, "1.0") || !strcmp(s, "True") || !strcmp(s, "true")) *out = 1;
  else if (!strcmp(s, "0") || !strcmp(s, "0.0") || !strcmp(s, "False") || !strcmp(s, "false") || !*s) *out = 0;
  else return -1;
  return 0;
}

/* ---- loaded files --------------------------------------------------------- */

typedef struct truth_row {
  int64_t id;
  double quality, slant;
  uint8_t helpful, ip;
  int8_t target;       /* 0 none, 1 bad, 2 good */
} truth_row;

typedef struct score_row {
  int64_t id;
  int32_t status;      /* index into the shared status table */
  double intercept;    /* NAN when absent */
} score_row;

typedef NS_VEC(truth_row) truth_vec;
typedef NS_VEC(score_row) score_vec;

static int cmp_truth(const void *a, const void *b) {
  int64_t x = ((const truth_row *)a)->id, y = ((const truth_row *)b)->id;
  return (x > y) - (x < y);
}
static int cmp_score(const void *a, const void *b) {
  int64_t x = ((const score_row *)a)->id, y = ((const score_row *)b)->id;
  return (x > y) - (x < y);
}

/* Reads DIR/truth_notes.tsv into v (unsorted).  noteId, trueHelpful,
** quality and slant are required; the attack and incorrect-popular columns
** are optional so truth files from older gen versions still evaluate. */
static int load_truth(const char *dir, truth_vec *v, char *err, size_t elen) {
  char path[4096];
  tsv t;
  int rc = 0, r, c_id, c_help, c_q, c_s, c_ip, c_kind;
  snprintf(path, sizeof path, "%s/truth_notes.tsv", dir);
  if ((rc = tsv_open(&t, path, err, elen)) != 0) goto out;
  c_id = col(&t, "noteId", 1, &rc, err, elen);
  c_help = col(&t, "trueHelpful", 1, &rc, err, elen);
  c_q = col(&t, "quality", 1, &rc, err, elen);
  c_s = col(&t, "slant", 1, &rc, err, elen);
  c_ip = col(&t, "isIncorrectPopular", 0, &rc, err, elen);
  c_kind = col(&t, "ringTargetKind", 0, &rc, err, elen);
  if (rc) goto out;
  while ((r = next_line(&t)) > 0) {
    truth_row row;
    int h = 0, ip = 0;
    const char *kind = field(&t, c_kind);
    if (t.nf == 1 && !*t.fld[0]) continue; /* blank line */
    memset(&row, 0, sizeof row);
    if (parse_i64(field(&t, c_id), &row.id) || parse_bool(field(&t, c_help), &h) ||
        parse_num(field(&t, c_q), &row.quality) || parse_num(field(&t, c_s), &row.slant) ||
        parse_bool(field(&t, c_ip), &ip)) {
      set_err(err, elen, "%s:%ld: malformed value in a noteId/trueHelpful/quality/slant/isIncorrectPopular column",
              path, t.lineno);
      rc = NS_EPARSE;
      goto out;
    }
    row.helpful = (uint8_t)h;
    row.ip = (uint8_t)ip;
    row.target = !strcmp(kind, "bad") ? 1 : !strcmp(kind, "good") ? 2 : 0;
    if (ns_vec_push(v, row)) { rc = NS_ENOMEM; goto out; }
  }
  if (r < 0) {
    rc = r;
    set_err(err, elen, "%s:%ld: %s", path, t.lineno + 1, ns_strerror(r));
  }
out:
  tsv_close(&t);
  return rc;
}

/* Reads OUTDIR/scored_notes.tsv into v, sorted by noteId.  Status strings
** are interned in st, which both runs share, so equal strings get equal
** indices and the A/B comparison is an integer compare. */
static int load_scores(const char *dir, ns_strtab *st, score_vec *v, char *err, size_t elen) {
  char path[4096];
  tsv t;
  int rc = 0, r, c_id, c_status, c_int;
  snprintf(path, sizeof path, "%s/scored_notes.tsv", dir);
  if ((rc = tsv_open(&t, path, err, elen)) != 0) goto out;
  c_id = col(&t, "noteId", 1, &rc, err, elen);
  c_status = col(&t, "finalRatingStatus", 1, &rc, err, elen);
  c_int = col(&t, "coreNoteIntercept", 0, &rc, err, elen);
  if (rc) goto out;
  while ((r = next_line(&t)) > 0) {
    score_row row;
    const char *s = field(&t, c_status);
    if (t.nf == 1 && !*t.fld[0]) continue;
    if (parse_i64(field(&t, c_id), &row.id) || parse_num(field(&t, c_int), &row.intercept)) {
      set_err(err, elen, "%s:%ld: malformed noteId or coreNoteIntercept", path, t.lineno);
      rc = NS_EPARSE;
      goto out;
    }
    if ((rc = ns_strtab_intern(st, s, strlen(s), &row.status)) != 0) goto out;
    if (ns_vec_push(v, row)) { rc = NS_ENOMEM; goto out; }
  }
  if (r < 0) {
    rc = r;
    set_err(err, elen, "%s:%ld: %s", path, t.lineno + 1, ns_strerror(r));
  }
  if (v->n) qsort(v->a, v->n, sizeof *v->a, cmp_score);
out:
  tsv_close(&t);
  return rc;
}

/* ---- coordination flags ------------------------------------------------ */

/* A flag cell: a positive integer ("3", "3.0") flags; empty, 0, -1, "nan"
** do not.  Anything else is malformed (-1). */
static int parse_flag(const char *s, int *out) {
  int64_t v;
  double d;
  *out = 0;
  if (!*s) return 0;
  if (parse_i64(s, &v) == 0) {
    *out = v > 0;
    return 0;
  }
  if (parse_num(s, &d) == 0) { /* nan, or a non-integral number: not an id */
    *out = 0;
    return 0;
  }
  return -1;
}

/* Reads OUTDIR/helpfulness_scores.tsv into a set of flagged participant
** ids (interned in flagged).  Returns 1 when the file does not exist (no
** coordination metrics), 0 when read, or an error.  Either id column may be
** absent (a scorer without that signal flags nobody through it). */
static int load_flags(const char *dir, ns_strtab *flagged, char *err, size_t elen) {
  char path[4096];
  tsv t;
  int rc = 0, r, c_id, c_grp, c_qc;
  snprintf(path, sizeof path, "%s/helpfulness_scores.tsv", dir);
  if (access(path, F_OK) != 0) return 1;
  if ((rc = tsv_open(&t, path, err, elen)) != 0) goto out;
  c_id = col(&t, "raterParticipantId", 1, &rc, err, elen);
  c_grp = col(&t, "coordinatedGroupId", 0, &rc, err, elen);
  c_qc = col(&t, "quasiCliqueId", 0, &rc, err, elen);
  if (rc) goto out;
  while ((r = next_line(&t)) > 0) {
    int fg = 0, fq = 0;
    const char *id = field(&t, c_id);
    int32_t idx;
    if (t.nf == 1 && !*t.fld[0]) continue;
    if (parse_flag(field(&t, c_grp), &fg) || parse_flag(field(&t, c_qc), &fq)) {
      set_err(err, elen, "%s:%ld: malformed coordinatedGroupId or quasiCliqueId", path, t.lineno);
      rc = NS_EPARSE;
      goto out;
    }
    if ((fg || fq) && (rc = ns_strtab_intern(flagged, id, strlen(id), &idx)) != 0) goto out;
  }
  if (r < 0) {
    rc = r;
    set_err(err, elen, "%s:%ld: %s", path, t.lineno + 1, ns_strerror(r));
  }
out:
  tsv_close(&t);
  return rc;
}

/* Counts DIR/truth_raters.tsv's honest (outside planted cliques), clique
** and ring raters, and how many of each are in flagged.  isRing is
** required; cliqueId is optional (truth from older gen versions). */
static int count_flags(const char *dir, const ns_strtab *flagged, ns_eval_result *res, char *err,
                       size_t elen) {
  char path[4096];
  tsv t;
  int rc = 0, r, c_id, c_ring, c_clq;
  snprintf(path, sizeof path, "%s/truth_raters.tsv", dir);
  if ((rc = tsv_open(&t, path, err, elen)) != 0) goto out;
  c_id = col(&t, "raterParticipantId", 1, &rc, err, elen);
  c_ring = col(&t, "isRing", 1, &rc, err, elen);
  c_clq = col(&t, "cliqueId", 0, &rc, err, elen);
  if (rc) goto out;
  while ((r = next_line(&t)) > 0) {
    int ring = 0;
    int64_t clq = 0;
    const char *id = field(&t, c_id), *cs = field(&t, c_clq);
    int fl;
    if (t.nf == 1 && !*t.fld[0]) continue;
    if (parse_bool(field(&t, c_ring), &ring) || (*cs && parse_i64(cs, &clq))) {
      set_err(err, elen, "%s:%ld: malformed isRing or cliqueId", path, t.lineno);
      rc = NS_EPARSE;
      goto out;
    }
    fl = ns_strtab_find(flagged, id, strlen(id)) >= 0;
    if (ring) res->n_ring_raters++, res->ring_flagged += fl;
    else if (clq > 0) res->n_clique_raters++, res->clique_flagged += fl;
    else res->n_honest_raters++, res->honest_flagged += fl;
  }
  if (r < 0) {
    rc = r;
    set_err(err, elen, "%s:%ld: %s", path, t.lineno + 1, ns_strerror(r));
  }
out:
  tsv_close(&t);
  return rc;
}

/* Binary search; the first row with this noteId, or NULL. */
static const score_row *find_score(const score_vec *v, int64_t id) {
  size_t lo = 0, hi = v->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (v->a[mid].id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < v->n && v->a[lo].id == id ? &v->a[lo] : NULL;
}

/* ---- Spearman ------------------------------------------------------------- */

typedef struct rank_item { double v; size_t i; } rank_item;

static int cmp_rank(const void *a, const void *b) {
  const rank_item *x = a, *y = b;
  if (x->v != y->v) return x->v < y->v ? -1 : 1;
  return (x->i > y->i) - (x->i < y->i);
}

/* Average ranks (1-based) of v[0..n) into rk. */
static int ranks(const double *v, size_t n, double *rk) {
  rank_item *it = ns_mallocn(n, sizeof *it);
  if (!it) return NS_ENOMEM;
  for (size_t i = 0; i < n; i++) it[i].v = v[i], it[i].i = i;
  qsort(it, n, sizeof *it, cmp_rank);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && it[j + 1].v == it[i].v) j++;
    for (size_t k = i; k <= j; k++) rk[it[k].i] = (double)(i + j) / 2.0 + 1.0;
    i = j + 1;
  }
  free(it);
  return 0;
}

/* Pearson correlation of the average ranks; NAN if undefined. */
static int spearman(const double *a, const double *b, size_t n, double *out) {
  double *ra = ns_mallocn(n, sizeof *ra), *rb = ns_mallocn(n, sizeof *rb);
  double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
  int rc = 0;
  *out = NAN;
  if (!ra || !rb) { rc = NS_ENOMEM; goto out; }
  if (n < 2) goto out;
  if ((rc = ranks(a, n, ra)) != 0 || (rc = ranks(b, n, rb)) != 0) goto out;
  for (size_t i = 0; i < n; i++) ma += ra[i], mb += rb[i];
  ma /= (double)n;
  mb /= (double)n;
  for (size_t i = 0; i < n; i++) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  if (saa > 0 && sbb > 0) *out = sab / sqrt(saa * sbb);
out:
  free(ra);
  free(rb);
  return rc;
}

/* a / b, or NAN when b is 0 so "undefined" is never confused with 0. */
static double ratio(size_t a, size_t b) { return b ? (double)a / (double)b : NAN; }

/* ---- entry points --------------------------------------------------------- */

int ns_eval_run(const char *truth_dir, const char *scores_dir, const char *scores_b_dir,
                ns_eval_result *r, char *err, size_t elen) {
  truth_vec tv = {0};
  score_vec sa = {0}, sb = {0};
  ns_strtab *st = NULL;
  double *qa = NULL, *ia = NULL;
  int32_t s_crh, s_crnh, s_nmr;
  int rc;

  memset(r, 0, sizeof *r);
  r->spearman = r->crh_precision = r->crh_recall = r->crnh_precision = r->crnh_recall = NAN;
  r->pct_differ = NAN;
  r->honest_flagged_share = NAN;
  if (err && elen) err[0] = '\0';
  if ((rc = ns_strtab_new(&st)) != 0) goto out;
  /* fixed indices for the three public statuses */
  if ((rc = ns_strtab_intern(st, "CURRENTLY_RATED_HELPFUL", 23, &s_crh)) != 0 ||
      (rc = ns_strtab_intern(st, "CURRENTLY_RATED_NOT_HELPFUL", 27, &s_crnh)) != 0 ||
      (rc = ns_strtab_intern(st, "NEEDS_MORE_RATINGS", 18, &s_nmr)) != 0)
    goto out;
  if ((rc = load_truth(truth_dir, &tv, err, elen)) != 0) goto out;
  if ((rc = load_scores(scores_dir, st, &sa, err, elen)) != 0) goto out;
  if (scores_b_dir && (rc = load_scores(scores_b_dir, st, &sb, err, elen)) != 0) goto out;
  if (tv.n) qsort(tv.a, tv.n, sizeof *tv.a, cmp_truth);

  r->n_truth = tv.n;
  r->n_scored = sa.n;
  qa = ns_mallocn(tv.n, sizeof *qa);
  ia = ns_mallocn(tv.n, sizeof *ia);
  if (!qa || !ia) { rc = NS_ENOMEM; goto out; }
  /* one pass over the truth notes fills every counter; qa/ia collect the
   * (quality, intercept) pairs for Spearman */
  for (size_t i = 0; i < tv.n; i++) {
    const truth_row *t = &tv.a[i];
    const score_row *s = find_score(&sa, t->id);
    int crh = s && s->status == s_crh, crnh = s && s->status == s_crnh;
    int partisan = fabs(t->slant) > NS_GEN_PARTISAN_CUTOFF;
    if (!s) r->n_missing++;
    else if (crh) r->n_crh++;
    else if (crnh) r->n_crnh++;
    else if (s->status == s_nmr) r->n_nmr++;
    else r->n_other++;
    if (t->helpful) {
      r->n_true_helpful++;
      r->crh_true += crh;
    } else {
      r->n_true_unhelpful++;
      r->crnh_false += crnh;
    }
    if (partisan) r->n_partisan++, r->partisan_crh += crh;
    if (t->target == 1) r->n_bad_targets++, r->bad_targets_crh += crh, r->bad_targets_crnh += crnh;
    if (t->target == 2) r->n_good_targets++, r->good_targets_crh += crh, r->good_targets_not_crh += !crh;
    if (t->ip) r->n_incorrect_popular++, r->incorrect_popular_crh += crh;
    if (s && isfinite(s->intercept) && isfinite(t->quality)) {
      qa[r->n_intercept] = t->quality;
      ia[r->n_intercept] = s->intercept;
      r->n_intercept++;
    }
  }
  r->crh_precision = ratio(r->crh_true, r->n_crh);
  r->crh_recall = ratio(r->crh_true, r->n_true_helpful);
  r->crnh_precision = ratio(r->crnh_false, r->n_crnh);
  r->crnh_recall = ratio(r->crnh_false, r->n_true_unhelpful);
  if ((rc = spearman(qa, ia, r->n_intercept, &r->spearman)) != 0) goto out;

  /* coordination signals, when the run wrote per-rater output */
  {
    ns_strtab *flagged = NULL;
    int lr;
    char rpath[4096];
    if ((rc = ns_strtab_new(&flagged)) != 0) goto out;
    snprintf(rpath, sizeof rpath, "%s/truth_raters.tsv", truth_dir);
    /* no per-rater truth (hand-made or older truth): nothing to count */
    lr = access(rpath, F_OK) == 0 ? load_flags(scores_dir, flagged, err, elen) : 1;
    if (lr == 0) {
      r->has_coord = 1;
      lr = count_flags(truth_dir, flagged, r, err, elen);
      r->honest_flagged_share = ratio(r->honest_flagged, r->n_honest_raters);
    }
    ns_strtab_free(flagged);
    if (lr < 0) {
      rc = lr;
      goto out;
    }
  }

  if (scores_b_dir) {
    /* merge the two sorted lists; a duplicate noteId is compared once */
    size_t i = 0, j = 0;
    r->has_b = 1;
    while (i < sa.n || j < sb.n) {
      if (j >= sb.n || (i < sa.n && sa.a[i].id < sb.a[j].id)) {
        r->n_differ++, i++;
      } else if (i >= sa.n || sb.a[j].id < sa.a[i].id) {
        r->n_differ++, j++;
      } else {
        int64_t id = sa.a[i].id;
        r->n_differ += sa.a[i].status != sb.a[j].status;
        while (i < sa.n && sa.a[i].id == id) i++;
        while (j < sb.n && sb.a[j].id == id) j++;
      }
      r->n_compared++;
    }
    r->pct_differ = r->n_compared ? 100.0 * (double)r->n_differ / (double)r->n_compared : NAN;
  }
out:
  ns_vec_free(&tv);
  ns_vec_free(&sa);
  ns_vec_free(&sb);
  ns_strtab_free(st);
  free(qa);
  free(ia);
  return rc;
}

static void print_ratio(FILE *f, const char *label, double v, size_t a, size_t b) {
  if (isnan(v))
    fprintf(f, "  %-44s %8s  (%zu/%zu)\n", label, "n/a", a, b);
  else
    fprintf(f, "  %-44s %8.4f  (%zu/%zu)\n", label, v, a, b);
}

void ns_eval_print(FILE *f, const ns_eval_result *r) {
  fprintf(f, "truth notes %zu, scored notes %zu, truth notes missing from scores %zu\n\n", r->n_truth,
          r->n_scored, r->n_missing);
  fprintf(f, "finalRatingStatus of the truth notes\n");
  fprintf(f, "  %-44s %8zu\n", "CURRENTLY_RATED_HELPFUL", r->n_crh);
  fprintf(f, "  %-44s %8zu\n", "CURRENTLY_RATED_NOT_HELPFUL", r->n_crnh);
  fprintf(f, "  %-44s %8zu\n", "NEEDS_MORE_RATINGS", r->n_nmr);
  fprintf(f, "  %-44s %8zu\n", "other", r->n_other);
  fprintf(f, "  %-44s %8zu\n\n", "(missing)", r->n_missing);
  fprintf(f, "quality\n");
  print_ratio(f, "CRH precision (CRH that are trueHelpful)", r->crh_precision, r->crh_true, r->n_crh);
  print_ratio(f, "CRH recall (trueHelpful that are CRH)", r->crh_recall, r->crh_true, r->n_true_helpful);
  print_ratio(f, "CRNH precision (CRNH that are unhelpful)", r->crnh_precision, r->crnh_false, r->n_crnh);
  print_ratio(f, "CRNH recall (unhelpful that are CRNH)", r->crnh_recall, r->crnh_false,
              r->n_true_unhelpful);
  fprintf(f, "  %-44s %8zu  (of %zu, |slant| > %.2f)\n", "partisan notes at CRH", r->partisan_crh,
          r->n_partisan, NS_GEN_PARTISAN_CUTOFF);
  if (isnan(r->spearman))
    fprintf(f, "  %-44s %8s  (%zu notes)\n", "Spearman(coreNoteIntercept, quality)", "n/a", r->n_intercept);
  else
    fprintf(f, "  %-44s %8.4f  (%zu notes)\n", "Spearman(coreNoteIntercept, quality)", r->spearman,
            r->n_intercept);
  fprintf(f, "  %-44s %8zu  (of %zu)\n\n", "incorrect-popular notes at CRH", r->incorrect_popular_crh,
          r->n_incorrect_popular);
  fprintf(f, "attack\n");
  fprintf(f, "  %-44s %8zu  (of %zu)\n", "bad targets pushed to CRH", r->bad_targets_crh, r->n_bad_targets);
  fprintf(f, "  %-44s %8zu  (of %zu)\n", "bad targets at CRNH", r->bad_targets_crnh, r->n_bad_targets);
  fprintf(f, "  %-44s %8zu  (of %zu)\n", "good targets at CRH", r->good_targets_crh, r->n_good_targets);
  fprintf(f, "  %-44s %8zu  (of %zu)\n", "good targets not CRH", r->good_targets_not_crh,
          r->n_good_targets);
  fprintf(f, "\ncoordination signals (coordinatedGroupId or quasiCliqueId set)\n");
  if (!r->has_coord) {
    fprintf(f, "  %-44s\n", "n/a (no helpfulness_scores.tsv)");
  } else {
    print_ratio(f, "honest raters flagged (outside planted cliques)", r->honest_flagged_share,
                r->honest_flagged, r->n_honest_raters);
    fprintf(f, "  %-44s %8zu  (of %zu)\n", "clique members flagged", r->clique_flagged, r->n_clique_raters);
    fprintf(f, "  %-44s %8zu  (of %zu)\n", "ring accounts flagged", r->ring_flagged, r->n_ring_raters);
  }
  if (r->has_b) {
    fprintf(f, "\nrun A vs run B\n");
    if (isnan(r->pct_differ))
      fprintf(f, "  %-44s %8zu  (of %zu)\n", "notes with a different status", r->n_differ, r->n_compared);
    else
      fprintf(f, "  %-44s %8zu  (of %zu, %.2f%%)\n", "notes with a different status", r->n_differ,
              r->n_compared, r->pct_differ);
  }
}

/* JSON has no NaN: undefined metrics become null, which scripts can test. */
static json_t *num_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* Key names are camelCase like the scorer's TSV columns; docs/gen.md lists
** them.  Allocation failures inside json_object_set_new are ignored
** (jansson frees the value), so a partial object is possible only when
** memory is exhausted. */
json_t *ns_eval_to_json(const ns_eval_result *r) {
  json_t *o = json_object(), *st, *att;
  if (!o) return NULL;
#define SETN(obj, key, v) json_object_set_new((obj), (key), json_integer((json_int_t)(v)))
  st = json_object();
  att = json_object();
  if (!st || !att) {
    json_decref(st);
    json_decref(att);
    json_decref(o);
    return NULL;
  }
  SETN(o, "truthNotes", r->n_truth);
  SETN(o, "scoredNotes", r->n_scored);
  SETN(o, "missingNotes", r->n_missing);
  SETN(st, "CURRENTLY_RATED_HELPFUL", r->n_crh);
  SETN(st, "CURRENTLY_RATED_NOT_HELPFUL", r->n_crnh);
  SETN(st, "NEEDS_MORE_RATINGS", r->n_nmr);
  SETN(st, "other", r->n_other);
  json_object_set_new(o, "statusCounts", st);
  SETN(o, "trueHelpful", r->n_true_helpful);
  SETN(o, "trueUnhelpful", r->n_true_unhelpful);
  SETN(o, "crhTrueHelpful", r->crh_true);
  SETN(o, "crnhTrueUnhelpful", r->crnh_false);
  json_object_set_new(o, "crhPrecision", num_or_null(r->crh_precision));
  json_object_set_new(o, "crhRecall", num_or_null(r->crh_recall));
  json_object_set_new(o, "crnhPrecision", num_or_null(r->crnh_precision));
  json_object_set_new(o, "crnhRecall", num_or_null(r->crnh_recall));
  SETN(o, "partisanNotes", r->n_partisan);
  SETN(o, "partisanCrh", r->partisan_crh);
  json_object_set_new(o, "partisanCutoff", json_real(NS_GEN_PARTISAN_CUTOFF));
  SETN(o, "interceptNotes", r->n_intercept);
  json_object_set_new(o, "spearmanInterceptQuality", num_or_null(r->spearman));
  SETN(o, "incorrectPopularNotes", r->n_incorrect_popular);
  SETN(o, "incorrectPopularCrh", r->incorrect_popular_crh);
  SETN(att, "badTargets", r->n_bad_targets);
  SETN(att, "badTargetsCrh", r->bad_targets_crh);
  SETN(att, "badTargetsCrnh", r->bad_targets_crnh);
  SETN(att, "goodTargets", r->n_good_targets);
  SETN(att, "goodTargetsCrh", r->good_targets_crh);
  SETN(att, "goodTargetsNotCrh", r->good_targets_not_crh);
  json_object_set_new(o, "attack", att);
  if (r->has_coord) {
    json_t *c = json_object();
    if (c) {
      SETN(c, "honestRaters", r->n_honest_raters);
      SETN(c, "honestFlagged", r->honest_flagged);
      json_object_set_new(c, "honestFlaggedShare", num_or_null(r->honest_flagged_share));
      SETN(c, "cliqueRaters", r->n_clique_raters);
      SETN(c, "cliqueFlagged", r->clique_flagged);
      SETN(c, "ringRaters", r->n_ring_raters);
      SETN(c, "ringFlagged", r->ring_flagged);
      json_object_set_new(o, "coordination", c);
    }
  } else {
    json_object_set_new(o, "coordination", json_null());
  }
  if (r->has_b) {
    json_t *b = json_object();
    if (b) {
      SETN(b, "compared", r->n_compared);
      SETN(b, "differ", r->n_differ);
      json_object_set_new(b, "pctDiffer", num_or_null(r->pct_differ));
      json_object_set_new(o, "statusDiff", b);
    }
  }
#undef SETN
  return o;
}
