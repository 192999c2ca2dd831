/*
** store/tsv_write.c -- ns_tsv_export(): an ns_dataset back to the four
** public files, in the current public column layouts and order.
**
** Who calls it: ns_store_export() and the CLI.  Thread: the caller's.
**
** What we do not store is written empty (pandas reads an empty field as NA,
** which is what the reference does with those columns anyway):
**   notes:   believable, harmful, validationDifficulty, the 12 misleading* /
**            notMisleading* reason flags, trustworthySources, summary,
**            isMediaNote, isCollaborativeNote;
**   ratings: version, agree, disagree, helpful, notHelpful (the level is
**            always written to helpfulnessLevel), ratedOnTweetId,
**            suggestion, suggestionId.
** Absent values (NS_TS_NONE, NAN, NS_STATUS_UNSET, -1 participants) are
** written empty.  Integers are printed exactly; floats (the modeling-group
** columns) as an integer when they are integral, else with %.17g.
** Files are written through a 1 MiB buffer; no per-row stdio formatting.
*/
#include "store_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct wbuf {
  FILE *f;
  char *b;
  size_t n, cap;
  int err;
} wbuf;

static void wflush(wbuf *w) {
  if (w->n && !w->err && fwrite(w->b, 1, w->n, w->f) != w->n) w->err = errno ? -errno : NS_EIO;
  w->n = 0;
}

static void wput(wbuf *w, const char *s, size_t n) {
  if (w->n + n > w->cap) wflush(w);
  if (n > w->cap) {
    if (!w->err && fwrite(s, 1, n, w->f) != n) w->err = errno ? -errno : NS_EIO;
    return;
  }
  memcpy(w->b + w->n, s, n);
  w->n += n;
}

static void wstr(wbuf *w, const char *s) { wput(w, s, strlen(s)); }
static void wtab(wbuf *w) { wput(w, "\t", 1); }
static void wnl(wbuf *w) { wput(w, "\n", 1); }

static void wi64(wbuf *w, int64_t v) {
  char tmp[24], *p = tmp + sizeof tmp;
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do *--p = (char)('0' + u % 10);
  while (u /= 10);
  if (v < 0) *--p = '-';
  wput(w, p, (size_t)(tmp + sizeof tmp - p));
}

/* Optional integer: NS_TS_NONE -> empty. */
static void wopt(wbuf *w, int64_t v) {
  if (v != NS_TS_NONE) wi64(w, v);
}

static void wf64(wbuf *w, double d) {
  char tmp[40];
  if (isnan(d)) return;
  if (d == floor(d) && fabs(d) < 9e15) {
    wi64(w, (int64_t)d);
    return;
  }
  snprintf(tmp, sizeof tmp, "%.17g", d);
  wstr(w, tmp);
}

static void wpart(wbuf *w, const ns_dataset *ds, int32_t idx) {
  if (idx >= 0) wstr(w, ns_strtab_str(ds->participants, idx));
}

static void wstatus(wbuf *w, int8_t s) { wstr(w, ns_status_name(s)); }

static void wheader(wbuf *w, const char *const *cols, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (i) wtab(w);
    wstr(w, cols[i]);
  }
  wnl(w);
}

static void wempty(wbuf *w, int n) {
  for (int i = 0; i < n; i++) wtab(w);
}

static const char *const class_names[] = {"", "MISINFORMED_OR_POTENTIALLY_MISLEADING",
                                          "NOT_MISLEADING"};

static void write_notes(wbuf *w, const ns_dataset *ds) {
  wheader(w, ns__notes_cols, 24);
  for (size_t i = 0; i < ds->n_notes; i++) {
    wi64(w, ds->note_id[i]);
    wtab(w);
    wpart(w, ds, ds->note_author[i]);
    wtab(w);
    wi64(w, ds->note_created_ms[i]);
    wtab(w);
    wi64(w, ds->note_tweet_id[i]);
    wtab(w);
    wstr(w, ds->note_class[i] < 3 ? class_names[ds->note_class[i]] : "");
    wempty(w, 19); /* the 19 columns we do not keep */
    wnl(w);
  }
}

static void write_ratings(wbuf *w, const ns_dataset *ds) {
  static const char *const levels[] = {"NOT_HELPFUL", "SOMEWHAT_HELPFUL", "HELPFUL"};
  const char *cols[35];
  size_t k = 0;
  static const char *const head[] = {"noteId",  "raterParticipantId", "createdAtMillis",
                                     "version", "agree",              "disagree",
                                     "helpful", "notHelpful",         "helpfulnessLevel"};
  static const char *const tail[] = {"ratedOnTweetId", "ratingSourceBucketed", "suggestion",
                                     "suggestionId"};
  for (size_t i = 0; i < NS_ARRAY_LEN(head); i++) cols[k++] = head[i];
  for (int t = 0; t < NS_N_TAGS; t++) cols[k++] = ns_tag_names[t];
  for (size_t i = 0; i < NS_ARRAY_LEN(tail); i++) cols[k++] = tail[i];
  wheader(w, cols, k);
  for (size_t i = 0; i < ds->n_ratings; i++) {
    uint32_t tags = ds->r_tags[i];
    char tb[2 * NS_N_TAGS];
    wi64(w, ds->r_note_id[i]);
    wtab(w);
    wpart(w, ds, ds->r_rater[i]);
    wtab(w);
    wi64(w, ds->r_created_ms[i]);
    wempty(w, 6); /* version agree disagree helpful notHelpful, then the level */
    wstr(w, ds->r_level[i] <= 2 ? levels[ds->r_level[i]] : "");
    for (int t = 0; t < NS_N_TAGS; t++) {
      tb[2 * t] = '\t';
      tb[2 * t + 1] = (tags >> t) & 1 ? '1' : '0';
    }
    wput(w, tb, sizeof tb);
    wtab(w); /* ratedOnTweetId: not stored */
    wtab(w);
    wstr(w, ds->r_source[i] == NS_SOURCE_POPULATION_SAMPLED ? "POPULATION_SAMPLED" : "DEFAULT");
    wempty(w, 2);
    wnl(w);
  }
}

static void write_history(wbuf *w, const ns_dataset *ds) {
  wheader(w, ns__history_cols, 24);
  for (size_t i = 0; i < ds->n_history; i++) {
    const ns_nsh *h = &ds->history[i];
    wi64(w, h->note_id); wtab(w);
    wpart(w, ds, h->author); wtab(w);
    wopt(w, h->created_ms); wtab(w);
    wopt(w, h->ts_first_non_nmr); wtab(w);
    wstatus(w, h->first_non_nmr_status); wtab(w);
    wopt(w, h->ts_current); wtab(w);
    wstatus(w, h->current_status); wtab(w);
    wopt(w, h->ts_latest_non_nmr); wtab(w);
    wstatus(w, h->most_recent_non_nmr_status); wtab(w);
    wopt(w, h->ts_lock); wtab(w);
    wstatus(w, h->locked_status); wtab(w);
    wopt(w, h->ts_retro_lock); wtab(w);
    wstatus(w, h->current_core_status); wtab(w);
    wstatus(w, h->current_expansion_status); wtab(w);
    wstatus(w, h->current_group_status); wtab(w);
    wput(w, h->decided_by, strnlen(h->decided_by, sizeof h->decided_by)); wtab(w);
    wf64(w, h->current_modeling_group); wtab(w);
    wopt(w, h->ts_most_recent_change); wtab(w);
    wopt(w, h->ts_nmr_due_to_stable_crh); wtab(w);
    wstatus(w, h->current_multi_group_status); wtab(w);
    wf64(w, h->current_modeling_multi_group); wtab(w);
    wopt(w, h->ts_minute_final_output); wtab(w);
    wopt(w, h->ts_first_nmr_due_to_stable_crh); wtab(w);
    wopt(w, h->above_pcrh_threshold_time);
    wnl(w);
  }
}

static void write_enrollment(wbuf *w, const ns_dataset *ds) {
  wheader(w, ns__enroll_cols, 8);
  for (size_t i = 0; i < ds->n_enrollment; i++) {
    const ns_enrollment *e = &ds->enrollment[i];
    wpart(w, ds, e->participant); wtab(w);
    if (e->state >= 0 && e->state < 9) wstr(w, ns_enroll_names[e->state]);
    wtab(w);
    wopt(w, e->successful_needed); wtab(w);
    wopt(w, e->ts_last_state_change); wtab(w);
    wopt(w, e->ts_last_earn_out); wtab(w);
    wput(w, e->modeling_population, strnlen(e->modeling_population, sizeof e->modeling_population));
    wtab(w);
    if (e->modeling_group >= 0) wi64(w, e->modeling_group);
    wtab(w);
    wopt(w, e->times_earned_out);
    wnl(w);
  }
}

/* Writes one file; returns 0 or -errno / NS_ENOMEM. */
static int write_file(const char *dir, const char *name, const ns_dataset *ds,
                      void (*fn)(wbuf *, const ns_dataset *)) {
  char *path = ns_malloc(strlen(dir) + strlen(name) + 2);
  wbuf w = {0};
  int rc = 0;
  if (!path) return NS_ENOMEM;
  sprintf(path, "%s/%s", dir, name);
  w.cap = NS__TSV_BLOCK;
  w.b = ns_malloc(w.cap);
  if (!w.b) { rc = NS_ENOMEM; goto out; }
  if (!(w.f = fopen(path, "wb"))) { rc = -errno; goto out; }
  fn(&w, ds);
  wflush(&w);
  rc = w.err;
  if (fclose(w.f) != 0 && !rc) rc = -errno;
out:
  free(w.b);
  free(path);
  return rc;
}

int ns_tsv_export(const ns_dataset *ds, const char *dir) {
  int rc;
  if ((rc = ns_mkdir_p(dir)) != 0) return rc;
  if ((rc = write_file(dir, "notes-00000.tsv", ds, write_notes)) != 0) return rc;
  if ((rc = write_file(dir, "ratings-00000.tsv", ds, write_ratings)) != 0) return rc;
  if ((rc = write_file(dir, "noteStatusHistory-00000.tsv", ds, write_history)) != 0) return rc;
  return write_file(dir, "userEnrollment-00000.tsv", ds, write_enrollment);
}
