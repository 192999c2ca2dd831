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
          "  -h, --help           this text\n"
          "  -V, --version        print the version\n");
}

/* Exit 0 with the table (or JSON) on stdout; 1 when a file cannot be read
** or parsed (the message names FILE:LINE); 2 on a usage error. */
int ns_cmd_eval(int argc, char **argv) {
  const char *truth = NULL, *scores = NULL, *scores_b = NULL;
  int json = 0, rc;
  ns_eval_result r;
  char err[4608];
  enum { O_TRUTH = 1, O_SCORES, O_SCORES_B, O_JSON };
  static const ns_opt opts[] = {{"truth", 0, 1, O_TRUTH},
                                {"scores", 0, 1, O_SCORES},
                                {"scores-b", 0, 1, O_SCORES_B},
                                {"json", 0, 0, O_JSON},
                                {0, 0, 0, 0}};
  ns_args a;
  int c;

  ns_args_init(&a, "eval", opts, eval_usage, argc, argv);
  while ((c = ns_args_next(&a)) != NS_ARGS_END) {
    switch (c) {
    case NS_ARGS_EXIT: return a.status;
    case NS_ARGS_ARG: ns_args_unexpected(&a); return 2;
    case O_TRUTH: truth = a.val; break;
    case O_SCORES: scores = a.val; break;
    case O_SCORES_B: scores_b = a.val; break;
    case O_JSON: json = 1; break;
    }
  }
  if (!truth || !scores) {
    ns_args_error(&a, "--truth and --scores are required");
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
