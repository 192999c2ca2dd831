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
    ds->r_created_ms[i] = ts[i];
    ds->r_level[i] = lv[i];
    ds->r_tags[i] = 0;
    ds->r_source[i] = 0;
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
  ASSERT_EQ(ds->r_level[2], 2); /* createdAt 200 wins */
  ns_dataset_free(ds);
}
