/*
** dash/dash.h -- read-only views of the score DB for people:
** the explanation of one note and the self-contained HTML report.
**
** Both read through the store's read layer (store/query.h, which queries
** the documented SQL views of docs/dashboards.md) on a reader the caller
** opened with ns_reader_open().  Each function runs its queries inside ONE
** reader snapshot, so what it shows is one published run, never a mix of
** two, even while a writer publishes.  Nothing here runs SQL itself.
**
** Who calls it: tools/cmd_explain.c, tools/cmd_report.c, tools/cmd_compare.c,
** and the server's GET /report and GET /v1/notes/{id}/explain routes
** (server/read.c) on a libuv worker thread.
** Threads: any thread, one call per reader at a time.
*/
#ifndef NS_DASHBOARD_H
#define NS_DASHBOARD_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "../store/query.h"

/* Builds the explanation of note_id in the current published run:
**   noteId (string: ids exceed 2^53), runId, scoredAtMillis, status,
**   coreStatus, decidedBy, classification, numRatings, numFinalRoundRatings,
**   intercept, factor, interceptMin, interceptMax, interceptRound1,
**   factorRound1, lowDiligenceIntercept (null when not computed),
**   firstTag, secondTag,
**   rules: [{name, kind ("core"|"meta"), threshold (text)}] in bit order,
**   ratings: {total, bySide: {neg|pos|none: {helpful, somewhatHelpful,
**            notHelpful, total}}, byLevel: {helpful, somewhatHelpful,
**            notHelpful}} where the side is the sign of the rater's factor
**            in the same run ("none": rater not scored or factor 0),
**   topTags: [{tag, count}] (up to 5, count > 0, most frequent first, ties
**            by the reference tie-break rank),
**   history: [{runId, scoredAtMillis, status, decidedBy, intercept, factor}]
**            in run order,
**   statusHistory: the note_status_history row, keys the public
**            noteStatusHistory column names (currentStatus, ...; {} if none).
** *out is a new reference (json_decref it); NULL on error.  msg (may be
** NULL) receives a one-line reason on error.
** Returns 0, NS_ENODATA (no published run), NS_ENOTFOUND (note not in the
** current run), NS_ESQL (query failed, e.g. schema older than v2),
** NS_ENOMEM. */
int ns_dash_explain(ns_reader *rd, int64_t note_id, json_t **out, char *msg,
                    size_t msg_len);

/* Status classes of a comparison: the rows and columns of the confusion
** matrix (`report --compare`, `notescore compare`). */
enum ns_status_class {
  NS_SCLASS_CRH = 0,   /* CURRENTLY_RATED_HELPFUL */
  NS_SCLASS_CRNH,      /* CURRENTLY_RATED_NOT_HELPFUL */
  NS_SCLASS_NMR,       /* NEEDS_MORE_RATINGS */
  NS_SCLASS_OTHER,     /* anything else, the empty status included */
  NS_SCLASS_COUNT
};

/* The class of a public status string (NULL counts as ""). */
int ns_report_status_class(const char *status);

/* Another set of statuses to compare the current run with: the report's
** agreement section.  Arrays are borrowed for the call. */
typedef struct ns_report_compare {
  const char *label;       /* what it is (e.g. its path), shown in the section */
  size_t n;                /* notes */
  const int64_t *note_id;  /* [n] ascending, distinct */
  const uint8_t *cls;      /* [n] NS_SCLASS_* of each note's status */
} ns_report_compare;

/* Options for the HTML report. */
typedef struct ns_report_opts {
  const char *title;       /* page title; NULL = "notescore report" */
  int max_points;          /* scatter points cap (0 = 200000); notes past it
                              are counted in the caption, not drawn */
  int max_changes;         /* rows of the "changed in the last run" table
                              (0 = 200) */
  const ns_report_compare *compare; /* NULL = no agreement section */
} ns_report_opts;

/* Writes one self-contained HTML page (inline CSS and SVG, no scripts, no
** external URL) to out: run facts, the note intercept-vs-factor scatter
** coloured by status (one <circle class="pt"> per scored note of the
** current run, i.e. per note with a non-null intercept and factor) with
** the CRH (0.40) and CRNH (-0.05 - 0.8|f|) threshold lines, status counts
** across runs, rater factor and trust histograms, and the notes whose
** status changed in the last run.  The scatter's caption counts the CRNH
** points above the drawn CRNH line and names every CRNH rule (and, for
** points no CRNH rule fired on, the decided_by) behind them.  With
** opts->compare, an agreement section follows the scatter: notes in common,
** status agreement and the CRH/CRNH/NMR/other confusion matrix as a heat
** table, over every note of the current run joined by id with the compared
** set; each disagreeing note with an intercept and factor is drawn on the
** scatter as one <circle class="dpt">.  Without a published run the page
** says so (and still is valid).  opts may be NULL.
** Returns 0, NS_ESQL (query failed), NS_EBUSY, NS_EIO (write to out failed),
** NS_ENOMEM. */
int ns_report_html(ns_reader *rd, FILE *out, const ns_report_opts *opts);

/* The interactive page served at GET /dashboard: dash/dashboard.html as
** built in (dash/dashboard_asset.c), NUL-terminated; ns_dashboard_html_len
** bytes without the NUL.  Static data: no DB, any thread. */
extern const char ns_dashboard_html[];
extern const size_t ns_dashboard_html_len;

#endif /* NS_DASHBOARD_H */
