/*
** engine/pipeline_trust.c -- the run's adversarial defences (design.md §4,
** docs/trust.md): the coordination test and its per-rating weights, and
** trust propagation on the agreement graph.
**
**   groups   ns_coord_detect on every kept rating (post = the note's
**            tweetId, or the note itself when the post is unknown;
**            community = modelingGroup), then ns_coord_weights: a group
**            of >= 10 raters has no say on a note where it rates against
**            the others (weight 0, out of the fit), and at most a fifth of
**            the others' weight where it rates with them.
**            The weights apply in BOTH rounds, because a ring also bends
**            the round-1 statuses, and to every head count and tag count.
**   trust    agreement edges = valid round-1 ratings that agree with the
**            provisional status; seeds = the operator's list or the default
**            rule; ns_trust_propagate -> raterTrust (published; it weights
**            no rating).
**
** Who calls it: engine/pipeline.c, on the run's thread, only when
** params->trust is on.  Output is a pure function of the run's arrays.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline_int.h"

/* ---- coordination weights as codes ------------------------------------ */

/* Codes by first appearance after value[0] = 1, compared by bits so the
** table holds exactly the floats computed (a -0 or a NaN would get its own
** code, never merge with another value).  A group's ratings on a note share
** one weight, so the last code found is tried first; a new value is looked
** up among the few seen. */
void ns__cw_take(ns__cw *cw, float *w, size_t n) {
  uint32_t b, one;
  uint8_t *code = ns_mallocn(n ? n : 1, 1);
  ns_keycodes *k = ns_mallocn(1, sizeof *k);
  cw->value[0] = 1.0f;
  memcpy(&one, &cw->value[0], sizeof one);
  cw->n_below_one = 0;
  for (size_t e = 0; e < n; e++) cw->n_below_one += w[e] < 1.0f;
  if (!k) {
    free(code);
    code = NULL;
  } else {
    ns_keycodes_init(k, NS__CW_CODES);
    (void)ns_keycodes_get(k, one);  /* code 0: weight 1 */
  }
  for (size_t e = 0; code && e < n; e++) {
    int c;
    memcpy(&b, &w[e], sizeof b);
    if (b == one) {
      code[e] = 0;
      continue;
    }
    if ((c = ns_keycodes_get(k, b)) < 0) {
      /* more distinct weights than codes: keep the floats */
      ns_debug("coordination weights: more than %d distinct values, kept as floats", NS__CW_CODES);
      free(code);
      code = NULL;
      break;
    }
    cw->value[c] = w[e];
    code[e] = (uint8_t)c;
  }
  if (code) {
    cw->code = code;
    cw->w = NULL;
    cw->n_values = k->n;
    free(w);
  } else {
    cw->code = NULL;
    cw->w = w;
    cw->n_values = 0;
  }
  free(k);
}

void ns__cw_free(ns__cw *cw) {
  if (!cw) return;
  free(cw->code);
  free(cw->w);
  free(cw);
}

/* ---- coordinated groups ------------------------------------------------ */

/* ns_coord_weights (docs/trust.md §6, step 5): groups of fewer than 10 raters
** are published but weigh as usual -- a group of friends moves a note by
** no more than ten honest raters can, and down-weighting them costs CRH
** notes through the hard head-count rules (gen --shape cliques).  A larger
** group against the others on a note has no say there; with them, at most
** a fifth of the others' weight. */
#define NS__GROUP_MIN_SIZE 10
/* The coordination test runs only when at least this share of the raters
** with NS__COORD_MIN_ACTIVE or more ratings has a known community. */
#define NS__COORD_MIN_COVERAGE 0.5
#define NS__COORD_MIN_ACTIVE 5
#define NS__GROUP_MAX_SHARE 0.2

void ns__rater_communities(const ns__run *run, int32_t *comm) {
  const ns_dataset *ds = run->ds;
  for (size_t u = 0; u < run->n_part; u++) comm[u] = -1;
  for (size_t i = 0; i < ds->n_enrollment; i++) {
    int32_t u = ds->enrollment[i].participant, mg = ds->enrollment[i].modeling_group;
    if (u >= 0 && (size_t)u < run->n_part && mg >= 0 && mg < 4096) comm[u] = mg;
  }
}

int ns__groups_stage(ns__run *run) {
  const ns_dataset *ds = run->ds;
  size_t np = run->n_part, nn = run->n_notes;
  int64_t *post = ns_mallocn(nn, sizeof *post);
  int32_t *comm = ns_mallocn(np, sizeof *comm);
  uint8_t *val = NULL;
  float *w = NULL;
  ns_coord_params cp;
  ns_coord_stats st;
  int rc = 0;

  if (!post || !comm) { rc = NS_ENOMEM; goto out; }
  for (size_t n = 0; n < nn; n++) {
    int32_t d = run->note_ds[n];
    int64_t tw = d >= 0 ? ds->note_tweet_id[d] : -1;
    /* Unknown post: the note is its own post (ids past every tweet id, so
    ** each deleted post stays separate instead of one giant "post"). */
    post[n] = tw >= 0 ? tw : INT64_MAX - (int64_t)n;
  }
  ns__rater_communities(run, comm);
  {
    /* Without communities the null is global chance, and honest
    ** communities co-rate far above it (docs/trust.md §6): the test would
    ** take them for rings.  So it needs a modelingGroup for most raters
    ** who would take part; otherwise it is skipped, and the run scores as
    ** with --no-trust. */
    size_t active = 0, known = 0;
    for (size_t u = 0; u < np; u++)
      if (run->g->rater_off[u + 1] - run->g->rater_off[u] >= NS__COORD_MIN_ACTIVE) {
        active++;
        known += comm[u] >= 0;
      }
    if (active > 0 && (double)known < NS__COORD_MIN_COVERAGE * (double)active) {
      ns_warn("trust: userEnrollment gives a modelingGroup to %zu of the %zu raters with %d or more "
              "ratings; the coordination test needs communities (without them honest communities "
              "look coordinated), so it is skipped and statuses are those of --no-trust (pass the "
              "enrollment file with -e)",
              known, active, NS__COORD_MIN_ACTIVE);
      if (!(w = ns_mallocn(run->n_r ? run->n_r : 1, sizeof *w))) { rc = NS_ENOMEM; goto out; }
      for (size_t e = 0; e < run->n_r; e++) w[e] = 1.0f;
      ns__cw_take(run->cw, w, run->n_r);
      w = NULL;
      run->n_groups = run->n_grouped = run->n_group_weighted = 0;
      goto out;
    }
  }
  ns_coord_params_default(&cp);
  if (!(val = ns__r_levels(run))) { rc = NS_ENOMEM; goto out; }
  if ((rc = ns_coord_detect(run->g, val, post, comm, &cp, run->pool, run->group_id, &st)) != 0)
    goto out;
  run->n_groups = st.n_groups;
  run->n_grouped = st.n_grouped;
  /* the weights as floats for the graph/ function, then as codes (1 byte
  ** per rating for the rest of the run instead of 4) */
  if (!(w = ns_mallocn(run->n_r ? run->n_r : 1, sizeof *w))) { rc = NS_ENOMEM; goto out; }
  if ((rc = ns_coord_weights(run->g, val, run->group_id, run->n_groups, NS__GROUP_MIN_SIZE,
                              NS__GROUP_MAX_SHARE, w)) != 0)
    goto out;
  free(val);
  val = NULL;
  ns__cw_take(run->cw, w, run->n_r);
  w = NULL;
  run->n_group_weighted = run->cw->n_below_one;
  ns_log(NS_LOG_DEBUG,
         "coordination: %zu communities; all values: %zu eligible raters, %zu candidate pairs, "
         "%zu suspect (largest unflagged lift %.2f); dissent: %zu eligible raters, %zu candidate "
         "pairs, %zu suspect (largest unflagged lift %.2f); %zu joined; %zu groups of %zu raters, "
         "%zu ratings down-weighted (%u weight codes)",
         st.n_communities, st.all.eligible_raters, st.all.candidate_pairs, st.all.suspect_pairs,
         st.all.max_lift_unflagged, st.dissent.eligible_raters, st.dissent.candidate_pairs,
         st.dissent.suspect_pairs, st.dissent.max_lift_unflagged, st.joined, st.n_groups, st.n_grouped,
         run->n_group_weighted, run->cw->n_values);

out:
  free(post);
  free(comm);
  free(val);
  free(w);
  return rc;
}

/* ---- seeds ------------------------------------------------------------- */

/* Marks the operator's seeds (p->seeds, read by the caller: the pipeline
** opens no file) in seed_w, 1 for each id present in the run.  Unknown ids
** are ignored: the operator's list may name people with no rating yet. */
static void mark_seeds(const ns__run *run, double *seed_w, size_t *n) {
  *n = 0;
  for (size_t i = 0; i < run->p->n_seeds; i++) {
    const char *id = run->p->seeds[i];
    int32_t u = ns_strtab_find(run->ds->participants, id, strlen(id));
    if (u < 0 || (size_t)u >= run->n_part || seed_w[u] > 0) continue;
    seed_w[u] = 1.0;
    (*n)++;
  }
}

/* ---- propagation ------------------------------------------------------- */

int ns__trust_stage(ns__run *run, ns__emask use_edge) {
  const ns_dataset *ds = run->ds;
  size_t np = run->n_part, nr = run->n_r, ne = 0;
  uint8_t *valid = ns_calloc(nr, 1);
  int32_t *er = ns_mallocn(nr, sizeof *er);
  int32_t *en = ns_mallocn(nr, sizeof *en);
  int32_t *deg = ns_calloc(np, sizeof *deg);
  int64_t *first = ns_mallocn(np, sizeof *first);
  int8_t *enroll = ns_mallocn(np, sizeof *enroll);
  double *seed_w = ns_calloc(np, sizeof *seed_w);
  ns__valid_in in = {run->prov_status, run->note_created, run->note_latest_nonnmr};
  ns_bigraph *ag = NULL;
  ns_trust_result tr;
  ns_trust_params tp;
  int rc = 0;

  memset(&tr, 0, sizeof tr);
  if (!valid || !er || !en || !deg || !first || !enroll || !seed_w) { rc = NS_ENOMEM; goto out; }
  if ((rc = ns__valid_flags(run, &in, use_edge, valid)) != 0) goto out;
  /* Agreement edges: valid and agreeing with the provisional status. */
  for (size_t e = 0, cur = 0; e < nr; e++) {
    int8_t st;
    uint8_t lv;
    int32_t n;
    if (!valid[e]) continue;
    n = ns__edge_note_walk(run, e, &cur);
    st = run->prov_status[n];
    lv = ns_r_level(ds, ns__r_src_n(run, e, n));
    if ((st == NS_STATUS_CRH && lv == NS_LEVEL_HELPFUL) ||
        (st == NS_STATUS_CRNH && lv == NS_LEVEL_NOT_HELPFUL)) {
      er[ne] = run->r_rater[e];
      en[ne] = n;
      deg[er[ne]]++;
      ne++;
    }
  }
  for (size_t u = 0; u < np; u++) {
    first[u] = INT64_MAX;
    enroll[u] = -1;
  }
  for (size_t e = 0, cur = 0; e < nr; e++) {
    int32_t u = run->r_rater[e];
    int64_t t = ns_r_created(ds, ns__r_src_n(run, e, ns__edge_note_walk(run, e, &cur)));
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
  if (run->p->seeds) {
    mark_seeds(run, seed_w, &run->n_seeds);
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
    run->st.propagation_seconds += ns_monotonic_s() - t0;
    run->st.propagation_edge_visits += tr.edge_visits;
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
