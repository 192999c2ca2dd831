/*
** tools/cmd_export.c -- `notescore export --db DB -o DIR`: writes the DB's
** input tables back as the four public TSV files (notes-00000.tsv,
** ratings-00000.tsv, noteStatusHistory-00000.tsv, userEnrollment-00000.tsv)
** from one consistent snapshot.  Columns notescore does not store are
** written empty (see docs/schema.md).
*/
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../store/store.h"
#include "cli.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: notescore export --db DB -o DIR\n"
          "\n"
          "Writes the notes, ratings, status history and enrollment stored in DB to DIR\n"
          "in the public TSV layouts (one consistent snapshot; rows sorted by key).\n"
          "\n"
          "options:\n"
          "  --db DB        the database file (required)\n"
          "  -o, --out DIR  output directory, created if needed (required)\n"
          "  -h, --help     this help\n"
          "  -V, --version  print the version\n");
}

int ns_cmd_export(int argc, char **argv) {
  const char *db = NULL, *out = NULL;
  ns_store *s = NULL;
  ns_dataset *ds = NULL;
  int rc, created = 0;
  double t0;
  enum { O_DB = 1, O_OUT };
  static const ns_opt opts[] = {{"db", 0, 1, O_DB}, {"out", 'o', 1, O_OUT}, {0, 0, 0, 0}};
  ns_args a;
  int c;

  ns_args_init(&a, "export", opts, usage, argc, argv);
  while ((c = ns_args_next(&a)) != NS_ARGS_END) {
    switch (c) {
    case NS_ARGS_EXIT: return a.status;
    case NS_ARGS_ARG: ns_args_unexpected(&a); return 2;
    case O_DB: db = a.val; break;
    case O_OUT: out = a.val; break;
    }
  }
  if (!db || !out) {
    ns_args_error(&a, "%s", !db ? "--db DB is required" : "-o DIR is required");
    return 2;
  }
  /* the DB and the output directory are checked before the snapshot */
  if (ns_cli_check_db(db, 1) != 0 || ns_cli_prepare_outdir(out, &created) != 0) return 1;
  t0 = ns_monotonic_s();
  if ((rc = ns_store_open(db, NS_STORE_READONLY, &s)) != 0) {
    fprintf(stderr, "notescore: %s: cannot open database: %s\n", db, ns_strerror(rc));
    if (created) rmdir(out);
    return 1;
  }
  if ((rc = ns_store_snapshot(s, &ds)) != 0) {
    fprintf(stderr, "notescore: %s: %s (%s)\n", db, ns_strerror(rc), ns_store_errmsg(s));
    ns_store_close(s);
    if (created) rmdir(out);
    return 1;
  }
  ns_store_close(s);
  if ((rc = ns_tsv_export(ds, out)) != 0) {
    fprintf(stderr, "notescore: %s: cannot write: %s\n", out, ns_strerror(rc));
    ns_dataset_free(ds);
    if (created) rmdir(out);
    return 1;
  }
  printf("exported %zu notes, %zu ratings, %zu status rows, %zu enrollment rows to %s in %.2f s\n",
         ds->n_notes, ds->n_ratings, ds->n_history, ds->n_enrollment, out,
         ns_monotonic_s() - t0);
  ns_dataset_free(ds);
  return 0;
}
