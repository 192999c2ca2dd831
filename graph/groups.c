/*
** graph/groups.c -- coordinated-group detection by co-rating (reference
** §7.1, "post-selection similarity") and the "a group counts as one rater
** per note" rating filter.
**
** Who calls it: engine/ pipeline, once per scoring run, on all ratings,
** before the round-2 fit.  Threads: the caller's thread only (the work is
** dominated by one sort and a hash-map pass; see docs/trust.md for the
** measured cost and why it is bounded).
**
** The reference enumerates every rater pair of every post inside the
** 20-minute window, which on popular notes is quadratic and takes hours on
** the public data.  Here a rating is paired only with the next max_window
** qualifying ratings of the same note (sorted by time), so the work is
** O(R log R) for the sort plus O(R * max_window) hash updates.
*/
#include "graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ns_corate_params_default(ns_corate_params *p) {
  p->window_ms = 20LL * 60 * 1000;
  p->max_window = 64;
  p->min_posts = 10;
  p->npmi_min = 0.55;
  p->minsim_min = 0.4;
  p->smooth = 500.0;
  p->minsim_add = 10.0;
  p->burst_mult = 0.0;
  p->burst_min = 10.0;
}

/* ------------------------------------------------------------------------
** Pair-count hash map: open addressing, linear probing, 64-bit keys
** (a << 32 | b with a < b, so key 0 never occurs and marks empty slots).
*/
typedef struct pairmap {
  uint64_t *keys;
  uint32_t *cnt;
  size_t cap, n;  /* cap is a power of two; n <= cap / 2 */
} pairmap;

static void pm_free(pairmap *m) {
  free(m->keys);
  free(m->cnt);
  memset(m, 0, sizeof *m);
}

static int pm_init(pairmap *m, size_t cap) {
  m->cap = cap;
  m->n = 0;
  m->keys = ns_calloc(cap, sizeof *m->keys);
  m->cnt = ns_calloc(cap, sizeof *m->cnt);
  if (!m->keys || !m->cnt) {
    pm_free(m);
    return NS_ENOMEM;
  }
  return 0;
}

static size_t pm_slot(const pairmap *m, uint64_t key) {
  size_t mask = m->cap - 1, i = (size_t)ns_hash64(key) & mask;
  while (m->keys[i] && m->keys[i] != key) i = (i + 1) & mask;
  return i;
}

/* Adds 1 to key's count, inserting it if new; doubles the table when the
** load would exceed 1/2 (rehash in slot order, so growth is deterministic
** too).  Returns 0 or NS_ENOMEM (the map is unchanged on failure). */
static int pm_add(pairmap *m, uint64_t key) {
  size_t i;
  if ((m->n + 1) * 2 > m->cap) {
    pairmap g;
    if (pm_init(&g, m->cap * 2)) return NS_ENOMEM;
    for (size_t k = 0; k < m->cap; k++)
      if (m->keys[k]) {
        size_t j = pm_slot(&g, m->keys[k]);
        g.keys[j] = m->keys[k];
        g.cnt[j] = m->cnt[k];
      }
    g.n = m->n;
    pm_free(m);
    *m = g;
  }
  i = pm_slot(m, key);
  if (!m->keys[i]) {
    m->keys[i] = key;
    m->n++;
  }
  m->cnt[i]++;
  return 0;
}

/* ------------------------------------------------------------------------
** Union-find with the smaller index as root, so the result does not depend
** on the order in which pairs are merged.
*/
/* Root of a, halving the path on the way (parents only move toward the
** smaller-index root, so this never changes which root is found). */
static int32_t uf_find(int32_t *par, int32_t a) {
  while (par[a] != a) {
    par[a] = par[par[a]];
    a = par[a];
  }
  return a;
}

static void uf_union(int32_t *par, int32_t a, int32_t b) {
  a = uf_find(par, a);
  b = uf_find(par, b);
  if (a == b) return;
  if (a < b) par[b] = a;
  else par[a] = b;
}

/* One rating, as sorted for the window scan. */
typedef struct crow {
  int64_t post;
  int64_t time;
  int32_t note;
  int32_t rater;
} crow;

static int cmp_crow(const void *a, const void *b) {
  const crow *x = a, *y = b;
  if (x->post != y->post) return x->post < y->post ? -1 : 1;
  if (x->note != y->note) return x->note < y->note ? -1 : 1;
  if (x->time != y->time) return x->time < y->time ? -1 : 1;
  return (x->rater > y->rater) - (x->rater < y->rater);
}

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

int ns_groups_corate(size_t n_ratings, const int32_t *rater, const int32_t *note,
                     const int64_t *time_ms, const int64_t *post, size_t n_raters,
                     const ns_corate_params *p, int32_t *group_id,
                     ns_corate_stats *stats) {
  ns_corate_params defp;
  ns_corate_stats st;
  crow *rows = NULL;
  int32_t *T = NULL, *par = NULL, *tmp_r = NULL, *qi = NULL;
  NS_VEC(uint64_t) pbuf = {0};
  pairmap pm = {0};
  double N = 0, rho = 0;
  int rc = 0;

  memset(&st, 0, sizeof st);
  if (stats) *stats = st;
  if (!p) {
    ns_corate_params_default(&defp);
    p = &defp;
  }
  if (!group_id || (n_ratings && (!rater || !note || !time_ms)) || p->max_window < 1 ||
      p->window_ms < 0 || n_raters >= INT32_MAX)
    return NS_EINVAL;
  for (size_t u = 0; u < n_raters; u++) group_id[u] = 0;
  for (size_t i = 0; i < n_ratings; i++)
    if (rater[i] < 0 || (size_t)rater[i] >= n_raters || note[i] < 0) return NS_EINVAL;

  rows = ns_mallocn(n_ratings ? n_ratings : 1, sizeof *rows);
  T = ns_calloc(n_raters ? n_raters : 1, sizeof *T);
  par = ns_mallocn(n_raters ? n_raters : 1, sizeof *par);
  tmp_r = ns_mallocn(n_ratings ? n_ratings : 1, sizeof *tmp_r);
  qi = ns_mallocn(n_ratings ? n_ratings : 1, sizeof *qi);
  if (!rows || !T || !par || !tmp_r || !qi || pm_init(&pm, 1024)) {
    rc = NS_ENOMEM;
    goto out;
  }
  for (size_t i = 0; i < n_ratings; i++) {
    rows[i].post = post ? post[i] : note[i];
    rows[i].note = note[i];
    rows[i].time = time_ms[i];
    rows[i].rater = rater[i];
  }
  qsort(rows, n_ratings, sizeof *rows, cmp_crow);

  /* Pass 1: T[a] = distinct posts rated by a; N = sum of T.  The sort put
  ** each post's ratings together, so a post's distinct raters are found by
  ** sorting just that segment's rater ids. */
  for (size_t b = 0, e; b < n_ratings; b = e) {
    size_t m = 0;
    for (e = b; e < n_ratings && rows[e].post == rows[b].post; e++) tmp_r[m++] = rows[e].rater;
    qsort(tmp_r, m, sizeof *tmp_r, cmp_i32);
    for (size_t k = 0; k < m; k++)
      if (k == 0 || tmp_r[k] != tmp_r[k - 1]) {
        T[tmp_r[k]]++;
        N += 1;
      }
  }

  /* Pass 2: pairs inside the window, per post, deduplicated per post. */
  for (size_t b = 0, e; b < n_ratings; b = e) {
    for (e = b; e < n_ratings && rows[e].post == rows[b].post; e++) {}
    pbuf.n = 0;
    for (size_t nb = b, ne; nb < e; nb = ne) {
      size_t m = 0;
      for (ne = nb; ne < e && rows[ne].note == rows[nb].note; ne++)
        if (T[rows[ne].rater] >= p->min_posts) qi[m++] = (int32_t)ne;
      /* qi lists this note's qualifying ratings in time order.  Raters
      ** below min_posts can never form a suspect pair, so they neither
      ** produce pairs nor use up a slot of another rating's window. */
      for (size_t i = 0; i < m; i++) {
        const crow *ri = &rows[qi[i]];
        size_t lim = i + 1 + (size_t)p->max_window;
        for (size_t j = i + 1; j < m && j < lim; j++) {
          const crow *rj = &rows[qi[j]];
          uint32_t a, c;
          if (rj->time - ri->time > p->window_ms) break;
          if (rj->rater == ri->rater) continue;
          a = (uint32_t)NS_MIN(ri->rater, rj->rater);
          c = (uint32_t)NS_MAX(ri->rater, rj->rater);
          st.pair_events++;
          if (ns_vec_push(&pbuf, ((uint64_t)a << 32) | c)) {
            rc = NS_ENOMEM;
            goto out;
          }
        }
      }
    }
    /* Each pair at most once per post.  With post == note a note's raters
    ** are distinct already, but sorting keeps one code path. */
    if (pbuf.n > 1) qsort(pbuf.a, pbuf.n, sizeof *pbuf.a, cmp_u64);
    for (size_t k = 0; k < pbuf.n; k++)
      if (k == 0 || pbuf.a[k] != pbuf.a[k - 1]) {
        if (pm_add(&pm, pbuf.a[k])) {
          rc = NS_ENOMEM;
          goto out;
        }
      }
  }
  st.distinct_pairs = pm.n;

  /* Score pairs and merge suspects.  Hash-slot order is arbitrary, but
  ** the union-find result (the components) does not depend on the order
  ** of unions, and ids are assigned afterwards by smallest member.
  ** co == N would make -ln(co/N) zero; NPMI is then left undefined (-1)
  ** and only the minSim rule can fire -- it only happens on toy inputs. */
  /* Burst criterion: the pair counts' chance level.  If windowed
  ** co-ratings fell on pairs in proportion to their activity, a pair would
  ** expect rho T_a T_b of them.  Sums run in rater / slot order (fixed). */
  if (p->burst_mult > 0) {
    double sum_t = 0, sum_t2 = 0, sum_co = 0, pairs;
    for (size_t u = 0; u < n_raters; u++)
      if (T[u] >= p->min_posts) {
        sum_t += T[u];
        sum_t2 += (double)T[u] * T[u];
      }
    for (size_t k = 0; k < pm.cap; k++)
      if (pm.keys[k]) sum_co += pm.cnt[k];
    pairs = (sum_t * sum_t - sum_t2) / 2;
    rho = pairs > 0 ? sum_co / pairs : 0;
  }
  for (size_t u = 0; u < n_raters; u++) par[u] = (int32_t)u;
  for (size_t k = 0; k < pm.cap; k++) {
    int32_t a, c;
    double co, ta, tb, pmi, npmi = -1, minsim;
    int burst;
    if (!pm.keys[k]) continue;
    a = (int32_t)(pm.keys[k] >> 32);
    c = (int32_t)(pm.keys[k] & 0xffffffffu);
    co = pm.cnt[k];
    ta = T[a];
    tb = T[c];
    pmi = log(co * N / ((ta + p->smooth) * (tb + p->smooth)));
    if (co < N) npmi = pmi / -log(co / N);
    minsim = co / (NS_MIN(ta, tb) + p->minsim_add);
    burst = p->burst_mult > 0 && co >= p->burst_min && co >= p->burst_mult * rho * ta * tb;
    if (npmi >= p->npmi_min || minsim >= p->minsim_min || burst) {
      st.suspect_pairs++;
      uf_union(par, a, c);
    }
  }

  /* Ids: components of >= 2 raters, numbered by smallest member.  The
  ** root is the smallest member, so scanning u upward meets each root
  ** before any other member. */
  {
    int32_t *size = tmp_r; /* reuse: n_ratings may be < n_raters, so realloc */
    if (n_raters > n_ratings) {
      size = ns_calloc(n_raters, sizeof *size);
      if (!size) {
        rc = NS_ENOMEM;
        goto out;
      }
    } else {
      memset(size, 0, n_raters * sizeof *size);
    }
    for (size_t u = 0; u < n_raters; u++) size[uf_find(par, (int32_t)u)]++;
    for (size_t u = 0; u < n_raters; u++) {
      int32_t r = uf_find(par, (int32_t)u);
      if (size[r] < 2) continue;
      if ((size_t)r == u) group_id[u] = (int32_t)++st.n_groups;
      else group_id[u] = group_id[r];
      st.n_grouped++;
    }
    if (size != tmp_r) free(size);
  }
  if (stats) *stats = st;

out:
  if (rc)
    for (size_t u = 0; u < n_raters; u++) group_id[u] = 0;
  free(rows);
  free(T);
  free(par);
  free(tmp_r);
  free(qi);
  ns_vec_free(&pbuf);
  pm_free(&pm);
  return rc;
}

/* ------------------------------------------------------------------------
** One rating per (note, group).
*/
typedef struct drow {
  int32_t note, group, rater;
  int64_t time;
  size_t idx;
} drow;

static int cmp_drow(const void *a, const void *b) {
  const drow *x = a, *y = b;
  if (x->note != y->note) return x->note < y->note ? -1 : 1;
  if (x->group != y->group) return x->group < y->group ? -1 : 1;
  if (x->time != y->time) return x->time < y->time ? -1 : 1;
  if (x->rater != y->rater) return x->rater < y->rater ? -1 : 1;
  return (x->idx > y->idx) - (x->idx < y->idx);
}

int ns_groups_dedup(size_t n_ratings, const int32_t *rater, const int32_t *note,
                    const int64_t *time_ms, size_t n_raters, size_t n_notes,
                    const int32_t *note_author, const int32_t *group_id,
                    uint8_t *drop, size_t *n_dropped) {
  drow *rows = NULL;
  size_t m = 0, nd = 0;
  int rc = 0;

  if (n_dropped) *n_dropped = 0;
  if (!drop || !group_id || (n_ratings && (!rater || !note || !time_ms))) return NS_EINVAL;
  for (size_t i = 0; i < n_ratings; i++) {
    drop[i] = 0;
    if (rater[i] < 0 || (size_t)rater[i] >= n_raters || note[i] < 0 ||
        (size_t)note[i] >= n_notes)
      return NS_EINVAL;
    if (group_id[rater[i]] > 0) m++;
  }
  rows = ns_mallocn(m ? m : 1, sizeof *rows);
  if (!rows) return NS_ENOMEM;
  m = 0;
  for (size_t i = 0; i < n_ratings; i++) {
    int32_t g = group_id[rater[i]], a;
    if (g <= 0) continue;
    /* Members do not rate notes written by their own group. */
    a = note_author ? note_author[note[i]] : -1;
    if (a >= 0 && (size_t)a < n_raters && group_id[a] == g) {
      drop[i] = 1;
      continue;
    }
    rows[m].note = note[i];
    rows[m].group = g;
    rows[m].rater = rater[i];
    rows[m].time = time_ms[i];
    rows[m].idx = i;
    m++;
  }
  /* Sorted by (note, group, time, rater, index): the first row of each
  ** (note, group) run is the earliest rating, which is the one kept. */
  qsort(rows, m, sizeof *rows, cmp_drow);
  for (size_t k = 1; k < m; k++)
    if (rows[k].note == rows[k - 1].note && rows[k].group == rows[k - 1].group)
      drop[rows[k].idx] = 1;
  for (size_t i = 0; i < n_ratings; i++) nd += drop[i];
  if (n_dropped) *n_dropped = nd;
  free(rows);
  return rc;
}
