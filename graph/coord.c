/*
** graph/coord.c -- the coordination test: groups of raters who give the
** same value to the same posts far more often than raters of their own
** communities do, whatever their timing (docs/trust.md §6).
**
** Who calls it: engine/pipeline_trust.c, once per scoring run with trust
** on, before round 1.
** Threads: the caller's thread; the pair counts (collide.c) fan out on the
** pool with per-chunk outputs merged in chunk order, so the result is the
** same for every thread count.
**
**  1. Collisions.  For raters with >= min_posts distinct posts, count the
**     posts on which a pair gave the same value to the same note (bounded
**     neighbourhood, collide.c).  Pairs with >= min_count are candidates.
**  2. The null model (null.c, collide.h): the pair's expected collisions
**     E_ab from their activities, communities, own mixes over post homes,
**     the posts' popularity and the communities' value shares.  Ratings
**     count with weight 1 / (1 + candidate partners of the rater), so a
**     block of raters who all co-rate counts about once and a ring cannot
**     hide behind the popularity it created.
**  3. A candidate is suspect when lift = count / E_ab >= min_lift and the
**     Poisson tail P(X >= count; E_ab) <= alpha / M (M = eligible pairs),
**     or, at the triple-wise bound, when it closes a triangle (triangles()).
**  4. The same test on dissenting ratings only (value share on the note
**     <= max_dissent_share), with a wider neighbourhood.
**  5. Suspect pairs of both passes are joined by union-find; outsiders
**     whose summed pairs against a large group are significant join it
**     (join_groups()); groups are numbered 1, 2, ... by smallest member.
**
** ns_coord_weights turns groups of >= min_size into per-rating weights:
** 0 on a note where the group rates against the others, at most
** max_share of the others' weight where it rates with them.
*/
#include "collide.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ns_coord_weights: a group whose mean value on a note is this far from
** the other raters' mean rates against them there. */
#define NS__COORD_AGAINST 0.25

void ns_coord_params_default(ns_coord_params *p) {
  p->min_posts = 5;
  p->min_count = 5;
  p->neighbours = 16;
  p->min_lift = 3.0;
  p->alpha = 0.01;
  p->smooth = 2.0;
  p->max_dissent_share = 0.3;
  p->min_join_group = 10;
  p->join_lift = 2.0;
}

double ns_poisson_log_sf(uint32_t k, double lambda) {
  double sum = 1.0, t = 1.0;
  if (k == 0) return 0.0;
  if (!(lambda > 0)) return -INFINITY;
  if (lambda >= (double)k) return 0.0; /* not in the upper tail: no evidence */
  /* P(X >= k) = e^-l l^k / k! * sum_j l^j k! / (k+j)!; the terms fall at
  ** least geometrically (ratio l / (k+j) < 1). */
  for (uint32_t j = 1; j < 100000; j++) {
    t *= lambda / ((double)k + (double)j);
    sum += t;
    if (t < 1e-17 * sum) break;
  }
  return -lambda + (double)k * log(lambda) - lgamma((double)k + 1.0) + log(sum);
}

static int32_t ufind(int32_t *par, int32_t a) {
  while (par[a] != a) a = par[a] = par[par[a]];
  return a;
}

static int cmp_i32(const void *x, const void *y) {
  int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
  return (a > b) - (a < b);
}

/* Weak pairs (sus 1) that close a triangle with two other weak-or-strong
** pairs become strong (2).  On data without coordination, weak pairs are
** rare and independent, so a triangle of them is as unlikely as one strong
** pair (the weak threshold is the cube root of the triple-wise Bonferroni
** bound); a ring is dense, so it is full of triangles. */
static int triangles(const ns__cpair_vec *pairs, uint8_t *sus, size_t nr) {
  uint32_t *off = ns_calloc(nr + 1, sizeof *off);
  int32_t *adj = NULL;
  size_t m = 0;
  if (!off) return NS_ENOMEM;
  for (size_t i = 0; i < pairs->n; i++)
    if (sus[i]) off[pairs->a[i].a + 1]++, off[pairs->a[i].b + 1]++, m++;
  if (m == 0) {
    free(off);
    return 0;
  }
  for (size_t u = 0; u < nr; u++) off[u + 1] += off[u];
  adj = ns_mallocn(2 * m, sizeof *adj);
  if (!adj) {
    free(off);
    return NS_ENOMEM;
  }
  {
    uint32_t *cur = ns_mallocn(nr + 1, sizeof *cur);
    if (!cur) {
      free(off);
      free(adj);
      return NS_ENOMEM;
    }
    memcpy(cur, off, (nr + 1) * sizeof *cur);
    for (size_t i = 0; i < pairs->n; i++)
      if (sus[i]) adj[cur[pairs->a[i].a]++] = pairs->a[i].b, adj[cur[pairs->a[i].b]++] = pairs->a[i].a;
    free(cur);
  }
  for (size_t u = 0; u < nr; u++)
    if (off[u + 1] - off[u] > 1) qsort(adj + off[u], off[u + 1] - off[u], sizeof *adj, cmp_i32);
  for (size_t i = 0; i < pairs->n; i++) {
    int32_t a = pairs->a[i].a, b = pairs->a[i].b;
    uint32_t x = off[a], xe = off[a + 1], y = off[b], ye = off[b + 1];
    if (sus[i] != 1) continue;
    while (x < xe && y < ye) { /* a common neighbour closes a triangle */
      if (adj[x] < adj[y]) x++;
      else if (adj[x] > adj[y]) y++;
      else {
        sus[i] = 3; /* strong, but not a source of further triangles */
        break;
      }
    }
  }
  for (size_t i = 0; i < pairs->n; i++)
    if (sus[i] == 3) sus[i] = 2;
  free(off);
  free(adj);
  return 0;
}

/* Tests every candidate pair of one pass (collisions in L, the null in N)
** and joins the suspects into par.  pass_stats: the pass's counters.  The
** pairs and N are kept for the join step, which recomputes each pair's
** null expectation from N (ns__null_detach) instead of storing it: 12 bytes
** per candidate pair for the join instead of 36 (docs/architecture.md,
** "Memory of a scoring run"). */
static int test_pass(const ns__clayout *L, const ns__null *N, const ns__cpair_vec *pairs,
                     const ns_coord_params *p, int32_t *par, ns_coord_pass *ps) {
  uint8_t *sus = ns_calloc(pairs->n, 1);
  double ne = (double)L->eligible_raters;
  double m2 = ne > 1 ? ne * (ne - 1) / 2 : 1, m3 = ne > 2 ? ne * (ne - 1) * (ne - 2) / 6 : 1;
  int rc;
  if (!sus) return NS_ENOMEM;
  ps->eligible_raters = L->eligible_raters;
  ps->candidate_pairs = pairs->n;
  ps->log_threshold = log(p->alpha) - log(m2);
  ps->log_threshold_triangle = (log(p->alpha) - log(m3)) / 3;
  for (size_t i = 0; i < pairs->n; i++) {
    const ns__cpair *q = &pairs->a[i];
    double E = ns__null_expect(N, q->a, q->b);
    double lift = E > 0 ? (double)q->count / E : INFINITY;
    double lp = ns_poisson_log_sf(q->count, E);
    int big = lift >= p->min_lift;
    if (lp <= ps->log_threshold && !big) ps->significant_low_lift++;
    if (big && lp <= ps->log_threshold) sus[i] = 2;                 /* suspect alone */
    else if (big && lp <= ps->log_threshold_triangle) sus[i] = 1;   /* if in a triangle */
    else if (lift > ps->max_lift_unflagged) ps->max_lift_unflagged = lift;
  }
  if ((rc = triangles(pairs, sus, L->g->n_raters)) == 0)
    for (size_t i = 0; i < pairs->n; i++) {
      const ns__cpair *q = &pairs->a[i];
      int32_t x, y;
      if (sus[i] < 2) continue;
      ps->suspect_pairs++;
      x = ufind(par, q->a), y = ufind(par, q->b);
      if (x != y) par[x > y ? x : y] = x < y ? x : y;
    }
  free(sus);
  return rc;
}

/* A cross pair of the join step: an outsider, the root of a large group,
** and the pair's count and null expectation in one pass. */
typedef struct ns__jpair {
  int32_t a, b;
  uint32_t count;
  int32_t pass;              /* 0 all values, 1 dissent */
  double E;
} ns__jpair;

static int cmp_join(const void *x, const void *y) {
  const ns__jpair *a = x, *b = y;
  if (a->a != b->a) return a->a < b->a ? -1 : 1;
  if (a->b != b->b) return a->b < b->b ? -1 : 1;
  return (a->pass > b->pass) - (a->pass < b->pass);
}

/* The candidate pairs of one pass and its null model, kept for the join. */
typedef struct coord_pass_data {
  ns__cpair_vec pairs;
  ns__null N;
} coord_pass_data;

/* Gives a kept pair vector's growth slack back (a failed shrink keeps it). */
static void shrink_pairs(ns__cpair_vec *v) {
  void *q;
  if (v->n == 0 || v->n == v->cap) return;
  if ((q = ns_realloc(v->a, v->n * sizeof *v->a)) != NULL) {
    v->a = q;
    v->cap = v->n;
  }
}

/* The join step: a rater outside every large group (>= min_size) joins
** group G when its candidate pairs with G's members, summed, are above
** the null (lift >= join_lift) and significant at alpha / (eligible
** raters x large groups).  A ring account whose own pairs each fell just
** short is still far from chance against the ring as a whole; an honest
** rater's pairs with a ring are its chance overlap.  One round, no chain.
** pd[0], pd[1]: the two passes' candidates (either may be empty). */
static int join_groups(const coord_pass_data *pd, int32_t *par, size_t nr, size_t n_elig,
                       const ns_coord_params *p, ns_coord_stats *st) {
  int32_t *size = ns_calloc(nr, sizeof *size);
  ns__jpair *acc = NULL;
  size_t m = 0, n_large = 0;
  double thr;
  int rc = 0;
  if (!size) return NS_ENOMEM;
  for (size_t u = 0; u < nr; u++) size[ufind(par, (int32_t)u)]++;
  for (size_t u = 0; u < nr; u++) n_large += (size_t)ufind(par, (int32_t)u) == u && size[u] >= p->min_join_group;
  if (n_large == 0) goto out;
  thr = log(p->alpha) - log((double)(n_elig ? n_elig : 1) * (double)n_large);
  /* (outsider, root of the large group, count, E) for each cross pair, in
  ** pass order: counted first, so the array holds only the cross pairs */
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < pd[pass].pairs.n; i++) {
      const ns__cpair *q = &pd[pass].pairs.a[i];
      int32_t ra = ufind(par, q->a), rb = ufind(par, q->b);
      if (ra == rb) continue;
      m += size[rb] >= p->min_join_group && size[ra] < p->min_join_group;
      m += size[ra] >= p->min_join_group && size[rb] < p->min_join_group;
    }
  if (m == 0) goto out;
  acc = ns_mallocn(m, sizeof *acc);
  if (!acc) { rc = NS_ENOMEM; goto out; }
  m = 0;
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < pd[pass].pairs.n; i++) {
      const ns__cpair *q = &pd[pass].pairs.a[i];
      int32_t ra = ufind(par, q->a), rb = ufind(par, q->b);
      int a_in = size[ra] >= p->min_join_group, b_in = size[rb] >= p->min_join_group;
      if (ra == rb || a_in == b_in) continue;
      /* the pair's expectation, as test_pass computed it from this pass's null */
      double E = ns__null_expect(&pd[pass].N, q->a, q->b);
      if (b_in) acc[m++] = (ns__jpair){q->a, rb, q->count, pass, E};
      else acc[m++] = (ns__jpair){q->b, ra, q->count, pass, E};
    }
  if (m > 1) qsort(acc, m, sizeof *acc, cmp_join);
  for (size_t i = 0, j; i < m; i = j) {
    double obs = 0, E = 0;
    /* per pass: each pass has its own null */
    for (j = i; j < m && acc[j].a == acc[i].a && acc[j].b == acc[i].b && acc[j].pass == acc[i].pass;
         j++)
      obs += acc[j].count, E += acc[j].E;
    if (ufind(par, acc[i].a) == acc[i].b) continue; /* joined by its other pass */
    if (obs >= 2.0 * p->min_count && E > 0 && obs >= p->join_lift * E &&
        ns_poisson_log_sf((uint32_t)obs, E) <= thr) {
      /* attach to the group (decided against the groups as they were) */
      par[ufind(par, acc[i].a)] = acc[i].b;
      st->joined++;
    }
  }
out:
  free(size);
  free(acc);
  return rc;
}

int ns_coord_detect(const ns_bigraph *g, const uint8_t *edge_level, const int64_t *note_post,
                    const int32_t *community, const ns_coord_params *p, ns_pool *pool,
                    int32_t *group_id, ns_coord_stats *stats) {
  ns_coord_params defp;
  ns_coord_stats st;
  ns__clayout L;
  coord_pass_data pd[2];
  size_t nr, C = 1, n_elig = 0;
  int32_t *comm = NULL, *par = NULL, *partners = NULL, *first = NULL;
  double *rw = NULL, *share = NULL;
  uint8_t *dissent = NULL;
  uint8_t *need = NULL;
  int rc = 0;

  memset(&st, 0, sizeof st);
  memset(&L, 0, sizeof L);
  memset(pd, 0, sizeof pd);
  if (stats) *stats = st;
  if (g && g->n_edges && !g->rater_edges) return NS_EINVAL;  /* dropped (ns_bigraph_drop_rater_edges) */
  if (!p) {
    ns_coord_params_default(&defp);
    p = &defp;
  }
  if (!g || !group_id || (g->n_edges && !edge_level) || (g->n_notes && !note_post) ||
      p->min_posts < 1 || p->min_count < 1 || p->neighbours < 1 || !(p->min_lift >= 0) ||
      !(p->alpha > 0 && p->alpha <= 1) || !(p->smooth >= 0) ||
      !(p->max_dissent_share >= 0 && p->max_dissent_share <= 1) || g->n_raters >= INT32_MAX ||
      g->n_notes >= INT32_MAX / 3)
    return NS_EINVAL;
  nr = g->n_raters;
  for (size_t u = 0; u < nr; u++) group_id[u] = 0;

  comm = ns_mallocn(nr, sizeof *comm);
  par = ns_mallocn(nr, sizeof *par);
  first = ns_mallocn(nr, sizeof *first);
  partners = ns_calloc(nr, sizeof *partners);
  rw = ns_mallocn(nr, sizeof *rw);
  need = ns_mallocn(nr, 1);
  if (!comm || !par || !first || !partners || !rw || !need) { rc = NS_ENOMEM; goto out; }
  if ((rc = ns__null_communities(nr, community, comm, &C)) != 0) goto out;
  st.n_communities = C;
  for (size_t u = 0; u < nr; u++) par[u] = (int32_t)u;

  /* Pass 1: every same-value collision.  Its candidate pairs also give the
  ** popularity weights of both passes' null models. */
  if ((rc = ns__clayout_build(&L, g, edge_level, note_post, p->min_posts - 1)) != 0) goto out;
  if ((rc = ns__collide_pairs(&L, p->neighbours, (uint32_t)p->min_count - 1, pool, &pd[0].pairs,
                              &st.all.pair_updates)) != 0)
    goto out;
  for (size_t i = 0; i < pd[0].pairs.n; i++)
    partners[pd[0].pairs.a[i].a]++, partners[pd[0].pairs.a[i].b]++;
  for (size_t u = 0; u < nr; u++) rw[u] = 1.0 / (1.0 + partners[u]);
  for (size_t u = 0; u < nr; u++) need[u] = partners[u] > 0;
  if (pd[0].pairs.n > 0) {
    if ((rc = ns__null_build(&pd[0].N, &L, comm, C, rw, p->smooth, 1, need)) != 0) goto out;
    if ((rc = test_pass(&L, &pd[0].N, &pd[0].pairs, p, par, &st.all)) != 0) goto out;
    ns__null_detach(&pd[0].N, &L); /* kept for the join step */
  }
  n_elig = L.eligible_raters;
  ns__clayout_free(&L);
  shrink_pairs(&pd[0].pairs);

  /* Pass 2: dissent only -- ratings whose value has a (weighted) share of
  ** at most max_dissent_share on their note.  Honest raters dissent
  ** rarely and each on their own notes; a ring that pushes against the
  ** consensus dissents on its targets together, whatever else it rates. */
  if (p->max_dissent_share > 0) {
    share = ns_mallocn(g->n_notes * 3, sizeof *share);
    dissent = ns_mallocn(g->n_edges, sizeof *dissent);
    if (!share || !dissent) { rc = NS_ENOMEM; goto out; }
    for (size_t n = 0; n < g->n_notes; n++) {
      double d[3] = {0, 0, 0}, t;
      for (uint64_t k = g->note_off[n]; k < g->note_off[n + 1]; k++) {
        uint32_t e = ns_bigraph_note_edge(g, k);
        int lv = ns__level_of(edge_level[e]);
        if (lv >= 0) d[lv] += rw[g->edge_rater[e]];
      }
      t = d[0] + d[1] + d[2];
      for (int v = 0; v < 3; v++) share[n * 3 + (size_t)v] = t > 0 ? d[v] / t : 1;
    }
    for (size_t e = 0, cur = 0; e < g->n_edges; e++) {
      int lv = ns__level_of(edge_level[e]);
      size_t n = (size_t)ns_bigraph_next_note(g, e, &cur);
      dissent[e] = lv >= 0 && share[n * 3 + (size_t)lv] <= p->max_dissent_share
                       ? edge_level[e] : (uint8_t)NS_EDGE_NO_LEVEL;
    }
    if ((rc = ns__clayout_build(&L, g, dissent, note_post, p->min_posts - 1)) != 0) goto out;
    /* Dissent events are small (a note's few dissenters), so a wider
    ** neighbourhood (64) costs little and keeps a ring adjacent to itself
    ** even where honest dissenters sit between its accounts. */
    if ((rc = ns__collide_pairs(&L, 64, (uint32_t)p->min_count - 1, pool, &pd[1].pairs,
                                &st.dissent.pair_updates)) != 0)
      goto out;
    memset(need, 0, nr);
    for (size_t i = 0; i < pd[1].pairs.n; i++) need[pd[1].pairs.a[i].a] = need[pd[1].pairs.a[i].b] = 1;
    if (pd[1].pairs.n > 0) {
      if ((rc = ns__null_build(&pd[1].N, &L, comm, C, rw, p->smooth, 1, need)) != 0) goto out;
      if ((rc = test_pass(&L, &pd[1].N, &pd[1].pairs, p, par, &st.dissent)) != 0) goto out;
      ns__null_detach(&pd[1].N, &L);
    }
    ns__clayout_free(&L);
    free(share);
    free(dissent);
    share = NULL;
    dissent = NULL;
  }
  if (p->min_join_group > 0 && (rc = join_groups(pd, par, nr, n_elig, p, &st)) != 0) goto out;

  /* Groups: components of >= 2 raters, numbered by smallest member. */
  for (size_t u = 0; u < nr; u++) first[u] = 0;
  for (size_t u = 0; u < nr; u++) {
    int32_t r = ufind(par, (int32_t)u);
    if ((size_t)r != u) first[r] = 1; /* r has another member */
  }
  for (size_t u = 0; u < nr; u++) {
    int32_t r = ufind(par, (int32_t)u);
    if (!first[r]) continue;
    if ((size_t)r == u) group_id[u] = (int32_t)++st.n_groups;
    else group_id[u] = group_id[r];
    st.n_grouped++;
  }
  if (stats) *stats = st;

out:
  if (rc)
    for (size_t u = 0; u < nr; u++) group_id[u] = 0;
  ns__clayout_free(&L);
  for (int i = 0; i < 2; i++) {
    ns__null_free(&pd[i].N);
    ns_vec_free(&pd[i].pairs);
  }
  free(comm);
  free(par);
  free(partners);
  free(first);
  free(rw);
  free(share);
  free(dissent);
  free(need);
  return rc;
}

/* The value of a level (0 for none), as the float the caller's value was. */
static inline double level_value(uint8_t l) { return l <= 2 ? (double)((float)l * 0.5f) : 0.0; }

int ns_coord_weights(const ns_bigraph *g, const uint8_t *edge_level, const int32_t *group_id,
                     size_t n_groups, int min_size, double max_share, float *w) {
  int32_t *cnt, *touched, *size;
  double *gsum;
  if (!g || !edge_level || !group_id || !w || !(max_share >= 0)) return NS_EINVAL;
  cnt = ns_calloc(n_groups + 1, sizeof *cnt);
  touched = ns_mallocn(n_groups + 1, sizeof *touched);
  size = ns_calloc(n_groups + 1, sizeof *size);
  gsum = ns_calloc(n_groups + 1, sizeof *gsum);
  if (!cnt || !touched || !size || !gsum) {
    free(cnt);
    free(touched);
    free(size);
    free(gsum);
    return NS_ENOMEM;
  }
  for (size_t u = 0; u < g->n_raters; u++)
    if (group_id[u] > 0 && (size_t)group_id[u] <= n_groups) size[group_id[u]]++;
  for (size_t e = 0; e < g->n_edges; e++) w[e] = 1.0f;
  for (size_t n = 0; n < g->n_notes; n++) {
    size_t nt = 0;
    double all = 0;
    uint64_t deg = g->note_off[n + 1] - g->note_off[n];
    for (uint64_t k = g->note_off[n]; k < g->note_off[n + 1]; k++) {
      uint32_t e = ns_bigraph_note_edge(g, k);
      int32_t gid = group_id[g->edge_rater[e]];
      all += level_value(edge_level[e]);
      if (gid <= 0 || (size_t)gid > n_groups || size[gid] < min_size) continue;
      if (cnt[gid]++ == 0) touched[nt++] = gid;
      gsum[gid] += level_value(edge_level[e]);
    }
    if (nt == 0) continue;
    for (uint64_t k = g->note_off[n]; k < g->note_off[n + 1]; k++) {
      uint32_t e = ns_bigraph_note_edge(g, k);
      int32_t gid = group_id[g->edge_rater[e]];
      double m, r, allowed, mg, mo;
      if (gid <= 0 || (size_t)gid > n_groups || size[gid] < min_size) continue;
      m = cnt[gid];
      r = (double)(deg - (uint64_t)cnt[gid]);
      mg = gsum[gid] / m;                          /* the group's mean value */
      mo = r > 0 ? (all - gsum[gid]) / r : mg;     /* everyone else's */
      /* Against the others (means NS__COORD_AGAINST apart): no say (0).
      ** With them: at most max_share of the others' weight, and at least
      ** one rater's worth. */
      if (fabs(mg - mo) >= NS__COORD_AGAINST) {
        w[e] = 0.0f;
        continue;
      }
      allowed = max_share * r;
      if (allowed < 1) allowed = 1;
      if (m > allowed) w[e] = (float)(allowed / m);
    }
    for (size_t i = 0; i < nt; i++) cnt[touched[i]] = 0, gsum[touched[i]] = 0;
  }
  free(cnt);
  free(touched);
  free(size);
  free(gsum);
  return 0;
}
