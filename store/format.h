/*
** store/format.h -- the public TSV format, written down once: the column
** table of each file kind and ONE row validator per kind.
**
** Every way a row enters notescore goes through here:
**   store/tsv.c     `import`, `score -n/-r` (files) and the TSV bodies of
**                   the HTTP ingest (server/body.c hands its TSV bodies to
**                   the same reader: ns_tsv_parse_mem below);
**   server/body.c   NDJSON bodies (each JSON value becomes an ns_fmt_val).
** and every writer of a public layout takes its column list from the tables
** (store/tsv_write.c, engine/output.c), so a column exists in one place.
**
** The validator sees values, not syntax: an ns_fmt_val is the text of one
** cell plus where it came from (a TSV cell and a JSON string are both
** NS_FV_TEXT; a JSON number is its decimal text; a JSON boolean is "1"/"0"
** but marked NS_FV_BOOL, which only a 0/1 flag column accepts).  So a row
** is accepted or rejected the same way whichever way it arrives; the
** decisions are listed in docs/schema.md ("TSV import and export rules").
**
** A rejected row gets a stable short code (NS_FMT_R_*: scripts and tests
** match on it) and a message naming the column.
**
** Thread safety: the tables are constant; the functions keep no state.
*/
#ifndef NS_STORE_FORMAT_H
#define NS_STORE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "../base/dataset.h"
#include "store.h" /* NS_FILE_* */

/* Participant ids: 1..NS_FMT_MAX_ID bytes of valid UTF-8 without control
** characters (public ids are 64 hex digits; the ids end up in TSV exports). */
#define NS_FMT_MAX_ID 255

/* ---- column tables ----------------------------------------------------- */

enum ns_fmt_type {
  NS_FT_SKIP = 0,     /* a public column notescore does not read (written empty) */
  NS_FT_NOTE_ID,      /* int64 > 0 */
  NS_FT_PARTICIPANT,  /* participant id (see NS_FMT_MAX_ID) */
  NS_FT_TIME,         /* createdAtMillis: int64 >= 0 */
  NS_FT_OPT_INT,      /* optional int64 (empty/"nan" = absent; "1.6e12" ok) */
  NS_FT_GROUP,        /* optional 0..INT32_MAX (modelingGroup) */
  NS_FT_FLAG,         /* 0/1 ("0.0"/"1.0"; empty/"nan" = 0) */
  NS_FT_ENUM,         /* one of values[] (empty = absent) */
  NS_FT_STATUS,       /* a note status name (empty/"nan" = absent) */
  NS_FT_REAL,         /* optional finite double */
  NS_FT_TEXT,         /* short text: < max bytes, no control characters */
  NS_FT_NOTE_TEXT     /* free text kept as given (notes.summary): any bytes
                      ** the reader accepted, newlines and tabs included */
};

#define NS_FC_REQUIRED 1  /* the column must be in the header (or alias) */
#define NS_FC_OPEN 2      /* ENUM: another well-formed name reads as value 0
                          ** (ratingSourceBucketed: new buckets appear) */

typedef struct ns_fmt_col {
  const char *name;           /* public name */
  const char *alias;          /* older name read on input, or NULL */
  uint8_t type;               /* ns_fmt_type */
  uint8_t flags;              /* NS_FC_* */
  uint16_t max;               /* TEXT: buffer size (value < max bytes) */
  const char *const *values;  /* ENUM: the spellings, value i = index i */
  uint8_t nvalues;
  uint8_t off_set;            /* off is meaningful */
  uint16_t off;               /* history / enrollment: offsetof() of the
                              ** field in ns_nsh / ns_enrollment */
} ns_fmt_col;

typedef struct ns_fmt_kind {
  int kind;                   /* NS_FILE_* (store/store.h) */
  const char *name;           /* "ratings", ... */
  const ns_fmt_col *cols;     /* in public file order */
  int ncols;
} ns_fmt_kind;

/* The table of a kind (NS_FILE_NOTES, _RATINGS, _HISTORY, _ENROLLMENT), or
** NULL. */
const ns_fmt_kind *ns_fmt_kind_get(int kind);

/* Column indexes in the tables that code refers to by position. */
enum { NS_FMT_NOTES_NCOLS = 24, NS_FMT_RATINGS_NCOLS = 35, NS_FMT_HISTORY_NCOLS = 24,
       NS_FMT_ENROLL_NCOLS = 8 };
/* ratings: the 22 tags are columns NS_FMT_R_TAG0 .. +21, in ns_tag_names order */
enum { NS_FMT_R_TAG0 = 9 };
/* notes: the summary column */
enum { NS_FMT_N_SUMMARY = 21 };

/* ---- values and rejects ------------------------------------------------ */

enum ns_fmt_vtype {
  NS_FV_ABSENT = 0,   /* column not in the header / key not in the object */
  NS_FV_TEXT,         /* TSV cell, JSON string */
  NS_FV_NUMBER,       /* JSON number, as decimal text */
  NS_FV_BOOL,         /* JSON true/false, as "1"/"0" */
  NS_FV_NULL,         /* JSON null (treated as an empty cell) */
  NS_FV_TEXT_DQ       /* a quoted TSV cell whose inner quotes are still
                      ** doubled ("" for "): text for every check, and
                      ** ns_fmt_text_copy undoubles it where text is kept */
};

typedef struct ns_fmt_val {
  const char *p;      /* not NUL-terminated */
  size_t n;
  int type;           /* ns_fmt_vtype */
} ns_fmt_val;

/* Stable reject codes (docs/schema.md lists them with their rule).  The
** first group comes from the validator, the second from the readers. */
#define NS_FMT_R_MISSING "missing"         /* required value empty or absent */
#define NS_FMT_R_NOT_INT "not_integer"     /* not an integer */
#define NS_FMT_R_ID_RANGE "id_not_positive"/* noteId <= 0 */
#define NS_FMT_R_NEG_TIME "negative_time"  /* createdAtMillis < 0 */
#define NS_FMT_R_BAD_ID "bad_participant"  /* control char / invalid UTF-8 */
#define NS_FMT_R_ID_LONG "participant_too_long"
#define NS_FMT_R_FLAG "not_flag"           /* not 0/1 */
#define NS_FMT_R_ENUM "unknown_value"      /* not one of the column's values */
#define NS_FMT_R_NO_LEVEL "no_level"       /* no helpfulnessLevel, no legacy flag */
#define NS_FMT_R_BOOL "boolean"            /* JSON boolean outside a flag column */
#define NS_FMT_R_NOT_NUM "not_number"
#define NS_FMT_R_RANGE "out_of_range"      /* modelingGroup */
#define NS_FMT_R_TEXT "bad_text"           /* too long / control character */
/* readers */
#define NS_FMT_R_FIELDS "field_count"      /* TSV: not as many fields as the header */
#define NS_FMT_R_UTF8 "invalid_utf8"
#define NS_FMT_R_QUOTE "bad_quote"         /* TSV quoting */
#define NS_FMT_R_LONG "record_too_long"
#define NS_FMT_R_JSON "invalid_json"       /* NDJSON: syntax, not an object, ... */

typedef struct ns_fmt_err {
  const char *code;   /* NS_FMT_R_* (static) */
  int col;            /* table index of the column at fault, -1 none */
  char msg[200];      /* "column: what is wrong, got \"...\"" */
} ns_fmt_err;

/* ---- validated rows ---------------------------------------------------- */

/* Strings point into the values given and live as long as they do. */
typedef struct ns_fmt_note {
  int64_t note_id;
  const char *author;      /* not NUL-terminated */
  size_t author_len;
  int64_t created_ms;
  int64_t tweet_id;        /* -1 when absent */
  uint8_t classification;  /* ns_class */
  const char *summary;     /* the summary cell (len 0 = none), not
                           ** NUL-terminated; copy it with ns_fmt_text_copy */
  size_t summary_len;
  int summary_dq;          /* the cell's quotes are still doubled (TSV) */
} ns_fmt_note;

/* Copies free text src[0..n) to dst (room for n bytes), turning each ""
** into " when dq (a quoted TSV cell).  Returns the bytes written. */
size_t ns_fmt_text_copy(char *dst, const char *src, size_t n, int dq);

typedef struct ns_fmt_rating {
  int64_t note_id;
  const char *rater;
  size_t rater_len;
  int64_t created_ms;
  uint8_t level;           /* ns_level */
  uint32_t tags;
  uint8_t source;          /* NS_SOURCE_* */
} ns_fmt_rating;

/* History and enrollment reuse the dataset structs; their participant index
** fields are left -1 and the string is given beside. */
typedef struct ns_fmt_history {
  ns_nsh h;
  const char *author;      /* len 0 = none */
  size_t author_len;
} ns_fmt_history;

typedef struct ns_fmt_enroll {
  ns_enrollment e;
  const char *participant;
  size_t participant_len;
} ns_fmt_enroll;

/* The validators.  v[i] is the value of table column i (ns_fmt_kind_get()
** ->cols[i]); NS_FV_ABSENT for a column not given.  Return 0 and fill the
** row, or -1 and fill *err. */
int ns_fmt_note_row(const ns_fmt_val *v, ns_fmt_note *out, ns_fmt_err *err);
int ns_fmt_rating_row(const ns_fmt_val *v, ns_fmt_rating *out, ns_fmt_err *err);
int ns_fmt_history_row(const ns_fmt_val *v, ns_fmt_history *out, ns_fmt_err *err);
int ns_fmt_enroll_row(const ns_fmt_val *v, ns_fmt_enroll *out, ns_fmt_err *err);

/* ---- headers ----------------------------------------------------------- */

/* Kind of a header (NS_FILE_*, NS_FILE_UNKNOWN when none matches): from
** columns only one kind has. */
int ns_fmt_detect(const char *const *names, const size_t *lens, int n);

/* Maps a header to kind's table: map[i] = header field of table column i
** (name, else alias), or -1.  Returns 0, or -1 with *err set: a column named
** twice (NS_FMT_R_DUP_COL: which one counts is ambiguous) or a required
** column missing (NS_FMT_R_NO_COL); err->col is then the 0-based header
** field of the repeat, or -1. */
#define NS_FMT_R_DUP_COL "duplicate_column"
#define NS_FMT_R_NO_COL "missing_column"
int ns_fmt_map_header(int kind, const char *const *names, const size_t *lens, int n, int *map,
                      ns_fmt_err *err);

/* Table index of a column name or alias of kind, or -1 (NDJSON keys). */
int ns_fmt_col_find(int kind, const char *s, size_t n, int *is_alias);

/* Value writers share these spellings. */
const char *ns_fmt_level_name(int level);       /* "" when out of range */
const char *ns_fmt_class_name(int cls);         /* "" for NS_CLASS_NONE */
const char *ns_fmt_source_name(int source);

/* ---- TSV in memory ----------------------------------------------------- */

/* What a reader hands out: a validated row, or a rejected one (line of the
** record, 1-based header field col or 0, code, message). */
typedef struct ns_fmt_sink {
  void *ctx;
  int (*note)(void *ctx, const ns_fmt_note *r);
  int (*rating)(void *ctx, const ns_fmt_rating *r);
  int (*history)(void *ctx, const ns_nsh *h, const char *author, size_t len);
  int (*enroll)(void *ctx, const ns_enrollment *e, const char *p, size_t len);
  void (*reject)(void *ctx, uint64_t line, int col, const char *code, const char *msg);
} ns_fmt_sink;

/* Reads a public-format TSV held in memory (an HTTP body) with the file
** reader of store/tsv.c: same BOM, quoting, header and row rules as
** `import`.  kind is the expected kind (the header is mapped to it, not
** detected).  Returns 0 (rows may have been rejected: see sink->reject),
** NS_ECOLUMN / NS_EPARSE with a message in err (a header unusable: missing
** or duplicated column, empty body), or the first error a sink callback
** returned. */
int ns_tsv_parse_mem(const char *buf, size_t len, int kind, const ns_fmt_sink *sink, char *err,
                     size_t errcap);

#endif /* NS_STORE_FORMAT_H */
