/*
** tests/test_base.c -- base/: errors, RNG, strtab, pool determinism,
** dataset normalization.
*/
#include "harness.h"

#include <errno.h>

#include "../base/dataset.h"

TEST(base_errors) {
  ASSERT_STREQ(ns_strerror(NS_EPARSE), "malformed input");
  ASSERT_STREQ(ns_err_name(NS_ECOLUMN), "NS_ECOLUMN");
  ASSERT_STREQ(ns_err_name(-ENOENT), "ENOENT");
  ASSERT_STREQ(ns_strerror(0), "success");
}

TEST(base_rng_deterministic) {
  ns_rng a, b;
  ns_rng_seed(&a, 42);
  ns_rng_seed(&b, 42);
  for (int i = 0; i < 1000; i++) ASSERT_EQ(ns_rng_u64(&a), ns_rng_u64(&b));
  /* pinned value: the stream must not change between versions */
  ns_rng_seed(&a, 1);
  uint64_t x = ns_rng_u64(&a);
  ns_rng_seed(&b, 1);
  ASSERT_EQ(x, ns_rng_u64(&b));
  double s = 0;
  for (int i = 0; i < 100000; i++) s += ns_rng_uniform(&a);
  ASSERT_NEAR(s / 100000, 0.5, 0.01);
  for (int i = 0; i < 1000; i++) ASSERT(ns_rng_below(&a, 7) < 7);
}

TEST(base_strtab) {
  ns_strtab *t;
  int32_t id;
  char buf[32];
  ASSERT_OK(ns_strtab_new(&t));
  for (int i = 0; i < 100000; i++) {
    int n = snprintf(buf, sizeof buf, "p%08x", i * 2654435761u);
    ASSERT_OK(ns_strtab_intern(t, buf, (size_t)n, &id));
    ASSERT_EQ(id, i);
  }
  ASSERT_OK(ns_strtab_intern(t, "p00000000", 9, &id));
  ASSERT_EQ(id, 0);
  ASSERT_EQ(ns_strtab_find(t, "nope", 4), -1);
  ASSERT_EQ(ns_strtab_count(t), 100000);
  snprintf(buf, sizeof buf, "p%08x", 5 * 2654435761u);
  ASSERT_STREQ(ns_strtab_str(t, 5), buf);
  ns_strtab_free(t);
}

/* The bulk path (hash, prefetch, intern_hashed) gives the same indexes as
** ns_strtab_intern; lengths are exact (prefixes, embedded NUL bytes, ids
** across 16-byte hash blocks and arena blocks). */
TEST(base_strtab_hashed) {
  ns_strtab *t;
  int32_t id;
  char buf[80];
  size_t nbig = (3u << 20) / 2;
  char *big = malloc(nbig);
  ASSERT(big != NULL);
  ASSERT_OK(ns_strtab_new(&t));
  for (int i = 0; i < 20000; i++) {
    /* 64-hex-char ids like the public data, plus all their 15/16/17-byte prefixes */
    int n = snprintf(buf, sizeof buf, "%016llX%016llX%016llX%016llX",
                     (unsigned long long)i * 0x9E3779B97F4A7C15ull, (unsigned long long)i,
                     (unsigned long long)~(uint64_t)i, 7ull * (unsigned long long)i);
    uint64_t h = ns_strtab_hash(buf, (size_t)n);
    ns_strtab_prefetch(t, h, 0);
    ns_strtab_prefetch(t, h, 1);
    ASSERT_OK(ns_strtab_intern_hashed(t, buf, (size_t)n, h, &id));
    ASSERT_EQ(id, i);
  }
  ASSERT_EQ(ns_strtab_count(t), 20000);
  snprintf(buf, sizeof buf, "%016llX%016llX%016llX%016llX", 3 * 0x9E3779B97F4A7C15ull, 3ull,
           (unsigned long long)~(uint64_t)3, 21ull);
  ASSERT_OK(ns_strtab_intern(t, buf, 64, &id));
  ASSERT_EQ(id, 3);
  ASSERT_EQ(ns_strtab_find(t, buf, 63), -1); /* a prefix is another string */
  ASSERT_OK(ns_strtab_intern(t, buf, 63, &id));
  ASSERT_EQ(id, 20000);
  ASSERT_OK(ns_strtab_intern(t, "a\0b", 3, &id)); /* embedded NUL: length decides */
  ASSERT_EQ(id, 20001);
  ASSERT_OK(ns_strtab_intern(t, "a", 1, &id));
  ASSERT_EQ(id, 20002);
  ASSERT_EQ(ns_strtab_find(t, "a\0b", 3), 20001);
  ASSERT_EQ(ns_strtab_find(t, "", 0), -1);
  ASSERT_OK(ns_strtab_intern(t, "", 0, &id));
  ASSERT_EQ(ns_strtab_find(t, "", 0), id);
  memset(big, 'x', nbig); /* longer than an arena block: gets a block of its own */
  ASSERT_OK(ns_strtab_intern(t, big, nbig, &id));
  ASSERT_EQ(ns_strtab_find(t, big, nbig), id);
  ASSERT_EQ(strlen(ns_strtab_str(t, id)), nbig);
  ASSERT_OK(ns_strtab_intern(t, "after", 5, &id)); /* and the arena goes on */
  ASSERT_STREQ(ns_strtab_str(t, id), "after");
  free(big);
  ASSERT_EQ(ns_strtab_hash("abc", 3), ns_strtab_hash("abc", 3));
  ASSERT(ns_strtab_hash("abc", 3) != ns_strtab_hash("abd", 3));
  ns_strtab_free(t);
}

typedef struct { const double *x; double *partial; } sum_ctx;
static void sum_chunk(void *ctx, size_t c, size_t b, size_t e) {
  sum_ctx *s = ctx;
  double acc = 0;
  for (size_t i = b; i < e; i++) acc += s->x[i];
  s->partial[c] = acc;
}

TEST(base_pool_deterministic_sum) {
  size_t n = 1000003;
  double *x = malloc(n * sizeof *x), sums[3];
  ns_rng r;
  ns_rng_seed(&r, 7);
  for (size_t i = 0; i < n; i++) x[i] = ns_rng_normal(&r) * 1e6;
  for (int t = 1; t <= 3; t++) {
    ns_pool *p;
    size_t nc = ns_pool_nchunks(n, 1000);
    double *part = calloc(nc, sizeof *part), tot = 0;
    sum_ctx ctx = {x, part};
    ASSERT_OK(ns_pool_new(t, &p));
    ns_pool_for(p, n, 1000, sum_chunk, &ctx);
    for (size_t c = 0; c < nc; c++) tot += part[c];
    sums[t - 1] = tot;
    ns_pool_free(p);
    free(part);
  }
  ASSERT(memcmp(&sums[0], &sums[1], sizeof(double)) == 0);
  ASSERT(memcmp(&sums[0], &sums[2], sizeof(double)) == 0);
  free(x);
}

TEST(base_dataset_normalize) {
  ns_dataset *ds;
  int32_t a, b;
  ASSERT_OK(ns_dataset_new(&ds));
  ASSERT_OK(ns_strtab_intern(ds->participants, "zz", 2, &a));
  ASSERT_OK(ns_strtab_intern(ds->participants, "aa", 2, &b));
  ASSERT_OK(ns_dataset_reserve_ratings(ds, 4));
  /* (note 5, zz) twice: the later createdAt wins; (note -3, aa); (note 5, aa) */
  int64_t nid[4] = {5, -3, 5, 5}, ts[4] = {100, 50, 200, 10};
  int32_t rr[4] = {a, b, a, b};
  uint8_t lv[4] = {0, 1, 2, 1};
  for (int i = 0; i < 4; i++) {
    ds->r_note_id[i] = nid[i];
    ds->r_rater[i] = rr[i];
    ASSERT_OK(ns_dataset_set_rating_meta(ds, (size_t)i, ts[i], lv[i], 0, 0));
  }
  ds->n_ratings = 4;
  ASSERT_OK(ns_dataset_normalize(ds));
  ASSERT_EQ(ds->n_ratings, 3);
  ASSERT_STREQ(ns_strtab_str(ds->participants, 0), "aa");
  ASSERT_EQ(ds->r_note_id[0], -3);
  ASSERT_EQ(ds->r_note_id[1], 5);
  ASSERT_EQ(ds->r_rater[1], 0); /* aa */
  ASSERT_EQ(ds->r_note_id[2], 5);
  ASSERT_EQ(ds->r_rater[2], 1); /* zz */
  ASSERT_EQ(ns_r_level(ds, 2), 2); /* createdAt 200 wins */
  ASSERT_EQ(ns_r_created(ds, 2), 200);
  ASSERT_EQ(ns_r_created(ds, 0), 50);
  ASSERT_EQ(ns_r_level(ds, 0), 1);
  ns_dataset_free(ds);
}

/* ---- the packed rating columns (r_meta, r_time_lo, r_time_hi) ---------- */

#define B NS_R_TIME_BASE_MS
#define TWO39 (1LL << 39)
/* Times around every edge of the packed range, and the ends of int64. */
static const int64_t edge_times[] = {
    0, 1, 1000, B - 1, B, B + 1, B + 0xffffffffLL, B + 0x100000000LL, B + TWO39 - 1, B + TWO39,
    B + TWO39 + 1, 1700000000000LL, INT64_MAX, INT64_MAX - 1, -1, INT64_MIN, INT64_MIN + 1};
#define N_EDGE_TIMES (sizeof edge_times / sizeof edge_times[0])

TEST(base_dataset_rating_meta_roundtrip) {
  ns_dataset *ds;
  size_t n = 4 * 2 * N_EDGE_TIMES + 3 * (NS_N_TAGS + 1), i = 0;
  ASSERT_OK(ns_dataset_new(&ds));
  ASSERT_OK(ns_dataset_reserve_ratings(ds, n));
  /* In range only: no hi column. */
  ASSERT_OK(ns_dataset_set_rating_meta(ds, 0, B, 2, 1, 1));
  ASSERT_OK(ns_dataset_set_rating_meta(ds, 1, B + TWO39 - 1, 0, NS_R_TAGS_MASK, 0));
  ASSERT(ds->r_time_hi == NULL);
  ASSERT_EQ(ns_r_created(ds, 0), B);
  ASSERT_EQ(ns_r_created(ds, 1), B + TWO39 - 1);
  /* every time with every level and source, tags varying */
  for (size_t t = 0; t < N_EDGE_TIMES; t++)
    for (unsigned lv = 0; lv < 4; lv++)
      for (unsigned src = 0; src < 2; src++, i++) {
        uint32_t tags = (uint32_t)(i * 2654435761u) & NS_R_TAGS_MASK;
        ASSERT_OK(ns_dataset_set_rating_meta(ds, i, edge_times[t], lv, tags, src));
      }
  /* every single tag, none and all, with each level 0..2 */
  for (int tg = -1; tg < NS_N_TAGS; tg++)
    for (unsigned lv = 0; lv < 3; lv++, i++)
      ASSERT_OK(ns_dataset_set_rating_meta(ds, i, B + tg, lv,
                                           tg < 0 ? NS_R_TAGS_MASK : NS_TAG_BIT(tg), lv & 1));
  ASSERT_EQ(i, n);
  ds->n_ratings = n;
  ASSERT(ds->r_time_hi != NULL); /* 0, 1000, ... needed it */
  i = 0;
  for (size_t t = 0; t < N_EDGE_TIMES; t++)
    for (unsigned lv = 0; lv < 4; lv++)
      for (unsigned src = 0; src < 2; src++, i++) {
        ASSERT_EQ(ns_r_created(ds, i), edge_times[t]);
        ASSERT_EQ(ns_r_level(ds, i), lv);
        ASSERT_EQ(ns_r_source(ds, i), src);
        ASSERT_EQ(ns_r_tags(ds, i), (uint32_t)(i * 2654435761u) & NS_R_TAGS_MASK);
      }
  for (int tg = -1; tg < NS_N_TAGS; tg++)
    for (unsigned lv = 0; lv < 3; lv++, i++) {
      ASSERT_EQ(ns_r_created(ds, i), B + tg);
      ASSERT_EQ(ns_r_tags(ds, i), tg < 0 ? NS_R_TAGS_MASK : NS_TAG_BIT(tg));
      ASSERT_EQ(ns_r_level(ds, i), lv);
      ASSERT_EQ(ns_r_source(ds, i), lv & 1);
    }
  /* out of range: nothing written */
  ASSERT_EQ(ns_dataset_set_rating_meta(ds, 0, B, 4, 0, 0), NS_ERANGE);
  ASSERT_EQ(ns_dataset_set_rating_meta(ds, 0, B, 0, 0, 2), NS_ERANGE);
  ASSERT_EQ(ns_dataset_set_rating_meta(ds, 0, B, 0, NS_R_TAGS_MASK + 1, 0), NS_ERANGE);
  ASSERT_EQ(ns_dataset_set_rating_meta(ds, n, B, 0, 0, 0), NS_EINVAL);
  ASSERT_EQ(ns_r_created(ds, 0), 0);
  ASSERT_EQ(ns_r_level(ds, 0), 0);
  ns_dataset_free(ds);
}

/* The hi column appears mid-way: earlier rows keep their times, rows
** gained by a later reserve start at 0, and normalize gathers all three
** columns with the rows (duplicates resolved on the full times). */
TEST(base_dataset_rating_meta_normalize) {
  ns_dataset *ds;
  int32_t a, b;
  ASSERT_OK(ns_dataset_new(&ds));
  ASSERT_OK(ns_strtab_intern(ds->participants, "b", 1, &b));
  ASSERT_OK(ns_strtab_intern(ds->participants, "a", 1, &a));
  ASSERT_OK(ns_dataset_reserve_ratings(ds, 2));
  /* rows: (note, rater, time, level, tags, source) */
  struct { int64_t note; int32_t rater; int64_t t; unsigned lv; uint32_t tags; unsigned src; } row[] = {
      {9, b, B + 5, 2, NS_TAG_BIT(3), 1},            /* dropped: (9, b) again later, newer */
      {9, a, B + TWO39 - 1, 1, NS_TAG_BIT(21), 0},
      {9, b, INT64_MAX, 0, NS_TAG_BIT(9) | NS_TAG_BIT(10), 0},  /* first hi time */
      {2, b, 1000, 2, 0, 1},
      {2, a, B - 1, 1, NS_R_TAGS_MASK, 1},
      {9, b, B + 6, 1, 0, 1},                        /* older than INT64_MAX: dropped */
      {2, b, 0, 0, NS_TAG_BIT(0), 0},                /* older than 1000: dropped */
  };
  size_t nr = sizeof row / sizeof row[0];
  for (size_t i = 0; i < nr; i++) {
    if (i >= ds->r_cap) ASSERT_OK(ns_dataset_reserve_ratings(ds, 2 * ds->r_cap));
    ds->r_note_id[i] = row[i].note;
    ds->r_rater[i] = row[i].rater;
    ASSERT_OK(ns_dataset_set_rating_meta(ds, i, row[i].t, row[i].lv, row[i].tags, row[i].src));
    ds->n_ratings = i + 1;
    if (i < 2) ASSERT(ds->r_time_hi == NULL);
  }
  ASSERT(ds->r_time_hi != NULL);
  ASSERT_EQ(ns_r_created(ds, 0), B + 5);
  ASSERT_EQ(ns_r_created(ds, 1), B + TWO39 - 1);
  ASSERT_OK(ns_dataset_reserve_ratings(ds, 64));
  for (size_t i = nr; i < 64; i++) ASSERT_EQ(ds->r_time_hi[i], 0);
  ASSERT_OK(ns_dataset_normalize(ds));
  /* sorted by (note, rater string): (2,a) (2,b) (9,a) (9,b) */
  ASSERT_EQ(ds->n_ratings, 4);
  ASSERT_EQ(ds->r_cap, 4);
  int64_t want_t[4] = {B - 1, 1000, B + TWO39 - 1, INT64_MAX};
  unsigned want_lv[4] = {1, 2, 1, 0}, want_src[4] = {1, 1, 0, 0};
  uint32_t want_tags[4] = {NS_R_TAGS_MASK, 0, NS_TAG_BIT(21), NS_TAG_BIT(9) | NS_TAG_BIT(10)};
  int64_t want_note[4] = {2, 2, 9, 9};
  for (size_t i = 0; i < 4; i++) {
    ASSERT_EQ(ds->r_note_id[i], want_note[i]);
    ASSERT_STREQ(ns_strtab_str(ds->participants, ds->r_rater[i]), i % 2 ? "b" : "a");
    ASSERT_EQ(ns_r_created(ds, i), want_t[i]);
    ASSERT_EQ(ns_r_level(ds, i), want_lv[i]);
    ASSERT_EQ(ns_r_tags(ds, i), want_tags[i]);
    ASSERT_EQ(ns_r_source(ds, i), want_src[i]);
  }
  ns_dataset_free(ds);
}
#undef B
#undef TWO39

/* Codes in order of first appearance, the same code for a key seen again,
** -1 for a new key once cap codes are given (an old key still has its). */
TEST(base_keycodes) {
  ns_keycodes *k = malloc(sizeof *k);
  ASSERT(k != NULL);
  ns_keycodes_init(k, 3);
  ASSERT_EQ(ns_keycodes_get(k, 42), 0);
  ASSERT_EQ(ns_keycodes_get(k, UINT64_MAX), 1);
  ASSERT_EQ(ns_keycodes_get(k, 42), 0);
  ASSERT_EQ(ns_keycodes_get(k, 0), 2);
  ASSERT_EQ(ns_keycodes_get(k, 7), -1);
  ASSERT_EQ(ns_keycodes_get(k, UINT64_MAX), 1);
  ASSERT_EQ(k->n, 3u);
  ns_keycodes_init(k, NS_KEYCODES_MAX + 10);  /* capped */
  for (uint64_t i = 0; i < NS_KEYCODES_MAX; i++) ASSERT_EQ(ns_keycodes_get(k, i << 32), (int)i);
  ASSERT_EQ(ns_keycodes_get(k, 1), -1);
  ASSERT_EQ(ns_keycodes_get(k, (uint64_t)17 << 32), 17);
  free(k);
}
