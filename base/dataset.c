/*
** base/dataset.c -- names and tables for the shared enumerations, and the
** lifecycle and canonical ordering of ns_dataset / ns_scores.
*/
#include "dataset.h"

#include <stdlib.h>
#include <string.h>

/* ---- enumerations ------------------------------------------------------ */

#define NS_TAG_STR(t) #t,
const char *const ns_tag_names[NS_N_TAGS] = {NS_TAG_LIST(NS_TAG_STR)};
#undef NS_TAG_STR

/* Reference tie-break ranks (reference-algorithm.md §1.3): higher wins. */
const int ns_tag_rank[NS_N_TAGS] = {0, 8, 7, 3, 4, 2, 5, 6, 1,
                                    0, 8, 2, 4, 5, 12, 10, 7, 9, 11, 1, 3, 6};

int ns_tag_index(const char *s, size_t len) {
  for (int i = 0; i < NS_N_TAGS; i++)
    if (strlen(ns_tag_names[i]) == len && memcmp(ns_tag_names[i], s, len) == 0) return i;
  return -1;
}

static const char *const status_names[] = {
    "NEEDS_MORE_RATINGS", "CURRENTLY_RATED_HELPFUL", "CURRENTLY_RATED_NOT_HELPFUL",
    "FIRM_REJECT", "NEEDS_YOUR_HELP"};

const char *ns_status_name(int status) {
  if (status < 0 || status >= (int)NS_ARRAY_LEN(status_names)) return "";
  return status_names[status];
}

int ns_status_parse(const char *s, size_t len) {
  for (int i = 0; i < (int)NS_ARRAY_LEN(status_names); i++)
    if (strlen(status_names[i]) == len && memcmp(status_names[i], s, len) == 0) return i;
  return -1;
}

const char *const ns_enroll_names[9] = {
    "earnedIn", "atRisk", "earnedOutNoAcknowledge", "earnedOutAcknowledged", "newUser",
    "removed", "apiTestUser", "apiEarnedIn", "apiEarnedOut"};

int ns_enroll_parse(const char *s, size_t len) {
  for (int i = 0; i < 9; i++)
    if (strlen(ns_enroll_names[i]) == len && memcmp(ns_enroll_names[i], s, len) == 0) return i;
  return -1;
}

const char *ns_check_note_id(int64_t id) {
  return id > 0 ? NULL : "must be a positive integer";
}

const char *ns_check_created_ms(int64_t ms) {
  return ms >= 0 ? NULL : "must not be negative";
}

size_t ns_bom_len(const char *s, size_t n) {
  return n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
}

int ns_header_dup(const char *const *names, const size_t *lens, int n, int *first) {
  /* headers are short (<= 64 fields): quadratic is fine */
  for (int i = 1; i < n; i++) {
    if (lens[i] == 0) continue;
    for (int j = 0; j < i; j++)
      if (lens[j] == lens[i] && memcmp(names[j], names[i], lens[i]) == 0) {
        *first = j;
        return i;
      }
  }
  *first = -1;
  return -1;
}

/* ---- lifecycle --------------------------------------------------------- */

int ns_dataset_new(ns_dataset **out) {
  ns_dataset *ds = ns_calloc(1, sizeof *ds);
  int rc;
  *out = NULL;
  if (!ds) return NS_ENOMEM;
  if ((rc = ns_strtab_new(&ds->participants)) != 0) {
    free(ds);
    return rc;
  }
  *out = ds;
  return 0;
}

void ns_dataset_free(ns_dataset *ds) {
  if (!ds) return;
  ns_strtab_free(ds->participants);
  free(ds->note_id);
  free(ds->note_author);
  free(ds->note_created_ms);
  free(ds->note_tweet_id);
  free(ds->note_class);
  free(ds->note_text);
  free(ds->note_text_off);
  free(ds->note_text_len);
  free(ds->r_note_id);
  free(ds->r_rater);
  free(ds->r_meta);
  free(ds->r_time_lo);
  free(ds->r_time_hi);
  free(ds->history);
  free(ds->enrollment);
  free(ds->r_note_run_id);
  free(ds->r_note_run_off);
  free(ds->note_topic);
  free(ds);
}

/* Capacity is tracked implicitly: arrays are realloc'ed to exactly n. */
#define REALLOC_COL(ptr, n)                                                  \
  do {                                                                       \
    void *np_ = ns_realloc((ptr), ((n) ? (n) : 1) * sizeof *(ptr));             \
    if (!np_) return NS_ENOMEM;                                              \
    (ptr) = np_;                                                             \
  } while (0)

int ns_dataset_reserve_notes(ns_dataset *ds, size_t n) {
  if (ds->note_topic) return NS_EINVAL;  /* notes frozen with their topics */
  REALLOC_COL(ds->note_id, n);
  REALLOC_COL(ds->note_author, n);
  REALLOC_COL(ds->note_created_ms, n);
  REALLOC_COL(ds->note_tweet_id, n);
  REALLOC_COL(ds->note_class, n);
  REALLOC_COL(ds->note_text_off, n);
  REALLOC_COL(ds->note_text_len, n);
  /* rows gained have no summary until one is set */
  for (size_t i = ds->note_text_rows; i < n; i++) {
    ds->note_text_off[i] = 0;
    ds->note_text_len[i] = 0;
  }
  ds->note_text_rows = n;
  return 0;
}

int ns_dataset_set_note_text(ns_dataset *ds, size_t i, const char *s, size_t len) {
  if (i >= ds->note_text_rows) return NS_EINVAL;
  if (len > UINT32_MAX) return NS_ERANGE;
  if (len > ds->note_text_cap - ds->note_text_size) {
    size_t nc = ds->note_text_cap ? ds->note_text_cap : 1 << 16;
    char *p;
    while (nc - ds->note_text_size < len) nc *= 2;
    if (!(p = ns_realloc(ds->note_text, nc))) return NS_ENOMEM;
    ds->note_text = p;
    ds->note_text_cap = nc;
  }
  if (len) memcpy(ds->note_text + ds->note_text_size, s, len);
  ds->note_text_off[i] = ds->note_text_size;
  ds->note_text_len[i] = (uint32_t)len;
  ds->note_text_size += len;
  return 0;
}

int ns_dataset_reserve_ratings(ns_dataset *ds, size_t n) {
  if (ds->r_note_run_off) return NS_EINVAL;  /* packed: no column to grow */
  REALLOC_COL(ds->r_note_id, n);
  REALLOC_COL(ds->r_rater, n);
  REALLOC_COL(ds->r_meta, n);
  REALLOC_COL(ds->r_time_lo, n);
  if (ds->r_time_hi) {
    REALLOC_COL(ds->r_time_hi, n);
    /* rows gained are set later; 0 until then, as before the column */
    for (size_t i = ds->r_cap; i < n; i++) ds->r_time_hi[i] = 0;
  }
  ds->r_cap = n;
  return 0;
}

int ns_dataset_set_rating_meta(ns_dataset *ds, size_t i, int64_t created, unsigned level,
                               uint32_t tags, unsigned source) {
  uint64_t off = (uint64_t)created - (uint64_t)NS_R_TIME_BASE_MS;
  uint32_t hi = (uint32_t)(off >> NS_R_TIME_HI_SHIFT);
  if (i >= ds->r_cap) return NS_EINVAL;
  if (level > 3 || source > 1 || (tags & ~NS_R_TAGS_MASK)) return NS_ERANGE;
  if (hi && !ds->r_time_hi) {
    /* the first time outside 2020..2037: the rows before have hi bits 0 */
    if (!(ds->r_time_hi = ns_calloc(ds->r_cap, sizeof *ds->r_time_hi))) return NS_ENOMEM;
  }
  ds->r_meta[i] = ns_r_meta_make(level, tags, source) |
                  (uint32_t)((off >> 32) & 0x7fu) << NS_R_TIME_SHIFT;
  ds->r_time_lo[i] = (uint32_t)off;
  if (ds->r_time_hi) ds->r_time_hi[i] = hi;
  return 0;
}

int ns_dataset_settle_topics(ns_dataset *ds, int8_t *topic) {
  free(ds->note_topic);
  ds->note_topic = topic;
  free(ds->note_text);
  free(ds->note_text_off);
  free(ds->note_text_len);
  ds->note_text = NULL;
  ds->note_text_off = NULL;
  ds->note_text_len = NULL;
  ds->note_text_size = ds->note_text_cap = ds->note_text_rows = 0;
  return 0;
}

/* The noteId column's runs into ds->r_note_run_*, the column freed: row i
** of the result has noteId id[perm[i]] (perm NULL: id[i]), i < n, and
** those ids must not decrease (NS_EINVAL otherwise, ds unchanged). */
static int pack_runs(ns_dataset *ds, const int64_t *id, const uint32_t *perm, size_t n) {
  size_t nr = 0, w = 0;
  int64_t *rid;
  uint64_t *off;
#define ID_AT(i) id[perm ? perm[i] : (i)]
  for (size_t i = 0; i < n; i++) {
    if (i && ID_AT(i) < ID_AT(i - 1)) return NS_EINVAL;  /* not sorted by noteId */
    nr += i == 0 || ID_AT(i) != ID_AT(i - 1);
  }
  rid = ns_mallocn(nr, sizeof *rid);
  off = ns_mallocn(nr + 1, sizeof *off);
  if (!rid || !off) {
    free(rid);
    free(off);
    return NS_ENOMEM;
  }
  for (size_t i = 0; i < n; i++)
    if (i == 0 || ID_AT(i) != ID_AT(i - 1)) {
      rid[w] = ID_AT(i);
      off[w++] = i;
    }
#undef ID_AT
  off[nr] = n;
  free(ds->r_note_id);
  ds->r_note_id = NULL;
  ds->n_note_runs = nr;
  ds->r_note_run_id = rid;
  ds->r_note_run_off = off;
  return 0;
}

int ns_dataset_pack_note_ids(ns_dataset *ds) {
  if (ds->r_note_run_off) return 0;
  if (ds->n_ratings && !ds->r_note_id) return NS_EINVAL;
  return pack_runs(ds, ds->r_note_id, NULL, ds->n_ratings);
}

void ns_nsh_init(ns_nsh *h, int64_t note_id) {
  memset(h, 0, sizeof *h);
  h->note_id = note_id;
  h->author = -1;
  h->created_ms = NS_TS_NONE;
  h->ts_first_non_nmr = h->ts_current = h->ts_latest_non_nmr = NS_TS_NONE;
  h->ts_lock = h->ts_retro_lock = h->ts_most_recent_change = NS_TS_NONE;
  h->ts_nmr_due_to_stable_crh = h->ts_minute_final_output = NS_TS_NONE;
  h->ts_first_nmr_due_to_stable_crh = h->above_pcrh_threshold_time = NS_TS_NONE;
  h->first_non_nmr_status = h->current_status = h->most_recent_non_nmr_status = NS_STATUS_UNSET;
  h->locked_status = h->current_core_status = h->current_expansion_status = NS_STATUS_UNSET;
  h->current_group_status = h->current_multi_group_status = NS_STATUS_UNSET;
  h->current_modeling_group = NAN;
  h->current_modeling_multi_group = NAN;
}

void ns_scores_free(ns_scores *s) {
  if (!s) return;
  free(s->notes);
  free(s->raters);
  free(s->history);
  free(s);
}

/* ---- canonical ordering ------------------------------------------------ */

/* A sort key read in place from a column (or a field of an array of
** structs): key(i) = the 64-bit (w8) or 32-bit unsigned value at
** base + i * stride, XOR flip (1 << 63 turns int64 order into unsigned
** order).  Reading the column itself instead of a key array copied from it
** keeps normalize's scratch at the permutation and its buffer: 8 bytes per
** rating instead of 24 (docs/architecture.md, "Memory of a scoring run"). */
typedef struct sort_key {
  const char *base;
  size_t stride;
  int w8, bits;              /* 8-byte key?  significant bits (16..64) */
  uint64_t flip;
} sort_key;

static inline uint64_t key_at(const sort_key *k, uint32_t i) {
  const char *p = k->base + (size_t)i * k->stride;
  if (k->w8) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v ^ k->flip;
  }
  {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return (uint64_t)v ^ k->flip;
  }
}

/* The key of an int64 column (signed order), a uint32/int32 column
** (unsigned order) and an int64 / int32 field of an array of structs. */
#define KEY_I64(col) ((sort_key){(const char *)(col), sizeof(int64_t), 1, 64, 1ull << 63})
#define KEY_U32(col) ((sort_key){(const char *)(col), sizeof(uint32_t), 0, 32, 0})
#define KEY_FIELD_I64(arr, field) \
  ((sort_key){(const char *)&(arr)[0].field, sizeof *(arr), 1, 64, 1ull << 63})
#define KEY_FIELD_U32(arr, field) \
  ((sort_key){(const char *)&(arr)[0].field, sizeof *(arr), 0, 32, 0})

/* LSD radix sort of perm[0..n) by 16-bit digits of key(perm[i]).
** Stable, so equal keys keep their original relative order. */
static int radix_pass(uint32_t *perm, uint32_t *tmp, size_t n, const sort_key *key, int shift) {
  size_t *cnt = ns_calloc(65537, sizeof *cnt);
  if (!cnt) return NS_ENOMEM;
  for (size_t i = 0; i < n; i++) cnt[((key_at(key, perm[i]) >> shift) & 0xffff) + 1]++;
  for (size_t d = 0; d < 65536; d++) cnt[d + 1] += cnt[d];
  for (size_t i = 0; i < n; i++) tmp[cnt[(key_at(key, perm[i]) >> shift) & 0xffff]++] = perm[i];
  memcpy(perm, tmp, n * sizeof *perm);
  free(cnt);
  return 0;
}

/* Sort perm by (hi, lo) (lo may be NULL): stable, so equal keys keep
** their row order. */
static int sort_perm2(uint32_t *perm, size_t n, const sort_key *hi, const sort_key *lo) {
  uint32_t *tmp = ns_mallocn(n, sizeof *tmp);
  int rc = 0;
  if (!tmp) return NS_ENOMEM;
  for (size_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
  if (lo)
    for (int s = 0; s < lo->bits && !rc; s += 16) rc = radix_pass(perm, tmp, n, lo, s);
  for (int s = 0; s < hi->bits && !rc; s += 16) rc = radix_pass(perm, tmp, n, hi, s);
  free(tmp);
  return rc;
}

#define GATHER(col, perm, n)                                                 \
  do {                                                                       \
    __typeof__(col) g_ = ns_mallocn((n), sizeof *(col));           \
    if (!g_) { rc = NS_ENOMEM; goto out; }                                   \
    for (size_t i_ = 0; i_ < (n); i_++) g_[i_] = (col)[(perm)[i_]];          \
    free(col);                                                               \
    (col) = g_;                                                              \
  } while (0)

static int cmp_str_idx(const void *a, const void *b, void *arg) {
  const ns_strtab *t = arg;
  return strcmp(ns_strtab_str(t, *(const int32_t *)a), ns_strtab_str(t, *(const int32_t *)b));
}

/* qsort_r is a GNU extension; declare it for -std=c17. */
void qsort_r(void *base, size_t nmemb, size_t size,
             int (*compar)(const void *, const void *, void *), void *arg);

static int32_t remap(const int32_t *map, int32_t i) { return i < 0 ? -1 : map[i]; }

static int normalize(ns_dataset *ds, int pack) {
  int rc = 0;
  size_t np = ns_strtab_count(ds->participants);
  int32_t *order = NULL, *map = NULL;
  uint32_t *perm = NULL;
  ns_strtab *nt = NULL;
  size_t n, w;

  if (ds->n_ratings > UINT32_MAX || ds->n_notes > UINT32_MAX) return NS_ERANGE;
  if (ds->r_note_run_off) return NS_EINVAL;  /* packed: no noteIds to sort by */

  /* 1. Participants in sorted-string order (as the reference factorizes). */
  order = ns_mallocn(np, sizeof *order);
  map = ns_mallocn(np, sizeof *map);
  if (!order || !map) { rc = NS_ENOMEM; goto out; }
  for (size_t i = 0; i < np; i++) order[i] = (int32_t)i;
  qsort_r(order, np, sizeof *order, cmp_str_idx, ds->participants);
  if ((rc = ns_strtab_new(&nt)) != 0) goto out;
  for (size_t i = 0; i < np; i++) {
    const char *s = ns_strtab_str(ds->participants, order[i]);
    if ((rc = ns_strtab_intern(nt, s, strlen(s), &map[order[i]])) != 0) goto out;
  }
  for (size_t i = 0; i < ds->n_notes; i++) ds->note_author[i] = remap(map, ds->note_author[i]);
  for (size_t i = 0; i < ds->n_ratings; i++) ds->r_rater[i] = remap(map, ds->r_rater[i]);
  for (size_t i = 0; i < ds->n_history; i++) ds->history[i].author = remap(map, ds->history[i].author);
  for (size_t i = 0; i < ds->n_enrollment; i++)
    ds->enrollment[i].participant = remap(map, ds->enrollment[i].participant);
  ns_strtab_free(ds->participants);
  ds->participants = nt;
  nt = NULL;

  /* 2. Ratings by (noteId, rater); duplicates keep the latest createdAt. */
  n = ds->n_ratings;
  if (n) {
    sort_key hi = KEY_I64(ds->r_note_id), lo = KEY_U32(ds->r_rater);
    perm = ns_mallocn(n, sizeof *perm);
    if (!perm) { rc = NS_ENOMEM; goto out; }
    if ((rc = sort_perm2(perm, n, &hi, &lo)) != 0) goto out;
    /* dedupe in perm: among a run of equal keys keep the latest createdAt,
     * and among equal createdAt the last row (stable sort keeps row order) */
    w = 0;
    for (size_t i = 0; i < n; i++) {
      uint32_t r = perm[i];
      if (w > 0) {
        uint32_t q = perm[w - 1];
        if (ds->r_note_id[q] == ds->r_note_id[r] && ds->r_rater[q] == ds->r_rater[r]) {
          if (ns_r_created(ds, r) >= ns_r_created(ds, q)) perm[w - 1] = r;
          continue;
        }
      }
      perm[w++] = r;
    }
    ds->r_cap = w;  /* what every column holds from here (also after a failed GATHER) */
    if (pack) {
      /* the noteId column straight into its runs, never gathered: the
      ** step's peak is then the sort's (8 bytes per rating on the columns),
      ** not a gathered 8-byte copy */
      if ((rc = pack_runs(ds, ds->r_note_id, perm, w)) != 0) goto out;
    } else {
      GATHER(ds->r_note_id, perm, w);
    }
    GATHER(ds->r_rater, perm, w);
    GATHER(ds->r_meta, perm, w);
    GATHER(ds->r_time_lo, perm, w);
    if (ds->r_time_hi) GATHER(ds->r_time_hi, perm, w);
    ds->n_ratings = w;
    free(perm); perm = NULL;
  }

  /* 3. Notes by noteId; a duplicate noteId keeps the last row. */
  n = ds->n_notes;
  if (n) {
    sort_key key = KEY_I64(ds->note_id);
    perm = ns_mallocn(n, sizeof *perm);
    if (!perm) { rc = NS_ENOMEM; goto out; }
    if ((rc = sort_perm2(perm, n, &key, NULL)) != 0) goto out;
    w = 0;
    for (size_t i = 0; i < n; i++) {
      if (w > 0 && ds->note_id[perm[w - 1]] == ds->note_id[perm[i]]) {
        perm[w - 1] = perm[i];
        continue;
      }
      perm[w++] = perm[i];
    }
    GATHER(ds->note_id, perm, w);
    GATHER(ds->note_author, perm, w);
    GATHER(ds->note_created_ms, perm, w);
    GATHER(ds->note_tweet_id, perm, w);
    GATHER(ds->note_class, perm, w);
    if (ds->note_topic) GATHER(ds->note_topic, perm, w);
    /* the summaries stay in the arena; only their (offset, length) move */
    if (ds->note_text_rows >= n) {
      GATHER(ds->note_text_off, perm, w);
      GATHER(ds->note_text_len, perm, w);
      ds->note_text_rows = w;
    } else {
      ds->note_text_rows = 0; /* arrays never reserved: no summaries */
    }
    ds->n_notes = w;
    free(perm); perm = NULL;
  }

  /* 4. History by noteId, enrollment by participant; last row wins. */
  n = ds->n_history;
  if (n) {
    sort_key key = KEY_FIELD_I64(ds->history, note_id);
    perm = ns_mallocn(n, sizeof *perm);
    if (!perm) { rc = NS_ENOMEM; goto out; }
    if ((rc = sort_perm2(perm, n, &key, NULL)) != 0) goto out;
    w = 0;
    for (size_t i = 0; i < n; i++) {
      if (w > 0 && ds->history[perm[w - 1]].note_id == ds->history[perm[i]].note_id) {
        perm[w - 1] = perm[i];
        continue;
      }
      perm[w++] = perm[i];
    }
    GATHER(ds->history, perm, w);
    ds->n_history = w;
    free(perm); perm = NULL;
  }
  n = ds->n_enrollment;
  if (n) {
    sort_key key = KEY_FIELD_U32(ds->enrollment, participant);
    perm = ns_mallocn(n, sizeof *perm);
    if (!perm) { rc = NS_ENOMEM; goto out; }
    if ((rc = sort_perm2(perm, n, &key, NULL)) != 0) goto out;
    w = 0;
    for (size_t i = 0; i < n; i++) {
      if (w > 0 && ds->enrollment[perm[w - 1]].participant == ds->enrollment[perm[i]].participant) {
        perm[w - 1] = perm[i];
        continue;
      }
      perm[w++] = perm[i];
    }
    GATHER(ds->enrollment, perm, w);
    ds->n_enrollment = w;
  }

out:
  ns_strtab_free(nt);
  free(order);
  free(map);
  free(perm);
  return rc;
}

int ns_dataset_normalize(ns_dataset *ds) { return normalize(ds, 0); }

int ns_dataset_normalize_pack(ns_dataset *ds) {
  int rc;
  if (ds->r_note_run_off) return NS_EINVAL;
  if (ds->n_ratings == 0) {
    /* nothing to sort: the (empty) runs as ns_dataset_pack_note_ids has them */
    if ((rc = normalize(ds, 0)) != 0) return rc;
    return ns_dataset_pack_note_ids(ds);
  }
  return normalize(ds, 1);
}

void ns_note_score_init(ns_note_score *s, int64_t note_id) {
  memset(s, 0, sizeof *s);
  s->note_id = note_id;
  s->note_index = -1;
  s->created_ms = NS_TS_NONE;
  s->intercept = s->factor = s->intercept_r1 = s->factor_r1 = NAN;
  s->intercept_min = s->intercept_max = NAN;
  s->intercept_no_high_vol = s->intercept_no_correlated = NAN;
  s->core_status = s->final_status = s->provisional_status = NS_STATUS_UNSET;
  s->first_tag = s->second_tag = -1;
  s->low_diligence_intercept = NAN;
  for (int m = 0; m < NS_MODEL_COUNT; m++) {
    ns_model_score *ms = &s->model[m];
    ms->intercept = ms->factor = NAN;
    ms->intercept_no_high_vol = ms->intercept_no_correlated = NAN;
    ms->status = NS_STATUS_UNSET;
  }
  s->cwt_intercept_min = s->cwt_intercept_max = s->intercept_pop = NAN;
  s->modeling_group = s->modeling_multi_group = -1;
  s->topic = NS_TOPIC_NONE;
  s->topic_confident = -1;
}
