/*
** tools/main.c -- the `notescore` binary: dispatches to one subcommand.
** Top-level options (-h/--help, -V/--version) go through the same parser
** as the subcommands' (tools/args.c); the first argument that is not an
** option names the command, which gets the rest of argv.
*/
#include <stdio.h>
#include <string.h>

#include "../base/base.h"
#include "cli.h"

static const struct {
  const char *name;
  int (*fn)(int, char **);
  const char *summary;
} commands[] = {
    {"import", ns_cmd_import, "import public TSV files into a DB"},
    {"export", ns_cmd_export, "write a DB back in the public TSV format"},
    {"score", ns_cmd_score, "run one scoring run (TSVs in/out, or on a DB)"},
    {"serve", ns_cmd_serve, "the daemon: HTTP ingest and scheduled scoring"},
    {"backup", ns_cmd_backup, "a consistent copy of a DB, also while it is served"},
    {"explain", ns_cmd_explain, "why a note has its status"},
    {"report", ns_cmd_report, "a self-contained HTML report of a DB"},
    {"compare", ns_cmd_compare, "agreement of two sets of statuses (published, reference, ours)"},
    {"gen", ns_cmd_gen, "synthetic public-format data with ground truth"},
    {"eval", ns_cmd_eval, "quality and attack metrics against ground truth"},
};

static void usage(FILE *f) {
  fprintf(f,
          "usage: notescore COMMAND [OPTIONS]\n"
          "\n"
          "Scores crowdsourced notes the way Community Notes does: bridging\n"
          "matrix factorization, guarded by a coordination test.\n"
          "\n"
          "commands:\n");
  for (size_t i = 0; i < NS_ARRAY_LEN(commands); i++)
    fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\noptions:\n"
             "  -h, --help     this help\n"
             "  -V, --version  print the version (every command takes -V too)\n"
             "\nRun `notescore COMMAND --help` for a command's options.\n");
}

int main(int argc, char **argv) {
  static const ns_opt none[] = {{0, 0, 0, 0}};
  ns_args a;
  int c;
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  ns_args_init(&a, NULL, none, usage, argc, argv);
  /* the top level has only the built-in options: the first argument is
  ** the command, and everything after it is the command's */
  while ((c = ns_args_next(&a)) != NS_ARGS_END) {
    if (c == NS_ARGS_EXIT) return a.status;
    for (size_t i = 0; i < NS_ARRAY_LEN(commands); i++)
      if (!strcmp(a.val, commands[i].name)) return commands[i].fn(argc - (a.i - 1), argv + (a.i - 1));
    fprintf(stderr, "notescore: unknown command '%s'\n", a.val);
    usage(stderr);
    return 2;
  }
  usage(stderr);
  return 2;
}
