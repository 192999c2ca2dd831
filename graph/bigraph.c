/*
** graph/bigraph.c -- CSR construction for the rater-note bigraph.  The
** note side is left implicit (note_edges and edge_note NULL) when the
** edges come in note order, as a scoring run's do: the list would be the
** identity and the note column follows from note_off, 8 bytes per rating
** for nothing (docs/architecture.md, "Memory of a scoring run").
*/
#include "graph.h"

#include <stdlib.h>

void ns_bigraph_free(ns_bigraph *g) {
  if (!g) return;
  free(g->rater_off);
  free(g->rater_edges);
  free(g->note_off);
  free(g->note_edges);
  free(g->note_sample);
  free(g);
}

void ns_bigraph_drop_rater_edges(ns_bigraph *g) {
  if (!g) return;
  free(g->rater_edges);
  g->rater_edges = NULL;
}

/* Counting sort of edge ids by key[e] into off/edges (stable: ids ascend).
** edges NULL: the offsets only (keys sorted, the ids are the identity). */
static void csr(size_t nkeys, size_t n, const int32_t *key, uint64_t *off, uint32_t *edges) {
  for (size_t i = 0; i <= nkeys; i++) off[i] = 0;
  for (size_t e = 0; e < n; e++) off[key[e] + 1]++;
  for (size_t i = 0; i < nkeys; i++) off[i + 1] += off[i];
  if (!edges) return;
  /* place, then shift offsets back */
  for (size_t e = 0; e < n; e++) edges[off[key[e]]++] = (uint32_t)e;
  for (size_t i = nkeys; i > 0; i--) off[i] = off[i - 1];
  off[0] = 0;
}

/* The sampled notes of an implicit note side (graph.h note_sample). */
static int sample_notes(ns_bigraph *g) {
  size_t nb = g->n_edges ? ((g->n_edges - 1) >> NS_BIGRAPH_SAMPLE_SHIFT) + 1 : 0, n = 0;
  g->note_sample = ns_mallocn(nb + 1, sizeof *g->note_sample);
  if (!g->note_sample) return NS_ENOMEM;
  g->note_sample[0] = 0;
  for (size_t b = 0; b < nb; b++) {
    size_t e = b << NS_BIGRAPH_SAMPLE_SHIFT;
    while (g->note_off[n + 1] <= e) n++;
    g->note_sample[b] = (uint32_t)n;
  }
  if (nb) {
    while (g->note_off[n + 1] <= g->n_edges - 1) n++;
    g->note_sample[nb] = (uint32_t)n;
  }
  return 0;
}

/* A graph with its rater side and note_off allocated (note_edges too when
** the edges are not in note order); NULL when out of memory. */
static ns_bigraph *graph_alloc(size_t n_raters, size_t n_notes, size_t n_edges,
                               const int32_t *edge_rater, int note_sorted) {
  ns_bigraph *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  g->n_raters = n_raters;
  g->n_notes = n_notes;
  g->n_edges = n_edges;
  g->edge_rater = edge_rater;
  g->rater_off = ns_mallocn(n_raters + 1, sizeof *g->rater_off);
  g->note_off = ns_mallocn(n_notes + 1, sizeof *g->note_off);
  g->rater_edges = ns_mallocn(n_edges, sizeof *g->rater_edges);
  g->note_edges = note_sorted ? NULL : ns_mallocn(n_edges, sizeof *g->note_edges);
  if (!g->rater_off || !g->note_off || !g->rater_edges || (!note_sorted && !g->note_edges)) {
    ns_bigraph_free(g);
    return NULL;
  }
  return g;
}

int ns_bigraph_build(size_t n_raters, size_t n_notes, size_t n_edges,
                     const int32_t *edge_rater, const int32_t *edge_note,
                     ns_bigraph **out) {
  ns_bigraph *g;
  int note_sorted = 1;
  *out = NULL;
  if (n_edges >= UINT32_MAX) return NS_ERANGE;
  for (size_t e = 0; e < n_edges; e++) {
    if (edge_rater[e] < 0 || (size_t)edge_rater[e] >= n_raters || edge_note[e] < 0 ||
        (size_t)edge_note[e] >= n_notes)
      return NS_EINVAL;
    if (e && edge_note[e] < edge_note[e - 1]) note_sorted = 0;
  }
  /* edges sorted by note: the stable counting sort would place them where
  ** they are, so note n's edge ids are note_off[n] .. note_off[n+1] */
  if (!(g = graph_alloc(n_raters, n_notes, n_edges, edge_rater, note_sorted))) return NS_ENOMEM;
  csr(n_raters, n_edges, edge_rater, g->rater_off, g->rater_edges);
  csr(n_notes, n_edges, edge_note, g->note_off, g->note_edges);
  if (note_sorted) {
    if (sample_notes(g) != 0) {
      ns_bigraph_free(g);
      return NS_ENOMEM;
    }
  } else {
    g->edge_note = edge_note;
  }
  *out = g;
  return 0;
}

int ns_bigraph_build_ordered(size_t n_raters, size_t n_notes, size_t n_edges,
                             const int32_t *edge_rater, const int32_t *note_degree,
                             ns_bigraph **out) {
  ns_bigraph *g;
  uint64_t sum = 0;
  *out = NULL;
  if (n_edges >= UINT32_MAX) return NS_ERANGE;
  for (size_t e = 0; e < n_edges; e++)
    if (edge_rater[e] < 0 || (size_t)edge_rater[e] >= n_raters) return NS_EINVAL;
  for (size_t n = 0; n < n_notes; n++) {
    if (note_degree[n] < 0) return NS_EINVAL;
    sum += (uint64_t)note_degree[n];
  }
  if (sum != n_edges) return NS_EINVAL;
  if (!(g = graph_alloc(n_raters, n_notes, n_edges, edge_rater, 1))) return NS_ENOMEM;
  csr(n_raters, n_edges, edge_rater, g->rater_off, g->rater_edges);
  g->note_off[0] = 0;
  for (size_t n = 0; n < n_notes; n++) g->note_off[n + 1] = g->note_off[n] + (uint64_t)note_degree[n];
  if (sample_notes(g) != 0) {
    ns_bigraph_free(g);
    return NS_ENOMEM;
  }
  *out = g;
  return 0;
}
