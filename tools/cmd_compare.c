/*
** tools/cmd_compare.c -- `notescore compare A B [--json FILE] [--top N]
** [--explain N --db DB]`
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
          "usage: notescore compare A B [--json FILE] [--top N] [--explain N --db DB]\n"
          "\n"
          "Compares the note statuses of A and B.  Each is a notescore output directory,\n"
          "the reference scorer's output directory (scored_notes.tsv, read by column\n"
          "name), or a noteStatusHistory file (currentStatus, currentDecidedBy,\n"
          "currentCoreStatus: the published statuses).  The kind is detected.\n"
          "Prints notes in common, status agreement, the confusion matrix (CRH, CRNH,\n"
          "NMR, other), CRH Jaccard, agreement per deciding scorer, intercept and factor\n"
          "correlation (Pearson) where both sides have them, and the top disagreeing\n"
          "notes with both sides' intercept, factor and rules.\n"
          "\n"
          "options:\n"
          "  --json FILE    also write every figure as one JSON object (- = stdout,\n"
          "                 then the text goes to stderr); fields: docs/cli.md\n"
          "  --top N        disagreeing notes listed (default 20)\n"
          "  --explain N    run `explain` on the worst N disagreeing notes (needs --db)\n"
          "  --db DB        the score DB that produced A, for --explain\n"
          "  -h, --help     this help\n"
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

static void print_text(FILE *o, const ns_cmp_side *a, const ns_cmp_side *b,
                       const ns_cmp_result *r, size_t top) {
  char b1[32], b2[32], b3[32], b4[32];
  fprintf(o, "A: %s (%s, %zu notes", a->path, ns_cmp_kind_name(a->kind), a->n);
  if (a->n_unpublished) fprintf(o, "; %zu rows without a published status left out", a->n_unpublished);
  fprintf(o, ")\nB: %s (%s, %zu notes", b->path, ns_cmp_kind_name(b->kind), b->n);
  if (b->n_unpublished) fprintf(o, "; %zu rows without a published status left out", b->n_unpublished);
  fprintf(o, ")\n\n");
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
  const char *pa = NULL, *pb = NULL, *json_path = NULL, *db_path = NULL;
  unsigned long long top = 20, n_explain = 0;
  ns_cmp_side *a = NULL, *b = NULL;
  ns_cmp_result *r = NULL;
  json_t *j = NULL;
  char msg[1024];
  int rc, ret = 1, json_stdout;
  FILE *txt, *jf = NULL;
  char tmp[4096] = "";

  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(s, "--json") || !strcmp(s, "--top") || !strcmp(s, "--explain") ||
               !strcmp(s, "--db")) {
      if (++i >= argc) {
        fprintf(stderr, "notescore: compare: %s needs a value\n", s);
        return 2;
      }
      if (!strcmp(s, "--json")) json_path = argv[i];
      else if (!strcmp(s, "--db")) db_path = argv[i];
      else if (ns_cli_u64(s, argv[i], !strcmp(s, "--top") ? &top : &n_explain) != 0) return 2;
    } else if (s[0] == '-' && s[1]) {
      fprintf(stderr, "notescore: compare: unknown option '%s'\n", s);
      usage(stderr);
      return 2;
    } else if (!pa) {
      pa = s;
    } else if (!pb) {
      pb = s;
    } else {
      fprintf(stderr, "notescore: compare: two inputs only (got a third: '%s')\n", s);
      return 2;
    }
  }
  if (!pa || !pb) {
    fprintf(stderr, "notescore: compare: needs two inputs, A and B\n");
    usage(stderr);
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
  ns_cmp_result_free(r);
  ns_cmp_side_free(a);
  ns_cmp_side_free(b);
  return ret;
}
