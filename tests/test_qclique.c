/*
** tests/test_qclique.c -- graph/qclique.c: planted dense groups among
** random honest raters, the per-post collision rule, the size cap and
** minimum, the post and participation rules, scope, and determinism
** (thread count, edge order); the pair count on the edges themselves
** against built event lists (graph/collide.c).
*/
#include "harness.h"

#include "../graph/graph.h"

/* A rating list being built: rater, note, value. */
typedef struct qin {
  NS_VEC(int32_t) r;
  NS_VEC(int32_t) n;
  NS_VEC(float) v;
  size_t n_raters, n_notes;
  int64_t *post;              /* per note; default: note n is post n */
} qin;

static void qin_init(qin *q, size_t n_raters, size_t n_notes) {
  memset(q, 0, sizeof *q);
  q->n_raters = n_raters;
  q->n_notes = n_notes;
  q->post = calloc(n_notes, sizeof *q->post);
  ASSERT(q->post);
  for (size_t n = 0; n < n_notes; n++) q->post[n] = (int64_t)n;
}

static void qin_free(qin *q) {
  ns_vec_free(&q->r);
  ns_vec_free(&q->n);
  ns_vec_free(&q->v);
  free(q->post);
}

static void rate(qin *q, int32_t r, int32_t n, float v) {
  ASSERT_OK(ns_vec_push(&q->r, r));
  ASSERT_OK(ns_vec_push(&q->n, n));
  ASSERT_OK(ns_vec_push(&q->v, v));
}

/* Honest raters [r0, r1): each rates `per` distinct random notes of
** [0, n_notes) with a uniformly random value. */
static void honest(qin *q, ns_rng *rng, int32_t r0, int32_t r1, size_t per) {
  uint8_t *seen = calloc(q->n_notes, 1);
  ASSERT(seen);
  for (int32_t u = r0; u < r1; u++) {
    memset(seen, 0, q->n_notes);
    for (size_t k = 0; k < per;) {
      int32_t n = (int32_t)ns_rng_below(rng, q->n_notes);
      if (seen[n]) continue;
      seen[n] = 1;
      rate(q, u, n, (float)ns_rng_below(rng, 3) * 0.5f);
      k++;
    }
  }
  free(seen);
}

/* Runs detection; ids[n_raters] out.  Returns the stats. */
static ns_qclique_stats detect(const qin *q, const ns_qclique_params *p, ns_pool *pool,
                               int32_t *ids) {
  ns_bigraph *g = NULL;
  ns_qclique_stats st;
  uint8_t *lv = malloc(q->v.n + 1);
  ASSERT(lv != NULL);
  for (size_t i = 0; i < q->v.n; i++) lv[i] = ns_edge_level(q->v.a[i]);
  ASSERT_OK(ns_bigraph_build(q->n_raters, q->n_notes, q->r.n, q->r.a, q->n.a, &g));
  ASSERT_OK(ns_qclique_detect(g, lv, q->post, NULL, p, pool, ids, &st));
  ns_bigraph_free(g);
  free(lv);
  return st;
}

static size_t count_flagged(const int32_t *ids, size_t n) {
  size_t c = 0;
  for (size_t u = 0; u < n; u++) c += ids[u] > 0;
  return c;
}

/* 600 notes (one post each); raters 0..199 honest with 20 ratings, 200..299
** heavy honest with 70 ratings (eligible for seeds; ~3 expected collisions
** per pair); the planted group is raters g0.. g0+k-1, who give value 1.0 to
** notes 0..targets-1. */
#define NOTES 600
static void planted(qin *q, ns_rng *rng, int32_t g0, int k, int targets) {
  honest(q, rng, 0, 200, 20);
  honest(q, rng, 200, 300, 70);
  for (int32_t u = g0; u < g0 + k; u++)
    for (int32_t n = 0; n < targets; n++) rate(q, u, n, 1.0f);
}

TEST(qclique_planted_group_found_exactly) {
  qin q;
  ns_rng rng;
  int32_t ids[320];
  ns_qclique_stats st;
  ns_rng_seed(&rng, 11);
  qin_init(&q, 320, NOTES);
  planted(&q, &rng, 305, 8, 60);
  st = detect(&q, NULL, NULL, ids);
  ASSERT_EQ(st.n_cliques, 1);
  ASSERT_EQ(st.n_members, 8);
  for (int32_t u = 0; u < 320; u++) ASSERT_EQ(ids[u], u >= 305 && u < 313 ? 1 : 0);
  /* every planted pair is a seed pair (60 > 50); honest heavy pairs are not */
  ASSERT(st.seed_pairs >= 28);
  ASSERT_EQ(st.scope_notes, NOTES);
  ASSERT_EQ(st.eligible_raters, 100 + 8);
  qin_free(&q);
}

TEST(qclique_honest_random_raters_not_flagged) {
  qin q;
  ns_rng rng;
  int32_t ids[300];
  ns_qclique_stats st;
  ns_rng_seed(&rng, 12);
  qin_init(&q, 300, NOTES);
  honest(&q, &rng, 0, 200, 20);
  honest(&q, &rng, 200, 300, 70);
  st = detect(&q, NULL, NULL, ids);
  ASSERT_EQ(st.seed_pairs, 0);
  ASSERT_EQ(count_flagged(ids, 300), 0);
  /* Even with seeds allowed from 5 collisions (~3 expected between heavy
  ** honest raters, so some pairs qualify), growth finds no group: random
  ** raters do not agree on 25 posts. */
  ns_qclique_params p;
  ns_qclique_params_default(&p);
  p.min_pair_count = 5;
  st = detect(&q, &p, NULL, ids);
  ASSERT(st.seed_pairs > 0);
  ASSERT(st.seeds_tried > 0);
  ASSERT_EQ(count_flagged(ids, 300), 0);
  qin_free(&q);
}

TEST(qclique_collisions_count_once_per_post) {
  /* The group agrees on 60 notes, but they are 3 notes each on 20 posts:
  ** 20 collisions per pair, no seed.  One note per post: a clique. */
  qin q;
  ns_rng rng;
  int32_t ids[320];
  ns_qclique_stats st;
  ns_rng_seed(&rng, 13);
  qin_init(&q, 320, NOTES);
  for (int n = 0; n < 60; n++) q.post[n] = 1000 + n / 3;
  planted(&q, &rng, 305, 8, 60);
  st = detect(&q, NULL, NULL, ids);
  ASSERT_EQ(st.seed_pairs, 0);
  ASSERT_EQ(count_flagged(ids, 320), 0);
  for (int n = 0; n < 60; n++) q.post[n] = n;
  st = detect(&q, NULL, NULL, ids);
  ASSERT_EQ(st.n_members, 8);
  qin_free(&q);
}

TEST(qclique_size_cap_and_minimum) {
  qin q;
  ns_rng rng;
  int32_t ids[320];
  ns_qclique_params p;
  ns_qclique_stats st;
  ns_rng_seed(&rng, 14);
  qin_init(&q, 320, NOTES);
  planted(&q, &rng, 305, 12, 60);
  /* Cap 10: ties in score go to the smaller index, so the clique is the
  ** 10 smallest planted raters; the two left seed a pair that cannot grow
  ** (everyone else is taken or honest) and stay unflagged. */
  ns_qclique_params_default(&p);
  p.max_size = 10;
  st = detect(&q, &p, NULL, ids);
  ASSERT_EQ(st.n_cliques, 1);
  for (int32_t u = 0; u < 320; u++) ASSERT_EQ(ids[u], u >= 305 && u < 315 ? 1 : 0);
  ASSERT_EQ(st.seeds_tried, 2);
  /* Without the cap all 12. */
  st = detect(&q, NULL, NULL, ids);
  ASSERT_EQ(st.n_members, 12);
  qin_free(&q);

  /* A group of 4 is below min_size 5; with min_size 4 it is a clique. */
  ns_rng_seed(&rng, 14);
  qin_init(&q, 320, NOTES);
  planted(&q, &rng, 305, 4, 60);
  st = detect(&q, NULL, NULL, ids);
  ASSERT_EQ(count_flagged(ids, 320), 0);
  ASSERT(st.seeds_tried >= 1);
  ns_qclique_params_default(&p);
  p.min_size = 4;
  st = detect(&q, &p, NULL, ids);
  ASSERT_EQ(st.n_members, 4);
  qin_free(&q);
}

TEST(qclique_min_posts_rule) {
  /* Seeds from 10 collisions; a group agreeing on 20 posts has too few
  ** posts (25 needed) and never grows past the seed; on 30 posts it does. */
  qin q;
  ns_rng rng;
  int32_t ids[320];
  ns_qclique_params p;
  ns_qclique_stats st;
  ns_qclique_params_default(&p);
  p.min_pair_count = 10;
  ns_rng_seed(&rng, 15);
  qin_init(&q, 320, NOTES);
  for (int32_t u = 305; u < 313; u++)
    for (int32_t n = 0; n < 20; n++) rate(&q, u, n, 0.0f);
  st = detect(&q, &p, NULL, ids);
  ASSERT(st.seed_pairs > 0);
  ASSERT_EQ(count_flagged(ids, 320), 0);
  for (int32_t u = 305; u < 313; u++)
    for (int32_t n = 20; n < 30; n++) rate(&q, u, n, 0.0f);
  st = detect(&q, &p, NULL, ids);
  ASSERT_EQ(st.n_members, 8);
  qin_free(&q);
}

TEST(qclique_participation_rule) {
  /* A follower who joins the group's action on k of its 60 posts: with
  ** k = 10 < 25 % of 60 it is rejected, with k = 20 it joins. */
  for (int k = 10; k <= 20; k += 10) {
    qin q;
    ns_rng rng;
    int32_t ids[320];
    ns_qclique_stats st;
    ns_rng_seed(&rng, 16);
    qin_init(&q, 320, NOTES);
    planted(&q, &rng, 305, 8, 60);
    for (int32_t n = 0; n < k; n++) rate(&q, 319, n, 1.0f);
    st = detect(&q, NULL, NULL, ids);
    ASSERT_EQ(st.n_cliques, 1);
    ASSERT_EQ(ids[319], k == 20 ? 1 : 0);
    ASSERT_EQ(st.n_members, k == 20 ? 9 : 8);
    qin_free(&q);
  }
}

TEST(qclique_scope_and_two_groups) {
  /* Two planted groups on different targets: two cliques, numbered in seed
  ** order (the group with more collisions first).  Out-of-scope notes do
  ** not count: with the second group's targets out of scope it vanishes. */
  qin q;
  ns_rng rng;
  int32_t ids[330];
  ns_qclique_stats st;
  ns_rng_seed(&rng, 17);
  qin_init(&q, 330, NOTES);
  planted(&q, &rng, 300, 6, 60);
  for (int32_t u = 310; u < 320; u++)
    for (int32_t n = 100; n < 170; n++) rate(&q, u, n, 0.0f);
  st = detect(&q, NULL, NULL, ids);
  ASSERT_EQ(st.n_cliques, 2);
  for (int32_t u = 300; u < 306; u++) ASSERT_EQ(ids[u], 2);
  for (int32_t u = 310; u < 320; u++) ASSERT_EQ(ids[u], 1);
  ASSERT_EQ(count_flagged(ids, 330), 16);
  for (int n = 100; n < 170; n++) q.post[n] = -1;
  st = detect(&q, NULL, NULL, ids);
  ASSERT_EQ(st.n_cliques, 1);
  ASSERT_EQ(count_flagged(ids, 330), 6);
  ASSERT_EQ(ids[300], 1);
  qin_free(&q);
}

TEST(qclique_bounded_neighbourhood_large_events) {
  /* Targets are popular: 290 honest raters each rate 30 % of the targets
  ** (random values), so each target's value-1 event holds ~29 honest
  ** raters plus the 10 group members spread over the index range.  With a
  ** neighbourhood of 16, pairs of members adjacent in index order still
  ** collide on most targets; the group is found exactly. */
  qin q;
  ns_rng rng;
  int32_t ids[300], ids2[300];
  ns_qclique_stats st;
  ns_pool *pool = NULL;
  ns_rng_seed(&rng, 18);
  qin_init(&q, 300, 400);
  for (int32_t u = 0; u < 300; u++) {
    int member = u % 30 == 7;
    for (int32_t n = 0; n < 70; n++)
      if (member) rate(&q, u, n, 1.0f);
      else if (ns_rng_below(&rng, 10) < 3) rate(&q, u, n, (float)ns_rng_below(&rng, 3) * 0.5f);
    if (!member)
      for (int32_t n = 70; n < 400; n++)
        if (ns_rng_below(&rng, 4) == 0) rate(&q, u, n, (float)ns_rng_below(&rng, 3) * 0.5f);
  }
  st = detect(&q, NULL, NULL, ids);
  ASSERT_EQ(st.n_cliques, 1);
  for (int32_t u = 0; u < 300; u++) ASSERT_EQ(ids[u], u % 30 == 7 ? 1 : 0);
  /* each rating is paired with at most 16 others */
  ASSERT(st.pair_updates <= 16 * (uint64_t)q.r.n);
  /* the same on two threads */
  ASSERT_OK(ns_pool_new(2, &pool));
  detect(&q, NULL, pool, ids2);
  ASSERT(memcmp(ids, ids2, sizeof ids) == 0);
  ns_pool_free(pool);
  qin_free(&q);
}

TEST(qclique_deterministic_threads_and_edge_order) {
  qin q;
  ns_rng rng;
  int32_t a[340], b[340], c[340];
  ns_qclique_stats sa, sb, sc;
  ns_pool *pool = NULL;
  ns_rng_seed(&rng, 19);
  qin_init(&q, 340, NOTES);
  planted(&q, &rng, 300, 9, 70);
  for (int32_t u = 320; u < 335; u++)
    for (int32_t n = 150; n < 230; n++) rate(&q, u, n, 0.5f);
  sa = detect(&q, NULL, NULL, a);
  ASSERT_OK(ns_pool_new(2, &pool));
  sb = detect(&q, NULL, pool, b);
  /* shuffle the rating order: same result */
  for (size_t i = q.r.n; i > 1; i--) {
    size_t j = ns_rng_below(&rng, i);
    int32_t t = q.r.a[i - 1];
    float f;
    q.r.a[i - 1] = q.r.a[j], q.r.a[j] = t;
    t = q.n.a[i - 1], q.n.a[i - 1] = q.n.a[j], q.n.a[j] = t;
    f = q.v.a[i - 1], q.v.a[i - 1] = q.v.a[j], q.v.a[j] = f;
  }
  sc = detect(&q, NULL, pool, c);
  ASSERT(memcmp(a, b, sizeof a) == 0);
  ASSERT(memcmp(a, c, sizeof a) == 0);
  ASSERT_EQ(sa.n_cliques, 2);
  ASSERT_EQ(sa.n_members, 24);
  ASSERT_EQ(sa.pair_updates, sb.pair_updates);
  ASSERT_EQ(sa.seed_pairs, sc.seed_pairs);
  ns_pool_free(pool);
  qin_free(&q);
}

TEST(qclique_bad_input) {
  ns_bigraph *g = NULL;
  int32_t r[1] = {0}, n[1] = {0}, ids[1];
  uint8_t v[1] = {2};
  int64_t post[1] = {0};
  ns_qclique_params p;
  ASSERT_OK(ns_bigraph_build(1, 1, 1, r, n, &g));
  ASSERT_ERR(ns_qclique_detect(g, NULL, post, NULL, NULL, NULL, ids, NULL), NS_EINVAL);
  ASSERT_ERR(ns_qclique_detect(g, v, NULL, NULL, NULL, NULL, ids, NULL), NS_EINVAL);
  ns_qclique_params_default(&p);
  p.neighbours = 0;
  ASSERT_ERR(ns_qclique_detect(g, v, post, NULL, &p, NULL, ids, NULL), NS_EINVAL);
  ASSERT_OK(ns_qclique_detect(g, v, post, NULL, NULL, NULL, ids, NULL));
  ASSERT_EQ(ids[0], 0);
  ns_bigraph_free(g);
}

/* ---- from detection to NoCorrelatedIntercept ---------------------------- */

#include "../guard/guard.h"
#include "../engine/pipeline_int.h"

TEST(qclique_no_correlated_rule_demotes_clique_note) {
  /* Raters 0..5 act as a group: HELPFUL on notes 0..59 (60 posts).  Raters
  ** 6..40 are honest: random values on 60 of the 600 notes.  Note 600 is
  ** CRH only because of the group: its 6 HELPFUL ratings against 5 honest
  ** NOT_HELPFUL ones.  Detection flags exactly the group; the note-only
  ** refit without it drops the intercept to 0; the rule chain turns the
  ** CRH note into NEEDS_YOUR_HELP via NoCorrelatedIntercept. */
  qin q;
  ns_rng rng;
  int32_t ids[41];
  uint8_t corr[41];
  ns_qclique_params p;
  ns_qclique_stats st;
  ns_rng_seed(&rng, 21);
  qin_init(&q, 41, 600);
  for (int32_t u = 0; u < 6; u++)
    for (int32_t n = 0; n < 60; n++) rate(&q, u, n, 1.0f);
  honest(&q, &rng, 6, 41, 60);
  ns_qclique_params_default(&p);
  p.min_seed_lift = 2.0; /* the pipeline's setting */
  st = detect(&q, &p, NULL, ids);
  ASSERT_EQ(st.n_cliques, 1);
  for (int32_t u = 0; u < 41; u++) {
    ASSERT_EQ(ids[u], u < 6 ? 1 : 0);
    corr[u] = ids[u] > 0;
  }

  /* The refit on note 600 alone (k = 1; raters and mu at 0). */
  int32_t rn[11], ru[11];
  float rv[11];
  double zero_r[41] = {0}, icpt_n[1] = {0}, fac_n[1] = {0}, full[1], nocorr[1];
  for (int i = 0; i < 11; i++) {
    rn[i] = 0;
    ru[i] = i; /* 0..5 the group, 6..10 honest */
    rv[i] = i < 6 ? 1.0f : 0.0f;
  }
  ns_guard_fit f = {1, 41, 11, 1, 0.0, icpt_n, fac_n, zero_r, zero_r, rn, ru, rv, NULL, NULL};
  ns_guard_reg reg = {0.15, 0.03, 0.0};
  uint8_t none[41] = {0};
  ASSERT_OK(ns_guard_refit_excluding(&f, none, &reg, 5, NULL, full));
  ASSERT_OK(ns_guard_refit_excluding(&f, corr, &reg, 5, NULL, nocorr));
  ASSERT_NEAR(full[0], 6.0 / (11 + 0.15 * 11), 1e-9); /* ridge: sum y / (n + pen) */
  ASSERT_NEAR(nocorr[0], 0.0, 1e-12);

  /* Rule chain: CRH on the full intercept, NYH by NoCorrelatedIntercept. */
  ns__note_facts nf;
  ns__rule_out o;
  ns_params prm;
  ns_params_default(&prm);
  memset(&nf, 0, sizeof nf);
  nf.n_ratings = 11;
  nf.cls = NS_CLASS_MISLEADING;
  nf.icpt = full[0];
  nf.fac = 0.0;
  nf.prev_status = nf.locked_status = NS_STATUS_UNSET;
  nf.n_neg = nf.n_pos = 6;
  nf.mean_neg = nf.mean_pos = 0.9;
  nf.net_neg = nf.net_pos = 5;
  nf.guard = 1;
  nf.icpt_max = nf.icpt_no_high_vol = NAN;
  nf.icpt_no_correlated = nocorr[0];
  ns__rules_final(&nf, &prm, &o);
  ASSERT_EQ(o.status, NS_STATUS_NYH);
  ASSERT((o.rules >> NS_RULE_GENERAL_CRH) & 1u);
  ASSERT((o.rules >> NS_RULE_NO_CORRELATED) & 1u);
  ASSERT_STREQ(ns_rule_names[NS_RULE_NO_CORRELATED], "NoCorrelatedIntercept");
  /* NaN (no refit) never fires; 0.37 is not below 0.37 */
  nf.icpt_no_correlated = NAN;
  ns__rules_final(&nf, &prm, &o);
  ASSERT_EQ(o.status, NS_STATUS_CRH);
  ASSERT(!((o.rules >> NS_RULE_NO_CORRELATED) & 1u));
  nf.icpt_no_correlated = 0.37;
  ns__rules_final(&nf, &prm, &o);
  ASSERT_EQ(o.status, NS_STATUS_CRH);
  /* only CRH notes: an NMR note with a low no-correlated intercept stays */
  nf.icpt = 0.2;
  nf.icpt_no_correlated = 0.0;
  ns__rules_final(&nf, &prm, &o);
  ASSERT(!((o.rules >> NS_RULE_NO_CORRELATED) & 1u));
  qin_free(&q);
}

TEST(qclique_seed_lift_filters_consensus) {
  /* Dense consensus: 40 raters each rate 70 % of 200 notes, giving the
  ** note's "true" value 90 % of the time.  The reference rule (lift off)
  ** turns them into one big clique; with min_seed_lift 2 no pair is above
  ** chance (lift ~1.3) and nobody is flagged.  A planted group of 8 on 60
  ** of 600 sparse notes has lift ~10 and is still found. */
  qin q;
  ns_rng rng;
  int32_t ids[320];
  ns_qclique_params p;
  ns_qclique_stats st;
  float truth[200];
  ns_rng_seed(&rng, 22);
  qin_init(&q, 48, 200);
  for (int n = 0; n < 200; n++) truth[n] = (float)ns_rng_below(&rng, 3) * 0.5f;
  for (int32_t u = 0; u < 40; u++)
    for (int32_t n = 0; n < 200; n++)
      if (ns_rng_below(&rng, 10) < 7)
        rate(&q, u, n, ns_rng_below(&rng, 10) < 9 ? truth[n] : (float)ns_rng_below(&rng, 3) * 0.5f);
  ns_qclique_params_default(&p);
  st = detect(&q, &p, NULL, ids);
  ASSERT(st.n_members >= 20);
  p.min_seed_lift = 2.0;
  st = detect(&q, &p, NULL, ids);
  ASSERT(st.seed_pairs > 0);
  ASSERT_EQ(st.low_lift_pairs, st.seed_pairs);
  ASSERT_EQ(st.n_cliques, 0);
  ASSERT_EQ(count_flagged(ids, 48), 0);
  qin_free(&q);

  ns_rng_seed(&rng, 23);
  qin_init(&q, 320, NOTES);
  planted(&q, &rng, 305, 8, 60);
  st = detect(&q, &p, NULL, ids);
  ASSERT_EQ(st.n_members, 8);
  ASSERT_EQ(st.low_lift_pairs, 0);
  qin_free(&q);
}

/* ---- the pair count's two layouts (graph/collide.c) --------------------- */

#include "../graph/collide.h"

enum { CP_NR = 120, CP_NN = 90, CP_PER = 40 };

/* Ratings (rr, nn, lv) for the count, kept in file scope for qsort. */
static int32_t cp_rr[CP_NR * CP_PER], cp_nn[CP_NR * CP_PER];
static uint8_t cp_lv[CP_NR * CP_PER];

static int cmp_note_rater(const void *x, const void *y) {
  size_t a = *(const size_t *)x, b = *(const size_t *)y;
  if (cp_nn[a] != cp_nn[b]) return cp_nn[a] < cp_nn[b] ? -1 : 1;
  return (cp_rr[a] > cp_rr[b]) - (cp_rr[a] < cp_rr[b]);
}

/* Counts the pairs of the ratings in the order idx; the layout gets
** note_lv, and copy_lv (if any) is applied to the levels first.  Returns
** whether the edges served as the event lists. */
static int count_pairs(const size_t *idx, size_t m, const int64_t *post, const uint8_t *note_lv,
                       const uint8_t *copy_lv, ns__cpair_vec *out, uint64_t *upd) {
  int32_t *er = malloc(m * sizeof *er), *en = malloc(m * sizeof *en);
  uint8_t *el = malloc(m);
  ns_bigraph *g = NULL;
  ns__clayout L;
  int direct;
  ASSERT(er && en && el);
  for (size_t i = 0; i < m; i++) {
    er[i] = cp_rr[idx[i]], en[i] = cp_nn[idx[i]], el[i] = cp_lv[idx[i]];
    if (copy_lv && el[i] <= 2 && !((copy_lv[en[i]] >> el[i]) & 1)) el[i] = NS_EDGE_NO_LEVEL;
  }
  ASSERT_OK(ns_bigraph_build(CP_NR, CP_NN, m, er, en, &g));
  ASSERT_OK(ns__clayout_build(&L, g, el, note_lv, post, 2));
  direct = L.direct;
  ASSERT_OK(ns__collide_pairs(&L, 4, 1, NULL, out, upd));
  ASSERT(L.ev_r == NULL && L.ev_off == NULL); /* the count let the lists go */
  ns__clayout_free(&L);
  ns_bigraph_free(g);
  free(er), free(en), free(el);
  return direct;
}

static void shuffle(ns_rng *rng, size_t *idx, size_t m) {
  for (size_t i = m; i > 1; i--) {
    size_t j = ns_rng_below(rng, i), t = idx[i - 1];
    idx[i - 1] = idx[j], idx[j] = t;
  }
}

static void same_pairs(const ns__cpair_vec *a, uint64_t ua, const ns__cpair_vec *b, uint64_t ub) {
  ASSERT_EQ(a->n, b->n);
  ASSERT_EQ(ua, ub);
  ASSERT(memcmp(a->a, b->a, a->n * sizeof *a->a) == 0);
}

/* The run's note-ordered edges as the event lists give the very pairs, in
** the same order, that built lists give (shuffled edges), with and without
** the dissent pass's per-note level filter. */
TEST(collide_edge_lists_match_built_lists) {
  static size_t idx[CP_NR * CP_PER];
  uint8_t note_lv[CP_NN], seen[CP_NN];
  int64_t post[CP_NN];
  size_t m = 0;
  ns__cpair_vec a = {0}, b = {0}, c = {0}, d = {0};
  uint64_t ua, ub, uc, ud;
  ns_rng rng;
  ns_rng_seed(&rng, 41);
  /* two notes to a post (a rater's several notes of one post count once),
  ** two notes out of scope; each rater rates distinct notes, the first 20
  ** within a small block (dense pairs), a few ratings without a level */
  for (int n = 0; n < CP_NN; n++) post[n] = n < 2 ? -1 : n / 2;
  for (int n = 0; n < CP_NN; n++) note_lv[n] = (uint8_t)(1 + ns_rng_below(&rng, 7));
  for (int u = 0; u < CP_NR; u++) {
    memset(seen, 0, sizeof seen);
    for (int k = 0; k < CP_PER; k++) {
      int n = (int)ns_rng_below(&rng, u < 20 ? 30 : CP_NN);
      if (seen[n]) continue;
      seen[n] = 1;
      cp_rr[m] = u, cp_nn[m] = n;
      cp_lv[m] = ns_rng_below(&rng, 20) == 0 ? NS_EDGE_NO_LEVEL : (uint8_t)ns_rng_below(&rng, 3);
      m++;
    }
  }
  for (size_t i = 0; i < m; i++) idx[i] = i;

  /* every level: note order (the edges) vs shuffled (built lists) */
  qsort(idx, m, sizeof *idx, cmp_note_rater);
  ASSERT_EQ(count_pairs(idx, m, post, NULL, NULL, &a, &ua), 1);
  shuffle(&rng, idx, m);
  ASSERT_EQ(count_pairs(idx, m, post, NULL, NULL, &b, &ub), 0);
  ASSERT(a.n > 100);
  same_pairs(&a, ua, &b, ub);
  ns_vec_free(&a), ns_vec_free(&b);

  /* the per-note filter (built lists, either order) vs the filter applied
  ** to a copy of the levels (in note order: the edges) */
  ASSERT_EQ(count_pairs(idx, m, post, note_lv, NULL, &a, &ua), 0);
  qsort(idx, m, sizeof *idx, cmp_note_rater);
  ASSERT_EQ(count_pairs(idx, m, post, note_lv, NULL, &b, &ub), 0);
  ASSERT_EQ(count_pairs(idx, m, post, NULL, note_lv, &c, &uc), 1);
  shuffle(&rng, idx, m);
  ASSERT_EQ(count_pairs(idx, m, post, NULL, note_lv, &d, &ud), 0);
  ASSERT(a.n > 20);
  same_pairs(&a, ua, &b, ub);
  same_pairs(&a, ua, &c, uc);
  same_pairs(&a, ua, &d, ud);
  ns_vec_free(&a), ns_vec_free(&b), ns_vec_free(&c), ns_vec_free(&d);
}
