/* tools/cmd_serve.c -- placeholder until the subcommand lands. */
#include <stdio.h>
#include "cli.h"

int ns_cmd_serve(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "notescore: 'serve' is not implemented yet\n");
  return 2;
}
