/*
** graph/graph.h -- the bipartite rater-note graph, trust propagation and
** coordinated-group detection.
**
** The bigraph is CSR in both directions over dense indexes: raters
** 0..n_raters-1 and notes 0..n_notes-1, one edge per rating.  Edge e is the
** e-th rating given to ns_bigraph_build(); the rater and note lists hold
** edge ids so callers keep their per-rating columns (values, weights) in
** input order.
** Built once per fit subset by engine/ and read by factorization/ and the
** propagation below.
**
** Who calls it: engine/ (pipeline), factorization/ (read-only).
** Threads: a built graph is immutable and may be read from any thread.
*/
#ifndef NS_GRAPH_H
#define NS_GRAPH_H

#include <stdint.h>

#include "../base/base.h"

typedef struct ns_bigraph {
  size_t n_raters, n_notes, n_edges;
  const int32_t *edge_rater;   /* per edge: rater index (borrowed from caller) */
  const int32_t *edge_note;    /* per edge: note index (borrowed from caller),
                               ** or NULL when the edges came in note order:
                               ** the note of edge e is then the n with
                               ** note_off[n] <= e < note_off[n+1].  Read it
                               ** with ns_bigraph_edge_note() (random access)
                               ** or ns_bigraph_next_note() (a walk) */
  /* rater -> edges: edges of rater u are rater_edges[rater_off[u] .. rater_off[u+1]),
  ** in increasing edge id */
  uint64_t *rater_off;         /* n_raters + 1 */
  uint32_t *rater_edges;       /* n_edges */
  /* note -> edges, likewise; read the list through ns_bigraph_note_edge() */
  uint64_t *note_off;          /* n_notes + 1 */
  uint32_t *note_edges;        /* n_edges; NULL = the identity: the edges
                               ** came in note order (as a scoring run's
                               ** do), so note n's edges are note_off[n] ..
                               ** note_off[n+1] themselves */
  /* note_edges NULL: the note of every 2^NS_BIGRAPH_SAMPLE_SHIFT-th edge
  ** (then one more entry: the last edge's note), the start of
  ** ns_bigraph_edge_note()'s search -- 4 bytes per 256 edges where a note
  ** column takes 4 per edge (docs/architecture.md, "Memory of a scoring
  ** run") */
  uint32_t *note_sample;
} ns_bigraph;

#define NS_BIGRAPH_SAMPLE_SHIFT 8

/* Builds the CSR indexes by counting sort (O(n_edges), stable).  edge_rater
** and edge_note are borrowed: they must outlive the graph.  Every index must
** be in range (NS_EINVAL otherwise).  n_edges < 2^32.  When edge_note is
** non-decreasing neither it nor the note list is kept (edge_note and
** note_edges NULL: 8 bytes per edge saved, the caller may free its note
** column); the notes and lists read the same through ns_bigraph_edge_note()
** and ns_bigraph_note_edge(). */
int ns_bigraph_build(size_t n_raters, size_t n_notes, size_t n_edges,
                     const int32_t *edge_rater, const int32_t *edge_note,
                     ns_bigraph **out);
/* The same graph for edges in note order given by their notes' degrees
** instead of a note column: note n's edges are the note_degree[n] edges
** after those of notes 0..n-1 (the degrees sum to n_edges, NS_EINVAL
** otherwise).  edge_note is NULL. */
int ns_bigraph_build_ordered(size_t n_raters, size_t n_notes, size_t n_edges,
                             const int32_t *edge_rater, const int32_t *note_degree,
                             ns_bigraph **out);
void ns_bigraph_free(ns_bigraph *g);
/* Frees the rater -> edge lists (rater_edges NULL after; rater_off stays,
** so degrees still read) for a caller done with every rater-side walk: a
** scoring run after Core's guardrails, 4 bytes per edge (docs/
** architecture.md, "Memory of a scoring run").  The functions that walk
** the lists (ns_trust_propagate, ns_coord_detect, ns_qclique_detect,
** ns_mf_fit) return NS_EINVAL on such a graph. */
void ns_bigraph_drop_rater_edges(ns_bigraph *g);

static inline uint64_t ns_bigraph_rater_degree(const ns_bigraph *g, size_t u) {
  return g->rater_off[u + 1] - g->rater_off[u];
}
static inline uint64_t ns_bigraph_note_degree(const ns_bigraph *g, size_t n) {
  return g->note_off[n + 1] - g->note_off[n];
}
/* The k-th edge id of the note lists (note_off[n] <= k < note_off[n+1]
** lists note n's edges, in increasing id). */
static inline uint32_t ns_bigraph_note_edge(const ns_bigraph *g, uint64_t k) {
  return g->note_edges ? g->note_edges[k] : (uint32_t)k;
}
/* The note of edge e (e < n_edges), in O(1) for the usual degrees: the
** largest note n with note_off[n] <= e (empty notes before it share its
** offset, those after it have a larger one), searched between the sampled
** notes of e's block and of the next -- a bisection without branches on
** the data (a conditional move per step), since the scans over a
** rater's edges ask in no predictable order. */
static inline int32_t ns_bigraph_edge_note(const ns_bigraph *g, size_t e) {
  size_t b = e >> NS_BIGRAPH_SAMPLE_SHIFT;
  const uint64_t *base;
  uint32_t n;
  if (g->edge_note) return g->edge_note[e];
  base = g->note_off + g->note_sample[b];
  n = g->note_sample[b + 1] - g->note_sample[b] + 1;  /* candidates */
  while (n > 1) {
    uint32_t half = n / 2;
    base = base[half] <= e ? base + half : base;
    n -= half;
  }
  return (int32_t)(base - g->note_off);
}
/* The note of edge e on a walk over the edges in increasing id: *cur holds
** the walk's place (0 before the first call) and only moves forward, so a
** whole walk costs O(n_edges + n_notes). */
static inline int32_t ns_bigraph_next_note(const ns_bigraph *g, size_t e, size_t *cur) {
  if (g->edge_note) return g->edge_note[e];
  while (g->note_off[*cur + 1] <= e) ++*cur;
  return (int32_t)*cur;
}

/* ========================================================================
** Trust propagation (graph/trust.c).  design.md §4, docs/trust.md.
**
** Input is an ns_bigraph whose edges are AGREEMENT edges only: rater u's
** rating of note n was valid (within 48 h of the note, before its first
** non-NMR status) and agreed with n's provisional status.  engine/ builds
** that edge list; nothing here knows about ratings or statuses.
**
** The walk is two-hop, rater -> note -> rater, uniform on both sides
** (1/deg(u), then 1/deg(n)).  Personalized PageRank with damping alpha
** teleports to the seed distribution; mass sitting on raters without edges
** ("dangling") is teleported too, so total mass stays exactly 1.
**
**   z[u]  = x[u] / deg(u)                      (0 if deg(u) = 0)
**   y[n]  = (sum_{u in N(n)} z[u]) / deg(n)
**   x'[v] = alpha * sum_{n in N(v)} y[n] + (1 - alpha + alpha * D) * s[v]
**           with D = sum_{deg(u)=0} x[u],  x_0 = s.
**
** Sums run over CSR order (edge id order); parallel loops write disjoint
** elements and global sums add per-chunk partials in chunk order, so the
** result is bit-identical for any thread count.
*/

typedef struct ns_trust_params {
  double alpha;      /* damping, 0.85 */
  double tol;        /* stop when sum |x' - x| < tol; 1e-10 */
  int max_iter;      /* iteration cap; 0 = automatic: ceil(log2(n_raters +
                     ** n_notes + 1)), at least 8 (SybilRank-style early
                     ** termination, see docs/trust.md) */
  double ref_frac;   /* trust = min(1, t / (ref_frac * median t)), 0.5 */
} ns_trust_params;

void ns_trust_params_default(ns_trust_params *p);

/* Output of ns_trust_propagate().  All arrays have n_raters entries and are
** owned by the result (free with ns_trust_result_free). */
typedef struct ns_trust_result {
  size_t n_raters;
  double *mass;      /* stationary (or truncated) PPR mass; sums to 1 */
  double *per_edge;  /* mass / degree: raw trust t (0 for degree 0) */
  double *trust;     /* min(1, t / (ref_frac * ref)) in [0, 1] */
  double *earned;    /* deg(u) * min(1, t / ref): agreement edges of typical
                     ** quality "earned"; low-quality edges count partly */
  double ref;        /* median of t over raters with degree >= 1 */
  int iterations;    /* iterations run */
  uint64_t edge_visits; /* 2 * n_edges per iteration (both gathers) */
  double last_l1;    /* L1 change of the last iteration */
} ns_trust_result;

/* Runs the propagation on agreement graph g.  seed_w[u] >= 0 are seed
** weights (normalized internally to sum 1); at least one must be > 0
** (NS_EINVAL otherwise, also for NaN/negative weights or alpha outside
** [0, 1)).  pool may be NULL (single-threaded).  On success *out owns new
** arrays; on failure *out is zeroed.  Returns 0, NS_EINVAL or NS_ENOMEM. */
int ns_trust_propagate(const ns_bigraph *g, const double *seed_w,
                       const ns_trust_params *p, ns_pool *pool,
                       ns_trust_result *out);
void ns_trust_result_free(ns_trust_result *r);

/* Default seed rule (docs/trust.md).  Per rater, from arrays the pipeline
** already has:
**   n_agree[u]     valid agreeing ratings (= degree in the agreement graph)
**   first_ms[u]    time of the rater's first rating (INT64_MAX if none)
**   enroll[u]      ns_enroll state, -1 unknown; the whole array may be NULL
** A rater is eligible when n_agree >= min_agree, first_ms <= now - min_age_ms
** and (enroll unknown or NULL, or state earnedIn / apiEarnedIn).  Eligible
** raters are ranked by (n_agree desc, first_ms asc, index asc) and the top
** ceil(top_frac * eligible) become seeds with weight 1.  If nobody is
** eligible, the age and enrollment conditions are dropped, then min_agree is
** lowered to 1.  seed_w (n_raters) receives 1 / 0; *n_seeds the count.
** Returns 0, NS_EINVAL, NS_ENOMEM or NS_ENODATA (no rater has an agreeing
** rating at all). */
typedef struct ns_seed_params {
  int min_agree;       /* 10 */
  int64_t min_age_ms;  /* 90 days */
  double top_frac;     /* 0.25 */
} ns_seed_params;

void ns_seed_params_default(ns_seed_params *p);
int ns_trust_default_seeds(size_t n_raters, const int32_t *n_agree,
                           const int64_t *first_ms, const int8_t *enroll,
                           int64_t now_ms, const ns_seed_params *p,
                           double *seed_w, size_t *n_seeds);


/* ========================================================================
** Coordinated groups (graph/groups.c).  reference §7.1, docs/trust.md.
**
** Co-rating: per post (or per note when post is NULL), each note's ratings
** sorted by (time, rater); two raters co-rate when their ratings of a note of the post
** are <= window_ms apart.  Each pair counts at most once per post.  Only the
** next max_window ratings after each rating are paired (bounds the work on
** bursty popular notes: O(R * max_window) pair events, R = ratings).
** T_a = distinct posts rated by a; N = sum of T over all raters.  A pair with
** both T >= min_posts is suspect when
**   NPMI = ln(co N / ((T_a+500)(T_b+500))) / -ln(co / N) >= npmi_min   or
**   co / (min(T_a, T_b) + 10) >= minsim_min.
** Suspect pairs are merged by union-find; components of >= 2 raters get ids
** 1, 2, ... in order of their smallest rater index.
*/

typedef struct ns_corate_params {
  int64_t window_ms;   /* 20 min */
  int max_window;      /* 64 following ratings per rating */
  int min_posts;       /* 10 */
  double npmi_min;     /* 0.55 */
  double minsim_min;   /* 0.4 */
  double smooth;       /* 500 (PMI smoothing) */
  double minsim_add;   /* 10 */
  /* Burst criterion (notescore, scale-aware; docs/trust.md §6): with
  ** rho = (sum of all pair counts) / (sum over qualifying pairs of T_a T_b),
  ** the chance expectation of a pair is e = rho T_a T_b; the pair is also
  ** suspect when co >= burst_min and co >= burst_mult * e.  burst_mult = 0
  ** turns it off. */
  double burst_mult;   /* 0 (off) in the reference-like default */
  double burst_min;    /* 10 */
} ns_corate_params;

typedef struct ns_corate_stats {
  uint64_t pair_events;   /* pairs inside windows, before per-post dedup */
  uint64_t distinct_pairs;/* distinct (pair) with a windowed co-rating */
  uint64_t co_ratings;    /* sum of pair counts (after per-post dedup) */
  uint64_t suspect_pairs;
  size_t n_groups;
  size_t n_grouped;       /* raters with group_id > 0 */
} ns_corate_stats;

void ns_corate_params_default(ns_corate_params *p);

/* Finds co-rating groups.  Ratings i < n_ratings: rater[i] in [0, n_raters),
** note[i] >= 0, time_ms[i]; post[i] (any int64 id, NULL = note is the post).
** A (note, rater) pair should appear once.  group_id (n_raters) receives the
** group of each rater, 0 = none.  stats may be NULL.  Returns 0, NS_EINVAL
** or NS_ENOMEM. */
int ns_groups_corate(size_t n_ratings, const int32_t *rater, const int32_t *note,
                     const int64_t *time_ms, const int64_t *post, size_t n_raters,
                     const ns_corate_params *p, int32_t *group_id,
                     ns_corate_stats *stats);

/* Runs n_passes (1..8) detections over the same ratings in one walk: pass
** s uses params[s] and writes group_ids[s] (n_raters each); stats, if not
** NULL, has n_passes entries.  All passes must share min_posts.  post, when
** given, must be the same for every rating of a note (NS_EINVAL otherwise).
** pool may be NULL.  Results equal n_passes separate ns_groups_corate()
** calls and do not depend on the thread count.  Memory is O(R + raters).
** Returns 0, NS_EINVAL or NS_ENOMEM (all group ids 0 on failure). */
int ns_groups_corate_multi(size_t n_ratings, const int32_t *rater, const int32_t *note,
                           const int64_t *time_ms, const int64_t *post, size_t n_raters,
                           size_t n_passes, const ns_corate_params *const *params,
                           ns_pool *pool, int32_t *const *group_ids,
                           ns_corate_stats *stats);

/* "A group counts as one rater per note": drop[i] = 1 for every rating of a
** group member except the earliest per (note, group) (ties: smaller rater,
** then smaller i), and for every rating by a member on a note whose author
** (note_author[note], -1 unknown; the array may be NULL) is in the same
** group.  Other entries get 0.  *n_dropped (may be NULL) = count.
** Returns 0, NS_EINVAL or NS_ENOMEM. */
int ns_groups_dedup(size_t n_ratings, const int32_t *rater, const int32_t *note,
                    const int64_t *time_ms, size_t n_raters, size_t n_notes,
                    const int32_t *note_author, const int32_t *group_id,
                    uint8_t *drop, size_t *n_dropped);

/* ========================================================================
** Quasi-cliques (graph/qclique.c).  reference §7.2, docs/trust.md §9.
**
** An event is (note, helpfulness value); two raters collide on a post when
** they share an event of a note of that post, each pair counted at most
** once per post.  Only notes with note_post[n] >= 0 are in scope (the
** caller applies the reference's scope: MISINFORMED notes on live posts
** created within 13 weeks of the newest note; note_post = the post id).
**
** Seeds: rater pairs with more than min_pair_count collisions, in order
** (count desc, a, b).  Counting is bounded: per event, a rater is paired
** only with the next `neighbours` raters of the event in index order, and
** only raters with more than min_pair_count scope posts take part (no
** other rater can be in such a pair).  A bounded count is <= the true one.
** Growth from a seed whose raters are both still free: repeatedly add the
** free rater who did the most group actions -- events done by
** >= action_frac of the members and >= min(|members|, action_min) of them
** (ties: smaller index) -- while >= min_posts posts carry a group action
** and every member did a group action on >= post_frac of those posts; stop
** at the first candidate that breaks this, when no candidate is left, or
** at max_size.  Groups of >= min_size raters become cliques 1, 2, ... in
** the order found; their members never seed or join again.  A smaller
** group consumes only its seed pair.  At most max_seeds seeds are grown.
** Optionally (min_seed_lift) a seed pair must also co-rate well above
** chance.
*/
typedef struct ns_qclique_params {
  int min_pair_count;   /* 50: a seed pair needs > 50 collisions */
  double action_frac;   /* 0.25 */
  int action_min;       /* 4 */
  int min_posts;        /* 25 */
  double post_frac;     /* 0.25 */
  int max_size;         /* 2000 */
  int min_size;         /* 5 */
  int neighbours;       /* 16: pair-count neighbourhood per event */
  int max_seeds;        /* 100000; 0 = no limit */
  /* notescore (docs/trust.md §9): a seed pair also needs
  **   lift = count * P_eff / (T_a * T_b) >= min_seed_lift,
  ** T = distinct scope posts rated, P_eff = (sum_p d_p)^2 / sum_p d_p^2
  ** with d_p = raters of post p: collisions per chance co-rating under the
  ** posts' popularity.  0 = off (the reference); the pipeline uses 2. */
  double min_seed_lift;
} ns_qclique_params;

typedef struct ns_qclique_stats {
  size_t scope_notes, scope_posts, scope_ratings;
  size_t eligible_raters;  /* raters with > min_pair_count scope posts */
  uint64_t pair_updates;   /* neighbourhood pair events counted */
  size_t seed_pairs;       /* pairs with > min_pair_count collisions */
  size_t low_lift_pairs;   /* of those, dropped by min_seed_lift */
  size_t seeds_tried;
  size_t n_cliques, n_members, largest;
} ns_qclique_stats;

/* Rating values as the rater-pattern detectors (quasi-cliques, the
** coordination test) take them: one byte per rating, the helpfulness
** level 0, 1, 2 for the values 0, 0.5, 1 (the dataset's ns_level), where a
** float value would take four bytes for the same three values.
** NS_EDGE_NO_LEVEL marks a rating that takes part in no event. */
#define NS_EDGE_NO_LEVEL 0xFFu
static inline uint8_t ns_edge_level(float value) {
  return value == 0.0f ? 0 : value == 0.5f ? 1 : value == 1.0f ? 2 : (uint8_t)NS_EDGE_NO_LEVEL;
}

void ns_qclique_params_default(ns_qclique_params *p);

/* Detects quasi-cliques on bigraph g (every rating of the run).
** edge_level[e] is edge e's helpfulness level (ns_edge_level: 0, 1, 2 for
** 0, 0.5, 1; NS_EDGE_NO_LEVEL takes part in no event); note_post[n] the post of note n, < 0 = out of
** scope.  clique_id (g->n_raters) receives 1, 2, ... or 0 = none.  pool
** may be NULL; the result does not depend on its thread count.  stats may
** be NULL.  Returns 0, NS_EINVAL or NS_ENOMEM (clique_id all 0 then). */
int ns_qclique_detect(const ns_bigraph *g, const uint8_t *edge_level, const int64_t *note_post,
                      const int32_t *community, const ns_qclique_params *p, ns_pool *pool, int32_t *clique_id,
                      ns_qclique_stats *stats);

/* ------------------------------------------------------------------------
** Coordination test (graph/coord.c, docs/trust.md §6): groups of raters who
** give the same value to the same posts far more often than raters of their
** own communities do -- time-free, scale-aware.  A candidate pair (>=
** min_count same-value posts in common, both raters with >= min_posts
** posts) is suspect when
**   lift = count / E >= min_lift  and  P(Poisson(E) >= count) <= alpha / M,
**   E = T_a T_b sum_k m_a(k) m_b(k) Q_k[c_a][c_b],
** T = distinct posts rated, c = community, m = the rater's own mix over
** post homes, Q_k the chance that two raters of those communities meet on a
** home-k post with the same value (popularity and value shares, each
** rating weighted 1 / (1 + its rater's candidate partners); graph/null.c),
** M = eligible pairs; a pair significant only at
** the triple-wise bound counts when it closes a triangle.  The test runs on
** every same-value collision and again on dissenting ratings only.
** Suspect pairs are joined by union-find into groups 1, 2, ... by smallest
** member; outsiders whose summed pairs against a large group are
** significant join it.
*/
typedef struct ns_coord_params {
  int min_posts;          /* 5 */
  int min_count;          /* 5 */
  int neighbours;         /* 16: pair-count neighbourhood per event */
  double min_lift;        /* 3 */
  double alpha;           /* 0.01: family-wise false-flag rate */
  double smooth;          /* 2: pseudo-ratings toward the post's value shares */
  double max_dissent_share; /* 0.3: a rating dissents when its value has at
                           ** most this weighted share on its note; the
                           ** dissent pass repeats the test on those only
                           ** (0 = off) */
  int min_join_group;     /* 10: groups this large take in outsiders whose
                           ** pairs with their members, summed, have lift
                           ** >= join_lift and are significant (0 = off) */
  double join_lift;       /* 2 */
} ns_coord_params;

typedef struct ns_coord_pass {
  size_t eligible_raters;
  uint64_t pair_updates;
  size_t candidate_pairs;          /* >= min_count collisions */
  size_t suspect_pairs;            /* lift and significance (or triangle) */
  size_t significant_low_lift;     /* significant, lift < min_lift */
  double max_lift_unflagged;       /* largest lift among unflagged candidates */
  double log_threshold;            /* ln(alpha / M), M = eligible pairs */
  double log_threshold_triangle;   /* ln(alpha / M3) / 3, M3 = eligible triples */
} ns_coord_pass;

typedef struct ns_coord_stats {
  size_t n_communities;
  ns_coord_pass all;               /* every same-value collision */
  ns_coord_pass dissent;           /* collisions on dissenting values */
  size_t joined;                   /* outsiders joined to a large group */
  size_t n_groups, n_grouped;
} ns_coord_stats;

void ns_coord_params_default(ns_coord_params *p);

/* g: every rating of the run; edge_level[e] its level (ns_edge_level;
** NS_EDGE_NO_LEVEL takes part in nothing); note_post[n] >= 0 the post of note n (< 0: left out);
** community[u] >= 0 a small id (< 4096), < 0 unknown, or NULL (one
** community).  group_id (g->n_raters) receives 1, 2, ... or 0.  pool may be
** NULL; the result does not depend on its thread count.  Returns 0,
** NS_EINVAL or NS_ENOMEM (group_id all 0 then). */
int ns_coord_detect(const ns_bigraph *g, const uint8_t *edge_level, const int64_t *note_post,
                    const int32_t *community, const ns_coord_params *p, ns_pool *pool,
                    int32_t *group_id, ns_coord_stats *stats);

/* Per-rating weights for the ratings of groups of >= min_size members
** (smaller groups and raters in no group weigh 1).  On a note rated by m
** members of group G and r other raters, with mean values g and o: when
** |g - o| >= 0.25 (the group against the others) each of its ratings
** weighs 0 (the caller leaves them out of the fit); otherwise G may weigh
** max(1, max_share * r), each rating min(1, that / m).  A rating without a
** level counts as a rater with value 0 in the means. */
int ns_coord_weights(const ns_bigraph *g, const uint8_t *edge_level, const int32_t *group_id,
                     size_t n_groups, int min_size, double max_share, float *w);

/* ln P(X >= k) for X ~ Poisson(lambda); 0 when lambda >= k (no evidence). */
double ns_poisson_log_sf(uint32_t k, double lambda);

#endif /* NS_GRAPH_H */
