/*
** tools/cmd_explain.c -- `notescore explain --db DB NOTE_ID [--json]`
**
** Why a note has its status in the current published run: status and
** decided-by, every rule that fired with its threshold, intercept/factor
** with the pseudo-rater bounds, the note's ratings by rater factor side and
** helpfulness level, the top tags, and the note's status in every published
** run.  The facts come from ns_dash_explain() (dash/explain.c, one
** read transaction); this file only parses options and prints them, as
** text or as the same JSON object.
**
** Exit status: 0 ok, 1 unknown note / no published run / DB error, 2 usage.
*/
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../base/base.h"
#include "../dash/dash.h"
#include "cli.h"
#include "report.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: notescore explain --db DB NOTE_ID [--json]\n"
          "\n"
          "Explains a note's status in the current published run: status and the rule\n"
          "that decided it, every rule that fired and its threshold, intercept and factor\n"
          "with bounds, the note's ratings by rater factor side (neg/pos/none) and\n"
          "helpfulness level, the top tags, and its status in every published run.\n"
          "\n"
          "options:\n"
          "  --db DB      the score database (required)\n"
          "  --json       print one JSON object instead of text (fields: docs/dashboards.md)\n"
          "  -h, --help   this help\n"
          "  -V, --version  print the version\n");
}

/* ---- text rendering -----------------------------------------------------
** The text form is rendered from the same JSON object as --json, so the
** two can never disagree; missing or null fields print as "-". */

static const char *str_or(json_t *o, const char *key, const char *dflt) {
  const char *s = json_string_value(json_object_get(o, key));
  return s && *s ? s : dflt;
}

/* "%.4f" of a number field, or "-" when null/absent. */
static const char *num(json_t *o, const char *key, char *buf, size_t n) {
  json_t *v = json_object_get(o, key);
  if (!json_is_number(v)) return "-";
  snprintf(buf, n, "%.4f", json_number_value(v));
  return buf;
}

static json_int_t ival(json_t *o, const char *key) {
  return json_integer_value(json_object_get(o, key));
}

static void print_side(const char *label, json_t *c) {
  printf("  %-6s %8lld %9lld %8lld %7lld\n", label, (long long)ival(c, "helpful"),
         (long long)ival(c, "somewhatHelpful"), (long long)ival(c, "notHelpful"),
         (long long)ival(c, "total"));
}

void ns_cli_explain_print(json_t *o) {
  char a[32], b[32], c[32], d[32], when[40];
  json_t *rules = json_object_get(o, "rules"), *rt = json_object_get(o, "ratings");
  json_t *sides = json_object_get(rt, "bySide"), *tags = json_object_get(o, "topTags");
  json_t *hist = json_object_get(o, "history"), *sh = json_object_get(o, "statusHistory");
  size_t i;
  json_t *v;

  ns_cli_fmt_ms((int64_t)ival(o, "scoredAtMillis"), when, sizeof when);
  printf("note %s   (run %lld, published %s)\n\n", str_or(o, "noteId", "?"),
         (long long)ival(o, "runId"), when);
  printf("  status          %s\n", str_or(o, "status", "-"));
  printf("  decided by      %s\n", str_or(o, "decidedBy", "-"));
  {
    /* the deciding scorer beside Core (a meta rule of its own: none) */
    json_t *dec = json_object_get(o, "deciding");
    if (json_is_object(dec))
      printf("  deciding scorer %s: intercept %s factor %s   (core: intercept %s factor %s)\n",
             str_or(dec, "scorer", "?"), num(dec, "intercept", a, sizeof a),
             num(dec, "factor", b, sizeof b), num(dec, "coreIntercept", c, sizeof c),
             num(dec, "coreFactor", d, sizeof d));
    else
      printf("  deciding scorer none (a meta rule decided)\n");
  }
  printf("  core status     %s\n", str_or(o, "coreStatus", "-"));
  printf("  classification  %s\n", str_or(o, "classification", "-"));
  printf("  intercept       %s   bounds [%s, %s]   round 1: %s\n", num(o, "intercept", a, sizeof a),
         num(o, "interceptMin", b, sizeof b), num(o, "interceptMax", c, sizeof c),
         num(o, "interceptRound1", d, sizeof d));
  printf("  factor          %s   round 1: %s\n", num(o, "factor", a, sizeof a),
         num(o, "factorRound1", b, sizeof b));
  printf("  low diligence   %s   (FilterLowDiligence above 0.263)\n",
         num(o, "lowDiligenceIntercept", a, sizeof a));
  printf("  ratings         %lld (%lld in the final round)\n", (long long)ival(o, "numRatings"),
         (long long)ival(o, "numFinalRoundRatings"));
  printf("  tags            %s, %s\n", str_or(o, "firstTag", "-"), str_or(o, "secondTag", "-"));

  if (json_array_size(json_object_get(o, "scorers")) > 1) {
    printf("\nscorers that scored it:\n");
    json_array_foreach(json_object_get(o, "scorers"), i, v)
      printf("  %-24s intercept %-8s factor %-8s %s%s\n", str_or(v, "scorer", "?"),
             num(v, "intercept", a, sizeof a), num(v, "factor", b, sizeof b),
             str_or(v, "status", "-"), json_is_true(json_object_get(v, "decided")) ? "  (decided)" : "");
  }

  printf("\nrules that fired (in order):\n");
  json_array_foreach(rules, i, v) {
    char lim[48] = "";
    if (json_is_number(json_object_get(v, "limit")))
      snprintf(lim, sizeof lim, "  [limit %.4f]", json_number_value(json_object_get(v, "limit")));
    printf("  %-4s %-26s %s%s\n", str_or(v, "kind", ""), str_or(v, "name", ""),
           str_or(v, "threshold", ""), lim);
  }

  printf("\nratings by rater factor side (this run's rater factors):\n");
  printf("  %-6s %8s %9s %8s %7s\n", "side", "helpful", "somewhat", "not", "total");
  print_side("neg", json_object_get(sides, "neg"));
  print_side("pos", json_object_get(sides, "pos"));
  print_side("none", json_object_get(sides, "none"));
  print_side("all", json_object_get(rt, "byLevel"));

  printf("\ntop tags:");
  if (json_array_size(tags) == 0) printf(" none");
  json_array_foreach(tags, i, v)
    printf("%s %s (%lld)", i ? "," : "", str_or(v, "tag", ""), (long long)ival(v, "count"));
  printf("\n\nstatus in each published run:\n");
  json_array_foreach(hist, i, v) {
    ns_cli_fmt_ms((int64_t)ival(v, "scoredAtMillis"), when, sizeof when);
    printf("  run %-5lld %s  %-28s intercept %-8s factor %-8s %s\n", (long long)ival(v, "runId"),
           when, str_or(v, "status", "-"), num(v, "intercept", a, sizeof a),
           num(v, "factor", b, sizeof b), str_or(v, "decidedBy", ""));
  }
  if (json_object_size(sh)) {
    printf("\nstatus history record:\n");
    printf("  first non-NMR status    %s\n", str_or(sh, "firstNonNMRStatus", "-"));
    printf("  current status          %s\n", str_or(sh, "currentStatus", "-"));
    printf("  most recent non-NMR     %s\n", str_or(sh, "mostRecentNonNMRStatus", "-"));
    printf("  locked status           %s\n", str_or(sh, "lockedStatus", "-"));
  }
}

/* ---- entry point -------------------------------------------------------- */

int ns_cmd_explain(int argc, char **argv) {
  const char *db_path = NULL, *id_arg = NULL;
  int as_json = 0, rc, ret = 1;
  long long note_id = 0;
  ns_reader *db = NULL;
  json_t *o = NULL;
  char msg[256];
  enum { O_DB = 1, O_JSON };
  static const ns_opt opts[] = {{"db", 0, 1, O_DB}, {"json", 0, 0, O_JSON}, {0, 0, 0, 0}};
  ns_args a;
  int c;

  ns_args_init(&a, "explain", opts, usage, argc, argv);
  a.numbers_are_args = 1;   /* "-5" is a (bad) note id, not an option: ns_cli_i64 judges it */
  while ((c = ns_args_next(&a)) != NS_ARGS_END) {
    switch (c) {
    case NS_ARGS_EXIT: return a.status;
    case O_DB: db_path = a.val; break;
    case O_JSON: as_json = 1; break;
    case NS_ARGS_ARG:
      if (id_arg) {
        ns_args_error(&a, "one NOTE_ID only (got '%s' and '%s')", id_arg, a.val);
        return 2;
      }
      id_arg = a.val;
      break;
    }
  }
  if (!db_path || !id_arg) {
    ns_args_error(&a, "%s", !db_path ? "--db DB is required" : "NOTE_ID is required");
    return 2;
  }
  if (ns_cli_i64("NOTE_ID", id_arg, &note_id) != 0) return 2;
  if (ns_cli_open_reader(db_path, &db) != 0) return 1;

  rc = ns_dash_explain(db, (int64_t)note_id, &o, msg, sizeof msg);
  if (rc != 0) {
    fprintf(stderr, "notescore: %s: %s\n", db_path, msg[0] ? msg : ns_strerror(rc));
    goto out;
  }
  if (as_json) {
    if (json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) != 0) goto out;
    putchar('\n');
  } else {
    ns_cli_explain_print(o);
  }
  ret = fflush(stdout) == 0 ? 0 : 1;
out:
  json_decref(o);
  ns_reader_close(db);
  return ret;
}
