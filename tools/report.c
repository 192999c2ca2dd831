/*
** tools/report.c -- opening the score DB for the read-only subcommands
** (explain, report) and small formatting helpers; see report.h.
*/
#include "report.h"

#include <stdio.h>
#include <time.h>

#include "../store/store.h"
#include "cli.h"

int ns_cli_open_reader(const char *path, ns_reader **db) {
  ns_store *s = NULL;
  int rc;
  *db = NULL;
  /* not a DB, a directory, a newer schema: said plainly, naming the file */
  if (ns_cli_check_db(path, 1) != 0) return 1;
  /* A writer open migrates (v1 -> v2) and proves the file is a notescore
  ** DB; it is closed again at once: everything after is read-only. */
  rc = ns_store_open(path, 0, &s);
  if (rc != 0 && rc != NS_ENOTFOUND && rc != NS_ESCHEMA)
    rc = ns_store_open(path, NS_STORE_READONLY, &s); /* e.g. a read-only file */
  if (rc != 0) {
    fprintf(stderr, "notescore: %s: cannot open database: %s\n", path,
            rc == NS_ENOTFOUND ? "no such file" : ns_strerror(rc));
    return 1;
  }
  ns_store_close(s);
  if ((rc = ns_reader_open(path, db)) != 0) {
    fprintf(stderr, "notescore: %s: cannot open database: %s\n", path, ns_strerror(rc));
    return 1;
  }
  return 0;
}

void ns_cli_fmt_ms(int64_t ms, char *buf, size_t n) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  if (!gmtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M:%S UTC", &tm))
    snprintf(buf, n, "%lld ms", (long long)ms);
}
