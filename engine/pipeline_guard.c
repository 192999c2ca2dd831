/*
** engine/pipeline_guard.c -- the guardrails stage of a scoring run: adapts
** the run's round-2 arrays to guard/guard.h and stores the per-note
** verdicts (pseudo-rater bounds, tag filter, incorrect filter, low-diligence
** intercept, NoHighVol intercept, quasi-cliques and the NoCorrelated
** intercept, population-sampled intercept) in the run, where note_facts()
** hands them (ns__guard_facts) to the scorer chain and the meta rules.
**
** Who calls it: ns_pipeline_run(), once, after round 2 and before the note
** statuses; run thread (the refits fan out on the run's pool).
** ns__guard_facts is called per note from pool workers (read only).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../guard/guard.h"
#include "pipeline_int.h"

/* Quasi-clique scope (reference §7.2): notes created within 13 weeks of
** the newest note. */
#define NS__QCLIQUE_RECENCY_MS (13LL * 7 * 86400000LL)
/* notescore: seed pairs must co-rate >= 2x their popularity-adjusted
** chance level (ns_qclique_params.min_seed_lift; docs/trust.md §9).  On
** gen's dense default data set, honest heavy raters pass the reference's
** "> 50 collisions" (lift <= 1.05) and grow a 211-rater "clique" of
** consensus; planted rings have lift >= 5.7. */
#define NS__QCLIQUE_MIN_LIFT 2.0

/* Quasi-cliques over every kept rating of the run, then the NoCorrelated
** intercept: the note-only refit of f without the ratings of clique
** members (reference §4.1 step 15; the reference's correlatedRater is the
** quasi-clique flag alone, so coordinated groups -- which the trust stage
** already weights down per note -- do not count here).  When no
** rater is correlated the refit would reproduce the round-2 fit, so the
** round-2 intercept is copied instead (docs/guardrails.md §4). */
static int qclique_stage(ns__run *run, const ns_guard_fit *f, const ns_guard_reg *reg) {
  const ns_dataset *ds = run->ds;
  size_t nn = run->n_notes, np = run->n_part;
  int64_t *post = ns_mallocn(nn, sizeof *post), newest = INT64_MIN;
  uint8_t *corr = ns_calloc(np, 1);
  int32_t *comm = ns_mallocn(np, sizeof *comm);
  uint8_t *val = NULL;
  ns_qclique_params qp;
  ns_qclique_stats qs;
  double t0 = ns_monotonic_s();
  int rc = NS_ENOMEM;

  run->g_icpt_nocorr = ns_mallocn(nn, sizeof(double));
  if (!post || !corr || !comm || !run->g_icpt_nocorr) goto out;
  if (run->is_sub) {
    /* A scorer beside Core reuses Core's quasi-cliques (the reference
    ** computes correlatedRater once, before the scorers) and only refits
    ** its own notes without them. */
    size_t nm = 0;
    for (size_t u = 0; u < np; u++) nm += corr[u] = run->qclique_id && run->qclique_id[u] > 0;
    if (nm > 0) {
      if ((rc = ns_guard_refit_excluding(f, corr, reg, run->p->min_ratings_note, run->pool,
                                         run->g_icpt_nocorr)) != 0)
        goto out;
    } else {
      memcpy(run->g_icpt_nocorr, run->icpt2, nn * sizeof(double));
    }
    rc = 0;
    goto out;
  }
  run->qclique_id = ns_calloc(np, sizeof *run->qclique_id);
  if (!run->qclique_id) goto out;
  for (size_t d = 0; d < ds->n_notes; d++)
    if (ds->note_created_ms[d] > newest) newest = ds->note_created_ms[d];
  /* In scope: MISINFORMED notes on a live post (tweetId known and not -1,
  ** so deleted notes, absent from the notes file, are out) created within
  ** 13 weeks of the newest note.  The post is the tweet. */
  for (size_t n = 0; n < nn; n++) {
    int32_t d = run->note_ds[n];
    post[n] = -1;
    if (d < 0 || ds->note_class[d] != NS_CLASS_MISLEADING || ds->note_tweet_id[d] < 0) continue;
    if (ds->note_created_ms[d] < newest - NS__QCLIQUE_RECENCY_MS) continue;
    post[n] = ds->note_tweet_id[d];
  }
  ns_qclique_params_default(&qp);
  /* Both profiles keep the lift test: on gen's reference-ready data the
  ** reference flags no correlated rater, and without the test this
  ** search finds 7 cliques of 155 raters there (NoCorrelatedIntercept then
  ** fires on 11 Core notes the reference leaves CRH) -- the test is what
  ** brings the search to the reference's result, not a departure from it. */
  qp.min_seed_lift = NS__QCLIQUE_MIN_LIFT;
  ns__rater_communities(run, comm);
  if (!(val = ns__r_levels(run))) { rc = NS_ENOMEM; goto out; }
  rc = ns_qclique_detect(run->g, val, post, comm, &qp, run->pool, run->qclique_id, &qs);
  free(val);
  val = NULL;
  if (rc != 0) goto out;
  run->st.n_qcliques = qs.n_cliques;
  run->st.n_correlated = qs.n_members;
  ns_debug("quasi-cliques: %zu scope notes, %zu scope ratings, %zu eligible raters, %llu pair "
           "updates, %zu seed pairs (%zu at chance level), %zu grown, %zu cliques, %zu raters "
           "(largest %zu)",
           qs.scope_notes, qs.scope_ratings, qs.eligible_raters,
           (unsigned long long)qs.pair_updates, qs.seed_pairs, qs.low_lift_pairs, qs.seeds_tried,
           qs.n_cliques, qs.n_members, qs.largest);
  for (size_t u = 0; u < np; u++) corr[u] = run->qclique_id[u] > 0;
  if (qs.n_members > 0) {
    if ((rc = ns_guard_refit_excluding(f, corr, reg, run->p->min_ratings_note, run->pool,
                                       run->g_icpt_nocorr)) != 0)
      goto out;
  } else {
    memcpy(run->g_icpt_nocorr, run->icpt2, nn * sizeof(double));
  }
  rc = 0;
out:
  free(post);
  free(corr);
  free(comm);
  free(val);
  if (!run->is_sub) run->st.qclique_seconds = ns_monotonic_s() - t0;
  return rc;
}

int ns__guardrails(ns__run *run) {
  const ns_dataset *ds = run->ds;
  size_t nn = run->n_notes, np = run->n_part, ne = 0;
  int32_t *inc = NULL, *tot = NULL, *c1 = NULL, *c2 = NULL;
  uint32_t *r2 = NULL;
  uint8_t *hv = NULL, *crh = NULL;
  double *psum = NULL, *tfidf = NULL;
  uint8_t *src = NULL;
  double *dfac = NULL;
  uint32_t *rsrc_col = NULL;
  int rc = NS_ENOMEM;

  /* Stabilization needs a previous run: when no history row carries a
  ** currentStatus (a bootstrap run, e.g. gen data or a first import) there is
  ** nothing to stabilise against, and holding every CRH note at NMR for one
  ** run would only hide the result.  Deviation from the reference, which
  ** would hold them (docs/guardrails.md). */
  run->g_stab = 0;
  if (run->p->guardrails)
    for (size_t h = 0; h < ds->n_history && !run->g_stab; h++)
      run->g_stab = ds->history[h].current_status != NS_STATUS_UNSET;
  /* the reference profile holds new CRH notes on a bootstrap run too */
  if (run->p->guardrails && run->p->profile == NS_PROFILE_REFERENCE) run->g_stab = 1;

  if (!run->p->guardrails && !run->p->pseudoraters) return 0;
  run->g_icpt_min = ns_mallocn(nn, sizeof(double));
  run->g_icpt_max = ns_mallocn(nn, sizeof(double));
  run->g_icpt_nohv = ns_mallocn(nn, sizeof(double));
  run->g_tag_fired = ns_calloc(nn, sizeof(uint32_t));
  run->g_incorrect = ns_calloc(nn, 1);
  if (!run->g_icpt_min || !run->g_icpt_max || !run->g_icpt_nohv || !run->g_tag_fired ||
      !run->g_incorrect)
    goto out;
  for (size_t n = 0; n < nn; n++)
    run->g_icpt_min[n] = run->g_icpt_max[n] = run->g_icpt_nohv[n] = NAN;

  /* The round-2 ratings as a view of the run's edges (guard/guard.h), not
  ** copies: their list r2 (4 bytes per round-2 rating) over the run's
  ** edges, whose notes (universe notes, from the bigraph g) and r_rater
  ** (participants) index the round-2 parameters, and, through r_src, the
  ** dataset's tags and levels (helpfulNum as ns__src_value() computes it).  The weights
  ** are those round 2 was fitted with (coordination), so the refits solve
  ** the same per-note problems; the round-2 set only holds positive
  ** weights.  They are read as the run keeps them: a code per edge into the
  ** table of distinct values (or, past its size, a float per edge). */
  for (size_t e = 0; e < run->n_r; e++) ne += (size_t)ns__edge_r2(run, e);
  r2 = ns_mallocn(ne, sizeof *r2);
  if (!r2) goto out;
  for (size_t e = 0, j = 0; e < run->n_r; e++)
    if (ns__edge_r2(run, e)) r2[j++] = (uint32_t)e;
  ns_guard_fit f = {
      .n_notes = nn, .n_raters = np, .n_ratings = ne, .k = run->k, .mu = run->mu2,
      .note_icpt = run->icpt2, .note_fac = run->fac2,
      .rater_icpt = run->ricpt2, .rater_fac = run->rfac2,
      .r_note = run->r_note, .r_graph = run->g, .r_rater = run->r_rater,
      .r_weight = run->has_w ? run->cw->w : NULL,
      .r_weight_code = run->has_w ? run->cw->code : NULL,
      .weight_value = run->has_w ? run->cw->value : NULL,
      .r_meta = ds->r_meta, .r_id = r2, .r_src = run->r_src,
      .r_src_note = run->r_src ? NULL : run->note_src};
  for (int l = 0; l < 4; l++) f.level_value[l] = (float)NS_LEVEL_VALUE(l);
  /* Round 2 uses the mean regulariser (mf.h default), so the exclusion refit
  ** does too; the pseudo-rater refits always do. */
  ns_guard_reg reg = {0.15, 0.03, 0.0};

  if (run->p->pseudoraters) {
    ns_guard_bounds b = {run->g_icpt_min, run->g_icpt_max, NULL, NULL, NULL, NULL, 0};
    if ((rc = ns_guard_pseudo_bounds(&f, &reg, run->pool, &b)) != 0) goto out;
    run->st.pseudo_seconds = b.seconds;
  }
  if (!run->p->guardrails) {
    rc = 0;
    goto out;
  }

  /* Tag filter: thresholds from round-1 CRH notes, final-round factors.
  ** Each rating's tags count with its round-2 weight (the fit's r_weight):
  ** a coordinated group on a note counts here as little as it did in the
  ** fit (1 without trust, so the reference's sums).  The per-note tables
  ** are not stored (ns_guard_tag_filter_run: only the round-1 CRH notes'
  ** ratios; 208 bytes a note less, twice while two small scorers run). */
  crh = ns_mallocn(nn ? nn : 1, 1);
  if (!crh) { rc = NS_ENOMEM; goto out; }
  for (size_t n = 0; n < nn; n++) crh[n] = run->prov_status[n] == NS_STATUS_CRH;
  ns_guard_tag_scale tscale;
  if ((rc = ns_guard_tag_scale_fit(&f, &tscale)) != 0) goto out;
  if ((rc = ns_guard_tag_filter_run(&f, &tscale, crh,
                                    run->spec ? run->spec->tag_pct : NS_GUARD_TAG_THRESHOLD_PCT,
                                    run->p->tag_share_test, run->g_tag_fired)) != 0)
    goto out;
  free(crh);
  crh = NULL;

  /* Incorrect filter: each rater's history is every rating in the
  ** snapshot -- the same for every scorer, so counted once (by Core) and
  ** shared. */
  c1 = ns_mallocn(nn, sizeof *c1);
  c2 = ns_mallocn(nn, sizeof *c2);
  psum = ns_mallocn(nn, sizeof *psum);
  tfidf = ns_mallocn(nn, sizeof *tfidf);
  if (!c1 || !c2 || !psum || !tfidf) { rc = NS_ENOMEM; goto out; }
  if (!run->inc_cnt) {
    if (ds->n_ratings && !ds->r_rater) { rc = NS_EINVAL; goto out; }  /* taken, see take_raters */
    inc = ns_mallocn(np, sizeof *inc);
    tot = ns_mallocn(np, sizeof *tot);
    if (!inc || !tot) { rc = NS_ENOMEM; goto out; }
    ns_guard_incorrect_counts(ds->n_ratings, ds->r_rater, ds->r_meta, np, inc, tot);
    if (!run->is_sub) {
      run->inc_cnt = inc, run->inc_tot = tot;
      inc = tot = NULL;
    }
  }
  ns_guard_incorrect io = {c1, c2, psum, tfidf, run->g_incorrect};
  if ((rc = ns_guard_incorrect_filter(&f, run->inc_cnt ? run->inc_cnt : inc,
                                      run->inc_tot ? run->inc_tot : tot,
                                      run->spec ? run->spec->incorrect_thr : NS_GUARD_INCORRECT_TFIDF,
                                      &io)) != 0)
    goto out;
  /* only its verdicts (g_incorrect) are read later */
  free(c1), free(c2), free(psum), free(tfidf);
  c1 = c2 = NULL, psum = tfidf = NULL;

  /* Low-diligence model (§4.5) on the round-2 ratings.  Its rater factor is
  ** round 2's (dimension 0; the model is 1-D; guardrails.h explains why it
  ** is held fixed).  The round-2 weights are base weights, so a
  ** coordinated group's tags count as one rater's, as in round 2. */
  {
    double t0 = ns_monotonic_s();
    ns_guard_diligence_params dp;
    dfac = ns_mallocn(np, sizeof *dfac);
    run->g_dilig = ns_mallocn(nn, sizeof(double));
    if (!dfac || !run->g_dilig) { rc = NS_ENOMEM; goto out; }
    for (size_t u = 0; u < np; u++) {
      double v = run->rfac2[u * (size_t)run->k];
      dfac[u] = isnan(v) ? 0.0 : v;
    }
    ns_guard_diligence_params_default(&dp);
    ns_guard_diligence_out dout;
    memset(&dout, 0, sizeof dout);
    dout.note_icpt = run->g_dilig;
    /* labels from the tags as the fit reads them (no label array) */
    if ((rc = ns_guard_diligence_fit_view(&f, NULL, dfac, &dp, run->pool, &dout)) != 0) goto out;
    run->st.diligence_passes = dout.passes[0] + dout.passes[1] + dout.passes[2];
    run->st.diligence_seconds = ns_monotonic_s() - t0;
    free(dfac);
    dfac = NULL;
  }

  /* A Gaussian scorer's NoHighVol / NoCorrelated intercepts are its own
  ** model run again without those raters (engine/pipeline.c), not an MF
  ** refit. */
  if (run->gauss) {
    rc = 0;
    goto out;
  }
  /* High-volume raters over the run's filtered ratings, then the NoHighVol
  ** intercept (note-only refit without them, >= 5 ratings). */
  if (!run->hv_raters) {
    /* over every kept rating: the same for every scorer, found once */
    hv = ns_calloc(np, 1);
    if (!hv) { rc = NS_ENOMEM; goto out; }
    /* creation times read through the edges' dataset rows, not copied; a
    ** column of the rows for this one call when the run keeps them per
    ** note (Core's guardrails only, not a big scorer's peak) */
    if (!run->r_src && !(rsrc_col = ns__r_src_column(run))) { rc = NS_ENOMEM; goto out; }
    rc = ns_guard_high_volume(run->n_r, run->r_rater, ds,
                              run->r_src ? run->r_src : rsrc_col, np, ds->n_notes, hv);
    free(rsrc_col);
    rsrc_col = NULL;
    if (rc != 0) goto out;
    if (!run->is_sub) {
      run->hv_raters = hv;
      hv = NULL;
    }
  }
  if ((rc = ns_guard_refit_excluding(&f, run->hv_raters ? run->hv_raters : hv, &reg,
                                     run->p->min_ratings_note, run->pool,
                                     run->g_icpt_nohv)) != 0)
    goto out;

  /* Quasi-cliques -> correlated raters -> NoCorrelated intercept. */
  if ((rc = qclique_stage(run, &f, &reg)) != 0) goto out;

  /* Population-sampled intercept (meta step, §4.7 step 8): refit on the
  ** round-2 ratings whose source is POPULATION_SAMPLED.  Core's only (the
  ** reference's coreNoteInterceptPopulationSampled). */
  if (run->is_sub) {
    rc = 0;
    goto out;
  }
  src = ns_mallocn(ne, 1);
  run->g_pop_icpt = ns_mallocn(nn, sizeof(double));
  run->g_pop_neg = ns_calloc(nn, sizeof(int32_t));
  run->g_pop_pos = ns_calloc(nn, sizeof(int32_t));
  if (!src || !run->g_pop_icpt || !run->g_pop_neg || !run->g_pop_pos) { rc = NS_ENOMEM; goto out; }
  for (size_t j = 0, cur = 0; j < ne; j++)
    src[j] = ns_r_source(ds, ns__r_src_n(run, r2[j], ns__edge_note_walk(run, r2[j], &cur)));
  ns_guard_popsampled po = {run->g_pop_icpt, run->g_pop_neg, run->g_pop_pos};
  if ((rc = ns_guard_population_sampled(&f, src, &reg, run->pool, &po)) != 0) goto out;
  rc = 0;
out:
  free(r2), free(rsrc_col);
  free(crh);
  free(inc), free(tot), free(c1), free(c2), free(psum), free(tfidf);
  free(hv), free(src), free(dfac);
  return rc;
}

void ns__guard_facts(const ns__run *run, size_t n, ns__note_facts *f) {
  int32_t h = run->note_hist[n];
  if (run->g_icpt_max) {
    f->guard = 1;
    /* a scorer without pseudo-raters that reuses Core's state ignores
    ** Core's bounds */
    f->icpt_max = run->p->pseudoraters ? run->g_icpt_max[n] : NAN;
    f->tag_fired = run->g_tag_fired[n];
    f->incorrect_fired = run->g_incorrect[n];
    f->icpt_no_high_vol = run->g_icpt_nohv[n];
    f->icpt_no_correlated = run->g_icpt_nocorr ? run->g_icpt_nocorr[n] : NAN;
    f->low_diligence = run->g_dilig ? run->g_dilig[n] : NAN;
  }
  if (run->spec) {
    f->thr_no_high_vol = run->spec->thr_no_high_vol;
    f->thr_no_correlated = run->spec->thr_no_correlated;
    f->thr_low_diligence = run->spec->thr_low_diligence;
    f->crh_super = run->spec->crh_super;
  }
  f->icpt_pop = run->g_pop_icpt ? run->g_pop_icpt[n] : NAN;
  f->pop_neg = run->g_pop_neg ? run->g_pop_neg[n] : 0;
  f->pop_pos = run->g_pop_pos ? run->g_pop_pos[n] : 0;
  f->stab = (uint8_t)run->g_stab;
  f->first_non_nmr = h >= 0 ? run->ds->history[h].first_non_nmr_status : NS_STATUS_UNSET;
  f->t_stab = h >= 0 ? run->ds->history[h].ts_nmr_due_to_stable_crh : NS_TS_NONE;
  f->now_ms = run->p->now_ms;
}

void ns__guardrails_free(ns__run *run) {
  free(run->g_icpt_min), free(run->g_icpt_max), free(run->g_icpt_nohv);
  free(run->g_icpt_nocorr);
  if (!run->is_sub) free(run->qclique_id);
  free(run->g_tag_fired), free(run->g_incorrect), free(run->g_dilig);
  free(run->g_pop_icpt), free(run->g_pop_neg), free(run->g_pop_pos);
}
