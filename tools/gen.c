/*
** tools/gen.c -- synthetic Community Notes data with ground truth.
**
** Called by tools/cmd_gen.c and the tests (ns_gen_run).  Single-threaded.
**
** The order of work:
**   1. draw raters (camp, position, leniency, activity weight) and notes
**      (creation time, quality, slant, popularity weight, tag tendencies);
**   2. split the honest rating budget into per-note and per-rater counts
**      (heavy-tailed both ways, every note >= 5 when the budget allows,
**      every rater >= 1), lay the rater "stubs" out in a shuffled array and
**      cut it into per-note segments -- a configuration model, so both
**      degree sequences are met exactly;  duplicates inside a segment are
**      swapped with later stubs (or dropped when no swap is possible);
**   3. stream the ratings: notes in order, then the ring's farm and attack
**      ratings;  only counters survive a rating;
**   4. write the status history, enrollment and truth files.
**
** Every random choice comes from its own ns_rng stream (raters, notes,
** assignment, rating values, ring, ...), so e.g. adding a ring does not
** change a single honest rating: attack and no-attack runs with the same
** seed differ only in the planted part.
**
** Output is formatted by hand into a 1 MiB buffer: the ratings file is the
** bulk (about 190 bytes a row) and printf would be the bottleneck.
*/
#include "gen.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/base.h"
#include "../base/dataset.h"

/* ---- model constants (docs/gen.md explains each) ------------------------ */

#define HOUR_MS 3600000.0
#define DAY_MS (24 * HOUR_MS)
#define GAMMA 1.0           /* weight of viewpoint x slant in the utility */
#define NOISE_SD 0.5        /* per-rating noise */
#define CUT_NH 0.0          /* utility below: NOT_HELPFUL */
#define CUT_H 0.6           /* utility at or above: HELPFUL */
#define CAMP_SD 0.3         /* spread of positions around +-1 */
#define NEUTRAL_SD 0.25     /* spread of the neutral group around 0 */
#define LENIENCY_SD 0.35
#define RATER_ACT_SIGMA 1.1 /* lognormal sigma of rater activity */
#define NOTE_POP_SIGMA 0.9  /* lognormal sigma of note popularity */
#define MIN_NOTE_RATINGS 5
#define IP_BOOST 1.6        /* apparent-quality boost of incorrect-popular notes */
#define IP_KNOW_PCT 20      /* % of raters who see through them */
#define RING_NOISE_SD 0.25  /* ring accounts rate the majority view, less noisily */
#define TWEPOCH 1288834974657LL /* snowflake epoch, for realistic ids */

enum { CAMP_LEFT = 0, CAMP_RIGHT = 1, CAMP_NEUTRAL = 2 };
static const char *const camp_names[3] = {"left", "right", "neutral"};
static const char *const level_names[3] = {"NOT_HELPFUL", "SOMEWHAT_HELPFUL", "HELPFUL"};
static const int core_groups[13] = {1, 2, 3, 6, 8, 9, 10, 11, 13, 14, 19, 21, 25};

/* Not-helpful tags raters pick at random: all but spam/harassment, which
** only "abusive" notes attract (it penalizes raters in the reference). */
static const uint8_t nh_pool[12] = {9, 10, 11, 12, 13, 14, 15, 16, 17, 19, 20, 21};

/* Scattered not-helpful tags (sound notes) follow a skewed popularity, as
** on real data where a few generic complaints (sources missing, opinion,
** missing key points) dominate: weight 1/(rank+1) over nh_pool in this rank
** order.  Cumulative, normalised at first use. */
static const uint8_t nh_rank[12] = {11, 12, 13, 16, 20, 19, 21, 9, 14, 17, 10, 15};
static int nh_scattered(ns_rng *r) {
  double u = ns_rng_uniform(r), tot = 0, acc = 0;
  for (int i = 0; i < 12; i++) tot += 1.0 / (i + 1);
  u *= tot;
  for (int i = 0; i < 12; i++) {
    acc += 1.0 / (i + 1);
    if (u < acc) return nh_rank[i];
  }
  return nh_rank[11];
}

/* Note flags. */
enum { NF_PARTISAN = 1, NF_IP = 2, NF_BAD_TARGET = 4, NF_GOOD_TARGET = 8 };

/* ---- buffered writer ----------------------------------------------------- */

#define WBUF_CAP (1u << 20)
#define LINE_MAX_BYTES 1024 /* longest row we ever format (ratings: ~260) */

typedef struct wbuf {
  FILE *f;
  char *buf;
  size_t n;
  int err;  /* first error, -errno */
} wbuf;

static void w_flush(wbuf *w) {
  if (w->n && !w->err && fwrite(w->buf, 1, w->n, w->f) != w->n) w->err = errno ? -errno : NS_EIO;
  w->n = 0;
}
/* Makes room for one row; every w_* below assumes the room is there. */
static inline void w_line(wbuf *w) {
  if (w->n + LINE_MAX_BYTES > WBUF_CAP) w_flush(w);
}
static inline void w_mem(wbuf *w, const char *s, size_t n) {
  memcpy(w->buf + w->n, s, n);
  w->n += n;
}
static inline void w_str(wbuf *w, const char *s) { w_mem(w, s, strlen(s)); }
static inline void w_c(wbuf *w, char c) { w->buf[w->n++] = c; }
static inline void w_u64(wbuf *w, uint64_t v) {
  char tmp[24];
  int k = 0;
  do tmp[k++] = (char)('0' + v % 10), v /= 10;
  while (v);
  while (k) w->buf[w->n++] = tmp[--k];
}
static inline void w_i64(wbuf *w, int64_t v) {
  if (v < 0) {
    w_c(w, '-');
    w_u64(w, (uint64_t)0 - (uint64_t)v);
  } else {
    w_u64(w, (uint64_t)v);
  }
}
/* Small files only: a double with 4 decimals via snprintf. */
static void w_f4(wbuf *w, double v) {
  char tmp[48];
  int k = snprintf(tmp, sizeof tmp, "%.4f", v);
  w_mem(w, tmp, (size_t)k);
}

static int w_open(wbuf *w, const char *dir, const char *name) {
  char path[4096];
  memset(w, 0, sizeof *w);
  if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return NS_EINVAL;
  w->buf = malloc(WBUF_CAP);
  if (!w->buf) return NS_ENOMEM;
  w->f = fopen(path, "wb");
  if (!w->f) {
    int rc = -errno;
    free(w->buf);
    w->buf = NULL;
    return rc;
  }
  return 0;
}

/* Flushes and closes; returns the first error seen on this file. */
static int w_close(wbuf *w) {
  int rc;
  if (!w->f) {
    free(w->buf);
    return 0;
  }
  w_flush(w);
  if (fclose(w->f) != 0 && !w->err) w->err = errno ? -errno : NS_EIO;
  rc = w->err;
  free(w->buf);
  memset(w, 0, sizeof *w);
  return rc;
}

/* ---- generator state ----------------------------------------------------- */

typedef struct gen {
  const ns_gen_opts *o;
  size_t nr;        /* honest raters */
  size_t nk;        /* ring accounts (participants nr .. nr+nk-1) */
  size_t nn;        /* notes */
  /* participants (honest then ring) */
  char *ids;        /* (nr+nk) x 65: 64 uppercase hex chars + NUL */
  double *x, *b;    /* position, leniency */
  uint8_t *camp;
  uint8_t *knows;   /* sees through incorrect-popular notes */
  uint32_t *rcount; /* ratings written per participant */
  /* notes (in creation order) */
  int64_t *created, *nid, *tweet;
  double *q, *s, *qapp;  /* quality, slant, apparent quality */
  uint32_t *author;
  uint8_t *flags;
  uint8_t (*fav)[4];     /* two favourite helpful tags, two not-helpful */
  uint8_t *cls;          /* ns_class */
  uint32_t *ncount;      /* ratings written per note */
  int64_t *attack_at;    /* ring window start per note (targets only) */
  char tag_chunks[256][16]; /* tag bits of one byte, formatted */
} gen;

static const char *pid_str(const gen *g, size_t p) { return g->ids + p * 65; }

static void make_id(char *out, uint64_t seed, uint64_t p) {
  static const char hex[] = "0123456789ABCDEF";
  uint64_t base = ns_hash64(seed ^ 0x5bd1e9955bd1e995ull);
  for (int k = 0; k < 4; k++) {
    uint64_t h = ns_hash64(base + p * 4 + (uint64_t)k);
    for (int i = 15; i >= 0; i--) {
      out[k * 16 + i] = hex[h & 15];
      h >>= 4;
    }
  }
  out[64] = '\0';
}

/* Independent stream number `stream` of this seed. */
static void rng_stream(ns_rng *r, uint64_t seed, uint64_t stream) {
  ns_rng_seed(r, ns_hash64(seed) ^ (stream * 0xd1b54a32d192ed03ull));
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Splits `total` into n counts: `lo` each (lowered if the budget is short),
** the rest in proportion to w, each capped at `cap`; the rounding leftovers
** go one by one to random entries below the cap.  Returns the sum reached
** (less than total only when the caps bind). */
static uint64_t apportion(uint32_t *out, size_t n, uint64_t total, uint32_t lo, uint32_t cap,
                          const double *w, ns_rng *r) {
  double sw = 0;
  uint64_t sum = 0, rem, tries = 0;
  if (lo > cap) lo = cap;
  if ((uint64_t)lo * n > total) lo = (uint32_t)(total / n);
  rem = total - (uint64_t)lo * n;
  for (size_t i = 0; i < n; i++) sw += w[i];
  for (size_t i = 0; i < n; i++) {
    double v = (double)lo + floor((double)rem * w[i] / sw);
    out[i] = v >= (double)cap ? cap : (uint32_t)v;
    sum += out[i];
  }
  while (sum < total && tries++ < 64 * (uint64_t)n + 1000) {
    size_t i = (size_t)ns_rng_below(r, n);
    if (out[i] < cap) out[i]++, sum++;
  }
  return sum;
}

/* 1-3 distinct tags from one group (helpful or not-helpful).  Each tag is
** one of the note's two favourites with probability p_fav, else uniform over
** the group, so explanation tags emerge where p_fav > 0. */
static uint32_t pick_tags(ns_rng *r, int helpful, const uint8_t fav[2], double p_fav) {
  double u = ns_rng_uniform(r);
  int want = u < 0.5 ? 1 : u < 0.85 ? 2 : 3, got = 0;
  uint32_t m = 0;
  while (got < want) {
    int t;
    if (ns_rng_uniform(r) < p_fav)
      t = fav[ns_rng_below(r, 2)];
    else
      t = helpful ? (int)ns_rng_below(r, NS_N_HELPFUL_TAGS) : nh_scattered(r);
    if (!(m & NS_TAG_BIT(t))) m |= NS_TAG_BIT(t), got++;
  }
  return m;
}

/* A note whose NOT_HELPFUL ratings agree on what is wrong with it: low
** quality (q < 0), partisan, or incorrect-popular.  On a sound note the
** few NOT_HELPFUL ratings disagree with the majority for personal reasons,
** so their tags scatter; on a flawed note raters name the same flaw (on real
** data, e.g. notHelpfulIncorrect on "incorrect but popular" notes). */
static int flawed(const gen *g, size_t n) {
  return g->q[n] < 0 || (g->flags[n] & (NF_PARTISAN | NF_IP)) != 0;
}

/* Tags for a rating at `level` on note n.  Helpful tags always prefer the
** note's favourites; not-helpful tags only on flawed notes. */
static uint32_t tags_for(const gen *g, ns_rng *r, size_t n, int level) {
  double nh_fav = flawed(g, n) ? 0.6 : 0.0;
  if (level == NS_LEVEL_HELPFUL) return pick_tags(r, 1, g->fav[n], 0.6);
  if (level == NS_LEVEL_NOT_HELPFUL) return pick_tags(r, 0, g->fav[n] + 2, nh_fav);
  /* somewhat helpful: one helpful tag, sometimes one not-helpful tag too */
  {
    uint32_t m = NS_TAG_BIT(g->fav[n][ns_rng_below(r, 2)]);
    if (ns_rng_uniform(r) < 0.5)
      m |= NS_TAG_BIT(nh_fav > 0 ? g->fav[n][2 + ns_rng_below(r, 2)] : nh_scattered(r));
    return m;
  }
}

static int level_of(double util) {
  return util < CUT_NH ? NS_LEVEL_NOT_HELPFUL : util < CUT_H ? NS_LEVEL_SOMEWHAT_HELPFUL : NS_LEVEL_HELPFUL;
}

/* Delay of an honest rating after its note: mostly within the 48 h that
** make a rating "valid" for the scorer, a tail up to two weeks later. */
static int64_t rating_time(const gen *g, ns_rng *r, size_t n) {
  double d;
  int64_t t, c = g->created[n], end = g->o->epoch_ms - 60000;
  if (ns_rng_uniform(r) < 0.88) {
    d = -6.0 * HOUR_MS * log(1.0 - ns_rng_uniform(r));
    if (d >= 47 * HOUR_MS) d = ns_rng_uniform(r) * 47 * HOUR_MS;
  } else {
    d = 48 * HOUR_MS + ns_rng_uniform(r) * 12 * DAY_MS;
  }
  t = c + 60000 + (int64_t)d;
  if (t >= end) t = c + 60000 + (int64_t)(ns_rng_uniform(r) * (double)(end - c - 60000));
  return t;
}

/* Fills g->tag_chunks: "\t0\t1..." for every byte of tag bits, so the 22
** tag columns are written with three copies instead of 22 branches. */
static void init_tag_chunks(gen *g) {
  for (int v = 0; v < 256; v++)
    for (int t = 0; t < 8; t++) {
      g->tag_chunks[v][2 * t] = '\t';
      g->tag_chunks[v][2 * t + 1] = (v >> t) & 1 ? '1' : '0';
    }
}

/* One row of ratings-00000.tsv (35 columns). */
static void write_rating(gen *g, wbuf *w, size_t n, size_t p, int64_t ts, int level, uint32_t tags,
                         int sampled) {
  static const uint8_t level_len[3] = {11, 16, 7};
  w_line(w);
  w_i64(w, g->nid[n]);
  w_c(w, '\t');
  w_mem(w, pid_str(g, p), 64);
  w_c(w, '\t');
  w_i64(w, ts);
  /* version 2; legacy agree/disagree/helpful/notHelpful all 0 */
  w_mem(w, "\t2\t0\t0\t0\t0\t", 11);
  w_mem(w, level_names[level], level_len[level]);
  w_mem(w, g->tag_chunks[tags & 0xff], 16);
  w_mem(w, g->tag_chunks[(tags >> 8) & 0xff], 16);
  w_mem(w, g->tag_chunks[(tags >> 16) & 0x3f], 12);
  w_c(w, '\t');
  w_i64(w, g->tweet[n]);
  w_str(w, sampled ? "\tPOPULATION_SAMPLED\t\t\n" : "\tDEFAULT\t\t\n");
  g->ncount[n]++;
  g->rcount[p]++;
}

/* ---- phases -------------------------------------------------------------- */

static void draw_raters(gen *g, double *act) {
  ns_rng r;
  rng_stream(&r, g->o->seed, 1);
  for (size_t u = 0; u < g->nr; u++) {
    double c = ns_rng_uniform(&r);
    g->camp[u] = c < 0.4 ? CAMP_LEFT : c < 0.8 ? CAMP_RIGHT : CAMP_NEUTRAL;
    if (g->camp[u] == CAMP_NEUTRAL)
      g->x[u] = NEUTRAL_SD * ns_rng_normal(&r);
    else
      g->x[u] = (g->camp[u] == CAMP_LEFT ? -1.0 : 1.0) + CAMP_SD * ns_rng_normal(&r);
    g->b[u] = LENIENCY_SD * ns_rng_normal(&r);
    act[u] = exp(RATER_ACT_SIGMA * ns_rng_normal(&r));
    g->knows[u] = ns_rng_below(&r, 100) < IP_KNOW_PCT;
  }
}

static void draw_notes(gen *g, double *pop) {
  const ns_gen_opts *o = g->o;
  double span = o->weeks * 7 * DAY_MS;
  ns_rng r, ri;
  rng_stream(&r, o->seed, 2);
  /* creation times first, sorted, so that snowflake-style ids grow with time */
  for (size_t n = 0; n < g->nn; n++)
    g->created[n] = o->epoch_ms - (int64_t)span + (int64_t)(ns_rng_uniform(&r) * (span - DAY_MS));
  qsort(g->created, g->nn, sizeof *g->created, cmp_i64);
  for (size_t n = 0; n < g->nn; n++) {
    int64_t tweet_at = g->created[n] - 600000 - (int64_t)(ns_rng_uniform(&r) * 3 * DAY_MS);
    g->nid[n] = (int64_t)(((uint64_t)(g->created[n] - TWEPOCH) << 22) | (n & 0x3fffff));
    g->tweet[n] = (int64_t)(((uint64_t)(tweet_at - TWEPOCH) << 22) | ((n * 2654435761u) & 0x3fffff));
    if (ns_rng_uniform(&r) < o->partisan_frac) {
      /* partisan: one camp loves it; low to medium quality, never truly helpful */
      g->flags[n] = NF_PARTISAN;
      g->s[n] = (ns_rng_uniform(&r) < 0.5 ? -1 : 1) * (1.0 + ns_rng_uniform(&r));
      g->q[n] = -0.1 + 0.4 * ns_rng_normal(&r);
      if (g->q[n] > 0.45) g->q[n] = 0.45;
    } else {
      g->flags[n] = 0;
      g->s[n] = 0.15 * ns_rng_normal(&r);
      g->q[n] = ns_rng_normal(&r);
    }
    g->qapp[n] = g->q[n];
    g->cls[n] = ns_rng_uniform(&r) < 0.08 ? NS_CLASS_NOT_MISLEADING : NS_CLASS_MISLEADING;
    pop[n] = exp(NOTE_POP_SIGMA * ns_rng_normal(&r));
    /* favourite tags: 2 helpful, 2 not-helpful (spam only on abusive notes) */
    g->fav[n][0] = (uint8_t)ns_rng_below(&r, NS_N_HELPFUL_TAGS);
    do g->fav[n][1] = (uint8_t)ns_rng_below(&r, NS_N_HELPFUL_TAGS);
    while (g->fav[n][1] == g->fav[n][0]);
    g->fav[n][2] = nh_pool[ns_rng_below(&r, 12)];
    do g->fav[n][3] = nh_pool[ns_rng_below(&r, 12)];
    while (g->fav[n][3] == g->fav[n][2]);
    if (g->q[n] < -1.5 && ns_rng_uniform(&r) < 0.2) g->fav[n][2] = NS_TAG_NH_SPAM_HARASSMENT;
    /* author: any honest rater; partisan notes come from the camp they favour */
    g->author[n] = (uint32_t)ns_rng_below(&r, g->nr);
    if (g->flags[n] & NF_PARTISAN)
      for (int t = 0; t < 16 && g->camp[g->author[n]] != (g->s[n] > 0 ? CAMP_RIGHT : CAMP_LEFT); t++)
        g->author[n] = (uint32_t)ns_rng_below(&r, g->nr);
  }
  /* incorrect-popular notes: non-partisan, low quality, look great to most */
  rng_stream(&ri, o->seed, 6);
  for (uint64_t k = 0, tries = 0; k < o->incorrect_popular && tries < 100 * (uint64_t)g->nn + 100; tries++) {
    size_t n = (size_t)ns_rng_below(&ri, g->nn);
    if (g->flags[n]) continue;
    g->flags[n] = NF_IP;
    g->q[n] = -0.6 + 0.6 * ns_rng_uniform(&ri);
    g->s[n] = 0.1 * ns_rng_normal(&ri);
    g->qapp[n] = g->q[n] + IP_BOOST;
    g->cls[n] = NS_CLASS_MISLEADING;
    g->fav[n][2] = NS_TAG_NH_INCORRECT;
    pop[n] *= 3.0;
    k++;
  }
}

/* Honest ratings: configuration model over the two degree sequences. */
static int honest_ratings(gen *g, wbuf *w, const double *act, const double *pop, ns_gen_stats *st) {
  const ns_gen_opts *o = g->o;
  uint32_t *kn = NULL, *cu = NULL, *stub = NULL;
  int32_t *mark = NULL;
  uint64_t sum_k, sum_c, pos = 0;
  uint32_t cap_n, cap_u;
  ns_rng ra, rv;
  int rc = 0;

  rng_stream(&ra, o->seed, 3);
  rng_stream(&rv, o->seed, 4);
  kn = ns_mallocn(g->nn, sizeof *kn);
  cu = ns_mallocn(g->nr, sizeof *cu);
  mark = ns_mallocn(g->nr, sizeof *mark);
  if (!kn || !cu || !mark) { rc = NS_ENOMEM; goto out; }
  /* caps keep rejection sampling cheap: nobody rates more than 60 % of the
   * notes, no note is rated by more than 60 % of the raters */
  cap_n = (uint32_t)NS_MIN((double)UINT32_MAX, floor(0.6 * (double)g->nr));
  cap_u = (uint32_t)NS_MIN((double)UINT32_MAX, NS_MAX(1.0, floor(0.6 * (double)g->nn)));
  /* tiny data sets: let everybody rate everything (but not their own note) */
  if (g->nr <= 100) cap_n = (uint32_t)g->nr - 1;
  if (g->nn <= 100) cap_u = (uint32_t)g->nn;
  sum_k = apportion(kn, g->nn, o->ratings, MIN_NOTE_RATINGS, cap_n, pop, &ra);
  sum_c = apportion(cu, g->nr, sum_k, 1, cap_u, act, &ra);
  while (sum_k > sum_c) { /* rater caps bound: trim notes to match */
    size_t n = (size_t)ns_rng_below(&ra, g->nn);
    if (kn[n]) kn[n]--, sum_k--;
  }
  stub = ns_mallocn(sum_k ? sum_k : 1, sizeof *stub);
  if (!stub) { rc = NS_ENOMEM; goto out; }
  for (size_t u = 0, p = 0; u < g->nr; u++)
    for (uint32_t k = 0; k < cu[u]; k++) stub[p++] = (uint32_t)u;
  for (uint64_t i = sum_k; i > 1; i--) { /* Fisher-Yates */
    uint64_t j = ns_rng_below(&ra, i);
    uint32_t t = stub[i - 1];
    stub[i - 1] = stub[j];
    stub[j] = t;
  }
  for (size_t u = 0; u < g->nr; u++) mark[u] = -1;

  for (size_t n = 0; n < g->nn; n++) {
    uint64_t end = pos + kn[n];
    mark[g->author[n]] = (int32_t)n;  /* no self-ratings */
    for (uint64_t i = pos; i < end; i++) {
      uint32_t u = stub[i];
      int level, ok = 1;
      uint32_t tags;
      if (mark[u] == (int32_t)n) {
        /* duplicate: trade places with a stub of a later note */
        ok = 0;
        for (int t = 0; t < 32 && end < sum_k; t++) {
          uint64_t j = end + ns_rng_below(&ra, sum_k - end);
          if (mark[stub[j]] != (int32_t)n) {
            stub[i] = stub[j];
            stub[j] = u;
            u = stub[i];
            ok = 1;
            break;
          }
        }
        if (!ok) {
          st->n_dropped++;
          continue;
        }
      }
      mark[u] = (int32_t)n;
      if ((g->flags[n] & NF_IP) && g->knows[u]) {
        level = NS_LEVEL_NOT_HELPFUL;
        tags = NS_TAG_BIT(NS_TAG_NH_INCORRECT);
        if (ns_rng_uniform(&rv) < 0.5) tags |= NS_TAG_BIT(nh_pool[ns_rng_below(&rv, 12)]);
      } else {
        double util = g->qapp[n] + g->b[u] + GAMMA * g->x[u] * g->s[n] + NOISE_SD * ns_rng_normal(&rv);
        level = level_of(util);
        tags = tags_for(g, &rv, n, level);
      }
      write_rating(g, w, n, u, rating_time(g, &rv, n), level, tags, ns_rng_below(&rv, 100) < 3);
    }
    pos = end;
  }
out:
  free(kn);
  free(cu);
  free(stub);
  free(mark);
  return rc;
}

/* Picks up to want notes with `flag` from cand[0..nc) (shuffled prefix). */
static uint64_t pick_targets(gen *g, size_t *cand, size_t nc, uint64_t want, uint8_t flag, ns_rng *r) {
  uint64_t k = 0;
  for (size_t i = 0; i < nc && k < want; i++, k++) {
    size_t j = i + (size_t)ns_rng_below(r, nc - i), t = cand[i];
    cand[i] = cand[j];
    cand[j] = t;
    g->flags[cand[i]] |= flag;
    /* the ring strikes 30 min .. 20 h after the note appears */
    g->attack_at[cand[i]] = g->created[cand[i]] + 1800000 + (int64_t)(ns_rng_uniform(r) * 20 * HOUR_MS);
  }
  return k;
}

/* The ring: K accounts, each farms F honest-looking early ratings, then all
** of them hit the same targets within NS_GEN_RING_WINDOW_MS. */
static int ring_ratings(gen *g, wbuf *w, ns_gen_stats *st) {
  const ns_gen_opts *o = g->o;
  int64_t split = o->epoch_ms - (int64_t)(0.35 * o->weeks * 7 * DAY_MS);
  size_t *cand = NULL, *pool = NULL, npool = 0, nc;
  int32_t *mark = NULL;
  uint64_t farm;
  ns_rng r;
  int rc = 0;

  rng_stream(&r, o->seed, 5);
  cand = ns_mallocn(g->nn, sizeof *cand);
  pool = ns_mallocn(g->nn, sizeof *pool);
  mark = ns_mallocn(g->nn, sizeof *mark);
  if (!cand || !pool || !mark) { rc = NS_ENOMEM; goto out; }
  for (size_t n = 0; n < g->nn; n++) mark[n] = -1;

  /* targets are recent notes; farming happens on notes decided long before */
  nc = 0;
  for (size_t n = 0; n < g->nn; n++)
    if (g->created[n] >= split && !g->flags[n] && g->q[n] <= NS_GEN_HELPFUL_Q) cand[nc++] = n;
  st->n_bad_targets = pick_targets(g, cand, nc, o->ring_targets, NF_BAD_TARGET, &r);
  nc = 0;
  for (size_t n = 0; n < g->nn; n++)
    if (g->created[n] >= split && !g->flags[n] && g->q[n] > NS_GEN_HELPFUL_Q) cand[nc++] = n;
  st->n_good_targets = pick_targets(g, cand, nc, o->ring_targets, NF_GOOD_TARGET, &r);
  for (size_t n = 0; n < g->nn; n++)
    if (g->created[n] + 2 * DAY_MS < split) pool[npool++] = n;
  farm = NS_MIN(o->ring_farm, (uint64_t)npool / 2);

  for (size_t k = 0; k < g->nk; k++) {
    size_t p = g->nr + k;
    /* farm: rate like the honest majority (or like one camp, when split) */
    for (uint64_t f = 0; f < farm; f++) {
      size_t n;
      double util;
      int level;
      do n = pool[ns_rng_below(&r, npool)];
      while (mark[n] == (int32_t)k);
      mark[n] = (int32_t)k;
      util = g->qapp[n] + GAMMA * g->x[p] * g->s[n] + RING_NOISE_SD * ns_rng_normal(&r);
      level = level_of(util);
      write_rating(g, w, n, p,
                   g->created[n] + 60000 + (int64_t)(ns_rng_uniform(&r) * 40 * HOUR_MS), level,
                   tags_for(g, &r, n, level), 0);
      st->n_ring_ratings++;
    }
    /* attack */
    for (size_t n = 0; n < g->nn; n++) {
      int64_t ts;
      if (!(g->flags[n] & (NF_BAD_TARGET | NF_GOOD_TARGET))) continue;
      ts = g->attack_at[n] + (int64_t)(ns_rng_uniform(&r) * (NS_GEN_RING_WINDOW_MS - 1));
      if (g->flags[n] & NF_BAD_TARGET)
        write_rating(g, w, n, p, ts, NS_LEVEL_HELPFUL, pick_tags(&r, 1, g->fav[n], 0.6), 0);
      else
        write_rating(g, w, n, p, ts, NS_LEVEL_NOT_HELPFUL,
                     NS_TAG_BIT(NS_TAG_NH_INCORRECT) |
                         (ns_rng_uniform(&r) < 0.5 ? NS_TAG_BIT(NS_TAG_NH_SOURCES_MISSING) : 0),
                     0);
      st->n_ring_ratings++;
    }
  }
out:
  free(cand);
  free(pool);
  free(mark);
  return rc;
}

/* ---- the small files ----------------------------------------------------- */

static void write_notes(gen *g, wbuf *w) {
  static const char *const mis[7] = {"misleadingOther", "misleadingFactualError",
      "misleadingManipulatedMedia", "misleadingOutdatedInformation",
      "misleadingMissingImportantContext", "misleadingUnverifiedClaimAsFact", "misleadingSatire"};
  static const char *const notmis[5] = {"notMisleadingOther", "notMisleadingFactuallyCorrect",
      "notMisleadingOutdatedButNotWhenWritten", "notMisleadingClearlySatire",
      "notMisleadingPersonalOpinion"};
  w_line(w);
  w_str(w, "noteId\tnoteAuthorParticipantId\tcreatedAtMillis\ttweetId\tclassification\t"
           "believable\tharmful\tvalidationDifficulty");
  for (int i = 0; i < 7; i++) w_c(w, '\t'), w_str(w, mis[i]);
  for (int i = 0; i < 5; i++) w_c(w, '\t'), w_str(w, notmis[i]);
  w_str(w, "\ttrustworthySources\tsummary\tisMediaNote\tisCollaborativeNote\n");
  for (size_t n = 0; n < g->nn; n++) {
    uint64_t h = ns_hash64(g->o->seed ^ (uint64_t)g->nid[n]);
    int m = g->cls[n] == NS_CLASS_MISLEADING;
    w_line(w);
    w_i64(w, g->nid[n]);
    w_c(w, '\t');
    w_mem(w, pid_str(g, g->author[n]), 64);
    w_c(w, '\t');
    w_i64(w, g->created[n]);
    w_c(w, '\t');
    w_i64(w, g->tweet[n]);
    w_str(w, m ? "\tMISINFORMED_OR_POTENTIALLY_MISLEADING\t\t\t" : "\tNOT_MISLEADING\t\t\t");
    /* one or two reason checkboxes of the matching kind */
    for (int i = 0; i < 7; i++)
      w_str(w, m && (i == (int)(h % 7) || i == (int)((h >> 8) % 7)) ? "\t1" : "\t0");
    for (int i = 0; i < 5; i++)
      w_str(w, !m && (i == (int)(h % 5) || i == (int)((h >> 8) % 5)) ? "\t1" : "\t0");
    w_str(w, (h >> 16) % 4 ? "\t1\t" : "\t0\t");
    w_str(w, "Synthetic note ");
    w_u64(w, (uint64_t)n);
    w_str(w, m ? ": the claim in this post lacks context. Source: https://example.org/s/"
               : ": this post is accurate as written. Source: https://example.org/s/");
    w_u64(w, h % 100000);
    w_str(w, "\t0\t0\n");
  }
}

static void write_history(gen *g, wbuf *w) {
  w_line(w);
  w_str(w, "noteId\tnoteAuthorParticipantId\tcreatedAtMillis\ttimestampMillisOfFirstNonNMRStatus\t"
           "firstNonNMRStatus\ttimestampMillisOfCurrentStatus\tcurrentStatus\t"
           "timestampMillisOfLatestNonNMRStatus\tmostRecentNonNMRStatus\t"
           "timestampMillisOfStatusLock\tlockedStatus\ttimestampMillisOfRetroLock\t"
           "currentCoreStatus\tcurrentExpansionStatus\tcurrentGroupStatus\tcurrentDecidedBy\t"
           "currentModelingGroup\ttimestampMillisOfMostRecentStatusChange\t"
           "timestampMillisOfNmrDueToMinStableCrhTime\tcurrentMultiGroupStatus\t"
           "currentModelingMultiGroup\ttimestampMinuteOfFinalScoringOutput\t"
           "timestampMillisOfFirstNmrDueToMinStableCrhTime\tabovePcrhThresholdTime\n");
  for (size_t n = 0; n < g->nn; n++) {
    w_line(w);
    w_i64(w, g->nid[n]);
    w_c(w, '\t');
    w_mem(w, pid_str(g, g->author[n]), 64);
    w_c(w, '\t');
    w_i64(w, g->created[n]);
    w_str(w, "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\n"); /* 21 empty columns */
  }
}

static void write_enrollment(gen *g, wbuf *w) {
  ns_rng r;
  rng_stream(&r, g->o->seed, 7);
  w_line(w);
  w_str(w, "participantId\tenrollmentState\tsuccessfulRatingNeededToEarnIn\t"
           "timestampOfLastStateChange\ttimestampOfLastEarnOut\tmodelingPopulation\t"
           "modelingGroup\tnumberOfTimesEarnedOut\n");
  for (size_t p = 0; p < g->nr + g->nk; p++) {
    int fresh = p < g->nr && ((g->rcount[p] < 10 && ns_rng_uniform(&r) < 0.5) || ns_rng_uniform(&r) < 0.04);
    int grp = ns_rng_uniform(&r) < 0.6 ? 13 : core_groups[ns_rng_below(&r, 13)];
    w_line(w);
    w_mem(w, pid_str(g, p), 64);
    w_str(w, fresh ? "\tnewUser\t5\t" : "\tearnedIn\t5\t");
    w_i64(w, g->o->epoch_ms - 90 * (int64_t)DAY_MS - (int64_t)(ns_rng_uniform(&r) * 300 * DAY_MS));
    w_str(w, "\t0\tCORE\t");
    w_u64(w, (uint64_t)grp);
    w_str(w, "\t0\n");
  }
}

static void write_truth(gen *g, wbuf *wn, wbuf *wr) {
  w_line(wn);
  w_str(wn, "noteId\ttrueHelpful\tquality\tslant\tisPartisan\tisIncorrectPopular\tisRingTarget\t"
            "ringTargetKind\tcreatedAtMillis\tnumRatings\n");
  for (size_t n = 0; n < g->nn; n++) {
    uint8_t f = g->flags[n];
    w_line(wn);
    w_i64(wn, g->nid[n]);
    w_str(wn, g->q[n] > NS_GEN_HELPFUL_Q ? "\t1\t" : "\t0\t");
    w_f4(wn, g->q[n]);
    w_c(wn, '\t');
    w_f4(wn, g->s[n]);
    w_str(wn, fabs(g->s[n]) > NS_GEN_PARTISAN_CUTOFF ? "\t1" : "\t0");
    w_str(wn, f & NF_IP ? "\t1" : "\t0");
    w_str(wn, f & NF_BAD_TARGET ? "\t1\tbad\t" : f & NF_GOOD_TARGET ? "\t1\tgood\t" : "\t0\t\t");
    w_i64(wn, g->created[n]);
    w_c(wn, '\t');
    w_u64(wn, g->ncount[n]);
    w_c(wn, '\n');
  }
  w_line(wr);
  w_str(wr, "raterParticipantId\tcamp\tposition\tleniency\tisRing\tknowsIncorrect\tnumRatings\n");
  for (size_t p = 0; p < g->nr + g->nk; p++) {
    w_line(wr);
    w_mem(wr, pid_str(g, p), 64);
    w_c(wr, '\t');
    w_str(wr, camp_names[g->camp[p]]);
    w_c(wr, '\t');
    w_f4(wr, g->x[p]);
    w_c(wr, '\t');
    w_f4(wr, g->b[p]);
    w_str(wr, p >= g->nr ? "\t1\t" : "\t0\t");
    w_str(wr, g->knows[p] ? "1\t" : "0\t");
    w_u64(wr, g->rcount[p]);
    w_c(wr, '\n');
  }
}

/* ---- entry points -------------------------------------------------------- */

void ns_gen_default_opts(ns_gen_opts *o) {
  memset(o, 0, sizeof *o);
  o->raters = 2000;
  o->notes = 2000;
  o->ratings = 200000;
  o->seed = 1;
  o->ring_targets = 15;
  o->epoch_ms = 1767225600000LL; /* 2026-01-01T00:00:00Z */
  o->weeks = 6;
  o->partisan_frac = 0.12;
}

int ns_gen_run(const ns_gen_opts *o, const char *dir, ns_gen_stats *stp) {
  gen g;
  ns_gen_stats st;
  wbuf wf[6];
  double *act = NULL, *pop = NULL;
  size_t np;
  int rc = 0;
  static const char *const names[6] = {"notes-00000.tsv", "ratings-00000.tsv",
      "noteStatusHistory-00000.tsv", "userEnrollment-00000.tsv", "truth_notes.tsv",
      "truth_raters.tsv"};

  memset(&g, 0, sizeof g);
  memset(&st, 0, sizeof st);
  memset(wf, 0, sizeof wf);
  if (stp) memset(stp, 0, sizeof *stp);
  if (!o->raters || !o->notes || o->raters > INT32_MAX || o->notes > INT32_MAX || o->ring > INT32_MAX ||
      !(o->weeks >= 1.0 / 7) || o->weeks > 520 || !(o->partisan_frac >= 0 && o->partisan_frac <= 1) ||
      o->epoch_ms < TWEPOCH + (int64_t)(o->weeks * 7 * DAY_MS) + 1000000000LL)
    return NS_EINVAL;
  g.o = o;
  g.nr = (size_t)o->raters;
  g.nk = (size_t)o->ring;
  g.nn = (size_t)o->notes;
  np = g.nr + g.nk;

  g.ids = ns_mallocn(np, 65);
  g.x = ns_calloc(np, sizeof *g.x);
  g.b = ns_calloc(np, sizeof *g.b);
  g.camp = ns_calloc(np, 1);
  g.knows = ns_calloc(np, 1);
  g.rcount = ns_calloc(np, sizeof *g.rcount);
  g.created = ns_mallocn(g.nn, sizeof *g.created);
  g.nid = ns_mallocn(g.nn, sizeof *g.nid);
  g.tweet = ns_mallocn(g.nn, sizeof *g.tweet);
  g.q = ns_mallocn(g.nn, sizeof *g.q);
  g.s = ns_mallocn(g.nn, sizeof *g.s);
  g.qapp = ns_mallocn(g.nn, sizeof *g.qapp);
  g.author = ns_mallocn(g.nn, sizeof *g.author);
  g.flags = ns_calloc(g.nn, 1);
  g.fav = ns_mallocn(g.nn, sizeof *g.fav);
  g.cls = ns_mallocn(g.nn, 1);
  g.ncount = ns_calloc(g.nn, sizeof *g.ncount);
  g.attack_at = ns_calloc(g.nn, sizeof *g.attack_at);
  act = ns_mallocn(g.nr, sizeof *act);
  pop = ns_mallocn(g.nn, sizeof *pop);
  if (!g.ids || !g.x || !g.b || !g.camp || !g.knows || !g.rcount || !g.created || !g.nid || !g.tweet ||
      !g.q || !g.s || !g.qapp || !g.author || !g.flags || !g.fav || !g.cls || !g.ncount ||
      !g.attack_at || !act || !pop) {
    rc = NS_ENOMEM;
    goto out;
  }
  for (size_t p = 0; p < np; p++) make_id(g.ids + p * 65, o->seed, p);
  draw_raters(&g, act);
  draw_notes(&g, pop);
  for (size_t k = 0; k < g.nk; k++) { /* ring positions */
    size_t p = g.nr + k;
    g.camp[p] = !o->ring_split ? CAMP_NEUTRAL : k < g.nk / 2 ? CAMP_LEFT : CAMP_RIGHT;
    g.x[p] = g.camp[p] == CAMP_NEUTRAL ? 0.0 : g.camp[p] == CAMP_LEFT ? -1.0 : 1.0;
  }

  init_tag_chunks(&g);
  if ((rc = ns_mkdir_p(dir)) != 0) goto out;
  for (int i = 0; i < 6; i++)
    if ((rc = w_open(&wf[i], dir, names[i])) != 0) goto out;
  write_notes(&g, &wf[0]);
  w_line(&wf[1]);
  w_str(&wf[1], "noteId\traterParticipantId\tcreatedAtMillis\tversion\tagree\tdisagree\thelpful\t"
                "notHelpful\thelpfulnessLevel");
  for (int t = 0; t < NS_N_TAGS; t++) w_c(&wf[1], '\t'), w_str(&wf[1], ns_tag_names[t]);
  w_str(&wf[1], "\tratedOnTweetId\tratingSourceBucketed\tsuggestion\tsuggestionId\n");
  if ((rc = honest_ratings(&g, &wf[1], act, pop, &st)) != 0) goto out;
  if (g.nk && (rc = ring_ratings(&g, &wf[1], &st)) != 0) goto out;
  write_history(&g, &wf[2]);
  write_enrollment(&g, &wf[3]);
  write_truth(&g, &wf[4], &wf[5]);

  st.n_notes = g.nn;
  st.n_raters = g.nr;
  st.n_ring = g.nk;
  for (size_t n = 0; n < g.nn; n++) {
    st.n_ratings += g.ncount[n];
    st.n_true_helpful += g.q[n] > NS_GEN_HELPFUL_Q;
    st.n_partisan += fabs(g.s[n]) > NS_GEN_PARTISAN_CUTOFF;
    st.n_incorrect_popular += (g.flags[n] & NF_IP) != 0;
  }
out:
  for (int i = 0; i < 6; i++) {
    int r2 = w_close(&wf[i]);
    if (!rc) rc = r2;
  }
  free(g.ids);
  free(g.x);
  free(g.b);
  free(g.camp);
  free(g.knows);
  free(g.rcount);
  free(g.created);
  free(g.nid);
  free(g.tweet);
  free(g.q);
  free(g.s);
  free(g.qapp);
  free(g.author);
  free(g.flags);
  free(g.fav);
  free(g.cls);
  free(g.ncount);
  free(g.attack_at);
  free(act);
  free(pop);
  if (stp && !rc) *stp = st;
  return rc;
}
