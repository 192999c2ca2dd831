/*
** tools/main.c -- the `notescore` binary: dispatches to one subcommand.
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
          "matrix factorization plus trust propagation.\n"
          "\n"
          "commands:\n");
  for (size_t i = 0; i < NS_ARRAY_LEN(commands); i++)
    fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\nRun `notescore COMMAND --help` for a command's options.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("notescore %s\n", NS_VERSION);
    return 0;
  }
  for (size_t i = 0; i < NS_ARRAY_LEN(commands); i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "notescore: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
