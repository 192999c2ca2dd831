/*
** engine/refresh.c -- note refresh between full runs (ns_pipeline_refresh).
**
** A full run (engine/pipeline.c) fits raters and notes together.  Between
** two full runs the server refits only the notes that received ratings,
** holding every rater's round-2 intercept and factor and mu fixed.  With
** raters frozen the final round's loss splits into one ridge regression per
** note (guardrails.h "Numerics"):
**
**   sum_e (r_e - mu - i_u - i_n - f_u f_n)^2 + pen_i i_n^2 + pen_f f_n^2,
**   pen = lambda * N2 / n_notes2,
**
** where N2 / n_notes2 are the full run's round-2 rating and note counts (the
** mean regulariser of factorization/mf.h).  ns_guard_refit_notes() solves
** it exactly; we pass rho = N2 / n_notes2 in its "ratio mode" so the penalty
** is the full run's, not one recomputed over the few refreshed notes.  A
** note left untouched therefore gets back the full run's optimum (to the
** ALS convergence tolerance).
**
** Raters: only those with round-2 parameters in the full run take part, so
** the helpfulness filter (raters below the threshold have none) is applied
** as the full run applied it.  New raters, and raters without round-2
** parameters, count for numRatings and the tag tallies but not for the fit
** or the factor-side statistics, until the next full run.
**
** Rules: the same ns__rules_final()/ns__rules_meta() as the full run, with
** the status history as published by the last run or refresh (so inertia
** and the two-week lock see the current status).  Pseudo-rater bounds
** (UcbCRNH) and the NoHighVol intercept are not recomputed: they are NaN in
** a refreshed row and their rules cannot fire; TagFilter / FilterIncorrect
** verdicts and the lowDiligenceIntercept (FilterLowDiligence) are carried
** over from the full run.
**
** Scorers: only Core is refit.  Every other scorer's columns (model[],
** modelingGroup, modelingMultiGroup, topic) are carried over from the full
** run unchanged, and the meta rules run again over them with Core's new
** verdict; a note outside Core's scope in the full run keeps its empty Core
** fields (docs/operations.md "Note refresh").
**
** Who calls it: server/server.c, on a libuv worker thread, never at the
** same time as a full run.  Single-threaded (notes are few); the base is
** read-only except in ns_refresh_base_accept().
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../factorization/mf.h"
#include "../guard/guard.h"
#include "pipeline_int.h"

struct ns_refresh_base {
  ns_params p;
  int k;                     /* 1: ns_scores carries factor dimension 0 only */
  double mu;                 /* round-2 global intercept */
  double rho;                /* N2 / n_notes2: ridge scale of the final round */
  double lambda_in, lambda_fn;
  ns_strtab *part;           /* raters with round-2 parameters, by id string */
  double *ricpt, *rfac;      /* by part index */
  size_t n_notes;
  ns_note_score *notes;      /* the current rows, sorted by note_id */
  uint64_t *fp;              /* per note: fingerprint of its ratings */
};

/* ---- helpers ----------------------------------------------------------- */


static int32_t find_note(const ns_refresh_base *b, int64_t id) {
  size_t lo = 0, hi = b->n_notes;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (b->notes[mid].note_id < id) lo = mid + 1;
    else hi = mid;
  }
  return (lo < b->n_notes && b->notes[lo].note_id == id) ? (int32_t)lo : -1;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static uint64_t mix64(uint64_t x) {   /* splitmix64 finalizer */
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* Order-independent fingerprint term of rating i: a hash of (rater id
** string, level, tags, source, time).  Summed per note, so any added,
** removed or changed rating changes its note's sum (with overwhelming
** probability). */
static uint64_t rating_fp(const ns_dataset *ds, size_t i) {
  uint64_t h = 1469598103934665603ULL;   /* FNV-1a over the id string */
  const char *s = ds->r_rater[i] >= 0 ? ns_strtab_str(ds->participants, ds->r_rater[i]) : "";
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ULL;
  h = mix64(h ^ ((uint64_t)ns_r_level(ds, i) | (uint64_t)ns_r_tags(ds, i) << 8 |
                 (uint64_t)ns_r_source(ds, i) << 40));
  return mix64(h ^ (uint64_t)ns_r_created(ds, i));
}

/* fp[j] = fingerprint of the ratings of ids[j] (ids sorted, n of them). */
static void fingerprints(const ns_dataset *ds, const int64_t *ids, size_t n, uint64_t *fp) {
  memset(fp, 0, n * sizeof *fp);
  for (size_t i = 0; i < ds->n_ratings; i++) {
    int32_t x = ns__find_id(ids, n, ds->r_note_id[i]);
    if (x >= 0) fp[x] += rating_fp(ds, i);
  }
}

/* ---- the base ---------------------------------------------------------- */

void ns_refresh_base_free(ns_refresh_base *b) {
  if (!b) return;
  ns_strtab_free(b->part);
  free(b->ricpt);
  free(b->rfac);
  free(b->notes);
  free(b->fp);
  free(b);
}

int ns_refresh_base_new(const ns_dataset *ds, const ns_scores *sc, const ns_params *p,
                        ns_refresh_base **out) {
  ns_refresh_base *b = NULL;
  int64_t *ids = NULL;
  ns_mf_params mp;
  int rc = 0;

  *out = NULL;
  /* ns_scores keeps one factor dimension per entity: k > 1 cannot be frozen */
  if (!ds || !sc || !p || p->k != 1) return NS_EINVAL;
  b = ns_calloc(1, sizeof *b);
  if (!b) return NS_ENOMEM;
  b->p = *p;
  b->p.seeds = NULL;        /* not owned; a refresh does not use them */
  b->p.n_seeds = 0;
  b->p.owned = NULL;
  b->k = 1;
  b->mu = sc->global_intercept;
  b->rho = sc->n_notes_round2 ? (double)sc->n_ratings_round2 / (double)sc->n_notes_round2 : 1.0;
  ns_mf_params_default(&mp);
  b->lambda_in = mp.lambda_in;
  b->lambda_fn = mp.lambda_fn;
  if ((rc = ns_strtab_new(&b->part)) != 0) goto out;
  b->ricpt = ns_mallocn(sc->n_raters, sizeof *b->ricpt);
  b->rfac = ns_mallocn(sc->n_raters, sizeof *b->rfac);
  b->notes = ns_mallocn(sc->n_notes, sizeof *b->notes);
  b->fp = ns_mallocn(sc->n_notes, sizeof *b->fp);
  ids = ns_mallocn(sc->n_notes, sizeof *ids);
  if (!b->ricpt || !b->rfac || !b->notes || !b->fp || !ids) { rc = NS_ENOMEM; goto out; }
  for (size_t i = 0; i < sc->n_raters; i++) {
    const ns_rater_score *r = &sc->raters[i];
    const char *s;
    int32_t x;
    if (isnan(r->intercept) || isnan(r->factor)) continue;  /* not in round 2 */
    s = ns_strtab_str(ds->participants, r->participant);
    if ((rc = ns_strtab_intern(b->part, s, strlen(s), &x)) != 0) goto out;
    b->ricpt[x] = r->intercept;
    b->rfac[x] = r->factor;
  }
  /* rows sorted by note_id (ns_pipeline_run's order; sort anyway) */
  memcpy(b->notes, sc->notes, sc->n_notes * sizeof *b->notes);
  b->n_notes = sc->n_notes;
  for (size_t i = 1; i < b->n_notes; i++)
    if (b->notes[i - 1].note_id >= b->notes[i].note_id) { rc = NS_EINVAL; goto out; }
  for (size_t i = 0; i < b->n_notes; i++) ids[i] = b->notes[i].note_id;
  fingerprints(ds, ids, b->n_notes, b->fp);
out:
  free(ids);
  if (rc) ns_refresh_base_free(b);
  else *out = b;
  return rc;
}

int ns_refresh_changed(const ns_refresh_base *b, const ns_dataset *ds, int64_t **ids,
                       size_t *n) {
  int64_t *all = NULL, *res = NULL;
  uint64_t *fp = NULL;
  size_t m = 0;
  int rc = 0;

  *ids = NULL;
  *n = 0;
  if (!b || !ds) return NS_EINVAL;
  if (b->n_notes == 0) return 0;
  all = ns_mallocn(b->n_notes, sizeof *all);
  fp = ns_mallocn(b->n_notes, sizeof *fp);
  if (!all || !fp) { rc = NS_ENOMEM; goto out; }
  for (size_t i = 0; i < b->n_notes; i++) all[i] = b->notes[i].note_id;
  fingerprints(ds, all, b->n_notes, fp);
  for (size_t i = 0; i < b->n_notes; i++)
    if (fp[i] != b->fp[i]) all[m++] = all[i];   /* compacts in place, m <= i */
  if (m) {
    res = ns_mallocn(m, sizeof *res);
    if (!res) { rc = NS_ENOMEM; goto out; }
    memcpy(res, all, m * sizeof *res);
    *ids = res;
    *n = m;
  }
out:
  free(all);
  free(fp);
  return rc;
}

int ns_refresh_base_accept(ns_refresh_base *b, const ns_dataset *ds, const ns_scores *refreshed) {
  int64_t *ids;
  uint64_t *fp;
  size_t m = refreshed ? refreshed->n_notes : 0;
  if (!b || !ds || !refreshed) return NS_EINVAL;
  if (m == 0) return 0;
  ids = ns_mallocn(m, sizeof *ids);
  fp = ns_mallocn(m, sizeof *fp);
  if (!ids || !fp) {
    free(ids);
    free(fp);
    return NS_ENOMEM;
  }
  for (size_t j = 0; j < m; j++) ids[j] = refreshed->notes[j].note_id;  /* sorted */
  fingerprints(ds, ids, m, fp);
  for (size_t j = 0; j < m; j++) {
    int32_t x = find_note(b, ids[j]);
    if (x < 0) continue;
    b->notes[x] = refreshed->notes[j];
    b->fp[x] = fp[j];
  }
  free(ids);
  free(fp);
  return 0;
}

/* ---- the refresh ------------------------------------------------------- */

/* Per refreshed note: what ns_pipeline_run's prepare() would know. */
typedef struct rnote {
  int32_t base;              /* index into b->notes */
  int32_t ds_note, hist;     /* ds indexes or -1 */
  int64_t created;
  uint8_t cls;
  int32_t author;
  int32_t n_ratings, n_fit;
  int32_t tag_count[NS_N_TAGS];
  int32_t n_neg, n_pos, net_neg, net_pos;
  double s_neg, s_pos;
} rnote;

/* Does the rating filter (§1.7 step 5) keep ratings of this note? */
static int note_keeps_ratings(const rnote *r) {
  if (r->ds_note < 0 && r->hist < 0) return 0;
  if (r->cls == NS_CLASS_NOT_MISLEADING &&
      !(r->created != NS_TS_NONE && r->created > NS__NM_CUTOFF_MS))
    return 0;
  return 1;
}

int ns_pipeline_refresh(const ns_refresh_base *b, const ns_dataset *ds, const int64_t *note_ids,
                        size_t n, int64_t now_ms, ns_scores **out) {
  ns_scores *sc = NULL;
  int64_t *ids = NULL;
  rnote *rn = NULL;
  int32_t *map = NULL, *e_note = NULL, *e_rater = NULL;
  float *e_value = NULL;
  double *icpt = NULL, *fac = NULL, *dummy = NULL;
  size_t m = 0, np, ne = 0;
  int rc = 0;

  *out = NULL;
  if (!b || !ds || (n && !note_ids)) return NS_EINVAL;

  /* the ids to refresh: sorted, unique, known to the base */
  ids = ns_mallocn(n, sizeof *ids);
  if (!ids) { rc = NS_ENOMEM; goto out; }
  memcpy(ids, note_ids, n * sizeof *ids);
  qsort(ids, n, sizeof *ids, cmp_i64);
  for (size_t i = 0; i < n; i++)
    if ((m == 0 || ids[m - 1] != ids[i]) && find_note(b, ids[i]) >= 0) ids[m++] = ids[i];

  sc = ns_calloc(1, sizeof *sc);
  rn = ns_calloc(m, sizeof *rn);
  np = ns_strtab_count(ds->participants);
  map = ns_mallocn(np, sizeof *map);
  if (!sc || !rn || !map) { rc = NS_ENOMEM; goto out; }

  /* ds participant -> base rater (frozen parameters), -1 if none */
  for (size_t u = 0; u < np; u++) {
    const char *s = ns_strtab_str(ds->participants, (int32_t)u);
    map[u] = ns_strtab_find(b->part, s, strlen(s));
  }

  /* note facts from the snapshot: history first, the notes file overrides */
  for (size_t j = 0; j < m; j++) {
    rn[j].base = find_note(b, ids[j]);
    rn[j].ds_note = rn[j].hist = rn[j].author = -1;
    rn[j].created = NS_TS_NONE;
  }
  for (size_t i = 0; i < ds->n_history; i++) {
    int32_t x = ns__find_id(ids, m, ds->history[i].note_id);
    if (x < 0) continue;
    rn[x].hist = (int32_t)i;
    rn[x].created = ds->history[i].created_ms;
    rn[x].author = ds->history[i].author;
  }
  for (size_t i = 0; i < ds->n_notes; i++) {
    int32_t x = ns__find_id(ids, m, ds->note_id[i]);
    if (x < 0) continue;
    rn[x].ds_note = (int32_t)i;
    rn[x].created = ds->note_created_ms[i];
    rn[x].cls = ds->note_class[i];
    if (ds->note_author[i] >= 0) rn[x].author = ds->note_author[i];
  }

  /* ratings: counts and tags over all kept ratings; fit edges and the
  ** factor-side statistics over raters with frozen parameters.  Two passes:
  ** count, then fill. */
  for (int pass = 0; pass < 2; pass++) {
    size_t w = 0;
    for (size_t i = 0; i < ds->n_ratings; i++) {
      int32_t x = ns__find_id(ids, m, ds->r_note_id[i]), u, bu;
      rnote *r;
      if (x < 0) continue;
      r = &rn[x];
      u = ds->r_rater[i];
      if (!note_keeps_ratings(r) || u < 0 || (size_t)u >= np) continue;
      bu = map[u];
      if (pass == 0) {
        uint32_t tags = ns_r_tags(ds, i);
        r->n_ratings++;
        for (int t = 0; tags && t < NS_N_TAGS; t++)
          if (tags & NS_TAG_BIT(t)) r->tag_count[t]++;
        if (bu < 0) continue;
        r->n_fit++;
        ne++;
        {
          int h = ns_r_level(ds, i) == NS_LEVEL_HELPFUL ? 1 : ns_r_level(ds, i) == NS_LEVEL_NOT_HELPFUL ? -1 : 0;
          double v = NS_LEVEL_VALUE(ns_r_level(ds, i));
          if (b->rfac[bu] < 0) r->n_neg++, r->s_neg += v, r->net_neg += h;
          else r->n_pos++, r->s_pos += v, r->net_pos += h;
        }
      } else if (bu >= 0) {
        e_note[w] = x;
        e_rater[w] = bu;
        e_value[w] = (float)NS_LEVEL_VALUE(ns_r_level(ds, i));
        w++;
      }
    }
    if (pass == 0) {
      e_note = ns_mallocn(ne, sizeof *e_note);
      e_rater = ns_mallocn(ne, sizeof *e_rater);
      e_value = ns_mallocn(ne, sizeof *e_value);
      if (!e_note || !e_rater || !e_value) { rc = NS_ENOMEM; goto out; }
    }
  }

  /* exact per-note refit, raters and mu frozen */
  icpt = ns_mallocn(m, sizeof *icpt);
  fac = ns_mallocn(m, sizeof *fac);
  dummy = ns_mallocn(m, sizeof *dummy);
  if (!icpt || !fac || !dummy) { rc = NS_ENOMEM; goto out; }
  for (size_t j = 0; j < m; j++) icpt[j] = fac[j] = dummy[j] = NAN;
  if (m && ne) {
    ns_guard_fit f;
    ns_guard_reg reg = {b->lambda_in, b->lambda_fn, b->rho};
    memset(&f, 0, sizeof f);
    f.n_notes = m;
    f.n_raters = ns_strtab_count(b->part);
    f.n_ratings = ne;
    f.k = 1;
    f.mu = b->mu;
    f.note_icpt = dummy;
    f.note_fac = dummy;
    f.rater_icpt = b->ricpt;
    f.rater_fac = b->rfac;
    f.r_note = e_note;
    f.r_rater = e_rater;
    f.r_value = e_value;
    if ((rc = ns_guard_refit_notes(&f, NULL, &reg, b->p.min_ratings_note, NULL, NULL, icpt, fac,
                                   NULL)) != 0)
      goto out;
  }

  /* rows: the base row, refit parameters, rules, history */
  sc->notes = ns_calloc(m, sizeof *sc->notes);
  sc->history = ns_calloc(m, sizeof *sc->history);
  if (!sc->notes || !sc->history) { rc = NS_ENOMEM; goto out; }
  sc->n_notes = sc->n_history = m;
  for (size_t j = 0; j < m; j++) {
    rnote *r = &rn[j];
    ns_note_score *s = &sc->notes[j];
    const ns_nsh *h = r->hist >= 0 ? &ds->history[r->hist] : NULL;
    ns__note_facts f;
    ns__rule_out ro;
    ns__meta_out mo;

    /* Core's scope (its populations, topics, capture) is the full run's:
    ** a note Core did not score although it had ratings (a topic note, a
    ** note of other populations) keeps its empty Core fields, and every
    ** other scorer's row (model[], modeling groups, topic) is carried over
    ** unchanged; only the meta rules run again on it. */
    int out_of_core = b->notes[r->base].core_status == NS_STATUS_UNSET &&
                      b->notes[r->base].num_ratings > 0;
    *s = b->notes[r->base];
    s->note_index = r->ds_note;
    s->created_ms = r->created;
    s->classification = r->cls;
    s->num_ratings = r->n_ratings;
    if (!out_of_core) {
      s->num_final_round_ratings = isnan(icpt[j]) ? 0 : r->n_fit;
      s->intercept = icpt[j];
      s->factor = fac[j];
      s->intercept_min = s->intercept_max = NAN;  /* pseudo-rater bounds: not refreshed */
      s->intercept_no_high_vol = s->intercept_no_correlated = NAN;
    }

    memset(&f, 0, sizeof f);
    f.n_ratings = r->n_ratings;
    f.cls = r->cls;
    f.icpt = icpt[j];
    f.fac = fac[j];
    f.prev_status = h ? h->current_status : NS_STATUS_UNSET;
    f.locked_status = h ? h->locked_status : NS_STATUS_UNSET;
    f.n_neg = r->n_neg;
    f.n_pos = r->n_pos;
    f.mean_neg = r->n_neg ? r->s_neg / r->n_neg : NAN;
    f.mean_pos = r->n_pos ? r->s_pos / r->n_pos : NAN;
    f.net_neg = r->net_neg;
    f.net_pos = r->net_pos;
    memcpy(f.tag_count, r->tag_count, sizeof f.tag_count);
    f.guard = (uint8_t)(b->p.guardrails != 0);
    f.icpt_max = NAN;
    f.tag_fired = s->active_filter_tags;
    f.incorrect_fired = (s->core_rules >> NS_RULE_INCORRECT_FILTER) & 1u;
    f.low_diligence = s->low_diligence_intercept; /* carried over, like the filters */
    f.icpt_no_high_vol = f.icpt_no_correlated = NAN;
    if (out_of_core) {
      ns__rules_meta(&f, s, &mo);
    } else if (r->n_ratings == 0) {
      s->core_status = NS_STATUS_UNSET;
      s->core_rules = 0;
      ns__rules_meta(&f, s, &mo);
    } else {
      ns__rules_final(&f, &b->p, &ro);
      s->core_status = ro.status;
      s->core_rules = ro.rules;
      ns__rules_meta(&f, s, &mo);
    }
    s->final_status = mo.status;
    s->decided_by = mo.decided_by;
    s->meta_rules = mo.rules;
    s->first_tag = mo.first_tag;
    s->second_tag = mo.second_tag;
    ns__history_update(h, ids[j], r->author, r->created, s, now_ms, &sc->history[j]);
  }
  sc->global_intercept = b->mu;
  sc->global_intercept_r1 = NAN;
  sc->now_ms = now_ms;
  sc->n_ratings_in = ds->n_ratings;
  sc->n_ratings_round2 = ne;
  sc->n_notes_round2 = m;

out:
  free(ids);
  free(rn);
  free(map);
  free(e_note);
  free(e_rater);
  free(e_value);
  free(icpt);
  free(fac);
  free(dummy);
  if (rc) {
    ns_scores_free(sc);
    sc = NULL;
  }
  *out = sc;
  return rc;
}
