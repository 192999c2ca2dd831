/*
** graph/null.c -- the null model of honest co-rating shared by the
** coordination test (coord.c) and the quasi-cliques' seed filter
** (qclique.c); collide.h has the formulas, docs/trust.md §6 the reasons.
**
** Who calls it: graph/coord.c and graph/qclique.c, on the caller's thread.
** Cost: two passes over the scope ratings (post homes and value shares),
** O(posts x communities present x C) for Q, one pass over the eligible
** raters' ratings for their mixes; memory C^3 doubles plus one (home,
** share) entry per eligible rater and home it rated.
*/
#include "collide.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Weighted counts of one post per present community and value level. */
typedef struct post_acc {
  double *d;                 /* [C * 3] */
  int32_t *present;          /* communities with a count, first-seen order */
  uint8_t *seen;             /* [C] */
  size_t n_present;
} post_acc;

static void post_collect(const ns__clayout *L, size_t j0, size_t j1, const int32_t *comm,
                         const double *rw, post_acc *a) {
  const ns_bigraph *g = L->g;
  for (size_t j = j0; j < j1; j++) {
    int32_t n = L->scope_note[j];
    for (uint64_t k = g->note_off[n]; k < g->note_off[n + 1]; k++) {
      uint32_t e = ns_bigraph_note_edge(g, k);
      int32_t u = g->edge_rater[e], c = comm[u];
      int lv = ns__clayout_level(L, e, n);
      if (lv < 0) continue;
      if (!a->seen[c]) {
        a->seen[c] = 1;
        a->present[a->n_present++] = c;
      }
      a->d[(size_t)c * 3 + (size_t)lv] += rw ? rw[u] : 1.0;
    }
  }
}

static void post_clear(post_acc *a) {
  for (size_t i = 0; i < a->n_present; i++) {
    int32_t c = a->present[i];
    a->seen[c] = 0;
    a->d[(size_t)c * 3] = a->d[(size_t)c * 3 + 1] = a->d[(size_t)c * 3 + 2] = 0;
  }
  a->n_present = 0;
}

static int cmp_i32(const void *x, const void *y) {
  int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
  return (a > b) - (a < b);
}

void ns__null_detach(ns__null *N, ns__clayout *L) {
  N->T_own = L->T;
  N->T = L->T;
  L->T = NULL;
  N->L = NULL;
}

void ns__null_free(ns__null *N) {
  free(N->T_own);
  free(N->Q);
  free(N->m_off);
  free(N->m_k);
  free(N->m_w);
  memset(N, 0, sizeof *N);
}

int ns__null_build(ns__null *N, const ns__clayout *L, const int32_t *comm, size_t C,
                   const double *rw, double smooth, int values, const uint8_t *need) {
  const ns_bigraph *g = L->g;
  size_t nr = g->n_raters, np = L->n_posts, CC = C * C;
  post_acc a;
  int32_t *home = ns_mallocn(np, sizeof *home);
  double *dpost = ns_mallocn(np, sizeof *dpost);
  double *Dk = ns_calloc(C, sizeof *Dk);
  double *f = ns_mallocn(C * 3, sizeof *f);
  double *base = ns_calloc(C, sizeof *base);
  double *cnt = ns_calloc(C, sizeof *cnt);
  int32_t *touched = ns_mallocn(C, sizeof *touched);
  int rc = NS_ENOMEM;

  memset(N, 0, sizeof *N);
  memset(&a, 0, sizeof a);
  N->L = L;
  N->T = L->T;
  N->C = C;
  N->comm = comm;
  N->Q = ns_calloc(C * CC, sizeof *N->Q);
  N->m_off = ns_calloc(nr + 1, sizeof *N->m_off);
  a.d = ns_calloc(C * 3, sizeof *a.d);
  a.present = ns_mallocn(C, sizeof *a.present);
  a.seen = ns_calloc(C, 1);
  if (!home || !dpost || !Dk || !f || !base || !cnt || !touched || !N->Q || !N->m_off ||
      !a.d || !a.present || !a.seen)
    goto out;

  /* Pass 1: each post's home (ties: smaller community) and weight. */
  for (size_t j0 = 0, j1; j0 < L->n_scope; j0 = j1) {
    int32_t p = L->post_of[j0], best = 0;
    double bw = -1, tot = 0;
    for (j1 = j0 + 1; j1 < L->n_scope && L->post_of[j1] == p; j1++) {}
    post_collect(L, j0, j1, comm, rw, &a);
    for (size_t i = 0; i < a.n_present; i++) {
      int32_t c = a.present[i];
      double w = a.d[(size_t)c * 3] + a.d[(size_t)c * 3 + 1] + a.d[(size_t)c * 3 + 2];
      tot += w;
      if (w > bw || (w == bw && c < best)) bw = w, best = c;
    }
    home[p] = best;
    dpost[p] = tot;
    Dk[best] += tot;
    post_clear(&a);
  }

  /* Pass 2: Q_k[c][c'] += pi_k(p)^2 A_p(c, c').  Communities absent from p
  ** take p's overall shares F, so A_p(c, c') = F.F for most pairs: that
  ** part goes into base[k] once per post, and only pairs with a present
  ** community get a correction. */
  for (size_t j0 = 0, j1; j0 < L->n_scope; j0 = j1) {
    int32_t p = L->post_of[j0], k = home[p];
    double F[3] = {0, 0, 0}, FF, pi2;
    for (j1 = j0 + 1; j1 < L->n_scope && L->post_of[j1] == p; j1++) {}
    if (!(dpost[p] > 0) || !(Dk[k] > 0)) continue;
    pi2 = (dpost[p] / Dk[k]) * (dpost[p] / Dk[k]);
    if (!values) {
      base[k] += pi2;
      continue;
    }
    post_collect(L, j0, j1, comm, rw, &a);
    for (size_t i = 0; i < a.n_present; i++) {
      const double *d = a.d + (size_t)a.present[i] * 3;
      F[0] += d[0], F[1] += d[1], F[2] += d[2];
    }
    F[0] /= dpost[p], F[1] /= dpost[p], F[2] /= dpost[p];
    FF = F[0] * F[0] + F[1] * F[1] + F[2] * F[2];
    base[k] += pi2 * FF;
    for (size_t i = 0; i < a.n_present; i++) {
      int32_t c = a.present[i];
      const double *d = a.d + (size_t)c * 3;
      double dc = d[0] + d[1] + d[2];
      for (int v = 0; v < 3; v++) f[(size_t)c * 3 + (size_t)v] = (d[v] + smooth * F[v]) / (dc + smooth);
    }
    double *Qk = N->Q + (size_t)k * CC;
    for (size_t i = 0; i < a.n_present; i++) {
      int32_t c = a.present[i];
      const double *fc = f + (size_t)c * 3;
      for (size_t c2 = 0; c2 < C; c2++) {
        const double *g2 = a.seen[c2] ? f + c2 * 3 : F;
        double val;
        if (a.seen[c2] && (int32_t)c2 < c) continue; /* the pair is done from c2 */
        val = pi2 * (fc[0] * g2[0] + fc[1] * g2[1] + fc[2] * g2[2] - FF);
        Qk[(size_t)c * C + c2] += val;
        if ((int32_t)c2 != c) Qk[c2 * C + (size_t)c] += val;
      }
    }
    post_clear(&a);
  }
  for (size_t k = 0; k < C; k++)
    for (size_t i = 0; i < CC; i++) N->Q[k * CC + i] += base[k];

  /* The mix over homes of each rater the caller will ask about (need; NULL
  ** = every eligible rater). */
  {
    size_t total = 0;
    for (size_t u = 0; u < nr; u++) {
      size_t nt = 0;
      if (need ? !need[u] : L->T[u] <= L->min_t) continue;
      for (uint64_t q = g->rater_off[u]; q < g->rater_off[u + 1]; q++) {
        int32_t pos = L->note_pos[ns_bigraph_edge_note(g, g->rater_edges[q])];
        int32_t k;
        if (pos < 0) continue;
        k = home[L->post_of[pos]];
        if (cnt[k]++ == 0) touched[nt++] = k;
      }
      total += nt;
      for (size_t i = 0; i < nt; i++) cnt[touched[i]] = 0;
    }
    N->m_k = ns_mallocn(total, sizeof *N->m_k);
    N->m_w = ns_mallocn(total, sizeof *N->m_w);
    if (!N->m_k || !N->m_w) goto out;
  }
  for (size_t u = 0; u < nr; u++) {
    size_t nt = 0;
    double sum = 0;
    N->m_off[u + 1] = N->m_off[u];
    if (need ? !need[u] : L->T[u] <= L->min_t) continue;
    /* Shares of the rater's scope ratings (a post with several notes of
    ** the rater counts once per note: it only moves a little mass between
    ** homes the rater does rate). */
    for (uint64_t q = g->rater_off[u]; q < g->rater_off[u + 1]; q++) {
      int32_t pos = L->note_pos[ns_bigraph_edge_note(g, g->rater_edges[q])];
      int32_t k;
      if (pos < 0) continue;
      k = home[L->post_of[pos]];
      if (cnt[k] == 0) touched[nt++] = k;
      cnt[k] += 1;
      sum += 1;
    }
    qsort(touched, nt, sizeof *touched, cmp_i32); /* homes ascending: merge in expect */
    for (size_t i = 0; i < nt; i++) {
      uint32_t o = N->m_off[u + 1]++;
      N->m_k[o] = touched[i];
      N->m_w[o] = cnt[touched[i]] / sum;
      cnt[touched[i]] = 0;
    }
  }
  rc = 0;
out:
  if (rc) ns__null_free(N);
  free(home);
  free(dpost);
  free(Dk);
  free(f);
  free(base);
  free(cnt);
  free(touched);
  free(a.d);
  free(a.present);
  free(a.seen);
  return rc;
}

int ns__null_communities(size_t nr, const int32_t *community, int32_t *comm, size_t *C) {
  int32_t mx = -1;
  if (!community) {
    for (size_t u = 0; u < nr; u++) comm[u] = 0;
    *C = 1;
    return 0;
  }
  for (size_t u = 0; u < nr; u++) mx = community[u] > mx ? community[u] : mx;
  if (mx >= NS__NULL_MAX_COMMUNITY) return NS_EINVAL;
  *C = (size_t)mx + 2;
  for (size_t u = 0; u < nr; u++) comm[u] = community[u] >= 0 ? community[u] : (int32_t)(*C - 1);
  return 0;
}

double ns__null_expect(const ns__null *N, int32_t a, int32_t b) {
  size_t C = N->C;
  uint32_t i = N->m_off[a], ie = N->m_off[a + 1], j = N->m_off[b], je = N->m_off[b + 1];
  size_t cc = (size_t)N->comm[a] * C + (size_t)N->comm[b];
  double s = 0;
  while (i < ie && j < je) { /* both mixes list their homes ascending */
    if (N->m_k[i] < N->m_k[j]) i++;
    else if (N->m_k[i] > N->m_k[j]) j++;
    else {
      s += N->m_w[i] * N->m_w[j] * N->Q[(size_t)N->m_k[i] * C * C + cc];
      i++, j++;
    }
  }
  return (double)N->T[a] * (double)N->T[b] * s;
}
