/*
** tools/gen/gen.h -- the synthetic data generator behind `notescore gen`.
**
** Writes a directory of files in the exact public Community Notes layouts
** (notes-00000.tsv, ratings-00000.tsv, noteStatusHistory-00000.tsv,
** userEnrollment-00000.tsv) plus the ground truth the data was drawn from
** (truth_notes.tsv, truth_raters.tsv), optionally with a planted attack
** (a ring of coordinated accounts) and "incorrect but popular" notes.
**
** The model (docs/gen.md has the full story and the constants):
**   rater u : viewpoint x_u (two camps around -1 / +1 and a neutral group
**             near 0), leniency b_u, heavy-tailed activity;
**   note n  : true quality q_n, slant s_n (most near 0, some partisan);
**   rating  : utility q_n + b_u + gamma * x_u * s_n + noise, cut into
**             NOT_HELPFUL / SOMEWHAT_HELPFUL / HELPFUL;
**   truth   : trueHelpful = q_n > NS_GEN_HELPFUL_Q (independent of slant).
** Optional shapes of real data (off by default, which leaves the files as
** before they existed): communities with locality, heavy-tailed activity
** with power raters, bursty arrival, posts with several notes, benign
** cliques, and rings placed inside one community or spread, with burst,
** honest or mixed timing.
**
** Who calls it: tools/cmd_gen.c (the CLI) and the tests.  Single-threaded.
** Deterministic: the same options give byte-identical files.  Memory is
** O(raters + notes) plus 4 bytes per honest rating; ratings are streamed.
*/
#ifndef NS_GEN_H
#define NS_GEN_H

#include <stdint.h>

/* A note is truly helpful when its quality exceeds this. */
#define NS_GEN_HELPFUL_Q 0.5
/* |slant| above this makes a note "partisan" (generator and evaluator). */
#define NS_GEN_PARTISAN_CUTOFF 0.75
/* Every ring rating on one target falls within this window (ms). */
#define NS_GEN_RING_WINDOW_MS (15 * 60 * 1000)
/* At most this many communities (--communities). */
#define NS_GEN_MAX_COMMUNITIES 1024

/* --activity */
enum { NS_GEN_ACTIVITY_UNIFORM = 0, NS_GEN_ACTIVITY_HEAVY = 1 };
/* --arrival */
enum { NS_GEN_ARRIVAL_TODAY = 0, NS_GEN_ARRIVAL_BURSTY = 1 };
/* --ring-place */
enum { NS_GEN_PLACE_INSIDE = 0, NS_GEN_PLACE_SPREAD = 1 };
/* --ring-timing */
enum { NS_GEN_TIMING_BURST = 0, NS_GEN_TIMING_HONEST = 1, NS_GEN_TIMING_MIXED = 2 };

typedef struct ns_gen_opts {
  uint64_t raters;            /* honest raters (also the note authors) */
  uint64_t notes;
  uint64_t ratings;           /* honest ratings (ring ratings come on top) */
  uint64_t seed;
  uint64_t ring;              /* coordinated accounts, 0 = no attack */
  uint64_t ring_farm;         /* honest-looking ratings per ring account */
  uint64_t ring_targets;      /* bad targets pushed up (= good pushed down) */
  int ring_split;             /* ring halves imitate the two camps */
  uint64_t incorrect_popular; /* low-quality notes most raters like */
  int64_t epoch_ms;           /* "now": every timestamp is before it */
  double weeks;               /* notes are created over this many weeks */
  double partisan_frac;       /* fraction of partisan notes */
  /* the shapes real data has (docs/gen.md); the defaults are the one-
  ** community model above, and leave every file as before these existed */
  uint32_t communities;       /* 0 or 1: one community; >= 2: that many */
  double locality;            /* share of a note's ratings from its community */
  int activity;               /* NS_GEN_ACTIVITY_* */
  double power_raters;        /* fraction of raters; < 0: 0.005 if heavy, else 0 */
  int arrival;                /* NS_GEN_ARRIVAL_* */
  double notes_per_post;      /* mean notes per post (>= 1) */
  uint64_t cliques;           /* benign cliques */
  double clique_share;        /* if cliques == 0: about this share of raters in cliques */
  uint32_t clique_size;       /* sizes vary clique_size-1 .. clique_size+1 */
  int ring_place;             /* NS_GEN_PLACE_* */
  int32_t ring_community;     /* 0-based; < 0: 1 with >= 2 communities, else 0 */
  int ring_timing;            /* NS_GEN_TIMING_* */
  /* --reference-ready (docs/gen.md): what the reference scorer needs to run
  ** (topic seed words in note summaries, locked status history for older
  ** notes, modelingGroup 14 on a larger community); the ratings are the
  ** same as without it */
  int reference_ready;
} ns_gen_opts;

typedef struct ns_gen_stats {
  uint64_t n_notes, n_raters, n_ring;
  uint64_t n_ratings;         /* rows written to ratings-00000.tsv */
  uint64_t n_ring_ratings;    /* of which by ring accounts */
  uint64_t n_dropped;         /* honest ratings dropped to avoid duplicates */
  uint64_t n_true_helpful, n_partisan, n_incorrect_popular;
  uint64_t n_bad_targets, n_good_targets;
  uint64_t n_communities;     /* 1 for the one-community model */
  uint64_t n_power, n_cliques, n_clique_raters, n_posts;
  uint64_t n_topic_notes;     /* --reference-ready: notes with topic seed words */
  uint64_t n_locked, n_flips; /* --reference-ready: locked history rows, CRH -> NMR */
  uint64_t n_ref_not_misleading; /* --reference-ready: notes written NOT_MISLEADING on posts
                              ** of notes that were CRH once (ref_peer_nm in gen.c) */
} ns_gen_stats;

/* Fills *o with the documented defaults (2000 raters, 2000 notes, 200000
** ratings, seed 1, no attack, 6 weeks ending 2026-01-01T00:00Z). */
void ns_gen_default_opts(ns_gen_opts *o);

/* Applies a --shape preset to *o: "one" (today's defaults: nothing
** changes), "communities", "heavy", "bursty", "cliques" or "combined"
** (docs/gen.md lists what each sets).  Only the fields of the preset are
** written, so options set afterwards override it.  Returns 0 or NS_EINVAL
** for an unknown name. */
int ns_gen_apply_shape(ns_gen_opts *o, const char *name);

/* The names of the presets, NULL-terminated, for --help. */
extern const char *const ns_gen_shape_names[];

/* Generates the data set into dir (created if missing; files overwritten).
** Also writes gen_meta.json ({"nowMillis", "seed", "options"}), which the
** reference harness reads.
** Returns 0, NS_EINVAL for impossible options (0 raters or notes, a value
** out of its documented range), NS_ENOMEM,
** or -errno for I/O failures.  *st (may be NULL) receives the counts. */
int ns_gen_run(const ns_gen_opts *o, const char *dir, ns_gen_stats *st);

#endif /* NS_GEN_H */
