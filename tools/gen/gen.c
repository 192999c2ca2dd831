/*
** tools/gen/gen.c -- synthetic Community Notes data with ground truth.
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
**   4. write the status history, enrollment and truth files, gen_meta.json.
**
** With any of the honest-data shapes on (docs/gen.md "The shapes real data
** has"), step 2-3 is shaped_ratings() instead: power raters and benign
** cliques placed first, then one configuration model per community with
** locality; communities, posts, heavy activity and the ring's community and
** timing are drawn between steps 1 and 2, each from its own stream.
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

#include "../../base/base.h"
#include "../../base/dataset.h"
#include "../../store/format.h"

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
  /* the shapes (docs/gen.md); all zero / 1 community in the default model */
  uint32_t nc;           /* communities (1 = the one-community model) */
  uint32_t *csize;       /* honest raters per community */
  uint32_t *cmem, *coff; /* honest raters of community c: cmem[coff[c] .. coff[c+1]) */
  uint16_t *comm;        /* community per participant */
  uint16_t *ncomm;       /* community per note (its author's) */
  uint8_t *power;        /* power rater */
  uint32_t *clique;      /* clique id, 1-based; 0 = none */
  uint8_t *honest_t;     /* ring account rates with honest timing */
  uint32_t *post;        /* per note: index of the first note of its post */
  uint8_t *hot;          /* per note: among the most popular (bursty arrival) */
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

static int cmp_f64_desc(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x < y) - (x > y);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
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

/* apportion() for heavy-tailed weights: entries whose share would pass the
** cap are fixed at it and their overflow is shared out again in proportion
** to the weights of the others (water filling), instead of one by one at
** random, which would lift every light rater.  lo each first (lowered if the
** budget is short); the rounding leftovers go to random entries below the
** cap.  Returns the sum reached.  fixed[] is scratch of n bytes. */
static uint64_t apportion_wf(uint32_t *out, size_t n, uint64_t total, uint32_t lo, uint32_t cap,
                             const double *w, uint8_t *fixed, ns_rng *r) {
  uint64_t sum = 0, rem, tries = 0;
  double left, sw;
  if (lo > cap) lo = cap;
  if ((uint64_t)lo * n > total) lo = (uint32_t)(total / n);
  rem = total - (uint64_t)lo * n;
  memset(fixed, 0, n);
  left = (double)rem;
  for (int round = 0; round < 64; round++) {
    int again = 0;
    sw = 0;
    for (size_t i = 0; i < n; i++)
      if (!fixed[i]) sw += w[i];
    if (sw <= 0) break;
    for (size_t i = 0; i < n; i++)
      if (!fixed[i] && (double)lo + left * w[i] / sw >= (double)cap) {
        fixed[i] = 1;
        left -= (double)(cap - lo);
        again = 1;
      }
    if (!again || left <= 0) break;
  }
  sw = 0;
  for (size_t i = 0; i < n; i++)
    if (!fixed[i]) sw += w[i];
  for (size_t i = 0; i < n; i++) {
    double v = fixed[i] ? (double)cap : (double)lo + (sw > 0 && left > 0 ? floor(left * w[i] / sw) : 0);
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

/* One row of ratings-00000.tsv (35 columns; 34 with --reference-ready,
** which leaves out the trailing suggestionId that the pinned reference
** commit does not know). */
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
  if (g->o->reference_ready) w_str(w, sampled ? "\tPOPULATION_SAMPLED\t\n" : "\tDEFAULT\t\n");
  else w_str(w, sampled ? "\tPOPULATION_SAMPLED\t\t\n" : "\tDEFAULT\t\t\n");
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
  stub = ns_mallocn(sum_k, sizeof *stub);
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

/* ---- the shapes real data has (--communities, --activity, --arrival, ---- */
/* ---- --notes-per-post, --cliques); none of this runs in the default model */

#define COMM_EXPONENT 0.9     /* community k has weight 1/(k+1)^0.9 */
#define HEAVY_ACT_SIGMA 2.0   /* lognormal sigma of rater activity, --activity heavy */
#define POWER_MIN_SHARE 0.05  /* a power rater rates 5 .. 20 % of all notes */
#define POWER_MAX_SHARE 0.20
#define HOT_SHARE 0.10        /* bursty: the 10 % most popular notes ... */
#define HOT_BURST 0.5         /* ... get half of their ratings in the first hour */
#define SIBLING_PREF 0.5      /* chance a slot of a later note of a post looks for a
                                 rater of an earlier sibling */
#define CLIQUE_SHARE 0.6      /* share of a clique member's ratings on the pool */
#define CLIQUE_MIN_RATINGS 12 /* clique members rate at least this many notes */
#define CLIQUE_SHARED 0.8     /* weight of the clique's shared noise (own: 0.6) */
#define CLIQUE_POS_SD 0.1     /* members' positions around the founder's */

/* modelingGroup of community k (cycled past 16) and its population. */
static const int comm_groups[16] = {13, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 18, 33};
/* --reference-ready: group 14 (the reference's trial model, 30x stronger
** note-intercept regularisation) on community 2 instead of the small
** community 13, which gets group 2: with a few dozen notes group 14 gives
** no note a status and the reference aborts. */
static const int ref_comm_groups[16] = {13, 1, 14, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 2, 18, 33};
static int comm_group_o(const ns_gen_opts *o, uint32_t k) {
  return o->reference_ready ? ref_comm_groups[k % 16] : comm_groups[k % 16];
}
static const char *group_population(int grp) {
  for (int i = 0; i < 13; i++)
    if (core_groups[i] == grp) return "CORE";
  return "EXPANSION";
}

/* Any of the honest-data shapes on: the ratings then come from
** shaped_ratings() instead of honest_ratings(). */
static int shaped(const ns_gen_opts *o) {
  return o->communities >= 2 || o->activity != NS_GEN_ACTIVITY_UNIFORM || o->power_raters > 0 ||
         (o->power_raters < 0 && o->activity == NS_GEN_ACTIVITY_HEAVY) ||
         o->arrival != NS_GEN_ARRIVAL_TODAY || o->notes_per_post > 1 || o->cliques > 0 ||
         o->clique_share > 0;
}

static double power_frac(const ns_gen_opts *o) {
  if (o->power_raters >= 0) return o->power_raters;
  return o->activity == NS_GEN_ACTIVITY_HEAVY ? 0.005 : 0.0;
}

static uint32_t ring_comm(const gen *g) {
  const ns_gen_opts *o = g->o;
  if (g->nc < 2) return 0;
  return o->ring_community >= 0 ? (uint32_t)o->ring_community : 1;
}

/* Splits the honest raters into g->nc communities of sizes proportional to
** 1/(k+1)^0.9 (largest remainders, every community >= 1 rater), assigned
** through a random permutation, and fills the member lists.  Notes take
** their author's community. */
static int assign_communities(gen *g) {
  uint32_t nc = g->nc;
  double tot = 0;
  uint32_t *perm = ns_mallocn(g->nr, sizeof *perm);
  double *frac = ns_mallocn(nc, sizeof *frac);
  uint64_t sum = 0;
  ns_rng r;
  if (!perm || !frac) {
    free(perm);
    free(frac);
    return NS_ENOMEM;
  }
  rng_stream(&r, g->o->seed, 8);
  for (uint32_t k = 0; k < nc; k++) tot += pow(k + 1.0, -COMM_EXPONENT);
  for (uint32_t k = 0; k < nc; k++) {
    double want = (double)g->nr * pow(k + 1.0, -COMM_EXPONENT) / tot;
    g->csize[k] = (uint32_t)floor(want);
    frac[k] = want - floor(want);
    sum += g->csize[k];
  }
  while (sum < g->nr) { /* largest remainders first */
    uint32_t best = 0;
    for (uint32_t k = 1; k < nc; k++)
      if (frac[k] > frac[best]) best = k;
    g->csize[best]++, frac[best] = -1, sum++;
  }
  for (uint32_t k = 0; k < nc; k++) /* nobody empty: take from the largest */
    if (!g->csize[k] && g->csize[0] > 1) g->csize[k]++, g->csize[0]--;
  for (size_t u = 0; u < g->nr; u++) perm[u] = (uint32_t)u;
  for (size_t i = g->nr; i > 1; i--) {
    size_t j = (size_t)ns_rng_below(&r, i);
    uint32_t t = perm[i - 1];
    perm[i - 1] = perm[j];
    perm[j] = t;
  }
  g->coff[0] = 0;
  for (uint32_t k = 0; k < nc; k++) g->coff[k + 1] = g->coff[k] + g->csize[k];
  for (uint32_t k = 0, i = 0; k < nc; k++)
    for (uint32_t m = 0; m < g->csize[k]; m++, i++) g->comm[perm[i]] = (uint16_t)k;
  /* member lists in rater order, so they do not depend on the permutation's layout */
  {
    uint32_t *fill = ns_calloc(nc, sizeof *fill);
    if (!fill) {
      free(perm);
      free(frac);
      return NS_ENOMEM;
    }
    for (size_t u = 0; u < g->nr; u++) g->cmem[g->coff[g->comm[u]] + fill[g->comm[u]]++] = (uint32_t)u;
    free(fill);
  }
  for (size_t n = 0; n < g->nn; n++) g->ncomm[n] = g->comm[g->author[n]];
  free(perm);
  free(frac);
  return 0;
}

/* Groups consecutive notes (in creation order, so close in time) into
** posts of geometric size with mean M: the later notes of a post take the
** first one's tweetId, and with communities an author from its community
** (of the favoured camp for partisan notes).  Returns the number of posts. */
static uint64_t make_posts(gen *g) {
  double p = 1.0 / g->o->notes_per_post;
  uint64_t posts = 0;
  ns_rng r;
  rng_stream(&r, g->o->seed, 9);
  for (size_t n = 0; n < g->nn;) {
    size_t m = 1;
    if (p < 1)
      while (m < 50 && ns_rng_uniform(&r) >= p) m++;
    for (size_t j = n; j < n + m && j < g->nn; j++) {
      g->post[j] = (uint32_t)n;
      if (j == n) continue;
      g->tweet[j] = g->tweet[n];
      if (g->nc >= 2) {
        uint32_t c = g->ncomm[n], sz = g->coff[c + 1] - g->coff[c];
        uint32_t a = g->cmem[g->coff[c] + ns_rng_below(&r, sz)];
        if (g->flags[j] & NF_PARTISAN)
          for (int t = 0; t < 16 && g->camp[a] != (g->s[j] > 0 ? CAMP_RIGHT : CAMP_LEFT); t++)
            a = g->cmem[g->coff[c] + ns_rng_below(&r, sz)];
        g->author[j] = a;
        g->ncomm[j] = (uint16_t)c;
      }
    }
    n += m;
    posts++;
  }
  return posts;
}

/* The 10 % most popular notes (bursty arrival). */
static int mark_hot(gen *g, const double *pop) {
  double *tmp = ns_mallocn(g->nn, sizeof *tmp), cut;
  size_t k = (size_t)floor(HOT_SHARE * (double)g->nn);
  if (!tmp) return NS_ENOMEM;
  memcpy(tmp, pop, g->nn * sizeof *tmp);
  qsort(tmp, g->nn, sizeof *tmp, cmp_f64_desc);
  cut = k ? tmp[k - 1] : INFINITY;
  for (size_t n = 0; n < g->nn; n++) g->hot[n] = pop[n] >= cut;
  free(tmp);
  return 0;
}

/* Delay of an honest rating in the shaped model: bursty arrival puts half
** the ratings of a hot note in its first hour, the rest as today. */
static int64_t shaped_time(const gen *g, ns_rng *r, size_t n) {
  if (g->o->arrival == NS_GEN_ARRIVAL_BURSTY && g->hot[n] && ns_rng_uniform(r) < HOT_BURST) {
    int64_t t = g->created[n] + 60000 + (int64_t)(ns_rng_uniform(r) * 59 * 60000.0);
    if (t < g->o->epoch_ms - 60000) return t;
  }
  return rating_time(g, r, n);
}

/* A delay like an honest rating's but always valid (< 47 h after the note,
** before now): the ring's honest timing. */
static int64_t valid_time(const gen *g, ns_rng *r, size_t n) {
  int64_t c = g->created[n], end = g->o->epoch_ms - 60000, t;
  double d = -6.0 * HOUR_MS * log(1.0 - ns_rng_uniform(r));
  if (d >= 47 * HOUR_MS) d = ns_rng_uniform(r) * 47 * HOUR_MS;
  t = c + 60000 + (int64_t)d;
  if (t >= end) t = c + 60000 + (int64_t)(ns_rng_uniform(r) * (double)(end - c - 60000));
  return t;
}

/* N(0, 1) shared by every member of clique q on note n: a pure function of
** (seed, q, n), so it needs no state and no stream. */
static double clique_noise(const gen *g, uint32_t q, size_t n) {
  ns_rng r;
  ns_rng_seed(&r, ns_hash64(ns_hash64(g->o->seed ^ 0xc11c0e5ull) + (uint64_t)q * 0x9e3779b97f4a7c15ull) ^
                      (uint64_t)n);
  return ns_rng_normal(&r);
}

/* Value and tags of an honest rating by u on n (shaped model). */
static void shaped_value(const gen *g, ns_rng *rv, size_t n, size_t u, int *level, uint32_t *tags) {
  if ((g->flags[n] & NF_IP) && g->knows[u]) {
    *level = NS_LEVEL_NOT_HELPFUL;
    *tags = NS_TAG_BIT(NS_TAG_NH_INCORRECT);
    if (ns_rng_uniform(rv) < 0.5) *tags |= NS_TAG_BIT(nh_pool[ns_rng_below(rv, 12)]);
  } else {
    double eps = ns_rng_normal(rv), util;
    if (g->clique[u]) eps = CLIQUE_SHARED * clique_noise(g, g->clique[u], n) + 0.6 * eps;
    util = g->qapp[n] + g->b[u] + GAMMA * g->x[u] * g->s[n] + NOISE_SD * eps;
    *level = level_of(util);
    *tags = tags_for(g, rv, n, *level);
  }
}

/* Per-note stream for the community of each rating slot: replayed once to
** count the demand per community and once to fill the slots. */
static void slot_rng(ns_rng *r, uint64_t seed, size_t n) {
  ns_rng_seed(r, ns_hash64(ns_hash64(seed) ^ 0x5107ull) + (uint64_t)n * 0x9e3779b97f4a7c15ull);
}

/* Community of one rating slot of a note of community own: own with
** probability locality, else another one in proportion to its size.  No
** note takes more than half of a community's raters (slotc[] counts this
** note's slots per community; the caller resets it): a full community
** passes the slot on to another, drawn in proportion to size; after 8 full
** ones the slot is given up (UINT32_MAX). */
static uint32_t slot_comm(const gen *g, ns_rng *r, uint32_t own, uint32_t *slotc) {
  for (int t = 0; t < 8; t++) {
    uint32_t c;
    uint64_t x;
    size_t lo = 0, hi;
    if (g->nc < 2) return 0;
    if (t == 0 && ns_rng_uniform(r) < g->o->locality) {
      c = own;
    } else {
      x = ns_rng_below(r, g->nr - g->csize[own]);
      if (x >= g->coff[own]) x += g->csize[own];
      hi = g->nc; /* the last c with coff[c] <= x */
      while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (g->coff[mid] <= x) lo = mid;
        else hi = mid;
      }
      c = (uint32_t)lo;
    }
    if (slotc[c] < NS_MAX(1u, g->csize[c] / 2)) {
      slotc[c]++;
      return c;
    }
  }
  return UINT32_MAX;
}

/* Power raters and benign cliques: ratings fixed before the configuration
** model.  Fills the per-note lists (pre[poff[n] .. poff[n+1])) and returns
** their total in *npre. */
static int planted_layers(gen *g, const double *act, uint32_t **poffp, uint32_t **prep, uint64_t *npre,
                          ns_gen_stats *st) {
  const ns_gen_opts *o = g->o;
  NS_VEC(uint64_t) pairs = {0};  /* note << 32 | rater */
  uint32_t *poff = NULL, *pre = NULL, *cnotes = NULL, *pool = NULL;
  int32_t *pm = NULL;
  double sact = 0;
  ns_rng r;
  int rc = 0;

  pm = ns_mallocn(g->nn, sizeof *pm);
  cnotes = ns_mallocn(g->nn, sizeof *cnotes);
  pool = ns_mallocn(g->nn, sizeof *pool);
  poff = ns_calloc(g->nn + 1, sizeof *poff);
  if (!pm || !cnotes || !pool || !poff) { rc = NS_ENOMEM; goto out; }
  for (size_t u = 0; u < g->nr; u++) sact += act[u];

  /* power raters: each rates 5-20 % of all notes, its own community's with
   * probability locality while they last */
  {
    double f = power_frac(o), pscale;
    uint64_t np = f > 0 ? (uint64_t)NS_MAX(1.0, floor(f * (double)g->nr + 0.5)) : 0;
    rng_stream(&r, o->seed, 11);
    if (np > g->nr / 2) np = g->nr / 2;
    /* power raters take at most a quarter of the budget: on large data sets
     * their 5-20 % of the notes shrink in proportion */
    pscale = np ? NS_MIN(1.0, 0.25 * (double)o->ratings /
                                  ((double)np * 0.5 * (POWER_MIN_SHARE + POWER_MAX_SHARE) * (double)g->nn))
                : 1.0;
    for (size_t n = 0; n < g->nn; n++) pm[n] = -1;
    for (uint64_t i = 0, tries = 0; i < np && tries < 100 * np + 100; tries++) {
      size_t u = (size_t)ns_rng_below(&r, g->nr), nown = 0, own_taken = 0;
      uint64_t k, got = 0, t2 = 0;
      if (g->power[u]) continue;
      g->power[u] = 1;
      i++;
      k = (uint64_t)floor(pscale * (POWER_MIN_SHARE + (POWER_MAX_SHARE - POWER_MIN_SHARE) * ns_rng_uniform(&r)) *
                              (double)g->nn + 0.5);
      k = NS_MAX(k, 1);
      if (k >= g->nn) k = g->nn > 1 ? g->nn - 1 : 1;
      for (size_t n = 0; n < g->nn; n++)
        if (g->ncomm[n] == g->comm[u]) cnotes[nown++] = (uint32_t)n;
      while (got < k && t2++ < 50 * k + 1000) {
        size_t n;
        if (g->nc >= 2 && own_taken < nown * 8 / 10 && ns_rng_uniform(&r) < o->locality)
          n = cnotes[ns_rng_below(&r, nown)];
        else
          n = (size_t)ns_rng_below(&r, g->nn);
        if (pm[n] == (int32_t)u || g->author[n] == u) continue;
        pm[n] = (int32_t)u;
        own_taken += g->ncomm[n] == g->comm[u];
        if (ns_vec_push(&pairs, (uint64_t)n << 32 | u)) { rc = NS_ENOMEM; goto out; }
        got++;
      }
      st->n_power++;
    }
  }

  /* benign cliques: a founder, then members of the same community and camp
   * (if there are enough), positions pulled close together; each member
   * puts ~60 % of its ratings on a pool of the community's notes */
  {
    uint64_t nq = o->cliques;
    uint32_t S = o->clique_size ? o->clique_size : 4;
    rng_stream(&r, o->seed, 12);
    if (!nq && o->clique_share > 0) nq = (uint64_t)NS_MAX(1.0, floor(o->clique_share * (double)g->nr / S + 0.5));
    for (size_t n = 0; n < g->nn; n++) pm[n] = -1;
    for (uint64_t q = 1; q <= nq; q++) {
      uint32_t size = S >= 3 ? S - 1 + (uint32_t)ns_rng_below(&r, 3) : S + (uint32_t)ns_rng_below(&r, 2);
      uint32_t mem[64], nm = 0, c, csz, npool = 0, nown = 0;
      uint64_t maxk = 0, tries = 0;
      size_t f;
      if (size > 64) size = 64;
      do f = (size_t)ns_rng_below(&r, g->nr);
      while ((g->power[f] || g->clique[f]) && tries++ < 1000);
      if (g->power[f] || g->clique[f]) break; /* no free raters left */
      c = g->comm[f];
      csz = g->coff[c + 1] - g->coff[c];
      mem[nm++] = (uint32_t)f;
      g->clique[f] = (uint32_t)q;
      for (tries = 0; nm < size && tries < 400; tries++) {
        uint32_t v = g->cmem[g->coff[c] + ns_rng_below(&r, csz)];
        if (g->power[v] || g->clique[v]) continue;
        if (tries < 200 && g->camp[v] != g->camp[f]) continue; /* same camp first */
        g->clique[v] = (uint32_t)q;
        g->x[v] = g->x[f] + CLIQUE_POS_SD * ns_rng_normal(&r);
        mem[nm++] = v;
      }
      st->n_cliques++;
      st->n_clique_raters += nm;
      /* pool: notes of the community, as many as the busiest member's share;
       * member u rates the first k_u of them, so any two share the smaller k */
      for (size_t n = 0; n < g->nn; n++)
        if (g->ncomm[n] == c) cnotes[nown++] = (uint32_t)n;
      for (uint32_t i = 0; i < nm; i++) {
        double exp_k = NS_MAX((double)CLIQUE_MIN_RATINGS, (double)o->ratings * act[mem[i]] / sact);
        maxk = NS_MAX(maxk, (uint64_t)floor(CLIQUE_SHARE * exp_k + 0.5));
      }
      npool = (uint32_t)NS_MIN((double)nown, (double)maxk);
      for (uint32_t i = 0; i < npool; i++) { /* partial Fisher-Yates */
        uint32_t j = i + (uint32_t)ns_rng_below(&r, nown - i), t = cnotes[i];
        cnotes[i] = cnotes[j];
        cnotes[j] = t;
        pool[i] = cnotes[i];
      }
      for (uint32_t i = 0; i < nm; i++) {
        uint32_t u = mem[i];
        double exp_k = NS_MAX((double)CLIQUE_MIN_RATINGS, (double)o->ratings * act[u] / sact);
        uint32_t k = (uint32_t)NS_MIN((double)npool, floor(CLIQUE_SHARE * exp_k + 0.5));
        for (uint32_t a = 0; a < k; a++) { /* nested: the first k of the pool */
          uint32_t n = pool[a];
          if (g->author[n] == u) continue;
          if (ns_vec_push(&pairs, (uint64_t)n << 32 | u)) { rc = NS_ENOMEM; goto out; }
        }
      }
    }
  }

  /* per-note lists, in the order drawn */
  pre = ns_mallocn(pairs.n, sizeof *pre);
  if (!pre) { rc = NS_ENOMEM; goto out; }
  for (size_t i = 0; i < pairs.n; i++) poff[(pairs.a[i] >> 32) + 1]++;
  for (size_t n = 0; n < g->nn; n++) poff[n + 1] += poff[n];
  {
    uint32_t *fill = ns_calloc(g->nn, sizeof *fill);
    if (!fill) { rc = NS_ENOMEM; goto out; }
    for (size_t i = 0; i < pairs.n; i++) {
      size_t n = (size_t)(pairs.a[i] >> 32);
      pre[poff[n] + fill[n]++] = (uint32_t)(pairs.a[i] & 0xffffffffu);
    }
    free(fill);
  }
  *npre = pairs.n;
out:
  ns_vec_free(&pairs);
  free(pm);
  free(cnotes);
  free(pool);
  if (rc) {
    free(poff);
    free(pre);
    poff = pre = NULL;
  }
  *poffp = poff;
  *prep = pre;
  return rc;
}

/* Takes the next stub of one community for note n, swapping a duplicate
** (a rater already on n, or its author) with a later stub; UINT32_MAX when
** the community is used up or only duplicates turned up in 32 tries (the
** stub then stays for a later note). */
static uint32_t take_stub(uint32_t *stub, uint64_t *pos, uint64_t end, const int32_t *mark, size_t n,
                          ns_rng *r) {
  uint32_t u;
  if (*pos >= end) return UINT32_MAX;
  u = stub[*pos];
  if (mark[u] == (int32_t)n) {
    int ok = 0;
    for (int t = 0; t < 32 && *pos + 1 < end; t++) {
      uint64_t j = *pos + 1 + ns_rng_below(r, end - *pos - 1);
      if (mark[stub[j]] != (int32_t)n) {
        stub[*pos] = stub[j];
        stub[j] = u;
        u = stub[*pos];
        ok = 1;
        break;
      }
    }
    if (!ok) return UINT32_MAX;
  }
  (*pos)++;
  return u;
}

/* Honest ratings in the shaped model.  The planted layers (power raters,
** cliques) come first on each note; the rest of the budget is a
** configuration model per community: each note's slots get a community
** (own with probability locality), every community's demand is split over
** its raters by activity, and each community's stubs are shuffled and
** dealt to its slots in note order.  Duplicates swap with a later stub of
** the same community (or are dropped), as in honest_ratings(); a slot of a
** later note of a post first looks for a rater of an earlier sibling. */
static int shaped_ratings(gen *g, wbuf *w, const double *act, const double *pop, ns_gen_stats *st) {
  const ns_gen_opts *o = g->o;
  uint32_t *kn = NULL, *stub = NULL, *poff = NULL, *pre = NULL, *tmpc = NULL, *postmark = NULL;
  uint32_t *cu = NULL, *cnt = NULL;
  uint8_t *fixed = NULL;
  uint64_t *dem = NULL, *off = NULL, *pos = NULL, *end = NULL, npre = 0, budget;
  uint32_t *dn = NULL, *lastn = NULL, *slotc = NULL, *okey = NULL, *nown = NULL;
  uint64_t *order = NULL;
  size_t nord = 0;
  int32_t *mark = NULL;
  double *tmpw = NULL;
  uint32_t cap_n;
  ns_rng ra, rv, rs;
  int rc = 0;

  rng_stream(&ra, o->seed, 3);
  rng_stream(&rv, o->seed, 4);
  if ((rc = planted_layers(g, act, &poff, &pre, &npre, st)) != 0) goto out;
  kn = ns_mallocn(g->nn, sizeof *kn);
  mark = ns_mallocn(g->nr, sizeof *mark);
  postmark = ns_mallocn(g->nr, sizeof *postmark);
  dem = ns_calloc(g->nc, sizeof *dem);
  off = ns_calloc(g->nc + 1, sizeof *off);
  pos = ns_calloc(g->nc, sizeof *pos);
  end = ns_calloc(g->nc, sizeof *end);
  dn = ns_calloc(g->nc, sizeof *dn);
  lastn = ns_mallocn(g->nc, sizeof *lastn);
  slotc = ns_calloc(g->nc, sizeof *slotc);
  nown = ns_calloc(g->nc, sizeof *nown);
  okey = ns_calloc(g->nn, sizeof *okey);
  order = ns_mallocn(g->nn, sizeof *order);
  tmpw = ns_mallocn(g->nr, sizeof *tmpw);
  tmpc = ns_mallocn(g->nr, sizeof *tmpc);
  cu = ns_calloc(g->nr, sizeof *cu);
  cnt = ns_mallocn(g->nr, sizeof *cnt);
  fixed = ns_mallocn(g->nr, 1);
  if (!fixed || !cu || !cnt || !mark || !postmark || !dem || !off || !pos || !end || !dn || !lastn || !slotc || !nown || !okey || !order || !tmpw || !tmpc) {
    rc = NS_ENOMEM;
    goto out;
  }
  cap_n = (uint32_t)NS_MIN((double)UINT32_MAX, floor(0.6 * (double)g->nr));
  if (g->nr <= 100) cap_n = (uint32_t)g->nr - 1;
  budget = o->ratings > npre ? o->ratings - npre : 0;
  apportion(kn, g->nn, budget, MIN_NOTE_RATINGS, cap_n, pop, &ra);

  /* pass 1: demand per community, and how many notes ask for each */
  for (uint32_t c = 0; c < g->nc; c++) lastn[c] = UINT32_MAX;
  for (size_t n = 0; n < g->nn; n++) nown[g->ncomm[n]]++;
  for (size_t n = 0; n < g->nn; n++) {
    slot_rng(&rs, o->seed, n);
    for (uint32_t i = 0; i < kn[n]; i++) {
      uint32_t c = slot_comm(g, &rs, g->ncomm[n], slotc);
      if (c == UINT32_MAX) continue;
      dem[c]++;
      if (lastn[c] != n) lastn[c] = (uint32_t)n, dn[c]++;
    }
    for (uint32_t c = 0; c < g->nc; c++) slotc[c] = 0;
  }
  /* supply: each community's demand over its raters (power raters and
   * clique members' pool share already placed), >= 1 each, capped */
  for (uint32_t c = 0; c < g->nc; c++) {
    uint32_t m = 0, cap = (uint32_t)NS_MAX(1.0, floor(0.6 * dn[c]));
    const uint32_t *mem = g->nc >= 2 ? g->cmem + g->coff[c] : NULL;
    uint32_t sz = g->nc >= 2 ? g->csize[c] : (uint32_t)g->nr;
    if (dn[c] <= 100) cap = dn[c] ? dn[c] : 1;
    /* with communities, nobody needs more than its community's notes /
     * locality: a heavier rater could only spill into other communities */
    if (g->nc >= 2 && o->locality > 0)
      cap = (uint32_t)NS_MAX(1.0, NS_MIN((double)cap, ceil((double)nown[c] / o->locality)));
    for (uint32_t i = 0; i < sz; i++) {
      uint32_t u = mem ? mem[i] : i;
      if (g->power[u]) continue;
      tmpw[m] = act[u] * (g->clique[u] ? 1.0 - CLIQUE_SHARE : 1.0);
      tmpc[m++] = u;
    }
    off[c + 1] = off[c];
    if (!m || !dem[c]) continue;
    off[c + 1] += apportion_wf(cnt, m, dem[c], 1, cap, tmpw, fixed, &ra);
    for (uint32_t i = 0; i < m; i++) cu[tmpc[i]] = cnt[i];
  }
  stub = ns_mallocn(off[g->nc], sizeof *stub);
  if (!stub) { rc = NS_ENOMEM; goto out; }
  for (uint32_t c = 0; c < g->nc; c++) {
    uint64_t p = off[c];
    uint32_t sz = g->nc >= 2 ? g->csize[c] : (uint32_t)g->nr;
    for (uint32_t i = 0; i < sz; i++) {
      uint32_t u = g->nc >= 2 ? g->cmem[g->coff[c] + i] : i;
      for (uint32_t k = 0; k < cu[u]; k++) stub[p++] = u;
    }
    pos[c] = off[c];
    end[c] = off[c + 1];
    for (uint64_t i = end[c] - off[c]; i > 1; i--) { /* Fisher-Yates within c */
      uint64_t j = off[c] + ns_rng_below(&ra, i);
      uint32_t t = stub[off[c] + i - 1];
      stub[off[c] + i - 1] = stub[j];
      stub[j] = t;
    }
  }
  for (size_t u = 0; u < g->nr; u++) mark[u] = -1, postmark[u] = UINT32_MAX;

  /* pass 2: write, posts with the most slots first (the configuration
   * model's tail, where only a few raters' stubs are left, then meets small
   * notes that can still take them), the notes of a post together */
  for (size_t n = 0; n < g->nn; n++) {
    uint32_t p = g->post[n];
    if (p == n) order[nord++] = (uint64_t)p;
    okey[p] += kn[n] + (poff[n + 1] - poff[n]);
  }
  for (size_t i = 0; i < nord; i++) order[i] |= (uint64_t)(UINT32_MAX - NS_MIN(okey[order[i]], UINT32_MAX)) << 32;
  qsort(order, nord, sizeof *order, cmp_u64);
  for (size_t oi = 0, n = 0, last = 0; oi < nord || n < last;) {
    int level;
    uint32_t tags;
    if (n >= last) { /* next post: its notes are n .. last-1 */
      n = (size_t)(order[oi++] & 0xffffffffu);
      for (last = n + 1; last < g->nn && g->post[last] == n; last++) {}
    }
    mark[g->author[n]] = (int32_t)n;
    for (uint32_t i = poff[n]; i < poff[n + 1]; i++) {
      uint32_t u = pre[i];
      mark[u] = (int32_t)n;
      postmark[u] = g->post[n];
      shaped_value(g, &rv, n, u, &level, &tags);
      write_rating(g, w, n, u, shaped_time(g, &rv, n), level, tags, ns_rng_below(&rv, 100) < 3);
    }
    slot_rng(&rs, o->seed, n);
    for (uint32_t c = 0; c < g->nc; c++) slotc[c] = 0;
    for (uint32_t i = 0; i < kn[n]; i++) {
      uint32_t c = slot_comm(g, &rs, g->ncomm[n], slotc), u;
      if (c == UINT32_MAX) { /* every community it tried is full on this note */
        st->n_dropped++;
        continue;
      }
      if (g->post[n] != n && ns_rng_uniform(&ra) < SIBLING_PREF) {
        /* a later note of a post: prefer a rater of an earlier sibling */
        for (int t = 0; t < 16 && pos[c] + 1 < end[c]; t++) {
          uint64_t j = pos[c] + ns_rng_below(&ra, end[c] - pos[c]);
          uint32_t v = stub[j];
          if (postmark[v] == g->post[n] && mark[v] != (int32_t)n) {
            stub[j] = stub[pos[c]];
            stub[pos[c]] = v;
            break;
          }
        }
      }
      u = take_stub(stub, &pos[c], end[c], mark, n, &ra);
      /* c used up, or only raters of this note left in it: another
       * community, in proportion to size, then any with stubs left */
      for (int t = 0; u == UINT32_MAX && t < 8 && g->nc >= 2; t++) {
        uint32_t c2 = g->comm[g->cmem[ns_rng_below(&ra, g->nr)]];
        u = take_stub(stub, &pos[c2], end[c2], mark, n, &ra);
      }
      for (uint32_t k = 1; u == UINT32_MAX && k < g->nc; k++)
        u = take_stub(stub, &pos[(c + k) % g->nc], end[(c + k) % g->nc], mark, n, &ra);
      if (u == UINT32_MAX && g->ncount[n] < MIN_NOTE_RATINGS) {
        /* the tail of the stubs only has raters of this note left: keep the
         * note at >= 5 ratings with one rating beyond some rater's count */
        const uint32_t *mem = g->cmem + g->coff[g->ncomm[n]];
        uint32_t sz = g->csize[g->ncomm[n]];
        for (int t = 0; t < 64 && u == UINT32_MAX; t++) {
          uint32_t v = t < 32 ? mem[ns_rng_below(&ra, sz)] : (uint32_t)ns_rng_below(&ra, g->nr);
          if (mark[v] != (int32_t)n && !g->power[v]) u = v;
        }
      }
      if (u == UINT32_MAX) {
        st->n_dropped++;
        continue;
      }
      mark[u] = (int32_t)n;
      postmark[u] = g->post[n];
      shaped_value(g, &rv, n, u, &level, &tags);
      write_rating(g, w, n, u, shaped_time(g, &rv, n), level, tags, ns_rng_below(&rv, 100) < 3);
    }
    n++;
  }
out:
  free(kn);
  free(stub);
  free(poff);
  free(pre);
  free(tmpc);
  free(postmark);
  free(dem);
  free(off);
  free(pos);
  free(end);
  free(dn);
  free(lastn);
  free(slotc);
  free(nown);
  free(okey);
  free(order);
  free(mark);
  free(tmpw);
  free(cu);
  free(cnt);
  free(fixed);
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

/* A ring target must be in the ring's community when the ring sits inside
** one (--ring-place inside with >= 2 communities). */
static int in_ring_comm(const gen *g, size_t n) {
  return g->nc < 2 || g->o->ring_place != NS_GEN_PLACE_INSIDE || g->ncomm[n] == ring_comm(g);
}

/* The ring: K accounts, each farms F honest-looking early ratings, then all
** of them hit the same targets: within NS_GEN_RING_WINDOW_MS (burst timing),
** or each rating with an honest delay (honest timing, still valid). */
static int ring_ratings(gen *g, wbuf *w, ns_gen_stats *st) {
  const ns_gen_opts *o = g->o;
  int64_t split = o->epoch_ms - (int64_t)(0.35 * o->weeks * 7 * DAY_MS);
  size_t *cand = NULL, *pool = NULL, npool = 0, nc;
  int32_t *mark = NULL;
  uint64_t farm;
  ns_rng r, r2;
  int rc = 0;

  rng_stream(&r, o->seed, 5);
  rng_stream(&r2, o->seed, 16); /* community farming, honest timing: not in the default model */
  cand = ns_mallocn(g->nn, sizeof *cand);
  pool = ns_mallocn(g->nn, sizeof *pool);
  mark = ns_mallocn(g->nn, sizeof *mark);
  if (!cand || !pool || !mark) { rc = NS_ENOMEM; goto out; }
  for (size_t n = 0; n < g->nn; n++) mark[n] = -1;

  /* targets are recent notes; farming happens on notes decided long before */
  nc = 0;
  for (size_t n = 0; n < g->nn; n++)
    if (g->created[n] >= split && !g->flags[n] && g->q[n] <= NS_GEN_HELPFUL_Q && in_ring_comm(g, n))
      cand[nc++] = n;
  st->n_bad_targets = pick_targets(g, cand, nc, o->ring_targets, NF_BAD_TARGET, &r);
  nc = 0;
  for (size_t n = 0; n < g->nn; n++)
    if (g->created[n] >= split && !g->flags[n] && g->q[n] > NS_GEN_HELPFUL_Q && in_ring_comm(g, n))
      cand[nc++] = n;
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
      if (g->nc < 2) {
        do n = pool[ns_rng_below(&r, npool)];
        while (mark[n] == (int32_t)k);
      } else {
        /* with communities, the account's own community's notes first */
        int own = ns_rng_uniform(&r2) < o->locality;
        for (int t = 0;; t++) {
          n = pool[ns_rng_below(&r2, npool)];
          if (mark[n] != (int32_t)k && (!own || t >= 64 || g->ncomm[n] == g->comm[p])) break;
        }
      }
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
      if (g->honest_t[k])
        ts = valid_time(g, &r2, n);
      else
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

/* ---- --reference-ready (docs/gen.md) ------------------------------------ */

/* Seed words of the reference's topic classifier, one phrase per topic:
** UkraineConflict, GazaConflict, Scams, InDimensionTwo, MessiRonaldo. */
#define REF_N_TOPICS 5
static const char *const ref_topic_phrase[REF_N_TOPICS] = {
    "this post is about the war between Russia and Ukraine; ",
    "this post is about Israel and Gaza; ",
    "this post is a scam promotion; ",
    "this post is about SC ST OBC reservation; ",
    "this post compares Messi and Ronaldo; "};
#define REF_ONE_COMM_TOPIC_PCT 12 /* one community: % of posts per topic */
#define REF_LOCK_AGE_MS (14 * DAY_MS) /* the reference locks a status after 14 days */
#define REF_LOCK_SHARE 0.5        /* of the notes older than that, this share is locked */
#define REF_FLIP_HELPFUL 0.15     /* truly helpful notes that went CRH -> NMR */
#define REF_FLIP_BORDER 0.25      /* notes with 0 < q <= NS_GEN_HELPFUL_Q that did */
#define REF_STAB_AGO_MS (3 * HOUR_MS) /* unlocked notes: stabilization clock start */

/* Topic of note n (0 .. REF_N_TOPICS-1) or -1: with communities, the posts
** of communities 1 .. 5 (locality keeps their raters inside the topic);
** with one community, a hash of the post. */
static int ref_topic(const gen *g, size_t n) {
  size_t p = g->post[n];
  if (g->nc >= 2) {
    uint32_t c = g->ncomm[p];
    return c >= 1 && c <= REF_N_TOPICS ? (int)c - 1 : -1;
  }
  uint64_t h = ns_hash64(g->o->seed ^ 0x70b1c5ull ^ ((uint64_t)p * 0x9e3779b97f4a7c15ull)) % 100;
  return h < (uint64_t)REF_N_TOPICS * REF_ONE_COMM_TOPIC_PCT ? (int)(h / REF_ONE_COMM_TOPIC_PCT) : -1;
}

/* The header line of a public file: the first n columns of its table
** (store/format.c; the reference-ready layouts stop one column short). */
static void w_header(wbuf *w, int kind, int n) {
  const ns_fmt_kind *k = ns_fmt_kind_get(kind);
  w_line(w);
  for (int i = 0; i < n && i < k->ncols; i++) {
    if (i) w_c(w, '\t');
    w_str(w, k->cols[i].name);
  }
  w_c(w, '\n');
}

/* nm (may be NULL): --reference-ready's NOT_MISLEADING peers (ref_peer_nm). */
static void write_notes(gen *g, wbuf *w, ns_gen_stats *st, const uint8_t *nm) {
  w_header(w, NS_FILE_NOTES, NS_FMT_NOTES_NCOLS);
  for (size_t n = 0; n < g->nn; n++) {
    uint64_t h = ns_hash64(g->o->seed ^ (uint64_t)g->nid[n]);
    int m = g->cls[n] == NS_CLASS_MISLEADING && !(nm && nm[n]);
    st->n_ref_not_misleading += nm && nm[n] && g->cls[n] == NS_CLASS_MISLEADING;
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
    if (g->o->reference_ready) {
      int t = ref_topic(g, n);
      w_str(w, ": ");
      if (t >= 0) w_str(w, ref_topic_phrase[t]), st->n_topic_notes++;
      w_str(w, m ? "the claim in this post lacks context. Source: https://example.org/s/"
                 : "this post is accurate as written. Source: https://example.org/s/");
    } else
    w_str(w, m ? ": the claim in this post lacks context. Source: https://example.org/s/"
               : ": this post is accurate as written. Source: https://example.org/s/");
    w_u64(w, h % 100000);
    w_str(w, "\t0\t0\n");
  }
}

static const char *const ref_status_names[3] = {"NEEDS_MORE_RATINGS", "CURRENTLY_RATED_HELPFUL",
                                                 "CURRENTLY_RATED_NOT_HELPFUL"};

/* One locked history row (--reference-ready): the columns after
** createdAtMillis.  first: 0 none, 1 CRH, 2 CRNH; locked likewise (0 NMR). */
static void ref_history_row(gen *g, wbuf *w, size_t n, int first, int locked, int64_t t1, int64_t t2) {
  int64_t lock = g->created[n] + (int64_t)REF_LOCK_AGE_MS;
  int64_t tcur = first ? (locked == first ? t1 : t2) : t1;
  w_c(w, '\t');
  if (first) w_i64(w, t1), w_c(w, '\t'), w_str(w, ref_status_names[first]);
  else w_c(w, '\t');
  w_c(w, '\t');
  w_i64(w, tcur);
  w_c(w, '\t');
  w_str(w, ref_status_names[locked]);
  w_c(w, '\t');
  if (first) w_i64(w, t1), w_c(w, '\t'), w_str(w, ref_status_names[first]);
  else w_c(w, '\t');
  w_c(w, '\t');
  w_i64(w, lock);
  w_c(w, '\t');
  w_str(w, ref_status_names[locked]);
  w_str(w, "\t\t"); /* retro lock */
  w_str(w, ref_status_names[locked]);
  w_str(w, "\t\t\tCoreModel (v1.1)\t\t"); /* expansion, group, decidedBy, modelingGroup */
  w_i64(w, tcur);
  w_str(w, "\t\t\t\t\t\n"); /* the last 5 columns empty (no abovePcrhThresholdTime) */
}

/* The lock decision of note n (--reference-ready): four draws of stream
** 17 per note whatever happens, in note order, so one note's choice does
** not move another's.  Returns 1 when the note gets a locked row; first
** and locked as ref_history_row takes them (first == 1: the note was CRH
** once, which is what the reference's flip model labels and trains on). */
static int ref_lock(const gen *g, size_t n, ns_rng *r, int *first, int *locked, int64_t *t1,
                    int64_t *t2) {
  double ul = ns_rng_uniform(r), uf = ns_rng_uniform(r), u1 = ns_rng_uniform(r), u2 = ns_rng_uniform(r);
  int old = g->created[n] < g->o->epoch_ms - (int64_t)REF_LOCK_AGE_MS;
  int target = (g->flags[n] & (NF_BAD_TARGET | NF_GOOD_TARGET)) != 0;
  int partisan = fabs(g->s[n]) > NS_GEN_PARTISAN_CUTOFF, enough = g->ncount[n] >= MIN_NOTE_RATINGS;
  if (!old || target || ul >= REF_LOCK_SHARE) return 0;
  *first = 0, *locked = 0;
  if (enough && !partisan && g->q[n] > NS_GEN_HELPFUL_Q) *first = 1, *locked = uf < REF_FLIP_HELPFUL ? 0 : 1;
  else if (enough && !partisan && g->q[n] > 0) *first = uf < REF_FLIP_BORDER ? 1 : 0, *locked = 0;
  else if (enough && g->q[n] < -1.0) *first = 2, *locked = 2;
  *t1 = g->created[n] + (int64_t)(2 * HOUR_MS + u1 * 46 * HOUR_MS);
  *t2 = *t1 + (int64_t)(DAY_MS + u2 * 9 * DAY_MS);
  return 1;
}

/* --reference-ready: which notes to write as NOT_MISLEADING beyond the
** model's own 8 %.  The reference's flip model (pflip_plus_model.py) trains
** on the notes that were CRH once and reads, per such note, the helpful
** tags each rater gave to the NOT_MISLEADING notes of the same post; it
** keeps a rater:tag pair seen on >= 5 training rows and then the top 10 %
** of those by chi2, and aborts when that leaves none.  With the model's
** 8 % a seed may leave one pair (seed 2 of the combined shape at 90 k
** ratings did: "Found array with 0 feature(s)").  So on each post holding
** such a note, the earliest other note that is not a ring target says NOT
** MISLEADING (about 140 notes of 3 000; ~130 pairs on >= 6 rows instead
** of 2-6).  Only the notes file changes: no rating depends on the
** classification.  Returns a new [nn] array (1 = NOT_MISLEADING), or NULL
** on NS_ENOMEM. */
static uint8_t *ref_peer_nm(const gen *g) {
  ns_rng r;
  uint8_t *lab = ns_calloc(g->nn ? g->nn : 1, 1), *post_lab = ns_calloc(g->nn ? g->nn : 1, 1);
  uint8_t *nm = ns_calloc(g->nn ? g->nn : 1, 1);
  if (!lab || !post_lab || !nm) {
    free(lab), free(post_lab), free(nm);
    return NULL;
  }
  rng_stream(&r, g->o->seed, 17); /* the draws write_history makes */
  for (size_t n = 0; n < g->nn; n++) {
    int first, locked;
    int64_t t1, t2;
    if (ref_lock(g, n, &r, &first, &locked, &t1, &t2) && first == 1) lab[n] = 1, post_lab[g->post[n]] = 1;
  }
  /* notes are in creation order: the first unlabelled note met is the earliest */
  for (size_t n = 0; n < g->nn; n++) {
    uint32_t p = g->post[n];
    if (post_lab[p] != 1 || lab[n] || (g->flags[n] & (NF_BAD_TARGET | NF_GOOD_TARGET))) continue;
    nm[n] = 1;
    post_lab[p] = 2; /* one per post */
  }
  free(lab);
  free(post_lab);
  return nm;
}

static void write_history(gen *g, wbuf *w, ns_gen_stats *st) {
  ns_rng r;
  if (g->o->reference_ready) rng_stream(&r, g->o->seed, 17); /* not in the default model */
  /* the pinned reference commit reads 23 columns, without the last one */
  w_header(w, NS_FILE_HISTORY, NS_FMT_HISTORY_NCOLS - (g->o->reference_ready ? 1 : 0));
  for (size_t n = 0; n < g->nn; n++) {
    w_line(w);
    w_i64(w, g->nid[n]);
    w_c(w, '\t');
    w_mem(w, pid_str(g, g->author[n]), 64);
    w_c(w, '\t');
    w_i64(w, g->created[n]);
    if (g->o->reference_ready) {
      int first, locked;
      int64_t t1, t2;
      if (ref_lock(g, n, &r, &first, &locked, &t1, &t2)) {
        ref_history_row(g, w, n, first, locked, t1, t2);
        st->n_locked++;
        st->n_flips += first == 1 && locked == 0;
        continue;
      }
    }
    if (g->o->reference_ready) {
      /* 20 columns, empty but timestampMillisOfNmrDueToMinStableCrhTime:
       * the note's stabilization clock started REF_STAB_AGO_MS before now,
       * longer than the reference's 60-minute maximum, so a note scored CRH
       * in this one run leaves stabilization at CRH instead of being held
       * at NMR as on a first run (docs/gen.md) */
      w_str(w, "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t");
      w_i64(w, g->o->epoch_ms - (int64_t)REF_STAB_AGO_MS);
      w_str(w, "\t\t\t\t\n");
    } else
      w_str(w, "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\n"); /* 21 empty columns */
  }
}

static void write_enrollment(gen *g, wbuf *w) {
  ns_rng r;
  rng_stream(&r, g->o->seed, 7);
  w_header(w, NS_FILE_ENROLLMENT, NS_FMT_ENROLL_NCOLS);
  for (size_t p = 0; p < g->nr + g->nk; p++) {
    int fresh = p < g->nr && ((g->rcount[p] < 10 && ns_rng_uniform(&r) < 0.5) || ns_rng_uniform(&r) < 0.04);
    int grp = ns_rng_uniform(&r) < 0.6 ? 13 : core_groups[ns_rng_below(&r, 13)];
    const char *popn = "CORE";
    if (g->nc >= 2) { /* the draw above is kept so the other columns do not move */
      grp = comm_group_o(g->o, g->comm[p]);
      popn = group_population(grp);
    }
    w_line(w);
    w_mem(w, pid_str(g, p), 64);
    w_str(w, fresh ? "\tnewUser\t5\t" : "\tearnedIn\t5\t");
    w_i64(w, g->o->epoch_ms - 90 * (int64_t)DAY_MS - (int64_t)(ns_rng_uniform(&r) * 300 * DAY_MS));
    w_str(w, "\t0\t");
    w_str(w, popn);
    w_c(w, '\t');
    w_u64(w, (uint64_t)grp);
    w_str(w, "\t0\n");
  }
}

static void write_truth(gen *g, wbuf *wn, wbuf *wr) {
  w_line(wn);
  w_str(wn, "noteId\ttrueHelpful\tquality\tslant\tisPartisan\tisIncorrectPopular\tisRingTarget\t"
            "ringTargetKind\tcreatedAtMillis\tnumRatings\tcommunity\ttweetId\n");
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
    w_c(wn, '\t');
    w_u64(wn, g->ncomm[n]);
    w_c(wn, '\t');
    w_i64(wn, g->tweet[n]);
    w_c(wn, '\n');
  }
  w_line(wr);
  w_str(wr, "raterParticipantId\tcamp\tposition\tleniency\tisRing\tknowsIncorrect\tnumRatings\t"
            "community\tisPower\tcliqueId\tringTiming\n");
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
    w_c(wr, '\t');
    w_u64(wr, g->comm[p]);
    w_str(wr, g->power[p] ? "\t1\t" : "\t0\t");
    w_u64(wr, g->clique[p]);
    w_str(wr, p < g->nr ? "\t\n" : g->honest_t[p - g->nr] ? "\thonest\n" : "\tburst\n");
  }
}

static const char *const activity_names[2] = {"uniform", "heavy"};
static const char *const arrival_names[2] = {"today", "bursty"};
static const char *const place_names[2] = {"inside", "spread"};
static const char *const timing_names[3] = {"burst", "honest", "mixed"};

/* gen_meta.json: "now" for the reference harness, and the options that
** made the data (docs/gen.md). */
static void write_meta(const gen *g, wbuf *w) {
  const ns_gen_opts *o = g->o;
  char tmp[900];
  int k = snprintf(tmp, sizeof tmp,
                   "{\"nowMillis\": %lld, \"seed\": %llu, \"options\": {\"raters\": %llu, \"notes\": %llu, "
                   "\"ratings\": %llu, \"weeks\": %.10g, \"partisanFrac\": %.10g, \"incorrectPopular\": %llu, "
                   "\"communities\": %u, \"locality\": %.10g, \"activity\": \"%s\", \"powerRaters\": %.10g, "
                   "\"arrival\": \"%s\", \"notesPerPost\": %.10g, \"cliques\": %llu, \"cliqueShare\": %.10g, "
                   "\"cliqueSize\": %u, \"ring\": %llu, \"ringTargets\": %llu, \"ringFarm\": %llu, "
                   "\"ringSplit\": %s, \"ringPlace\": \"%s\", \"ringCommunity\": %u, \"ringTiming\": \"%s\"%s}}\n",
                   (long long)o->epoch_ms, (unsigned long long)o->seed, (unsigned long long)o->raters,
                   (unsigned long long)o->notes, (unsigned long long)o->ratings, o->weeks, o->partisan_frac,
                   (unsigned long long)o->incorrect_popular, g->nc, o->locality, activity_names[o->activity],
                   power_frac(o), arrival_names[o->arrival], o->notes_per_post,
                   (unsigned long long)o->cliques, o->clique_share, o->clique_size,
                   (unsigned long long)o->ring, (unsigned long long)o->ring_targets,
                   (unsigned long long)o->ring_farm, o->ring_split ? "true" : "false",
                   place_names[o->ring_place], ring_comm(g), timing_names[o->ring_timing],
                   o->reference_ready ? ", \"referenceReady\": true" : "");
  w_line(w);
  w_mem(w, tmp, (size_t)NS_MIN(k, (int)sizeof tmp - 1));
}

/* ---- entry points -------------------------------------------------------- */

const char *const ns_gen_shape_names[] = {"one", "communities", "heavy", "bursty", "cliques", "combined", NULL};

int ns_gen_apply_shape(ns_gen_opts *o, const char *name) {
  int all = !strcmp(name, "combined");
  if (!strcmp(name, "one")) return 0;
  if (!all && strcmp(name, "communities") && strcmp(name, "heavy") && strcmp(name, "bursty") &&
      strcmp(name, "cliques"))
    return NS_EINVAL;
  if (all || !strcmp(name, "communities")) o->communities = 16, o->locality = 0.9;
  if (all || !strcmp(name, "heavy")) o->activity = NS_GEN_ACTIVITY_HEAVY, o->power_raters = 0.005;
  if (all || !strcmp(name, "bursty")) o->arrival = NS_GEN_ARRIVAL_BURSTY, o->notes_per_post = 1.5;
  if (all || !strcmp(name, "cliques")) o->cliques = 0, o->clique_share = 0.02, o->clique_size = 4;
  return 0;
}

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
  o->locality = 0.9;
  o->power_raters = -1;
  o->notes_per_post = 1;
  o->clique_size = 4;
  o->ring_community = -1;
}

int ns_gen_run(const ns_gen_opts *o, const char *dir, ns_gen_stats *stp) {
  gen g;
  ns_gen_stats st;
  wbuf wf[7];
  double *act = NULL, *pop = NULL;
  uint8_t *ref_nm = NULL; /* --reference-ready: NOT_MISLEADING peers */
  size_t np;
  int rc = 0;
  static const char *const names[7] = {"notes-00000.tsv", "ratings-00000.tsv",
      "noteStatusHistory-00000.tsv", "userEnrollment-00000.tsv", "truth_notes.tsv",
      "truth_raters.tsv", "gen_meta.json"};

  memset(&g, 0, sizeof g);
  memset(&st, 0, sizeof st);
  memset(wf, 0, sizeof wf);
  if (stp) memset(stp, 0, sizeof *stp);
  if (!o->raters || !o->notes || o->raters > INT32_MAX || o->notes > INT32_MAX || o->ring > INT32_MAX ||
      !(o->weeks >= 1.0 / 7) || o->weeks > 520 || !(o->partisan_frac >= 0 && o->partisan_frac <= 1) ||
      o->epoch_ms < TWEPOCH + (int64_t)(o->weeks * 7 * DAY_MS) + 1000000000LL)
    return NS_EINVAL;
  if (o->communities > NS_GEN_MAX_COMMUNITIES || o->communities > o->raters ||
      !(o->locality >= 0 && o->locality <= 1) || o->activity < 0 || o->activity > 1 ||
      !(o->power_raters <= 0.5) || o->arrival < 0 || o->arrival > 1 ||
      !(o->notes_per_post >= 1 && o->notes_per_post <= 50) || o->cliques > o->raters ||
      !(o->clique_share >= 0 && o->clique_share <= 0.5) || o->clique_size < 2 || o->clique_size > 63 ||
      o->ring_place < 0 || o->ring_place > 1 || o->ring_timing < 0 || o->ring_timing > 2 ||
      (o->ring_community >= 0 && (uint32_t)o->ring_community >= NS_MAX(o->communities, 1u)))
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
  g.nc = o->communities >= 2 ? o->communities : 1;
  g.csize = ns_calloc(g.nc, sizeof *g.csize);
  g.coff = ns_calloc(g.nc + 1, sizeof *g.coff);
  g.cmem = ns_calloc(g.nr, sizeof *g.cmem);
  g.comm = ns_calloc(np, sizeof *g.comm);
  g.ncomm = ns_calloc(g.nn, sizeof *g.ncomm);
  g.power = ns_calloc(np, 1);
  g.clique = ns_calloc(np, sizeof *g.clique);
  g.honest_t = ns_calloc(g.nk, 1);
  g.post = ns_mallocn(g.nn, sizeof *g.post);
  g.hot = ns_calloc(g.nn, 1);
  act = ns_mallocn(g.nr, sizeof *act);
  pop = ns_mallocn(g.nn, sizeof *pop);
  if (!g.ids || !g.x || !g.b || !g.camp || !g.knows || !g.rcount || !g.created || !g.nid || !g.tweet ||
      !g.q || !g.s || !g.qapp || !g.author || !g.flags || !g.fav || !g.cls || !g.ncount ||
      !g.attack_at || !act || !pop || !g.csize || !g.coff || !g.cmem || !g.comm || !g.ncomm || !g.power ||
      !g.clique || !g.honest_t || !g.post || !g.hot) {
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
  /* the shapes: each from its own stream, none of them used by default */
  for (size_t n = 0; n < g.nn; n++) g.post[n] = (uint32_t)n;
  g.csize[0] = (uint32_t)g.nr;
  g.coff[1] = (uint32_t)g.nr;
  for (size_t u = 0; u < g.nr; u++) g.cmem[u] = (uint32_t)u;
  if (g.nc >= 2 && (rc = assign_communities(&g)) != 0) goto out;
  if (o->notes_per_post > 1) st.n_posts = make_posts(&g);
  else st.n_posts = g.nn;
  if (o->activity == NS_GEN_ACTIVITY_HEAVY) {
    ns_rng ra;
    rng_stream(&ra, o->seed, 10);
    /* sigma 2, more when the mean count is high, so that the median rater
     * stays near 2 ratings: a lognormal's median is its mean / e^(sigma^2/2) */
    double mean = (double)o->ratings / (double)g.nr;
    double sigma = mean > 2 ? NS_MAX(HEAVY_ACT_SIGMA, sqrt(2.0 * log(mean / 2.0))) : HEAVY_ACT_SIGMA;
    for (size_t u = 0; u < g.nr; u++) act[u] = exp(sigma * ns_rng_normal(&ra));
  }
  if (o->arrival == NS_GEN_ARRIVAL_BURSTY && (rc = mark_hot(&g, pop)) != 0) goto out;
  if (g.nk) { /* ring communities and timing */
    ns_rng rk;
    rng_stream(&rk, o->seed, 15);
    for (size_t k = 0; k < g.nk; k++) {
      size_t p = g.nr + k;
      g.honest_t[k] = o->ring_timing == NS_GEN_TIMING_HONEST || (o->ring_timing == NS_GEN_TIMING_MIXED && k % 2);
      if (g.nc < 2) continue;
      if (o->ring_place == NS_GEN_PLACE_INSIDE) g.comm[p] = (uint16_t)ring_comm(&g);
      else g.comm[p] = g.comm[g.cmem[ns_rng_below(&rk, g.nr)]]; /* in proportion to size */
    }
  }

  init_tag_chunks(&g);
  if ((rc = ns_mkdir_p(dir)) != 0) goto out;
  for (int i = 0; i < 7; i++)
    if ((rc = w_open(&wf[i], dir, names[i])) != 0) goto out;
  /* reference-ready: without suggestionId, as the pinned reference reads it */
  w_header(&wf[1], NS_FILE_RATINGS, NS_FMT_RATINGS_NCOLS - (o->reference_ready ? 1 : 0));
  if ((rc = shaped(o) ? shaped_ratings(&g, &wf[1], act, pop, &st) : honest_ratings(&g, &wf[1], act, pop, &st)) != 0)
    goto out;
  if (g.nk && (rc = ring_ratings(&g, &wf[1], &st)) != 0) goto out;
  /* the notes file after the ratings: --reference-ready's classification
  ** follows the history, which needs every note's rating count; no rating
  ** depends on the notes file */
  if (o->reference_ready && !(ref_nm = ref_peer_nm(&g))) {
    rc = NS_ENOMEM;
    goto out;
  }
  write_notes(&g, &wf[0], &st, ref_nm);
  write_history(&g, &wf[2], &st);
  write_enrollment(&g, &wf[3]);
  write_truth(&g, &wf[4], &wf[5]);
  write_meta(&g, &wf[6]);

  st.n_notes = g.nn;
  st.n_raters = g.nr;
  st.n_ring = g.nk;
  st.n_communities = g.nc;
  for (size_t n = 0; n < g.nn; n++) {
    st.n_ratings += g.ncount[n];
    st.n_true_helpful += g.q[n] > NS_GEN_HELPFUL_Q;
    st.n_partisan += fabs(g.s[n]) > NS_GEN_PARTISAN_CUTOFF;
    st.n_incorrect_popular += (g.flags[n] & NF_IP) != 0;
  }
out:
  for (int i = 0; i < 7; i++) {
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
  free(g.csize);
  free(g.coff);
  free(g.cmem);
  free(g.comm);
  free(g.ncomm);
  free(g.power);
  free(g.clique);
  free(g.honest_t);
  free(g.post);
  free(g.hot);
  free(ref_nm);
  free(act);
  free(pop);
  if (stp && !rc) *stp = st;
  return rc;
}
