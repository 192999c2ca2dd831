/*
** store/tsv_write.c -- ns_tsv_export(): an ns_dataset back to the four
** public files, in the current public column layouts and order.
**
** Who calls it: ns_store_export() and the CLI.  Thread: the caller's.
**
** What we do not store is written empty (pandas reads an empty field as NA,
** which is what the reference does with those columns anyway):
**   notes:   believable, harmful, validationDifficulty, the 12 misleading* /
**            notMisleading* reason flags, trustworthySources, isMediaNote,
**            isCollaborativeNote (the summary is kept, quoted as pandas
**            quotes it);
**   ratings: version, agree, disagree, helpful, notHelpful (the level is
**            always written to helpfulnessLevel), ratedOnTweetId,
**            suggestion, suggestionId.
** Absent values (NS_TS_NONE, NAN, NS_STATUS_UNSET, -1 participants) are
** written empty.  Integers are printed exactly; floats (the modeling-group
** columns) as an integer when they are integral, else with %.17g.
** Files are written through a 1 MiB buffer; no per-row stdio formatting.
** Headers, and the history and enrollment rows, follow the column tables
** of store/format.c.
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

/* Free text as pandas writes it: quoted, inner quotes doubled, when it
** holds a tab, a line break or a quote. */
static void wtext(wbuf *w, const char *s, size_t n) {
  size_t i = 0;
  while (i < n && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' && s[i] != '"') i++;
  if (i == n) {
    wput(w, s, n);
    return;
  }
  wput(w, "\"", 1);
  for (size_t a = 0; a < n;) {
    const char *q = memchr(s + a, '"', n - a);
    size_t b = q ? (size_t)(q - s) + 1 : n;
    wput(w, s + a, b - a);
    if (q) wput(w, "\"", 1);
    a = b;
  }
  wput(w, "\"", 1);
}

static void wstatus(wbuf *w, int8_t s) { wstr(w, ns_status_name(s)); }

/* The header of a kind: its column table, so that the column list exists
** once (store/format.c). */
static void wheader(wbuf *w, int kind) {
  const ns_fmt_kind *k = ns_fmt_kind_get(kind);
  for (int i = 0; i < k->ncols; i++) {
    if (i) wtab(w);
    wstr(w, k->cols[i].name);
  }
  wnl(w);
}

static void wempty(wbuf *w, int n) {
  for (int i = 0; i < n; i++) wtab(w);
}

static void write_notes(wbuf *w, const ns_dataset *ds) {
  wheader(w, NS_FILE_NOTES);
  for (size_t i = 0; i < ds->n_notes; i++) {
    wi64(w, ds->note_id[i]);
    wtab(w);
    wpart(w, ds, ds->note_author[i]);
    wtab(w);
    wi64(w, ds->note_created_ms[i]);
    wtab(w);
    wi64(w, ds->note_tweet_id[i]);
    wtab(w);
    wstr(w, ns_fmt_class_name(ds->note_class[i]));
    wempty(w, NS_FMT_N_SUMMARY - 5); /* the columns we do not keep */
    wtab(w);
    {
      size_t tl;
      const char *t = ns_dataset_note_text(ds, i, &tl);
      wtext(w, t, tl);
    }
    wempty(w, NS_FMT_NOTES_NCOLS - 1 - NS_FMT_N_SUMMARY);
    wnl(w);
  }
}

static void write_ratings(wbuf *w, const ns_dataset *ds) {
  wheader(w, NS_FILE_RATINGS);
  for (size_t i = 0; i < ds->n_ratings; i++) {
    uint32_t tags = ns_r_tags(ds, i);
    char tb[2 * NS_N_TAGS];
    wi64(w, ds->r_note_id[i]);
    wtab(w);
    wpart(w, ds, ds->r_rater[i]);
    wtab(w);
    wi64(w, ns_r_created(ds, i));
    wempty(w, 6); /* version agree disagree helpful notHelpful, then the level */
    wstr(w, ns_fmt_level_name(ns_r_level(ds, i)));
    for (int t = 0; t < NS_N_TAGS; t++) {
      tb[2 * t] = '\t';
      tb[2 * t + 1] = (tags >> t) & 1 ? '1' : '0';
    }
    wput(w, tb, sizeof tb);
    wtab(w); /* ratedOnTweetId: not stored */
    wtab(w);
    wstr(w, ns_fmt_source_name(ns_r_source(ds, i)));
    wempty(w, 2);
    wnl(w);
  }
}

/* One history / enrollment row, column by column from the table: every
** field is where the table's offset says, in the format of its type. */
static void wrow(wbuf *w, const ns_dataset *ds, int kind, const void *row, int32_t participant) {
  const ns_fmt_kind *k = ns_fmt_kind_get(kind);
  const char *b = row;
  for (int c = 0; c < k->ncols; c++) {
    const ns_fmt_col *col = &k->cols[c];
    const void *f = b + col->off;
    if (c) wtab(w);
    switch (col->type) {
    case NS_FT_PARTICIPANT: wpart(w, ds, participant); break;
    case NS_FT_NOTE_ID: wi64(w, *(const int64_t *)f); break;
    case NS_FT_OPT_INT: wopt(w, *(const int64_t *)f); break;
    case NS_FT_STATUS: wstatus(w, *(const int8_t *)f); break;
    case NS_FT_REAL: wf64(w, *(const double *)f); break;
    case NS_FT_TEXT: wput(w, f, strnlen(f, col->max)); break;
    case NS_FT_GROUP:
      if (*(const int32_t *)f >= 0) wi64(w, *(const int32_t *)f);
      break;
    case NS_FT_ENUM: {
      int8_t v = *(const int8_t *)f;
      if (v >= 0 && v < col->nvalues) wstr(w, col->values[v]);
      break;
    }
    default: break;
    }
  }
  wnl(w);
}

static void write_history(wbuf *w, const ns_dataset *ds) {
  wheader(w, NS_FILE_HISTORY);
  for (size_t i = 0; i < ds->n_history; i++)
    wrow(w, ds, NS_FILE_HISTORY, &ds->history[i], ds->history[i].author);
}

static void write_enrollment(wbuf *w, const ns_dataset *ds) {
  wheader(w, NS_FILE_ENROLLMENT);
  for (size_t i = 0; i < ds->n_enrollment; i++)
    wrow(w, ds, NS_FILE_ENROLLMENT, &ds->enrollment[i], ds->enrollment[i].participant);
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
