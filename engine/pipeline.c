/*
** engine/pipeline.c -- one scoring run (ns_pipeline_run): every scorer of
** the reference (engine/scorers.c) over one rating array, then the meta
** rules, the status history and the rater rows.
**
**   prepare   universe of notes (notes file UNION status history), the
**             misleading/deleted rating filter (§1.7 step 5), numRatings,
**             the all-ratings bigraph; raters' modeling groups, note topics
**   groups    (trust on) the coordination test: a detected group weighs
**             1/m per member on each note m members rated, in both rounds
**             of every scorer and in the capture shares
**   Core      on its scope (core groups + unassigned, no topic notes):
**             round 1 (count filter, MF, provisional statuses), helpfulness,
**             trust (on), round 2 on raters above the threshold, guardrails,
**             the scorer chain (§4.1) on notes its capture rule keeps
**   scorers   each other scorer on its scope bit of the same edges (no
**             copy; its own flags byte per edge, or per scope edge when
**             its scope is under half of them): the same path with
**             its constants into model[] (topic scorers: round 1 only;
**             Gaussian: factorization/gaussian.h on Core's raters, the
**             InDimensionTwo topic's on its own round-1 raters); a
**             scorer whose scope and fit constants equal Core's reuses
**             Core's fit
**   statuses  meta rules over every scorer's row, explanation tags, status
**             history, rater rows (Core's, plus the scorers' rater params)
**
** Who calls it: tools/cmd_score.c, the server's scheduler (worker thread).
** The run owns its pool and every intermediate array; the dataset is only
** read.  Output is a pure function of (dataset, params): the big scorers
** run one after the other, each parallel inside; the small ones (group,
** multi-group, topic models) side by side, one thread each; all writes are
** disjoint.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../factorization/gaussian.h"
#include "../factorization/mf.h"
#include "../guard/guard.h"
#include "../text/topics.h"
#include "pipeline_int.h"

const char *const ns_stage_names[NS_STAGE_COUNT] = {
    "snapshot", "round1", "helpfulness", "trust", "round2", "guardrails", "statuses", "publish"};

void ns_params_default(ns_params *p) {
  memset(p, 0, sizeof *p);
  p->now_ms = 0;
  p->seed = 0;
  p->k = 1;
  p->min_ratings_note = 5;
  p->min_ratings_rater = 10;
  p->crh_threshold = 0.40;
  p->crnh_threshold = -0.05;
  p->crnh_factor_mult = -0.8;
  p->nm_crnh_threshold = -0.15;
  p->factor_threshold = 0.5;
  p->inertia_delta = 0.01;
  p->min_agree_ratio = 0.66;
  p->min_mean_note_score = 0.05;
  p->min_crh_vs_crnh = 0.0;
  p->firm_reject_threshold = 0.3;
  p->min_minority_net_helpful = 4;
  p->min_minority_net_ratio = 0.05;
  p->trust = 1;
  p->pseudoraters = 1;
  p->guardrails = 1;
  p->tag_share_test = 1;
  p->seeds = NULL;
  p->n_seeds = 0;
  p->trust_alpha = 0.85;
  p->threads = 0;
  p->progress = 0;
  p->profile = NS_PROFILE_NOTESCORE;
}

const char *const ns_profile_names[2] = {"notescore", "reference"};

int ns_profile_parse(const char *s) {
  for (int i = 0; i < 2; i++)
    if (s && strcmp(s, ns_profile_names[i]) == 0) return i;
  return -1;
}

void ns_params_profile(ns_params *p, int profile) {
  p->profile = profile;
  /* the switchable deliberate differences (docs/algorithm.md §9): trust
  ** (item 8) and the TagFilter share test (item 5) here; bootstrap
  ** stabilization reads p->profile where it runs (pipeline_guard.c) */
  p->trust = profile != NS_PROFILE_REFERENCE;
  p->tag_share_test = profile != NS_PROFILE_REFERENCE;
}

int64_t ns_pipeline_default_now(const ns_dataset *ds) {
  int64_t mx = INT64_MIN;
  for (size_t i = 0; i < ds->n_notes; i++) mx = NS_MAX(mx, ds->note_created_ms[i]);
  for (size_t i = 0; i < ds->n_ratings; i++) mx = NS_MAX(mx, ns_r_created(ds, i));
  for (size_t i = 0; i < ds->n_history; i++)
    if (ds->history[i].created_ms != NS_TS_NONE) mx = NS_MAX(mx, ds->history[i].created_ms);
  return mx == INT64_MIN ? 0 : mx + 1;
}

/* ---- small helpers ----------------------------------------------------- */

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

uint8_t *ns__r_levels(const ns__run *run) {
  uint8_t *v = ns_mallocn(run->n_r ? run->n_r : 1, sizeof *v);
  if (v)
    for (size_t e = 0, cur = 0; e < run->n_r; e++)
      v[e] = (uint8_t)ns_r_level(run->ds, ns__r_src_n(run, e, ns__edge_note_walk(run, e, &cur)));
  return v;
}

uint32_t *ns__r_src_column(const ns__run *run) {
  uint32_t *c = ns_mallocn(run->n_r ? run->n_r : 1, sizeof *c);
  if (c)
    for (size_t e = 0, cur = 0; e < run->n_r; e++)
      c[e] = (uint32_t)ns__r_src_n(run, e, ns__edge_note_walk(run, e, &cur));
  return c;
}

/* Index of id in the sorted array v[0..n), or -1 (pipeline_int.h). */
int32_t ns__find_id(const int64_t *v, size_t n, int64_t id) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (v[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return (lo < n && v[lo] == id) ? (int32_t)lo : -1;
}

/* n model slots as a fresh row has them (ns_note_score_init): a big
** scorer's verdicts until the rows exist; NULL when out of memory. */
static ns_model_score *model_buffer(size_t n) {
  ns_note_score row;
  ns_model_score *b = ns_mallocn(n ? n : 1, sizeof *b);
  if (!b) return NULL;
  ns_note_score_init(&row, 0);
  for (size_t i = 0; i < n; i++) memcpy(&b[i], &row.model[0], sizeof *b);
  return b;
}

static double *nan_array(size_t n) {
  double *a = ns_mallocn(n, sizeof *a);
  if (a)
    for (size_t i = 0; i < n; i++) a[i] = NAN;
  return a;
}

/* Stage timer and, on a TTY, one progress line rewritten in place:
** "notescore: score: [ 42%] round 2 (final) factorization  ETA 0:31".
** The percentage is the share of the run's expected work done, from fixed
** step weights (seconds per step of a 5 M-rating run with every scorer,
** docs/benchmarks.md); the ETA scales the elapsed time by it.  Nothing
** depends on it but the line itself, and nothing is printed when stderr
** is not a TTY. */
enum {
  PW_PREPARE = 1, PW_GROUPS = 4, PW_ROUND1 = 3, PW_HELP = 2, PW_TRUST = 1, PW_ROUND2 = 2,
  PW_GUARD = 5, PW_STATUSES = 1, PW_MF_BIG = 9, PW_MF_SMALL = 0, PW_SMALL = 13, PW_GAUSS = 8,
  PW_META = 1, PW_HISTORY = 1
};

typedef struct stage_clock {
  int show;
  double t0;
  double t_run;             /* the run's start */
  double done, total;       /* step weights done / expected in all */
  int open;                 /* a progress line is on the terminal */
  const char *stage;        /* the stage running (for the memory trace) */
} stage_clock;

/* NS_MEMTRACE=1 (base.h ns_memtrace): one stderr line per stage with its
** peak RSS; the first covers what came before the run's first stage. */
static void mem_trace(stage_clock *c, const char *next) {
  ns_memtrace(c->stage ? c->stage : "(before the run)");
  c->stage = next;
}

static void progress(stage_clock *c, const char *name, double weight) {
  double now = ns_monotonic_s(), frac = c->total > 0 ? c->done / c->total : 0;
  char eta[32] = "";
  c->done += weight;
  ns_heap_release();  /* the last stage's freed blocks back to the system */
  mem_trace(c, name);
  if (!c->show) return;
  if (frac >= 0.02 && frac < 1) {
    double left = (now - c->t_run) * (1 - frac) / frac;
    snprintf(eta, sizeof eta, "  ETA %d:%02d", (int)(left / 60), (int)fmod(left, 60));
  }
  fprintf(stderr, "\rnotescore: score: [%3d%%] %s%s\033[K", (int)(frac * 100), name, eta);
  fflush(stderr);
  c->open = 1;
}

static void progress_done(stage_clock *c) {
  double t = ns_monotonic_s() - c->t_run;
  mem_trace(c, NULL);
  if (!c->show || !c->open) return;
  fprintf(stderr, "\rnotescore: score: [100%%] scored in %d:%02d\033[K\n", (int)(t / 60),
          (int)fmod(t, 60));
  c->open = 0;
}

static void stage_begin(stage_clock *c, const char *name, double weight) {
  c->t0 = ns_monotonic_s();
  progress(c, name, weight);
}

static double stage_end(stage_clock *c) { return ns_monotonic_s() - c->t0; }

/* ---- prepare ----------------------------------------------------------- */

/* Builds the universe of notes and the filtered ratings (edges) of run
** (pipeline_int.h). */
/* The edges' note column from the first w edges on (the filter found an
** edge out of note order at w): edges 0..w-1 are in note order, so note
** x's are the next num_ratings[x] of them. */
static int note_column(ns__run *run, size_t w) {
  size_t j = 0;
  run->r_note = ns_mallocn(run->ds->n_ratings, sizeof *run->r_note);
  if (!run->r_note) return NS_ENOMEM;
  for (size_t x = 0; x < run->n_notes && j < w; x++)
    for (int32_t c = 0; c < run->num_ratings[x]; c++) run->r_note[j++] = (int32_t)x;
  return 0;
}

/* ns__run_prepare's part for a consuming run: run->ds_rated and the
** incorrect-tag counts from every dataset rating, then the dataset's rater
** column becomes the run's (ds->r_rater NULL after). */
static int take_raters(ns__run *run) {
  ns_dataset *ds = run->take;
  size_t np = run->n_part;
  if (!(run->ds_rated = ns_calloc(np ? np : 1, 1))) return NS_ENOMEM;
  for (size_t i = 0; i < ds->n_ratings; i++)
    if (ds->r_rater[i] >= 0 && (size_t)ds->r_rater[i] < np) run->ds_rated[ds->r_rater[i]] = 1;
  if (run->p->guardrails) {
    run->inc_cnt = ns_mallocn(np ? np : 1, sizeof *run->inc_cnt);
    run->inc_tot = ns_mallocn(np ? np : 1, sizeof *run->inc_tot);
    if (!run->inc_cnt || !run->inc_tot) return NS_ENOMEM;
    ns_guard_incorrect_counts(ds->n_ratings, ds->r_rater, ds->r_meta, np, run->inc_cnt,
                              run->inc_tot);
  }
  run->r_rater = ds->r_rater;
  ds->r_rater = NULL;
  return 0;
}

int ns__run_prepare(ns__run *run) {
  const ns_dataset *ds = run->ds;
  size_t cap = ds->n_notes + ds->n_history, n = 0;
  int64_t *ids = ns_mallocn(cap, sizeof *ids);
  int rc;

  if (!ids) return NS_ENOMEM;
  for (size_t i = 0; i < ds->n_notes; i++) ids[n++] = ds->note_id[i];
  for (size_t i = 0; i < ds->n_history; i++) ids[n++] = ds->history[i].note_id;
  qsort(ids, n, sizeof *ids, cmp_i64);
  {
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
      if (w == 0 || ids[w - 1] != ids[i]) ids[w++] = ids[i];
    n = w;
  }
  run->n_notes = n;
  run->note_id = ids;
  run->note_ds = ns_mallocn(n, sizeof *run->note_ds);
  run->note_hist = ns_mallocn(n, sizeof *run->note_hist);
  run->note_created = ns_mallocn(n, sizeof *run->note_created);
  run->note_class = ns_calloc(n, sizeof *run->note_class);
  run->note_author = ns_mallocn(n, sizeof *run->note_author);
  run->note_latest_nonnmr = ns_mallocn(n, sizeof *run->note_latest_nonnmr);
  run->num_ratings = ns_calloc(n, sizeof *run->num_ratings);
  if (!run->note_ds || !run->note_hist || !run->note_created || !run->note_class ||
      !run->note_author || !run->note_latest_nonnmr || !run->num_ratings)
    return NS_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    run->note_ds[i] = run->note_hist[i] = -1;
    run->note_created[i] = NS_TS_NONE;
    run->note_author[i] = -1;
    run->note_latest_nonnmr[i] = NS_TS_NONE;
  }
  /* History first, then the notes file overrides what it knows. */
  for (size_t i = 0; i < ds->n_history; i++) {
    int32_t x = ns__find_id(ids, n, ds->history[i].note_id);
    run->note_hist[x] = (int32_t)i;
    run->note_created[x] = ds->history[i].created_ms;
    run->note_author[x] = ds->history[i].author;
    run->note_latest_nonnmr[x] = ds->history[i].ts_latest_non_nmr;
  }
  for (size_t i = 0; i < ds->n_notes; i++) {
    int32_t x = ns__find_id(ids, n, ds->note_id[i]);
    run->note_ds[x] = (int32_t)i;
    run->note_created[x] = ds->note_created_ms[i];
    run->note_class[x] = ds->note_class[i];
    if (ds->note_author[i] >= 0) run->note_author[x] = ds->note_author[i];
  }

  /* Ratings filter (reference §1.7 step 5): drop ratings on notes we know
  ** nothing about (deleted and absent from history) and on NOT_MISLEADING
  ** notes created on or before 2022-10-03. */
  run->n_part = ns_strtab_count(ds->participants);
  if (ds->n_ratings > UINT32_MAX) return NS_ERANGE;  /* r_src is 32-bit */
  run->r_src = ns_mallocn(ds->n_ratings, sizeof *run->r_src);
  run->note_src = ns_mallocn(n, sizeof *run->note_src);
  if (!run->r_src || !run->note_src) return NS_ENOMEM;
  if (run->take) {
    /* the consuming entry (ns_pipeline_run_consume): the edges' rater
    ** column is the dataset's own, compacted in place below (an edge's
    ** row is never after its dataset row), not a copy -- 4 bytes per
    ** rating for the whole run.  What reads the dataset's raters of the
    ** filter's dropped ratings too is read first: which participants
    ** rated at all (rater rows), the incorrect-tag counts (guardrails). */
    if ((rc = take_raters(run)) != 0) return rc;
  } else if (!(run->r_rater = ns_mallocn(ds->n_ratings, sizeof *run->r_rater))) {
    return NS_ENOMEM;
  }
  {
    size_t w = 0;
    int32_t last = -1;
    int64_t last_id = 0;
    /* runs: every note's edges so far are one block of consecutive ds
    ** ratings, the blocks in note order (note_src can stand for r_src) */
    int runs = 1;
    /* the note of edge w - 1; while the edges are in note order their
    ** notes need no column (r_note NULL): the bigraph's note_off holds
    ** them (num_ratings are the degrees) */
    int32_t prev = -1;
    size_t k = 0;  /* the packed noteIds' run of rating i */
    for (size_t i = 0; i < ds->n_ratings; i++) {
      int32_t x, u;
      int64_t id;
      /* the noteId column, or its run-length form when the caller
      ** released the column (ns_dataset_pack_note_ids) */
      if (ds->r_note_id) {
        id = ds->r_note_id[i];
      } else {
        while (ds->r_note_run_off[k + 1] <= i) k++;
        id = ds->r_note_run_id[k];
      }
      /* ratings are usually grouped by note: reuse the previous lookup */
      if (last >= 0 && id == last_id) x = last;
      else x = ns__find_id(ids, n, id);
      last = x;
      last_id = id;
      if (x < 0) continue;
      if (run->note_class[x] == NS_CLASS_NOT_MISLEADING &&
          !(run->note_created[x] != NS_TS_NONE && run->note_created[x] > NS__NM_CUTOFF_MS))
        continue;
      u = run->take ? run->r_rater[i] : ds->r_rater[i];
      if (u < 0 || (size_t)u >= run->n_part) continue;
      if (w == 0 || x != prev) {
        /* a new block: its note must come after the last one (else it is
        ** not in note order, or the note's ratings are split) */
        if (w > 0 && x < prev) {
          runs = 0;
          if (!run->r_note && (rc = note_column(run, w)) != 0) return rc;
        }
        run->note_src[x] = (uint32_t)i - (uint32_t)w;
      } else if (run->r_src[w - 1] + 1 != (uint32_t)i) {
        runs = 0;  /* a rating dropped inside a note's block */
      }
      run->r_src[w] = (uint32_t)i;
      if (run->r_note) run->r_note[w] = x;
      prev = x;
      run->r_rater[w] = u;  /* w <= i: in place, rows not yet read are after i */
      run->num_ratings[x]++;
      w++;
    }
    run->n_r = w;
    if (runs) {
      free(run->r_src);
      run->r_src = NULL;
    } else {
      free(run->note_src);
      run->note_src = NULL;
    }
    /* the filter's dropped ratings: give the tails back (a failed shrink
    ** keeps the block) */
    if (w < ds->n_ratings) {
      void *q;
      if (run->r_note && (q = ns_realloc(run->r_note, w * sizeof *run->r_note)) != NULL)
        run->r_note = q;
      if ((q = ns_realloc(run->r_rater, w * sizeof *run->r_rater)) != NULL) run->r_rater = q;
      if (run->r_src && (q = ns_realloc(run->r_src, w * sizeof *run->r_src)) != NULL) run->r_src = q;
    }
  }
  if (run->r_note)
    return ns_bigraph_build(run->n_part, run->n_notes, run->n_r, run->r_rater, run->r_note,
                            &run->g);
  return ns_bigraph_build_ordered(run->n_part, run->n_notes, run->n_r, run->r_rater,
                                  run->num_ratings, &run->g);
}

/* ---- MF on a subset ---------------------------------------------------- */

typedef struct fit_io {
  ns__emask mask;               /* the edges to fit */
  const ns__cw *cw;             /* per-edge weights, NULL = unweighted */
  int flip_sign;
  /* initial values (NULL = deterministic init) */
  const double *init_icpt, *init_fac, *init_ricpt, *init_rfac;
  double init_mu;
  /* outputs, NAN where not fitted */
  double *icpt, *fac, *ricpt, *rfac;
  double mu;
  size_t n_edges, n_notes, n_raters;
} fit_io;

static double or0(double v) { return isnan(v) ? 0.0 : v; }

/* The weight of edge e (io->cw set). */
static inline float io_weight(const fit_io *io, size_t e) { return ns__cw_get(io->cw, e); }

static int fit_subset(ns__run *run, fit_io *io) {
  int k = run->k, rc = 0;
  size_t ne = 0, nn = 0, nu = 0;
  int32_t *nmap = ns_mallocn(run->n_notes, sizeof *nmap);
  int32_t *umap = ns_mallocn(run->n_part, sizeof *umap);
  /* the subset straight in mf.c's gathered form (mf.h ns_mf_fit_gathered):
  ** per side CSR offsets and a 4-byte slot (other row | code of the
  ** rating's (value, weight) pair in a per-fit table: the helpfulness
  ** values times the few coordination weights) -- 8 bytes per fitted
  ** rating, where columns + an edge-id CSR + the solver's own gathered copy
  ** took 48.  Only a weighted fit with more distinct pairs than the code
  ** bits name falls back to codes of values and a weight per slot (16). */
  uint64_t *roff = NULL, *noff = NULL, *rcur = NULL, *ncur = NULL;
  uint32_t *rsl = NULL, *nsl = NULL;
  float *rpw = NULL, *npw = NULL;
  ns_mf_codes *ct = NULL;
  unsigned rbits;
  ns_bigraph sides;
  ns_mf_gathered *gd = NULL;
  ns_mf_model m;
  ns_mf_params mp;

  memset(&m, 0, sizeof m);
  if (!nmap || !umap) { rc = NS_ENOMEM; goto out; }
  for (size_t i = 0; i < run->n_notes; i++) nmap[i] = -1;
  for (size_t i = 0; i < run->n_part; i++) umap[i] = -1;
  /* the mask's edges (a small scorer's: its scope only, ns__edges) */
  size_t cur = 0;
  for (ns__edge_it it = ns__edges(io->mask.six, run->n_r); ns__edge_next(&it);) {
    size_t e = it.e;
    if (!ns__emask_at(io->mask, it.p)) continue;
    nmap[ns__edge_note_walk(run, e, &cur)] = 0;
    umap[run->r_rater[e]] = 0;
    ne++;
  }
  /* Dense indexes in ascending note / participant order (deterministic). */
  for (size_t i = 0; i < run->n_notes; i++)
    if (nmap[i] >= 0) nmap[i] = (int32_t)nn++;
  for (size_t i = 0; i < run->n_part; i++)
    if (umap[i] >= 0) umap[i] = (int32_t)nu++;
  io->n_edges = ne;
  io->n_notes = nn;
  io->n_raters = nu;
  for (size_t i = 0; i < run->n_notes; i++) {
    io->icpt[i] = NAN;
    for (int d = 0; d < k; d++) io->fac[i * k + d] = NAN;
  }
  for (size_t i = 0; i < run->n_part; i++) {
    io->ricpt[i] = NAN;
    for (int d = 0; d < k; d++) io->rfac[i * k + d] = NAN;
  }
  io->mu = NAN;
  if (ne == 0) goto out;

  /* a row must fit in a slot's low bits (mf.h NS_MF_MAX_ROWS); the fewest
  ** row bits leave the most for the codes */
  rbits = ns_mf_row_bits(NS_MAX(nu, nn));
  if (ne >= UINT32_MAX || rbits > NS_MF_MAX_ROW_BITS) {
    rc = NS_ERANGE;
    goto out;
  }
  roff = ns_calloc(nu + 1, sizeof *roff);
  noff = ns_calloc(nn + 1, sizeof *noff);
  rcur = ns_mallocn(nu, sizeof *rcur);
  ncur = ns_mallocn(nn, sizeof *ncur);
  rsl = ns_mallocn(ne, sizeof *rsl);
  nsl = ns_mallocn(ne, sizeof *nsl);
  gd = ns_calloc(1, sizeof *gd);
  ct = ns_mallocn(1, sizeof *ct);
  if (!roff || !noff || !rcur || !ncur || !rsl || !nsl || !gd || !ct) {
    rc = NS_ENOMEM;
    goto out;
  }
  /* Counting sort by row, stable in edge order: each row's slots list its
  ** ratings in increasing edge id, the order ns_bigraph_build + gathering
  ** gave, so the fit's sums run in the same order (bit-identical). */
  cur = 0;
  for (ns__edge_it it = ns__edges(io->mask.six, run->n_r); ns__edge_next(&it);) {
    size_t e = it.e;
    if (!ns__emask_at(io->mask, it.p)) continue;
    roff[umap[run->r_rater[e]] + 1]++;
    noff[nmap[ns__edge_note_walk(run, e, &cur)] + 1]++;
  }
  for (size_t i = 0; i < nu; i++) roff[i + 1] += roff[i];
  for (size_t i = 0; i < nn; i++) noff[i + 1] += noff[i];
  /* First the table of (value, weight) pairs; if a weighted fit has more
  ** pairs than the codes can name, again with codes of values only and
  ** the weights per slot.  An unweighted fit's pairs carry weight 1.0f,
  ** which the fit reads as the 1.0 of an unweighted sum (exact products). */
  for (int per_slot = 0;; per_slot = 1) {
    int full = 0;
    ns_mf_codes_init(ct, gd, ns_mf_max_codes(rbits));
    memcpy(rcur, roff, nu * sizeof *rcur);
    memcpy(ncur, noff, nn * sizeof *ncur);
    cur = 0;
    for (ns__edge_it it = ns__edges(io->mask.six, run->n_r); ns__edge_next(&it);) {
      size_t e = it.e;
      int32_t u, n, x;
      uint64_t a, b;
      float w;
      int c;
      if (!ns__emask_at(io->mask, it.p)) continue;
      w = io->cw ? io_weight(io, e) : 1.0f;
      x = ns__edge_note_walk(run, e, &cur);
      /* the code: the pair's place in the table, by bits, in order of
      ** first appearance (the table is exactly the floats the fit reads) */
      if ((c = ns_mf_code(ct, gd, ns__src_value(run, ns__r_src_n(run, e, x)),
                          per_slot ? 1.0f : w)) < 0) {
        full = 1;
        break;
      }
      u = umap[run->r_rater[e]];
      n = nmap[x];
      a = rcur[u]++;
      b = ncur[n]++;
      rsl[a] = ns_mf_slot((uint32_t)n, (unsigned)c, rbits);
      nsl[b] = ns_mf_slot((uint32_t)u, (unsigned)c, rbits);
      if (per_slot) rpw[a] = npw[b] = w;
    }
    if (!full) break;
    if (per_slot || !io->cw) {
      rc = NS_ERANGE;   /* more distinct values than codes */
      goto out;
    }
    rpw = ns_mallocn(ne, sizeof *rpw);
    npw = ns_mallocn(ne, sizeof *npw);
    if (!rpw || !npw) {
      rc = NS_ENOMEM;
      goto out;
    }
  }
  gd->row_bits = rbits;
  ns_debug("mf fit: %zu ratings, %u row bits, %u codes%s", ne, rbits, gd->n_codes,
           rpw ? " of values, weights per slot" : "");
  free(ct);
  ct = NULL;
  free(rcur);
  free(ncur);
  rcur = ncur = NULL;
  memset(&sides, 0, sizeof sides);
  sides.n_raters = nu;
  sides.n_notes = nn;
  sides.n_edges = ne;
  sides.rater_off = roff;
  sides.note_off = noff;
  gd->rater_slot = rsl;
  gd->note_slot = nsl;
  gd->rater_pw = rpw;
  gd->note_pw = npw;
  if ((rc = ns_mf_model_init(&m, nu, nn, k)) != 0) goto out;

  ns_mf_params_default(&mp);
  mp.k = k;
  if (run->spec) {
    /* the scorer's regularization (0 = default, < 0 = none) */
    const ns__scorer_spec *sp = run->spec;
#define LAMBDA(dst, v) if ((v) != 0) dst = (v) < 0 ? 0.0 : (v)
    LAMBDA(mp.lambda_in, sp->l_in);
    LAMBDA(mp.lambda_i, sp->l_iu);
    LAMBDA(mp.lambda_mu, sp->l_mu);
    LAMBDA(mp.lambda_fn, sp->l_fn);
    LAMBDA(mp.lambda_f, sp->l_fu);
#undef LAMBDA
    if (sp->no_mu) mp.use_mu = 0;
  }
  mp.seed = run->p->seed;
  mp.flip_sign = io->flip_sign;
  if (io->init_icpt) {
    /* Initialise from the previous round; ids it did not see start at 0. */
    mp.init_from_model = 1;
    m.mu = or0(io->init_mu);
    for (size_t i = 0; i < run->n_notes; i++) {
      if (nmap[i] < 0) continue;
      m.note_icpt[nmap[i]] = or0(io->init_icpt[i]);
      for (int d = 0; d < k; d++) m.note_fac[(size_t)nmap[i] * k + d] = or0(io->init_fac[i * k + d]);
    }
    for (size_t i = 0; i < run->n_part; i++) {
      if (umap[i] < 0) continue;
      m.user_icpt[umap[i]] = or0(io->init_ricpt[i]);
      for (int d = 0; d < k; d++) m.user_fac[(size_t)umap[i] * k + d] = or0(io->init_rfac[i * k + d]);
    }
  }
  {
    double t0 = ns_monotonic_s();
    if ((rc = ns_mf_fit_gathered(&sides, gd, &mp, run->pool, &m)) != 0) goto out;
    run->st.mf_seconds += ns_monotonic_s() - t0;
  }
  run->st.mf_passes += m.iters;

  io->mu = m.mu;
  for (size_t i = 0; i < run->n_notes; i++) {
    if (nmap[i] < 0) continue;
    io->icpt[i] = m.note_icpt[nmap[i]];
    for (int d = 0; d < k; d++) io->fac[i * k + d] = m.note_fac[(size_t)nmap[i] * k + d];
  }
  for (size_t i = 0; i < run->n_part; i++) {
    if (umap[i] < 0) continue;
    io->ricpt[i] = m.user_icpt[umap[i]];
    for (int d = 0; d < k; d++) io->rfac[i * k + d] = m.user_fac[(size_t)umap[i] * k + d];
  }

out:
  ns_mf_model_free(&m);
  free(nmap);
  free(umap);
  free(roff);
  free(noff);
  free(rcur);
  free(ncur);
  free(rsl);
  free(nsl);
  free(rpw);
  free(npw);
  free(gd);
  free(ct);
  return rc;
}

/* ---- count filters ----------------------------------------------------- */

/* Round-1 training set (reference filter_ratings, one pass, not iterated):
** notes with >= min_note ratings, then raters with >= min_rater of the
** remaining ratings, then notes with >= min_note again, over the edges
** whose flag base is set.  Writes flag out of every edge (the run's
** thread only). */
static int count_filter(const ns__run *run, unsigned base, int min_note, int min_rater,
                        unsigned out) {
  uint8_t *fl = run->flags;
  const ns__scope_ix *six = run->six;
  int32_t *nc = ns_calloc(run->n_notes, sizeof *nc);
  int32_t *uc = ns_calloc(run->n_part, sizeof *uc);
  if (!nc || !uc) {
    free(nc);
    free(uc);
    return NS_ENOMEM;
  }
  /* every bit implies the scope: the scope's edges are all there is to
  ** visit (ns__edges); they come in edge order, so a note cursor follows */
#define EACH(it) for (ns__edge_it it = ns__edges(six, run->n_r); ns__edge_next(&it);)
  size_t cur = 0;
  EACH(it) {
    ns__ef_put(fl, it.p, out, ns__ef_get(fl, it.p, base));
    if (ns__ef_get(fl, it.p, out)) nc[ns__edge_note_walk(run, it.e, &cur)]++;
  }
  cur = 0;
  EACH(it)
    if (ns__ef_get(fl, it.p, out) && nc[ns__edge_note_walk(run, it.e, &cur)] < min_note)
      ns__ef_put(fl, it.p, out, 0);
  EACH(it)
    if (ns__ef_get(fl, it.p, out)) uc[run->r_rater[it.e]]++;
  EACH(it)
    if (ns__ef_get(fl, it.p, out) && uc[run->r_rater[it.e]] < min_rater) ns__ef_put(fl, it.p, out, 0);
  memset(nc, 0, run->n_notes * sizeof *nc);
  cur = 0;
  EACH(it)
    if (ns__ef_get(fl, it.p, out)) nc[ns__edge_note_walk(run, it.e, &cur)]++;
  cur = 0;
  EACH(it)
    if (ns__ef_get(fl, it.p, out) && nc[ns__edge_note_walk(run, it.e, &cur)] < min_note)
      ns__ef_put(fl, it.p, out, 0);
#undef EACH
  free(nc);
  free(uc);
  return 0;
}

/* ---- per-note facts and rules ------------------------------------------ */

typedef struct note_ctx {
  ns__run *run;
  int final_round;
  ns_scores *sc;           /* final round: rows to fill */
  const uint8_t *captured; /* final round: per note, 1 if the scorer's output
                           ** keeps the note (capture rule) */
  /* final round of a big scorer that runs before the rows exist: its model
  ** slot per note, and CoreWithTopics' pseudo-rater bounds (2 per note),
  ** instead of sc's rows (see ns_pipeline_run) */
  ns_model_score *mbuf;
  double *bounds;
} note_ctx;

/* The scorer's numRatings of note n (its scope), or the note's. */
static int32_t scorer_ratings(const ns__run *run, size_t n) {
  return run->sc_ratings ? run->sc_ratings[n] : run->num_ratings[n];
}

/* Facts of note n from the round's parameters.  Sign statistics count the
** note's ratings (in the scorer's scope) by raters that have a factor in
** that round's model. */
static void note_facts_ex(const ns__run *run, size_t n, int final_round, int want_tags,
                          ns__note_facts *f) {
  const ns_dataset *ds = run->ds;
  const double *icpt = final_round ? run->icpt2 : run->icpt1;
  const double *fac = final_round ? run->fac2 : run->fac1;
  const double *rfac = final_round ? run->rfac2 : run->rfac1;
  double h_neg = 0, h_pos = 0, w_neg = 0, w_pos = 0;
  double s_neg = 0, s_pos = 0;
  int32_t hist = run->note_hist[n];
  /* The coordination weights (round 1: ns__edge_cw; round 2: ns__edge_w)
  ** apply to the head-count rules too (RatioCRNH, MinMinorityRaters,
  ** RaterBalance): otherwise a group the MF discounts could still win by
  ** numbers.  Without trust every weight is 1. */
  int w2 = final_round && run->has_w;
  double tag_w[NS_N_TAGS] = {0};

  memset(f, 0, sizeof *f);
  f->n_ratings = scorer_ratings(run, n);
  f->cls = run->note_class[n];
  f->icpt = icpt[n];
  f->fac = fac[n * run->k];
  f->prev_status = hist >= 0 ? ds->history[hist].current_status : NS_STATUS_UNSET;
  f->locked_status = hist >= 0 ? ds->history[hist].locked_status : NS_STATUS_UNSET;
  for (uint64_t j = run->g->note_off[n]; j < run->g->note_off[n + 1]; j++) {
    uint32_t e = ns_bigraph_note_edge(run->g, j);
    size_t r = ns__r_src_n(run, e, (int32_t)n);
    double fu, w, h;
    if (want_tags) {
      /* Tags count with the rating's coordination weight: a group that
      ** rated the note counts as little as in the fit (without trust every
      ** weight is 1).  Over all the note's ratings: the explanation tags
      ** are the meta step's, no scorer rule reads them. */
      uint32_t tags = ns_r_tags(ds, r);
      double tw = ns__edge_cw(run, e);
      for (int t = 0; tags && t < NS_N_TAGS; t++)
        if (tags & NS_TAG_BIT(t)) tag_w[t] += tw;
    }
    /* the meta step (want_tags) reads no head counts: it needs no scope,
    ** so Core's flags can go before it (ns_pipeline_run) */
    if (want_tags || !ns__in_scope(run, e)) continue;
    fu = rfac[(size_t)run->r_rater[e] * run->k];
    w = w2 ? ns__edge_w(run, e) : final_round ? 1.0 : ns__edge_cw(run, e);
    if (isnan(fu) || !(w > 0)) continue;
    h = ns_r_level(ds, r) == NS_LEVEL_HELPFUL ? 1 : ns_r_level(ds, r) == NS_LEVEL_NOT_HELPFUL ? -1 : 0;
    if (fu < 0) {
      w_neg += w;
      s_neg += w * ns__src_value(run, r);
      h_neg += w * h;
    } else {
      w_pos += w;
      s_pos += w * ns__src_value(run, r);
      h_pos += w * h;
    }
  }
  for (int t = 0; t < NS_N_TAGS; t++) f->tag_count[t] = (int32_t)floor(tag_w[t] + 1e-6);
  if (final_round) ns__guard_facts(run, n, f); /* guardrail verdicts (pipeline_guard.c) */
  /* With unit weights these are the plain counts and means. */
  f->n_neg = (int32_t)floor(w_neg + 1e-9);
  f->n_pos = (int32_t)floor(w_pos + 1e-9);
  f->mean_neg = w_neg > 0 ? s_neg / w_neg : NAN;
  f->mean_pos = w_pos > 0 ? s_pos / w_pos : NAN;
  f->net_neg = (int32_t)floor(h_neg + 1e-9);
  f->net_pos = (int32_t)floor(h_pos + 1e-9);
}

static void note_facts(const ns__run *run, size_t n, int final_round, ns__note_facts *f) {
  note_facts_ex(run, n, final_round, 0, f);
}

/* The meta step's verdict into a note's score row. */
static void copy_meta(ns_note_score *s, const ns__meta_out *mo) {
  s->final_status = mo->status;
  s->decided_by = mo->decided_by;
  s->meta_rules = mo->rules;
  s->first_tag = mo->first_tag;
  s->second_tag = mo->second_tag;
  s->ts_nmr_due_to_stable_crh = mo->t_stab;
}

/* One scorer's final verdict on note n into its slot of the row. */
static void put_model(const note_ctx *c, size_t n, const ns__rule_out *ro) {
  const ns__run *run = c->run;
  const ns__scorer_spec *sp = run->spec;
  ns_note_score *s = c->mbuf ? NULL : &c->sc->notes[n];
  int k = run->k;
  if (sp->slot == NS__SLOT_CORE) {
    s->core_status = ro->status;
    s->core_rules = ro->rules;
    return;
  }
  ns_model_score *m = c->mbuf ? &c->mbuf[n] : &s->model[sp->slot];
  m->intercept = run->icpt2[n];
  m->factor = run->fac2[n * k];
  m->intercept_no_high_vol = run->g_icpt_nohv ? run->g_icpt_nohv[n] : NAN;
  m->intercept_no_correlated = run->g_icpt_nocorr ? run->g_icpt_nocorr[n] : NAN;
  m->status = ro->status;
  m->rules = ro->rules;
  m->n_final_round = run->n_final_round[n];
  /* (the group models write rows only: they are never buffered) */
  if (sp->slot == NS_MODEL_GROUP) s->modeling_group = sp->group_id;
  if (sp->slot == NS_MODEL_MULTI_GROUP) s->modeling_multi_group = sp->group_id;
  if (sp->slot == NS_MODEL_CORE_WITH_TOPICS) {
    double lo = run->g_icpt_min ? run->g_icpt_min[n] : NAN;
    double hi = run->g_icpt_max ? run->g_icpt_max[n] : NAN;
    if (c->mbuf) c->bounds[2 * n] = lo, c->bounds[2 * n + 1] = hi;
    else s->cwt_intercept_min = lo, s->cwt_intercept_max = hi;
  }
}

static void notes_chunk(void *vctx, size_t chunk, size_t begin, size_t end) {
  note_ctx *c = vctx;
  ns__run *run = c->run;
  (void)chunk;
  for (size_t n = begin; n < end; n++) {
    ns__note_facts f;
    ns__rule_out ro;
    if (scorer_ratings(run, n) == 0) {
      /* the scorer never saw the note: no status */
      if (!c->final_round) run->prov_status[n] = NS_STATUS_UNSET;
      continue;
    }
    if (!c->final_round) {
      note_facts(run, n, 0, &f);
      ns__rules_provisional(&f, run->p, &ro);
      run->prov_status[n] = ro.status;
    } else if (c->captured[n]) {
      note_facts(run, n, 1, &f);
      ns__rules_final(&f, run->p, &ro);
      put_model(c, n, &ro);
    }
  }
}

/* The meta rules on every note, with Core's facts (history, guardrail
** inputs of the meta step, explanation tags). */
static void meta_chunk(void *vctx, size_t chunk, size_t begin, size_t end) {
  note_ctx *c = vctx;
  (void)chunk;
  for (size_t n = begin; n < end; n++) {
    ns__note_facts f;
    ns__meta_out mo;
    ns_note_score *s = &c->sc->notes[n];
    note_facts_ex(c->run, n, 1, 1, &f);
    /* Core's numbers as its output has them: none for a note outside its
    ** capture (the reference's meta sees NaN coreNoteIntercept there) */
    f.icpt = s->intercept;
    f.fac = s->factor;
    f.icpt_pop = s->intercept_pop;
    ns__rules_meta(&f, s, &mo);
    copy_meta(s, &mo);
  }
}

/* ---- round 2 ----------------------------------------------------------- */

/* Round 2: ratings (in the scorer's scope) of raters above the helpfulness
** threshold (minus the group filter's drops), weighted by the coordination
** weights when trust is on; raters whose weight is 0 leave the fit, then
** notes need >= 5 of the remaining ratings. */
static int round2(ns__run *run) {
  const ns_params *p = run->p;
  int rc = 0;
  fit_io io;

  /* (a weight of 1 without trust) */
  for (ns__edge_it it = ns__edges(run->six, run->n_r); ns__edge_next(&it);)
    ns__ef_put(run->flags, it.p, NS__EF_BASE,
               ns__ef_get(run->flags, it.p, NS__EF_SCOPE) && run->above[run->r_rater[it.e]] == 1 &&
                   ns__edge_cw(run, it.e) > 0);
  /* Trust on: the coordination weights (1/m for m members of a group on a
  ** note, 1 for everyone else) carry into round 2 and its rules.  On the
  ** edges it trains on the round-2 weight is the coordination weight, so
  ** the fit reads ns__edge_cw(); the rules read ns__edge_w() (0 off round
  ** 2). */
  run->has_w = run->cw != NULL;
  if ((rc = count_filter(run, NS__EF_BASE, p->min_ratings_note, 0, NS__EF_R2)) != 0) goto out;
  memset(&io, 0, sizeof io);
  io.mask = ns__run_mask(run, NS__EF_R2);
  io.cw = run->cw;
  /* The sign is identified again on this fit's raters (the reference's
  ** prescoring final-round run_mf keeps its default flip; its final
  ** scoring then freezes those rater factors and does not flip:
  ** mf_base_scorer.py:871-883, 1147-1163). */
  io.flip_sign = 1;
  io.init_icpt = run->icpt1;
  io.init_fac = run->fac1;
  io.init_ricpt = run->ricpt1;
  io.init_rfac = run->rfac1;
  io.init_mu = run->mu1;
  io.icpt = run->icpt2;
  io.fac = run->fac2;
  io.ricpt = run->ricpt2;
  io.rfac = run->rfac2;
  if ((rc = fit_subset(run, &io)) != 0) goto out;
  run->mu2 = io.mu;
  run->n_r2 = io.n_edges;
  run->n_r2_notes = io.n_notes;
  run->n_r2_raters = io.n_raters;
  memset(run->n_final_round, 0, run->n_notes * sizeof *run->n_final_round);
  {
    size_t cur = 0;
    for (ns__edge_it it = ns__edges(run->six, run->n_r); ns__edge_next(&it);)
      if (ns__ef_get(run->flags, it.p, NS__EF_R2))
        run->n_final_round[ns__edge_note_walk(run, it.e, &cur)]++;
  }

out:
  return rc;
}

/* ---- scopes ------------------------------------------------------------ */

/* Per participant modeling group (NS__GROUP_ABSENT when not enrolled) and
** per universe note topic (text/topics.h). */
static int scope_inputs(ns__run *run) {
  const ns_dataset *ds = run->ds;
  int8_t *dt = NULL;
  int rc;
  run->rater_group = ns_mallocn(run->n_part ? run->n_part : 1, sizeof *run->rater_group);
  run->note_topic = ns_calloc(run->n_notes, 1);
  if (!run->rater_group || !run->note_topic) return NS_ENOMEM;
  for (size_t u = 0; u < run->n_part; u++) run->rater_group[u] = NS__GROUP_ABSENT;
  for (size_t i = 0; i < ds->n_enrollment; i++) {
    int32_t u = ds->enrollment[i].participant, g = ds->enrollment[i].modeling_group;
    if (u < 0 || (size_t)u >= run->n_part) continue;
    run->rater_group[u] = g >= 0 ? g : NS__GROUP_NONE;
  }
  if (ds->n_notes) {
    /* settled by the caller (ns_dataset_settle_topics), or from the
    ** summaries now */
    const int8_t *topic = ds->note_topic;
    if (!topic) {
      if (!(dt = ns_calloc(ds->n_notes, 1))) return NS_ENOMEM;
      if ((rc = ns_topics_assign(ds, run->pool, dt)) != 0) {
        free(dt);
        return rc;
      }
      topic = dt;
    }
    for (size_t n = 0; n < run->n_notes; n++) {
      int32_t d = run->note_ds[n];
      int8_t t = d >= 0 ? topic[d] : NS_TOPIC_NONE;
      run->note_topic[n] = t > 0 && t < NS_TOPIC_COUNT ? t : NS_TOPIC_NONE;
    }
    free(dt);
  }
  return 0;
}

/* A scorer's view of the run (pipeline_int.h): scope[e] (the edges it trains on),
** sc_ratings[n] (its numRatings) and captured[n] (its output keeps the
** note: the share of the note's ratings by in-population raters reaches
** captureThreshold; without one, every note it rated).  Reference
** scorer.py:106-211. */
static void scope_walk(const ns__run *run, const ns__scorer_spec *sp, uint8_t *flags,
                       uint64_t *bits, int32_t *sc_ratings, uint8_t *captured) {
  for (size_t n = 0; n < run->n_notes; n++) {
    uint64_t lo = run->g->note_off[n], hi = run->g->note_off[n + 1];
    int32_t cnt = 0;
    double in = 0, tot = 0;
    int t = run->note_topic[n], note_ok, cap;
    note_ok = sp->topic_mode == NS__TOPICS_ONLY      ? t == sp->topic
              : sp->topic_mode == NS__TOPICS_EXCLUDE ? t == NS_TOPIC_NONE
                                                     : 1;
    /* With trust on, a rating counts in the share with its coordination
    ** weight (1/m for m members of a detected group on the note): a ring
    ** must not decide which scorer reports a note by rating it, any more
    ** than it may move the fit.  Without trust (and in the reference) every
    ** rating counts 1. */
    for (uint64_t j = lo; j < hi; j++) {
      uint32_t e = ns_bigraph_note_edge(run->g, j);
      double w = ns__edge_cw(run, e);
      tot += w;
      if (ns__scorer_rater_in(sp, run->rater_group[run->r_rater[e]])) in += w;
    }
    cap = isnan(sp->capture) ? 1 : tot > 0 && in / tot >= sp->capture;
    if (sp->strict && !cap) note_ok = 0;
    for (uint64_t j = lo; j < hi; j++) {
      uint32_t e = ns_bigraph_note_edge(run->g, j);
      int sees = note_ok && ns__scorer_rater_in(sp, run->rater_group[run->r_rater[e]]);
      if (flags) ns__ef_put(flags, e, NS__EF_SCOPE, sees);
      else if (sees) bits[e >> 6] |= UINT64_C(1) << (e & 63);
      cnt += sees;
    }
    sc_ratings[n] = cnt;
    captured[n] = (uint8_t)(cap && cnt > 0);
  }
}

int ns__build_scope(const ns__run *run, const ns__scorer_spec *sp, uint8_t *flags,
                    int32_t *sc_ratings, uint8_t *captured) {
  scope_walk(run, sp, flags, NULL, sc_ratings, captured);
  return 0;
}

/* A scorer's scope and flags (ns__build_scope) beside Core: the scope as
** bits first; under half the edges, the flags ranked over it (sub->six,
** pipeline_int.h ns__scope_ix: a small scorer's flags cost about 0.2 bytes
** per edge and one per scope edge, not one per edge), else a byte per edge.
** Sets sub->flags, sub->six, sub->sc_ratings (allocated by the caller),
** captured and *n_in (the scope's edges).  Returns 0 or NS_ENOMEM. */
static int sub_scope(ns__run *sub, const ns__scorer_spec *sp, uint8_t *captured, size_t *n_in) {
  size_t nw = (sub->n_r + 63) / 64, nin = 0;
  uint64_t *bits = ns_calloc(nw ? nw : 1, sizeof *bits);
  if (!bits) return NS_ENOMEM;
  scope_walk(sub, sp, NULL, bits, sub->sc_ratings, captured);
  for (size_t w = 0; w < nw; w++) nin += (size_t)ns__popcount64(bits[w]);
  *n_in = nin;
  if (nin > sub->n_r / 2) {
    sub->flags = ns_calloc(sub->n_r ? sub->n_r : 1, 1);
    if (sub->flags)
      for (size_t e = 0; e < sub->n_r; e++)
        if ((bits[e >> 6] >> (e & 63)) & 1) sub->flags[e] = NS__EF_SCOPE;
    free(bits);
    return sub->flags ? 0 : NS_ENOMEM;
  }
  sub->six = ns_calloc(1, sizeof *sub->six);
  sub->flags = ns_mallocn(nin ? nin : 1, 1);
  if (!sub->six || !sub->flags || !(sub->six->base = ns_mallocn(nw ? nw : 1, sizeof(uint32_t)))) {
    free(bits);
    return NS_ENOMEM;   /* state_free releases the rest */
  }
  sub->six->bits = bits;
  for (size_t w = 0, c = 0; w < nw; w++) {
    sub->six->base[w] = (uint32_t)c;
    c += (size_t)ns__popcount64(bits[w]);
  }
  memset(sub->flags, NS__EF_SCOPE, nin ? nin : 1);
  return 0;
}

/* ---- one MF scorer's path ---------------------------------------------- */

static double *nan_array(size_t n);

/* The per-scorer arrays of a run (the rest of ns__run is shared).  mf = 0
** (a Gaussian scorer): without the round-1 fit's and the helpfulness
** stage's, which it never has. */
static int state_alloc(ns__run *run, int mf) {
  size_t nn = run->n_notes, np = run->n_part;
  int k = run->k;
  if (mf) {
    run->icpt1 = nan_array(nn);
    run->fac1 = nan_array(nn * k);
    run->ricpt1 = nan_array(np);
    run->rfac1 = nan_array(np * k);
    run->agree_ratio = nan_array(np);
    run->agree_harass = nan_array(np);
    run->ratio_diff = nan_array(np);
    run->mean_score = nan_array(np);
    if (!run->icpt1 || !run->fac1 || !run->ricpt1 || !run->rfac1 || !run->agree_ratio ||
        !run->agree_harass || !run->ratio_diff || !run->mean_score)
      return NS_ENOMEM;
  }
  run->icpt2 = nan_array(nn);
  run->fac2 = nan_array(nn * k);
  run->ricpt2 = nan_array(np);
  run->rfac2 = nan_array(np * k);
  run->prov_status = ns_mallocn(nn, 1);
  run->above = ns_calloc(np ? np : 1, 1);
  run->n_final_round = ns_calloc(nn, sizeof *run->n_final_round);
  if (!run->icpt2 || !run->fac2 || !run->ricpt2 || !run->rfac2 || !run->prov_status ||
      !run->above || !run->n_final_round)
    return NS_ENOMEM;
  return 0;
}

/* A scorer beside Core lets go of what its later steps no longer read, so
** that it does not sit under the next fit (two small scorers run side by
** side): the helpfulness stage's per-rater results once round 2 has its
** raters (the rater rows report Core's), the round-1 fit once round 2 has
** started from it -- all but rfac1, which a topic scorer still reads. */
static void drop_help_state(ns__run *run) {
  free(run->agree_ratio), free(run->agree_harass), free(run->ratio_diff), free(run->mean_score);
  run->agree_ratio = run->agree_harass = run->ratio_diff = run->mean_score = NULL;
}
static void drop_round1_state(ns__run *run) {
  free(run->icpt1), free(run->fac1), free(run->ricpt1);
  run->icpt1 = run->fac1 = run->ricpt1 = NULL;
}

static void state_free(ns__run *run) {
  free(run->icpt1);
  free(run->fac1);
  free(run->ricpt1);
  free(run->rfac1);
  free(run->prov_status);
  free(run->agree_ratio);
  free(run->agree_harass);
  free(run->ratio_diff);
  free(run->mean_score);
  free(run->above);
  free(run->icpt2);
  free(run->fac2);
  free(run->ricpt2);
  free(run->rfac2);
  free(run->n_final_round);
  free(run->flags);
  if (run->six) free(run->six->bits), free(run->six->base), free(run->six);
  run->six = NULL;
  free(run->sc_ratings);
  ns__guardrails_free(run);
}

/* Stable initialization (reference mf_base_scorer.py:73-141, 464-510):
** the round-1 training edges of modelingGroup NS__STABLE_GROUP raters, on
** notes where that group gave >= 75 % of the note's training ratings by
** enrolled raters (the reference's inner merge with userEnrollment: raters
** absent from it count in neither part) and the note has >= 5 such enrolled
** ratings.  Writes bit out of flags[e] (a subset of bit train); returns
** the number of edges selected. */
size_t ns__stable_init_mask(const ns__run *run, uint8_t *flags, unsigned train, unsigned out) {
  int32_t *enr = ns_calloc(run->n_notes ? run->n_notes : 1, sizeof *enr);
  int32_t *grp = ns_calloc(run->n_notes ? run->n_notes : 1, sizeof *grp);
  size_t cnt = 0;
  const ns__scope_ix *six = flags == run->flags ? run->six : NULL;
  if (!enr || !grp) {
    free(enr);
    free(grp);
    return (size_t)-1;
  }
  for (size_t e = 0, cur = 0; e < run->n_r; e++) {
    int32_t g, n;
    if (!ns__fl_get(flags, six, e, train)) continue;
    g = run->rater_group[run->r_rater[e]];
    if (g == NS__GROUP_ABSENT) continue;
    n = ns__edge_note_walk(run, e, &cur);
    enr[n]++;
    if (g == NS__STABLE_GROUP) grp[n]++;
  }
  for (size_t e = 0, cur = 0; e < run->n_r; e++) {
    int32_t n = ns__edge_note_walk(run, e, &cur);
    int in = ns__fl_get(flags, six, e, train) && run->rater_group[run->r_rater[e]] == NS__STABLE_GROUP &&
             enr[n] >= NS__STABLE_MIN_RATINGS &&
             (double)grp[n] / (double)enr[n] >= NS__STABLE_MIN_SHARE;
    ns__fl_put(flags, six, e, out, in);
    cnt += (size_t)in;
  }
  free(enr);
  free(grp);
  return cnt;
}

/* Round 1 with stable initialization: fit the group's subset first (the
** reference identifies its sign too: run_mf's default flip), then the full
** round-1 fit starts from it (ids the subset did not see start at 0).
** Without enrollment or without a qualifying edge the full fit runs from
** the default initialisation, exactly as without the flag (the reference
** asserts instead). */
static int stable_init_fit(ns__run *run, fit_io *io) {
  size_t nn = run->n_notes, np = run->n_part, sel;
  int k = run->k, rc = 0;
  double *ic = NULL, *fa = NULL, *ric = NULL, *rfa = NULL;
  fit_io init;

  if (!run->rater_group) return fit_subset(run, io);
  /* the subset is a flag beside the round-1 set io->mask */
  sel = ns__stable_init_mask(run, run->flags, io->mask.bit, NS__EF_STABLE);
  if (sel == (size_t)-1) { rc = NS_ENOMEM; goto out; }
  if (sel == 0) {
    rc = fit_subset(run, io);
    goto out;
  }
  ic = nan_array(nn);
  fa = nan_array(nn * k);
  ric = nan_array(np);
  rfa = nan_array(np * k);
  if (!ic || !fa || !ric || !rfa) { rc = NS_ENOMEM; goto out; }
  memset(&init, 0, sizeof init);
  init.mask = ns__run_mask(run, NS__EF_STABLE);
  init.cw = io->cw;
  init.flip_sign = 1;
  init.icpt = ic;
  init.fac = fa;
  init.ricpt = ric;
  init.rfac = rfa;
  if ((rc = fit_subset(run, &init)) != 0) goto out;
  io->init_icpt = ic;
  io->init_fac = fa;
  io->init_ricpt = ric;
  io->init_rfac = rfa;
  io->init_mu = init.mu;
  rc = fit_subset(run, io);
  io->init_icpt = io->init_fac = io->init_ricpt = io->init_rfac = NULL;
out:
  free(ic);
  free(fa);
  free(ric);
  free(rfa);
  return rc;
}

/* Round 1 of a scorer: the count filter on its scope (and, trust on, the
** edges the coordination test kept), then MF and the provisional statuses. */
static int scorer_round1(ns__run *run) {
  const ns_params *p = run->p;
  fit_io io;
  int rc;
  /* (a weight of 1 without trust) */
  for (ns__edge_it it = ns__edges(run->six, run->n_r); ns__edge_next(&it);)
    ns__ef_put(run->flags, it.p, NS__EF_BASE,
               ns__ef_get(run->flags, it.p, NS__EF_SCOPE) && ns__edge_cw(run, it.e) > 0);
  rc = count_filter(run, NS__EF_BASE, p->min_ratings_note, p->min_ratings_rater, NS__EF_R1);
  if (rc != 0) return rc;
  memset(&io, 0, sizeof io);
  io.mask = ns__run_mask(run, NS__EF_R1);
  io.cw = run->cw;
  io.flip_sign = 1;
  io.icpt = run->icpt1;
  io.fac = run->fac1;
  io.ricpt = run->ricpt1;
  io.rfac = run->rfac1;
  if (run->spec && run->spec->stable_init) {
    if ((rc = stable_init_fit(run, &io)) != 0) return rc;
  } else if ((rc = fit_subset(run, &io)) != 0) {
    return rc;
  }
  run->mu1 = io.mu;
  run->n_r1 = io.n_edges;
  run->n_r1_notes = io.n_notes;
  run->n_r1_raters = io.n_raters;
  {
    note_ctx c = {run, 0, NULL, NULL};
    ns_pool_for(run->pool, run->n_notes, 1024, notes_chunk, &c);
  }
  return 0;
}

/* A scorer's run over the Core run's shared arrays (notes, edges, bigraph,
** coordination weights, harassment penalty, quasi-cliques, scopes); its own
** state is allocated by state_alloc and freed by state_free. */
static void sub_init(ns__run *sub_, const ns__run *core, const ns__scorer_spec *sp,
                     ns_params *sp_params) {
#define sub (*sub_)
  memset(&sub, 0, sizeof sub);
  ns__scorer_params(sp, core->p, sp_params);
  /* the shared part of the run */
  sub.ds = core->ds;
  sub.p = sp_params;
  sub.pool = core->pool;
  sub.k = core->k;
  sub.n_notes = core->n_notes;
  sub.note_id = core->note_id;
  sub.note_ds = core->note_ds;
  sub.note_hist = core->note_hist;
  sub.note_created = core->note_created;
  sub.note_class = core->note_class;
  sub.note_author = core->note_author;
  sub.note_latest_nonnmr = core->note_latest_nonnmr;
  sub.num_ratings = core->num_ratings;
  sub.n_part = core->n_part;
  sub.n_r = core->n_r;
  sub.r_src = core->r_src;
  sub.note_src = core->note_src;
  sub.r_note = core->r_note;
  sub.r_rater = core->r_rater;
  sub.g = core->g;
  sub.trust = core->trust;
  sub.group_id = core->group_id;
  sub.cw = core->cw;
  sub.harass_pen = core->harass_pen;
  sub.qclique_id = core->qclique_id;
  sub.rater_group = core->rater_group;
  sub.hv_raters = core->hv_raters;
  sub.inc_cnt = core->inc_cnt;
  sub.inc_tot = core->inc_tot;
  sub.note_topic = core->note_topic;
  sub.spec = sp;
  sub.is_sub = 1;

#undef sub
}

/* Keeps a scorer's final-round rater parameters for the rater rows (the
** MF slots the reference writes in helpfulness_scores.tsv). */
static void keep_rater_params(ns__run *core, const ns__scorer_spec *sp, const double *ricpt,
                              const double *rfac) {
  size_t np = core->n_part;
  int k = core->k;
  if (sp->slot == NS__SLOT_CORE || sp->slot == NS_MODEL_TOPIC || sp->kind != NS__KIND_MF) return;
  for (size_t u = 0; u < np; u++) {
    if (isnan(ricpt[u])) continue;
    core->rs_icpt[(size_t)sp->slot * np + u] = ricpt[u];
    core->rs_fac[(size_t)sp->slot * np + u] = rfac[u * k];
    if (sp->slot == NS_MODEL_GROUP) core->rs_group[u] = sp->group_id;
    if (sp->slot == NS_MODEL_MULTI_GROUP) core->rs_multi[u] = sp->group_id;
  }
}

/* Would the scorer's fit be Core's?  Everything up to the status rules is
** a function of the scope and of the few constants compared here, so when
** they are equal (no topic notes and every rater in both populations: the
** common case for CoreWithTopics, and for Expansion on data without
** expansion raters) the scorer reuses Core's round 1, helpfulness, round 2
** and guardrail verdicts -- the same numbers it would compute -- and only its
** rule chain differs.  Pseudo-raters: a scorer without them only ignores
** Core's bounds (ns__guard_facts reads them only if its params have them). */
static int same_fit_as_core(const ns__run *core, const ns__scorer_spec *sp, const ns_params *p,
                            const ns__run *sub) {
  const ns__scorer_spec *cs = core->spec;
  if (sp->round1_only || sp->l_in != cs->l_in || sp->l_iu != cs->l_iu || sp->l_mu != cs->l_mu ||
      sp->l_fn != cs->l_fn || sp->l_fu != cs->l_fu || sp->no_mu != cs->no_mu ||
      sp->stable_init != cs->stable_init ||
      sp->tag_pct != cs->tag_pct || sp->incorrect_thr != cs->incorrect_thr ||
      p->min_mean_note_score != core->p->min_mean_note_score ||
      (p->pseudoraters && !core->p->pseudoraters))
    return 0;
  /* Core's scope is released after its statuses (ns_pipeline_run): the
  ** scorers after that fit on their own */
  if (!core->flags) return 0;
  for (size_t e = 0; e < core->n_r; e++)
    if (ns__in_scope(sub, e) != ns__in_scope(core, e)) return 0;
  return 1;
}

static int gauss_topic(const ns__run *core, ns__run *sub);

/* A scorer beside Core, on its scope of the Core run's arrays: round 1 ->
** provisional -> helpfulness -> round 2 -> guardrails -> scorer chain with
** its constants, into its slot of sc's rows.  Round-1-only scorers (topic,
** useReputation=False) skip the helpfulness filter and the refit: their
** final round is the round-1 fit on the same ratings, then guardrails and
** the chain. */
static int run_sub_scorer(ns__run *core, const ns__scorer_spec *sp, ns_scores *sc,
                          ns_model_score *mbuf, double *bounds, ns_run_stats *st) {
  ns__run sub;
  ns_params sp_params;
  uint8_t *captured = NULL;
  size_t nin = 0, nn = core->n_notes;
  int rc = 0;

  sub_init(&sub, core, sp, &sp_params);
  sub.sc_ratings = ns_calloc(nn, sizeof *sub.sc_ratings);
  captured = ns_calloc(nn, 1);
  if (!sub.sc_ratings || !captured) { rc = NS_ENOMEM; goto out; }
  if ((rc = sub_scope(&sub, sp, captured, &nin)) != 0) goto out;
  if (nin == 0) goto out;  /* nobody in the scorer's populations */
  if (same_fit_as_core(core, sp, &sp_params, &sub)) {
    /* Core's state is this scorer's too: apply its chain to it */
    ns__run view = *core;
    view.p = &sp_params;
    view.spec = sp;
    view.is_sub = 1;
    note_ctx c = {&view, 1, sc, captured, mbuf, bounds};
    ns_pool_for(view.pool, nn, 1024, notes_chunk, &c);
    keep_rater_params(core, sp, core->ricpt2, core->rfac2);
    goto out;
  }
  if ((rc = state_alloc(&sub, 1)) != 0) goto out;
  if ((rc = scorer_round1(&sub)) != 0) goto out;
  if (sp->round1_only) {
    /* useReputation=False: the round-1 fit is the scorer's result (its
    ** arrays become round 2's; rfac1 is copied, a topic scorer reads it) */
    drop_help_state(&sub);
    free(sub.icpt2), free(sub.fac2), free(sub.ricpt2);
    sub.icpt2 = sub.icpt1, sub.fac2 = sub.fac1, sub.ricpt2 = sub.ricpt1;
    sub.icpt1 = sub.fac1 = sub.ricpt1 = NULL;
    memcpy(sub.rfac2, sub.rfac1, sub.n_part * (size_t)sub.k * sizeof *sub.rfac2);
    if (sp->kind == NS__KIND_GAUSSIAN) {
      /* GaussianTopicScorer: that fit was its prescoring */
      if ((rc = gauss_topic(core, &sub)) != 0) goto out;
    } else {
      for (size_t e = 0, cur = 0; e < sub.n_r; e++) {
        ns__rf_put(&sub, e, NS__EF_R2, ns__edge_r1(&sub, e));
        if (ns__edge_r1(&sub, e)) sub.n_final_round[ns__edge_note_walk(&sub, e, &cur)]++;
      }
      /* final scoring still runs its guardrails on those ratings
      ** (mf_base_scorer.py:1119-1125: only the rep-filter is skipped) */
      if ((rc = ns__guardrails(&sub)) != 0) goto out;
    }
  } else {
    if ((rc = ns__helpfulness(&sub)) != 0) goto out;
    drop_help_state(&sub);
    if ((rc = round2(&sub)) != 0) goto out;
    drop_round1_state(&sub);
    if ((rc = ns__guardrails(&sub)) != 0) goto out;
  }
  {
    note_ctx c = {&sub, 1, sc, captured, mbuf, bounds};
    ns_pool_for(sub.pool, nn, 1024, notes_chunk, &c);
  }
  keep_rater_params(core, sp, sub.ricpt2, sub.rfac2);
  if (sp->slot == NS_MODEL_TOPIC) {
    /* topicNoteConfident: more than n_confidence raters with a factor on
    ** each side among the note's scope ratings (mf_topic_scorer.py) */
    for (size_t n = 0; n < nn; n++) {
      int32_t pos = 0, neg = 0;
      if (!captured[n] || isnan(sub.icpt2[n])) continue;
      for (uint64_t j = sub.g->note_off[n]; j < sub.g->note_off[n + 1]; j++) {
        uint32_t e = ns_bigraph_note_edge(sub.g, j);
        double fu = sub.rfac1[(size_t)sub.r_rater[e] * sub.k];
        if (!ns__in_scope(&sub, e) || isnan(fu)) continue;
        if (fu >= 0) pos++;
        else neg++;
      }
      sc->notes[n].topic_confident = (int8_t)(pos > sp->n_confidence && neg > sp->n_confidence);
    }
  }
out:
  st->mf_passes += sub.st.mf_passes;
  st->mf_seconds += sub.st.mf_seconds;
  state_free(&sub);
  free(captured);
  return rc;
}

/* GaussianModel / GaussianCoreWithTopicsModel (factorization/gaussian.h,
** gaussian_scorer.py): the scorer's scope of Core's final-round raters
** (above Core's threshold, with a Core round-2 factor) and their Core
** factors.  Its note factor is the empirical phi; its
** NoHighVol / NoCorrelated intercepts are the Gaussian scores again without
** those raters; the tag, incorrect and low-diligence verdicts come from the
** guardrails on its ratings with Core's rater parameters; then the chain
** with the Gaussian constants. */
/* The Gaussian view as a filter over the run's note-ordered edges
** (ns_gauss_in.take): an edge of the mask whose rater is not dropped, its
** helpfulNum from the dataset's level -- no copy of the values or raters
** (8 bytes per rating of the view). */
typedef struct gauss_view {
  const ns__run *core;
  ns__emask use;
  const uint8_t *drop_rater;
} gauss_view;

static int gauss_take(const void *vctx, size_t n, size_t x, float *value, uint32_t *rater) {
  const gauss_view *gv = vctx;
  const ns__run *core = gv->core;
  uint32_t e = ns_bigraph_note_edge(core->g, x);
  int32_t u = core->r_rater[e];
  if (!ns__emask_on(gv->use, e) || (gv->drop_rater && gv->drop_rater[u])) return 0;
  *value = ns__src_value(core, ns__r_src_n(core, e, (int32_t)n));
  *rater = (uint32_t)u;
  return 1;
}

static int gauss_scores(const ns__run *core, ns__emask use, const uint8_t *drop_rater,
                        double bw, double *icpt, double *phi) {
  size_t nn = core->n_notes;
  int k = core->k, rc = NS_ENOMEM;
  size_t *off = ns_mallocn(nn + 1, sizeof *off);
  gauss_view gv = {core, use, drop_rater};
  if (!off) goto out;
  for (size_t n = 0; n <= nn; n++) off[n] = (size_t)core->g->note_off[n];
  {
    /* no author rating: the pinned reference adds none (gaussian.h) */
    /* the factor per rater (Core's first factor column), not per rating */
    ns_gauss_in in = {nn, off, NULL, NULL, NULL, NULL, core->n_part, core->rfac2, (size_t)k,
                      gauss_take, &gv, bw};
    rc = ns_gaussian_scores(&in, core->pool, icpt, phi);
  }
  /* a note without ratings here has no score */
  for (size_t n = 0; rc == 0 && n < nn; n++) {
    int any = 0;
    for (uint64_t x = off[n]; x < off[n + 1] && !any; x++) {
      uint32_t e = ns_bigraph_note_edge(core->g, x);
      any = ns__emask_on(use, e) && !(drop_rater && drop_rater[core->r_rater[e]]);
    }
    if (!any) icpt[n] = phi[n] = NAN;
  }
out:
  free(off);
  return rc;
}

/* icpt = the Gaussian scores of sub's ratings without those of the raters
** in drop (NULL: none), or a copy of sub's when none of them rated; bw the
** CRH bandwidth (0 = default).  core holds the rater factors (rfac2). */
static int gauss_without(const ns__run *core, const ns__run *sub, const uint8_t *drop, double bw,
                         double *icpt, double *phi) {
  int any = 0;
  for (size_t e = 0; drop && e < sub->n_r && !any; e++) any = ns__edge_r2(sub, e) && drop[sub->r_rater[e]];
  if (!any) {
    memcpy(icpt, sub->icpt2, sub->n_notes * sizeof *icpt);
    return 0;
  }
  return gauss_scores(core, ns__run_mask(sub, NS__EF_R2), drop, bw, icpt, phi);
}

/* NoHighVol / NoCorrelated of a Gaussian scorer sub: its scores again
** without Core's high-volume raters, then without its quasi-clique members
** (without such raters among its ratings the rerun is the score).  fac holds
** the rater factors the scores read (Core, or the topic scorer's own fit);
** phi is scratch. */
static int gauss_reruns(const ns__run *fac, const ns__run *core, ns__run *sub, double *phi) {
  double bw = sub->spec->crh_bandwidth;
  uint8_t *corr;
  int rc;
  if (!sub->p->guardrails) return 0;
  if ((rc = gauss_without(fac, sub, core->hv_raters, bw, sub->g_icpt_nohv, phi)) != 0) return rc;
  if (!(corr = ns_calloc(sub->n_part ? sub->n_part : 1, 1))) return NS_ENOMEM;
  for (size_t u = 0; u < sub->n_part; u++) corr[u] = core->qclique_id && core->qclique_id[u] > 0;
  rc = gauss_without(fac, sub, corr, bw, sub->g_icpt_nocorr, phi);
  free(corr);
  return rc;
}

static int run_gaussian(const ns__run *core, const ns__scorer_spec *sp, ns_scores *sc) {
  ns__run sub;
  ns_params gp;
  size_t nn = core->n_notes, np = core->n_part;
  int k = core->k, rc = NS_ENOMEM;
  uint8_t *captured = ns_calloc(nn, 1);
  double *phi = NULL;

  sub_init(&sub, core, sp, &gp);
  sub.gauss = 1;
  sub.sc_ratings = ns_calloc(nn, sizeof *sub.sc_ratings);
  if (!captured || !sub.sc_ratings) goto out;
  {
    size_t nin;
    if ((rc = sub_scope(&sub, sp, captured, &nin)) != 0) goto out;
  }
  if ((rc = state_alloc(&sub, 0)) != 0) goto out;
  rc = NS_ENOMEM;
  phi = nan_array(nn);
  sub.g_icpt_nocorr = nan_array(nn);
  if (!phi || !sub.g_icpt_nocorr) goto out;
  /* its ratings (gaussian.h, the reference's view): on notes with >= 5
  ** ratings in its scope, those by raters above Core's helpfulness
  ** threshold with a Core final factor */
  for (size_t e = 0, cur = 0; e < sub.n_r; e++) {
    int32_t u = sub.r_rater[e], n = ns__edge_note_walk(&sub, e, &cur);
    ns__rf_put(&sub, e, NS__EF_R2,
               ns__in_scope(&sub, e) && sub.sc_ratings[n] >= sub.p->min_ratings_note &&
                   core->above[u] == 1 && !isnan(core->rfac2[(size_t)u * k]));
  }
  for (size_t e = 0, cur = 0; e < sub.n_r; e++)
    if (ns__edge_r2(&sub, e)) sub.n_final_round[ns__edge_note_walk(&sub, e, &cur)]++;
  if ((rc = gauss_scores(core, ns__run_mask(&sub, NS__EF_R2), NULL, sp->crh_bandwidth, sub.icpt2,
                         phi)) != 0)
    goto out;
  memcpy(sub.fac2, phi, nn * sizeof *phi);  /* k = 1 columns (first factor) */
  if (k > 1)
    for (size_t n = nn; n-- > 0;) {
      sub.fac2[n * k] = phi[n];
      for (int d = 1; d < k; d++) sub.fac2[n * k + d] = 0;
    }
  memcpy(sub.ricpt2, core->ricpt2, np * sizeof *sub.ricpt2);
  memcpy(sub.rfac2, core->rfac2, np * (size_t)k * sizeof *sub.rfac2);
  memcpy(sub.prov_status, core->prov_status, nn);
  sub.mu2 = core->mu2;
  /* tag / incorrect / low-diligence verdicts on its ratings */
  if ((rc = ns__guardrails(&sub)) != 0) goto out;
  if ((rc = gauss_reruns(core, core, &sub, phi)) != 0) goto out;
  {
    note_ctx c = {&sub, 1, sc, captured};
    ns_pool_for(sub.pool, nn, 1024, notes_chunk, &c);
  }
  rc = 0;
out:
  state_free(&sub);
  free(captured), free(phi);
  return rc;
}

/* GaussianTopicScorer (gaussian_topic_scorer.py; gaussian_scorer.py
** _score_notes_and_users, lines 678-975, with useReputation=False): sub has
** just run its prescoring, the topic's MF round 1 (its arrays moved to
** round 2's), and this replaces that fit's verdict by the Gaussian's on
** the same rater factors.  Its ratings: the topic's (sub's scope) on notes
** with >= 5 of them (_prepare_data_for_scoring), by raters with both an
** intercept and a factor in the MF fit (lines 715-724) -- no helpfulness
** filter.  The note factor is the MF one: the reference refits the notes
** on those ratings with the raters frozen from the same fit (lines
** 860-895), which leaves a note the fit already had where it was; a note
** the fit lacked falls back to the empirical phi, as there.  NoHighVol /
** NoCorrelated are the Gaussian again without those raters (score_final,
** lines 1020-1085); the tag, incorrect and low-diligence verdicts come from
** the guardrails on its ratings with the MF fit's parameters. */
static int gauss_topic(const ns__run *core, ns__run *sub) {
  const ns__scorer_spec *sp = sub->spec;
  size_t nn = sub->n_notes;
  int k = sub->k, rc = NS_ENOMEM;
  double *phi = nan_array(nn);
  sub->g_icpt_nocorr = nan_array(nn);
  if (!phi || !sub->g_icpt_nocorr) goto out;
  for (size_t e = 0, cur = 0; e < sub->n_r; e++) {
    int32_t u = sub->r_rater[e], n = ns__edge_note_walk(sub, e, &cur);
    int in = ns__in_scope(sub, e) && sub->sc_ratings[n] >= sub->p->min_ratings_note &&
             !isnan(sub->ricpt2[u]) && !isnan(sub->rfac2[(size_t)u * k]);
    ns__rf_put(sub, e, NS__EF_R2, in);
    if (in) sub->n_final_round[n]++;
  }
  /* sub is its own "core" here: its rfac2 holds the MF fit's factors */
  if ((rc = gauss_scores(sub, ns__run_mask(sub, NS__EF_R2), NULL, sp->crh_bandwidth, sub->icpt2,
                         phi)) != 0)
    goto out;
  for (size_t n = 0; n < nn; n++) {
    if (isnan(sub->icpt2[n])) {
      /* not in the Gaussian's ratings: the reference has no row for it */
      for (int d = 0; d < k; d++) sub->fac2[n * k + d] = NAN;
    } else if (isnan(sub->fac2[n * k])) {
      sub->fac2[n * k] = phi[n];
      for (int d = 1; d < k; d++) sub->fac2[n * k + d] = 0;
    }
  }
  sub->mu2 = sub->mu1;
  sub->gauss = 1;
  if ((rc = ns__guardrails(sub)) != 0) goto out;
  /* sub again holds the factors */
  if ((rc = gauss_reruns(sub, core, sub, phi)) != 0) goto out;
  rc = 0;
out:
  free(phi);
  return rc;
}

/* ---- the small scorers, side by side ---------------------------------- */

/* The group, multi-group and topic models: small scopes, so one thread
** each is enough and several run at once.  They never write the same
** memory: each writes its own model[] slot, and within the group slot
** (and modeling_group, the rater parameters of the group slot) only the
** notes its capture rule keeps -- shares of disjoint populations, so at most
** one group model keeps a note (captures >= 0.51) -- and only raters of its
** own group; a topic model only notes of its topic. */
static int small_scorer(const ns__scorer_spec *sp) {
  /* (the Gaussian topic scorer too: its prescoring is a topic MF fit) */
  if (sp->kind == NS__KIND_GAUSSIAN) return sp->slot == NS_MODEL_TOPIC;
  return sp->slot == NS_MODEL_GROUP || sp->slot == NS_MODEL_MULTI_GROUP || sp->slot == NS_MODEL_TOPIC;
}

/* Progress weight of a scorer run on its own (the big MF and Gaussian
** scorers; the small ones count together as PW_SMALL). */
static double scorer_weight(const ns__scorer_spec *sp) {
  if (sp->kind == NS__KIND_GAUSSIAN) return sp->slot == NS_MODEL_GAUSSIAN ? PW_GAUSS : 0;
  return sp->slot == NS_MODEL_EXPANSION || sp->slot == NS_MODEL_EXPANSION_PLUS ? PW_MF_BIG
                                                                             : PW_MF_SMALL;
}

typedef struct small_ctx {
  ns__run *core;
  ns_scores *sc;
  const int *idx;        /* scorer indexes */
  int *rc;               /* per task */
  ns_run_stats *st;      /* per task: the counters it adds */
  double *secs;          /* per task */
} small_ctx;

static void small_chunk(void *vctx, size_t chunk, size_t begin, size_t end) {
  small_ctx *c = vctx;
  (void)chunk;
  for (size_t j = begin; j < end; j++) {
    double t0 = ns_monotonic_s();
    ns__run view = *c->core;  /* the same arrays, its own one-thread pool */
    ns_pool *one = NULL;
    int rc = ns_pool_new(1, &one);
    if (rc == 0) {
      view.pool = one;
      rc = run_sub_scorer(&view, &ns__scorers[c->idx[j]], c->sc, NULL, NULL, &c->st[j]);
    }
    ns_pool_free(one);
    ns_heap_release();  /* as between stages (progress()) */
    c->rc[j] = rc;
    c->secs[j] = ns_monotonic_s() - t0;
  }
}

static int run_small_scorers(ns__run *core, ns_scores *sc) {
  int idx[NS_SCORER_MAX], rcs[NS_SCORER_MAX], n = 0, rc = 0;
  double secs[NS_SCORER_MAX];
  ns_run_stats *st = ns_calloc(NS_SCORER_MAX, sizeof *st);
  if (!st) return NS_ENOMEM;
  for (int i = 1; i < ns__n_scorers; i++)
    if (small_scorer(&ns__scorers[i])) idx[n++] = i;
  {
    small_ctx c = {core, sc, idx, rcs, st, secs};
    ns_pool_for(core->pool, (size_t)n, 1, small_chunk, &c);
  }
  for (int j = 0; j < n; j++) {
    if (rc == 0 && rcs[j] != 0) rc = rcs[j];  /* the first in table order */
    core->st.mf_passes += st[j].mf_passes;
    core->st.mf_seconds += st[j].mf_seconds;
    core->st.scorer_seconds[idx[j]] = secs[j];
  }
  free(st);
  return rc;
}

/* ---- rater rows -------------------------------------------------------- */

static int cmp_rater(const void *a, const void *b, void *arg) {
  const ns_strtab *t = arg;
  const ns_rater_score *x = a, *y = b;
  return strcmp(ns_strtab_str(t, x->participant), ns_strtab_str(t, y->participant));
}

void qsort_r(void *base, size_t nmemb, size_t size,
             int (*compar)(const void *, const void *, void *), void *arg);

static int rater_rows(ns__run *run, ns_scores *sc) {
  const ns_dataset *ds = run->ds;
  size_t np = run->n_part, nr = 0;
  uint8_t *present = ns_calloc(np, 1);
  int8_t *fstat = ns_mallocn(run->n_notes, sizeof *fstat);
  ns__rater_counts *cnt = ns_calloc(np, sizeof *cnt);
  int32_t *awaiting = ns_calloc(np, sizeof *awaiting);
  int32_t *after = ns_calloc(np, sizeof *after);
  int32_t *ncrh = ns_calloc(np, sizeof *ncrh);
  int32_t *ncrnh = ns_calloc(np, sizeof *ncrnh);
  int32_t *nnmr = ns_calloc(np, sizeof *nnmr);
  ns__valid_in in;
  int rc = 0;

  if (!present || !fstat || !cnt || !awaiting || !after || !ncrh || !ncrnh || !nnmr) {
    rc = NS_ENOMEM;
    goto out;
  }
  for (size_t n = 0; n < run->n_notes; n++) fstat[n] = sc->notes[n].final_status;
  /* successful / unsuccessful counts: valid ratings judged against the
  ** FINAL statuses (reference helpfulness_scores output). */
  in.note_status = fstat;
  in.note_created = run->note_created;
  in.note_latest_nonnmr = run->note_latest_nonnmr;
  if ((rc = ns__valid_counts(run, &in, NS__EMASK_ALL, cnt)) != 0) goto out;

  if (run->ds_rated) {
    memcpy(present, run->ds_rated, np);  /* the dataset's raters went to the run */
  } else {
    for (size_t i = 0; i < ds->n_ratings; i++)
      if (ds->r_rater[i] >= 0 && (size_t)ds->r_rater[i] < np) present[ds->r_rater[i]] = 1;
  }
  for (size_t e = 0, cur = 0; e < run->n_r; e++) {
    int32_t n = ns__edge_note_walk(run, e, &cur), u = run->r_rater[e];
    int64_t latest = run->note_latest_nonnmr[n];
    if (fstat[n] == NS_STATUS_NMR) awaiting[u]++;
    if (latest != NS_TS_NONE && ns_r_created(ds, ns__r_src_n(run, e, n)) >= latest) after[u]++;
  }
  for (size_t n = 0; n < run->n_notes; n++) {
    int32_t a = run->note_author[n];
    if (a < 0 || (size_t)a >= np) continue;
    present[a] = 1;
    if (fstat[n] == NS_STATUS_CRH) ncrh[a]++;
    else if (fstat[n] == NS_STATUS_CRNH) ncrnh[a]++;
    else nnmr[a]++;
  }
  for (size_t u = 0; u < np; u++) nr += present[u];
  sc->raters = ns_calloc(nr, sizeof *sc->raters);
  if (!sc->raters) { rc = NS_ENOMEM; goto out; }
  sc->n_raters = nr;
  {
    size_t j = 0;
    int k = run->k;
    for (size_t u = 0; u < np; u++) {
      ns_rater_score *r;
      if (!present[u]) continue;
      r = &sc->raters[j++];
      r->participant = (int32_t)u;
      r->intercept = run->ricpt2[u];
      r->factor = run->rfac2[u * k];
      r->intercept_r1 = run->ricpt1[u];
      r->factor_r1 = run->rfac1[u * k];
      r->crh_crnh_ratio_diff = run->ratio_diff[u];
      r->mean_note_score = run->mean_score[u];
      r->agree_ratio = run->agree_ratio[u];
      r->agree_ratio_harassment = run->agree_harass[u];
      r->above_threshold = run->above[u];
      r->successful_helpful = cnt[u].succ_h;
      r->successful_not_helpful = cnt[u].succ_nh;
      r->unsuccessful_helpful = cnt[u].unsucc_h;
      r->unsuccessful_not_helpful = cnt[u].unsucc_nh;
      r->ratings_awaiting = awaiting[u];
      r->rated_after_decision = after[u];
      r->notes_crh = ncrh[u];
      r->notes_crnh = ncrnh[u];
      r->notes_nmr = nnmr[u];
      r->num_ratings = (int32_t)ns_bigraph_rater_degree(run->g, u);
      r->trust = run->trust[u];
      r->group_id = run->group_id ? run->group_id[u] : 0;
      r->qclique_id = run->qclique_id ? run->qclique_id[u] : 0;
      for (int m = 0; m < NS_MODEL_COUNT; m++) {
        r->model_intercept[m] = run->rs_icpt ? run->rs_icpt[(size_t)m * np + u] : NAN;
        r->model_factor[m] = run->rs_fac ? run->rs_fac[(size_t)m * np + u] : NAN;
      }
      r->modeling_group = run->rs_group ? run->rs_group[u] : -1;
      r->modeling_multi_group = run->rs_multi ? run->rs_multi[u] : -1;
    }
  }
  /* Participant indexes are in string order after ns_dataset_normalize();
  ** sort anyway so unnormalized datasets give the same file order. */
  qsort_r(sc->raters, sc->n_raters, sizeof *sc->raters, cmp_rater, ds->participants);

out:
  free(present);
  free(fstat);
  free(cnt);
  free(awaiting);
  free(after);
  free(ncrh);
  free(ncrnh);
  free(nnmr);
  return rc;
}

/* ---- the run ----------------------------------------------------------- */

void ns__run_free(ns__run *run) {
  free(run->note_id);
  free(run->note_ds);
  free(run->note_hist);
  free(run->note_created);
  free(run->note_class);
  free(run->note_author);
  free(run->note_latest_nonnmr);
  free(run->num_ratings);
  free(run->r_src);
  free(run->note_src);
  free(run->r_note);
  free(run->r_rater);
  free(run->ds_rated);
  ns_bigraph_free(run->g);
  free(run->harass_pen);
  free(run->trust);
  free(run->earned);
  free(run->group_id);
  ns__cw_free(run->cw);
  free(run->rater_group);
  free(run->note_topic);
  free(run->rs_icpt);
  free(run->rs_fac);
  free(run->rs_group);
  free(run->rs_multi);
  free(run->hv_raters);
  free(run->inc_cnt);
  free(run->inc_tot);
  state_free(run);  /* Core's own state, quasi-cliques included */
  ns_pool_free(run->pool);
}

/* The flag carries no data with it (the run reads nothing the other thread
** wrote), so a relaxed load is enough: the run only has to see it soon. */
#define CANCELED() (cancel && atomic_load_explicit(cancel, memory_order_relaxed))

static int pipeline_run(const ns_dataset *ds, ns_dataset *take, const ns_params *p,
                        atomic_int *cancel, ns_scores **out, ns_run_stats *stats);

int ns_pipeline_run(const ns_dataset *ds, const ns_params *p, atomic_int *cancel,
                    ns_scores **out, ns_run_stats *stats) {
  return pipeline_run(ds, NULL, p, cancel, out, stats);
}

int ns_pipeline_run_consume(ns_dataset *ds, const ns_params *p, atomic_int *cancel,
                            ns_scores **out, ns_run_stats *stats) {
  return pipeline_run(ds, ds, p, cancel, out, stats);
}

static int pipeline_run(const ns_dataset *ds, ns_dataset *take, const ns_params *p,
                        atomic_int *cancel, ns_scores **out, ns_run_stats *stats) {
  ns__run run;
  ns_scores *sc = NULL;
  stage_clock clk;
  double t_start = ns_monotonic_s(), t_core;
  int rc = 0, k;
  size_t nn, np;
  int8_t *prov1 = NULL;       /* round-1 provisional statuses (output) */
  ns_model_score *mbuf[NS_MODEL_COUNT] = {NULL};  /* the big scorers' slots */
  double *cwt_bounds = NULL;  /* CoreWithTopics' bounds, 2 per note */
  uint8_t *captured = NULL;   /* Core's capture rule per note */

  *out = NULL;
  if (stats) memset(stats, 0, sizeof *stats);
  memset(&run, 0, sizeof run);
  if (!ds || !p || p->k < 1 || p->k > NS_MF_MAX_K) return NS_EINVAL;
  run.ds = ds;
  run.take = take;
  run.p = p;
  run.k = k = p->k;
  run.spec = &ns__scorers[0];  /* MFCoreScorer; its thresholds are p's */
  memset(&clk, 0, sizeof clk);
  clk.show = p->progress && isatty(2) && !getenv("NS_NO_PROGRESS");
  clk.t_run = t_start;
  clk.total = PW_PREPARE + (p->trust ? PW_GROUPS + PW_TRUST : 0) + PW_ROUND1 + PW_HELP +
              PW_ROUND2 + PW_GUARD + PW_STATUSES + PW_SMALL + PW_META + PW_HISTORY;
  for (int i = 1; i < ns__n_scorers; i++)
    if (!small_scorer(&ns__scorers[i])) clk.total += scorer_weight(&ns__scorers[i]);
  if ((rc = ns_pool_new(p->threads > 0 ? p->threads : ns_default_threads(), &run.pool)) != 0)
    goto out;
  sc = ns_calloc(1, sizeof *sc);
  if (!sc) { rc = NS_ENOMEM; goto out; }
  sc->now_ms = p->now_ms;
  sc->n_ratings_in = ds->n_ratings;

  /* -- prepare */
  stage_begin(&clk, "preparing ratings", PW_PREPARE);
  if ((rc = ns__run_prepare(&run)) != 0) goto out;
  nn = run.n_notes;
  if (nn == 0) { rc = NS_ENODATA; goto out; }
  np = run.n_part;
  if ((rc = scope_inputs(&run)) != 0) goto out;
  if ((rc = state_alloc(&run, 1)) != 0) goto out;
  prov1 = ns_mallocn(nn, 1);
  captured = ns_calloc(nn, 1);
  run.flags = ns_calloc(run.n_r ? run.n_r : 1, 1);
  run.sc_ratings = ns_calloc(nn, sizeof *run.sc_ratings);
  run.trust = nan_array(np);
  run.earned = nan_array(np);
  run.rs_icpt = nan_array((size_t)NS_MODEL_COUNT * (np ? np : 1));
  run.rs_fac = nan_array((size_t)NS_MODEL_COUNT * (np ? np : 1));
  run.rs_group = ns_mallocn(np ? np : 1, sizeof *run.rs_group);
  run.rs_multi = ns_mallocn(np ? np : 1, sizeof *run.rs_multi);
  if (!run.rs_icpt || !run.rs_fac || !run.rs_group || !run.rs_multi) { rc = NS_ENOMEM; goto out; }
  for (size_t u = 0; u < np; u++) run.rs_group[u] = run.rs_multi[u] = -1;
  if (!prov1 || !captured || !run.flags || !run.sc_ratings || !run.trust || !run.earned) {
    rc = NS_ENOMEM;
    goto out;
  }
  if (p->trust) {
    run.group_id = ns_calloc(np ? np : 1, sizeof *run.group_id);
    run.cw = ns_calloc(1, sizeof *run.cw);  /* filled by the groups stage */
    if (!run.group_id || !run.cw) { rc = NS_ENOMEM; goto out; }
  }
  run.st.stage_seconds[NS_STAGE_SNAPSHOT] = stage_end(&clk);
  if (CANCELED()) { rc = NS_ECANCELED; goto out; }
  t_core = ns_monotonic_s();

  /* -- coordinated groups (trust on): a large group has no say on a note
  ** where it rates against everyone else (weight 0: the rating leaves the
  ** fit, so it moves no count either) and a bounded say elsewhere, in both
  ** rounds, so a ring cannot bend the provisional statuses either.  Over
  ** every kept rating: the weights are shared by all scorers. */
  if (p->trust) {
    stage_begin(&clk, "coordinated groups", PW_GROUPS);
    if ((rc = ns__groups_stage(&run)) != 0) goto out;
    run.st.groups_seconds = stage_end(&clk);
    run.st.stage_seconds[NS_STAGE_TRUST] += run.st.groups_seconds;
  }
  /* Core's view (after the groups: capture shares use their weights) */
  ns__build_scope(&run, run.spec, run.flags, run.sc_ratings, captured);

  /* -- round 1 (Core) */
  stage_begin(&clk, "round 1 (prescoring) factorization", PW_ROUND1);
  if ((rc = scorer_round1(&run)) != 0) goto out;
  memcpy(prov1, run.prov_status, nn);
  run.st.stage_seconds[NS_STAGE_ROUND1] = stage_end(&clk);
  if (CANCELED()) { rc = NS_ECANCELED; goto out; }

  /* -- helpfulness */
  stage_begin(&clk, "rater helpfulness", PW_HELP);
  if ((rc = ns__helpfulness(&run)) != 0) goto out;
  run.st.stage_seconds[NS_STAGE_HELPFULNESS] = stage_end(&clk);

  /* -- trust */
  stage_begin(&clk, "trust", p->trust ? PW_TRUST : 0);
  if (p->trust && (rc = ns__trust_stage(&run, ns__run_mask(&run, NS__EF_R1))) != 0) goto out;
  run.st.stage_seconds[NS_STAGE_TRUST] += stage_end(&clk);
  if (CANCELED()) { rc = NS_ECANCELED; goto out; }

  /* -- round 2 */
  stage_begin(&clk, "round 2 (final) factorization", PW_ROUND2);
  if ((rc = round2(&run)) != 0) goto out;
  run.st.stage_seconds[NS_STAGE_ROUND2] = stage_end(&clk);
  if (CANCELED()) { rc = NS_ECANCELED; goto out; }

  /* -- guardrails on the round-2 fit (engine/pipeline_guard.c) */
  stage_begin(&clk, "guardrails", PW_GUARD);
  if ((rc = ns__guardrails(&run)) != 0) goto out;
  /* the last rater-side walk of the run was the quasi-cliques': the rater
  ** lists go (4 bytes per rating for every later window; the helpfulness
  ** counts walk notes) */
  ns_bigraph_drop_rater_edges(run.g);
  run.st.stage_seconds[NS_STAGE_GUARDRAILS] = stage_end(&clk);
  if (CANCELED()) { rc = NS_ECANCELED; goto out; }

  double core_seconds = ns_monotonic_s() - t_core;

  /* -- the other scorers, each on its scope of the same arrays (every
  ** scorer's result is independent of the others and of the thread count).
  ** First the big MF scorers (CoreWithTopics, Expansion, ExpansionPlus),
  ** one after the other on the pool, before the score rows exist: each
  ** writes its model slot into a buffer of 48 bytes a note, which the rows
  ** (560 bytes a note) take over below.  Their fits over about all ratings
  ** are the run's largest windows, and the rows' 7 bytes per rating are not
  ** under them (docs/architecture.md, "Memory of a scoring run"). */
  int any_topic = 0;
  for (size_t n = 0; n < nn && !any_topic; n++) any_topic = run.note_topic[n] != NS_TOPIC_NONE;
  for (int i = 1; i < ns__n_scorers; i++) {
    const ns__scorer_spec *sp = &ns__scorers[i];
    double t0 = ns_monotonic_s();
    if (small_scorer(sp) || sp->kind == NS__KIND_GAUSSIAN) continue;
    if (CANCELED()) { rc = NS_ECANCELED; goto out; }
    progress(&clk, sp->name, scorer_weight(sp));
    if (!(mbuf[sp->slot] = model_buffer(nn))) { rc = NS_ENOMEM; goto out; }
    if (sp->slot == NS_MODEL_CORE_WITH_TOPICS && !(cwt_bounds = nan_array(2 * nn))) {
      rc = NS_ENOMEM;
      goto out;
    }
    if ((rc = run_sub_scorer(&run, sp, NULL, mbuf[sp->slot], cwt_bounds, &run.st)) != 0) goto out;
    run.st.scorer_seconds[i] = ns_monotonic_s() - t0;
  }

  /* -- Core's rows: its fields only where its capture rule keeps the note
  ** (NAN / UNSET elsewhere: topic notes, notes of other populations); then
  ** the big scorers' buffered slots */
  stage_begin(&clk, "note statuses", PW_STATUSES);
  double t_rows = ns_monotonic_s();
  sc->n_notes = nn;
  sc->notes = ns_calloc(nn, sizeof *sc->notes);
  if (!sc->notes) { rc = NS_ENOMEM; goto out; }
  for (size_t n = 0; n < nn; n++) {
    ns_note_score *s = &sc->notes[n];
    int in = captured[n];
    ns_note_score_init(s, run.note_id[n]);
    s->note_index = run.note_ds[n];
    s->created_ms = run.note_created[n];
    s->classification = run.note_class[n];
    s->num_ratings = run.num_ratings[n];
    s->num_final_round_ratings = in ? run.n_final_round[n] : 0;
    s->intercept = in ? run.icpt2[n] : NAN;
    s->factor = in ? run.fac2[n * k] : NAN;
    s->intercept_r1 = run.icpt1[n];
    s->factor_r1 = run.fac1[n * k];
    s->intercept_min = in && run.g_icpt_min ? run.g_icpt_min[n] : NAN;
    s->intercept_max = in && run.g_icpt_max ? run.g_icpt_max[n] : NAN;
    s->intercept_no_high_vol = in && run.g_icpt_nohv ? run.g_icpt_nohv[n] : NAN;
    s->intercept_no_correlated = in && run.g_icpt_nocorr ? run.g_icpt_nocorr[n] : NAN;
    s->active_filter_tags = in && run.g_tag_fired ? run.g_tag_fired[n] : 0;
    s->low_diligence_intercept = in && run.g_dilig ? run.g_dilig[n] : NAN;
    s->intercept_pop = in && run.g_pop_icpt ? run.g_pop_icpt[n] : NAN;
    s->provisional_status = prov1[n];
    s->topic = run.note_topic[n];
    for (int m = 0; m < NS_MODEL_COUNT; m++)
      if (mbuf[m]) memcpy(&s->model[m], &mbuf[m][n], sizeof s->model[m]);
    if (cwt_bounds) {
      s->cwt_intercept_min = cwt_bounds[2 * n];
      s->cwt_intercept_max = cwt_bounds[2 * n + 1];
    }
  }
  for (int m = 0; m < NS_MODEL_COUNT; m++) {
    free(mbuf[m]);
    mbuf[m] = NULL;
  }
  free(cwt_bounds);
  cwt_bounds = NULL;
  {
    note_ctx c = {&run, 1, sc, captured, NULL, NULL};
    ns_pool_for(run.pool, nn, 1024, notes_chunk, &c);
  }
  run.st.scorer_seconds[0] = core_seconds + (ns_monotonic_s() - t_rows);
  /* nothing after Core's statuses reads its per-edge flags (the meta step
  ** counts no heads, no scorer reuses Core's fit from here: see
  ** same_fit_as_core): a byte per rating less for the windows to come */
  free(run.flags);
  run.flags = NULL;
  double status_seconds = stage_end(&clk);

  /* -- then the small ones (group, multi-group and topic models) side by
  ** side, each on one thread (they write disjoint slots, notes and raters:
  ** see small_scorer); then the Gaussian scorers, straight into the rows */
  progress(&clk, "group and topic models", PW_SMALL);
  if ((rc = run_small_scorers(&run, sc)) != 0) goto out;
  if (CANCELED()) { rc = NS_ECANCELED; goto out; }
  for (int i = 1; i < ns__n_scorers; i++) {
    const ns__scorer_spec *sp = &ns__scorers[i];
    double t0 = ns_monotonic_s();
    if (sp->kind != NS__KIND_GAUSSIAN || small_scorer(sp)) continue;
    if (CANCELED()) { rc = NS_ECANCELED; goto out; }
    progress(&clk, sp->name, scorer_weight(sp));
    if (sp->slot == NS_MODEL_GAUSSIAN_CORE_WITH_TOPICS && !any_topic &&
        ns__scorers[i - 1].slot == NS_MODEL_GAUSSIAN) {
      /* no note has a topic: its scope, constants and so its verdicts are
      ** GaussianModel's */
      for (size_t n = 0; n < nn; n++)
        sc->notes[n].model[NS_MODEL_GAUSSIAN_CORE_WITH_TOPICS] = sc->notes[n].model[NS_MODEL_GAUSSIAN];
      rc = 0;
    } else {
      rc = run_gaussian(&run, sp, sc);
    }
    if (rc != 0) goto out;
    run.st.scorer_seconds[i] = ns_monotonic_s() - t0;
  }

  /* -- meta rules (engine/meta.c), per note over every scorer's verdict */
  stage_begin(&clk, "meta rules", PW_META);
  {
    note_ctx c = {&run, 1, sc, NULL};
    ns_pool_for(run.pool, nn, 1024, meta_chunk, &c);
  }
  status_seconds += stage_end(&clk);

  /* -- status history and rater rows */
  stage_begin(&clk, "status history", PW_HISTORY);
  sc->n_history = nn;
  sc->history = ns_calloc(nn, sizeof *sc->history);
  if (!sc->history) { rc = NS_ENOMEM; goto out; }
  for (size_t n = 0; n < nn; n++) {
    int32_t h = run.note_hist[n];
    ns__history_update(h >= 0 ? &ds->history[h] : NULL, run.note_id[n], run.note_author[n],
                       run.note_created[n], &sc->notes[n], p->now_ms, &sc->history[n]);
  }
  if ((rc = rater_rows(&run, sc)) != 0) goto out;
  run.st.stage_seconds[NS_STAGE_STATUSES] = status_seconds + stage_end(&clk);

  sc->global_intercept = run.mu2;
  sc->global_intercept_r1 = run.mu1;
  sc->n_ratings_round1 = run.n_r1;
  sc->n_ratings_round2 = run.n_r2;
  sc->n_notes_round1 = run.n_r1_notes;
  sc->n_notes_round2 = run.n_r2_notes;
  sc->n_raters_round1 = run.n_r1_raters;
  sc->n_raters_round2 = run.n_r2_raters;

out:
  if (rc == 0) progress_done(&clk);
  else if (clk.open) fputc('\n', stderr);
  /* the stats go over whole: a timer added to ns_run_stats needs no copy */
  run.st.seconds = ns_monotonic_s() - t_start;
  if (stats) *stats = run.st;
  ns__run_free(&run);
  for (int m = 0; m < NS_MODEL_COUNT; m++) free(mbuf[m]);
  free(cwt_bounds);
  free(prov1);
  free(captured);
  if (rc) {
    ns_scores_free(sc);
    sc = NULL;
  }
  *out = sc;
  return rc;
}
