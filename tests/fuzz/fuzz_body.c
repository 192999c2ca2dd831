/*
** tests/fuzz/fuzz_body.c -- libFuzzer target for the ingest body parsers
** (server/body.c).  The first byte picks the row kind and the format; the
** rest is the body.  Checks the invariants every caller relies on: rows +
** rejects never exceed the lines, every accepted id is a NUL-terminated
** string inside the arena, and the JSON answer can be built.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../server/server_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const int kinds[3] = {NS_FILE_RATINGS, NS_FILE_NOTES, NS_FILE_ENROLLMENT};
  ns__batch b;
  char *resp, *copy;
  size_t lines = 1;
  if (size < 1) return 0;
  memset(&b, 0, sizeof b);
  /* an exact-size copy, so ASan catches any read past the end */
  copy = malloc(size - 1 ? size - 1 : 1);
  if (!copy) return 0;
  memcpy(copy, data + 1, size - 1);
  for (size_t i = 0; i + 1 < size; i++) lines += copy[i] == '\n';
  if (ns__body_parse(&b, kinds[data[0] % 3], data[0] & 4 ? NS_BODY_TSV : NS_BODY_NDJSON,
                     copy, size - 1) == 0) {
    if (ns__batch_rows(&b) + b.n_rejected > lines) abort();
    for (size_t i = 0; i < b.ratings.n; i++)
      if (b.ratings.a[i].rater < b.arena || b.ratings.a[i].rater >= b.arena + b.arena_n ||
          strlen(b.ratings.a[i].rater) == 0)
        abort();
    resp = ns__ingest_response(&b, ns__batch_rows(&b));
    free(resp);
  }
  ns__batch_free(&b);
  free(copy);
  return 0;
}
