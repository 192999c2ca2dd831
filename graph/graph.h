/*
** graph/graph.h -- the bipartite rater-note graph, trust propagation and
** coordinated-group detection.
**
** The bigraph is CSR in both directions over dense indexes: raters
** 0..n_raters-1 and notes 0..n_notes-1, one edge per rating.  Edge e is the
** e-th rating given to ns_bigraph_build(); by_rater / by_note list edge ids
** so callers keep their per-rating columns (values, weights) in input order.
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
  const int32_t *edge_note;    /* per edge: note index (borrowed from caller) */
  /* rater -> edges: edges of rater u are rater_edges[rater_off[u] .. rater_off[u+1]),
  ** in increasing edge id */
  uint64_t *rater_off;         /* n_raters + 1 */
  uint32_t *rater_edges;       /* n_edges */
  /* note -> edges, likewise */
  uint64_t *note_off;          /* n_notes + 1 */
  uint32_t *note_edges;        /* n_edges */
} ns_bigraph;

/* Builds the CSR indexes by counting sort (O(n_edges), stable).  edge_rater
** and edge_note are borrowed: they must outlive the graph.  Every index must
** be in range (NS_EINVAL otherwise).  n_edges < 2^32. */
int ns_bigraph_build(size_t n_raters, size_t n_notes, size_t n_edges,
                     const int32_t *edge_rater, const int32_t *edge_note,
                     ns_bigraph **out);
void ns_bigraph_free(ns_bigraph *g);

static inline uint64_t ns_bigraph_rater_degree(const ns_bigraph *g, size_t u) {
  return g->rater_off[u + 1] - g->rater_off[u];
}
static inline uint64_t ns_bigraph_note_degree(const ns_bigraph *g, size_t n) {
  return g->note_off[n + 1] - g->note_off[n];
}

#endif /* NS_GRAPH_H */
