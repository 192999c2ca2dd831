/*
** tools/cmd_backup.c -- `notescore backup --db DB OUT`: a consistent copy of
** the database, safe to take while `serve` ingests and scores (the SQLite
** work is store/backup.c).  OUT is a complete notescore DB: restore it by
** stopping the server and putting OUT in place of DB.
*/
#include <stdio.h>
#include <string.h>

#include "../store/store.h"
#include "cli.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: notescore backup --db DB [--force] OUT\n"
          "\n"
          "Copies DB to OUT with SQLite's online backup API: OUT holds exactly what was\n"
          "committed when the copy started (every rating acknowledged by then), while\n"
          "`serve` and `import` keep writing beside it.  OUT is written under a temporary\n"
          "name, synced, then renamed into place.  Check a copy with\n"
          "sqlite3 OUT 'PRAGMA integrity_check'.\n"
          "\n"
          "options:\n"
          "  --db DB      the database to copy (required)\n"
          "  --force      replace OUT if it exists (else an existing OUT is an error)\n"
          "  -h, --help   this help\n"
          "  -V, --version  print the version\n");
}

int ns_cmd_backup(int argc, char **argv) {
  enum { O_DB = 1, O_FORCE };
  static const ns_opt opts[] = {{"db", 0, 1, O_DB}, {"force", 0, 0, O_FORCE}, {0, 0, 0, 0}};
  const char *db = NULL, *out = NULL;
  int force = 0, rc, c;
  char err[1024];
  ns_backup_stats st;
  ns_args a;
  ns_args_init(&a, "backup", opts, usage, argc, argv);
  while ((c = ns_args_next(&a)) != NS_ARGS_END) {
    switch (c) {
    case NS_ARGS_EXIT: return a.status;
    case O_DB: db = a.val; break;
    case O_FORCE: force = 1; break;
    case NS_ARGS_ARG:
      if (out) {
        ns_args_error(&a, "unexpected argument '%s' (one OUT file)", a.val);
        return 2;
      }
      out = a.val;
      break;
    }
  }
  if (!db || !out) {
    fprintf(stderr, "notescore: backup: %s is required\n", !db ? "--db" : "OUT");
    usage(stderr);
    return 2;
  }
  if (ns_cli_check_db(db, 1) != 0) return 1;
  if ((rc = ns_store_backup(db, out, force, &st, err, sizeof err)) != 0) {
    fprintf(stderr, "notescore: backup: %s\n", err[0] ? err : ns_strerror(rc));
    return 1;
  }
  printf("backup: %s -> %s: %llu pages, %.1f MiB in %.2f s\n", db, out,
         (unsigned long long)st.pages, (double)st.bytes / (1024.0 * 1024.0), st.seconds);
  return 0;
}
