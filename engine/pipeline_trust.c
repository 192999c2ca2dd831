/*
** engine/pipeline_trust.c -- the run's adversarial defences (design.md §4,
** docs/trust.md §7): coordinated co-rating groups, trust propagation on
** the agreement graph, and the per-rating weights of round 2.
**
**   groups   ns_groups_corate on every kept rating (post = the note's
**            tweetId, or the note itself when the post is unknown), then
**            ns_groups_dedup: one rating per (note, group), none on notes
**            written by the same group.  Dropped ratings leave BOTH
**            rounds, because a ring also bends the round-1 statuses that
**            the agreement edges are judged against.
**   trust    agreement edges = valid round-1 ratings that agree with the
**            provisional status; seeds = operator file or the default
**            rule; ns_trust_propagate -> trust and earned per rater.
**   weights  ns_trust_weights over the round-2 candidate ratings.
**
** Who calls it: engine/pipeline.c, on the run's thread, only when
** params->trust is on.  Output is a pure function of the run's arrays.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline_int.h"

/* ---- coordinated groups ------------------------------------------------ */

/* Burst rule multiplier: a pair is suspect when it co-rates >= 10 times
** and >= this many times its chance expectation (graph.h).  10 grouped no
** honest rater on clean gen data (3 seeds, 2000 and 5000 raters) and every
** planted ring of the sweep; 5 already grouped a few honest heavy raters. */
#define NS__BURST_MULT 10.0

static int32_t gfind(int32_t *par, int32_t a) {
  while (par[a] != a) a = par[a] = par[par[a]];
  return a;
}

/* Union of two group labelings (0 = none) into a, renumbered 1, 2, ... by
** smallest member, so the result does not depend on either pass's ids. */
static void merge_groups(int32_t *a, const int32_t *b, size_t n, size_t *n_groups,
                         size_t *n_grouped) {
  int32_t *par = ns_mallocn(n ? n : 1, sizeof *par);
  int32_t *first = ns_mallocn(2 * (n + 1), sizeof *first);
  int32_t *firstb;
  if (!par || !first) {
    /* Out of memory: keep pass 1's groups (a is still valid). */
    free(par);
    free(first);
    return;
  }
  firstb = first + n + 1;
  for (size_t i = 0; i <= n; i++) first[i] = firstb[i] = -1;
  for (size_t u = 0; u < n; u++) par[u] = (int32_t)u;
  for (size_t u = 0; u < n; u++) {
    int32_t x, y;
    if (a[u] > 0) {
      if (first[a[u]] < 0) first[a[u]] = (int32_t)u;
      x = gfind(par, first[a[u]]);
      y = gfind(par, (int32_t)u);
      if (x != y) par[NS_MAX(x, y)] = NS_MIN(x, y);
    }
    if (b[u] > 0) {
      if (firstb[b[u]] < 0) firstb[b[u]] = (int32_t)u;
      x = gfind(par, firstb[b[u]]);
      y = gfind(par, (int32_t)u);
      if (x != y) par[NS_MAX(x, y)] = NS_MIN(x, y);
    }
  }
  *n_groups = *n_grouped = 0;
  for (size_t u = 0; u < n; u++) {
    int32_t r = gfind(par, (int32_t)u);
    if (a[u] == 0 && b[u] == 0) { a[u] = 0; continue; }
    if ((size_t)r == u) a[u] = (int32_t)++*n_groups;
    else a[u] = a[r];
    ++*n_grouped;
  }
  free(par);
  free(first);
}

int ns__groups_stage(ns__run *run) {
  const ns_dataset *ds = run->ds;
  size_t nr = run->n_r;
  int64_t *tm = ns_mallocn(nr ? nr : 1, sizeof *tm);
  int64_t *post = ns_mallocn(nr ? nr : 1, sizeof *post);
  int32_t *g2 = ns_calloc(run->n_part ? run->n_part : 1, sizeof *g2);
  ns_corate_params cp[2];
  int rc = 0;

  if (!tm || !post || !g2) { rc = NS_ENOMEM; goto out; }
  for (size_t e = 0; e < nr; e++) {
    int32_t n = run->r_note[e], d = run->note_ds[n];
    int64_t tw = d >= 0 ? ds->note_tweet_id[d] : -1;
    tm[e] = ds->r_created_ms[run->r_src[e]];
    /* Unknown post: the note is its own post.  Negative ids cannot collide
    ** with tweet ids, and each deleted post stays separate instead of all
    ** of them being lumped into one giant "post". */
    post[e] = tw >= 0 ? tw : -1 - (int64_t)n;
  }
  /* Pass 1: the reference's 20-minute co-rating (NPMI, minSim) plus the
  ** scale-aware burst rule.  Pass 2: the burst rule alone over the 48 h a
  ** rating stays valid, so a ring that spreads its ratings over hours
  ** instead of minutes is still a pair set co-rating ~10x above its
  ** activity's chance level.  NPMI/minSim are tuned for 20 minutes and
  ** would group honest raters at 48 h, so they are off in pass 2. */
  ns_corate_params_default(&cp[0]);
  cp[0].burst_mult = NS__BURST_MULT;
  cp[1] = cp[0];
  cp[1].window_ms = NS__PUBLIC_DELAY_MS;
  /* Each rating is paired with its next 8 ratings on the post only: the
  ** work grows with (cap x ratings).  A ring spread over hours still lands
  ** its members next to each other often enough on its targets
  ** (tests/e2e/attack_smoke.sh, "spread farming ring"). */
  cp[1].max_window = 8;
  cp[1].npmi_min = 2.0;      /* NPMI < 1: never fires */
  cp[1].minsim_min = 1e300;  /* never fires */
  {
    const ns_corate_params *pp[2] = {&cp[0], &cp[1]};
    int32_t *gg[2] = {run->group_id, g2};
    ns_corate_stats st[2];
    if ((rc = ns_groups_corate_multi(nr, run->r_rater, run->r_note, tm, post, run->n_part, 2, pp,
                                     run->pool, gg, st)) != 0)
      goto out;
    ns_log(NS_LOG_DEBUG, "co-rating: %llu/%llu pair events, %llu/%llu distinct pairs, "
           "%llu/%llu suspect (20 min / 48 h)",
           (unsigned long long)st[0].pair_events, (unsigned long long)st[1].pair_events,
           (unsigned long long)st[0].distinct_pairs, (unsigned long long)st[1].distinct_pairs,
           (unsigned long long)st[0].suspect_pairs, (unsigned long long)st[1].suspect_pairs);
  }
  merge_groups(run->group_id, g2, run->n_part, &run->n_groups, &run->n_grouped);
  rc = ns_groups_dedup(nr, run->r_rater, run->r_note, tm, run->n_part, run->n_notes,
                       run->note_author, run->group_id, run->edge_drop, &run->n_group_dropped);

out:
  free(tm);
  free(post);
  free(g2);
  return rc;
}

/* ---- seeds ------------------------------------------------------------- */

/* Reads participant ids, one a line ('#' comments and blank lines are
** skipped), into seed_w (1 for each id present in the run).  Unknown ids
** are ignored: the operator's list may name people with no rating yet. */
static int read_seed_file(const ns__run *run, const char *path, double *seed_w, size_t *n) {
  FILE *f = fopen(path, "r");
  char line[512];
  if (!f) return NS_EIO;
  *n = 0;
  while (fgets(line, sizeof line, f)) {
    size_t len = strcspn(line, "\r\n");
    int32_t u;
    while (len && (line[len - 1] == ' ' || line[len - 1] == '\t')) len--;
    if (len == 0 || line[0] == '#') continue;
    u = ns_strtab_find(run->ds->participants, line, len);
    if (u < 0 || (size_t)u >= run->n_part || seed_w[u] > 0) continue;
    seed_w[u] = 1.0;
    (*n)++;
  }
  fclose(f);
  return 0;
}

/* ---- propagation ------------------------------------------------------- */

int ns__trust_stage(ns__run *run, const uint8_t *use_edge) {
  const ns_dataset *ds = run->ds;
  size_t np = run->n_part, nr = run->n_r, ne = 0;
  uint8_t *valid = ns_calloc(nr ? nr : 1, 1);
  int32_t *er = ns_mallocn(nr ? nr : 1, sizeof *er);
  int32_t *en = ns_mallocn(nr ? nr : 1, sizeof *en);
  int32_t *deg = ns_calloc(np ? np : 1, sizeof *deg);
  int64_t *first = ns_mallocn(np ? np : 1, sizeof *first);
  int8_t *enroll = ns_mallocn(np ? np : 1, sizeof *enroll);
  double *seed_w = ns_calloc(np ? np : 1, sizeof *seed_w);
  ns__valid_in in = {run->prov_status, run->note_created, run->note_latest_nonnmr};
  ns_bigraph *ag = NULL;
  ns_trust_result tr;
  ns_trust_params tp;
  int rc = 0;

  memset(&tr, 0, sizeof tr);
  if (!valid || !er || !en || !deg || !first || !enroll || !seed_w) { rc = NS_ENOMEM; goto out; }
  if ((rc = ns__valid_flags(run, &in, use_edge, valid)) != 0) goto out;
  /* Agreement edges: valid and agreeing with the provisional status. */
  for (size_t e = 0; e < nr; e++) {
    int8_t st;
    uint8_t lv;
    if (!valid[e]) continue;
    st = run->prov_status[run->r_note[e]];
    lv = ds->r_level[run->r_src[e]];
    if ((st == NS_STATUS_CRH && lv == NS_LEVEL_HELPFUL) ||
        (st == NS_STATUS_CRNH && lv == NS_LEVEL_NOT_HELPFUL)) {
      er[ne] = run->r_rater[e];
      en[ne] = run->r_note[e];
      deg[er[ne]]++;
      ne++;
    }
  }
  for (size_t u = 0; u < np; u++) {
    first[u] = INT64_MAX;
    enroll[u] = -1;
  }
  for (size_t e = 0; e < nr; e++) {
    int32_t u = run->r_rater[e];
    int64_t t = ds->r_created_ms[run->r_src[e]];
    if (t < first[u]) first[u] = t;
  }
  for (size_t i = 0; i < ds->n_enrollment; i++) {
    int32_t u = ds->enrollment[i].participant;
    if (u >= 0 && (size_t)u < np) enroll[u] = ds->enrollment[i].state;
  }

  /* Seeds: the operator's list when given, else the default rule.  With an
  ** empty agreement graph or no seed there is nothing to propagate: trust
  ** stays NaN (reported empty) and round 2 runs unweighted (see
  ** ns__trust_edge_weights). */
  run->n_seeds = 0;
  if (run->p->seeds_file) {
    if ((rc = read_seed_file(run, run->p->seeds_file, seed_w, &run->n_seeds)) != 0) goto out;
  } else if (ne > 0) {
    ns_seed_params sp;
    ns_seed_params_default(&sp);
    rc = ns_trust_default_seeds(np, deg, first, enroll, run->p->now_ms, &sp, seed_w,
                                &run->n_seeds);
    if (rc == NS_ENODATA) rc = 0;
    if (rc) goto out;
  }
  if (ne == 0 || run->n_seeds == 0) {
    for (size_t u = 0; u < np; u++) {
      run->trust[u] = NAN;
      run->earned[u] = NAN;
    }
    run->trust_iters = 0;
    goto out;
  }

  if ((rc = ns_bigraph_build(np, run->n_notes, ne, er, en, &ag)) != 0) goto out;
  ns_trust_params_default(&tp);
  tp.alpha = run->p->trust_alpha;
  {
    double t0 = ns_monotonic_s();
    if ((rc = ns_trust_propagate(ag, seed_w, &tp, run->pool, &tr)) != 0) goto out;
    run->prop_seconds += ns_monotonic_s() - t0;
    run->prop_visits += tr.edge_visits;
  }
  run->trust_iters = tr.iterations;
  for (size_t u = 0; u < np; u++) {
    run->trust[u] = tr.trust[u];
    run->earned[u] = tr.earned[u];
  }

out:
  ns_trust_result_free(&tr);
  ns_bigraph_free(ag);
  free(valid);
  free(er);
  free(en);
  free(deg);
  free(first);
  free(enroll);
  free(seed_w);
  return rc;
}

/* ---- round-2 weights --------------------------------------------------- */

int ns__trust_edge_weights(ns__run *run, const uint8_t *base, float *w) {
  size_t nr = run->n_r, m = 0;
  int32_t *rr = ns_mallocn(nr ? nr : 1, sizeof *rr);
  int32_t *rn = ns_mallocn(nr ? nr : 1, sizeof *rn);
  float *wm = ns_mallocn(nr ? nr : 1, sizeof *wm);
  double *tr = ns_mallocn(run->n_part ? run->n_part : 1, sizeof *tr);
  double *ea = ns_mallocn(run->n_part ? run->n_part : 1, sizeof *ea);
  ns_weight_params wp;
  int rc = 0;

  if (!rr || !rn || !wm || !tr || !ea) { rc = NS_ENOMEM; goto out; }
  for (size_t e = 0; e < nr; e++) w[e] = 1.0f;
  {
    /* No propagation happened (no agreement graph or no seed): trust is
    ** unknown, not zero, so round 2 runs unweighted. */
    int any = 0;
    for (size_t u = 0; u < run->n_part && !any; u++) any = !isnan(run->trust[u]);
    if (!any) goto out;
  }
  for (size_t u = 0; u < run->n_part; u++) {
    tr[u] = isnan(run->trust[u]) ? 0.0 : run->trust[u];
    ea[u] = isnan(run->earned[u]) ? 0.0 : run->earned[u];
  }
  for (size_t e = 0; e < nr; e++) {
    if (!base[e]) continue;
    rr[m] = run->r_rater[e];
    rn[m] = run->r_note[e];
    m++;
  }
  ns_weight_params_default(&wp);
  if ((rc = ns_trust_weights(m, rr, rn, run->n_part, run->n_notes, tr, ea, run->group_id, &wp,
                             wm)) != 0)
    goto out;
  m = 0;
  for (size_t e = 0; e < nr; e++)
    if (base[e]) w[e] = wm[m++];

out:
  free(rr);
  free(rn);
  free(wm);
  free(tr);
  free(ea);
  return rc;
}
