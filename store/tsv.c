/*
** store/tsv.c -- the streaming reader of the public-format TSV files.
**
** Who calls it: ns_tsv_load*() below (in-memory datasets for the
** reproducibility CLI; ns_tsv_load_files() parses shards on threads), store/import.c (DB import), ns_tsv_parse_mem()
** below (HTTP TSV bodies, server/body.c), the fuzz target.
** Thread: the caller's; no shared state.
**
** Shape of the work, per file:
**   1. read the file in 1 MiB blocks (from its byte source, store/source.c:
**      plain, gzip, a zip of one file, or stdin) into one buffer that is reused; a
**      record that straddles a block is moved to the front and completed by
**      the next read (the buffer only grows for records > 1 MiB, up to
**      NS__TSV_MAX_RECORD), so memory is constant however big the file is;
**   2. split the first record (the header) and detect the file kind from
**      the column names (or take the kind the caller gives: an HTTP body),
**      then map the kind's column table BY NAME (store/format.c decides
**      what is missing or duplicated);
**   3. split every following record into fields (pointers into the buffer:
**      no per-line allocation), point the row's values at them and let the
**      kind's validator (store/format.c, the one every input path uses)
**      turn them into a typed row for the sink, or a reject with its code.
**
** Quoting: the public files are written by pandas, which quotes a field that
** contains a tab, newline or '"' (doubling inner quotes).  Only free text
** (notes.summary, ratings.suggestion) is ever quoted.  A quoted field may
** span lines; its inner "" pairs are left doubled in the buffer and the
** field is marked (NS_FV_TEXT_DQ), so the one text we keep, the summary,
** is undoubled as it is copied (ns_fmt_text_copy).
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
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "format.h"

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

/* ---- the block reader -------------------------------------------------- */

/* dq: a quoted field with "" pairs inside (still doubled: the buffer is
** not rewritten; free text is undoubled where it is kept) */
typedef struct field { const char *p; size_t n; int dq; } field;

typedef struct rdr {
  const ns__tsv_src *src;
  ns__bsrc *bs;           /* NULL for memory sources */
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
  if (r->bs) {
    int rc = ns__bsrc_read(r->bs, r->buf + r->end, want, &got);
    if (rc) return rc;
  } else {
    got = NS_MIN(want, r->src->mem_len - r->mem_pos);
    if (got) memcpy(r->buf + r->end, r->src->mem + r->mem_pos, got);
    r->mem_pos += got;
  }
  if (got == 0) r->eof = 1;
  r->end += got;
  /* progress counts the file's bytes (compressed ones for .gz / .zip) */
  r->bytes = r->bs ? ns__bsrc_raw_bytes(r->bs) : r->bytes + got;
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
        f[n].dq = 0;
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
        f[n].dq = 0;
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
    f[n].dq = 0;
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
    int dq = 0;
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
        if (q + 1 < e && q[1] == '"') { q += 2; dq = 1; continue; }
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
      f[n].dq = dq;
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

/* ---- header ------------------------------------------------------------ */

#define MAX_COLS 40 /* >= every kind's table (format.h) */

typedef struct hdr {
  int kind;
  const ns_fmt_kind *k;
  int ncols;              /* fields in the header = fields every row needs */
  int map[MAX_COLS];      /* header field of each table column, -1 absent */
  int used[MAX_COLS];     /* the table columns present in the header */
  int nused;
  ns_fmt_val v[MAX_COLS]; /* the row's values: absent columns stay absent,
                          ** the present ones are pointed at each record */
} hdr;

/* Maps the header fields to the kind's table (format.c decides what is
** missing or duplicated).  Returns 0, or -1 with *e set. */
static int map_header(hdr *h, const field *f, int nf, const char **names, size_t *lens,
                      ns_fmt_err *e) {
  for (int i = 0; i < nf; i++) {
    names[i] = f[i].p;
    lens[i] = f[i].n;
  }
  h->k = ns_fmt_kind_get(h->kind);
  h->ncols = nf;
  if (ns_fmt_map_header(h->kind, names, lens, nf, h->map, e) != 0) return -1;
  h->nused = 0;
  memset(h->v, 0, sizeof h->v);
  for (int c = 0; c < h->k->ncols; c++)
    if (h->map[c] >= 0) {
      h->used[h->nused++] = c;
      h->v[c].type = NS_FV_TEXT;
    }
  return 0;
}

/* ---- row conversion ---------------------------------------------------- */

/* The 1-based field of the column a reject names: its header field; for a
** column absent from the header (a ratings row without any rating value
** and no helpfulnessLevel column) the first legacy flag column. */
static int err_field(const hdr *h, const ns_fmt_err *e) {
  if (e->col < 0) return 0;
  if (h->map[e->col] >= 0) return h->map[e->col] + 1;
  if (h->kind == NS_FILE_RATINGS && h->map[6] >= 0) return h->map[6] + 1;
  return 0;
}

/* Validates one record and hands it to the sink.  Returns 0 (row stored),
** 1 (rejected: *e set) or the sink's error. */
static int convert(hdr *h, const field *f, const ns__tsv_sink *sink, ns_fmt_err *e) {
  ns_fmt_val *v = h->v;
  for (int i = 0; i < h->nused; i++) {
    int c = h->used[i];
    v[c].p = f[h->map[c]].p;
    v[c].n = f[h->map[c]].n;
    v[c].type = f[h->map[c]].dq ? NS_FV_TEXT_DQ : NS_FV_TEXT;
  }
  switch (h->kind) {
  case NS_FILE_NOTES: {
    ns_fmt_note x;
    if (ns_fmt_note_row(v, &x, e)) return 1;
    return sink->note ? sink->note(sink->ctx, &x) : 0;
  }
  case NS_FILE_RATINGS: {
    ns_fmt_rating x;
    if (ns_fmt_rating_row(v, &x, e)) return 1;
    return sink->rating ? sink->rating(sink->ctx, &x) : 0;
  }
  case NS_FILE_HISTORY: {
    ns_fmt_history x;
    if (ns_fmt_history_row(v, &x, e)) return 1;
    return sink->history ? sink->history(sink->ctx, &x.h, x.author, x.author_len) : 0;
  }
  default: {
    ns_fmt_enroll x;
    if (ns_fmt_enroll_row(v, &x, e)) return 1;
    return sink->enroll ? sink->enroll(sink->ctx, &x.e, x.participant, x.participant_len) : 0;
  }
  }
}

/* A rejected record: to the sink's reject callback and the report. */
static void reject_row(const ns__tsv_src *src, const ns__tsv_sink *sink, const ns_load_opts *opts,
                       uint64_t line, int col, const char *code, const char *msg) {
  if (sink->reject) sink->reject(sink->ctx, line, col, code, msg);
  if (col > 0)
    ns__tsv_report(opts, "%s:%llu:%d: %s [%s]", src->name, (unsigned long long)line, col, msg,
                   code);
  else
    ns__tsv_report(opts, "%s:%llu: %s [%s]", src->name, (unsigned long long)line, msg, code);
}

/* ---- the file loop ----------------------------------------------------- */

/* A failed read: the source's reason (a truncated gzip says where) and the
** line of the record being read, so no short read passes for the end. */
static void read_error(const rdr *r, const ns_load_opts *opts, int rc) {
  const char *m = r->bs ? ns__bsrc_msg(r->bs) : "";
  if (!m[0]) m = ns_strerror(rc);
  ns__tsv_report(opts, "%s:%llu: %s", r->src->name, (unsigned long long)r->line, m);
}

#define MAX_FIELDS 512

int ns__tsv_parse(const ns__tsv_src *src, const ns__tsv_sink *sink, const ns_load_opts *opts,
                  ns_load_stats *stats) {
  rdr r;
  field *f = NULL;
  hdr *h = NULL;
  int rc = 0, nf, bad_col, st, ascii;
  uint64_t nl_in;
  const char *why;
  size_t rec_len;
  ns_load_opts none = {0};
  ns__tsv_sink nosink = {0};
  const char **names = NULL;
  size_t *lens = NULL;
  ns_fmt_err err;

  if (!opts) opts = &none;
  if (!sink) sink = &nosink;
  memset(stats, 0, sizeof *stats);
  memset(&r, 0, sizeof r);
  r.src = src;
  r.line = 1;
  f = ns_malloc(MAX_FIELDS * sizeof *f);
  h = ns_calloc(1, sizeof *h);
  names = ns_mallocn(MAX_FIELDS, sizeof *names);
  lens = ns_mallocn(MAX_FIELDS, sizeof *lens);
  r.cap = src->block * 2;
  r.buf = ns_malloc(r.cap);
  if (!f || !h || !names || !lens || !r.buf) { rc = NS_ENOMEM; goto out; }
  if (src->path) {
    char msg[512];
    if ((rc = ns__bsrc_open(src->path, &r.bs, msg, sizeof msg)) != 0) {
      ns__tsv_report(opts, "%s: %s", src->name, msg[0] ? msg : ns_strerror(rc));
      goto out;
    }
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
        read_error(&r, opts, rc);
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
  h->kind = NS_FILE_UNKNOWN;
  if (st == REC_OK && nf <= MAX_FIELDS && memchr(r.buf, 0, r.pos) == NULL &&
      ns__utf8_bad((const unsigned char *)r.buf, r.pos) == (size_t)-1) {
    if (src->kind) {
      h->kind = src->kind; /* the caller knows (an HTTP route): mapped, not guessed */
    } else {
      for (int i = 0; i < nf; i++) {
        names[i] = f[i].p;
        lens[i] = f[i].n;
      }
      h->kind = ns_fmt_detect(names, lens, nf);
    }
  }
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
  if (map_header(h, f, nf, names, lens, &err) != 0) {
    rc = strcmp(err.code, NS_FMT_R_DUP_COL) == 0 ? NS_EPARSE : NS_ECOLUMN;
    if (err.col >= 0)
      ns__tsv_report(opts, "%s:1:%d: %s", src->name, err.col + 1, err.msg);
    else
      ns__tsv_report(opts, "%s:1: %s", src->name, err.msg);
    goto out;
  }
  r.line += 1 + nl_in;
  if (src->on_header && (rc = src->on_header(src->hctx, h->kind)) != 0) goto out;

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
        snprintf(err.msg, sizeof err.msg, "record longer than %u bytes", NS__TSV_MAX_RECORD);
        reject_row(src, sink, opts, line, 1, NS_FMT_R_LONG, err.msg);
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
    err.code = NULL;
    if (st == REC_BAD) {
      err.col = bad_col;
      err.code = NS_FMT_R_QUOTE;
      snprintf(err.msg, sizeof err.msg, "%s", why);
    } else if (nf != h->ncols) {
      err.col = nf < h->ncols ? nf + 1 : h->ncols + 1;
      err.code = NS_FMT_R_FIELDS;
      snprintf(err.msg, sizeof err.msg, "expected %d fields, got %d%s", h->ncols, nf,
               nf < h->ncols && r.pos >= r.end && r.eof ? " (truncated last line?)" : "");
    } else if (!ascii) {
      size_t off = ns__utf8_bad((const unsigned char *)r.buf + start, rec_len);
      if (off != (size_t)-1) {
        /* column of the bad byte = 1 + tabs before it */
        int col = 1;
        for (size_t i = 0; i < off; i++) col += r.buf[start + i] == '\t';
        err.col = col;
        err.code = NS_FMT_R_UTF8;
        snprintf(err.msg, sizeof err.msg, "invalid UTF-8");
      }
    }
    if (!err.code) {
      int cr = convert(h, f, sink, &err);
      if (cr == 1) {
        err.col = err_field(h, &err);
      } else if (cr) {
        rc = cr;
        ns__tsv_report(opts, "%s:%llu: %s", src->name, (unsigned long long)line, ns_strerror(cr));
        goto out;
      }
    }
    if (err.code) {
      stats->rows_rejected++;
      reject_row(src, sink, opts, line, err.col, err.code, err.msg);
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
  read_error(&r, opts, rc);
out:
  ns__bsrc_close(r.bs);
  free(r.buf);
  free(f);
  free(h);
  free(names);
  free(lens);
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

int ns_tsv_name_ok(const char *name) {
  size_t len = strlen(name);
  static const char *const ext[] = {".tsv", ".tsv.gz", ".zip"};
  for (size_t i = 0; i < NS_ARRAY_LEN(ext); i++) {
    size_t e = strlen(ext[i]);
    if (len > e && !strcmp(name + len - e, ext[i])) return 1;
  }
  return 0;
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
  /* "-" (stdin) is itself; so is any path that is not a directory */
  if (strcmp(path, "-") != 0 && stat(path, &sb) != 0) return -errno;
  if (!strcmp(path, "-") || !S_ISDIR(sb.st_mode)) {
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
    if (!ns_tsv_name_ok(de->d_name) || de->d_name[0] == '.') continue;
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
  ds->note_text_len[i] = 0; /* a reused row (after a rollback) loses its text */
  ds->n_notes = i + 1;
  return 0;
}

int ns__ds_note_text(ns_dataset *ds, size_t i, const char *s, size_t n, int dq) {
  int rc;
  size_t k;
  char *dst;
  if (n == 0) return 0;
  if ((rc = ns_dataset_set_note_text(ds, i, s, n)) != 0) return rc;
  if (!dq) return 0;
  /* undouble in place: the copy is the arena's last bytes */
  dst = ds->note_text + ds->note_text_off[i];
  k = ns_fmt_text_copy(dst, dst, n, 1);
  ds->note_text_len[i] = (uint32_t)k;
  ds->note_text_size -= n - k;
  return 0;
}

int ns__ds_push_rating(ns_dataset *ds, size_t *cap, int64_t note, int32_t rater, int64_t created,
                       uint8_t level, uint32_t tags, uint8_t src) {
  size_t i = ds->n_ratings;
  int rc;
  if (i == *cap) {
    size_t nc = *cap < 4096 ? 4096 : *cap * 2;
    if (ns_dataset_reserve_ratings(ds, nc)) return NS_ENOMEM;
    *cap = nc;
  }
  if ((rc = ns_dataset_set_rating_meta(ds, i, created, level, tags, src)) != 0) return rc;
  ds->r_note_id[i] = note;
  ds->r_rater[i] = rater;
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

static int dss_note(void *ctx, const ns_fmt_note *r) {
  ds_sink *k = ctx;
  int32_t a;
  int rc = intern(k->ds, r->author, r->author_len, &a);
  if (rc) return rc;
  if ((rc = ns__ds_push_note(k->ds, &k->cap_notes, r->note_id, a, r->created_ms, r->tweet_id,
                             r->classification)) != 0)
    return rc;
  return ns__ds_note_text(k->ds, k->ds->n_notes - 1, r->summary, r->summary_len, r->summary_dq);
}

static int dss_rating(void *ctx, const ns_fmt_rating *r) {
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

/* ---- several files in parallel ----------------------------------------- */

/* One file of ns_tsv_load_files: parsed into its own dataset by a worker,
** its report messages kept to be replayed in file order. */
typedef struct lf_part {
  ns_dataset *ds;
  ns_load_stats st;
  int rc, done;
  char **msgs;
  size_t nmsg, capmsg, max_msgs;
  uint64_t dropped;
} lf_part;

typedef struct lf_ctx {
  const char *const *paths;
  size_t n, next, merged, window;
  lf_part *parts;
  int strict, stop;
  pthread_mutex_t mu;
  pthread_cond_t cv;
} lf_ctx;

static void lf_msg(void *ctx, const char *msg) {
  lf_part *p = ctx;
  char *m;
  if (p->nmsg == p->max_msgs) {
    p->dropped++;
    return;
  }
  if (p->nmsg == p->capmsg) {
    size_t nc = p->capmsg ? p->capmsg * 2 : 16;
    char **nv = ns_realloc(p->msgs, nc * sizeof *nv);
    if (!nv) {
      p->dropped++;
      return;
    }
    p->msgs = nv;
    p->capmsg = nc;
  }
  if (!(m = ns_strdup(msg))) {
    p->dropped++;
    return;
  }
  p->msgs[p->nmsg++] = m;
}

static void lf_part_free(lf_part *p) {
  for (size_t i = 0; i < p->nmsg; i++) free(p->msgs[i]);
  free(p->msgs);
  p->msgs = NULL;
  p->nmsg = 0;
  ns_dataset_free(p->ds);
  p->ds = NULL;
}

static void *lf_worker(void *arg) {
  lf_ctx *L = arg;
  for (;;) {
    size_t i;
    lf_part *p;
    ns_load_opts o;
    pthread_mutex_lock(&L->mu);
    /* at most `window` files parsed ahead of the merge: memory stays at a
    ** few files' datasets, whatever the number of shards */
    while (!L->stop && L->next < L->n && L->next >= L->merged + L->window)
      pthread_cond_wait(&L->cv, &L->mu);
    if (L->stop || L->next >= L->n) {
      pthread_mutex_unlock(&L->mu);
      return NULL;
    }
    i = L->next++;
    pthread_mutex_unlock(&L->mu);
    p = &L->parts[i];
    o = (ns_load_opts){L->strict, lf_msg, p, NULL};
    p->rc = ns_dataset_new(&p->ds);
    if (p->rc == 0) p->rc = ns_tsv_load(L->paths[i], p->ds, &o, &p->st);
    pthread_mutex_lock(&L->mu);
    p->done = 1;
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
  }
}

/* Appends part's rows to ds as if they had been read into it: its
** participants are interned in its own index order, which is the order of
** first appearance in the file, so the table grows exactly as a sequential
** read would have grown it. */
static int lf_merge(ns_dataset *ds, const ns_dataset *p) {
  size_t np = ns_strtab_count(p->participants);
  int32_t *map = ns_mallocn(np, sizeof *map);
  int rc = 0;
  size_t base;
  if (!map) return NS_ENOMEM;
  for (size_t i = 0; i < np && !rc; i++) {
    const char *str = ns_strtab_str(p->participants, (int32_t)i);
    rc = ns_strtab_intern(ds->participants, str, strlen(str), &map[i]);
  }
#define MAP(x) ((x) < 0 ? (x) : map[(x)])
  if (!rc && p->n_notes) {
    base = ds->n_notes;
    if ((rc = ns_dataset_reserve_notes(ds, base + p->n_notes)) == 0) {
      for (size_t i = 0; i < p->n_notes; i++) {
        ds->note_id[base + i] = p->note_id[i];
        ds->note_author[base + i] = MAP(p->note_author[i]);
        ds->note_created_ms[base + i] = p->note_created_ms[i];
        ds->note_tweet_id[base + i] = p->note_tweet_id[i];
        ds->note_class[base + i] = p->note_class[i];
      }
      for (size_t i = 0; i < p->n_notes && !rc; i++) {
        size_t tl;
        const char *t = ns_dataset_note_text(p, i, &tl);
        rc = ns_dataset_set_note_text(ds, base + i, t, tl);
      }
      ds->n_notes = base + p->n_notes;
    }
  }
  if (!rc && p->n_ratings) {
    base = ds->n_ratings;
    if ((rc = ns_dataset_reserve_ratings(ds, base + p->n_ratings)) == 0) {
      memcpy(ds->r_note_id + base, p->r_note_id, p->n_ratings * sizeof *p->r_note_id);
      memcpy(ds->r_meta + base, p->r_meta, p->n_ratings * sizeof *p->r_meta);
      memcpy(ds->r_time_lo + base, p->r_time_lo, p->n_ratings * sizeof *p->r_time_lo);
      /* times outside the packed range: through the setter (it adds ds's
      ** hi column); else ds's hi rows (if any) are 0 */
      for (size_t i = 0; p->r_time_hi && i < p->n_ratings && !rc; i++)
        rc = ns_dataset_set_rating_meta(ds, base + i, ns_r_created(p, i), ns_r_level(p, i),
                                        ns_r_tags(p, i), ns_r_source(p, i));
      if (!p->r_time_hi && ds->r_time_hi)
        memset(ds->r_time_hi + base, 0, p->n_ratings * sizeof *ds->r_time_hi);
      for (size_t i = 0; i < p->n_ratings; i++) ds->r_rater[base + i] = MAP(p->r_rater[i]);
      if (!rc) ds->n_ratings = base + p->n_ratings;
    }
  }
  if (!rc && p->n_history) {
    ns_nsh *h = ns_realloc(ds->history, (ds->n_history + p->n_history) * sizeof *h);
    if (!h) rc = NS_ENOMEM;
    else {
      ds->history = h;
      for (size_t i = 0; i < p->n_history; i++) {
        h[ds->n_history + i] = p->history[i];
        h[ds->n_history + i].author = MAP(p->history[i].author);
      }
      ds->n_history += p->n_history;
    }
  }
  if (!rc && p->n_enrollment) {
    ns_enrollment *e = ns_realloc(ds->enrollment, (ds->n_enrollment + p->n_enrollment) * sizeof *e);
    if (!e) rc = NS_ENOMEM;
    else {
      ds->enrollment = e;
      for (size_t i = 0; i < p->n_enrollment; i++) {
        e[ds->n_enrollment + i] = p->enrollment[i];
        e[ds->n_enrollment + i].participant = MAP(p->enrollment[i].participant);
      }
      ds->n_enrollment += p->n_enrollment;
    }
  }
#undef MAP
  free(map);
  return rc;
}

int ns_tsv_load_files(const char *const *paths, size_t n, int threads, size_t max_msgs,
                      ns_dataset *ds, const ns_load_opts *opts, ns_load_done_fn done,
                      void *done_ctx) {
  lf_ctx L;
  pthread_t *th = NULL;
  size_t nth = 0;
  int first = 0;
  if (threads <= 0) threads = ns_default_threads();
  if ((size_t)threads > n) threads = (int)n;
  if (threads <= 1) {
    /* one file or one thread: straight into ds, messages as they come */
    for (size_t i = 0; i < n; i++) {
      ns_load_stats st;
      int rc = ns_tsv_load(paths[i], ds, opts, &st);
      if (done) done(done_ctx, i, paths[i], rc, &st, 0);
      if (rc) return rc;
    }
    return 0;
  }
  memset(&L, 0, sizeof L);
  L.paths = paths;
  L.n = n;
  L.window = (size_t)threads;
  L.strict = opts && opts->strict;
  if (!(L.parts = ns_calloc(n, sizeof *L.parts)) || !(th = ns_calloc((size_t)threads, sizeof *th))) {
    free(L.parts);
    return NS_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) L.parts[i].max_msgs = max_msgs;
  pthread_mutex_init(&L.mu, NULL);
  pthread_cond_init(&L.cv, NULL);
  for (int t = 0; t < threads; t++) {
    if (pthread_create(&th[nth], NULL, lf_worker, &L) != 0) break;
    nth++;
  }
  if (nth == 0) first = NS_ENOMEM;
  /* merge in file order: the dataset (and the messages) are those of a
  ** sequential read; the first failed file stops it as it would */
  for (size_t i = 0; i < n && !first; i++) {
    lf_part *p = &L.parts[i];
    int rc;
    pthread_mutex_lock(&L.mu);
    while (!p->done) pthread_cond_wait(&L.cv, &L.mu);
    pthread_mutex_unlock(&L.mu);
    for (size_t k = 0; k < p->nmsg; k++)
      if (opts && opts->report) opts->report(opts->report_ctx, p->msgs[k]);
    rc = p->rc;
    if (rc == 0) rc = lf_merge(ds, p->ds);
    if (done) done(done_ctx, i, paths[i], rc, &p->st, p->dropped);
    lf_part_free(p);
    pthread_mutex_lock(&L.mu);
    L.merged = i + 1;
    if (rc) {
      first = rc;
      L.stop = 1;
    }
    pthread_cond_broadcast(&L.cv);
    pthread_mutex_unlock(&L.mu);
  }
  pthread_mutex_lock(&L.mu);
  L.stop = 1;
  pthread_cond_broadcast(&L.cv);
  pthread_mutex_unlock(&L.mu);
  for (size_t t = 0; t < nth; t++) pthread_join(th[t], NULL);
  for (size_t i = 0; i < n; i++) lf_part_free(&L.parts[i]);
  pthread_cond_destroy(&L.cv);
  pthread_mutex_destroy(&L.mu);
  free(L.parts);
  free(th);
  return first;
}

typedef struct last_msg {
  char *buf;
  size_t cap;
} last_msg;

/* Keeps the latest message: when the parse fails, that is its reason (row
** rejects are reported before it, through the sink). */
static void keep_msg(void *ctx, const char *msg) {
  last_msg *m = ctx;
  if (m->cap) snprintf(m->buf, m->cap, "%s", msg);
}

int ns_tsv_sniff(const char *path, int *kind, char *msg, size_t cap) {
  ns__tsv_src src = {path, path, NULL, 0, 64 * 1024, 1, 0};
  ns__tsv_sink none = {0};
  last_msg m = {msg, cap};
  ns_load_opts o = {0, keep_msg, &m, NULL};
  ns_load_stats st;
  int rc;
  if (cap) msg[0] = '\0';
  rc = ns__tsv_parse(&src, &none, &o, &st);
  *kind = rc == 0 ? st.kind : NS_FILE_UNKNOWN;
  return rc;
}

int ns_tsv_detect(const char *path, int *kind) { return ns_tsv_sniff(path, kind, NULL, 0); }

/* ---- TSV bodies (format.h) --------------------------------------------- */

int ns_tsv_parse_mem(const char *buf, size_t len, int kind, const ns_fmt_sink *sink, char *err,
                     size_t errcap) {
  ns__tsv_src src = {"body", NULL, buf, len, 64 * 1024, 0, kind};
  last_msg m = {err, errcap};
  ns_load_opts o = {0, keep_msg, &m, NULL};
  ns_load_stats st;
  int rc;
  if (errcap) err[0] = '\0';
  rc = ns__tsv_parse(&src, sink, &o, &st);
  if (rc == 0 && errcap) err[0] = '\0';
  return rc;
}
