/* tools/cmd_export.c -- placeholder until the subcommand lands. */
#include <stdio.h>
#include "cli.h"

int ns_cmd_export(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "notescore: 'export' is not implemented yet\n");
  return 2;
}
