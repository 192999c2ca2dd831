/* tools/cmd_eval.c -- placeholder until the subcommand lands. */
#include <stdio.h>
#include "cli.h"

int ns_cmd_eval(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "notescore: 'eval' is not implemented yet\n");
  return 2;
}
