/*
** engine/pipeline_help.c -- rater and author helpfulness (reference §3.1-3.4).
**
**   valid ratings  -> per-rater agree / successful / unsuccessful counts
**   author record  -> crhCrnhRatioDifference and meanNoteScore
**   harassment     -> tag-consensus model (§3.6) and the rater penalty
**                     (§3.2) behind raterAgreeRatioWithHarassmentAbusePenalty
**   the filter bit -> aboveHelpfulnessThreshold (who enters round 2)
**
** Who calls it: engine/pipeline.c on the run's thread; the per-note and
** per-rater loops fan out on the pool (each writes only its own rows).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../guard/guard.h"
#include "pipeline_int.h"

/* ---- valid ratings ----------------------------------------------------- */

typedef struct valid_ctx {
  const ns__run *run;
  const ns__valid_in *in;
  ns__emask use_edge;        /* the edges to judge */
  uint8_t *valid;            /* per edge: 1 if valid */
} valid_ctx;

/* The cut-off key of the first NS__MAX_HISTORICAL_VALID used ratings of a
** note by (creation time, edge id): a rating is among them iff its key is
** <= the returned one.  One pass with a 5-slot insertion list, so notes
** with many ratings stay linear.  Returns 0 if the note has fewer than 5
** used ratings (then all of them qualify). */
typedef struct tkey { int64_t t; uint32_t e; } tkey;

static int key_lt(tkey a, tkey b) { return a.t < b.t || (a.t == b.t && a.e < b.e); }

static int first_cutoff(const valid_ctx *c, size_t n, uint64_t lo, uint64_t hi, tkey *cut) {
  const ns__run *run = c->run;
  tkey best[NS__MAX_HISTORICAL_VALID];
  int nb = 0;
  for (uint64_t j = lo; j < hi; j++) {
    uint32_t e = ns_bigraph_note_edge(run->g, j);
    tkey k;
    int i;
    if (!ns__emask_on(c->use_edge, e)) continue;
    k.t = ns_r_created(run->ds, ns__r_src_n(run, e, (int32_t)n));
    k.e = e;
    if (nb == NS__MAX_HISTORICAL_VALID && !key_lt(k, best[nb - 1])) continue;
    if (nb < NS__MAX_HISTORICAL_VALID) nb++;
    for (i = nb - 1; i > 0 && key_lt(k, best[i - 1]); i--) best[i] = best[i - 1];
    best[i] = k;
  }
  if (nb < NS__MAX_HISTORICAL_VALID) return 0;
  *cut = best[nb - 1];
  return 1;
}

/* Judges note n's edges: valid[e] (valid non-NULL) = 1 iff edge e is used
** and valid; cnt (non-NULL) gets every valid edge counted into its rater's
** row.  One per-note pass serves both the flags (trust's agreement graph)
** and the counts (helpfulness), so the counts need neither a per-edge
** flag array nor the bigraph's rater lists (docs/architecture.md, "Memory
** of a scoring run"). */
static void judge_note(const valid_ctx *c, size_t n, uint8_t *valid, ns__rater_counts *cnt) {
  const ns__run *run = c->run;
  const ns_dataset *ds = run->ds;
  uint64_t lo = run->g->note_off[n], hi = run->g->note_off[n + 1];
  int8_t st = c->in->note_status[n];
  int64_t created = c->in->note_created[n], latest = c->in->note_latest_nonnmr[n];
  int historical = created != NS_TS_NONE && created < NS__HISTORICAL_CUTOFF_MS;
  int judged = st == NS_STATUS_CRH || st == NS_STATUS_CRNH, crh = st == NS_STATUS_CRH;
  tkey cut = {0, 0};
  int has_cut = 0;
  if (historical && judged) has_cut = first_cutoff(c, n, lo, hi, &cut);
  for (uint64_t j = lo; j < hi; j++) {
    uint32_t e = ns_bigraph_note_edge(run->g, j);
    size_t r;
    int64_t t;
    int ok, level;
    if (valid) valid[e] = 0;
    if (!judged || !ns__emask_on(c->use_edge, e)) continue;
    r = ns__r_src_n(run, e, (int32_t)n);
    level = ns_r_level(ds, r);
    if (level == NS_LEVEL_SOMEWHAT_HELPFUL) continue;
    t = ns_r_created(ds, r);
    if (created == NS_TS_NONE || !(t - created < NS__PUBLIC_DELAY_MS)) continue;
    if (historical) {
      tkey k = {t, e};
      ok = !has_cut || !key_lt(cut, k);
    } else {
      ok = latest == NS_TS_NONE || t < latest;
    }
    if (!ok) continue;
    if (valid) valid[e] = 1;
    if (cnt) {
      ns__rater_counts *k = &cnt[run->r_rater[e]];
      int helpful = level == NS_LEVEL_HELPFUL;
      k->valid++;
      if (helpful == crh) k->agree++;
      if (helpful && crh) k->succ_h++;
      if (!helpful && !crh) k->succ_nh++;
      if (helpful && !crh) k->unsucc_h++;
      if (!helpful && crh) k->unsucc_nh++;
    }
  }
}

static void valid_chunk(void *vctx, size_t chunk, size_t begin, size_t end) {
  valid_ctx *c = vctx;
  (void)chunk;
  for (size_t n = begin; n < end; n++) judge_note(c, n, c->valid, NULL);
}

int ns__valid_flags(const ns__run *run, const ns__valid_in *in, ns__emask use_edge,
                    uint8_t *valid) {
  valid_ctx vc = {run, in, use_edge, valid};
  ns_pool_for(run->pool, run->n_notes, 1024, valid_chunk, &vc);
  return 0;
}

/* The counts: the notes split into one contiguous part per thread, each
** counting into its own per-rater rows (part 0 into out), added after.
** Integer sums, so the result does not depend on the split. */
typedef struct count_ctx {
  valid_ctx vc;
  size_t parts;
  ns__rater_counts *out, *scratch;   /* scratch: parts - 1 tables */
} count_ctx;

static void count_part(void *vctx, size_t chunk, size_t begin, size_t end) {
  count_ctx *c = vctx;
  size_t nn = c->vc.run->n_notes;
  (void)chunk;
  for (size_t p = begin; p < end; p++) {
    ns__rater_counts *cnt = p == 0 ? c->out : c->scratch + (p - 1) * c->vc.run->n_part;
    for (size_t n = nn * p / c->parts; n < nn * (p + 1) / c->parts; n++)
      judge_note(&c->vc, n, NULL, cnt);
  }
}

int ns__valid_counts(const ns__run *run, const ns__valid_in *in, ns__emask use_edge,
                     ns__rater_counts *out) {
  size_t np = run->n_part, parts = (size_t)ns_pool_threads(run->pool);
  count_ctx cc = {{run, in, use_edge, NULL}, 0, out, NULL};
  if (parts < 1 || run->n_notes < 4096) parts = 1;
  if (parts > 1 && !(cc.scratch = ns_calloc((parts - 1) * np, sizeof *cc.scratch))) parts = 1;
  cc.parts = parts;
  memset(out, 0, np * sizeof *out);
  ns_pool_for(run->pool, parts, 1, count_part, &cc);
  for (size_t p = 1; p < parts; p++) {
    const ns__rater_counts *s = cc.scratch + (p - 1) * np;
    for (size_t u = 0; u < np; u++) {
      out[u].valid += s[u].valid, out[u].agree += s[u].agree;
      out[u].succ_h += s[u].succ_h, out[u].succ_nh += s[u].succ_nh;
      out[u].unsucc_h += s[u].unsucc_h, out[u].unsucc_nh += s[u].unsucc_nh;
    }
  }
  free(cc.scratch);
  return 0;
}

/* ---- harassment / abuse penalty (§3.2, §3.6) --------------------------- */

/* Stopping rule of the tag-consensus fit (guard_logit.c): a pass over all
** rows in which no parameter moved more than HARASS_TOL logit.  The
** intercepts matter only through the >= 2.0 cut of the penalty (and its
** h/2 factor), so 0.01 is ample: at 1 M and 10 M gen ratings the note
** intercepts end within 0.005 of a 1e-7 fit and the penalties are the
** same.  Gen data needs 19 passes at 1 M and 37 at 10 M: a few notes with
** mostly positive labels flip from a high intercept to the factor late,
** one cluster at a time (at 10 M, 2 notes were still above 2.0 after the
** former cap of 20 passes; they end at 0.30 and 0.23).  Stopping earlier
** is not safe: truncated fits overshoot and penalise raters the converged
** model does not.  Late passes are cheap (only rows that still move are
** updated).  The cap bounds the case that never converges (random labels):
** a pass over 2 M labelled ratings costs about 0.035 s on 2 threads.
** docs/guardrails.md has the numbers. */
#define HARASS_TOL 1e-2
#define HARASS_MAX_PASSES 60

/* penalty[u] = the harassment penalty of participant u over the run's
** ratings: fit the tag-consensus model on the labelled ratings (factors
** initialised from round 1), then charge every HELPFUL rating on a note with
** harassment intercept >= 2.0. */
static int harassment_penalty(ns__run *run, double *penalty) {
  const ns_dataset *ds = run->ds;
  size_t ne = run->n_r, nn = run->n_notes, np = run->n_part, k = (size_t)run->k;
  /* the edges' dataset rows: level, tags and time are read through them
  ** (a column of them for this stage when the run keeps them per note) */
  uint32_t *rsrc_col = run->r_src ? NULL : ns__r_src_column(run);
  const uint32_t *rsrc = run->r_src ? run->r_src : rsrc_col;
  int8_t *lab = ns_mallocn(ne, 1);
  size_t nnk = nn * k, npk = np * k;
  double *nf = ns_mallocn(nnk, sizeof *nf);
  double *uf = ns_mallocn(npk, sizeof *uf);
  double *hi = ns_mallocn(nn, sizeof *hi);
  ns_guard_logit_params lp;
  double t0 = ns_monotonic_s();
  int rc = NS_ENOMEM;

  if (!rsrc || !lab || !nf || !uf || !hi) goto out;
  if ((rc = ns_guard_harassment_labels(run->g, ds, rsrc, lab)) != 0) goto out;
  /* Entities round 1 did not fit start from a zero factor. */
  for (size_t i = 0; i < nnk; i++) nf[i] = isnan(run->fac1[i]) ? 0.0 : run->fac1[i];
  for (size_t i = 0; i < npk; i++) uf[i] = isnan(run->rfac1[i]) ? 0.0 : run->rfac1[i];
  ns_guard_logit_params_default(&lp);
  lp.tol = HARASS_TOL;
  lp.iters = HARASS_MAX_PASSES;
  lp.passes_out = &run->st.harassment_passes;
  if ((rc = ns_guard_harassment_fit(run->g, run->k, lab, nf, uf, &lp, run->pool, hi, NULL, NULL,
                                    NULL, NULL)) != 0)
    goto out;
  ns_guard_harassment_penalty(run->g, ds, rsrc, hi, penalty);
  rc = 0;
out:
  run->st.harassment_seconds = ns_monotonic_s() - t0;
  free(rsrc_col), free(lab), free(nf), free(uf), free(hi);
  return rc;
}

/* ---- helpfulness ------------------------------------------------------- */

int ns__helpfulness(ns__run *run) {
  size_t np = run->n_part;
  ns__rater_counts *cnt = ns_calloc(np, sizeof *cnt);
  int32_t *a_n = ns_calloc(np, sizeof *a_n);
  int32_t *a_crh = ns_calloc(np, sizeof *a_crh);
  int32_t *a_crnh = ns_calloc(np, sizeof *a_crnh);
  double *a_sum = ns_calloc(np, sizeof *a_sum);
  double *pen = ns_calloc(np, sizeof *pen);
  ns__valid_in in = {run->prov_status, run->note_created, run->note_latest_nonnmr};
  int rc = 0;

  if (!cnt || !a_n || !a_crh || !a_crnh || !a_sum || !pen) { rc = NS_ENOMEM; goto out; }

  /* The harassment penalty is a guardrail: off with the guardrails (then the
  ** penalised ratio equals the plain one).  It is fitted once per run
  ** (its inputs: the run's ratings, their tags, the round-1 factors). */
  if (run->p->guardrails) {
    if (!run->harass_pen) {
      if (!(run->harass_pen = ns_calloc(np, sizeof *run->harass_pen))) {
        rc = NS_ENOMEM;
        goto out;
      }
      if ((rc = harassment_penalty(run, run->harass_pen)) != 0) goto out;
    }
    memcpy(pen, run->harass_pen, np * sizeof *pen);
  }

  /* Valid ratings are taken from the round-1 training ratings, judged
  ** against the provisional (round-1) statuses. */
  if ((rc = ns__valid_counts(run, &in, ns__run_mask(run, NS__EF_R1), cnt)) != 0) goto out;

  /* Author record: over the author's notes that have a round-1 intercept.
  ** Sequential in note order, so the sums are deterministic. */
  for (size_t n = 0; n < run->n_notes; n++) {
    int32_t a = run->note_author[n];
    if (a < 0 || isnan(run->icpt1[n])) continue;
    a_n[a]++;
    a_sum[a] += run->icpt1[n];
    if (run->prov_status[n] == NS_STATUS_CRH) a_crh[a]++;
    if (run->prov_status[n] == NS_STATUS_CRNH) a_crnh[a]++;
  }

  for (size_t u = 0; u < np; u++) {
    double agree = cnt[u].valid ? (double)cnt[u].agree / cnt[u].valid : NAN;
    run->agree_ratio[u] = agree;
    /* (agree - penalty) / valid: helpful ratings on notes the harassment
    ** model calls abusive count against the rater (NaN with no valid rating) */
    run->agree_harass[u] = cnt[u].valid ? ((double)cnt[u].agree - pen[u]) / cnt[u].valid : NAN;
    if (a_n[u]) {
      run->ratio_diff[u] = (double)a_crh[u] / a_n[u] - NS__CRNH_MULTIPLIER * a_crnh[u] / a_n[u];
      run->mean_score[u] = a_sum[u] / a_n[u];
    } else {
      run->ratio_diff[u] = NAN;
      run->mean_score[u] = NAN;
    }
    /* Only raters that took part in round 1 are assessed; others have no
    ** valid rating and would fail anyway -- they are reported as NaN. */
    if (isnan(run->ricpt1[u]))
      run->above[u] = -1;
    else
      run->above[u] = (int8_t)ns__above_threshold(run->ratio_diff[u], run->mean_score[u], agree,
                                                   run->agree_harass[u], run->p);
  }

out:
  free(cnt);
  free(a_n);
  free(a_crh);
  free(a_crnh);
  free(a_sum);
  free(pen);
  return rc;
}
