/*
** tests/test_graph.c -- graph/: trust propagation against a dense
** power-iteration reference, hand-checked toy graphs, the farming-ring mass
** bound, thread determinism, round-2 weights, co-rating groups and the
** one-rating-per-group filter.
*/
#include "harness.h"

#include "../base/dataset.h"
#include "../graph/graph.h"

/* ---- helpers ------------------------------------------------------------ */

typedef struct edges {
  NS_VEC(int32_t) r;
  NS_VEC(int32_t) n;
} edges;

static void add_edge(edges *e, int32_t r, int32_t n) {
  ASSERT_OK(ns_vec_push(&e->r, r));
  ASSERT_OK(ns_vec_push(&e->n, n));
}

static void edges_free(edges *e) {
  ns_vec_free(&e->r);
  ns_vec_free(&e->n);
}

/* Random bigraph: each (rater, note) pair present with probability pr,
** raters listed in a shuffled order so edge ids are not sorted. */
static void random_edges(edges *e, ns_rng *rng, size_t nr, size_t nn, double pr) {
  for (size_t u = 0; u < nr; u++)
    for (size_t n = 0; n < nn; n++)
      if (ns_rng_uniform(rng) < pr) add_edge(e, (int32_t)u, (int32_t)n);
  for (size_t i = e->r.n; i > 1; i--) {
    size_t j = ns_rng_below(rng, i);
    int32_t t = e->r.a[i - 1];
    e->r.a[i - 1] = e->r.a[j];
    e->r.a[j] = t;
    t = e->n.a[i - 1];
    e->n.a[i - 1] = e->n.a[j];
    e->n.a[j] = t;
  }
}

/* The naive reference: a dense nr x nr transition matrix of the two-hop
** walk, P[u][v] = sum_n A[u][n]/deg(u) * A[v][n]/deg(n), and plain power
** iteration x' = alpha P^T x + (1 - alpha + alpha D) s, for exactly iters
** steps.  Independent of the CSR code on purpose. */
static void dense_ppr(size_t nr, size_t nn, const edges *e, const double *seed, double alpha,
                      int iters, double *x) {
  double *A = calloc(nr * nn, sizeof *A), *P = calloc(nr * nr, sizeof *P);
  double *dr = calloc(nr, sizeof *dr), *dn = calloc(nn, sizeof *dn);
  double *s = calloc(nr, sizeof *s), *xn = calloc(nr, sizeof *xn), ss = 0;
  for (size_t k = 0; k < e->r.n; k++) {
    A[(size_t)e->r.a[k] * nn + (size_t)e->n.a[k]] = 1;
    dr[e->r.a[k]]++;
    dn[e->n.a[k]]++;
  }
  for (size_t u = 0; u < nr; u++)
    for (size_t v = 0; v < nr; v++)
      for (size_t n = 0; n < nn; n++)
        if (A[u * nn + n] != 0 && A[v * nn + n] != 0) P[u * nr + v] += 1.0 / dr[u] / dn[n];
  for (size_t u = 0; u < nr; u++) ss += seed[u];
  for (size_t u = 0; u < nr; u++) x[u] = s[u] = seed[u] / ss;
  for (int it = 0; it < iters; it++) {
    double D = 0;
    for (size_t u = 0; u < nr; u++)
      if (dr[u] == 0) D += x[u];
    for (size_t v = 0; v < nr; v++) {
      double acc = 0;
      for (size_t u = 0; u < nr; u++) acc += P[u * nr + v] * x[u];
      xn[v] = alpha * acc + (1 - alpha + alpha * D) * s[v];
    }
    memcpy(x, xn, nr * sizeof *x);
  }
  free(A);
  free(P);
  free(dr);
  free(dn);
  free(s);
  free(xn);
}

static double sum(const double *x, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += x[i];
  return s;
}

/* ---- propagation --------------------------------------------------------- */

TEST(graph_ppr_matches_dense_reference) {
  ns_rng rng;
  ns_rng_seed(&rng, 7);
  for (int trial = 0; trial < 20; trial++) {
    size_t nr = 5 + ns_rng_below(&rng, 40), nn = 3 + ns_rng_below(&rng, 30);
    edges e = {0};
    ns_bigraph *g;
    ns_trust_params p;
    ns_trust_result res;
    double *seed = calloc(nr, sizeof *seed), *xref = calloc(nr, sizeof *xref), md = 0;
    random_edges(&e, &rng, nr, nn, 0.05 + 0.3 * ns_rng_uniform(&rng));
    /* seeds: a few raters, one with weight 3, possibly degree 0 */
    for (int k = 0; k < 3; k++) seed[ns_rng_below(&rng, nr)] = k == 0 ? 3.0 : 1.0;
    ASSERT_OK(ns_bigraph_build(nr, nn, e.r.n, e.r.a, e.n.a, &g));
    ns_trust_params_default(&p);
    p.alpha = trial % 2 ? 0.85 : 0.6;
    p.tol = 0; /* run exactly max_iter iterations */
    p.max_iter = 1 + trial * 3;
    ASSERT_OK(ns_trust_propagate(g, seed, &p, NULL, &res));
    ASSERT_EQ(res.iterations, p.max_iter);
    dense_ppr(nr, nn, &e, seed, p.alpha, p.max_iter, xref);
    for (size_t u = 0; u < nr; u++) md = fmax(md, fabs(res.mass[u] - xref[u]));
    if (!(md < 1e-12)) NS__FAIL("trial %d: max abs diff %.3g", trial, md);
    /* mass conservation: total stays 1 whatever the dangling mass */
    ASSERT_NEAR(sum(res.mass, nr), 1.0, 1e-12);
    ns_trust_result_free(&res);
    ns_bigraph_free(g);
    edges_free(&e);
    free(seed);
    free(xref);
  }
}

/* Edges given in note order store no note list (note_edges NULL, the
** identity); any other order stores it.  Both read the same through
** ns_bigraph_note_edge(): each note's edge ids, ascending. */
TEST(graph_bigraph_note_order_identity) {
  int32_t er[] = {1, 0, 2, 0, 1}, en[] = {0, 0, 1, 2, 2};   /* note order */
  int32_t er2[] = {0, 1, 0, 2, 1}, en2[] = {2, 0, 0, 1, 2}; /* not */
  const uint32_t want2[] = {1, 2, 3, 0, 4};
  ns_bigraph *g, *g2;
  ASSERT_OK(ns_bigraph_build(3, 3, 5, er, en, &g));
  ASSERT(g->note_edges == NULL);
  ASSERT_EQ(g->note_off[1], 2);
  ASSERT_EQ(g->note_off[2], 3);
  ASSERT_EQ(g->note_off[3], 5);
  for (uint32_t k = 0; k < 5; k++) ASSERT_EQ(ns_bigraph_note_edge(g, k), k);
  ASSERT_EQ(ns_bigraph_note_degree(g, 2), 2);
  /* the rater side is stored either way: rater 0 has edges 1 and 3 */
  ASSERT_EQ(g->rater_off[1], 2);
  ASSERT_EQ(g->rater_edges[0], 1);
  ASSERT_EQ(g->rater_edges[1], 3);
  /* nor the note column: the notes come from note_off */
  ASSERT(g->edge_note == NULL);
  for (uint32_t e = 0; e < 5; e++) ASSERT_EQ(ns_bigraph_edge_note(g, e), en[e]);
  ASSERT_OK(ns_bigraph_build(3, 3, 5, er2, en2, &g2));
  ASSERT(g2->note_edges != NULL);
  ASSERT(g2->edge_note == en2);
  for (uint32_t k = 0; k < 5; k++) ASSERT_EQ(ns_bigraph_note_edge(g2, k), want2[k]);
  for (uint32_t e = 0; e < 5; e++) ASSERT_EQ(ns_bigraph_edge_note(g2, e), en2[e]);
  ASSERT_EQ(g2->note_off[1], 2);
  ASSERT_EQ(g2->note_off[2], 3);
  /* dropping the rater lists keeps the degrees and the note side; the
  ** rater-side walks then refuse the graph */
  ns_bigraph_drop_rater_edges(g);
  ASSERT(g->rater_edges == NULL);
  ASSERT_EQ(ns_bigraph_rater_degree(g, 0), 2);
  ASSERT_EQ(ns_bigraph_note_degree(g, 2), 2);
  {
    ns_trust_result res;
    ASSERT_ERR(ns_trust_propagate(g, (double[]){1, 0, 0}, NULL, NULL, &res), NS_EINVAL);
  }
  ns_bigraph_free(g);
  ns_bigraph_free(g2);
}

/* The note of an edge without a note column, over many sample blocks:
** notes of 0 to 700 edges (empty ones, runs of one-edge notes inside a
** block, notes longer than a block), read at random (the sampled index)
** and on a walk; the graph from the degrees is the same graph. */
TEST(graph_bigraph_edge_note_sampled) {
  enum { NN = 3000 };
  int32_t *deg = calloc(NN, sizeof *deg);
  int32_t *en, *er;
  size_t ne = 0, e = 0, cur = 0;
  ns_bigraph *g, *go;
  ns_rng rng;
  ns_rng_seed(&rng, 7);
  for (size_t n = 0; n < NN; n++) {
    double x = ns_rng_uniform(&rng);
    /* a third empty, a third 1-3 edges, the rest up to 700 */
    deg[n] = x < 0.33 ? 0 : x < 0.66 ? 1 + (int32_t)(ns_rng_uniform(&rng) * 3)
                                      : (int32_t)(ns_rng_uniform(&rng) * 700);
  }
  deg[0] = 0, deg[NN - 1] = 0;  /* empty notes at both ends */
  for (size_t n = 600; n < 900; n++) deg[n] = n % 2; /* many tiny ones */
  for (size_t n = 0; n < NN; n++) ne += (size_t)deg[n];
  en = malloc(ne * sizeof *en);
  er = malloc(ne * sizeof *er);
  for (size_t n = 0; n < NN; n++)
    for (int32_t c = 0; c < deg[n]; c++, e++) en[e] = (int32_t)n, er[e] = (int32_t)(e % 97);
  ASSERT_EQ(e, ne);
  ASSERT(ne > 4 << NS_BIGRAPH_SAMPLE_SHIFT);
  ASSERT_OK(ns_bigraph_build(97, NN, ne, er, en, &g));
  ASSERT(g->edge_note == NULL && g->note_edges == NULL && g->note_sample != NULL);
  ASSERT_OK(ns_bigraph_build_ordered(97, NN, ne, er, deg, &go));
  ASSERT(go->edge_note == NULL && go->note_edges == NULL);
  for (size_t n = 0; n <= NN; n++) ASSERT_EQ(go->note_off[n], g->note_off[n]);
  for (size_t i = 0; i < ne; i++) ASSERT_EQ(go->rater_edges[i], g->rater_edges[i]);
  for (size_t i = 0; i <= 97; i++) ASSERT_EQ(go->rater_off[i], g->rater_off[i]);
  for (size_t i = 0; i < ne; i++) {
    ASSERT_EQ(ns_bigraph_edge_note(g, i), en[i]);
    ASSERT_EQ(ns_bigraph_edge_note(go, i), en[i]);
    ASSERT_EQ(ns_bigraph_next_note(g, i, &cur), en[i]);
  }
  /* a walk may skip edges */
  cur = 0;
  for (size_t i = 3; i < ne; i += 301) ASSERT_EQ(ns_bigraph_next_note(g, i, &cur), en[i]);
  /* degrees that do not sum to the edges */
  ns_bigraph_free(go);
  deg[5]++;
  ASSERT_ERR(ns_bigraph_build_ordered(97, NN, ne, er, deg, &go), NS_EINVAL);
  ASSERT(go == NULL);
  ns_bigraph_free(g);
  free(deg), free(en), free(er);
}

/* Two raters sharing one note, rater 0 the seed: the walk matrix is all 1/2,
** so the fixed point is x0 = alpha/2 + (1 - alpha), x1 = alpha/2 exactly,
** reached after one step.  Rater 2 has its own note and no seed: 0. */
TEST(graph_ppr_two_rater_closed_form) {
  int32_t er[] = {0, 1, 2}, en[] = {0, 0, 1};
  double seed[] = {1, 0, 0};
  ns_bigraph *g;
  ns_trust_params p;
  ns_trust_result res;
  ASSERT_OK(ns_bigraph_build(3, 2, 3, er, en, &g));
  ns_trust_params_default(&p);
  ASSERT_OK(ns_trust_propagate(g, seed, &p, NULL, &res));
  ASSERT_NEAR(res.mass[0], 0.575, 1e-15);
  ASSERT_NEAR(res.mass[1], 0.425, 1e-15);
  ASSERT_EQ(res.mass[2], 0.0);
  ASSERT(res.iterations <= 3);
  /* per-edge t: 0.575, 0.425, 0 -> median over raters with edges (upper
  ** median of {0, 0.425, 0.575}) is 0.425; trust = min(1, t / 0.2125) */
  ASSERT_NEAR(res.ref, 0.425, 1e-15);
  ASSERT_NEAR(res.trust[0], 1.0, 0);
  ASSERT_NEAR(res.trust[1], 1.0, 0);
  ASSERT_EQ(res.trust[2], 0.0);
  ASSERT_NEAR(res.earned[0], 1.0, 0);
  ASSERT_NEAR(res.earned[1], 1.0, 1e-15);
  ASSERT_EQ(res.earned[2], 0.0);
  ns_trust_result_free(&res);
  ns_bigraph_free(g);
}

/* A star around seed 0 (notes A, B, C each shared with one leaf rater),
** a chain C - rater 4 - D - rater 5 going away from the seed, and a
** two-account ring (6, 7) on its own note E. */
TEST(graph_ppr_star_ring_ordering) {
  enum { A, B, C, D, E };
  int32_t er[] = {0, 0, 0, 1, 2, 3, 4, 4, 5, 6, 7};
  int32_t en[] = {A, B, C, A, B, C, C, D, D, E, E};
  double seed[8] = {1, 0, 0, 0, 0, 0, 0, 0};
  ns_bigraph *g;
  ns_trust_result res;
  ASSERT_OK(ns_bigraph_build(8, 5, NS_ARRAY_LEN(er), er, en, &g));
  ASSERT_OK(ns_trust_propagate(g, seed, NULL, NULL, &res));
  const double *t = res.per_edge;
  ASSERT(t[0] > t[1]);
  ASSERT_EQ(t[1], t[2]);   /* symmetric leaves: bit-identical */
  ASSERT(t[1] > t[3]);     /* C is shared by 3 raters, A and B by 2 */
  ASSERT(t[3] > t[5]);     /* 5 hangs off the chain, one more hop away */
  ASSERT(t[4] > t[5]);
  ASSERT_EQ(res.mass[6], 0.0);
  ASSERT_EQ(res.mass[7], 0.0);
  ASSERT_EQ(res.trust[6], 0.0);
  ASSERT_NEAR(sum(res.mass, 8), 1.0, 1e-14);
  ns_trust_result_free(&res);
  ns_bigraph_free(g);
}

/* Honest community: nh raters rating random honest notes, first ns seeds.
** Ring: K accounts with f "farming" agreement edges each on random honest
** notes, plus (optionally) ring-only notes every ring account agrees on. */
typedef struct farm_graph {
  edges e;
  size_t nr, nn, nh, nhn, K;
  double *seed;
} farm_graph;

static void farm_build(farm_graph *fg, uint64_t s, int f, int ring_notes) {
  ns_rng rng;
  ns_rng_seed(&rng, s);
  memset(fg, 0, sizeof *fg);
  fg->nh = 300;
  fg->nhn = 150;
  fg->K = 10;
  fg->nr = fg->nh + fg->K;
  fg->nn = fg->nhn + (size_t)ring_notes;
  fg->seed = calloc(fg->nr, sizeof *fg->seed);
  for (size_t u = 0; u < 30; u++) fg->seed[u] = 1;
  for (size_t u = 0; u < fg->nh; u++) {
    /* 12 distinct notes per honest rater */
    int seen[150] = {0};
    for (int k = 0; k < 12;) {
      size_t n = ns_rng_below(&rng, fg->nhn);
      if (seen[n]++) continue;
      add_edge(&fg->e, (int32_t)u, (int32_t)n);
      k++;
    }
  }
  for (size_t r = 0; r < fg->K; r++) {
    int seen[150] = {0};
    for (int k = 0; k < f;) {
      size_t n = ns_rng_below(&rng, fg->nhn);
      if (seen[n]++) continue;
      add_edge(&fg->e, (int32_t)(fg->nh + r), (int32_t)n);
      k++;
    }
    for (int k = 0; k < ring_notes; k++)
      add_edge(&fg->e, (int32_t)(fg->nh + r), (int32_t)(fg->nhn + (size_t)k));
  }
}

static void farm_free(farm_graph *fg) {
  edges_free(&fg->e);
  free(fg->seed);
}

/* Runs to convergence and returns the ring's total mass; *inflow receives
** F = sum over farming edges (ring rater, honest note) of y[n], the share of
** the note's mass each of its raters receives, and *rho the largest fraction
** of a ring account's edges that are ring-internal. */
static double farm_ring_mass(farm_graph *fg, double *inflow, double *rho, double *earned_sum,
                             double *alpha) {
  ns_bigraph *g;
  ns_trust_params p;
  ns_trust_result res;
  double M = 0, F = 0, R = 0, es = 0;
  ASSERT_OK(ns_bigraph_build(fg->nr, fg->nn, fg->e.r.n, fg->e.r.a, fg->e.n.a, &g));
  ns_trust_params_default(&p);
  p.max_iter = 1000;
  p.tol = 1e-15;
  ASSERT_OK(ns_trust_propagate(g, fg->seed, &p, NULL, &res));
  ASSERT(res.last_l1 < 1e-14);
  for (size_t r = fg->nh; r < fg->nr; r++) {
    double inside = 0;
    M += res.mass[r];
    es += res.earned[r];
    for (uint64_t k = g->rater_off[r]; k < g->rater_off[r + 1]; k++) {
      int32_t n = ns_bigraph_edge_note(g, g->rater_edges[k]);
      if ((size_t)n >= fg->nhn) {
        inside++;
        continue;
      }
      /* y[n] = (sum of x/deg over n's raters) / deg(n) */
      double yn = 0;
      for (uint64_t j = g->note_off[n]; j < g->note_off[n + 1]; j++) {
        int32_t v = g->edge_rater[ns_bigraph_note_edge(g, j)];
        yn += res.mass[v] / (double)ns_bigraph_rater_degree(g, (size_t)v);
      }
      F += yn / (double)ns_bigraph_note_degree(g, (size_t)n);
    }
    if (ns_bigraph_rater_degree(g, r)) R = fmax(R, inside / (double)ns_bigraph_rater_degree(g, r));
  }
  *inflow = F;
  *rho = R;
  *earned_sum = es;
  *alpha = p.alpha;
  ns_trust_result_free(&res);
  ns_bigraph_free(g);
  return M;
}

TEST(graph_farming_ring_bounded_by_honest_edges) {
  farm_graph fg;
  double M, F, rho, es, alpha, Mprev = 0;
  /* No farming, ring-only notes: an isolated ring gets exactly nothing. */
  farm_build(&fg, 11, 0, 5);
  M = farm_ring_mass(&fg, &F, &rho, &es, &alpha);
  ASSERT_EQ(M, 0.0);
  ASSERT_EQ(es, 0.0);
  farm_free(&fg);

  /* The attack: the ring's suppression ratings disagree with the
  ** provisional status, so they are not agreement edges; the ring's only
  ** edges are its farming.  Then its stationary mass is exactly alpha * F:
  ** what its honest edges bring in, no more. */
  for (int f = 2; f <= 32; f *= 2) {
    farm_build(&fg, 12, f, 0);
    M = farm_ring_mass(&fg, &F, &rho, &es, &alpha);
    ASSERT_NEAR(M, alpha * F, 1e-15);
    ASSERT(M > Mprev);              /* more honest work, more mass */
    ASSERT(es <= (double)(f * 10)); /* earned never exceeds edges made */
    Mprev = M;
    farm_free(&fg);
  }

  /* With ring-only decided notes the ring recirculates its own mass, but by
  ** at most 1 / (1 - alpha rho): alpha F <= M <= alpha F / (1 - alpha rho). */
  farm_build(&fg, 13, 4, 6);
  M = farm_ring_mass(&fg, &F, &rho, &es, &alpha);
  ASSERT_NEAR(rho, 0.6, 1e-12);
  ASSERT(M >= alpha * F - 1e-15);
  ASSERT(M <= alpha * F / (1 - alpha * rho) + 1e-15);
  ASSERT(M > 1.5 * alpha * F); /* the amplification is real: docs/trust.md */
  farm_free(&fg);
}

TEST(graph_ppr_thread_determinism) {
  ns_rng rng;
  edges e = {0};
  size_t nr = 30000, nn = 20000;
  ns_bigraph *g;
  ns_trust_result r1, r2;
  double *seed = calloc(nr, sizeof *seed);
  ns_pool *pool;
  ns_rng_seed(&rng, 99);
  for (size_t k = 0; k < 300000; k++)
    add_edge(&e, (int32_t)ns_rng_below(&rng, nr), (int32_t)ns_rng_below(&rng, nn));
  for (size_t u = 0; u < nr; u += 50) seed[u] = 1;
  ASSERT_OK(ns_bigraph_build(nr, nn, e.r.n, e.r.a, e.n.a, &g));
  ASSERT_OK(ns_trust_propagate(g, seed, NULL, NULL, &r1));
  ASSERT_OK(ns_pool_new(2, &pool));
  ASSERT_OK(ns_trust_propagate(g, seed, NULL, pool, &r2));
  ASSERT_EQ(r1.iterations, r2.iterations);
  ASSERT_EQ(r1.iterations, 16); /* ceil(log2(50001)) cap */
  ASSERT(memcmp(r1.mass, r2.mass, nr * sizeof *r1.mass) == 0);
  ASSERT(memcmp(r1.trust, r2.trust, nr * sizeof *r1.trust) == 0);
  ASSERT(memcmp(r1.earned, r2.earned, nr * sizeof *r1.earned) == 0);
  ASSERT_NEAR(sum(r1.mass, nr), 1.0, 1e-12);
  ns_pool_free(pool);
  ns_trust_result_free(&r1);
  ns_trust_result_free(&r2);
  ns_bigraph_free(g);
  edges_free(&e);
  free(seed);
}

TEST(graph_ppr_bad_args) {
  int32_t er[] = {0}, en[] = {0};
  double zero[] = {0, 0}, neg[] = {1, -1};
  ns_bigraph *g;
  ns_trust_result res;
  ns_trust_params p;
  ASSERT_OK(ns_bigraph_build(2, 1, 1, er, en, &g));
  ASSERT_ERR(ns_trust_propagate(g, zero, NULL, NULL, &res), NS_EINVAL);
  ASSERT(res.mass == NULL);
  ASSERT_ERR(ns_trust_propagate(g, neg, NULL, NULL, &res), NS_EINVAL);
  ns_trust_params_default(&p);
  p.alpha = 1.0;
  ASSERT_ERR(ns_trust_propagate(g, (double[]){1, 0}, &p, NULL, &res), NS_EINVAL);
  ns_trust_result_free(NULL);
  ns_bigraph_free(g);
}

/* ---- seeds ---------------------------------------------------------------- */

TEST(graph_default_seeds) {
  const int64_t day = 86400000LL, now = 1000 * day;
  /* rater: 0 1 2 3 4 5 6 7 */
  int32_t agree[] = {50, 40, 40, 12, 9, 30, 60, 0};
  int64_t first[] = {0, 100 * day, 10 * day, 0, 0, 990 * day, 0, INT64_MAX};
  int8_t enroll[] = {NS_ENROLL_EARNED_IN, NS_ENROLL_EARNED_IN, -1, NS_ENROLL_API_EARNED_IN,
                     NS_ENROLL_EARNED_IN, NS_ENROLL_EARNED_IN, NS_ENROLL_AT_RISK, NS_ENROLL_EARNED_IN};
  double w[8];
  size_t ns;
  ns_seed_params p;
  ns_seed_params_default(&p);
  p.top_frac = 0.5;
  /* eligible: 0 (50), 1 (40, younger), 2 (40, older; unknown enrollment ok),
  ** 3 (12, apiEarnedIn).  4 has 9 < 10, 5 too young, 6 atRisk, 7 nothing.
  ** Ranked: 0, 2, 1, 3 -> top ceil(0.5 * 4) = 2: raters 0 and 2. */
  ASSERT_OK(ns_trust_default_seeds(8, agree, first, enroll, now, &p, w, &ns));
  ASSERT_EQ(ns, 2);
  ASSERT_EQ(w[0], 1.0);
  ASSERT_EQ(w[2], 1.0);
  ASSERT_EQ(w[1] + w[3] + w[4] + w[5] + w[6] + w[7], 0.0);
  /* nobody old enough: fall back to agreement counts only */
  ASSERT_OK(ns_trust_default_seeds(8, agree, first, enroll, 0, &p, w, &ns));
  ASSERT_EQ(ns, 3); /* eligible 0,1,2,3,5,6 -> top 3: 6 (60), 0 (50), 2 (40, older) */
  ASSERT_EQ(w[6] + w[0] + w[2], 3.0);
  int32_t none[] = {0, 0};
  ASSERT_ERR(ns_trust_default_seeds(2, none, NULL, NULL, now, &p, w, &ns), NS_ENODATA);
}

/* ---- co-rating groups --------------------------------------------------------- */

typedef struct ratings {
  NS_VEC(int32_t) r;
  NS_VEC(int32_t) n;
  NS_VEC(int64_t) t;
} ratings;

static void add_rating(ratings *x, int32_t r, int32_t n, int64_t t) {
  ASSERT_OK(ns_vec_push(&x->r, r));
  ASSERT_OK(ns_vec_push(&x->n, n));
  ASSERT_OK(ns_vec_push(&x->t, t));
}

static void ratings_free(ratings *x) {
  ns_vec_free(&x->r);
  ns_vec_free(&x->n);
  ns_vec_free(&x->t);
}

TEST(graph_corate_finds_planted_group) {
  const int64_t MIN = 60000, HOUR = 60 * MIN, DAY = 24 * HOUR;
  const size_t nr = 200, nn = 400;
  const int32_t planted0 = 57, heavy = 3; /* planted: 57..64 */
  ns_rng rng;
  ratings x = {0};
  int64_t created[400];
  uint8_t rated[400];
  int32_t gid[200];
  ns_corate_stats st;
  ns_rng_seed(&rng, 5);
  for (size_t n = 0; n < nn; n++) created[n] = (int64_t)ns_rng_below(&rng, (uint64_t)(42 * DAY));
  for (size_t u = 0; u < nr; u++) {
    int k = (int32_t)u == heavy ? 300 : 40;
    int planted = (int32_t)u >= planted0 && (int32_t)u < planted0 + 8;
    memset(rated, 0, sizeof rated);
    if (planted) {
      /* notes 0..29, all within 2 minutes of the note's "go" time */
      for (int n = 0; n < 30; n++) {
        rated[n] = 1;
        add_rating(&x, (int32_t)u, n, created[n] + 3 * HOUR + (int64_t)ns_rng_below(&rng, 2 * MIN));
      }
      k = 10;
    }
    for (int j = 0; j < k;) {
      size_t n = ns_rng_below(&rng, nn);
      if (rated[n]) continue;
      rated[n] = 1;
      /* normal raters: any time in the note's first 48 h */
      add_rating(&x, (int32_t)u, (int32_t)n, created[n] + (int64_t)ns_rng_below(&rng, 2 * DAY));
      j++;
    }
  }
  ASSERT_OK(ns_groups_corate(x.r.n, x.r.a, x.n.a, x.t.a, NULL, nr, NULL, gid, &st));
  ASSERT_EQ(st.n_groups, 1);
  ASSERT_EQ(st.n_grouped, 8);
  ASSERT_EQ(st.suspect_pairs, 28);
  for (size_t u = 0; u < nr; u++) {
    int planted = (int32_t)u >= planted0 && (int32_t)u < planted0 + 8;
    ASSERT_EQ(gid[u], planted ? 1 : 0);
  }
  ASSERT_EQ(gid[heavy], 0);
  ASSERT(st.pair_events > 28 * 30);

  /* Same data, posts = note / 2: still exactly the planted group. */
  {
    int64_t *post = malloc(x.n.n * sizeof *post);
    for (size_t i = 0; i < x.n.n; i++) post[i] = x.n.a[i] / 2;
    ASSERT_OK(ns_groups_corate(x.r.n, x.r.a, x.n.a, x.t.a, post, nr, NULL, gid, &st));
    ASSERT_EQ(st.n_groups, 1);
    ASSERT_EQ(st.n_grouped, 8);
    ASSERT_EQ(gid[planted0 + 7], 1);
    free(post);
  }
  ratings_free(&x);
}

/* Window, per-post dedup and the T >= 10 rule on a tiny hand example. */
TEST(graph_corate_hand_counts) {
  const int64_t MIN = 60000;
  ratings x = {0};
  int32_t gid[4];
  ns_corate_stats st;
  ns_corate_params p;
  /* Raters 0 and 1 rate 10 notes each, 5 minutes apart on notes 0..4 and
  ** 30 minutes apart on notes 5..9.  co = 5, T = 10 each: minsim =
  ** 5 / 20 = 0.25 < 0.4.  Rater 2 rates notes 0..5 one minute after rater 0
  ** (T = 6 < 10: never paired).  Rater 3 rates 12 notes together with 0 on
  ** 0..9 (co = 10, minsim 10/20 = 0.5): suspect.  */
  for (int n = 0; n < 10; n++) {
    add_rating(&x, 0, n, n * 1000 * MIN);
    add_rating(&x, 1, n, n * 1000 * MIN + (n < 5 ? 5 : 30) * MIN);
    add_rating(&x, 3, n, n * 1000 * MIN + 19 * MIN);
    if (n < 6) add_rating(&x, 2, n, n * 1000 * MIN + MIN);
  }
  add_rating(&x, 3, 10, 20000 * MIN);
  add_rating(&x, 3, 11, 30000 * MIN);
  ns_corate_params_default(&p);
  ASSERT_OK(ns_groups_corate(x.r.n, x.r.a, x.n.a, x.t.a, NULL, 4, &p, gid, &st));
  /* pair events: per note 0..4: (0,1), (0,3), (1,3) = 3 each; notes 5..9:
  ** (0,3) and (1,3) (11 min apart) = 2 each -> 25 */
  ASSERT_EQ(st.pair_events, 25);
  ASSERT_EQ(st.distinct_pairs, 3);
  /* (1,3): co = 10, T_1 = 10 -> minsim 0.5, suspect too */
  ASSERT_EQ(st.suspect_pairs, 2);
  ASSERT_EQ(gid[0], 1);
  ASSERT_EQ(gid[1], 1);
  ASSERT_EQ(gid[3], 1);
  ASSERT_EQ(gid[2], 0);
  /* max_window = 1: each rating pairs only with the next one in time:
  ** notes 0..4 order 0,1,3 -> (0,1),(1,3); notes 5..9 order 0,3,1 ->
  ** (0,3),(1,3) [30 min: (3,1) is 11 min apart] -> 20 events. */
  p.max_window = 1;
  ASSERT_OK(ns_groups_corate(x.r.n, x.r.a, x.n.a, x.t.a, NULL, 4, &p, gid, &st));
  ASSERT_EQ(st.pair_events, 20);
  ratings_free(&x);
}

TEST(graph_group_dedup_hand_example) {
  /* group 1 = raters 1, 2, 3; group 2 = raters 5, 6; 0 and 4 independent.
  ** note 0 (author 4): 2@t50, 1@t10, 3@t10, 0@t5, 5@t7, 6@t7
  **   -> group 1 keeps rater 1 (t10, smaller rater than 3); group 2 keeps 5.
  ** note 1 (author 2, in group 1): 1@t1, 3@t2 dropped (own group's note);
  **   6@t3 and 5@t4: group 2 keeps 6; 0 kept. */
  int32_t r[] = {2, 1, 3, 0, 5, 6, 1, 3, 6, 5, 0};
  int32_t n[] = {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1};
  int64_t t[] = {50, 10, 10, 5, 7, 7, 1, 2, 3, 4, 9};
  int32_t author[] = {4, 2};
  int32_t gid[] = {0, 1, 1, 1, 0, 2, 2};
  uint8_t drop[11];
  uint8_t want[] = {1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 0};
  size_t nd;
  ASSERT_OK(ns_groups_dedup(11, r, n, t, 7, 2, author, gid, drop, &nd));
  for (int i = 0; i < 11; i++)
    if (drop[i] != want[i]) NS__FAIL("rating %d: drop %d, want %d", i, drop[i], want[i]);
  ASSERT_EQ(nd, 6);
  /* without authors: note 1 keeps rater 1 (t1) of group 1 */
  ASSERT_OK(ns_groups_dedup(11, r, n, t, 7, 2, NULL, gid, drop, &nd));
  ASSERT_EQ(drop[6], 0);
  ASSERT_EQ(drop[7], 1);
  ASSERT_EQ(nd, 5);
}

/* ---- co-rating: the fast walk against a plain reference ----------------------- */

/* A deliberately plain version of the documented semantics (graph.h): sort
** the ratings by (post, note, time, rater), enumerate each rating's next
** max_window qualifying neighbours inside the window, deduplicate
** (post, pair) triples by sorting, count, judge every pair, union-find. */
typedef struct ref_row { int64_t post, time; int32_t note, rater; } ref_row;
typedef struct ref_trip { int64_t post; int32_t a, c; } ref_trip;

static int ref_cmp_row(const void *x, const void *y) {
  const ref_row *a = x, *b = y;
  if (a->post != b->post) return a->post < b->post ? -1 : 1;
  if (a->note != b->note) return a->note < b->note ? -1 : 1;
  if (a->time != b->time) return a->time < b->time ? -1 : 1;
  return (a->rater > b->rater) - (a->rater < b->rater);
}
static int ref_cmp_trip(const void *x, const void *y) {
  const ref_trip *a = x, *b = y;
  if (a->a != b->a) return a->a < b->a ? -1 : 1;
  if (a->c != b->c) return a->c < b->c ? -1 : 1;
  return (a->post > b->post) - (a->post < b->post);
}
static int32_t ref_find(int32_t *par, int32_t a) {
  while (par[a] != a) a = par[a];
  return a;
}

static void ref_corate(size_t n, const int32_t *r, const int32_t *nt, const int64_t *t,
                       const int64_t *post, size_t nr, const ns_corate_params *p,
                       int32_t *gid, ns_corate_stats *st) {
  ref_row *rows = calloc(n + 1, sizeof *rows);
  ref_trip *tr = calloc(n * (size_t)p->max_window + 1, sizeof *tr);
  int32_t *T = calloc(nr, sizeof *T), *par = calloc(nr, sizeof *par), *sz = calloc(nr, sizeof *sz);
  size_t ntr = 0;
  double N = 0, sum_co = 0, rho = 0;
  memset(st, 0, sizeof *st);
  for (size_t i = 0; i < n; i++) {
    rows[i].post = post ? post[i] : nt[i];
    rows[i].time = t[i];
    rows[i].note = nt[i];
    rows[i].rater = r[i];
  }
  qsort(rows, n, sizeof *rows, ref_cmp_row);
  /* T: distinct posts per rater (quadratic scan, fine at test sizes) */
  for (size_t i = 0; i < n; i++) {
    int seen = 0;
    for (size_t j = 0; j < i && !seen; j++)
      seen = rows[j].post == rows[i].post && rows[j].rater == rows[i].rater;
    if (!seen) T[rows[i].rater]++, N += 1;
  }
  for (size_t i = 0; i < n; i++) {
    int m = 0;
    if (T[rows[i].rater] < p->min_posts) continue;
    for (size_t j = i + 1; j < n && rows[j].note == rows[i].note && rows[j].post == rows[i].post;
         j++) {
      if (T[rows[j].rater] < p->min_posts) continue;
      if (++m > p->max_window || rows[j].time - rows[i].time > p->window_ms) break;
      if (rows[j].rater == rows[i].rater) continue;
      st->pair_events++;
      tr[ntr].post = rows[i].post;
      tr[ntr].a = NS_MIN(rows[i].rater, rows[j].rater);
      tr[ntr].c = NS_MAX(rows[i].rater, rows[j].rater);
      ntr++;
    }
  }
  qsort(tr, ntr, sizeof *tr, ref_cmp_trip);
  for (size_t u = 0; u < nr; u++) par[u] = (int32_t)u;
  if (p->burst_mult > 0) {
    double s1 = 0, s2 = 0;
    for (size_t k = 0; k < ntr; k++)
      if (k == 0 || tr[k].a != tr[k - 1].a || tr[k].c != tr[k - 1].c ||
          tr[k].post != tr[k - 1].post)
        sum_co += 1;
    for (size_t u = 0; u < nr; u++)
      if (T[u] >= p->min_posts) s1 += T[u], s2 += (double)T[u] * T[u];
    rho = sum_co / ((s1 * s1 - s2) / 2);
  }
  for (size_t k = 0; k < ntr;) {
    size_t e = k;
    double co = 0;
    for (; e < ntr && tr[e].a == tr[k].a && tr[e].c == tr[k].c; e++)
      if (e == k || tr[e].post != tr[e - 1].post) co += 1;
    {
      double ta = T[tr[k].a], tb = T[tr[k].c];
      double pmi = log(co * N / ((ta + p->smooth) * (tb + p->smooth)));
      double npmi = co < N ? pmi / -log(co / N) : -1;
      double ms = co / (NS_MIN(ta, tb) + p->minsim_add);
      int burst = p->burst_mult > 0 && co >= p->burst_min && co >= p->burst_mult * rho * ta * tb;
      st->distinct_pairs++;
      st->co_ratings += (uint64_t)co;
      if (npmi >= p->npmi_min || ms >= p->minsim_min || burst) {
        int32_t x = ref_find(par, tr[k].a), y = ref_find(par, tr[k].c);
        st->suspect_pairs++;
        if (x != y) par[NS_MAX(x, y)] = NS_MIN(x, y);
      }
    }
    k = e;
  }
  for (size_t u = 0; u < nr; u++) sz[ref_find(par, (int32_t)u)]++;
  for (size_t u = 0; u < nr; u++) {
    int32_t root = ref_find(par, (int32_t)u);
    gid[u] = 0;
    if (sz[root] < 2) continue;
    gid[u] = (size_t)root == u ? (int32_t)++st->n_groups : gid[root];
    st->n_grouped++;
  }
  free(rows), free(tr), free(T), free(par), free(sz);
}

/* Random inputs with multi-note posts, time ties, a bursty planted group
** and two parameter sets (20 min / 64 and 48 h / 3 with the burst rule):
** ns_groups_corate_multi on 1 and 3 threads equals the reference exactly,
** group ids and every statistic. */
TEST(graph_corate_matches_plain_reference) {
  const int64_t MIN = 60000;
  for (uint64_t seed = 1; seed <= 4; seed++) {
    const size_t nr = 120, nn = 150;
    ns_rng rng;
    ratings x = {0};
    uint8_t rated[150];
    int64_t *post;
    int32_t g[2][120], gr[120];
    ns_corate_params p[2];
    const ns_corate_params *pp[2] = {&p[0], &p[1]};
    int32_t *gg[2] = {g[0], g[1]};
    ns_corate_stats st[2], sr;
    ns_rng_seed(&rng, seed);
    for (size_t u = 0; u < nr; u++) {
      int ring = u >= 30 && u < 36, k = (ring ? 30 : 5) + (int)ns_rng_below(&rng, 40);
      memset(rated, 0, sizeof rated);
      for (int j = 0; j < k;) {
        /* the ring rates two notes of each of the posts 0..14 together,
        ** so per-post dedup matters */
        size_t n = ring && j < 30 ? (size_t)(j + j / 2) : ns_rng_below(&rng, nn);
        if (rated[n]) continue;
        rated[n] = 1;
        /* coarse times (whole 5-minute steps) so ties happen */
        add_rating(&x, (int32_t)u, (int32_t)n,
                   ring && j < 30 ? (int64_t)n * 1000 * MIN + 5 * MIN * (int64_t)ns_rng_below(&rng, 2)
                                  : (int64_t)n * 1000 * MIN + 5 * MIN * (int64_t)ns_rng_below(&rng, 300));
        j++;
      }
    }
    post = malloc(x.n.n * sizeof *post);
    for (size_t i = 0; i < x.n.n; i++) post[i] = 7 - x.n.a[i] / 3;  /* 3 notes a post */
    ns_corate_params_default(&p[0]);
    p[0].burst_mult = 3;
    p[0].min_posts = 8;
    p[1] = p[0];
    p[1].window_ms = 48 * 60 * MIN;
    p[1].max_window = 3;
    p[1].npmi_min = 2.0;
    p[1].minsim_min = 1e300;
    for (int threads = 1; threads <= 3; threads += 2) {
      ns_pool *pool = NULL;
      ASSERT_OK(ns_pool_new(threads, &pool));
      ASSERT_OK(ns_groups_corate_multi(x.r.n, x.r.a, x.n.a, x.t.a, post, nr, 2, pp, pool, gg, st));
      ns_pool_free(pool);
      for (int s = 0; s < 2; s++) {
        ref_corate(x.r.n, x.r.a, x.n.a, x.t.a, post, nr, &p[s], gr, &sr);
        ASSERT_EQ(st[s].pair_events, sr.pair_events);
        ASSERT_EQ(st[s].distinct_pairs, sr.distinct_pairs);
        ASSERT_EQ(st[s].co_ratings, sr.co_ratings);
        ASSERT(sr.co_ratings < sr.pair_events);  /* dedup did something */
        ASSERT_EQ(st[s].suspect_pairs, sr.suspect_pairs);
        ASSERT_EQ(st[s].n_groups, sr.n_groups);
        ASSERT_EQ(st[s].n_grouped, sr.n_grouped);
        for (size_t u = 0; u < nr; u++) ASSERT_EQ(g[s][u], gr[u]);
        if (seed == 1 && s == 0) ASSERT(sr.n_grouped >= 6);  /* the planted six */
      }
    }
    /* A note's ratings on two different posts are rejected. */
    post[0] = 99;
    ASSERT_ERR(ns_groups_corate(x.r.n, x.r.a, x.n.a, x.t.a, post, nr, NULL, gr, NULL), NS_EINVAL);
    free(post);
    ratings_free(&x);
  }
}
