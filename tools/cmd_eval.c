/*
** tools/cmd_eval.c -- `notescore eval`: option parsing and output around
** ns_eval_run() (tools/eval/eval.c).  Main thread only.
*/
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "../base/base.h"
#include "cli.h"
#include "eval/eval.h"

static void eval_usage(FILE *f) {
  fprintf(f,
          "usage: notescore eval --truth DIR --scores OUTDIR [--scores-b OUTDIR2] [--json]\n"
          "\n"
          "Compares a scoring run (OUTDIR/scored_notes.tsv) with the ground truth written\n"
          "by `notescore gen` (DIR/truth_notes.tsv): status counts, CRH/CRNH precision and\n"
          "recall, partisan notes at CRH, Spearman correlation of coreNoteIntercept with\n"
          "true quality, ring-attack and incorrect-popular outcomes.  With --scores-b, also\n"
          "the number of notes whose finalRatingStatus differs between the two runs.\n"
          "\n"
          "options:\n"
          "  --truth DIR          directory with truth_notes.tsv\n"
          "  --scores OUTDIR      directory with scored_notes.tsv\n"
          "  --scores-b OUTDIR2   a second run to compare statuses with\n"
          "  --json               machine-readable output (one JSON object)\n"
          "  -h, --help           this text\n");
}

/* Exit 0 with the table (or JSON) on stdout; 1 when a file cannot be read
** or parsed (the message names FILE:LINE); 2 on a usage error. */
int ns_cmd_eval(int argc, char **argv) {
  const char *truth = NULL, *scores = NULL, *scores_b = NULL;
  int json = 0, rc;
  ns_eval_result r;
  char err[4608];

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char **dst = NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      eval_usage(stdout);
      return 0;
    } else if (!strcmp(a, "--json")) {
      json = 1;
      continue;
    } else if (!strcmp(a, "--truth")) {
      dst = &truth;
    } else if (!strcmp(a, "--scores")) {
      dst = &scores;
    } else if (!strcmp(a, "--scores-b")) {
      dst = &scores_b;
    } else {
      fprintf(stderr, "notescore: eval: unknown option '%s'\n", a);
      eval_usage(stderr);
      return 2;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "notescore: eval: option %s needs a value\n", a);
      return 2;
    }
    *dst = argv[++i];
  }
  if (!truth || !scores) {
    fprintf(stderr, "notescore: eval: --truth and --scores are required\n");
    eval_usage(stderr);
    return 2;
  }
  rc = ns_eval_run(truth, scores, scores_b, &r, err, sizeof err);
  if (rc) {
    fprintf(stderr, "notescore: %s\n", err[0] ? err : ns_strerror(rc));
    return 1;
  }
  if (json) {
    json_t *o = ns_eval_to_json(&r);
    if (!o || json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) != 0) {
      json_decref(o);
      fprintf(stderr, "notescore: eval: cannot write JSON\n");
      return 1;
    }
    json_decref(o);
    fputc('\n', stdout);
  } else {
    ns_eval_print(stdout, &r);
  }
  return 0;
}
