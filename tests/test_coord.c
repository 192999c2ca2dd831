/*
** tests/test_coord.c -- graph/coord.c: the coordination test's null model
** on hand-built worlds.  Honest raters of one community co-rate far above
** global chance and must not be flagged; a ring that spreads its ratings
** (the test has no time at all) and gives the same values to a few dozen
** targets must be, exactly; the Poisson tail and the 1/m weights are
** checked against hand-computed values.
*/
#include "harness.h"

#include <math.h>

#include "../graph/graph.h"

typedef struct cin {
  NS_VEC(int32_t) r;
  NS_VEC(int32_t) n;
  NS_VEC(float) v;
  size_t n_raters, n_notes;
  int64_t *post;
  int32_t *comm;              /* per rater */
  int32_t *note_comm;         /* per note */
  float *view;                /* [n_notes * C]: each community's view */
} cin;

static void cin_init(cin *q, size_t n_raters, size_t n_notes) {
  memset(q, 0, sizeof *q);
  q->n_raters = n_raters;
  q->n_notes = n_notes;
  q->post = calloc(n_notes, sizeof *q->post);
  q->comm = calloc(n_raters, sizeof *q->comm);
  q->note_comm = calloc(n_notes, sizeof *q->note_comm);
  ASSERT(q->post && q->comm && q->note_comm);
  for (size_t n = 0; n < n_notes; n++) q->post[n] = (int64_t)n;
}

static void cin_free(cin *q) {
  ns_vec_free(&q->r);
  ns_vec_free(&q->n);
  ns_vec_free(&q->v);
  free(q->post);
  free(q->comm);
  free(q->note_comm);
  free(q->view);
}

static void rate(cin *q, int32_t r, int32_t n, float v) {
  ASSERT_OK(ns_vec_push(&q->r, r));
  ASSERT_OK(ns_vec_push(&q->n, n));
  ASSERT_OK(ns_vec_push(&q->v, v));
}

/* Communities of honest raters: rater u is in community u % C, note n in
** n % C.  Every fourth rater is heavy (`heavy` ratings), the others rate
** `per` distinct notes; a share `loc` of them from the own community.  A
** rater gives the note's community-typical value with probability 0.8
** (each community has its own view of each note), so same-community raters
** co-rate, and agree, far above global chance -- the shape that grouped
** honest communities as rings before this test existed. */
static void communities(cin *q, ns_rng *rng, int C, size_t per, size_t heavy, double loc) {
  float *view = q->view = malloc(q->n_notes * (size_t)C * sizeof *view);
  uint8_t *seen = calloc(q->n_notes, 1);
  ASSERT(view && seen);
  for (size_t i = 0; i < q->n_notes * (size_t)C; i++) view[i] = (float)ns_rng_below(rng, 3) * 0.5f;
  for (size_t n = 0; n < q->n_notes; n++) q->note_comm[n] = (int32_t)(n % (size_t)C);
  for (size_t u = 0; u < q->n_raters; u++) {
    int32_t c = (int32_t)(u % (size_t)C);
    q->comm[u] = c;
    memset(seen, 0, q->n_notes);
    size_t want = u % 4 == 0 ? heavy : per;
    for (size_t k = 0; k < want;) {
      int32_t n;
      if (ns_rng_uniform(rng) < loc) /* a note of the own community */
        n = c + C * (int32_t)ns_rng_below(rng, q->n_notes / (size_t)C);
      else
        n = (int32_t)ns_rng_below(rng, q->n_notes);
      if (seen[n]) continue;
      seen[n] = 1;
      rate(q, (int32_t)u, n,
           ns_rng_uniform(rng) < 0.8 ? view[(size_t)n * (size_t)C + (size_t)c]
                                     : (float)ns_rng_below(rng, 3) * 0.5f);
      k++;
    }
  }
  free(seen);
}

static ns_coord_stats detect_(const cin *q, const ns_coord_params *p, int use_comm, ns_pool *pool,
                             int32_t *ids) {
  ns_bigraph *g = NULL;
  ns_coord_stats st;
  uint8_t *lv = malloc(q->v.n + 1);
  ASSERT(lv != NULL);
  for (size_t i = 0; i < q->v.n; i++) lv[i] = ns_edge_level(q->v.a[i]);
  ASSERT_OK(ns_bigraph_build(q->n_raters, q->n_notes, q->r.n, q->r.a, q->n.a, &g));
  ASSERT_OK(ns_coord_detect(g, lv, q->post, use_comm ? q->comm : NULL, p, pool, ids, &st));
  ns_bigraph_free(g);
  free(lv);
  return st;
}

static ns_coord_stats detect(const cin *q, const ns_coord_params *p, int use_comm, ns_pool *pool,
                             int32_t *ids) {
  ns_coord_stats st = detect_(q, p, use_comm, pool, ids);
  if (getenv("NS_TEST_DEBUG"))
    fprintf(stderr, "all: elig %zu cand %zu susp %zu maxlift %.2f; dissent: elig %zu cand %zu susp %zu maxlift %.2f; groups %zu/%zu\n",
            st.all.eligible_raters, st.all.candidate_pairs, st.all.suspect_pairs, st.all.max_lift_unflagged,
            st.dissent.eligible_raters, st.dissent.candidate_pairs, st.dissent.suspect_pairs, st.dissent.max_lift_unflagged,
            st.n_groups, st.n_grouped);
  return st;
}

static size_t flagged(const int32_t *ids, size_t lo, size_t hi) {
  size_t c = 0;
  for (size_t u = lo; u < hi; u++) c += ids[u] > 0;
  return c;
}

TEST(coord_poisson_tail) {
  /* P(X >= 3; 1) = 1 - e^-1 (1 + 1 + 1/2) */
  ASSERT_NEAR(ns_poisson_log_sf(3, 1.0), log(1.0 - exp(-1.0) * 2.5), 1e-12);
  /* P(X >= 1; 0.5) = 1 - e^-0.5 */
  ASSERT_NEAR(ns_poisson_log_sf(1, 0.5), log(1.0 - exp(-0.5)), 1e-12);
  /* far tail: P(X >= 30; 0.5) ~ e^-0.5 0.5^30 / 30! (1 + 0.5/31 + ...) */
  ASSERT_NEAR(ns_poisson_log_sf(30, 0.5),
              -0.5 + 30 * log(0.5) - lgamma(31.0) + log(1 + 0.5 / 31 + 0.25 / (31.0 * 32) + 0.125 / (31.0 * 32 * 33)), 1e-7);
  ASSERT_EQ(ns_poisson_log_sf(0, 3.0), 0.0);
  ASSERT_EQ(ns_poisson_log_sf(4, 4.0), 0.0); /* mean at or above the count: no evidence */
  ASSERT(isinf(ns_poisson_log_sf(2, 0.0)));
}

TEST(coord_same_community_honest_not_flagged) {
  /* 8 communities x 40 raters, 2000 notes; raters rate 25 notes, heavy
  ** ones 120, 90 % of them in the own community (250 notes), agreeing with
  ** its view 80 % of the time.  Two heavy raters of a community share ~45
  ** notes and ~30 of them with the same value, ~8x what two random heavy
  ** raters share: the global null (community = NULL) flags them, the
  ** community null flags no one. */
  cin q;
  ns_rng rng;
  int32_t ids[320];
  ns_coord_params p;
  ns_coord_stats st;
  ns_rng_seed(&rng, 41);
  cin_init(&q, 320, 2000);
  communities(&q, &rng, 8, 25, 120, 0.9);
  ns_coord_params_default(&p);
  st = detect(&q, &p, 0, NULL, ids);
  ASSERT(st.n_grouped >= 60); /* global chance: the heavy raters */
  st = detect(&q, &p, 1, NULL, ids);
  ASSERT(st.all.candidate_pairs > 300);
  ASSERT_EQ(st.all.suspect_pairs, 0);
  ASSERT_EQ(st.n_groups, 0);
  ASSERT_EQ(flagged(ids, 0, 320), 0);
  cin_free(&q);
}

/* The communities world plus a ring of k accounts (raters base..base+k-1)
** inside community `c`: each gives value 0 to `targets` notes of its
** community and value 1 to as many more, and farms `farm` ordinary
** ratings like an honest member.  No timestamps exist here: the ring is
** found by what it rates, not when. */
static void ring_world(cin *q, ns_rng *rng, int k, int targets, size_t farm, int c) {
  const int C = 8, honest_n = 320;
  cin_init(q, (size_t)honest_n + (size_t)k, 2000);
  q->n_raters = honest_n; /* communities() fills the honest ones */
  communities(q, rng, C, 25, 120, 0.9);
  q->n_raters = (size_t)honest_n + (size_t)k;
  for (int i = 0; i < k; i++) {
    int32_t u = honest_n + i;
    uint8_t seen[2000] = {0};
    q->comm[u] = c;
    for (int t = 0; t < 2 * targets; t++) {
      int32_t n = c + C * t; /* notes of community c */
      seen[n] = 1;
      rate(q, u, n, t < targets ? 0.0f : 1.0f);
    }
    for (size_t f = 0; f < farm;) {
      int32_t n = c + C * (int32_t)ns_rng_below(rng, 250);
      if (seen[n]) continue;
      seen[n] = 1;
      rate(q, u, n, (float)ns_rng_below(rng, 3) * 0.5f);
      f++;
    }
  }
}

TEST(coord_ring_found_exactly) {
  /* A ring of 12 (a quarter of its community of 40 + 12) on 10 + 10
  ** targets, farming 15 ordinary ratings each: every account in one group,
  ** no honest rater flagged. */
  cin q;
  ns_rng rng;
  int32_t ids[332];
  ns_coord_params p;
  ns_coord_stats st;
  ns_rng_seed(&rng, 43);
  ring_world(&q, &rng, 12, 10, 15, 3);
  ns_coord_params_default(&p);
  st = detect(&q, &p, 1, NULL, ids);
  ASSERT_EQ(st.n_groups, 1);
  ASSERT_EQ(st.n_grouped, 12);
  ASSERT_EQ(flagged(ids, 0, 320), 0);
  for (int i = 320; i < 332; i++) ASSERT_EQ(ids[i], 1);
  cin_free(&q);
}

TEST(coord_ring_that_dominates_its_community) {
  /* 60 accounts in a community of 40 honest raters: the ring is most of
  ** its community's ratings on its targets.  Without the popularity
  ** weights the null would learn "this community loves these notes"; with
  ** them the ring counts about once and is still found whole.  Few targets
  ** (6 + 6) suffice. */
  cin q;
  ns_rng rng;
  int32_t ids[380];
  ns_coord_params p;
  ns_coord_stats st;
  ns_rng_seed(&rng, 47);
  ring_world(&q, &rng, 60, 6, 20, 5);
  ns_coord_params_default(&p);
  st = detect(&q, &p, 1, NULL, ids);
  ASSERT_EQ(st.n_groups, 1);
  ASSERT_EQ(flagged(ids, 320, 380), 60);
  ASSERT_EQ(flagged(ids, 0, 320), 0);
  cin_free(&q);
}

TEST(coord_dissent_pass_finds_a_ring_at_chance_corating) {
  /* Raters rate 10 notes, heavy ones 60.  30 accounts in community 6 rate
  ** like its heavy raters (60 notes: 40 ordinary ones, agreeing like an
  ** honest member, and 20 targets), so they share posts near the chance
  ** level of heavy raters there; the 20
  ** targets are notes the community views as HELPFUL, and they all rate
  ** them NOT_HELPFUL.  The all-values pass sees
  ** nothing above chance; the dissent pass finds the ring, and no one
  ** else.  Turned off (max_dissent_share 0), the ring goes unseen. */
  cin q;
  ns_rng rng;
  int32_t ids[350];
  ns_coord_params p;
  ns_coord_stats st;
  const int C = 8, c = 6;
  ns_rng_seed(&rng, 59);
  cin_init(&q, 350, 1000);
  q.n_raters = 320;
  communities(&q, &rng, C, 10, 60, 0.9);
  q.n_raters = 350;
  for (int32_t u = 320; u < 350; u++) {
    uint8_t seen[1000] = {0};
    q.comm[u] = c;
    /* targets: the first 20 notes of the community that it views as
    ** HELPFUL, pushed down */
    for (int32_t j = 0, t = 0; t < 20; j++) {
      int32_t n = c + C * j;
      if (q.view[(size_t)n * (size_t)C + (size_t)c] != 1.0f) continue;
      seen[n] = 1;
      rate(&q, u, n, 0.0f);
      t++;
    }
    for (int f = 0; f < 40;) { /* farming: agree like an honest member */
      int32_t n = c + C * (int32_t)ns_rng_below(&rng, 125);
      if (seen[n]) continue;
      seen[n] = 1;
      rate(&q, u, n, ns_rng_uniform(&rng) < 0.8 ? q.view[(size_t)n * (size_t)C + (size_t)c]
                                                 : (float)ns_rng_below(&rng, 3) * 0.5f);
      f++;
    }
  }
  ns_coord_params_default(&p);
  st = detect(&q, &p, 1, NULL, ids);
  ASSERT_EQ(st.all.suspect_pairs, 0);
  ASSERT(st.dissent.suspect_pairs > 0);
  ASSERT_EQ(flagged(ids, 320, 350), 30);
  ASSERT_EQ(flagged(ids, 0, 320), 0);
  ASSERT_EQ(st.n_groups, 1);
  p.max_dissent_share = 0;
  st = detect(&q, &p, 1, NULL, ids);
  ASSERT_EQ(flagged(ids, 0, 350), 0);
  cin_free(&q);
}

TEST(coord_threads_and_weights) {
  /* Same groups on 1 and 3 threads; then the 1/m weights by hand. */
  cin q;
  ns_rng rng;
  int32_t a[332], b[332];
  ns_pool *pool = NULL;
  ns_coord_params p;
  ns_rng_seed(&rng, 53);
  ring_world(&q, &rng, 12, 10, 15, 2);
  ns_coord_params_default(&p);
  p.neighbours = 4; /* exercise the bounded neighbourhood too */
  ASSERT_OK(ns_pool_new(3, &pool));
  detect(&q, &p, 1, NULL, a);
  detect(&q, &p, 1, pool, b);
  ns_pool_free(pool);
  ASSERT(memcmp(a, b, sizeof a) == 0);
  ASSERT_EQ(flagged(a, 320, 332), 12);
  cin_free(&q);

  {
    /* raters 0,1,2 in group 1 and rater 3 in none: note 0 rated by 0,1,2,3;
    ** note 1 by 0 and 3; note 2 by 1 and 2. */
    int32_t er[] = {0, 1, 2, 3, 0, 3, 1, 2};
    int32_t en[] = {0, 0, 0, 0, 1, 1, 2, 2};
    int32_t gid[] = {1, 1, 1, 0};
    float w[8];
    ns_bigraph *g = NULL;
    ASSERT_OK(ns_bigraph_build(4, 3, 8, er, en, &g));
    uint8_t v[8] = {0, 0, 0, 0, 2, 2, 0, 0}; /* levels: values 0 and 1 */
    ASSERT_OK(ns_coord_weights(g, v, gid, 1, 2, 0.0, w)); /* with the others: capped at 1 */
    ASSERT_NEAR(w[0], 1.0 / 3, 1e-7);
    ASSERT_NEAR(w[1], 1.0 / 3, 1e-7);
    ASSERT_NEAR(w[2], 1.0 / 3, 1e-7);
    ASSERT_EQ(w[3], 1.0f);
    ASSERT_EQ(w[4], 1.0f); /* alone on note 1: full weight */
    ASSERT_EQ(w[5], 1.0f);
    ASSERT_EQ(w[6], 0.5f);
    ASSERT_EQ(w[7], 0.5f);
    /* against vs with the others: group 1 = raters 0..3 on note 0 with
    ** raters 4..9; max_share 0.5 */
    {
      int32_t er2[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
      int32_t en2[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
      int32_t gid2[] = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
      uint8_t v_against[] = {0, 0, 0, 0, 2, 2, 2, 2, 2, 2};  /* values 0 and 1 */
      uint8_t v_with[] = {2, 2, 2, 2, 2, 2, 2, 1, 2, 2};     /* one 0.5 */
      float w2[10];
      ns_bigraph *g2 = NULL;
      ASSERT_OK(ns_bigraph_build(10, 1, 10, er2, en2, &g2));
      ASSERT_OK(ns_coord_weights(g2, v_against, gid2, 1, 2, 0.5, w2));
      for (int i = 0; i < 4; i++) ASSERT_EQ(w2[i], 0.0f); /* against everyone: no say */
      for (int i = 4; i < 10; i++) ASSERT_EQ(w2[i], 1.0f);
      ASSERT_OK(ns_coord_weights(g2, v_with, gid2, 1, 2, 0.5, w2));
      for (int i = 0; i < 4; i++) ASSERT_NEAR(w2[i], 0.75, 1e-7); /* 0.5 x 6 others = 3 */
      ASSERT_OK(ns_coord_weights(g2, v_against, gid2, 1, 5, 0.5, w2));
      for (int i = 0; i < 10; i++) ASSERT_EQ(w2[i], 1.0f); /* a group of 4 < min_size 5 */
      ns_bigraph_free(g2);
    }
    ns_bigraph_free(g);
  }
}

/* The one-byte levels the detectors take: the three helpfulness values map
** to 0, 1, 2 and anything else to NS_EDGE_NO_LEVEL (no event). */
TEST(coord_edge_levels) {
  ASSERT_EQ(ns_edge_level(0.0f), 0);
  ASSERT_EQ(ns_edge_level(0.5f), 1);
  ASSERT_EQ(ns_edge_level(1.0f), 2);
  ASSERT_EQ(ns_edge_level(-1.0f), NS_EDGE_NO_LEVEL);
  ASSERT_EQ(ns_edge_level(0.25f), NS_EDGE_NO_LEVEL);
  ASSERT_EQ(ns_edge_level(NAN), NS_EDGE_NO_LEVEL);
}
