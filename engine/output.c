/*
** engine/output.c -- writes a run's results in the reference's TSV layouts:
** scored_notes.tsv, helpfulness_scores.tsv and note_status_history.tsv.
**
** Column names and their relative order are the reference's (shared
** reference-output-columns.md) for what notescore computes; columns of
** scorers notescore does not run are omitted, and notescore's own columns
** come last.  docs/algorithm.md lists the exact columns.
**
** Formatting is deterministic: doubles as "%.9g" (enough for float32
** parity, stable across machines), -0 as 0, NaN and absent timestamps as
** the empty field; integers in decimal; booleans as True/False like pandas.
** Every file is written to NAME.tmp; the three are renamed only once all
** were written, so a reader never sees a half-written file and a failure
** leaves no new file behind.
**
** Who calls it: tools/ (score CLI), engine/ server.  Reads sc and ds only.
*/
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline_int.h"
#include "../store/format.h"

void ns__fmt_double(char *buf, size_t cap, double v) {
  if (isnan(v) || isinf(v)) {
    buf[0] = 0;
    return;
  }
  if (v == 0) v = 0; /* turns -0 into +0 */
  snprintf(buf, cap, "%.9g", v);
}

const char *ns__meta_rule_name(int rule) {
  if (rule == NS_RULE_INITIAL_NMR) return "MetaInitialNMR";
  if (rule < 0 || rule >= NS_RULE_COUNT) return "";
  return ns_rule_names[rule];
}

/* ---- field writers ----------------------------------------------------- */

static void put_sep(FILE *f, int *first) {
  if (!*first) fputc('\t', f);
  *first = 0;
}

static void put_str(FILE *f, int *first, const char *s) {
  put_sep(f, first);
  fputs(s, f);
}

static void put_dbl(FILE *f, int *first, double v) {
  char b[40];
  ns__fmt_double(b, sizeof b, v);
  put_str(f, first, b);
}

static void put_i64(FILE *f, int *first, int64_t v) {
  put_sep(f, first);
  fprintf(f, "%" PRId64, v);
}

static void put_ts(FILE *f, int *first, int64_t v) {
  if (v == NS_TS_NONE) put_str(f, first, "");
  else put_i64(f, first, v);
}

static void put_status(FILE *f, int *first, int s) { put_str(f, first, ns_status_name(s)); }

static void put_tag(FILE *f, int *first, int t) {
  put_str(f, first, (t >= 0 && t < NS_N_TAGS) ? ns_tag_names[t] : "");
}

/* Comma-joined names of the rules in mask, in the order they run (rule
** order for the scorer rules, ns__meta_order for the meta rules). */
static void put_rules(FILE *f, int *first, uint64_t mask, int meta) {
  int any = 0;
  put_sep(f, first);
  for (int i = 0; i < (meta ? NS__META_ORDER_LEN : NS_RULE_COUNT); i++) {
    int r = meta ? ns__meta_order[i] : i;
    if (!(mask & (1ull << r))) continue;
    if (any) fputc(',', f);
    fputs(meta ? ns__meta_rule_name(r) : ns_rule_names[r], f);
    any = 1;
  }
}

static void put_tags(FILE *f, int *first, uint32_t mask) {
  int any = 0;
  put_sep(f, first);
  for (int t = 0; t < NS_N_TAGS; t++) {
    if (!(mask & NS_TAG_BIT(t))) continue;
    if (any) fputc(',', f);
    fputs(ns_tag_names[t], f);
    any = 1;
  }
}

static void put_header(FILE *f, const char *const *cols, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (i) fputc('\t', f);
    fputs(cols[i], f);
  }
  fputc('\n', f);
}

/* ---- files ------------------------------------------------------------- */

static const char *const note_cols[] = {
    "noteId", "coreNoteIntercept", "coreNoteFactor1", "finalRatingStatus", "firstTag",
    "secondTag", "coreActiveRules", "activeFilterTags", "classification", "createdAtMillis",
    "coreRatingStatus", "metaScorerActiveRules", "decidedBy", "coreNoteInterceptMin",
    "coreNoteInterceptMax", "numRatings", "timestampMillisOfCurrentStatus",
    "coreNumFinalRoundRatings", "coreNoteInterceptNoHighVol", "coreNoteInterceptNoCorrelated",
    /* notescore */
    "coreNoteInterceptRound1", "coreNoteFactor1Round1", "coreProvisionalRatingStatus",
    /* the reference writes it to aux_note_info.tsv, which notescore does not */
    "lowDiligenceIntercept"};

static void write_notes(FILE *f, const ns_scores *sc) {
  put_header(f, note_cols, NS_ARRAY_LEN(note_cols));
  for (size_t i = 0; i < sc->n_notes; i++) {
    const ns_note_score *s = &sc->notes[i];
    int first = 1;
    put_i64(f, &first, s->note_id);
    put_dbl(f, &first, s->intercept);
    put_dbl(f, &first, s->factor);
    put_status(f, &first, s->final_status);
    put_tag(f, &first, s->first_tag);
    put_tag(f, &first, s->second_tag);
    put_rules(f, &first, s->core_rules, 0);
    put_tags(f, &first, s->active_filter_tags);
    put_str(f, &first, ns_fmt_class_name(s->classification));
    put_ts(f, &first, s->created_ms);
    put_status(f, &first, s->core_status);
    put_rules(f, &first, s->meta_rules, 1);
    put_str(f, &first, ns__meta_rule_name(s->decided_by));
    put_dbl(f, &first, s->intercept_min);
    put_dbl(f, &first, s->intercept_max);
    put_i64(f, &first, s->num_ratings);
    put_ts(f, &first, sc->now_ms);
    put_i64(f, &first, s->num_final_round_ratings);
    put_dbl(f, &first, s->intercept_no_high_vol);
    put_dbl(f, &first, s->intercept_no_correlated);
    put_dbl(f, &first, s->intercept_r1);
    put_dbl(f, &first, s->factor_r1);
    put_status(f, &first, s->provisional_status);
    put_dbl(f, &first, s->low_diligence_intercept);
    fputc('\n', f);
  }
}

static const char *const rater_cols[] = {
    "raterParticipantId", "coreRaterIntercept", "coreRaterFactor1", "crhCrnhRatioDifference",
    "meanNoteScore", "raterAgreeRatio", "successfulRatingHelpfulCount",
    "successfulRatingNotHelpfulCount", "successfulRatingTotal", "unsuccessfulRatingHelpfulCount",
    "unsuccessfulRatingNotHelpfulCount", "unsuccessfulRatingTotal", "ratingsAwaitingMoreRatings",
    "ratedAfterDecision", "notesCurrentlyRatedHelpful", "notesCurrentlyRatedNotHelpful",
    "notesAwaitingMoreRatings", "aboveHelpfulnessThreshold", "coreFirstRoundRaterIntercept",
    "coreFirstRoundRaterFactor1",
    /* notescore */
    "raterAgreeRatioWithHarassmentAbusePenalty", "numRatings", "raterTrust",
    "coordinatedGroupId", "quasiCliqueId"};

static void write_raters(FILE *f, const ns_scores *sc, const ns_dataset *ds) {
  put_header(f, rater_cols, NS_ARRAY_LEN(rater_cols));
  for (size_t i = 0; i < sc->n_raters; i++) {
    const ns_rater_score *r = &sc->raters[i];
    int first = 1;
    put_str(f, &first, ns_strtab_str(ds->participants, r->participant));
    put_dbl(f, &first, r->intercept);
    put_dbl(f, &first, r->factor);
    put_dbl(f, &first, r->crh_crnh_ratio_diff);
    put_dbl(f, &first, r->mean_note_score);
    put_dbl(f, &first, r->agree_ratio);
    put_i64(f, &first, r->successful_helpful);
    put_i64(f, &first, r->successful_not_helpful);
    put_i64(f, &first, (int64_t)r->successful_helpful + r->successful_not_helpful);
    put_i64(f, &first, r->unsuccessful_helpful);
    put_i64(f, &first, r->unsuccessful_not_helpful);
    put_i64(f, &first, (int64_t)r->unsuccessful_helpful + r->unsuccessful_not_helpful);
    put_i64(f, &first, r->ratings_awaiting);
    put_i64(f, &first, r->rated_after_decision);
    put_i64(f, &first, r->notes_crh);
    put_i64(f, &first, r->notes_crnh);
    put_i64(f, &first, r->notes_nmr);
    put_str(f, &first, r->above_threshold < 0 ? "" : r->above_threshold ? "True" : "False");
    put_dbl(f, &first, r->intercept_r1);
    put_dbl(f, &first, r->factor_r1);
    put_dbl(f, &first, r->agree_ratio_harassment);
    put_i64(f, &first, r->num_ratings);
    put_dbl(f, &first, r->trust);
    if (r->group_id > 0) put_i64(f, &first, r->group_id);
    else put_str(f, &first, "");
    put_i64(f, &first, r->qclique_id);
    fputc('\n', f);
  }
}

/* note_status_history.tsv is the public noteStatusHistory layout: its
** column table (store/format.c) gives the names, the order and where each
** value is in ns_nsh.  Doubles in this file use "%.9g" like the others. */
static void write_history(FILE *f, const ns_scores *sc, const ns_dataset *ds) {
  const ns_fmt_kind *k = ns_fmt_kind_get(NS_FILE_HISTORY);
  for (int c = 0; c < k->ncols; c++) {
    if (c) fputc('\t', f);
    fputs(k->cols[c].name, f);
  }
  fputc('\n', f);
  for (size_t i = 0; i < sc->n_history; i++) {
    const ns_nsh *h = &sc->history[i];
    int first = 1;
    for (int c = 0; c < k->ncols; c++) {
      const ns_fmt_col *col = &k->cols[c];
      const void *v = (const char *)h + col->off;
      switch (col->type) {
      case NS_FT_PARTICIPANT:
        put_str(f, &first, h->author >= 0 ? ns_strtab_str(ds->participants, h->author) : "");
        break;
      case NS_FT_NOTE_ID: put_i64(f, &first, *(const int64_t *)v); break;
      case NS_FT_OPT_INT: put_ts(f, &first, *(const int64_t *)v); break;
      case NS_FT_STATUS: put_status(f, &first, *(const int8_t *)v); break;
      case NS_FT_TEXT: put_str(f, &first, (const char *)v); break;
      case NS_FT_REAL: put_dbl(f, &first, *(const double *)v); break;
      default: put_str(f, &first, ""); break;
      }
    }
    fputc('\n', f);
  }
}

typedef void (*writer_fn)(FILE *f, const ns_scores *sc, const ns_dataset *ds);

static void wr_notes(FILE *f, const ns_scores *sc, const ns_dataset *ds) {
  (void)ds;
  write_notes(f, sc);
}

/* Writes one file to DIR/NAME.tmp.  Returns 0 or -errno / NS_EIO (the
** .tmp file is removed on failure). */
static int write_tmp(const char *dir, const char *name, writer_fn fn, const ns_scores *sc,
                     const ns_dataset *ds) {
  char tmp[4200];
  FILE *f;
  int rc = 0;

  if (snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name) >= (int)sizeof tmp) return NS_EINVAL;
  if (!(f = fopen(tmp, "w"))) return -errno;
  setvbuf(f, NULL, _IOFBF, 1 << 20);
  fn(f, sc, ds);
  if (ferror(f)) rc = NS_EIO;
  if (fclose(f) != 0 && !rc) rc = -errno;
  if (rc) remove(tmp);
  return rc;
}

/* DIR/NAME.tmp -> DIR/NAME, or (undo) just remove DIR/NAME.tmp. */
static int finish_tmp(const char *dir, const char *name, int undo) {
  char path[4096], tmp[4200];
  if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return NS_EINVAL;
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  if (undo) {
    remove(tmp);
    return 0;
  }
  if (rename(tmp, path) != 0) {
    int rc = -errno;
    remove(tmp);
    return rc;
  }
  return 0;
}

int ns_scores_write_tsv(const ns_scores *sc, const ns_dataset *ds, const char *outdir) {
  static const char *const names[3] = {"scored_notes.tsv", "helpfulness_scores.tsv",
                                       "note_status_history.tsv"};
  const writer_fn fns[3] = {wr_notes, write_raters, write_history};
  int rc = 0, i, done = 0;
  if (!sc || !ds || !outdir) return NS_EINVAL;
  if ((rc = ns_mkdir_p(outdir)) != 0) return rc;
  /* All three are written as .tmp first and renamed only when every one
  ** was written: a failure (disk full, ...) leaves the previous files, not
  ** a mix of old and new. */
  for (i = 0; i < 3 && !rc; i++)
    if ((rc = write_tmp(outdir, names[i], fns[i], sc, ds)) == 0) done = i + 1;
  for (i = 0; i < done; i++) {
    int r2 = finish_tmp(outdir, names[i], rc != 0);
    if (r2 && !rc) rc = r2;
  }
  return rc;
}
