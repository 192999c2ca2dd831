/*
** engine/params.c -- ns_params as the JSON text stored with every run
** (runs.params), read back by the dashboards, and the trust seeds file.
**
** One table lists every field of ns_params with its JSON key, so writing
** and reading cannot drift apart, and a field added to ns_params without a
** row here is caught by the test that round-trips every field
** (tests/test_pipeline.c params_json_*).
**
** The JSON is written by hand rather than through jansson's dumper: jansson
** prints doubles with 17 significant digits (0.4 -> 0.40000000000000002),
** which is exact but unreadable in a dashboard; here each double gets the
** fewest digits that read back to the same bits.  Reading uses jansson.
**
** Who calls it: engine/score_db.c (run params), dash/ (thresholds of the
** run shown), tools/cmd_score.c (--seeds).  Threads: any.
*/
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pipeline.h"

enum ftype { F_I64, F_U64, F_INT, F_DBL, F_SEEDS };

typedef struct field {
  const char *key;      /* camelCase key written and read */
  const char *old_key;  /* snake_case key of runs before 0.2 (NULL: none) */
  int type;
  size_t off;
} field;

#define F(key, old, type, member) {key, old, type, offsetof(ns_params, member)}
/* In struct order; "owned" is bookkeeping, not a parameter. */
static const field fields[] = {
    F("nowMs", "now_ms", F_I64, now_ms),
    F("seed", "seed", F_U64, seed),
    F("k", "k", F_INT, k),
    F("minRatingsNote", NULL, F_INT, min_ratings_note),
    F("minRatingsRater", NULL, F_INT, min_ratings_rater),
    F("crhThreshold", NULL, F_DBL, crh_threshold),
    F("crnhThreshold", NULL, F_DBL, crnh_threshold),
    F("crnhFactorMult", NULL, F_DBL, crnh_factor_mult),
    F("nmCrnhThreshold", NULL, F_DBL, nm_crnh_threshold),
    F("factorThreshold", NULL, F_DBL, factor_threshold),
    F("inertiaDelta", NULL, F_DBL, inertia_delta),
    F("minAgreeRatio", NULL, F_DBL, min_agree_ratio),
    F("minMeanNoteScore", NULL, F_DBL, min_mean_note_score),
    F("minCrhVsCrnh", NULL, F_DBL, min_crh_vs_crnh),
    F("firmRejectThreshold", NULL, F_DBL, firm_reject_threshold),
    F("minMinorityNetHelpful", NULL, F_INT, min_minority_net_helpful),
    F("minMinorityNetRatio", NULL, F_DBL, min_minority_net_ratio),
    F("trust", "trust", F_INT, trust),
    F("pseudoraters", NULL, F_INT, pseudoraters),
    F("guardrails", NULL, F_INT, guardrails),
    F("tagShareTest", "tag_share_test", F_INT, tag_share_test),
    F("profile", NULL, F_INT, profile),  /* NS_PROFILE_*: 0 notescore, 1 reference */
    F("seeds", NULL, F_SEEDS, seeds),
    F("trustAlpha", NULL, F_DBL, trust_alpha),
    F("threads", NULL, F_INT, threads),
    F("progress", NULL, F_INT, progress),
};
#undef F

/* ---- writing ------------------------------------------------------------ */

static void put_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (*c == '"' || *c == '\\') fprintf(f, "\\%c", *c);
    else if (*c < 0x20) fprintf(f, "\\u%04x", *c);
    else fputc(*c, f);
  }
  fputc('"', f);
}

/* The shortest %.Ng that strtod reads back to v; null for NaN/inf (JSON
** has neither). */
static void put_dbl(FILE *f, double v) {
  char buf[40];
  if (!isfinite(v)) {
    fputs("null", f);
    return;
  }
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) break;
  }
  fputs(buf, f);
}

char *ns_params_to_json(const ns_params *p, const char *source, const char *db) {
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  if (!f) return NULL;
  fputs("{\"version\":", f);
  put_str(f, NS_VERSION);
#ifdef NS_GIT_COMMIT
  fputs(",\"commit\":", f); /* -DNS_GIT_COMMIT='"abc123"' when the build knows it */
  put_str(f, NS_GIT_COMMIT);
#endif
  if (source) {
    fputs(",\"source\":", f);
    put_str(f, source);
  }
  if (db) {
    fputs(",\"db\":", f);
    put_str(f, db);
  }
  for (size_t i = 0; i < NS_ARRAY_LEN(fields); i++) {
    const void *m = (const char *)p + fields[i].off;
    fprintf(f, ",\"%s\":", fields[i].key);
    switch (fields[i].type) {
    case F_I64: fprintf(f, "%" PRId64, *(const int64_t *)m); break;
    case F_U64:
      /* past 2^63 jansson cannot read the number back: text then */
      if (*(const uint64_t *)m > (uint64_t)INT64_MAX) fprintf(f, "\"%" PRIu64 "\"", *(const uint64_t *)m);
      else fprintf(f, "%" PRIu64, *(const uint64_t *)m);
      break;
    case F_INT: fprintf(f, "%d", *(const int *)m); break;
    case F_DBL: put_dbl(f, *(const double *)m); break;
    case F_SEEDS:
      if (!p->seeds) {
        fputs("null", f);
        break;
      }
      fputc('[', f);
      for (size_t j = 0; j < p->n_seeds; j++) {
        if (j) fputc(',', f);
        put_str(f, p->seeds[j]);
      }
      fputc(']', f);
      break;
    }
  }
  fputc('}', f);
  if (ferror(f)) {
    fclose(f);
    free(out);
    return NULL;
  }
  if (fclose(f) != 0) {
    free(out);
    return NULL;
  }
  return out;
}

/* ---- the seed list ---------------------------------------------------- */

/* The list lives in one block: n pointers, then the NUL-terminated ids. */
static int seeds_set(ns_params *p, const char *const *ids, const size_t *lens, size_t n) {
  size_t bytes = n * sizeof(char *);
  char **list;
  char *at;
  for (size_t i = 0; i < n; i++) bytes += lens[i] + 1;
  ns_params_release(p);
  if (!(list = ns_malloc(bytes))) return NS_ENOMEM;
  at = (char *)(list + n);
  for (size_t i = 0; i < n; i++) {
    memcpy(at, ids[i], lens[i]);
    at[lens[i]] = '\0';
    list[i] = at;
    at += lens[i] + 1;
  }
  p->owned = list;
  p->seeds = (const char *const *)list;
  p->n_seeds = n;
  return 0;
}

void ns_params_release(ns_params *p) {
  if (!p) return;
  if (p->owned && (void *)p->seeds == p->owned) {
    p->seeds = NULL;
    p->n_seeds = 0;
  }
  free(p->owned);
  p->owned = NULL;
}

#define SAY(...) do { if (msg && msg_len) snprintf(msg, msg_len, __VA_ARGS__); } while (0)

int ns_params_load_seeds(ns_params *p, const char *path, char *msg, size_t msg_len) {
  FILE *f = fopen(path, "r");
  char *line = NULL, *text = NULL;
  size_t cap = 0, n = 0, ncap = 0, tlen = 0, tcap = 0;
  size_t *off = NULL, *lens = NULL;
  const char **ids = NULL;
  ssize_t got;
  long lineno = 0;
  int rc = 0;
  if (msg && msg_len) msg[0] = '\0';
  if (!f) {
    rc = -errno;
    SAY("%s: cannot open seed file: %s", path, ns_strerror(rc));
    return rc;
  }
  while ((got = getline(&line, &cap, f)) != -1) {
    size_t len = (size_t)got;
    lineno++;
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' ||
                   line[len - 1] == '\t'))
      len--;
    if (len == 0 || line[0] == '#') continue;
    if (len > NS_SEED_ID_MAX) {
      SAY("%s:%ld: a participant id of %zu bytes (at most %d)", path, lineno, len,
          NS_SEED_ID_MAX);
      rc = NS_EPARSE;
      goto out;
    }
    for (size_t i = 0; i < len; i++) {
      unsigned char c = (unsigned char)line[i];
      if (c == ' ' || c == '\t' || c < 0x20 || c == 0x7f) {
        SAY("%s:%ld: %s", path, lineno,
            c == ' ' || c == '\t' ? "a space inside the participant id (one id a line)"
                                  : "a control character in the participant id");
        rc = NS_EPARSE;
        goto out;
      }
    }
    if (n == ncap) {
      size_t nc = ncap ? ncap * 2 : 64;
      size_t *no = realloc(off, nc * sizeof *no), *nl;
      if (!no) { rc = NS_ENOMEM; goto out; }
      off = no;
      if (!(nl = realloc(lens, nc * sizeof *nl))) { rc = NS_ENOMEM; goto out; }
      lens = nl;
      ncap = nc;
    }
    if (tlen + len > tcap) {
      size_t tc = tcap ? tcap : 4096;
      char *nt;
      while (tc < tlen + len) tc *= 2;
      if (!(nt = realloc(text, tc))) { rc = NS_ENOMEM; goto out; }
      text = nt;
      tcap = tc;
    }
    memcpy(text + tlen, line, len);
    off[n] = tlen;
    lens[n++] = len;
    tlen += len;
  }
  if (ferror(f)) {
    rc = NS_EIO;
    SAY("%s: cannot read seed file: %s", path, ns_strerror(rc));
    goto out;
  }
  if (!(ids = ns_mallocn(n, sizeof *ids))) { rc = NS_ENOMEM; goto out; }
  for (size_t i = 0; i < n; i++) ids[i] = text + off[i];
  rc = seeds_set(p, ids, lens, n);
out:
  if (rc == NS_ENOMEM) SAY("%s: %s", path, ns_strerror(rc));
  fclose(f);
  free(line);
  free(text);
  free(off);
  free(lens);
  free(ids);
  return rc;
}

/* ---- reading ------------------------------------------------------------ */

static int bad(char *msg, size_t n, const char *key, const char *want) {
  if (msg && n) snprintf(msg, n, "run params: \"%s\": expected %s", key, want);
  return NS_EPARSE;
}

static int read_field(const field *fd, const char *key, json_t *v, ns_params *p, char *msg,
                      size_t n) {
  void *m = (char *)p + fd->off;
  switch (fd->type) {
  case F_I64:
    if (!json_is_integer(v)) return bad(msg, n, key, "an integer");
    *(int64_t *)m = (int64_t)json_integer_value(v);
    return 0;
  case F_U64:
    /* a seed past 2^63 does not fit jansson's integer: accept it as text */
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
      *(uint64_t *)m = (uint64_t)json_integer_value(v);
      return 0;
    }
    if (json_is_string(v)) {
      const char *s = json_string_value(v);
      char *end;
      errno = 0;
      unsigned long long u = strtoull(s, &end, 10);
      if (*s && *s != '-' && !*end && !errno) {
        *(uint64_t *)m = (uint64_t)u;
        return 0;
      }
    }
    return bad(msg, n, key, "a non-negative integer");
  case F_INT: {
    json_int_t x;
    if (!json_is_integer(v)) return bad(msg, n, key, "an integer");
    x = json_integer_value(v);
    if (x < -2147483647 - 1 || x > 2147483647) return bad(msg, n, key, "an int");
    *(int *)m = (int)x;
    return 0;
  }
  case F_DBL:
    if (json_is_null(v)) *(double *)m = NAN;
    else if (json_is_number(v)) *(double *)m = json_number_value(v);
    else return bad(msg, n, key, "a number or null");
    return 0;
  case F_SEEDS: {
    size_t cnt;
    const char **ids;
    size_t *lens;
    int rc;
    if (json_is_null(v)) {
      ns_params_release(p);
      p->seeds = NULL;
      p->n_seeds = 0;
      return 0;
    }
    if (!json_is_array(v)) return bad(msg, n, key, "null or an array of participant ids");
    cnt = json_array_size(v);
    ids = ns_mallocn(cnt, sizeof *ids);
    lens = ns_mallocn(cnt, sizeof *lens);
    if (!ids || !lens) {
      free(ids);
      free(lens);
      return NS_ENOMEM;
    }
    for (size_t i = 0; i < cnt; i++) {
      json_t *e = json_array_get(v, i);
      if (!json_is_string(e)) {
        free(ids);
        free(lens);
        return bad(msg, n, key, "null or an array of participant ids");
      }
      ids[i] = json_string_value(e);
      lens[i] = json_string_length(e);
    }
    rc = seeds_set(p, ids, lens, cnt);
    free(ids);
    free(lens);
    return rc;
  }
  }
  return NS_EINVAL;
}

int ns_params_from_json(const char *json, ns_params *p, char *msg, size_t msg_len) {
  json_error_t err;
  json_t *o;
  int rc = 0;
  ns_params_default(p);
  if (msg && msg_len) msg[0] = '\0';
  if (!json) return 0; /* a run row without params: everything default */
  o = json_loads(json, JSON_REJECT_DUPLICATES, &err);
  if (!o || !json_is_object(o)) {
    if (msg && msg_len)
      snprintf(msg, msg_len, "run params: %s", o ? "not a JSON object" : err.text);
    json_decref(o);
    return NS_EPARSE;
  }
  for (size_t i = 0; i < NS_ARRAY_LEN(fields) && rc == 0; i++) {
    const field *fd = &fields[i];
    json_t *v = json_object_get(o, fd->key);
    const char *key = fd->key;
    if (!v && fd->old_key) {
      v = json_object_get(o, fd->old_key);
      key = fd->old_key;
    }
    if (v) rc = read_field(fd, key, v, p, msg, msg_len);
  }
  json_decref(o);
  if (rc) ns_params_release(p);
  return rc;
}
