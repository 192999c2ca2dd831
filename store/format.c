/*
** store/format.c -- the column tables of the four public files and the one
** row validator per kind (format.h says who calls what).
**
** The rules, decided once for every reader (docs/schema.md, "TSV import
** and export rules", is the user-facing list):
**   - noteId is a positive integer everywhere (public ids are > 0);
**   - createdAtMillis of notes and ratings is an integer >= 0;
**   - participant ids are 1..NS_FMT_MAX_ID bytes of UTF-8 without control
**     characters;
**   - integers may carry pandas' ".0" tail; optional integers (timestamps,
**     counts) may also be spelled as a float ("1.6e12") when integral;
**   - 0/1 flags accept 0, 1, 0.0, 1.0; empty / nan count as 0;
**   - enumerations take their public spellings only, except
**     ratingSourceBucketed, where a bucket name other than DEFAULT and
**     POPULATION_SAMPLED reads as DEFAULT: the reference only ever asks
**     "is it POPULATION_SAMPLED?", and a new bucket in the public download
**     must not make us drop its ratings;
**   - a JSON boolean is accepted only in a 0/1 flag column.
** Checks run in table (file) order and the first failure is reported, so
** the same row gets the same reason whichever way it arrived.
*/
#include "format.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* ---- tables ------------------------------------------------------------ */

#define FC_CODES 4 /* ENUM: a decimal code 0..nvalues-1 is accepted too */

static const char *const level_values[] = {"NOT_HELPFUL", "SOMEWHAT_HELPFUL", "HELPFUL"};
static const char *const class_values[] = {"MISINFORMED_OR_POTENTIALLY_MISLEADING",
                                           "NOT_MISLEADING"};
static const char *const source_values[] = {"DEFAULT", "POPULATION_SAMPLED"};

#define COL(n, t) {n, NULL, t, 0, 0, NULL, 0, 0, 0}
#define REQ(n, a, t) {n, a, t, NS_FC_REQUIRED, 0, NULL, 0, 0, 0}
#define ENUM(n, fl, v) {n, NULL, NS_FT_ENUM, fl, 0, v, NS_ARRAY_LEN(v), 0, 0}
#define SKIP(n) COL(n, NS_FT_SKIP)
#define TAGCOL(t) COL(#t, NS_FT_FLAG),

static const ns_fmt_col notes_cols[NS_FMT_NOTES_NCOLS] = {
    REQ("noteId", NULL, NS_FT_NOTE_ID),
    REQ("noteAuthorParticipantId", "participantId", NS_FT_PARTICIPANT),
    REQ("createdAtMillis", NULL, NS_FT_TIME),
    COL("tweetId", NS_FT_OPT_INT),
    ENUM("classification", 0, class_values),
    SKIP("believable"), SKIP("harmful"), SKIP("validationDifficulty"), SKIP("misleadingOther"),
    SKIP("misleadingFactualError"), SKIP("misleadingManipulatedMedia"),
    SKIP("misleadingOutdatedInformation"), SKIP("misleadingMissingImportantContext"),
    SKIP("misleadingUnverifiedClaimAsFact"), SKIP("misleadingSatire"), SKIP("notMisleadingOther"),
    SKIP("notMisleadingFactuallyCorrect"), SKIP("notMisleadingOutdatedButNotWhenWritten"),
    SKIP("notMisleadingClearlySatire"), SKIP("notMisleadingPersonalOpinion"),
    SKIP("trustworthySources"), COL("summary", NS_FT_NOTE_TEXT), SKIP("isMediaNote"),
    SKIP("isCollaborativeNote")};

static const ns_fmt_col ratings_cols[NS_FMT_RATINGS_NCOLS] = {
    REQ("noteId", NULL, NS_FT_NOTE_ID),
    REQ("raterParticipantId", "participantId", NS_FT_PARTICIPANT),
    REQ("createdAtMillis", NULL, NS_FT_TIME),
    SKIP("version"), SKIP("agree"), SKIP("disagree"),
    COL("helpful", NS_FT_FLAG), COL("notHelpful", NS_FT_FLAG),
    /* required in a way a flag cannot say: this, or both legacy columns */
    ENUM("helpfulnessLevel", 0, level_values),
    NS_TAG_LIST(TAGCOL)
    SKIP("ratedOnTweetId"),
    ENUM("ratingSourceBucketed", NS_FC_OPEN, source_values),
    SKIP("suggestion"), SKIP("suggestionId")};

#define H(n, t, f) {n, NULL, t, 0, 0, NULL, 0, 1, offsetof(ns_nsh, f)}
static const ns_fmt_col history_cols[NS_FMT_HISTORY_NCOLS] = {
    {"noteId", NULL, NS_FT_NOTE_ID, NS_FC_REQUIRED, 0, NULL, 0, 1, offsetof(ns_nsh, note_id)},
    {"noteAuthorParticipantId", "participantId", NS_FT_PARTICIPANT, 0, 0, NULL, 0, 0, 0},
    H("createdAtMillis", NS_FT_OPT_INT, created_ms),
    H("timestampMillisOfFirstNonNMRStatus", NS_FT_OPT_INT, ts_first_non_nmr),
    H("firstNonNMRStatus", NS_FT_STATUS, first_non_nmr_status),
    H("timestampMillisOfCurrentStatus", NS_FT_OPT_INT, ts_current),
    H("currentStatus", NS_FT_STATUS, current_status),
    H("timestampMillisOfLatestNonNMRStatus", NS_FT_OPT_INT, ts_latest_non_nmr),
    H("mostRecentNonNMRStatus", NS_FT_STATUS, most_recent_non_nmr_status),
    H("timestampMillisOfStatusLock", NS_FT_OPT_INT, ts_lock),
    H("lockedStatus", NS_FT_STATUS, locked_status),
    H("timestampMillisOfRetroLock", NS_FT_OPT_INT, ts_retro_lock),
    H("currentCoreStatus", NS_FT_STATUS, current_core_status),
    H("currentExpansionStatus", NS_FT_STATUS, current_expansion_status),
    H("currentGroupStatus", NS_FT_STATUS, current_group_status),
    {"currentDecidedBy", NULL, NS_FT_TEXT, 0, sizeof(((ns_nsh *)0)->decided_by), NULL, 0, 1,
     offsetof(ns_nsh, decided_by)},
    H("currentModelingGroup", NS_FT_REAL, current_modeling_group),
    H("timestampMillisOfMostRecentStatusChange", NS_FT_OPT_INT, ts_most_recent_change),
    H("timestampMillisOfNmrDueToMinStableCrhTime", NS_FT_OPT_INT, ts_nmr_due_to_stable_crh),
    H("currentMultiGroupStatus", NS_FT_STATUS, current_multi_group_status),
    H("currentModelingMultiGroup", NS_FT_REAL, current_modeling_multi_group),
    H("timestampMinuteOfFinalScoringOutput", NS_FT_OPT_INT, ts_minute_final_output),
    H("timestampMillisOfFirstNmrDueToMinStableCrhTime", NS_FT_OPT_INT,
      ts_first_nmr_due_to_stable_crh),
    H("abovePcrhThresholdTime", NS_FT_OPT_INT, above_pcrh_threshold_time)};

#define E(n, t, f) {n, NULL, t, 0, 0, NULL, 0, 1, offsetof(ns_enrollment, f)}
static const ns_fmt_col enroll_cols[NS_FMT_ENROLL_NCOLS] = {
    {"participantId", NULL, NS_FT_PARTICIPANT, NS_FC_REQUIRED, 0, NULL, 0, 0, 0},
    /* the thrift codes 0..8 are accepted for the names */
    {"enrollmentState", NULL, NS_FT_ENUM, NS_FC_REQUIRED | FC_CODES, 0, ns_enroll_names, 9, 1,
     offsetof(ns_enrollment, state)},
    E("successfulRatingNeededToEarnIn", NS_FT_OPT_INT, successful_needed),
    E("timestampOfLastStateChange", NS_FT_OPT_INT, ts_last_state_change),
    E("timestampOfLastEarnOut", NS_FT_OPT_INT, ts_last_earn_out),
    {"modelingPopulation", NULL, NS_FT_TEXT, 0, sizeof(((ns_enrollment *)0)->modeling_population),
     NULL, 0, 1, offsetof(ns_enrollment, modeling_population)},
    E("modelingGroup", NS_FT_GROUP, modeling_group),
    E("numberOfTimesEarnedOut", NS_FT_OPT_INT, times_earned_out)};
static const ns_fmt_kind kinds[] = {
    {NS_FILE_NOTES, "notes", notes_cols, NS_FMT_NOTES_NCOLS},
    {NS_FILE_RATINGS, "ratings", ratings_cols, NS_FMT_RATINGS_NCOLS},
    {NS_FILE_HISTORY, "noteStatusHistory", history_cols, NS_FMT_HISTORY_NCOLS},
    {NS_FILE_ENROLLMENT, "userEnrollment", enroll_cols, NS_FMT_ENROLL_NCOLS}};

const ns_fmt_kind *ns_fmt_kind_get(int kind) {
  for (size_t i = 0; i < NS_ARRAY_LEN(kinds); i++)
    if (kinds[i].kind == kind) return &kinds[i];
  return NULL;
}

const char *ns_fmt_level_name(int level) {
  return level >= 0 && level < 3 ? level_values[level] : "";
}

const char *ns_fmt_class_name(int cls) {
  return cls == NS_CLASS_MISLEADING || cls == NS_CLASS_NOT_MISLEADING ? class_values[cls - 1] : "";
}

const char *ns_fmt_source_name(int source) {
  return source_values[source == NS_SOURCE_POPULATION_SAMPLED];
}

/* ---- value parsing ----------------------------------------------------- */

/* Integer with optional sign; a trailing ".0..." (pandas writes nullable
** integer columns as floats) is accepted.  Returns 0 or -1. */
static int parse_i64(const char *s, size_t n, int64_t *out) {
  size_t i = 0;
  int neg = 0;
  uint64_t v = 0;
  if (n && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    i = 1;
  }
  if (i == n) return -1;
  /* up to 19 digits cannot overflow a uint64_t: no check in that loop (ids
  ** have 19 digits, timestamps 13) */
  for (size_t lim = i + 19 < n ? i + 19 : n; i < lim; i++) {
    unsigned d = (unsigned)(unsigned char)s[i] - '0';
    if (d > 9) break;
    v = v * 10 + d;
  }
  for (; i < n; i++) {
    unsigned d = (unsigned)(unsigned char)s[i] - '0';
    if (d > 9) break;
    if (v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
  }
  if (i < n) {
    /* "123.0" / "123." with at least one digit before the dot */
    if (s[i] != '.' || i == (size_t)(s[0] == '-' || s[0] == '+')) return -1;
    for (i++; i < n; i++)
      if (s[i] != '0') return -1;
  }
  if (neg) {
    if (v > (uint64_t)INT64_MAX + 1) return -1;
    *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
  } else {
    if (v > (uint64_t)INT64_MAX) return -1;
    *out = (int64_t)v;
  }
  return 0;
}

static int parse_f64(const char *s, size_t n, double *out) {
  char tmp[64], *end;
  if (n == 0 || n >= sizeof tmp) return -1;
  memcpy(tmp, s, n);
  tmp[n] = '\0';
  errno = 0;
  *out = strtod(tmp, &end);
  if (*end || errno == ERANGE) return -1;
  return 0;
}

static int is_nan_text(const char *s, size_t n) {
  return (n == 3 && (s[0] | 32) == 'n' && (s[1] | 32) == 'a' && (s[2] | 32) == 'n') ||
         (n == 4 && memcmp(s, "<NA>", 4) == 0);
}

static int is_empty(const ns_fmt_val *v) {
  return v->type == NS_FV_ABSENT || v->type == NS_FV_NULL || v->n == 0;
}

static int is_none(const ns_fmt_val *v) { return is_empty(v) || is_nan_text(v->p, v->n); }

static int text_is(const ns_fmt_val *v, const char *lit) {
  size_t n = strlen(lit);
  return v->n == n && memcmp(v->p, lit, n) == 0;
}

size_t ns__utf8_bad(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t w;
      memcpy(&w, s + i, 8);
      if (!(w & 0x8080808080808080ull)) { i += 8; continue; }
    }
    unsigned c = s[i];
    if (c < 0x80) { i++; continue; }
    size_t k;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) k = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      k = 2;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      k = 3;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else return i;
    if (i + k >= n) return i; /* truncated sequence */
    if (s[i + 1] < lo || s[i + 1] > hi) return i;
    for (size_t j = 2; j <= k; j++)
      if ((s[i + j] & 0xc0) != 0x80) return i;
    i += k + 1;
  }
  return (size_t)-1;
}

/* Text we keep: valid UTF-8, no control character (< 0x20, DEL). */
static int text_ok(const char *s, size_t n) {
  const uint64_t ones = 0x0101010101010101ull, high8 = 0x8080808080808080ull;
  int high = 0;
  size_t i = 0;
  /* eight bytes at a time while they are all printable ASCII (public ids
  ** are 64 hex digits): (w - 0x20..) & ~w flags a byte < 0x20, w + 0x01..
  ** a byte >= 0x7f, w itself a byte >= 0x80; a flagged word (false
  ** positives included) is left to the exact loop below */
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, s + i, 8);
    if ((((w - 0x20 * ones) & ~w) | w | (w + ones)) & high8) break;
  }
  for (; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f) return 0;
    high |= c & 0x80;
  }
  return !high || ns__utf8_bad((const unsigned char *)s, n) == (size_t)-1;
}

/* ---- rejects ----------------------------------------------------------- */

/* At most 40 bytes of a value for a message; anything but printable ASCII
** becomes '?', so a message carries no garbage to a terminal or JSON. */
static void show(char *out, size_t cap, const char *s, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n && k + 4 < cap; i++) {
    unsigned char c = (unsigned char)s[i];
    if (k >= 40) {
      out[k++] = '.'; out[k++] = '.'; out[k++] = '.';
      break;
    }
    out[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
  }
  out[k] = '\0';
}

static int fail(ns_fmt_err *e, const ns_fmt_col *cols, int c, const char *code, const char *why,
                const ns_fmt_val *v) {
  char tmp[64];
  e->code = code;
  e->col = c;
  if (v && !is_empty(v)) {
    show(tmp, sizeof tmp, v->p, v->n);
    snprintf(e->msg, sizeof e->msg, "%s: %s, got \"%s\"", cols[c].name, why, tmp);
  } else {
    snprintf(e->msg, sizeof e->msg, "%s: %s", cols[c].name, why);
  }
  return -1;
}

/* ---- one cell by column type ------------------------------------------- */

/* A JSON boolean where no 0/1 flag is expected: every non-flag cell
** checks this first (a TSV cell is never a boolean). */
static int is_bool(const ns_fmt_col *cols, int c, const ns_fmt_val *v, ns_fmt_err *e) {
  if (v->type != NS_FV_BOOL) return 0;
  return fail(e, cols, c, NS_FMT_R_BOOL, "a boolean is only allowed in a 0/1 column", NULL);
}

static int cell_i64(const ns_fmt_col *cols, int c, const ns_fmt_val *v, int64_t *out,
                    ns_fmt_err *e) {
  if (is_bool(cols, c, v, e)) return -1;
  if (is_empty(v)) return fail(e, cols, c, NS_FMT_R_MISSING, "missing value", NULL);
  if (parse_i64(v->p, v->n, out) != 0)
    return fail(e, cols, c, NS_FMT_R_NOT_INT, "expected an integer", v);
  return 0;
}

static int cell_note_id(const ns_fmt_col *cols, int c, const ns_fmt_val *v, int64_t *out,
                        ns_fmt_err *e) {
  if (cell_i64(cols, c, v, out, e)) return -1;
  if (*out <= 0) return fail(e, cols, c, NS_FMT_R_ID_RANGE, "must be a positive integer", v);
  return 0;
}

static int cell_time(const ns_fmt_col *cols, int c, const ns_fmt_val *v, int64_t *out,
                     ns_fmt_err *e) {
  if (cell_i64(cols, c, v, out, e)) return -1;
  if (*out < 0) return fail(e, cols, c, NS_FMT_R_NEG_TIME, "must not be negative", v);
  return 0;
}

/* Optional integer: empty / nan -> NS_TS_NONE; "1.6e12" accepted. */
static int cell_opt_i64(const ns_fmt_col *cols, int c, const ns_fmt_val *v, int64_t *out,
                        ns_fmt_err *e) {
  double d;
  if (is_bool(cols, c, v, e)) return -1;
  if (is_none(v)) {
    *out = NS_TS_NONE;
    return 0;
  }
  if (parse_i64(v->p, v->n, out) != 0) {
    if (parse_f64(v->p, v->n, &d) != 0 || !isfinite(d) || d != floor(d) || fabs(d) >= 9e18)
      return fail(e, cols, c, NS_FMT_R_NOT_INT, "expected an integer", v);
    *out = (int64_t)d;
  }
  if (*out == NS_TS_NONE) return fail(e, cols, c, NS_FMT_R_RANGE, "out of range", v);
  return 0;
}

/* 0/1 flag: returns 0/1, or -1 (rejected). */
static int cell_flag(const ns_fmt_col *cols, int c, const ns_fmt_val *v, ns_fmt_err *e) {
  if (v->n == 1 && (v->p[0] == '0' || v->p[0] == '1')) return v->p[0] - '0';
  if (is_none(v)) return 0;
  if (text_is(v, "1.0")) return 1;
  if (text_is(v, "0.0")) return 0;
  return fail(e, cols, c, NS_FMT_R_FLAG, "expected 0 or 1", v);
}

/* Enumeration: value index, -2 when empty, -1 rejected. */
static int cell_enum(const ns_fmt_col *cols, int c, const ns_fmt_val *v, ns_fmt_err *e) {
  const ns_fmt_col *k = &cols[c];
  if (is_bool(cols, c, v, e)) return -1;
  if (is_empty(v)) return -2;
  for (int i = 0; i < k->nvalues; i++)
    if (k->values[i][0] == v->p[0] && text_is(v, k->values[i])) return i; /* cheap first */
  if ((k->flags & FC_CODES) && v->n == 1 && v->p[0] >= '0' && v->p[0] < '0' + k->nvalues)
    return v->p[0] - '0';
  if (k->flags & NS_FC_OPEN) {
    /* another bucket name: [A-Za-z0-9_]{1,64} */
    size_t i = 0;
    for (; i < v->n && i <= 64; i++) {
      char ch = v->p[i];
      if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '_'))
        break;
    }
    if (i == v->n && i <= 64) return 0;
  }
  return fail(e, cols, c, NS_FMT_R_ENUM, "unknown value", v), -1;
}

static int cell_participant(const ns_fmt_col *cols, int c, const ns_fmt_val *v, int required,
                            const char **p, size_t *n, ns_fmt_err *e) {
  *p = "";
  *n = 0;
  if (is_bool(cols, c, v, e)) return -1;
  if (is_empty(v))
    return required ? fail(e, cols, c, NS_FMT_R_MISSING, "missing participant id", NULL) : 0;
  if (v->n > NS_FMT_MAX_ID)
    return fail(e, cols, c, NS_FMT_R_ID_LONG, "participant id longer than 255 bytes", NULL);
  if (!text_ok(v->p, v->n))
    return fail(e, cols, c, NS_FMT_R_BAD_ID,
                "participant id with a control character or invalid UTF-8", NULL);
  *p = v->p;
  *n = v->n;
  return 0;
}

/* Table-driven cell for history / enrollment: parses v into base + off. */
static int cell_generic(const ns_fmt_col *cols, int c, const ns_fmt_val *v, char *base,
                        ns_fmt_err *e) {
  const ns_fmt_col *k = &cols[c];
  void *dst = base + k->off;
  if (k->type != NS_FT_FLAG && is_bool(cols, c, v, e)) return -1;
  switch (k->type) {
  case NS_FT_NOTE_ID: {
    int64_t x;
    if (cell_note_id(cols, c, v, &x, e)) return -1;
    memcpy(dst, &x, sizeof x);
    return 0;
  }
  case NS_FT_OPT_INT: {
    int64_t x;
    if (cell_opt_i64(cols, c, v, &x, e)) return -1;
    memcpy(dst, &x, sizeof x);
    return 0;
  }
  case NS_FT_GROUP: {
    int64_t x;
    int32_t g;
    if (cell_opt_i64(cols, c, v, &x, e)) return -1;
    if (x != NS_TS_NONE && (x < 0 || x > INT32_MAX))
      return fail(e, cols, c, NS_FMT_R_RANGE, "out of range", v);
    g = x == NS_TS_NONE ? -1 : (int32_t)x;
    memcpy(dst, &g, sizeof g);
    return 0;
  }
  case NS_FT_STATUS: {
    int s = NS_STATUS_UNSET;
    int8_t s8;
    if (!is_none(v) && (s = ns_status_parse(v->p, v->n)) < 0)
      return fail(e, cols, c, NS_FMT_R_ENUM, "unknown status", v);
    s8 = (int8_t)s;
    memcpy(dst, &s8, 1);
    return 0;
  }
  case NS_FT_ENUM: {
    int x = cell_enum(cols, c, v, e);
    int8_t s8;
    if (x == -1) return -1;
    if (x == -2) {
      if (k->flags & NS_FC_REQUIRED) return fail(e, cols, c, NS_FMT_R_MISSING, "missing value", NULL);
    }
    s8 = (int8_t)x;
    memcpy(dst, &s8, 1);
    return 0;
  }
  case NS_FT_REAL: {
    double d = NAN;
    if (!is_none(v) && (parse_f64(v->p, v->n, &d) != 0 || !isfinite(d)))
      return fail(e, cols, c, NS_FMT_R_NOT_NUM, "expected a number", v);
    memcpy(dst, &d, sizeof d);
    return 0;
  }
  case NS_FT_TEXT: {
    char *s = dst;
    s[0] = '\0';
    if (is_none(v)) return 0;
    if (v->n >= k->max) return fail(e, cols, c, NS_FMT_R_TEXT, "value too long", v);
    if (!text_ok(v->p, v->n))
      return fail(e, cols, c, NS_FMT_R_TEXT, "control character or invalid UTF-8", v);
    memcpy(s, v->p, v->n);
    s[v->n] = '\0';
    return 0;
  }
  default:
    return 0;
  }
}

/* ---- the validators ---------------------------------------------------- */

int ns_fmt_note_row(const ns_fmt_val *v, ns_fmt_note *r, ns_fmt_err *e) {
  const ns_fmt_col *cols = notes_cols;
  int x;
  if (cell_note_id(cols, 0, &v[0], &r->note_id, e)) return -1;
  if (cell_participant(cols, 1, &v[1], 1, &r->author, &r->author_len, e)) return -1;
  if (cell_time(cols, 2, &v[2], &r->created_ms, e)) return -1;
  if (cell_opt_i64(cols, 3, &v[3], &r->tweet_id, e)) return -1;
  if (r->tweet_id == NS_TS_NONE) r->tweet_id = -1;
  if ((x = cell_enum(cols, 4, &v[4], e)) == -1) return -1;
  r->classification = x < 0 ? NS_CLASS_NONE : (uint8_t)(x + 1);
  /* summary: kept as given (the TSV reader has checked the record's UTF-8,
  ** jansson a JSON string's) */
  r->summary = "";
  r->summary_len = 0;
  r->summary_dq = 0;
  if (is_bool(cols, NS_FMT_N_SUMMARY, &v[NS_FMT_N_SUMMARY], e)) return -1;
  if (!is_empty(&v[NS_FMT_N_SUMMARY])) {
    r->summary = v[NS_FMT_N_SUMMARY].p;
    r->summary_len = v[NS_FMT_N_SUMMARY].n;
    r->summary_dq = v[NS_FMT_N_SUMMARY].type == NS_FV_TEXT_DQ;
  }
  return 0;
}

size_t ns_fmt_text_copy(char *dst, const char *src, size_t n, int dq) {
  size_t k = 0;
  if (!dq) {
    if (n) memcpy(dst, src, n);
    return n;
  }
  for (size_t i = 0; i < n; i++) {
    dst[k++] = src[i];
    if (src[i] == '"' && i + 1 < n && src[i + 1] == '"') i++;
  }
  return k;
}

int ns_fmt_rating_row(const ns_fmt_val *v, ns_fmt_rating *r, ns_fmt_err *e) {
  const ns_fmt_col *cols = ratings_cols;
  int hp, nh, lv, s;
  if (cell_note_id(cols, 0, &v[0], &r->note_id, e)) return -1;
  if (cell_participant(cols, 1, &v[1], 1, &r->rater, &r->rater_len, e)) return -1;
  if (cell_time(cols, 2, &v[2], &r->created_ms, e)) return -1;
  if ((hp = cell_flag(cols, 6, &v[6], e)) < 0) return -1;
  if ((nh = cell_flag(cols, 7, &v[7], e)) < 0) return -1;
  if ((lv = cell_enum(cols, 8, &v[8], e)) == -1) return -1;
  if (lv >= 0) r->level = (uint8_t)lv;
  else if (nh) r->level = NS_LEVEL_NOT_HELPFUL; /* the reference applies notHelpful last */
  else if (hp) r->level = NS_LEVEL_HELPFUL;
  else
    return fail(e, cols, 8, NS_FMT_R_NO_LEVEL,
                "no rating value (empty, and neither helpful nor notHelpful is 1)", NULL);
  r->tags = 0;
  for (int t = 0; t < NS_N_TAGS; t++) {
    const ns_fmt_val *x = &v[NS_FMT_R_TAG0 + t];
    int b;
    if (x->n == 1 && x->p[0] == '0') continue; /* the common case first */
    if ((b = cell_flag(cols, NS_FMT_R_TAG0 + t, x, e)) < 0) return -1;
    if (b) r->tags |= NS_TAG_BIT(t);
  }
  if ((s = cell_enum(cols, 32, &v[32], e)) == -1) return -1;
  r->source = s == 1 ? NS_SOURCE_POPULATION_SAMPLED : NS_SOURCE_DEFAULT;
  return 0;
}

int ns_fmt_history_row(const ns_fmt_val *v, ns_fmt_history *r, ns_fmt_err *e) {
  const ns_fmt_col *cols = history_cols;
  ns_nsh_init(&r->h, 0);
  r->h.author = -1;
  for (int c = 0; c < NS_FMT_HISTORY_NCOLS; c++) {
    if (c == 1) {
      if (cell_participant(cols, 1, &v[1], 0, &r->author, &r->author_len, e)) return -1;
    } else if (cell_generic(cols, c, &v[c], (char *)&r->h, e)) {
      return -1;
    }
  }
  return 0;
}

int ns_fmt_enroll_row(const ns_fmt_val *v, ns_fmt_enroll *r, ns_fmt_err *e) {
  const ns_fmt_col *cols = enroll_cols;
  memset(&r->e, 0, sizeof r->e);
  r->e.participant = -1;
  for (int c = 0; c < NS_FMT_ENROLL_NCOLS; c++) {
    if (c == 0) {
      if (cell_participant(cols, 0, &v[0], 1, &r->participant, &r->participant_len, e)) return -1;
    } else if (cell_generic(cols, c, &v[c], (char *)&r->e, e)) {
      return -1;
    }
  }
  return 0;
}

/* ---- headers ----------------------------------------------------------- */

static int find_name(const char *const *names, const size_t *lens, int n, const char *s) {
  size_t k = strlen(s);
  for (int i = 0; i < n; i++)
    if (lens[i] == k && memcmp(names[i], s, k) == 0) return i;
  return -1;
}

int ns_fmt_detect(const char *const *names, const size_t *lens, int n) {
  static const char *const hist_only[] = {
      "currentStatus", "firstNonNMRStatus", "timestampMillisOfCurrentStatus",
      "timestampMillisOfFirstNonNMRStatus", "currentDecidedBy", "mostRecentNonNMRStatus",
      "lockedStatus", "currentCoreStatus"};
  if (find_name(names, lens, n, "enrollmentState") >= 0) return NS_FILE_ENROLLMENT;
  if (find_name(names, lens, n, "helpfulnessLevel") >= 0 ||
      find_name(names, lens, n, "raterParticipantId") >= 0 ||
      find_name(names, lens, n, "notHelpful") >= 0 ||
      find_name(names, lens, n, "ratingSourceBucketed") >= 0)
    return NS_FILE_RATINGS;
  for (int t = 0; t < NS_N_TAGS; t++)
    if (find_name(names, lens, n, ns_tag_names[t]) >= 0) return NS_FILE_RATINGS;
  for (size_t i = 0; i < NS_ARRAY_LEN(hist_only); i++)
    if (find_name(names, lens, n, hist_only[i]) >= 0) return NS_FILE_HISTORY;
  if (find_name(names, lens, n, "classification") >= 0 || find_name(names, lens, n, "tweetId") >= 0 ||
      find_name(names, lens, n, "summary") >= 0)
    return NS_FILE_NOTES;
  return NS_FILE_UNKNOWN;
}

int ns_fmt_map_header(int kind, const char *const *names, const size_t *lens, int n, int *map,
                      ns_fmt_err *e) {
  const ns_fmt_kind *k = ns_fmt_kind_get(kind);
  int first, dup;
  e->col = -1;
  if (!k) {
    e->code = NS_FMT_R_NO_COL;
    snprintf(e->msg, sizeof e->msg, "unknown file kind");
    return -1;
  }
  if ((dup = ns_header_dup(names, lens, n, &first)) >= 0) {
    char tmp[64];
    show(tmp, sizeof tmp, names[dup], lens[dup]);
    e->code = NS_FMT_R_DUP_COL;
    e->col = dup;
    snprintf(e->msg, sizeof e->msg, "duplicate column '%s' (also column %d)", tmp, first + 1);
    return -1;
  }
  for (int c = 0; c < k->ncols; c++) {
    const ns_fmt_col *col = &k->cols[c];
    map[c] = col->type == NS_FT_SKIP ? -1 : find_name(names, lens, n, col->name);
    if (map[c] < 0 && col->alias) map[c] = find_name(names, lens, n, col->alias);
  }
  e->code = NS_FMT_R_NO_COL;
  for (int c = 0; c < k->ncols; c++)
    if ((k->cols[c].flags & NS_FC_REQUIRED) && map[c] < 0) {
      snprintf(e->msg, sizeof e->msg, "missing required column '%s' in %s file", k->cols[c].name,
               k->name);
      return -1;
    }
  if (kind == NS_FILE_RATINGS && map[8] < 0 && (map[6] < 0 || map[7] < 0)) {
    snprintf(e->msg, sizeof e->msg,
             "missing required column 'helpfulnessLevel' (or 'helpful' and 'notHelpful') in "
             "ratings file");
    return -1;
  }
  e->code = NULL;
  return 0;
}

int ns_fmt_col_find(int kind, const char *s, size_t n, int *is_alias) {
  const ns_fmt_kind *k = ns_fmt_kind_get(kind);
  if (!k) return -1;
  for (int c = 0; c < k->ncols; c++) {
    const ns_fmt_col *col = &k->cols[c];
    if (col->type == NS_FT_SKIP) continue;
    if (strlen(col->name) == n && memcmp(col->name, s, n) == 0) {
      *is_alias = 0;
      return c;
    }
    if (col->alias && strlen(col->alias) == n && memcmp(col->alias, s, n) == 0) {
      *is_alias = 1;
      return c;
    }
  }
  return -1;
}
