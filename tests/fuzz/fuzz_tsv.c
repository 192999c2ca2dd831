/*
** tests/fuzz/fuzz_tsv.c -- libFuzzer target for the public-TSV reader.
**
** The first input byte picks the simulated read-block size (so records
** straddle blocks at every offset) and strict mode; the rest is the file.
** Each input is loaded into a fresh dataset through the in-memory entry
** point ns_tsv_load_mem(), then normalized; the reader must never crash,
** leak or read out of bounds, and the row counts must add up.
**
**   make fuzz                      (builds with clang, runs FUZZ_SECONDS)
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../base/dataset.h"
#include "../../store/store.h"

static void sink(void *ctx, const char *msg) {
  /* messages must be NUL-terminated and bounded */
  size_t *n = ctx;
  *n += strlen(msg) > 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const size_t blocks[] = {1, 2, 3, 5, 16, 64, 4096, 0};
  ns_dataset *ds;
  ns_load_stats st;
  size_t nmsg = 0;
  ns_load_opts o = {0, sink, &nmsg, NULL};
  if (size < 1) return 0;
  o.strict = data[0] & 1;
  if (ns_dataset_new(&ds) != 0) return 0;
  int rc = ns_tsv_load_mem("fuzz.tsv", data + 1, size - 1, blocks[(data[0] >> 1) & 7], ds, &o, &st);
  /* strict failures report rows_ok = 0: nothing of the file was kept */
  if (!(o.strict && rc) && st.rows_ok + st.rows_rejected != st.rows_read) abort();
  if (rc == 0 && st.rows_rejected != 0 && o.strict) abort();
  if (o.strict && rc != 0 && (ds->n_ratings || ds->n_notes || ds->n_history || ds->n_enrollment))
    abort();
  if (ds->n_ratings + ds->n_notes + ds->n_history + ds->n_enrollment != (o.strict && rc ? 0 : st.rows_ok))
    abort();
  ns_dataset_normalize(ds);
  ns_dataset_free(ds);
  return 0;
}
