/*
** tools/cmd_compare.c -- `notescore compare A B [--json FILE] [--top N]
** [--unlocked DATA] [--explain N --db DB]`
**
** Compares two sets of note statuses: notescore output, the reference's
** output, or a published noteStatusHistory file (tools/eval/compare.h reads
** them and computes the figures; this file parses options and prints).
** With --explain, the worst N disagreeing notes are explained from the
** score DB with the same function and text as `notescore explain`.
**
** Exit status: 0 ok (disagreements are findings, not failures), 1 an input
** could not be read (the message names the file) or the JSON could not be
** written, 2 usage.
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
#include "eval/compare.h"
#include "report.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: notescore compare A B [--json FILE] [--top N] [--unlocked DATA]\n"
          "                             [--explain N --db DB]\n"
          "\n"
          "Compares the note statuses of A and B.  Each is a notescore output directory,\n"
          "the reference scorer's output directory (scored_notes.tsv, read by column\n"
          "name), or a noteStatusHistory file (currentStatus, currentDecidedBy,\n"
          "currentCoreStatus: the published statuses).  The kind is detected.\n"
          "Prints notes in common, status agreement, the confusion matrix (CRH, CRNH,\n"
          "NMR, other), CRH Jaccard, agreement per deciding scorer, intercept and factor\n"
          "correlation (Pearson) where both sides have them, decidedBy agreement (rule\n"
          "names without their \" (vX.Y)\" suffix), the status disagreements by B's\n"
          "decidedBy, the differing decidedBy pairs, per-scorer status agreement for\n"
          "each <model>RatingStatus column both have, and the top disagreeing notes\n"
          "with both sides' intercept, factor and rules.\n"
          "\n"
          "options:\n"
          "  --json FILE    also write every figure as one JSON object (- = stdout,\n"
          "                 then the text goes to stderr); fields: docs/cli.md\n"
          "  --top N        disagreeing notes listed (default 20)\n"
          "  --unlocked DATA  leave out the notes with a lockedStatus in DATA (a data\n"
          "                 directory's noteStatusHistory-00000.tsv, or that file): a\n"
          "                 locked note keeps its locked status on both sides\n"
          "  --explain N    run `explain` on the worst N disagreeing notes (needs --db)\n"
          "  --db DB        the score DB that produced A, for --explain\n"
          "  -h, --help     this help\n"
          "  -V, --version  print the version\n"
          "\n"
          "example: notescore compare out/ noteStatusHistory-00000.tsv\n");
}

static const char *fmt_num(double v, char *buf, size_t n) {
  if (!isfinite(v)) return "-";
  snprintf(buf, n, "%.4f", v);
  return buf;
}

static const char *nz(const char *s) { return s && *s ? s : "-"; }

static void print_groups(FILE *o, const char *title, const ns_cmp_group *g, size_t n) {
  char b[32];
  fprintf(o, "\nagreement by %s:\n", title);
  for (size_t i = 0; i < n; i++)
    fprintf(o, "  %-36s %8zu notes  %s\n", nz(g[i].decided_by), g[i].notes,
            fmt_num((double)g[i].agree / (double)g[i].notes, b, sizeof b));
}

/* "NMR>CRH 5, CRH>NMR 4" for the off-diagonal cells, most first. */
static void print_pairs(FILE *o, const size_t m[NS_SCLASS_COUNT][NS_SCLASS_COUNT]) {
  size_t done[NS_SCLASS_COUNT][NS_SCLASS_COUNT] = {{0}};
  const char *sep = "";
  for (;;) {
    int bi = -1, bj = -1;
    for (int i = 0; i < NS_SCLASS_COUNT; i++)
      for (int j = 0; j < NS_SCLASS_COUNT; j++)
        if (m[i][j] && !done[i][j] && (bi < 0 || m[i][j] > m[bi][bj])) bi = i, bj = j;
    if (bi < 0) break;
    done[bi][bj] = 1;
    fprintf(o, "%s%s>%s %zu", sep, ns_cmp_class_names[bi], ns_cmp_class_names[bj], m[bi][bj]);
    sep = ", ";
  }
}

/* The reference-parity figures: per-scorer columns, disagreements by B's
** rule, differing rule pairs. */
static void print_parity(FILE *o, const ns_cmp_result *r) {
  char b1[32];
  int any = 0;
  for (int k = 0; k < NS_CMP_MODELS; k++) any |= r->models[k].present;
  if (any) {
    fprintf(o, "\nper-scorer status (<model>RatingStatus in both; same text):\n");
    fprintf(o, "  %-24s %8s %8s %8s %8s %9s\n", "model", "scoredA", "scoredB", "both", "agree",
            "agreement");
    for (int k = 0; k < NS_CMP_MODELS; k++) {
      const ns_cmp_model *m = &r->models[k];
      if (!m->present) continue;
      fprintf(o, "  %-24s %8zu %8zu %8zu %8zu %9s\n", ns_cmp_model_names[k], m->scored_a,
              m->scored_b, m->scored_both, m->agree,
              fmt_num(m->scored_both ? (double)m->agree / (double)m->scored_both : NAN, b1,
                      sizeof b1));
    }
  }
  fprintf(o, "\nstatus disagreements by B's decidedBy (no version; A>B classes):\n");
  for (size_t k = 0; k < r->n_by_rule; k++) {
    const ns_cmp_rule_group *g = &r->by_rule[k];
    fprintf(o, "  %-36s %6zu notes %5zu disagree", nz(g->rule), g->notes, g->disagree);
    if (g->disagree) {
      fputs(": ", o);
      print_pairs(o, g->pairs);
    }
    fputc('\n', o);
  }
  fprintf(o, "\ndecidedBy disagreements (A's rule > B's rule), %zu kinds:\n", r->n_rule_pairs);
  for (size_t k = 0; k < r->n_rule_pairs; k++)
    fprintf(o, "  %6zu  %s > %s\n", r->rule_pairs[k].notes, nz(r->rule_pairs[k].a),
            nz(r->rule_pairs[k].b));
}

static void print_text(FILE *o, const ns_cmp_side *a, const ns_cmp_side *b,
                       const ns_cmp_result *r, size_t top) {
  char b1[32], b2[32], b3[32], b4[32];
  fprintf(o, "A: %s (%s, %zu notes", a->path, ns_cmp_kind_name(a->kind), a->n);
  if (a->n_unpublished) fprintf(o, "; %zu rows without a published status left out", a->n_unpublished);
  fprintf(o, ")\nB: %s (%s, %zu notes", b->path, ns_cmp_kind_name(b->kind), b->n);
  if (b->n_unpublished) fprintf(o, "; %zu rows without a published status left out", b->n_unpublished);
  fprintf(o, ")\n");
  if (a->n_locked || b->n_locked)
    fprintf(o, "locked notes left out: %zu from A, %zu from B\n", a->n_locked, b->n_locked);
  fputc('\n', o);
  fprintf(o, "notes in common    %zu (%zu only in A, %zu only in B)\n", r->n_common, r->n_only_a,
          r->n_only_b);
  fprintf(o, "status agreement   %s (%zu of %zu agree)\n", fmt_num(r->agreement, b1, sizeof b1),
          r->n_agree, r->n_common);
  fprintf(o, "CRH Jaccard        %s (%zu CRH in both, %zu in either)\n",
          fmt_num(r->crh_jaccard, b1, sizeof b1), r->crh_both, r->crh_either);
  fprintf(o, "intercept corr.    %s (%zu notes)%s\n", fmt_num(r->r_intercept, b1, sizeof b1),
          r->n_intercept, a->has_model && b->has_model ? "" : "  (a side has no intercepts)");
  fprintf(o, "factor corr.       %s (%zu notes)\n", fmt_num(r->r_factor, b1, sizeof b1),
          r->n_factor);
  fprintf(o, "decidedBy agreement %s (%zu of %zu name the same rule)\n",
          fmt_num(r->rule_agreement, b1, sizeof b1), r->n_rule_agree, r->n_common);
  fprintf(o, "\nconfusion matrix (rows A, columns B):\n  %-6s", "");
  for (int l = 0; l < NS_SCLASS_COUNT; l++) fprintf(o, " %9s", ns_cmp_class_names[l]);
  fputc('\n', o);
  for (int k = 0; k < NS_SCLASS_COUNT; k++) {
    fprintf(o, "  %-6s", ns_cmp_class_names[k]);
    for (int l = 0; l < NS_SCLASS_COUNT; l++) fprintf(o, " %9zu", r->matrix[k][l]);
    fputc('\n', o);
  }
  print_groups(o, a->kind == NS_CMP_HISTORY ? "A's currentDecidedBy" : "A's decidedBy", r->by_a,
               r->n_by_a);
  print_groups(o, b->kind == NS_CMP_HISTORY ? "B's currentDecidedBy" : "B's decidedBy", r->by_b,
               r->n_by_b);
  print_parity(o, r);
  fprintf(o, "\n%zu disagreeing notes", r->n_disagree);
  if (r->n_disagree && top) fprintf(o, "; the worst %zu:", top < r->n_disagree ? top : r->n_disagree);
  fputc('\n', o);
  for (size_t k = 0; k < r->n_disagree && k < top; k++) {
    ns_cmp_pair p = r->disagree[k];
    fprintf(o, "  %lld\n", (long long)a->note_id[p.ia]);
    fprintf(o, "    A %-28s intercept %-8s factor %-8s %s; %s\n", nz(a->strs[a->status[p.ia]]),
            fmt_num(a->intercept[p.ia], b1, sizeof b1), fmt_num(a->factor[p.ia], b2, sizeof b2),
            nz(a->strs[a->decided_by[p.ia]]), nz(a->arena + a->rules[p.ia]));
    fprintf(o, "    B %-28s intercept %-8s factor %-8s %s; %s\n", nz(b->strs[b->status[p.ib]]),
            fmt_num(b->intercept[p.ib], b3, sizeof b3), fmt_num(b->factor[p.ib], b4, sizeof b4),
            nz(b->strs[b->decided_by[p.ib]]), nz(b->arena + b->rules[p.ib]));
  }
}

/* Explains the worst n disagreeing notes from db_path; the objects are
** appended to arr (may be NULL) and printed as text unless quiet.
** Returns 0, or 1 when the DB could not be opened. */
static int explain_worst(const char *db_path, const ns_cmp_side *a, const ns_cmp_result *r,
                         size_t n, json_t *arr, int quiet) {
  ns_reader *db = NULL;
  char msg[256];
  if (ns_cli_open_reader(db_path, &db) != 0) return 1;
  for (size_t k = 0; k < n && k < r->n_disagree; k++) {
    int64_t id = a->note_id[r->disagree[k].ia];
    json_t *o = NULL;
    int rc = ns_dash_explain(db, id, &o, msg, sizeof msg);
    if (rc != 0) {
      fprintf(stderr, "notescore: %s: note %lld: %s\n", db_path, (long long)id,
              msg[0] ? msg : ns_strerror(rc));
      continue;
    }
    if (!quiet) {
      printf("\n---- explain %lld ----\n", (long long)id);
      fflush(stdout);
      ns_cli_explain_print(o);
    }
    if (arr) json_array_append(arr, o);
    json_decref(o);
  }
  ns_reader_close(db);
  return 0;
}

int ns_cmd_compare(int argc, char **argv) {
  const char *pa = NULL, *pb = NULL, *json_path = NULL, *db_path = NULL, *unlocked = NULL;
  int64_t *locked = NULL;
  size_t n_locked = 0;
  unsigned long long top = 20, n_explain = 0;
  ns_cmp_side *a = NULL, *b = NULL;
  ns_cmp_result *r = NULL;
  json_t *j = NULL;
  char msg[1024];
  int rc, ret = 1, json_stdout;
  FILE *txt, *jf = NULL;
  char tmp[4096] = "";

  enum { O_JSON = 1, O_TOP, O_EXPLAIN, O_DB, O_UNLOCKED };
  static const ns_opt opts[] = {{"json", 0, 1, O_JSON},
                                {"top", 0, 1, O_TOP},
                                {"explain", 0, 1, O_EXPLAIN},
                                {"db", 0, 1, O_DB},
                                {"unlocked", 0, 1, O_UNLOCKED},
                                {0, 0, 0, 0}};
  ns_args ar;
  int c;

  ns_args_init(&ar, "compare", opts, usage, argc, argv);
  while ((c = ns_args_next(&ar)) != NS_ARGS_END) {
    switch (c) {
    case NS_ARGS_EXIT: return ar.status;
    case O_JSON: json_path = ar.val; break;
    case O_DB: db_path = ar.val; break;
    case O_UNLOCKED: unlocked = ar.val; break;
    case O_TOP:
    case O_EXPLAIN:
      if (ns_cli_u64(ar.opt, ar.val, c == O_TOP ? &top : &n_explain) != 0) return 2;
      break;
    case NS_ARGS_ARG:
      if (pa && pb) {
        ns_args_error(&ar, "two inputs only (got a third: '%s')", ar.val);
        return 2;
      }
      if (!pa) pa = ar.val;
      else pb = ar.val;
      break;
    }
  }
  if (!pa || !pb) {
    ns_args_error(&ar, "needs two inputs, A and B");
    return 2;
  }
  if (n_explain && !db_path) {
    fprintf(stderr, "notescore: compare: --explain needs --db DB (the DB that produced A)\n");
    return 2;
  }
  if (db_path && ns_cli_check_db(db_path, 1) != 0) return 1;
  json_stdout = json_path && !strcmp(json_path, "-");
  txt = json_stdout ? stderr : stdout;
  /* the JSON file is opened (as FILE.tmp) before any work: an unwritable
  ** path fails now, not after reading both sides */
  if (json_path && !json_stdout) {
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", json_path) >= sizeof tmp) {
      fprintf(stderr, "notescore: %s: path too long\n", json_path);
      return 1;
    }
    if (!(jf = fopen(tmp, "w"))) {
      fprintf(stderr, "notescore: %s: cannot write: %s\n", json_path, strerror(errno));
      return 1;
    }
  }

  /* read both sides before any output, so a bad B fails before A's work */
  if ((rc = ns_cmp_side_load(pa, &a, msg, sizeof msg)) != 0 ||
      (rc = ns_cmp_side_load(pb, &b, msg, sizeof msg)) != 0) {
    fprintf(stderr, "notescore: %s\n", msg[0] ? msg : ns_strerror(rc));
    goto out;
  }
  if (unlocked) {
    if ((rc = ns_cmp_locked_load(unlocked, &locked, &n_locked, msg, sizeof msg)) != 0) {
      fprintf(stderr, "notescore: %s\n", msg[0] ? msg : ns_strerror(rc));
      goto out;
    }
    ns_cmp_side_exclude(a, locked, n_locked);
    ns_cmp_side_exclude(b, locked, n_locked);
  }
  if (a->n_dup || a->n_bad)
    fprintf(stderr, "notescore: %s: %zu repeated note ids (last row kept), %zu rows without a noteId\n",
            a->path, a->n_dup, a->n_bad);
  if (b->n_dup || b->n_bad)
    fprintf(stderr, "notescore: %s: %zu repeated note ids (last row kept), %zu rows without a noteId\n",
            b->path, b->n_dup, b->n_bad);
  if ((rc = ns_cmp_compute(a, b, &r)) != 0) {
    fprintf(stderr, "notescore: compare: %s\n", ns_strerror(rc));
    goto out;
  }
  if (r->n_common == 0)
    fprintf(stderr, "notescore: compare: %s and %s have no note in common\n", a->path, b->path);
  print_text(txt, a, b, r, (size_t)top);
  if (json_path) {
    size_t top_json = (size_t)(top > n_explain ? top : n_explain);
    if (!(j = ns_cmp_to_json(a, b, r, top_json))) {
      fprintf(stderr, "notescore: compare: out of memory\n");
      goto out;
    }
    json_object_set_new(j, "unlocked",
                        unlocked ? json_pack("{s:s, s:I}", "history", unlocked, "lockedNotes",
                                             (json_int_t)n_locked)
                                 : json_null());
  }
  if (n_explain) {
    json_t *arr = j ? json_array() : NULL;
    if (j) json_object_set_new(j, "explain", arr);
    fflush(txt);
    if (explain_worst(db_path, a, r, (size_t)n_explain, arr, json_stdout) != 0) goto out;
  }
  if (j) {
    int flags = JSON_INDENT(2) | JSON_REAL_PRECISION(10) | JSON_SORT_KEYS;
    if (json_stdout) {
      if (json_dumpf(j, stdout, flags) != 0 || putchar('\n') == EOF) goto write_fail;
    } else {
      int bad = json_dumpf(j, jf, flags) != 0 || fputc('\n', jf) == EOF;
      bad |= fclose(jf) != 0;
      jf = NULL;
      if (bad || rename(tmp, json_path) != 0) goto write_fail;
    }
  }
  ret = fflush(stdout) == 0 ? 0 : 1;
  goto out;
write_fail:
  fprintf(stderr, "notescore: %s: cannot write: %s\n", json_path, strerror(errno));
out:
  if (jf) fclose(jf);
  if (ret != 0 && json_path && !json_stdout) remove(tmp);
  json_decref(j);
  free(locked);
  ns_cmp_result_free(r);
  ns_cmp_side_free(a);
  ns_cmp_side_free(b);
  return ret;
}
