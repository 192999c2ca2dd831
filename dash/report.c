/*
** dash/report.c -- the self-contained HTML report of a score DB
** (ns_report_html, contract in dash.h).
**
** One page, no scripts, no network: inline CSS and inline SVG charts drawn
** from the dashboard views (read through store/query.h, which runs the SQL;
** this file only draws) inside ONE reader snapshot (the page shows one
** published run even while the next one is being published):
**
**   1. facts of the current run (run_summary),
**   2. the note scatter: intercept (y) against factor (x) for every scored
**      note of the current run, one <circle class="pt"> per note, grouped
**      by public status (the group's class gives the colour), with the CRH
**      line (intercept 0.40, only between the |factor| 0.5 marks, where
**      GeneralCRH can hold) and the CRNH "diamond" -0.05 - 0.8|factor|;
**      the caption names the rules behind CRNH points above that line,
**   2b. with opts->compare: agreement with another set of statuses (the
**      join is done first, so the scatter can ring the disagreeing notes),
**   3. status counts across the published runs (stacked bars),
**   4. histograms of the raters' factors and trust in the current run,
**   5. the notes whose status changed in the current run (status_changes).
**
** Size: ~90 bytes per scatter point; max_points bounds the page (the
** caption says how many were left out).  The thresholds drawn are those
** the current run recorded in runs.params (defaults for an old run).
**
** Who calls it: tools/cmd_report.c, and the server's GET /report on a
** worker thread (it passes an open_memstream FILE).  Threads: any.
*/
#include "dash.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../base/dataset.h"
#include "../engine/pipeline.h"
#include "../store/query.h"

/* Plot geometry (SVG user units). */
#define PW 760.0 /* whole scatter width */
#define PH 480.0
#define ML 64.0 /* margins: left, right, top, bottom */
#define MR 16.0
#define MT 16.0
#define MB 48.0

/* Status -> CSS class and legend label. */
static const struct {
  const char *status, *cls, *label;
} kinds[] = {
    {"CURRENTLY_RATED_HELPFUL", "crh", "CRH (helpful)"},
    {"CURRENTLY_RATED_NOT_HELPFUL", "crnh", "CRNH (not helpful)"},
    {"NEEDS_MORE_RATINGS", "nmr", "NMR (needs more ratings)"},
};
#define N_KINDS 3

static const char css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}"
    "h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}"
    "table{border-collapse:collapse;font-size:13px}td,th{padding:2px 10px;text-align:right}"
    "th{background:#f2f2f2}td.l,th.l{text-align:left}"
    "svg{background:#fff;border:1px solid #ddd}"
    ".axis{stroke:#444;stroke-width:1}.grid{stroke:#eee;stroke-width:1}"
    "text{font:11px system-ui,sans-serif;fill:#333}"
    ".crh circle,rect.crh,.k.crh{fill:#1b9e77}.crnh circle,rect.crnh,.k.crnh{fill:#d95f02}"
    ".nmr circle,rect.nmr,.k.nmr{fill:#9a9a9a}"
    ".nmr circle{fill-opacity:.45}.crh circle,.crnh circle{fill-opacity:.8}"
    ".thr{fill:none;stroke-width:1.5;stroke-dasharray:6 4}.thr.crh{stroke:#1b9e77}"
    ".thr.crnh{stroke:#d95f02}.fl{stroke:#1b9e77;stroke-width:1;stroke-dasharray:2 3}"
    "rect.bar{fill:#7570b3}.note{color:#666;font-size:12px}"
    ".key{display:inline-block;width:10px;height:10px;margin:0 4px 0 14px}"
    ".key.crh{background:#1b9e77}.key.crnh{background:#d95f02}.key.nmr{background:#9a9a9a}"
    ".hist{display:inline-block;vertical-align:top;margin-right:16px}"
    ".dis circle{fill:none;stroke:#e7298a;stroke-width:1.5}.key.dis{background:#e7298a}"
    "table.heat td{min-width:64px}";

/* ---- small output helpers ----------------------------------------------- */

/* HTML-escapes s (text and attribute values alike). */
static void esc(FILE *f, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '&': fputs("&amp;", f); break;
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc(*s, f); break;
    }
  }
}

/* A text field of a row: NULL (SQL NULL) reads as "". */
static const char *str(const char *s) { return s ? s : ""; }

/* An integer / real field of a row: SQL NULL prints as 0. */
static long long z(int64_t v) { return v == NS_Q_NULL ? 0 : (long long)v; }
static double zf(double v) { return isnan(v) ? 0.0 : v; }

static int kind_of(const char *status) {
  for (int k = 0; k < N_KINDS; k++)
    if (!strcmp(status, kinds[k].status)) return k;
  return 2; /* anything else draws as NMR */
}

int ns_report_status_class(const char *status) {
  if (!status) return NS_SCLASS_OTHER;
  if (!strcmp(status, "CURRENTLY_RATED_HELPFUL")) return NS_SCLASS_CRH;
  if (!strcmp(status, "CURRENTLY_RATED_NOT_HELPFUL")) return NS_SCLASS_CRNH;
  if (!strcmp(status, "NEEDS_MORE_RATINGS")) return NS_SCLASS_NMR;
  return NS_SCLASS_OTHER;
}

/* Picks a "nice" tick step (1, 2, 5 x 10^k) giving about n ticks over span. */
static double nice_step(double span, int n) {
  double raw = span / n, mag = pow(10.0, floor(log10(raw))), r = raw / mag;
  return (r < 1.5 ? 1.0 : r < 3.5 ? 2.0 : r < 7.5 ? 5.0 : 10.0) * mag;
}

/* ---- the report context ------------------------------------------------- */

typedef struct rep {
  ns_reader *rd;
  FILE *f;
  const ns_report_opts *o;
  ns_params p;          /* thresholds drawn */
  int64_t run_id;       /* current run, 0 = none */
  int rc;               /* first error */
  /* --compare: filled by agreement() before the scatter is drawn */
  int has_cmp;
  size_t cmp_common, cmp_agree, cmp_only_run, cmp_only_other;
  size_t cmp_matrix[NS_SCLASS_COUNT][NS_SCLASS_COUNT]; /* [this run][other] */
  struct dpt *dis;      /* disagreeing notes with an intercept and factor */
  size_t n_dis;
  size_t n_dis_unscored;/* disagreeing notes without (not drawn) */
} rep;

/* A disagreeing note drawn over the scatter. */
typedef struct dpt {
  int64_t id;
  double x, y;
  uint8_t a, b;         /* NS_SCLASS_* here and in the other set */
} dpt;

/* Records the first failure of a query (a callback that ran out of memory
** has recorded its own). */
static void query(rep *r, int rc) {
  if (!rc || r->rc) return;
  ns_warn("report: %s", ns_reader_errmsg(r->rd));
  r->rc = rc;
}

/* ---- 1. run facts ------------------------------------------------------- */

/* "YYYY-MM-DD HH:MM:SS UTC" of a millisecond timestamp. */
static void fmt_ms(int64_t ms, char *buf, size_t n) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  if (!gmtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M:%S UTC", &tm))
    snprintf(buf, n, "%lld ms", (long long)ms);
}

static int run_facts_row(void *ctx, const ns_q_run *run) {
  rep *r = ctx;
  FILE *f = r->f;
  char when[40];
  r->run_id = run->run_id;
  fprintf(f, "<p>Current published run <b>%lld</b> (notescore ", (long long)r->run_id);
  esc(f, str(run->version));
  fmt_ms(z(run->finished_ms), when, sizeof when);
  fprintf(f, "), published %s, took %.2f s.</p>\n", when, zf(run->wall_seconds));
  fprintf(f,
          "<table><tr><th class=l>input</th><th>ratings</th><th>notes</th><th>raters</th>"
          "<th>ratings in round 2</th><th>raters in round 2</th><th>MF passes</th></tr>\n"
          "<tr><td class=l>count</td><td>%lld</td><td>%lld</td><td>%lld</td><td>%lld</td>"
          "<td>%lld</td><td>%lld</td></tr></table>\n",
          z(run->n_ratings), z(run->n_notes), z(run->n_raters), z(run->n_ratings_round2),
          z(run->n_raters_round2), z(run->mf_passes));
  fprintf(f, "<p>Statuses: <span class=\"key k crh\"></span>%lld CRH"
             "<span class=\"key k crnh\"></span>%lld CRNH"
             "<span class=\"key k nmr\"></span>%lld NMR</p>\n",
          z(run->n_crh), z(run->n_crnh), z(run->n_nmr));
  return 1;   /* one row */
}

static void run_facts(rep *r) {
  ns_q_run_filter flt = {.current_only = 1};
  int rc = ns_q_runs(r->rd, &flt, run_facts_row, r);
  query(r, rc < 0 ? rc : 0);
  if (rc == 0 && !r->rc)
    fprintf(r->f, "<p><b>No published scoring run yet.</b> Run <code>notescore score --db DB"
                  "</code> (or let <code>serve</code> run one) and reload.</p>\n");
}

/* ---- 2. the scatter ----------------------------------------------------- */

typedef struct pt {
  int64_t id;
  double x, y;
  int kind;
} pt;

/* The rules that can make a note CRNH, named in the caption when they put
** points above the drawn CRNH line (the line is GeneralCRNH's; the others
** decide on other figures: the intercept's upper bound, a tag ratio, the
** tag-based CRNH). */
static const int crnh_rules[] = {NS_RULE_GENERAL_CRNH, NS_RULE_UCB_CRNH, NS_RULE_RATIO_CRNH,
                                 NS_RULE_NM_CRNH};
#define N_CRNH_RULES 4
static const char *const sclass_label[NS_SCLASS_COUNT] = {"CRH", "CRNH", "NMR", "other"};
#define MAX_DECIDERS 16

/* Data -> SVG coordinates.  The x axis runs left to right over [x0, x1];
** SVG's y grows downwards, so the intercept axis is flipped: y0 maps to the
** bottom margin, y1 to the top. */
static double sx(double x, double x0, double x1) { return ML + (x - x0) / (x1 - x0) * (PW - ML - MR); }
static double sy(double y, double y0, double y1) { return PH - MB - (y - y0) / (y1 - y0) * (PH - MT - MB); }

/* What the scatter collects from the rows before drawing. */
typedef struct scat {
  rep *r;
  pt *pts;
  size_t n, cap, total, limit;
  size_t count[N_KINDS];
  size_t n_crnh, n_above, by_rule[N_CRNH_RULES], by_dec[MAX_DECIDERS], by_dec_other;
  char dec[MAX_DECIDERS][48];
  int n_dec;
  double x0, x1, y0, y1;
} scat;

static int scatter_row(void *ctx, const ns_q_note *row) {
  scat *c = ctx;
  rep *r = c->r;
  int kind = kind_of(str(row->status));
  c->total++;
  /* CRNH above the drawn line: which rule put it there (every point,
  ** drawn or not) */
  if (kind == 1) {
    double x = row->factor, y = row->intercept;
    c->n_crnh++;
    if (isfinite(x) && isfinite(y) && y > r->p.crnh_threshold + r->p.crnh_factor_mult * fabs(x)) {
      uint64_t mask = row->core_rules;
      int any = 0;
      c->n_above++;
      for (int k = 0; k < N_CRNH_RULES; k++)
        if (mask & (1ull << crnh_rules[k])) {
          c->by_rule[k]++;
          any = 1;
        }
      if (!any) { /* CRNH by no CRNH rule: a lock or the history; name the decider */
        const char *d = str(row->decided_by);
        int k;
        for (k = 0; k < c->n_dec && strcmp(c->dec[k], d); k++) {}
        if (k == c->n_dec && c->n_dec < MAX_DECIDERS) {
          snprintf(c->dec[k], sizeof c->dec[k], "%s", d);
          c->n_dec++;
        }
        if (k < MAX_DECIDERS) c->by_dec[k]++;
        else c->by_dec_other++;
      }
    }
  }
  if (c->n == c->limit) return 0;
  if (c->n == c->cap) {
    size_t nc = c->cap ? c->cap * 2 : 4096;
    pt *np = realloc(c->pts, nc * sizeof *np);
    if (!np) return r->rc = NS_ENOMEM;
    c->pts = np;
    c->cap = nc;
  }
  c->pts[c->n] = (pt){row->note_id, row->factor, row->intercept, kind};
  if (!isfinite(row->factor) || !isfinite(row->intercept)) return 0;
  /* the axes grow to fit every point (rounded out to 0.1) */
  c->x0 = fmin(c->x0, floor(row->factor * 10.0) / 10.0);
  c->x1 = fmax(c->x1, ceil(row->factor * 10.0) / 10.0);
  c->y0 = fmin(c->y0, floor(row->intercept * 10.0) / 10.0);
  c->y1 = fmax(c->y1, ceil(row->intercept * 10.0) / 10.0);
  c->count[kind]++;
  c->n++;
  return 0;
}

static void scatter(rep *r) {
  scat sc = {.r = r, .x0 = -1.0, .x1 = 1.0, .y0 = -0.6, .y1 = 0.8};
  ns_q_note_filter flt = {1, NULL, NULL, NS_Q_NULL, 0, 0};
  pt *pts = NULL;
  size_t n, total, limit, *count = sc.count, n_crnh, n_above, *by_rule = sc.by_rule,
         *by_dec = sc.by_dec, by_dec_other;
  char (*dec)[48] = sc.dec;
  int n_dec;
  double x0, x1, y0, y1, step_x, step_y;
  FILE *f = r->f;
  int titles;

  sc.limit = r->o && r->o->max_points > 0 ? (size_t)r->o->max_points : 200000;
  fprintf(f, "<h2>Notes: intercept against factor</h2>\n");
  if (!r->run_id) return;
  /* note_id order: same DB, same bytes (the e2e test compares the file
  ** with the page `serve` sends).  Notes without a model (too few ratings)
  ** have NULL intercept/factor and are not drawn (scored_only): there is
  ** nowhere to put them, and the caption counts only drawn points. */
  query(r, ns_q_notes(r->rd, &flt, scatter_row, &sc));
  pts = sc.pts;
  if (r->rc) goto out;
  n = sc.n;
  total = sc.total;
  limit = sc.limit;
  n_crnh = sc.n_crnh;
  n_above = sc.n_above;
  by_dec_other = sc.by_dec_other;
  n_dec = sc.n_dec;
  x0 = sc.x0;
  x1 = sc.x1;
  y0 = sc.y0;
  y1 = sc.y1;
  /* the disagreeing notes of --compare are drawn on the same axes */
  for (size_t i = 0; i < r->n_dis; i++) {
    x0 = fmin(x0, floor(r->dis[i].x * 10.0) / 10.0);
    x1 = fmax(x1, ceil(r->dis[i].x * 10.0) / 10.0);
    y0 = fmin(y0, floor(r->dis[i].y * 10.0) / 10.0);
    y1 = fmax(y1, ceil(r->dis[i].y * 10.0) / 10.0);
  }

  fprintf(f, "<p class=note>%zu scored notes of run %lld", n, (long long)r->run_id);
  if (total > n) fprintf(f, " (%zu more not drawn: the page is capped at %zu points)", total - n, limit);
  fprintf(f, ". Dashed lines: CRH at intercept %.2f (for |factor| &le; %.1f), "
             "CRNH at intercept %.2f %.1f&middot;|factor| (GeneralCRNH).",
          r->p.crh_threshold, r->p.factor_threshold, r->p.crnh_threshold, r->p.crnh_factor_mult);
  /* the CRNH caption: every rule that put CRNH points above that line */
  fprintf(f, " <span id=\"crnh-above\">%zu of %zu CRNH points sit above the CRNH line", n_above,
          n_crnh);
  if (n_above) {
    int first = 1;
    fputs("; the rules that made them CRNH:", f);
    for (int k = 0; k < N_CRNH_RULES; k++)
      if (by_rule[k]) {
        fprintf(f, "%s <b>%s</b> (%zu)", first ? "" : ",", ns_rule_names[crnh_rules[k]], by_rule[k]);
        first = 0;
      }
    for (int k = 0; k < n_dec; k++) {
      fprintf(f, "%s no CRNH rule, decided by <b>", first ? "" : ",");
      esc(f, dec[k][0] ? dec[k] : "(none)");
      fprintf(f, "</b> (%zu)", by_dec[k]);
      first = 0;
    }
    if (by_dec_other) fprintf(f, ", other deciders (%zu)", by_dec_other);
    fputs(" (a point can have several rules)", f);
  }
  fputs(".</span></p>\n", f);
  fprintf(f, "<svg id=\"scatter\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n", PW, PH, PW, PH);
  /* grid and ticks: about 8 "nice" steps per axis; values within 1e-12 of
  ** zero print as 0 rather than as -2.8e-17 from the accumulated steps */
  step_x = nice_step(x1 - x0, 8);
  step_y = nice_step(y1 - y0, 8);
  for (double t = ceil(x0 / step_x) * step_x; t <= x1 + 1e-9; t += step_x)
    fprintf(f, "<line class=grid x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
               "<text x=\"%.1f\" y=\"%.1f\" text-anchor=middle>%.2g</text>\n",
            sx(t, x0, x1), MT, sx(t, x0, x1), PH - MB, sx(t, x0, x1), PH - MB + 14,
            fabs(t) < 1e-12 ? 0.0 : t);
  for (double t = ceil(y0 / step_y) * step_y; t <= y1 + 1e-9; t += step_y)
    fprintf(f, "<line class=grid x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
               "<text x=\"%.1f\" y=\"%.1f\" text-anchor=end>%.2g</text>\n",
            ML, sy(t, y0, y1), PW - MR, sy(t, y0, y1), ML - 6, sy(t, y0, y1) + 4,
            fabs(t) < 1e-12 ? 0.0 : t);
  fprintf(f, "<line class=axis x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
             "<line class=axis x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
          ML, PH - MB, PW - MR, PH - MB, ML, MT, ML, PH - MB);
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=middle>note factor</text>"
             "<text transform=\"translate(16 %.1f) rotate(-90)\" text-anchor=middle>"
             "note intercept</text>\n",
          (ML + PW - MR) / 2, PH - 10, (MT + PH - MB) / 2);

  /* points: one group per status so CSS colours them; NMR first so the
  ** decided notes are drawn on top.  A <title> (hover text) per point only
  ** while the page stays small. */
  titles = n <= 20000;
  for (int k = N_KINDS - 1; k >= 0; k--) {
    fprintf(f, "<g class=\"%s\">\n", kinds[k].cls);
    for (size_t i = 0; i < n; i++) {
      if (pts[i].kind != k) continue;
      fprintf(f, "<circle class=\"pt\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\">",
              sx(pts[i].x, x0, x1), sy(pts[i].y, y0, y1));
      if (titles)
        fprintf(f, "<title>%lld: %.3f, %.3f</title>", (long long)pts[i].id, pts[i].x, pts[i].y);
      fputs("</circle>\n", f);
    }
    fputs("</g>\n", f);
  }

  /* --compare: the disagreeing notes, rings over the points */
  if (r->has_cmp) {
    fputs("<g class=\"dis\">\n", f);
    for (size_t i = 0; i < r->n_dis; i++) {
      fprintf(f, "<circle class=\"dpt\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\">",
              sx(r->dis[i].x, x0, x1), sy(r->dis[i].y, y0, y1));
      if (titles)
        fprintf(f, "<title>%lld: %s here, %s there</title>", (long long)r->dis[i].id,
                sclass_label[r->dis[i].a], sclass_label[r->dis[i].b]);
      fputs("</circle>\n", f);
    }
    fputs("</g>\n", f);
  }

  /* thresholds on top of the points */
  {
    double fl = r->p.factor_threshold, c = r->p.crnh_threshold, m = r->p.crnh_factor_mult;
    double yc = r->p.crh_threshold;
    fprintf(f, "<line class=\"thr crh\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
            sx(fmax(-fl, x0), x0, x1), sy(yc, y0, y1), sx(fmin(fl, x1), x0, x1), sy(yc, y0, y1));
    fprintf(f, "<line class=fl x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
               "<line class=fl x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
            sx(-fl, x0, x1), MT, sx(-fl, x0, x1), PH - MB, sx(fl, x0, x1), MT, sx(fl, x0, x1),
            PH - MB);
    /* the diamond's lower half, clipped to the plot by its own range */
    fprintf(f, "<polyline class=\"thr crnh\" points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\"/>\n",
            sx(x0, x0, x1), sy(fmax(c + m * fabs(x0), y0), y0, y1), sx(0, x0, x1), sy(c, y0, y1),
            sx(x1, x0, x1), sy(fmax(c + m * fabs(x1), y0), y0, y1));
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=k>CRH %.2f</text>\n", sx(fmin(fl, x1), x0, x1) + 4,
            sy(yc, y0, y1) - 4, yc);
  }
  fputs("</svg>\n<p>", f);
  for (int k = 0; k < N_KINDS; k++)
    fprintf(f, "<span class=\"key k %s\"></span>%s: %zu", kinds[k].cls, kinds[k].label, count[k]);
  if (r->has_cmp)
    fprintf(f, "<span class=\"key dis\"></span>status differs from the compared set: %zu", r->n_dis);
  fputs("</p>\n", f);
out:
  free(pts);
}

/* ---- 2b. agreement with another set of statuses (--compare) ------------- */

/* Joins every note of the current run with the compared set (both in note
** id order) and keeps the counts and the disagreeing notes for the
** scatter.  Runs before the scatter, inside the page's transaction. */
typedef struct agree_it {
  rep *r;
  const ns_report_compare *c;
  size_t j, cap;
} agree_it;

static int agreement_row(void *ctx, const ns_q_note *row) {
  agree_it *it = ctx;
  rep *r = it->r;
  const ns_report_compare *c = it->c;
  int64_t id = row->note_id;
  int a, b;
  while (it->j < c->n && c->note_id[it->j] < id) { r->cmp_only_other++; it->j++; }
  if (it->j == c->n || c->note_id[it->j] != id) { r->cmp_only_run++; return 0; }
  a = ns_report_status_class(str(row->status));
  b = c->cls[it->j++] < NS_SCLASS_COUNT ? c->cls[it->j - 1] : NS_SCLASS_OTHER;
  r->cmp_common++;
  r->cmp_matrix[a][b]++;
  if (a == b) { r->cmp_agree++; return 0; }
  if (!isfinite(row->factor) || !isfinite(row->intercept)) { /* NULL reads as NAN */
    r->n_dis_unscored++;
    return 0;
  }
  if (r->n_dis == it->cap) {
    size_t nc = it->cap ? it->cap * 2 : 256;
    dpt *nd = realloc(r->dis, nc * sizeof *nd);
    if (!nd) return r->rc = NS_ENOMEM;
    r->dis = nd;
    it->cap = nc;
  }
  r->dis[r->n_dis++] = (dpt){id, row->factor, row->intercept, (uint8_t)a, (uint8_t)b};
  return 0;
}

static void agreement_compute(rep *r) {
  agree_it it = {r, r->o ? r->o->compare : NULL, 0, 0};
  if (!it.c || !r->run_id) return;
  r->has_cmp = 1;
  if (!r->rc) query(r, ns_q_notes(r->rd, NULL, agreement_row, &it));
  r->cmp_only_other += it.c->n - it.j;
}

/* The agreement section: figures and the confusion matrix as a heat table
** (cell shade proportional to its count). */
static void agreement_section(rep *r) {
  const ns_report_compare *c = r->o ? r->o->compare : NULL;
  FILE *f = r->f;
  size_t max = 1;
  if (!c) return;
  fputs("<h2 id=\"agreement\">Agreement with ", f);
  esc(f, c->label ? c->label : "the compared statuses");
  fputs("</h2>\n", f);
  if (!r->has_cmp) {
    fputs("<p>No published run to compare.</p>\n", f);
    return;
  }
  fprintf(f, "<p>%zu notes in common (%zu only in this run, %zu only in the compared set). "
             "Status agreement <b id=\"agree\">",
          r->cmp_common, r->cmp_only_run, r->cmp_only_other);
  if (r->cmp_common) fprintf(f, "%.4f", (double)r->cmp_agree / (double)r->cmp_common);
  else fputs("-", f);
  fprintf(f, "</b> (%zu of %zu); %zu notes differ: %zu drawn as rings on the scatter above, "
             "%zu without an intercept (not scored in this run).</p>\n",
          r->cmp_agree, r->cmp_common, r->cmp_common - r->cmp_agree, r->n_dis, r->n_dis_unscored);
  for (int a = 0; a < NS_SCLASS_COUNT; a++)
    for (int b = 0; b < NS_SCLASS_COUNT; b++) max = r->cmp_matrix[a][b] > max ? r->cmp_matrix[a][b] : max;
  fputs("<table class=heat id=\"confusion\"><tr><th class=l>this run \\ compared</th>", f);
  for (int b = 0; b < NS_SCLASS_COUNT; b++) fprintf(f, "<th>%s</th>", sclass_label[b]);
  fputs("</tr>\n", f);
  for (int a = 0; a < NS_SCLASS_COUNT; a++) {
    fprintf(f, "<tr><th class=l>%s</th>", sclass_label[a]);
    for (int b = 0; b < NS_SCLASS_COUNT; b++) {
      double alpha = r->cmp_matrix[a][b] ? 0.08 + 0.92 * (double)r->cmp_matrix[a][b] / (double)max : 0;
      fprintf(f, "<td style=\"background:rgba(117,112,179,%.2f)%s\">%zu</td>", alpha,
              alpha > 0.55 ? ";color:#fff" : "", r->cmp_matrix[a][b]);
    }
    fputs("</tr>\n", f);
  }
  fputs("</table>\n<p class=note>Rows: this run's status; columns: the compared set's. "
        "<code>notescore compare</code> gives the same figures with the notes themselves.</p>\n", f);
}

/* ---- 3. status counts across runs -------------------------------------- */

/* Stacked bars, one per published run: CRH at the bottom, then CRNH, then
** NMR, so the CRH band's height change between runs reads directly.  The
** counts come from run_summary (the runs table), not from note_scores, so
** the chart costs nothing however many notes there are. */
enum { MAXR = 60 };
typedef struct bar {
  int64_t id, v[N_KINDS];
  double secs;
  int64_t ratings;
} bar;
typedef struct bars {
  bar run[MAXR];
  int n;
  int64_t vmax;
} bars;

static int bars_row(void *ctx, const ns_q_run *row) {
  bars *b = ctx;
  if (b->n == MAXR) return 0;
  b->run[b->n].id = row->run_id;
  b->run[b->n].v[0] = z(row->n_crh);
  b->run[b->n].v[1] = z(row->n_crnh);
  b->run[b->n].v[2] = z(row->n_nmr);
  b->run[b->n].secs = zf(row->wall_seconds);
  b->run[b->n].ratings = z(row->n_ratings);
  b->vmax = NS_MAX(b->vmax, b->run[b->n].v[0] + b->run[b->n].v[1] + b->run[b->n].v[2]);
  b->n++;
  return 0;
}

static void runs_chart(rep *r) {
  bars b;
  FILE *f = r->f;
  const double W = 760, H = 260, L = 64, B = 40, T = 12;
  /* the newest MAXR published runs, oldest first */
  ns_q_run_filter flt = {.status = "published", .limit = MAXR, .oldest_first = 1};
  int n;
  int64_t vmax;
  const bar *run = b.run;
  memset(&b, 0, sizeof b);
  b.vmax = 1;
  if (!r->rc) query(r, ns_q_runs(r->rd, &flt, bars_row, &b));
  n = b.n;
  vmax = b.vmax;
  fprintf(f, "<h2>Status counts across published runs</h2>\n");
  if (r->rc || n == 0) return;
  fprintf(f, "<svg id=\"runs\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n", W, H, W, H);
  {
    double bw = (W - L - 16) / n, st_y = nice_step((double)vmax, 5);
    for (double t = 0; t <= vmax + 1e-9; t += st_y) {
      double y = H - B - t / vmax * (H - B - T);
      fprintf(f, "<line class=grid x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                 "<text x=\"%.1f\" y=\"%.1f\" text-anchor=end>%.0f</text>\n",
              L, y, W - 16, y, L - 6, y + 4, t);
    }
    for (int i = 0; i < n; i++) {
      double base = H - B, x = L + i * bw + bw * 0.1;
      for (int k = 0; k < N_KINDS; k++) {
        double h = (double)run[i].v[k] / vmax * (H - B - T);
        fprintf(f, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
                   "<title>run %lld: %lld %s</title></rect>\n",
                kinds[k].cls, x, base - h, bw * 0.8, h, (long long)run[i].id,
                (long long)run[i].v[k], kinds[k].cls);
        base -= h;
      }
      if (n <= 20 || i % (n / 10 + 1) == 0)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=middle>%lld</text>\n", x + bw * 0.4,
                H - B + 14, (long long)run[i].id);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=middle>run</text>\n", (L + W) / 2, H - 8);
  }
  fputs("</svg>\n", f);
  /* the last few runs as a table, newest first */
  fputs("<table><tr><th>run</th><th>CRH</th><th>CRNH</th><th>NMR</th><th>ratings</th>"
        "<th>seconds</th></tr>\n", f);
  for (int i = n - 1; i >= 0 && i >= n - 10; i--)
    fprintf(f, "<tr><td>%lld</td><td>%lld</td><td>%lld</td><td>%lld</td><td>%lld</td>"
               "<td>%.2f</td></tr>\n",
            (long long)run[i].id, (long long)run[i].v[0], (long long)run[i].v[1],
            (long long)run[i].v[2], (long long)run[i].ratings, run[i].secs);
  fputs("</table>\n", f);
}

/* ---- 4. rater histograms ------------------------------------------------ */

/* Draws a histogram of the first column of sql's rows: 40 equal bins over
** [lo0, hi0] widened to the data's range, so an outlier is never clipped
** out of the picture.  Values are buffered once (8 bytes per rater) because
** the range must be known before binning. */
typedef struct vals {
  rep *r;
  double *v, lo, hi;
  size_t n, cap;
} vals;

static int vals_add(void *ctx, double x) {
  vals *a = ctx;
  if (!isfinite(x)) return 0;
  if (a->n == a->cap) {
    size_t nc = a->cap ? a->cap * 2 : 4096;
    double *nv = realloc(a->v, nc * sizeof *nv);
    if (!nv) return a->r->rc = NS_ENOMEM;
    a->v = nv;
    a->cap = nc;
  }
  a->v[a->n++] = x;
  a->lo = fmin(a->lo, x);
  a->hi = fmax(a->hi, x);
  return 0;
}

static void histogram(rep *r, const char *title, const char *id, int which, double lo0,
                      double hi0) {
  enum { NB = 40 };
  int64_t bins[NB] = {0}, bmax = 1, total = 0;
  vals a = {r, NULL, lo0, hi0, 0, 0};
  double *v, lo, hi;
  size_t n;
  FILE *f = r->f;
  const double W = 370, H = 220, L = 48, B = 36, T = 10, R = 8;
  if (!r->rc) query(r, ns_q_rater_values(r->rd, r->run_id, which, vals_add, &a));
  v = a.v;
  lo = a.lo;
  hi = a.hi;
  n = a.n;
  fprintf(f, "<div class=hist><h3>%s</h3>\n", title);
  if (r->rc || n == 0) {
    fprintf(f, "<p class=note>no values in this run</p></div>\n");
    free(v);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    int b = hi > lo ? (int)((v[i] - lo) / (hi - lo) * NB) : 0;
    b = b < 0 ? 0 : b >= NB ? NB - 1 : b;
    bins[b]++;
  }
  for (int b = 0; b < NB; b++) bmax = NS_MAX(bmax, bins[b]), total += bins[b];
  fprintf(f, "<svg id=\"%s\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n", id, W, H, W, H);
  for (int b = 0; b < NB; b++) {
    double bw = (W - L - R) / NB, h = (double)bins[b] / bmax * (H - B - T);
    fprintf(f, "<rect class=bar x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
               "<title>[%.3f, %.3f): %lld</title></rect>\n",
            L + b * bw, H - B - h, bw * 0.9, h, lo + (hi - lo) * b / NB,
            lo + (hi - lo) * (b + 1) / NB, (long long)bins[b]);
  }
  fprintf(f, "<line class=axis x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", L, H - B,
          W - R, H - B);
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=middle>%.2f</text>"
             "<text x=\"%.1f\" y=\"%.1f\" text-anchor=middle>%.2f</text>"
             "<text x=\"%.1f\" y=\"%.1f\" text-anchor=end>%lld</text>"
             "<text x=\"%.1f\" y=\"%.1f\" text-anchor=end>0</text>\n",
          L, H - B + 14, lo, W - R, H - B + 14, hi, L - 4, T + 8, (long long)bmax, L - 4, H - B);
  fprintf(f, "</svg><p class=note>%lld raters</p></div>\n", (long long)total);
  free(v);
}

/* ---- 5. changes in the last run ---------------------------------------- */

/* The change log of the current run.  New notes (old_status NULL) are only
** counted: on a first run they are every note, which would drown the rows
** that matter -- notes that really moved. */
typedef struct chg_it {
  FILE *f;
  int64_t shown;
} chg_it;

static int change_row(void *ctx, const ns_q_change *c) {
  chg_it *it = ctx;
  FILE *f = it->f;
  char a[32] = "-", b[32] = "-";
  if (!isnan(c->old_intercept)) snprintf(a, sizeof a, "%.4f", c->old_intercept);
  if (!isnan(c->new_intercept)) snprintf(b, sizeof b, "%.4f", c->new_intercept);
  fprintf(f, "<tr class=chg><td class=l>%lld</td><td class=l>", (long long)c->note_id);
  esc(f, str(c->old_status));
  fputs("</td><td class=l>", f);
  esc(f, str(c->new_status));
  fputs("</td><td class=l>", f);
  esc(f, str(c->decided_by));
  fprintf(f, "</td><td>%s</td><td>%s</td></tr>\n", a, b);
  it->shown++;
  return 0;
}

static void changes(rep *r) {
  int limit = r->o && r->o->max_changes > 0 ? r->o->max_changes : 200;
  int64_t changed = 0, fresh = 0;
  FILE *f = r->f;
  chg_it it = {f, 0};
  fprintf(f, "<h2>Notes whose status changed in the last run</h2>\n");
  if (!r->run_id) return;
  if (!r->rc) query(r, ns_q_change_counts(r->rd, r->run_id, &changed, &fresh));
  fprintf(f, "<p>%lld notes changed status in run %lld against the previous published run; "
             "%lld notes were scored for the first time.</p>\n",
          (long long)changed, (long long)r->run_id, (long long)fresh);
  if (r->rc || changed == 0) return;
  fputs("<table id=\"changes\"><tr><th class=l>note</th><th class=l>from</th><th class=l>to</th>"
        "<th class=l>decided by</th><th>intercept before</th><th>after</th></tr>\n", f);
  query(r, ns_q_changes(r->rd, r->run_id, limit, change_row, &it));
  fputs("</table>\n", f);
  if (changed > it.shown)
    fprintf(f, "<p class=note>%lld more not shown (query the status_changes view).</p>\n",
            (long long)(changed - it.shown));
}

/* ---- entry point -------------------------------------------------------- */

int ns_report_html(ns_reader *rd, FILE *out, const ns_report_opts *opts) {
  rep r;
  const char *title = opts && opts->title ? opts->title : "notescore report";
  memset(&r, 0, sizeof r);
  r.rd = rd;
  r.f = out;
  r.o = opts;
  ns_params_default(&r.p);

  /* One snapshot for the whole page. */
  if (ns_reader_begin(rd) != 0) return NS_ESQL;
  fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>", out);
  esc(out, title);
  fprintf(out, "</title>\n<style>%s</style></head><body>\n<h1>", css);
  esc(out, title);
  fputs("</h1>\n", out);

  run_facts(&r);
  if (r.run_id) {
    /* the thresholds the run was scored with (runs.params; old runs:
    ** defaults for what they did not record) */
    char *pj = NULL;
    int prc = ns_q_run_params(rd, r.run_id, &pj);
    if (prc == 0) prc = ns_params_from_json(pj, &r.p, NULL, 0);
    free(pj);
    if (prc && !r.rc) r.rc = prc;
  }
  agreement_compute(&r);
  scatter(&r);
  agreement_section(&r);
  runs_chart(&r);
  if (r.run_id) {
    fprintf(out, "<h2>Raters in run %lld</h2>\n", (long long)r.run_id);
    histogram(&r, "Rater factor (final round)", "hist-factor", NS_Q_RATER_FACTOR, -1.0, 1.0);
    histogram(&r, "Rater trust", "hist-trust", NS_Q_RATER_TRUST, 0.0, 1.0);
  }
  changes(&r);
  fputs("<p class=note>Generated by notescore from the dashboard views "
        "(docs/dashboards.md). Self-contained: no scripts, no external resources.</p>\n"
        "</body></html>\n", out);
  ns_reader_end(rd);
  free(r.dis);
  ns_params_release(&r.p);
  if (!r.rc && (fflush(out) != 0 || ferror(out))) r.rc = NS_EIO;
  return r.rc;
}
