/*
** tools/cmd_report.c -- `notescore report --db DB -o report.html`
**
** Writes the self-contained HTML report of the score DB (inline SVG, no
** scripts, no network): the note intercept-vs-factor scatter with the CRH
** and CRNH thresholds, status counts across runs, rater factor and trust
** histograms, the notes whose status changed in the last run.  The page is
** built by ns_report_html() (dash/report.c), which the server also
** serves at GET /dashboard; this file parses options and owns the file.
** The page is written to OUT.tmp and renamed, so a reader never sees half
** a report.  "-o -" writes to stdout.
**
** Exit status: 0 ok, 1 DB or write error, 2 usage.
*/
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>


#include "../base/base.h"
#include "../dash/dash.h"
#include "cli.h"
#include "eval/compare.h"
#include "report.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: notescore report --db DB -o report.html [options]\n"
          "\n"
          "Writes one self-contained HTML page (inline SVG, no scripts, no network) about\n"
          "the current published run: notes' intercept against factor coloured by status\n"
          "with the CRH and CRNH thresholds, status counts across runs, rater factor and\n"
          "trust histograms, and the notes whose status changed in the last run.\n"
          "\n"
          "options:\n"
          "  --db DB            the score database (required)\n"
          "  -o, --out FILE     the HTML file to write (required; - = stdout)\n"
          "  --title TEXT       page title (default \"notescore report\")\n"
          "  --max-points N     scatter points drawn at most (default 200000)\n"
          "  --compare B        add the agreement section: the current run against B\n"
          "                     (a noteStatusHistory file, a notescore or reference output\n"
          "                     directory, as for `notescore compare`): status agreement,\n"
          "                     the confusion matrix, the disagreeing notes on the scatter\n"
          "  -h, --help         this help\n");
}

int ns_cmd_report(int argc, char **argv) {
  const char *db_path = NULL, *out_path = NULL, *cmp_path = NULL;
  ns_report_opts o = {0};
  ns_report_compare cmp = {0};
  ns_cmp_side *side = NULL;
  char msg[1024];
  struct stat sb;
  unsigned long long maxp = 0;
  char tmp[4096];
  ns_reader *db = NULL;
  FILE *f = NULL;
  int rc, ret = 1, to_stdout;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--db") || !strcmp(a, "-o") || !strcmp(a, "--out") ||
               !strcmp(a, "--title") || !strcmp(a, "--max-points") || !strcmp(a, "--compare")) {
      if (++i >= argc) { fprintf(stderr, "notescore: %s needs a value\n", a); return 2; }
      if (!strcmp(a, "--db")) db_path = argv[i];
      else if (!strcmp(a, "--compare")) cmp_path = argv[i];
      else if (!strcmp(a, "--title")) o.title = argv[i];
      else if (!strcmp(a, "--max-points")) {
        if (ns_cli_u64(a, argv[i], &maxp) != 0) return 2;
        if (maxp == 0 || maxp > 100000000ULL) {
          fprintf(stderr, "notescore: --max-points: must be 1..100000000\n");
          return 2;
        }
        o.max_points = (int)maxp;
      } else out_path = argv[i];
    } else {
      fprintf(stderr, "notescore: report: unexpected argument '%s'\n", a);
      usage(stderr);
      return 2;
    }
  }
  if (!db_path || !out_path) {
    usage(stderr);
    return 2;
  }
  to_stdout = !strcmp(out_path, "-");
  if (!to_stdout && stat(out_path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    fprintf(stderr, "notescore: %s: is a directory; -o wants the HTML file to write\n", out_path);
    return 1;
  }
  if (cmp_path) {
    if ((rc = ns_cmp_side_load(cmp_path, &side, msg, sizeof msg)) != 0) {
      fprintf(stderr, "notescore: %s\n", msg[0] ? msg : ns_strerror(rc));
      return 1;
    }
    cmp = (ns_report_compare){side->path, side->n, side->note_id, side->cls};
    o.compare = &cmp;
  }
  if (ns_cli_open_reader(db_path, &db) != 0) goto out;
  if (to_stdout) {
    f = stdout;
  } else {
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", out_path) >= sizeof tmp) {
      fprintf(stderr, "notescore: %s: path too long\n", out_path);
      goto out;
    }
    if (!(f = fopen(tmp, "w"))) {
      fprintf(stderr, "notescore: %s: cannot write: %s\n", tmp, strerror(errno));
      goto out;
    }
  }
  rc = ns_report_html(db, f, &o);
  if (!to_stdout) {
    if (fclose(f) != 0 && rc == 0) rc = NS_EIO;
    f = NULL;
    if (rc == 0 && rename(tmp, out_path) != 0) rc = NS_EIO;
    if (rc != 0) remove(tmp);
  }
  if (rc != 0) {
    fprintf(stderr, "notescore: %s: report failed: %s\n", to_stdout ? db_path : out_path,
            ns_strerror(rc));
    goto out;
  }
  if (!to_stdout) fprintf(stderr, "notescore: wrote %s\n", out_path);
  ret = 0;
out:
  ns_reader_close(db);
  ns_cmp_side_free(side);
  return ret;
}
