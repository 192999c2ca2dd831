/* tools/cmd_gen.c -- placeholder until the subcommand lands. */
#include <stdio.h>
#include "cli.h"

int ns_cmd_gen(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "notescore: 'gen' is not implemented yet\n");
  return 2;
}
