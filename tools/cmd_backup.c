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
          "  -h, --help   this help\n");
}

int ns_cmd_backup(int argc, char **argv) {
  const char *db = NULL, *out = NULL;
  int force = 0, rc;
  char err[1024];
  ns_backup_stats st;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[i], "--db")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "notescore: backup: --db needs a value\n");
        return 2;
      }
      db = argv[++i];
    } else if (!strcmp(argv[i], "--force")) {
      force = 1;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "notescore: backup: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    } else if (!out) {
      out = argv[i];
    } else {
      fprintf(stderr, "notescore: backup: unexpected argument '%s' (one OUT file)\n", argv[i]);
      usage(stderr);
      return 2;
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
