/*
** factorization/spd.c -- the small symmetric positive definite solves of
** the fits: an in-house Cholesky and LAPACKE's dposv, and the switch
** between them (mf.h states the contract).
**
** Every solve here is tiny (n <= NS_MF_MAX_K + 1 = 9) and there are
** millions of them per fit, one per row and pass, issued concurrently from
** the pool's threads.  Two things decide how they run:
**
** * Which OpenBLAS.  Every dpotrf/dtrsm call of OpenBLAS 0.3.21 takes a
**   work buffer from blas_memory_alloc.  The pthread build (Debian's
**   default alternative) guards that table with one global mutex, so two
**   threads solving at once queue on it and run several times slower than
**   one; the serial build is not safe for concurrent callers at all (we
**   measured wrong solutions).  The Makefile therefore links the OpenMP
**   build (libopenblas-openmp-dev, its own directory, found through a
**   DT_RPATH that also covers liblapacke's liblapack.so.3), which locks one
**   buffer slot at a time.  We never want OpenBLAS's own threads here (each
**   system is 9x9 at most and the pool already uses every core), so the
**   first LAPACK call sets its thread count to 1.
**
** * Which routine.  LAPACKE_dposv_work in column-major order: the _work
**   variant does no allocation and no NaN scan of its own, and column-major
**   needs no transposed copy.  Our matrices are row-major with the lower
**   triangle filled, which column-major reads as the upper triangle of the
**   same symmetric matrix, so we pass 'U'; dpotrf leaves U = L^T there,
**   i.e. the row-major lower triangle holds L, as the in-house routine does.
**
** n <= 2 (every solve at the default k = 1) always takes the in-house path:
** it is about ten times faster at that size, and it keeps the k = 1 results
** bit-identical to every earlier release.  At 5x5..9x9 the in-house routine
** is still faster per solve (docs/factorization.md has the numbers);
** NS_MF_SOLVER=inhouse selects it for every n.
*/
#include "mf.h"

#include <lapacke.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* OpenBLAS extension (declared here so no cblas.h variant is needed). */
void openblas_set_num_threads(int num_threads);

int ns_mf_chol_solve(int n, double *A, double *b) {
  if (n < 1 || n > NS_MF_MAX_K + 1 || !A || !b) return NS_EINVAL;
  for (int j = 0; j < n; j++) {
    double d = A[j * n + j];
    for (int p = 0; p < j; p++) d -= A[j * n + p] * A[j * n + p];
    if (!(d > 0)) return NS_ERANGE;
    d = sqrt(d);
    A[j * n + j] = d;
    for (int i = j + 1; i < n; i++) {
      double v = A[i * n + j];
      for (int p = 0; p < j; p++) v -= A[i * n + p] * A[j * n + p];
      A[i * n + j] = v / d;
    }
  }
  for (int i = 0; i < n; i++) { /* L y = b */
    double v = b[i];
    for (int p = 0; p < i; p++) v -= A[i * n + p] * b[p];
    b[i] = v / A[i * n + i];
  }
  for (int i = n - 1; i >= 0; i--) { /* L^T x = y */
    double v = b[i];
    for (int p = i + 1; p < n; p++) v -= A[p * n + i] * b[p];
    b[i] = v / A[i * n + i];
  }
  return 0;
}

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void blas_init(void) { openblas_set_num_threads(1); }

int ns_mf_lapack_solve(int n, double *A, double *b) {
  lapack_int info;
  if (n < 1 || n > NS_MF_MAX_K + 1 || !A || !b) return NS_EINVAL;
  pthread_once(&blas_once, blas_init);
  info = LAPACKE_dposv_work(LAPACK_COL_MAJOR, 'U', n, 1, A, n, b, n);
  if (info > 0) return NS_ERANGE; /* leading minor info is not positive definite */
  if (info < 0) return NS_ELAPACK; /* argument info was rejected: a bug here */
  /* OpenBLAS's dpotrf tests a pivot only for <= 0, so a NaN one passes as
  ** a NaN factor; the in-house routine rejects it, and so do we. */
  for (int i = 0; i < n; i++)
    if (!(A[i * n + i] > 0)) return NS_ERANGE;
  return 0;
}

/* The solver choice: NS_MF_SOLVER_AUTO until the first read, which
** resolves it from the environment. */
static atomic_int solver_choice = NS_MF_SOLVER_AUTO;

static int solver_from_env(void) {
  const char *e = getenv("NS_MF_SOLVER");
  if (e && strcmp(e, "inhouse") == 0) return NS_MF_SOLVER_INHOUSE;
  if (e && *e && strcmp(e, "lapack") != 0)
    ns_warn("NS_MF_SOLVER=%s not understood (lapack or inhouse); using lapack", e);
  return NS_MF_SOLVER_LAPACK;
}

int ns_mf_solver(void) {
  int s = atomic_load_explicit(&solver_choice, memory_order_relaxed);
  if (s == NS_MF_SOLVER_AUTO) {
    int want = solver_from_env(), expect = NS_MF_SOLVER_AUTO;
    /* a racing first reader computed the same value; either store wins */
    atomic_compare_exchange_strong(&solver_choice, &expect, want);
    s = atomic_load_explicit(&solver_choice, memory_order_relaxed);
  }
  return s;
}

int ns_mf_set_solver(int solver) {
  if (solver != NS_MF_SOLVER_AUTO && solver != NS_MF_SOLVER_LAPACK &&
      solver != NS_MF_SOLVER_INHOUSE)
    return NS_EINVAL;
  atomic_store(&solver_choice, solver == NS_MF_SOLVER_AUTO ? solver_from_env() : solver);
  return 0;
}

int ns_mf_spd_solve(int n, double *A, double *b) {
  if (n <= 2 || ns_mf_solver() == NS_MF_SOLVER_INHOUSE) return ns_mf_chol_solve(n, A, b);
  return ns_mf_lapack_solve(n, A, b);
}
