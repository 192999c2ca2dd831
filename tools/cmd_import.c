/*
** tools/cmd_import.c -- `notescore import --db DB [--strict] FILE_OR_DIR...`
**
** Imports public-format TSV files into the SQLite store (created when
** absent).  Each file's kind comes from its header; a directory means every
** *.tsv in it, in name order.  Every argument is checked first (exists,
** known kind, not given twice; tools/cli_util.c); files may be gzip or
** zip (store/source.c) and '-' is stdin.  Rejected rows are
** reported like `score` does (ns_cli_reject: the first 20, then a count per
** file; all with -v), then one summary line per file and an overall line.
** Exit status: 0 ok (rejected rows alone do not fail the import), 1 when a
** file failed (file-level error, or any bad row with --strict), 2 usage.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../store/store.h"
#include "cli.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: notescore import --db DB [--strict] [-v] FILE_OR_DIR...\n"
          "\n"
          "Imports public Community Notes TSV files (notes, ratings, noteStatusHistory,\n"
          "userEnrollment; kind detected from the header) into the SQLite DB, creating it\n"
          "if needed.  A file may be plain, gzip'd (.gz) or a zip holding one file (as\n"
          "the public download ships them); '-' reads standard input.  A directory\n"
          "imports every *.tsv, *.tsv.gz and *.zip in it, in name order, skipping with a\n"
          "warning any that is empty or not a public TSV.  Rows are upserted: importing\n"
          "the same files twice changes nothing.  No rows in any input is an error.\n"
          "\n"
          "options:\n"
          "  --db DB      the database file (required)\n"
          "  --strict     a file with any bad row is rejected entirely (rolled back)\n"
          "  -v, --verbose  print every rejected row (else the first 20, then a count)\n"
          "\n"
          "Checked before anything is imported: every file exists and has a known kind,\n"
          "no file is given twice, a directory has input files, DB is a notescore DB.\n"
          "A truncated or corrupt .gz/.zip fails its file (rolled back) naming where.\n"
          "  -h, --help     this help\n"
          "  -V, --version  print the version\n");
}

int ns_cmd_import(int argc, char **argv) {
  const char *db = NULL;
  int strict = 0, nfiles = 0, failed = 0, rc;
  ns_cli_input in[256];
  ns_store *s = NULL;
  ns_cli_rejects rj = {0};
  unsigned long long tot_read = 0, tot_ok = 0, tot_rej = 0, tot_ratings = 0;
  double t0;
  enum { O_DB = 1, O_STRICT, O_VERBOSE };
  static const ns_opt opts[] = {{"db", 0, 1, O_DB},
                                {"strict", 0, 0, O_STRICT},
                                {"verbose", 'v', 0, O_VERBOSE},
                                {0, 0, 0, 0}};
  ns_args a;
  int c;

  ns_args_init(&a, "import", opts, usage, argc, argv);
  while ((c = ns_args_next(&a)) != NS_ARGS_END) {
    switch (c) {
    case NS_ARGS_EXIT: return a.status;
    case O_DB: db = a.val; break;
    case O_STRICT: strict = 1; break;
    case O_VERBOSE: rj.verbose = 1; break;
    case NS_ARGS_ARG:
      if (nfiles == (int)NS_ARRAY_LEN(in)) {
        ns_args_error(&a, "too many arguments (at most %d)", (int)NS_ARRAY_LEN(in));
        return 2;
      }
      in[nfiles++] = (ns_cli_input){a.val, "an argument", NS_FILE_UNKNOWN, NULL, 0};
      break;
    }
  }
  if (!db || nfiles == 0) {
    ns_args_error(&a, "%s", !db ? "--db DB is required" : "no FILE_OR_DIR to import");
    return 2;
  }
  /* every input mistake is found before the DB is touched */
  if (ns_cli_check_db(db, 0) != 0 || ns_cli_check_inputs(in, (size_t)nfiles) != 0) {
    ns_cli_inputs_free(in, (size_t)nfiles);
    return 1;
  }
  if ((rc = ns_store_open(db, NS_STORE_CREATE, &s)) != 0) {
    fprintf(stderr, "notescore: %s: cannot open database: %s\n", db, ns_strerror(rc));
    ns_cli_inputs_free(in, (size_t)nfiles);
    return 1;
  }
  t0 = ns_monotonic_s();
  for (int k = 0; k < nfiles; k++) {
    for (size_t i = 0; i < in[k].n_files; i++) {
      const char *file = in[k].files[i];
      ns_progress pg;
      struct stat sb;
      ns_load_stats st;
      ns_load_opts o = {strict, ns_cli_reject, &rj, &pg};
      const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
      memset(&st, 0, sizeof st);
      ns_progress_start(&pg, base, stat(file, &sb) == 0 ? (uint64_t)sb.st_size : 0);
      ns_cli_rejects_begin(&rj);
      rc = ns_store_import(s, file, &o, &st);
      ns_progress_finish(&pg);
      ns_cli_rejects_end(&rj, file);
      printf("%s: %s, %llu read, %llu imported, %llu rejected%s\n", base,
             ns_file_kind_name(st.kind), (unsigned long long)st.rows_read,
             (unsigned long long)st.rows_ok, (unsigned long long)st.rows_rejected,
             rc ? strict && rc == NS_EPARSE ? " (FAILED: strict, nothing kept)" : " (FAILED)"
             : st.rows_read > 0 && st.rows_ok == 0 ? " (FAILED: no row imported)" : "");
      if (rc || (st.rows_read > 0 && st.rows_ok == 0)) {
        failed = 1;
        if (!rc) fprintf(stderr, "notescore: %s: no row could be imported\n", file);
      }
      tot_read += st.rows_read;
      tot_ok += st.rows_ok;
      tot_rej += st.rows_rejected;
      if (st.kind == NS_FILE_RATINGS) tot_ratings += st.rows_ok;
    }
  }
  {
    double dt = ns_monotonic_s() - t0;
    printf("total: %llu read, %llu imported, %llu rejected in %.2f s (%.0f rows/s, %.0f ratings/s)\n",
           tot_read, tot_ok, tot_rej, dt, dt > 0 ? (double)tot_ok / dt : 0.0,
           dt > 0 ? (double)tot_ratings / dt : 0.0);
  }
  if (!failed && tot_read == 0) {
    /* header-only files everywhere: an input mistake, not a silent no-op */
    fprintf(stderr, "notescore: import: no rows in any input (every file is header-only)\n");
    failed = 1;
  }
  ns_store_close(s);
  ns_cli_inputs_free(in, (size_t)nfiles);
  return failed ? 1 : 0;
}
