/* tools/cmd_import.c -- placeholder until the subcommand lands. */
#include <stdio.h>
#include "cli.h"

int ns_cmd_import(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "notescore: 'import' is not implemented yet\n");
  return 2;
}
