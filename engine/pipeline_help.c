/*
** engine/pipeline_help.c -- rater and author helpfulness (reference §3.1-3.4).
**
**   valid ratings  -> per-rater agree / successful / unsuccessful counts
**   author record  -> crhCrnhRatioDifference and meanNoteScore
**   the filter bit -> aboveHelpfulnessThreshold (who enters round 2)
**
** Who calls it: engine/pipeline.c on the run's thread; the per-note and
** per-rater loops fan out on the pool (each writes only its own rows).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline_int.h"

/* ---- valid ratings ----------------------------------------------------- */

typedef struct valid_ctx {
  const ns__run *run;
  const ns__valid_in *in;
  const uint8_t *use_edge;   /* NULL = every edge */
  uint8_t *valid;            /* per edge: 1 if valid */
} valid_ctx;

/* The cut-off key of the first NS__MAX_HISTORICAL_VALID used ratings of a
** note by (creation time, edge id): a rating is among them iff its key is
** <= the returned one.  One pass with a 5-slot insertion list, so notes
** with many ratings stay linear.  Returns 0 if the note has fewer than 5
** used ratings (then all of them qualify). */
typedef struct tkey { int64_t t; uint32_t e; } tkey;

static int key_lt(tkey a, tkey b) { return a.t < b.t || (a.t == b.t && a.e < b.e); }

static int first_cutoff(const valid_ctx *c, uint64_t lo, uint64_t hi, tkey *cut) {
  const ns__run *run = c->run;
  tkey best[NS__MAX_HISTORICAL_VALID];
  int nb = 0;
  for (uint64_t j = lo; j < hi; j++) {
    uint32_t e = run->g->note_edges[j];
    tkey k;
    int i;
    if (c->use_edge && !c->use_edge[e]) continue;
    k.t = run->ds->r_created_ms[run->r_src[e]];
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

static void valid_chunk(void *vctx, size_t chunk, size_t begin, size_t end) {
  valid_ctx *c = vctx;
  const ns__run *run = c->run;
  const ns_dataset *ds = run->ds;
  (void)chunk;
  for (size_t n = begin; n < end; n++) {
    uint64_t lo = run->g->note_off[n], hi = run->g->note_off[n + 1];
    int8_t st = c->in->note_status[n];
    int64_t created = c->in->note_created[n], latest = c->in->note_latest_nonnmr[n];
    int historical = created != NS_TS_NONE && created < NS__HISTORICAL_CUTOFF_MS;
    tkey cut = {0, 0};
    int has_cut = 0;
    if (historical && (st == NS_STATUS_CRH || st == NS_STATUS_CRNH))
      has_cut = first_cutoff(c, lo, hi, &cut);
    for (uint64_t j = lo; j < hi; j++) {
      uint32_t e = run->g->note_edges[j];
      uint32_t r = run->r_src[e];
      int64_t t = ds->r_created_ms[r];
      int ok;
      c->valid[e] = 0;
      if (c->use_edge && !c->use_edge[e]) continue;
      if (st != NS_STATUS_CRH && st != NS_STATUS_CRNH) continue;
      if (ds->r_level[r] == NS_LEVEL_SOMEWHAT_HELPFUL) continue;
      if (created == NS_TS_NONE || !(t - created < NS__PUBLIC_DELAY_MS)) continue;
      if (historical) {
        tkey k = {t, e};
        ok = !has_cut || !key_lt(cut, k);
      }
      else
        ok = latest == NS_TS_NONE || t < latest;
      c->valid[e] = (uint8_t)ok;
    }
  }
}

typedef struct count_ctx {
  const ns__run *run;
  const ns__valid_in *in;
  const uint8_t *valid;
  ns__rater_counts *out;
} count_ctx;

static void count_chunk(void *vctx, size_t chunk, size_t begin, size_t end) {
  count_ctx *c = vctx;
  const ns__run *run = c->run;
  (void)chunk;
  for (size_t u = begin; u < end; u++) {
    ns__rater_counts k = {0};
    for (uint64_t j = run->g->rater_off[u]; j < run->g->rater_off[u + 1]; j++) {
      uint32_t e = run->g->rater_edges[j];
      int helpful, crh;
      if (!c->valid[e]) continue;
      helpful = run->ds->r_level[run->r_src[e]] == NS_LEVEL_HELPFUL;
      crh = c->in->note_status[run->r_note[e]] == NS_STATUS_CRH;
      k.valid++;
      if (helpful == crh) k.agree++;
      if (helpful && crh) k.succ_h++;
      if (!helpful && !crh) k.succ_nh++;
      if (helpful && !crh) k.unsucc_h++;
      if (!helpful && crh) k.unsucc_nh++;
    }
    c->out[u] = k;
  }
}

int ns__valid_flags(const ns__run *run, const ns__valid_in *in, const uint8_t *use_edge,
                    uint8_t *valid) {
  valid_ctx vc = {run, in, use_edge, valid};
  ns_pool_for(run->pool, run->n_notes, 1024, valid_chunk, &vc);
  return 0;
}

int ns__valid_counts(const ns__run *run, const ns__valid_in *in, const uint8_t *use_edge,
                     ns__rater_counts *out) {
  uint8_t *valid = ns_calloc(run->n_r ? run->n_r : 1, 1);
  valid_ctx vc = {run, in, use_edge, valid};
  count_ctx cc = {run, in, valid, out};
  if (!valid) return NS_ENOMEM;
  ns_pool_for(run->pool, run->n_notes, 1024, valid_chunk, &vc);
  ns_pool_for(run->pool, run->n_part, 4096, count_chunk, &cc);
  free(valid);
  return 0;
}

/* ---- helpfulness ------------------------------------------------------- */

int ns__helpfulness(ns__run *run) {
  size_t np = run->n_part;
  ns__rater_counts *cnt = ns_calloc(np ? np : 1, sizeof *cnt);
  int32_t *a_n = ns_calloc(np ? np : 1, sizeof *a_n);
  int32_t *a_crh = ns_calloc(np ? np : 1, sizeof *a_crh);
  int32_t *a_crnh = ns_calloc(np ? np : 1, sizeof *a_crnh);
  double *a_sum = ns_calloc(np ? np : 1, sizeof *a_sum);
  ns__valid_in in = {run->prov_status, run->note_created, run->note_latest_nonnmr};
  int rc = 0;

  if (!cnt || !a_n || !a_crh || !a_crnh || !a_sum) { rc = NS_ENOMEM; goto out; }

  /* Valid ratings are taken from the round-1 training ratings, judged
  ** against the provisional (round-1) statuses. */
  if ((rc = ns__valid_counts(run, &in, run->edge_r1, cnt)) != 0) goto out;

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
    /* Hook: the harassment/abuse tag-consensus penalty (reference §3.2) is
    ** added by the guardrails issue; until then the penalised ratio equals
    ** the plain one. */
    run->agree_harass[u] = agree;
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
  return rc;
}
