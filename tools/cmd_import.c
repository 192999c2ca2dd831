/*
** tools/cmd_import.c -- `notescore import --db DB [--strict] FILE_OR_DIR...`
**
** Imports public-format TSV files into the SQLite store (created when
** absent).  Each file's kind comes from its header; a directory means every
** *.tsv in it, in name order.  Prints the first 20 rejected rows, then one
** summary line per file and an overall line with time and rate.
** Exit status: 0 ok (rejected rows alone do not fail the import), 1 when a
** file failed (file-level error, or any bad row with --strict), 2 usage.
*/
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../store/store.h"
#include "cli.h"

#define MAX_SHOWN 20

typedef struct rep {
  unsigned long long n;   /* messages seen */
} rep;

static void report(void *ctx, const char *msg) {
  rep *r = ctx;
  if (r->n++ < MAX_SHOWN) fprintf(stderr, "notescore: %s\n", msg);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: notescore import --db DB [--strict] FILE_OR_DIR...\n"
          "\n"
          "Imports public Community Notes TSV files (notes, ratings, noteStatusHistory,\n"
          "userEnrollment; kind detected from the header) into the SQLite DB, creating it\n"
          "if needed.  A directory imports every *.tsv in it, in name order.  Rows are\n"
          "upserted: importing the same files twice changes nothing.\n"
          "\n"
          "options:\n"
          "  --db DB      the database file (required)\n"
          "  --strict     a file with any bad row is rejected entirely (rolled back)\n"
          "  -h, --help   this help\n");
}

int ns_cmd_import(int argc, char **argv) {
  const char *db = NULL;
  int strict = 0, nfiles = 0, failed = 0, rc;
  const char *args[256];
  ns_store *s = NULL;
  rep r = {0};
  unsigned long long tot_read = 0, tot_ok = 0, tot_rej = 0, tot_ratings = 0;
  double t0;

  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[i], "--db")) {
      if (++i >= argc) { fprintf(stderr, "notescore: --db needs a value\n"); return 2; }
      db = argv[i];
    } else if (!strncmp(argv[i], "--db=", 5)) {
      db = argv[i] + 5;
    } else if (!strcmp(argv[i], "--strict")) {
      strict = 1;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "notescore: import: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    } else if (nfiles < (int)NS_ARRAY_LEN(args)) {
      args[nfiles++] = argv[i];
    } else {
      fprintf(stderr, "notescore: import: too many arguments\n");
      return 2;
    }
  }
  if (!db || nfiles == 0) {
    usage(stderr);
    return 2;
  }
  if ((rc = ns_store_open(db, NS_STORE_CREATE, &s)) != 0) {
    fprintf(stderr, "notescore: %s: cannot open database: %s\n", db, ns_strerror(rc));
    return 1;
  }
  t0 = ns_monotonic_s();
  for (int a = 0; a < nfiles; a++) {
    char **list = NULL;
    size_t n = 0;
    if ((rc = ns_tsv_list(args[a], &list, &n)) != 0) {
      fprintf(stderr, "notescore: %s: %s\n", args[a], ns_strerror(rc));
      failed = 1;
      continue;
    }
    if (n == 0) fprintf(stderr, "notescore: %s: no *.tsv files\n", args[a]);
    for (size_t i = 0; i < n; i++) {
      ns_progress pg;
      struct stat sb;
      ns_load_stats st;
      ns_load_opts o = {strict, report, &r, &pg};
      const char *base = strrchr(list[i], '/') ? strrchr(list[i], '/') + 1 : list[i];
      unsigned long long before = r.n;
      ns_progress_start(&pg, base, stat(list[i], &sb) == 0 ? (uint64_t)sb.st_size : 0);
      rc = ns_store_import(s, list[i], &o, &st);
      ns_progress_finish(&pg);
      if (r.n - before > MAX_SHOWN && before < MAX_SHOWN)
        fprintf(stderr, "notescore: %s: %llu more problems not shown\n", base,
                r.n - before - (MAX_SHOWN - before));
      printf("%s: %s, %llu read, %llu imported, %llu rejected%s\n", base,
             ns_file_kind_name(st.kind), (unsigned long long)st.rows_read,
             (unsigned long long)st.rows_ok, (unsigned long long)st.rows_rejected,
             rc ? strict && rc == NS_EPARSE ? " (FAILED: strict, nothing kept)" : " (FAILED)" : "");
      if (rc) failed = 1;
      tot_read += st.rows_read;
      tot_ok += st.rows_ok;
      tot_rej += st.rows_rejected;
      if (st.kind == NS_FILE_RATINGS) tot_ratings += st.rows_ok;
    }
    ns_tsv_list_free(list, n);
  }
  {
    double dt = ns_monotonic_s() - t0;
    printf("total: %llu read, %llu imported, %llu rejected in %.2f s (%.0f rows/s, %.0f ratings/s)\n",
           tot_read, tot_ok, tot_rej, dt, dt > 0 ? (double)tot_ok / dt : 0.0,
           dt > 0 ? (double)tot_ratings / dt : 0.0);
  }
  ns_store_close(s);
  return failed ? 1 : 0;
}
