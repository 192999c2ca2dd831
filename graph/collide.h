/*
** graph/collide.h -- internal: the same-value collision layout and the
** bounded pair count (collide.c), shared by qclique.c and coord.c.  Not part
** of the public graph.h API.
*/
#ifndef NS_GRAPH_COLLIDE_H
#define NS_GRAPH_COLLIDE_H

#include "graph.h"

/* A rating's level (graph.h ns_edge_level) as an event level 0, 1, 2, or
** -1 for NS_EDGE_NO_LEVEL (or anything else: no event). */
static inline int ns__level_of(uint8_t l) { return l <= 2 ? (int)l : -1; }

/* ------------------------------------------------------------------------
** Shared read-only layout.
*/
typedef struct ns__clayout {
  const ns_bigraph *g;
  const uint8_t *level;      /* per edge (graph.h ns_edge_level) */
  const uint8_t *note_lv;    /* per note: bit v set = level v counts here
                             ** (NULL = every level); the dissent pass's
                             ** filter, 1 byte a note instead of a filtered
                             ** copy of level (1 byte a rating) */
  size_t n_scope;            /* scope notes */
  int32_t *scope_note;       /* [n_scope] note index, sorted by (post, note) */
  int32_t *note_pos;         /* [n_notes] position in scope_note, -1 = out */
  int32_t *post_of;          /* [n_scope] dense post index */
  size_t n_posts;
  int32_t *T;                /* [n_raters] distinct scope posts */
  int min_t;                 /* eligible raters: T > min_t */
  int direct;                /* the note lists of the bigraph are the event
                             ** lists (below: no ev_off / ev_r) */
  /* The pair layout (ns__collide_pairs frees it once it has counted):
  ** each event's eligible raters ascending, then a -1 sentinel, in slots
  ** sized for exactly those raters (4 bytes per eligible scope rating).  A
  ** rater's own slots are found when counting (its scope ratings through
  ** the bigraph's rater lists, a binary search in each event), not stored:
  ** that list would be another 4 bytes per eligible scope rating at the
  ** count's peak (docs/architecture.md, "Memory of a scoring run"). */
  uint32_t *ev_off;          /* [3 n_scope + 1] */
  int32_t *ev_r;
  /* filled by ns__clayout_build */
  size_t scope_ratings, eligible_raters;
} ns__clayout;

/* Lays out the scope ratings (notes with note_post[n] >= 0; a post's notes
** are grouped) for raters with more than min_t distinct scope posts.
** Returns 0 or NS_ENOMEM; ns__clayout_free releases what was built. */
int ns__clayout_build(ns__clayout *L, const ns_bigraph *g, const uint8_t *level,
                      const uint8_t *note_lv, const int64_t *note_post, int min_t);
/* The event level (0, 1, 2) of edge e of note n in L's ratings, or -1 when
** it has none (no level, or a level note_lv leaves out on n). */
static inline int ns__clayout_level(const ns__clayout *L, uint32_t e, int32_t n) {
  int lv = ns__level_of(L->level[e]);
  return lv >= 0 && L->note_lv && !((L->note_lv[n] >> lv) & 1) ? -1 : lv;
}
void ns__clayout_free(ns__clayout *L);

typedef struct ns__cpair {
  int32_t a, b;              /* a < b */
  uint32_t count;            /* posts with a shared event (bounded count) */
} ns__cpair;
typedef NS_VEC(ns__cpair) ns__cpair_vec;

/* Appends every pair with count > min_count to pairs, in order of a, then
** first touch; *updates = neighbourhood updates counted.  Consumes the pair
** layout: L's ev_off and ev_r are freed once the pairs are counted and
** before they are gathered into pairs (an array of exactly their number),
** so the layout and the gathered pairs never coexist; the rest of L (scope,
** posts, T: what the null model reads) stays. */
int ns__collide_pairs(ns__clayout *L, int neighbours, uint32_t min_count, ns_pool *pool,
                      ns__cpair_vec *pairs, uint64_t *updates);

/* ------------------------------------------------------------------------
** The null model of honest co-rating (null.c; docs/trust.md §6): how many
** posts two raters share by chance -- with the same value, or at all --
** given their activities, their communities and where each of them rates.
**
** Every post has a home: the community whose raters gave it the most
** (weighted) ratings.  Rater a lands on post p of home k with probability
**   T_a m_a(k) pi_k(p),
** m_a(k) = the share of a's posts whose home is k (a's own mix: a power
** rater who rates every community's notes is expected to meet raters of
** every community), pi_k(p) = p's share of the weighted ratings on home-k
** posts.  Two raters who both rated p agree with probability
** A_p(c, c') = sum_v f_pc(v) f_pc'(v), f_pc = the value shares of
** community c's raters on p, smoothed toward p's overall shares (1 when
** values are ignored).  So
**   E_ab = T_a T_b sum_k m_a(k) m_b(k) Q_k[c_a][c_b],
**   Q_k[c][c'] = sum over home-k posts of pi_k(p)^2 A_p(c, c').
** Ratings count with the caller's per-rater weight rw (NULL = 1).
*/
typedef struct ns__null {
  const ns__clayout *L;      /* NULL after ns__null_detach */
  const int32_t *T;          /* [n_raters] distinct scope posts (L's, or
                             ** owned after ns__null_detach) */
  int32_t *T_own;
  size_t C;                  /* rater communities (comm values 0..C-1) */
  const int32_t *comm;       /* [n_raters], borrowed */
  double *Q;                 /* [C][C][C]: k, c, c' */
  uint32_t *m_off;           /* [n_raters + 1] into m_k / m_w (eligible raters) */
  int32_t *m_k;
  double *m_w;
} ns__null;

/* Dense communities for the model: the caller's ids (>= 0, < 4096) as
** they are, unknown (< 0) as one more; NULL = everyone in one.  *C = the
** count.  NS_EINVAL for an id past the bound (ids are small, modelingGroup). */
#define NS__NULL_MAX_COMMUNITY 4096
int ns__null_communities(size_t nr, const int32_t *community, int32_t *comm, size_t *C);
/* need[u] != 0: rater u will be asked about (its mix is computed); NULL =
** every eligible rater.  ns__null_expect may be asked only about those. */
int ns__null_build(ns__null *N, const ns__clayout *L, const int32_t *comm, size_t C,
                   const double *rw, double smooth, int values, const uint8_t *need);
double ns__null_expect(const ns__null *N, int32_t a, int32_t b);
/* Makes N outlive its layout: takes L's per-rater post counts (the only
** part of L that ns__null_expect reads; L->T is NULL after), so the caller
** can free L and still ask N for expectations, bit for bit the same. */
void ns__null_detach(ns__null *N, ns__clayout *L);
void ns__null_free(ns__null *N);

#endif /* NS_GRAPH_COLLIDE_H */
