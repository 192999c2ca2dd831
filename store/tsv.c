/*
** store/tsv.c -- the streaming reader of the public-format TSV files.
**
** Who calls it: ns_tsv_load*() below (in-memory datasets for the
** reproducibility CLI), store/import.c (DB import), the fuzz target.
** Thread: the caller's; no shared state.
**
** Shape of the work, per file:
**   1. read the file in 1 MiB blocks into one buffer that is reused; a
**      record that straddles a block is moved to the front and completed by
**      the next read (the buffer only grows for records > 1 MiB, up to
**      NS__TSV_MAX_RECORD), so memory is constant however big the file is;
**   2. split the first record (the header) and detect the file kind from
**      the column names, then map the columns we need BY NAME;
**   3. split every following record into fields (pointers into the buffer:
**      no per-line allocation), convert the fields we need with hand-written
**      integer parsing, and hand a typed row to the sink.
**
** Quoting: the public files are written by pandas, which quotes a field that
** contains a tab, newline or '"' (doubling inner quotes).  Only free text
** (notes.summary, ratings.suggestion) is ever quoted and we do not keep it,
** so a quoted field is skipped correctly (it may span lines) but its inner
** "" pairs are not unescaped.
**
** Error positions: "FILE:LINE:COL: reason" where LINE is the 1-based line on
** which the record starts (the header is line 1) and COL is the 1-based
** *field* number (the TSV column), which is what a reader of a TSV needs.
*/
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ---- column names ------------------------------------------------------ */

const char *const ns__notes_cols[24] = {
    "noteId", "noteAuthorParticipantId", "createdAtMillis", "tweetId", "classification",
    "believable", "harmful", "validationDifficulty", "misleadingOther",
    "misleadingFactualError", "misleadingManipulatedMedia", "misleadingOutdatedInformation",
    "misleadingMissingImportantContext", "misleadingUnverifiedClaimAsFact", "misleadingSatire",
    "notMisleadingOther", "notMisleadingFactuallyCorrect",
    "notMisleadingOutdatedButNotWhenWritten", "notMisleadingClearlySatire",
    "notMisleadingPersonalOpinion", "trustworthySources", "summary", "isMediaNote",
    "isCollaborativeNote"};

const char *const ns__history_cols[24] = {
    "noteId", "noteAuthorParticipantId", "createdAtMillis",
    "timestampMillisOfFirstNonNMRStatus", "firstNonNMRStatus",
    "timestampMillisOfCurrentStatus", "currentStatus",
    "timestampMillisOfLatestNonNMRStatus", "mostRecentNonNMRStatus",
    "timestampMillisOfStatusLock", "lockedStatus", "timestampMillisOfRetroLock",
    "currentCoreStatus", "currentExpansionStatus", "currentGroupStatus", "currentDecidedBy",
    "currentModelingGroup", "timestampMillisOfMostRecentStatusChange",
    "timestampMillisOfNmrDueToMinStableCrhTime", "currentMultiGroupStatus",
    "currentModelingMultiGroup", "timestampMinuteOfFinalScoringOutput",
    "timestampMillisOfFirstNmrDueToMinStableCrhTime", "abovePcrhThresholdTime"};

const char *const ns__enroll_cols[8] = {
    "participantId", "enrollmentState", "successfulRatingNeededToEarnIn",
    "timestampOfLastStateChange", "timestampOfLastEarnOut", "modelingPopulation",
    "modelingGroup", "numberOfTimesEarnedOut"};

/* Roles of the columns we read, per kind.  A role maps to one header index
** (or -1 when the column is absent). */
enum { N_NOTE_ID, N_AUTHOR, N_CREATED, N_TWEET, N_CLASS, N_ROLES };
enum {
  R_NOTE_ID, R_RATER, R_CREATED, R_LEVEL, R_HELPFUL, R_NOT_HELPFUL, R_SOURCE,
  R_TAG0, R_ROLES = R_TAG0 + NS_N_TAGS
};
#define MAX_ROLES 32 /* >= every kind's role count */

const char *ns_file_kind_name(int kind) {
  switch (kind) {
  case NS_FILE_NOTES: return "notes";
  case NS_FILE_RATINGS: return "ratings";
  case NS_FILE_HISTORY: return "noteStatusHistory";
  case NS_FILE_ENROLLMENT: return "userEnrollment";
  default: return "unknown";
  }
}

/* ---- messages ---------------------------------------------------------- */

void ns__tsv_report(const ns_load_opts *opts, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  if (!opts || !opts->report) return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  opts->report(opts->report_ctx, msg);
}

/* Copies a field for a message: at most 40 bytes, non-printable bytes
** replaced by '?', so a message never carries garbage to the terminal. */
static const char *show(char *out, size_t cap, const char *s, size_t n) {
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
  return out;
}

/* ---- the block reader -------------------------------------------------- */

typedef struct field { const char *p; size_t n; } field;

typedef struct rdr {
  const ns__tsv_src *src;
  int fd;                 /* -1 for memory sources */
  size_t mem_pos;
  char *buf;
  size_t cap, pos, end;   /* unconsumed bytes are buf[pos..end) */
  int eof;
  int skip_to_nl;         /* discarding the rest of an over-long record */
  uint64_t line;          /* line number of the record that starts at pos */
  uint64_t bytes;         /* bytes read so far (progress) */
} rdr;

enum { REC_OK, REC_EOF, REC_NEED, REC_BAD, REC_ERR };

/* First '\t' in [p, end), or end.  Eight bytes at a time: most fields are
** one byte ("0"), so this beats a memchr() call per field.  The
** has-zero-byte trick may flag bytes above the first match, never below, so
** the lowest flagged byte is exact. */
static inline const char *find_tab(const char *p, const char *end) {
  while (end - p >= 8) {
    uint64_t w, x, t;
    memcpy(&w, p, 8);
    x = w ^ 0x0909090909090909ull;
    t = (x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull;
    if (t) return p + (__builtin_ctzll(t) >> 3);
    p += 8;
  }
  while (p < end && *p != '\t') p++;
  return p;
}

/* Reads more bytes after moving the unconsumed tail to the front.  Returns
** 0, 1 when the record cannot fit (too long), or -errno. */
static int rdr_fill(rdr *r) {
  size_t want, got;
  if (r->pos > 0) {
    memmove(r->buf, r->buf + r->pos, r->end - r->pos);
    r->end -= r->pos;
    r->pos = 0;
  }
  if (r->cap - r->end < r->src->block) {
    size_t nc = r->cap * 2;
    char *nb;
    if (r->end >= NS__TSV_MAX_RECORD) return 1;
    while (nc - r->end < r->src->block) nc *= 2;
    nb = ns_realloc(r->buf, nc);
    if (!nb) return NS_ENOMEM;
    r->buf = nb;
    r->cap = nc;
  }
  want = r->src->block;
  if (r->fd >= 0) {
    ssize_t k;
    do k = read(r->fd, r->buf + r->end, want);
    while (k < 0 && errno == EINTR);
    if (k < 0) return -errno;
    got = (size_t)k;
  } else {
    got = NS_MIN(want, r->src->mem_len - r->mem_pos);
    if (got) memcpy(r->buf + r->end, r->src->mem + r->mem_pos, got);
    r->mem_pos += got;
  }
  if (got == 0) r->eof = 1;
  r->end += got;
  r->bytes += got;
  return 0;
}

/* The fast path of rdr_scan: a line [p, nl) without any '"' is split at
** its tabs, 16 bytes per step (one compare + movemask finds every tab of
** the block; a ratings line is ~190 bytes and 36 fields, mostly "0").
** Returns the field count, or -1 when the line holds a '"' (then the
** general scanner below handles the quoting).  *ascii: no byte >= 0x80, so
** the line is valid UTF-8 without checking it byte by byte. */
static int split_plain(const char *p, const char *nl, field *f, int maxf, int *ascii) {
  const char *fs = p, *fe;
  unsigned high = 0;
  int n = 0;
#ifdef __SSE2__
  const __m128i tab = _mm_set1_epi8('\t'), quote = _mm_set1_epi8('"');
  while (nl - p >= 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    unsigned mt = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, tab));
    if (_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote))) return -1;
    high |= (unsigned)_mm_movemask_epi8(v);
    while (mt) {
      const char *t = p + __builtin_ctz(mt);
      if (n < maxf) {
        f[n].p = fs;
        f[n].n = (size_t)(t - fs);
      }
      n++;
      fs = t + 1;
      mt &= mt - 1;
    }
    p += 16;
  }
#endif
  for (; p < nl; p++) {
    unsigned char c = (unsigned char)*p;
    high |= c & 0x80;
    if (c == '"') return -1;
    if (c == '\t') {
      if (n < maxf) {
        f[n].p = fs;
        f[n].n = (size_t)(p - fs);
      }
      n++;
      fs = p + 1;
    }
  }
  fe = nl;
  if (fe > fs && fe[-1] == '\r') fe--; /* CRLF */
  if (n < maxf) {
    f[n].p = fs;
    f[n].n = (size_t)(fe - fs);
  }
  *ascii = high == 0;
  return n + 1;
}

/* Scans one record starting at r->pos.  Fields go to f[0..maxf) and *nf
** counts all of them.  Returns REC_OK, REC_EOF, REC_NEED (more bytes
** needed), or REC_BAD with *why / *bad_col set (the record is consumed).
** *nl_in counts newlines inside quoted fields.  *ascii is set when the
** record is known to be plain ASCII (no UTF-8 check needed). */
static int rdr_scan(rdr *r, field *f, int maxf, int *nf, uint64_t *nl_in,
                    const char **why, int *bad_col, size_t *rec_len, int *ascii) {
  const char *b = r->buf + r->pos, *e = r->buf + r->end, *p = b, *nl;
  int n = 0;
  uint64_t inside = 0;
  *why = NULL;
  *ascii = 0;
  if (p == e) return r->eof ? REC_EOF : REC_NEED;
  nl = memchr(p, '\n', (size_t)(e - p));
  if (!nl) {
    if (!r->eof) return REC_NEED;
    nl = e;
  }
  if ((n = split_plain(b, nl, f, maxf, ascii)) >= 0) {
    *nf = n;
    *nl_in = 0;
    *rec_len = (size_t)(nl - b);
    r->pos += (size_t)(nl - b) + (nl < e ? 1 : 0); /* skip the '\n' */
    return REC_OK;
  }
  n = 0;
  for (;;) {
    const char *fs = p, *fe;
    if (p < e && *p == '"') {
      const char *q = p + 1;
      for (;;) {
        q = memchr(q, '"', (size_t)(e - q));
        if (!q) {
          if (!r->eof) return REC_NEED;
          /* unterminated: the quote swallows the rest of the input */
          *why = "unterminated quoted field";
          *bad_col = n + 1;
          for (const char *c = p; c < e; c++) inside += *c == '\n';
          p = e;
          goto done;
        }
        if (q + 1 < e && q[1] == '"') { q += 2; continue; }
        if (q + 1 == e && !r->eof) return REC_NEED;
        break;
      }
      for (const char *c = p; c < q; c++) inside += *c == '\n';
      fs = p + 1;
      fe = q;
      p = q + 1;
      if (p < e && *p == '\r' && p + 1 < e && p[1] == '\n') p++;
      else if (p < e && *p == '\r' && p + 1 == e && !r->eof) return REC_NEED;
      if (p < e && *p != '\t' && *p != '\n') {
        *why = "unexpected character after a closing quote";
        *bad_col = n + 1;
        nl = memchr(p, '\n', (size_t)(e - p));
        if (!nl) {
          if (!r->eof) return REC_NEED;
          nl = e;
        }
        p = nl;
        goto done;
      }
      /* the quoted field may have ended on a later line: find the line end
      ** again from here */
      if (p < e && *p == '\t') {
        nl = memchr(p, '\n', (size_t)(e - p));
        if (!nl) {
          if (!r->eof) return REC_NEED;
          nl = e;
        }
      } else {
        nl = p;
      }
    } else {
      const char *t = find_tab(p, nl);
      fe = t;
      if (t == nl && fe > fs && fe[-1] == '\r') fe--; /* CRLF */
      p = t;
    }
    if (n < maxf) {
      f[n].p = fs;
      f[n].n = (size_t)(fe - fs);
    }
    n++;
    if (p < nl && *p == '\t') {
      p++;
      continue;
    }
    break;
  }
done:
  *nf = n;
  *nl_in = inside;
  *rec_len = (size_t)(p - b);
  r->pos += (size_t)(p - b) + (p < e ? 1 : 0); /* skip the '\n' */
  return *why ? REC_BAD : REC_OK;
}

/* ASCII fast path, then a strict UTF-8 check (no overlongs, no surrogates,
** nothing above U+10FFFF).  Returns the offset of the first bad byte or
** (size_t)-1 when the bytes are valid. */
static size_t utf8_bad(const unsigned char *s, size_t n) {
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
    if (s[i] != '.' || i == (size_t)(neg || s[0] == '+')) return -1;
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

static int is_nan_text(const char *s, size_t n) {
  return (n == 3 && (s[0] | 32) == 'n' && (s[1] | 32) == 'a' && (s[2] | 32) == 'n') ||
         (n == 4 && memcmp(s, "<NA>", 4) == 0);
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

static int eq(const field *f, const char *lit) {
  size_t n = strlen(lit);
  return f->n == n && memcmp(f->p, lit, n) == 0;
}

/* ---- header ------------------------------------------------------------ */

typedef struct hdr {
  int kind;
  int ncols;              /* fields in the header = fields every row needs */
  int role[MAX_ROLES];    /* header index per role, -1 absent */
  const char *name[MAX_ROLES]; /* header text of the column, for messages */
  char names[MAX_ROLES][64];
} hdr;

static int find_col(const field *f, int nf, const char *name) {
  for (int i = 0; i < nf; i++)
    if (eq(&f[i], name)) return i;
  return -1;
}

/* Maps role i to the column called name (or alias). */
static void map_role(hdr *h, const field *f, int nf, int i, const char *name, const char *alias) {
  int c = find_col(f, nf, name);
  const char *used = name;
  if (c < 0 && alias) {
    c = find_col(f, nf, alias);
    used = alias;
  }
  h->role[i] = c;
  snprintf(h->names[i], sizeof h->names[i], "%s", used);
  h->name[i] = h->names[i];
}

static int detect_kind(const field *f, int nf) {
  static const char *const hist_only[] = {
      "currentStatus", "firstNonNMRStatus", "timestampMillisOfCurrentStatus",
      "timestampMillisOfFirstNonNMRStatus", "currentDecidedBy", "mostRecentNonNMRStatus",
      "lockedStatus", "currentCoreStatus"};
  if (find_col(f, nf, "enrollmentState") >= 0) return NS_FILE_ENROLLMENT;
  if (find_col(f, nf, "helpfulnessLevel") >= 0 || find_col(f, nf, "raterParticipantId") >= 0 ||
      find_col(f, nf, "notHelpful") >= 0 || find_col(f, nf, "ratingSourceBucketed") >= 0)
    return NS_FILE_RATINGS;
  for (int t = 0; t < NS_N_TAGS; t++)
    if (find_col(f, nf, ns_tag_names[t]) >= 0) return NS_FILE_RATINGS;
  for (size_t i = 0; i < NS_ARRAY_LEN(hist_only); i++)
    if (find_col(f, nf, hist_only[i]) >= 0) return NS_FILE_HISTORY;
  if (find_col(f, nf, "classification") >= 0 || find_col(f, nf, "tweetId") >= 0 ||
      find_col(f, nf, "summary") >= 0)
    return NS_FILE_NOTES;
  return NS_FILE_UNKNOWN;
}

/* A column named twice makes the file ambiguous (which one counts?):
** rejected with its position, the same rule as over HTTP (server/body.c)
** and as NDJSON's duplicate keys.  Returns 0, NS_EPARSE or NS_ENOMEM. */
static int header_dups(const char *file, const field *f, int nf, const ns_load_opts *opts) {
  const char **names = ns_mallocn((size_t)nf + 1, sizeof *names);
  size_t *lens = ns_mallocn((size_t)nf + 1, sizeof *lens);
  int first, dup, rc = 0;
  if (!names || !lens) {
    rc = NS_ENOMEM;
  } else {
    for (int i = 0; i < nf; i++) {
      names[i] = f[i].p;
      lens[i] = f[i].n;
    }
    if ((dup = ns_header_dup(names, lens, nf, &first)) >= 0) {
      char tmp[64];
      rc = NS_EPARSE;
      ns__tsv_report(opts, "%s:1:%d: duplicate column '%s' (also column %d)", file, dup + 1,
                     show(tmp, sizeof tmp, f[dup].p, f[dup].n), first + 1);
    }
  }
  free(names);
  free(lens);
  return rc;
}

/* Builds the role map; returns the name of a missing required column or
** NULL. */
static const char *map_header(hdr *h, const field *f, int nf) {
  for (int i = 0; i < MAX_ROLES; i++) h->role[i] = -1;
  h->ncols = nf;
  switch (h->kind) {
  case NS_FILE_NOTES:
    map_role(h, f, nf, N_NOTE_ID, "noteId", NULL);
    map_role(h, f, nf, N_AUTHOR, "noteAuthorParticipantId", "participantId");
    map_role(h, f, nf, N_CREATED, "createdAtMillis", NULL);
    map_role(h, f, nf, N_TWEET, "tweetId", NULL);
    map_role(h, f, nf, N_CLASS, "classification", NULL);
    if (h->role[N_NOTE_ID] < 0) return "noteId";
    if (h->role[N_AUTHOR] < 0) return "noteAuthorParticipantId";
    if (h->role[N_CREATED] < 0) return "createdAtMillis";
    if (h->role[N_CLASS] < 0) return "classification";
    return NULL;
  case NS_FILE_RATINGS:
    map_role(h, f, nf, R_NOTE_ID, "noteId", NULL);
    map_role(h, f, nf, R_RATER, "raterParticipantId", "participantId");
    map_role(h, f, nf, R_CREATED, "createdAtMillis", NULL);
    map_role(h, f, nf, R_LEVEL, "helpfulnessLevel", NULL);
    map_role(h, f, nf, R_HELPFUL, "helpful", NULL);
    map_role(h, f, nf, R_NOT_HELPFUL, "notHelpful", NULL);
    map_role(h, f, nf, R_SOURCE, "ratingSourceBucketed", NULL);
    for (int t = 0; t < NS_N_TAGS; t++) map_role(h, f, nf, R_TAG0 + t, ns_tag_names[t], NULL);
    if (h->role[R_NOTE_ID] < 0) return "noteId";
    if (h->role[R_RATER] < 0) return "raterParticipantId";
    if (h->role[R_CREATED] < 0) return "createdAtMillis";
    if (h->role[R_LEVEL] < 0 && (h->role[R_HELPFUL] < 0 || h->role[R_NOT_HELPFUL] < 0))
      return "helpfulnessLevel";
    return NULL;
  case NS_FILE_HISTORY:
    for (int i = 0; i < 24; i++)
      map_role(h, f, nf, i, ns__history_cols[i], i == 1 ? "participantId" : NULL);
    if (h->role[0] < 0) return "noteId";
    return NULL;
  case NS_FILE_ENROLLMENT:
    for (int i = 0; i < 8; i++) map_role(h, f, nf, i, ns__enroll_cols[i], NULL);
    if (h->role[0] < 0) return "participantId";
    if (h->role[1] < 0) return "enrollmentState";
    return NULL;
  default:
    return NULL;
  }
}

/* ---- row conversion ---------------------------------------------------- */

/* A conversion failure: column (1-based field) and reason text. */
typedef struct rowerr {
  int col;
  char why[256];
} rowerr;

static const field empty_field = {"", 0};

/* The field of a role, or an empty field when the column is absent. */
static const field *fld(const hdr *h, const field *f, int role) {
  return h->role[role] >= 0 ? &f[h->role[role]] : &empty_field;
}

static int bad(rowerr *e, const hdr *h, int role, const char *fmt, const field *v) {
  char tmp[64];
  e->col = h->role[role] + 1;
  snprintf(e->why, sizeof e->why, fmt, h->name[role], v ? show(tmp, sizeof tmp, v->p, v->n) : "");
  return -1;
}

static int req_i64(const hdr *h, const field *f, int role, int64_t *out, rowerr *e) {
  const field *v = fld(h, f, role);
  if (parse_i64(v->p, v->n, out) != 0)
    return bad(e, h, role, "%s: expected an integer, got \"%s\"", v);
  return 0;
}

/* Optional timestamp / count: empty, "nan" or absent column -> NS_TS_NONE. */
static int opt_i64(const hdr *h, const field *f, int role, int64_t *out, rowerr *e) {
  const field *v = fld(h, f, role);
  if (v->n == 0 || is_nan_text(v->p, v->n)) {
    *out = NS_TS_NONE;
    return 0;
  }
  if (parse_i64(v->p, v->n, out) == 0) return 0;
  /* a float timestamp such as 1.6e12 (pandas float64 output) */
  double d;
  if (parse_f64(v->p, v->n, &d) == 0 && d == floor(d) && fabs(d) < 9e18) {
    *out = (int64_t)d;
    return 0;
  }
  return bad(e, h, role, "%s: expected an integer, got \"%s\"", v);
}

static int opt_status(const hdr *h, const field *f, int role, int8_t *out, rowerr *e) {
  const field *v = fld(h, f, role);
  int s;
  if (v->n == 0 || is_nan_text(v->p, v->n)) {
    *out = NS_STATUS_UNSET;
    return 0;
  }
  if ((s = ns_status_parse(v->p, v->n)) < 0)
    return bad(e, h, role, "%s: unknown status \"%s\"", v);
  *out = (int8_t)s;
  return 0;
}

static int opt_f64(const hdr *h, const field *f, int role, double *out, rowerr *e) {
  const field *v = fld(h, f, role);
  if (v->n == 0 || is_nan_text(v->p, v->n)) {
    *out = NAN;
    return 0;
  }
  if (parse_f64(v->p, v->n, out) != 0 || !isfinite(*out))
    return bad(e, h, role, "%s: expected a number, got \"%s\"", v);
  return 0;
}

/* Any byte < 0x20 in s?  Eight bytes at a time: (w - 0x20..) & ~w & 0x80..
** flags a byte below 0x20 (bytes >= 0x80 never flag, having the high bit). */
static int has_control(const char *s, size_t n) {
  const uint64_t lo = 0x2020202020202020ull, hi = 0x8080808080808080ull;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, s + i, 8);
    if ((w - lo) & ~w & hi) return 1;
  }
  for (; i < n; i++)
    if ((unsigned char)s[i] < 0x20) return 1;
  return 0;
}

static int participant(const hdr *h, const field *f, int role, const char **p, size_t *n,
                       int required, rowerr *e) {
  const field *v = fld(h, f, role);
  *p = v->p;
  *n = v->n;
  if (required && v->n == 0) return bad(e, h, role, "%s: empty participant id%s", NULL);
  if (v->n > 255) return bad(e, h, role, "%s: participant id longer than 255 bytes%s", NULL);
  if (has_control(v->p, v->n))
    return bad(e, h, role, "%s: control character in participant id%s", NULL);
  return 0;
}

/* Applies a shared domain check (base/dataset.h) to a parsed value. */
static int domain(const hdr *h, const field *f, int role, const char *why, rowerr *e) {
  char tmp[64];
  const field *v = fld(h, f, role);
  if (!why) return 0;
  e->col = h->role[role] + 1;
  snprintf(e->why, sizeof e->why, "%s: %s, got \"%s\"", h->name[role], why,
           show(tmp, sizeof tmp, v->p, v->n));
  return -1;
}

static int conv_note(const hdr *h, const field *f, ns__note_row *r, rowerr *e) {
  const field *v;
  if (req_i64(h, f, N_NOTE_ID, &r->note_id, e)) return -1;
  if (domain(h, f, N_NOTE_ID, ns_check_note_id(r->note_id), e)) return -1;
  if (participant(h, f, N_AUTHOR, &r->author, &r->author_len, 1, e)) return -1;
  if (req_i64(h, f, N_CREATED, &r->created_ms, e)) return -1;
  if (domain(h, f, N_CREATED, ns_check_created_ms(r->created_ms), e)) return -1;
  v = fld(h, f, N_TWEET);
  if (v->n == 0 || is_nan_text(v->p, v->n)) r->tweet_id = -1;
  else if (req_i64(h, f, N_TWEET, &r->tweet_id, e)) return -1;
  v = fld(h, f, N_CLASS);
  if (eq(v, "MISINFORMED_OR_POTENTIALLY_MISLEADING")) r->classification = NS_CLASS_MISLEADING;
  else if (eq(v, "NOT_MISLEADING")) r->classification = NS_CLASS_NOT_MISLEADING;
  else if (v->n == 0) r->classification = NS_CLASS_NONE;
  else return bad(e, h, N_CLASS, "%s: unknown classification \"%s\"", v);
  return 0;
}

/* 0/1 flag; empty is 0.  Returns 0/1, or -1 on a bad value. */
static int flag01(const field *v) {
  if (v->n == 0) return 0;
  if (v->n == 1) return v->p[0] == '1' ? 1 : v->p[0] == '0' ? 0 : -1;
  if (eq(v, "1.0")) return 1;
  if (eq(v, "0.0") || is_nan_text(v->p, v->n)) return 0;
  return -1;
}

static int conv_rating(const hdr *h, const field *f, ns__rating_row *r, rowerr *e) {
  const field *v;
  if (req_i64(h, f, R_NOTE_ID, &r->note_id, e)) return -1;
  if (domain(h, f, R_NOTE_ID, ns_check_note_id(r->note_id), e)) return -1;
  if (participant(h, f, R_RATER, &r->rater, &r->rater_len, 1, e)) return -1;
  if (req_i64(h, f, R_CREATED, &r->created_ms, e)) return -1;
  if (domain(h, f, R_CREATED, ns_check_created_ms(r->created_ms), e)) return -1;
  v = fld(h, f, R_LEVEL);
  if (eq(v, "HELPFUL")) r->level = NS_LEVEL_HELPFUL;
  else if (eq(v, "NOT_HELPFUL")) r->level = NS_LEVEL_NOT_HELPFUL;
  else if (eq(v, "SOMEWHAT_HELPFUL")) r->level = NS_LEVEL_SOMEWHAT_HELPFUL;
  else if (v->n != 0) return bad(e, h, R_LEVEL, "%s: unknown helpfulness level \"%s\"", v);
  else {
    /* legacy columns; reference order: helpful first, notHelpful overrides */
    int hp = flag01(fld(h, f, R_HELPFUL)), nh = flag01(fld(h, f, R_NOT_HELPFUL));
    if (hp < 0) return bad(e, h, R_HELPFUL, "%s: expected 0 or 1, got \"%s\"", fld(h, f, R_HELPFUL));
    if (nh < 0)
      return bad(e, h, R_NOT_HELPFUL, "%s: expected 0 or 1, got \"%s\"", fld(h, f, R_NOT_HELPFUL));
    if (nh) r->level = NS_LEVEL_NOT_HELPFUL;
    else if (hp) r->level = NS_LEVEL_HELPFUL;
    else {
      e->col = h->role[R_LEVEL] >= 0 ? h->role[R_LEVEL] + 1 : h->role[R_HELPFUL] + 1;
      snprintf(e->why, sizeof e->why,
               "no rating value: helpfulnessLevel is empty and neither helpful nor notHelpful is 1");
      return -1;
    }
  }
  r->tags = 0;
  for (int t = 0; t < NS_N_TAGS; t++) {
    if (h->role[R_TAG0 + t] < 0) continue;
    v = &f[h->role[R_TAG0 + t]];
    if (v->n == 1 && v->p[0] == '0') continue; /* the common case first */
    int b = flag01(v);
    if (b < 0) return bad(e, h, R_TAG0 + t, "%s: expected 0 or 1, got \"%s\"", v);
    if (b) r->tags |= NS_TAG_BIT(t);
  }
  v = fld(h, f, R_SOURCE);
  /* Unknown buckets are read as DEFAULT: the column is informational and a
  ** new bucket name must not make us drop ratings. */
  r->source = eq(v, "POPULATION_SAMPLED") ? NS_SOURCE_POPULATION_SAMPLED : NS_SOURCE_DEFAULT;
  return 0;
}

static int conv_history(const hdr *h, const field *f, ns_nsh *x, const char **a, size_t *an,
                        rowerr *e) {
  int64_t id;
  const field *v;
  if (req_i64(h, f, 0, &id, e)) return -1;
  if (domain(h, f, 0, ns_check_note_id(id), e)) return -1;
  ns_nsh_init(x, id);
  if (participant(h, f, 1, a, an, 0, e)) return -1;
  if (opt_i64(h, f, 2, &x->created_ms, e) || opt_i64(h, f, 3, &x->ts_first_non_nmr, e) ||
      opt_status(h, f, 4, &x->first_non_nmr_status, e) || opt_i64(h, f, 5, &x->ts_current, e) ||
      opt_status(h, f, 6, &x->current_status, e) || opt_i64(h, f, 7, &x->ts_latest_non_nmr, e) ||
      opt_status(h, f, 8, &x->most_recent_non_nmr_status, e) || opt_i64(h, f, 9, &x->ts_lock, e) ||
      opt_status(h, f, 10, &x->locked_status, e) || opt_i64(h, f, 11, &x->ts_retro_lock, e) ||
      opt_status(h, f, 12, &x->current_core_status, e) ||
      opt_status(h, f, 13, &x->current_expansion_status, e) ||
      opt_status(h, f, 14, &x->current_group_status, e))
    return -1;
  v = fld(h, f, 15);
  if (v->n >= sizeof x->decided_by)
    return bad(e, h, 15, "%s: value too long \"%s\"", v);
  if (!is_nan_text(v->p, v->n)) {
    memcpy(x->decided_by, v->p, v->n);
    x->decided_by[v->n] = '\0';
    for (size_t i = 0; i < v->n; i++)
      if ((unsigned char)v->p[i] < 0x20) return bad(e, h, 15, "%s: control character in \"%s\"", v);
  }
  if (opt_f64(h, f, 16, &x->current_modeling_group, e) ||
      opt_i64(h, f, 17, &x->ts_most_recent_change, e) ||
      opt_i64(h, f, 18, &x->ts_nmr_due_to_stable_crh, e) ||
      opt_status(h, f, 19, &x->current_multi_group_status, e) ||
      opt_f64(h, f, 20, &x->current_modeling_multi_group, e) ||
      opt_i64(h, f, 21, &x->ts_minute_final_output, e) ||
      opt_i64(h, f, 22, &x->ts_first_nmr_due_to_stable_crh, e) ||
      opt_i64(h, f, 23, &x->above_pcrh_threshold_time, e))
    return -1;
  return 0;
}

static int conv_enroll(const hdr *h, const field *f, ns_enrollment *x, const char **p, size_t *pn,
                       rowerr *e) {
  const field *v;
  int64_t g;
  memset(x, 0, sizeof *x);
  x->participant = -1;
  if (participant(h, f, 0, p, pn, 1, e)) return -1;
  v = fld(h, f, 1);
  int st = ns_enroll_parse(v->p, v->n);
  if (st < 0 && v->n == 1 && v->p[0] >= '0' && v->p[0] <= '8') st = v->p[0] - '0'; /* thrift code */
  if (st < 0) return bad(e, h, 1, "%s: unknown enrollment state \"%s\"", v);
  x->state = (int8_t)st;
  if (opt_i64(h, f, 2, &x->successful_needed, e) || opt_i64(h, f, 3, &x->ts_last_state_change, e) ||
      opt_i64(h, f, 4, &x->ts_last_earn_out, e))
    return -1;
  v = fld(h, f, 5);
  if (v->n >= sizeof x->modeling_population) return bad(e, h, 5, "%s: value too long \"%s\"", v);
  if (!is_nan_text(v->p, v->n)) {
    memcpy(x->modeling_population, v->p, v->n);
    x->modeling_population[v->n] = '\0';
    for (size_t i = 0; i < v->n; i++)
      if ((unsigned char)v->p[i] < 0x20) return bad(e, h, 5, "%s: control character in \"%s\"", v);
  }
  if (opt_i64(h, f, 6, &g, e)) return -1;
  if (g != NS_TS_NONE && (g < 0 || g > INT32_MAX))
    return bad(e, h, 6, "%s: modeling group out of range \"%s\"", fld(h, f, 6));
  x->modeling_group = g == NS_TS_NONE ? -1 : (int32_t)g;
  if (opt_i64(h, f, 7, &x->times_earned_out, e)) return -1;
  return 0;
}

/* ---- the file loop ----------------------------------------------------- */

#define MAX_FIELDS 512

int ns__tsv_parse(const ns__tsv_src *src, const ns__tsv_sink *sink, const ns_load_opts *opts,
                  ns_load_stats *stats) {
  rdr r;
  field *f = NULL;
  hdr *h = NULL;
  int rc = 0, nf, bad_col, st, ascii;
  uint64_t nl_in;
  const char *why, *missing;
  size_t rec_len;
  ns_load_opts none = {0};
  rowerr err;

  if (!opts) opts = &none;
  memset(stats, 0, sizeof *stats);
  memset(&r, 0, sizeof r);
  r.src = src;
  r.fd = -1;
  r.line = 1;
  f = ns_malloc(MAX_FIELDS * sizeof *f);
  h = ns_calloc(1, sizeof *h);
  r.cap = src->block * 2;
  r.buf = ns_malloc(r.cap);
  if (!f || !h || !r.buf) { rc = NS_ENOMEM; goto out; }
  if (src->path) {
    struct stat sb;
    r.fd = open(src->path, O_RDONLY | O_CLOEXEC);
    if (r.fd < 0) {
      rc = -errno;
      ns__tsv_report(opts, "%s: cannot open: %s", src->name, strerror(-rc));
      goto out;
    }
    if (fstat(r.fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
      rc = -EISDIR;
      ns__tsv_report(opts, "%s: is a directory", src->name);
      goto out;
    }
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(r.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  }

  /* -- header -- */
  for (;;) {
    st = rdr_scan(&r, f, MAX_FIELDS, &nf, &nl_in, &why, &bad_col, &rec_len, &ascii);
    if (st != REC_NEED) break;
    if ((rc = rdr_fill(&r)) != 0) {
      if (rc == 1) {
        rc = NS_EPARSE;
        ns__tsv_report(opts, "%s:1: not a public-format TSV file (header line too long)", src->name);
      } else {
        ns__tsv_report(opts, "%s: read error: %s", src->name, ns_strerror(rc));
      }
      goto out;
    }
  }
  if (st == REC_EOF) {
    rc = NS_EPARSE;
    ns__tsv_report(opts, "%s: empty file (no header line)", src->name);
    goto out;
  }
  if (nf > 0 && ns_bom_len(f[0].p, f[0].n)) { /* BOM: skipped, as over HTTP */
    f[0].p += 3;
    f[0].n -= 3;
  }
  h->kind = st == REC_OK && nf <= MAX_FIELDS && memchr(r.buf, 0, r.pos) == NULL &&
                    utf8_bad((const unsigned char *)r.buf, r.pos) == (size_t)-1
                ? detect_kind(f, nf)
                : NS_FILE_UNKNOWN;
  if (h->kind == NS_FILE_UNKNOWN) {
    rc = NS_EPARSE;
    ns__tsv_report(opts,
                   "%s:1: not a public-format TSV file (header matches none of notes, ratings, "
                   "noteStatusHistory, userEnrollment)",
                   src->name);
    goto out;
  }
  stats->kind = h->kind;
  if (src->header_only) goto out;
  if ((rc = header_dups(src->name, f, nf, opts)) != 0) goto out;
  if ((missing = map_header(h, f, nf)) != NULL) {
    rc = NS_ECOLUMN;
    if (h->kind == NS_FILE_RATINGS && !strcmp(missing, "helpfulnessLevel"))
      ns__tsv_report(opts,
                     "%s:1: missing required column 'helpfulnessLevel' (or 'helpful' and "
                     "'notHelpful') in %s file",
                     src->name, ns_file_kind_name(h->kind));
    else
      ns__tsv_report(opts, "%s:1: missing required column '%s' in %s file", src->name, missing,
                     ns_file_kind_name(h->kind));
    goto out;
  }
  r.line += 1 + nl_in;

  /* -- rows -- */
  for (;;) {
    uint64_t line = r.line;
    size_t start = r.pos;
    if (r.skip_to_nl) {
      const char *p = memchr(r.buf + r.pos, '\n', r.end - r.pos);
      if (p) {
        r.pos = (size_t)(p - r.buf) + 1;
        r.skip_to_nl = 0;
        r.line++;
        continue;
      }
      r.pos = r.end;
      if (r.eof) break;
      if ((rc = rdr_fill(&r)) < 0) goto read_err;
      continue;
    }
    st = rdr_scan(&r, f, MAX_FIELDS, &nf, &nl_in, &why, &bad_col, &rec_len, &ascii);
    if (st == REC_EOF) break;
    if (st == REC_NEED) {
      rc = rdr_fill(&r);
      if (rc == 1) {
        /* the record does not fit in NS__TSV_MAX_RECORD: reject it and
        ** drop bytes up to the next newline */
        rc = 0;
        stats->rows_read++;
        stats->rows_rejected++;
        ns__tsv_report(opts, "%s:%llu:1: record longer than %u bytes", src->name,
                       (unsigned long long)line, NS__TSV_MAX_RECORD);
        r.pos = r.end;
        r.skip_to_nl = 1;
        if (opts->strict) { rc = NS_EPARSE; goto out; }
        continue;
      }
      if (rc < 0) goto read_err;
      if (opts->progress) ns_progress_update(opts->progress, r.bytes);
      continue;
    }
    r.line += 1 + nl_in;
    if (st == REC_OK && nf == 1 && f[0].n == 0) continue; /* blank line */
    stats->rows_read++;
    err.col = 0;
    if (st == REC_BAD) {
      err.col = bad_col;
      snprintf(err.why, sizeof err.why, "%s", why);
    } else if (nf != h->ncols) {
      err.col = nf < h->ncols ? nf + 1 : h->ncols + 1;
      snprintf(err.why, sizeof err.why, "expected %d fields, got %d%s", h->ncols, nf,
               nf < h->ncols && r.pos >= r.end && r.eof ? " (truncated last line?)" : "");
    } else if (!ascii) {
      size_t off = utf8_bad((const unsigned char *)r.buf + start, rec_len);
      if (off != (size_t)-1) {
        /* column of the bad byte = 1 + tabs before it */
        int col = 1;
        for (size_t i = 0; i < off; i++) col += r.buf[start + i] == '\t';
        err.col = col;
        snprintf(err.why, sizeof err.why, "invalid UTF-8");
      }
    }
    if (!err.col) {
      int cr = 0;
      switch (h->kind) {
      case NS_FILE_NOTES: {
        ns__note_row x;
        if (conv_note(h, f, &x, &err) == 0) cr = sink->note ? sink->note(sink->ctx, &x) : 0;
        break;
      }
      case NS_FILE_RATINGS: {
        ns__rating_row x;
        if (conv_rating(h, f, &x, &err) == 0) cr = sink->rating ? sink->rating(sink->ctx, &x) : 0;
        break;
      }
      case NS_FILE_HISTORY: {
        ns_nsh x;
        const char *a;
        size_t an;
        if (conv_history(h, f, &x, &a, &an, &err) == 0)
          cr = sink->history ? sink->history(sink->ctx, &x, a, an) : 0;
        break;
      }
      case NS_FILE_ENROLLMENT: {
        ns_enrollment x;
        const char *p;
        size_t pn;
        if (conv_enroll(h, f, &x, &p, &pn, &err) == 0)
          cr = sink->enroll ? sink->enroll(sink->ctx, &x, p, pn) : 0;
        break;
      }
      }
      if (cr) {
        rc = cr;
        ns__tsv_report(opts, "%s:%llu: %s", src->name, (unsigned long long)line, ns_strerror(cr));
        goto out;
      }
    }
    if (err.col) {
      stats->rows_rejected++;
      ns__tsv_report(opts, "%s:%llu:%d: %s", src->name, (unsigned long long)line, err.col, err.why);
      if (opts->strict) {
        rc = NS_EPARSE;
        goto out;
      }
      continue;
    }
    stats->rows_ok++;
  }
  if (opts->progress) ns_progress_update(opts->progress, r.bytes);
  goto out;

read_err:
  ns__tsv_report(opts, "%s: read error: %s", src->name, ns_strerror(rc));
out:
  if (r.fd >= 0) close(r.fd);
  free(r.buf);
  free(f);
  free(h);
  return rc;
}

/* ---- file lists -------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void ns_tsv_list_free(char **list, size_t n) {
  if (!list) return;
  for (size_t i = 0; i < n; i++) free(list[i]);
  free(list);
}

int ns_tsv_list(const char *path, char ***out, size_t *n) {
  struct stat sb;
  DIR *d = NULL;
  struct dirent *de;
  char **v = NULL;
  size_t k = 0, cap = 0;
  int rc = 0;
  *out = NULL;
  *n = 0;
  if (stat(path, &sb) != 0) return -errno;
  if (!S_ISDIR(sb.st_mode)) {
    v = ns_malloc(sizeof *v);
    if (!v || !(v[0] = ns_strdup(path))) {
      free(v);
      return NS_ENOMEM;
    }
    *out = v;
    *n = 1;
    return 0;
  }
  if (!(d = opendir(path))) return -errno;
  while ((de = readdir(d)) != NULL) {
    size_t len = strlen(de->d_name);
    char *full;
    if (len < 5 || strcmp(de->d_name + len - 4, ".tsv") != 0 || de->d_name[0] == '.') continue;
    if (k == cap) {
      size_t nc = cap ? cap * 2 : 16;
      char **nv = ns_realloc(v, nc * sizeof *nv);
      if (!nv) { rc = NS_ENOMEM; goto out; }
      v = nv;
      cap = nc;
    }
    full = ns_malloc(strlen(path) + len + 2);
    if (!full) { rc = NS_ENOMEM; goto out; }
    sprintf(full, "%s/%s", path, de->d_name);
    if (stat(full, &sb) != 0 || !S_ISREG(sb.st_mode)) {
      free(full);
      continue;
    }
    v[k++] = full;
  }
  if (k) qsort(v, k, sizeof *v, cmp_str);
out:
  closedir(d);
  if (rc) {
    ns_tsv_list_free(v, k);
    return rc;
  }
  *out = v;
  *n = k;
  return 0;
}

/* ---- dataset sink ------------------------------------------------------ */

int ns__ds_push_note(ns_dataset *ds, size_t *cap, int64_t id, int32_t author, int64_t created,
                     int64_t tweet, uint8_t cls) {
  size_t i = ds->n_notes;
  if (i == *cap) {
    size_t nc = *cap < 1024 ? 1024 : *cap * 2;
    if (ns_dataset_reserve_notes(ds, nc)) return NS_ENOMEM;
    *cap = nc;
  }
  ds->note_id[i] = id;
  ds->note_author[i] = author;
  ds->note_created_ms[i] = created;
  ds->note_tweet_id[i] = tweet;
  ds->note_class[i] = cls;
  ds->n_notes = i + 1;
  return 0;
}

int ns__ds_push_rating(ns_dataset *ds, size_t *cap, int64_t note, int32_t rater, int64_t created,
                       uint8_t level, uint32_t tags, uint8_t src) {
  size_t i = ds->n_ratings;
  if (i == *cap) {
    size_t nc = *cap < 4096 ? 4096 : *cap * 2;
    if (ns_dataset_reserve_ratings(ds, nc)) return NS_ENOMEM;
    *cap = nc;
  }
  ds->r_note_id[i] = note;
  ds->r_rater[i] = rater;
  ds->r_created_ms[i] = created;
  ds->r_level[i] = level;
  ds->r_tags[i] = tags;
  ds->r_source[i] = src;
  ds->n_ratings = i + 1;
  return 0;
}

typedef struct ds_sink {
  ns_dataset *ds;
  size_t cap_notes, cap_ratings, cap_hist, cap_enroll;
} ds_sink;

static int intern(ns_dataset *ds, const char *s, size_t n, int32_t *out) {
  if (n == 0) {
    *out = -1;
    return 0;
  }
  return ns_strtab_intern(ds->participants, s, n, out);
}

static int dss_note(void *ctx, const ns__note_row *r) {
  ds_sink *k = ctx;
  int32_t a;
  int rc = intern(k->ds, r->author, r->author_len, &a);
  if (rc) return rc;
  return ns__ds_push_note(k->ds, &k->cap_notes, r->note_id, a, r->created_ms, r->tweet_id,
                          r->classification);
}

static int dss_rating(void *ctx, const ns__rating_row *r) {
  ds_sink *k = ctx;
  int32_t a;
  int rc = intern(k->ds, r->rater, r->rater_len, &a);
  if (rc) return rc;
  return ns__ds_push_rating(k->ds, &k->cap_ratings, r->note_id, a, r->created_ms, r->level,
                            r->tags, r->source);
}

static int dss_history(void *ctx, const ns_nsh *h, const char *a, size_t an) {
  ds_sink *k = ctx;
  ns_dataset *ds = k->ds;
  int rc;
  if (ds->n_history == k->cap_hist) {
    size_t nc = k->cap_hist < 1024 ? 1024 : k->cap_hist * 2;
    ns_nsh *nh = ns_realloc(ds->history, nc * sizeof *nh);
    if (!nh) return NS_ENOMEM;
    ds->history = nh;
    k->cap_hist = nc;
  }
  ds->history[ds->n_history] = *h;
  if ((rc = intern(ds, a, an, &ds->history[ds->n_history].author)) != 0) return rc;
  ds->n_history++;
  return 0;
}

static int dss_enroll(void *ctx, const ns_enrollment *e, const char *p, size_t pn) {
  ds_sink *k = ctx;
  ns_dataset *ds = k->ds;
  int rc;
  if (ds->n_enrollment == k->cap_enroll) {
    size_t nc = k->cap_enroll < 1024 ? 1024 : k->cap_enroll * 2;
    ns_enrollment *ne = ns_realloc(ds->enrollment, nc * sizeof *ne);
    if (!ne) return NS_ENOMEM;
    ds->enrollment = ne;
    k->cap_enroll = nc;
  }
  ds->enrollment[ds->n_enrollment] = *e;
  if ((rc = intern(ds, p, pn, &ds->enrollment[ds->n_enrollment].participant)) != 0) return rc;
  ds->n_enrollment++;
  return 0;
}

/* Undo a failed file: drop the rows it appended and the participants it
** interned (the table is rebuilt from its first n_part strings, which keeps
** their indexes). */
static int ds_truncate(ns_dataset *ds, size_t nn, size_t nr, size_t nh, size_t ne, size_t np) {
  ns_strtab *t;
  int32_t idx;
  int rc;
  ds->n_notes = nn;
  ds->n_ratings = nr;
  ds->n_history = nh;
  ds->n_enrollment = ne;
  if (ns_strtab_count(ds->participants) == np) return 0;
  if ((rc = ns_strtab_new(&t)) != 0) return rc;
  for (size_t i = 0; i < np; i++) {
    const char *s = ns_strtab_str(ds->participants, (int32_t)i);
    if ((rc = ns_strtab_intern(t, s, strlen(s), &idx)) != 0) {
      ns_strtab_free(t);
      return rc;
    }
  }
  ns_strtab_free(ds->participants);
  ds->participants = t;
  return 0;
}

static int load_src(const ns__tsv_src *src, ns_dataset *ds, const ns_load_opts *opts,
                    ns_load_stats *stats) {
  ds_sink k = {ds, ds->n_notes, ds->n_ratings, ds->n_history, ds->n_enrollment};
  ns__tsv_sink sink = {&k, dss_note, dss_rating, dss_history, dss_enroll};
  size_t nn = ds->n_notes, nr = ds->n_ratings, nh = ds->n_history, ne = ds->n_enrollment;
  size_t np = ns_strtab_count(ds->participants);
  int rc = ns__tsv_parse(src, &sink, opts, stats);
  if (rc && opts && opts->strict) {
    int rc2 = ds_truncate(ds, nn, nr, nh, ne, np);
    if (rc2) rc = rc2;
    stats->rows_ok = 0;
  }
  return rc;
}

int ns_tsv_load_mem(const char *name, const void *buf, size_t len, size_t block, ns_dataset *ds,
                    const ns_load_opts *opts, ns_load_stats *stats) {
  ns__tsv_src src = {name, NULL, buf, len, block ? block : NS__TSV_BLOCK, 0};
  ns_load_stats tmp;
  return load_src(&src, ds, opts, stats ? stats : &tmp);
}

int ns_tsv_load(const char *path, ns_dataset *ds, const ns_load_opts *opts,
                ns_load_stats *stats) {
  char **list = NULL;
  size_t n = 0;
  ns_load_stats one, tmp;
  int rc, first = 0;
  if (!stats) stats = &tmp;
  memset(stats, 0, sizeof *stats);
  if ((rc = ns_tsv_list(path, &list, &n)) != 0) {
    ns__tsv_report(opts, "%s: cannot open: %s", path, ns_strerror(rc));
    return rc;
  }
  for (size_t i = 0; i < n; i++) {
    ns__tsv_src src = {list[i], list[i], NULL, 0, NS__TSV_BLOCK, 0};
    rc = load_src(&src, ds, opts, &one);
    if (rc && !first) first = rc;
    /* a directory of mixed kinds reports NS_FILE_UNKNOWN as its kind */
    stats->kind = i == 0 ? one.kind : stats->kind == one.kind ? one.kind : NS_FILE_UNKNOWN;
    stats->rows_read += one.rows_read;
    stats->rows_ok += one.rows_ok;
    stats->rows_rejected += one.rows_rejected;
  }
  ns_tsv_list_free(list, n);
  return first;
}

int ns_tsv_detect(const char *path, int *kind) {
  ns__tsv_src src = {path, path, NULL, 0, 64 * 1024, 1};
  ns__tsv_sink none = {0};
  ns_load_stats st;
  int rc = ns__tsv_parse(&src, &none, NULL, &st);
  *kind = rc == 0 ? st.kind : NS_FILE_UNKNOWN;
  return rc;
}
