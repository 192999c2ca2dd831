/*
** engine/pipeline_int.h -- internals shared by the engine/pipeline*.c,
** engine/rules.c and engine/output.c files.  Not a public interface.
**
** One ns__run holds every intermediate array of a scoring run.  Notes are
** the run's "universe" (notes file UNION status history), indexed 0..n-1 in
** ascending noteId; participants use the dataset's participant indexes.
** Ratings that survive the preprocessing filter (reference §1.7 step 5) are
** the run's edges 0..n_r-1, in dataset order (so in note order when the
** dataset is normalized: the bigraph then stores no note list).
**
** Threads: a run is driven by one thread; the loops inside fan out on the
** pool with disjoint writes.
*/
#ifndef NS_PIPELINE_INT_H
#define NS_PIPELINE_INT_H

#include <stdint.h>

#include "../base/base.h"
#include "../base/dataset.h"
#include "../graph/graph.h"
#include "pipeline.h"

/* Reference constants that are not tunable parameters. */
#define NS__NM_CUTOFF_MS        1664755200000LL  /* 2022-10-03: old NOT_MISLEADING */
#define NS__HISTORICAL_CUTOFF_MS 1652918400000LL /* 2022-05-19: first-5 rule */
#define NS__PUBLIC_DELAY_MS     172800000LL      /* 48 h validity window */
#define NS__MAX_HISTORICAL_VALID 5
#define NS__CRNH_MULTIPLIER     5.0              /* author CRNH penalty */
#define NS__LOCK_MS             (14LL * 86400000LL)
#define NS__MIN_TAG_RATINGS     2                /* minRatingsToGetTag */
#define NS__MIN_TAGS_NEEDED     2                /* minTagsNeededForStatus */

/* Everything the rule chain needs to know about one note.  Built from the
** run (or by hand in tests), then fed to ns__rules_*(). */
typedef struct ns__note_facts {
  int32_t n_ratings;        /* numRatings over the scorer's ratings */
  uint8_t cls;              /* ns_class */
  double icpt, fac;         /* model intercept / factor1; NAN = not fitted */
  int8_t prev_status;       /* history currentStatus, UNSET if none */
  int8_t locked_status;     /* history lockedStatus, UNSET if none */
  /* ratings by raters that have a factor in the model, split by sign
  ** (f_u < 0 is "neg", f_u >= 0 is "pos") */
  int32_t n_neg, n_pos;
  double mean_neg, mean_pos;     /* mean helpfulNum per side, NAN if empty */
  int32_t net_neg, net_pos;      /* #HELPFUL - #NOT_HELPFUL per side */
  /* raw tag counts over all the note's ratings */
  int32_t tag_count[NS_N_TAGS];
  /* guardrail verdicts (engine/pipeline_guard.c); read only when guard = 1 */
  uint8_t guard;
  double icpt_max;          /* pseudo-rater upper bound, NAN = none */
  uint32_t tag_fired;       /* TagFilter: NS_TAG_BIT mask of tags that fired */
  uint8_t incorrect_fired;  /* FilterIncorrect */
  double low_diligence;     /* lowDiligenceIntercept, NAN = none (0 from a
                               memset never fires either) */
  double icpt_no_high_vol;  /* NoHighVol intercept, NAN = none */
  double icpt_no_correlated;/* NoCorrelated intercept, NAN = none */
  /* meta-step guardrails (ns__guard_facts) */
  double icpt_pop;          /* population-sampled refit intercept, NAN = none */
  int32_t pop_neg, pop_pos; /* its ratings by rater factor sign */
  uint8_t stab;             /* 1: run NmrDueToMinStableCrhTime on this note */
  int8_t first_non_nmr;     /* history firstNonNMRStatus, UNSET if none */
  int64_t t_stab;           /* history timestampMillisOfNmrDueToMinStableCrhTime */
  int64_t now_ms;           /* the run's now */
  /* the scorer's own guardrail thresholds (engine/scorers.c); 0 = the
  ** MFBaseScorer defaults (0.37, 0.37, 0.263), so hand-built facts keep
  ** the Core values */
  double thr_no_high_vol, thr_no_correlated, thr_low_diligence;
  /* crhSuperThreshold: 0 = the MFBaseScorer default 0.5, < 0 = none */
  double crh_super;
} ns__note_facts;

/* Result of the scorer rule chain for one note. */
typedef struct ns__rule_out {
  int8_t status;            /* CRH, CRNH, NMR, FIRM_REJECT or NYH */
  uint64_t rules;           /* bitmask of ns_rule (1ull << rule) that fired */
} ns__rule_out;

/* Result of the meta rules for one note. */
typedef struct ns__meta_out {
  int8_t status;            /* public status (CRH, CRNH, NMR) */
  int8_t decided_by;        /* ns_rule (NS_RULE_META_INITIAL_NMR when no rule
                               touched the note) */
  uint64_t rules;           /* bitmask of ns_rule (1ull << rule) */
  int8_t first_tag, second_tag;
  int64_t t_stab;           /* updated timestampMillisOfNmrDueToMinStableCrhTime;
                               NS_TS_NONE = outside the rule's scope (or it did
                               not run): the history keeps its value */
} ns__meta_out;

/* Round-1 (prescoring) rules: GeneralCRH, GeneralCRNH, NmCRNH. */
void ns__rules_provisional(const ns__note_facts *f, const ns_params *p, ns__rule_out *out);
/* Final-round scorer rules, reference §4.1 order (MFCoreScorer settings). */
void ns__rules_final(const ns__note_facts *f, const ns_params *p, ns__rule_out *out);
/* Meta rules (engine/meta.c), reference §4.7 order.  s holds every
** scorer's verdict on the note: s->core_status (UNSET = Core did not score
** it) and Core's fields, s->model[] and the note's scopes (modeling_group,
** modeling_multi_group, topic, topic_confident); f the history and tag
** facts. */
void ns__rules_meta(const ns__note_facts *f, const ns_note_score *s, ns__meta_out *out);
/* The meta rules on a note only Core scored, with status core_status (UNSET
** = not even Core): the unit tests' shorthand. */
void ns__rules_meta_core(const ns__note_facts *f, int8_t core_status, ns__meta_out *out);
/* The meta rules in the order they run (engine/meta.c): the reference
** writes metaScorerActiveRules in this order, so a mask of these bits
** prints as the reference's string by walking this array. */
#define NS__META_ORDER_LEN 34
extern const int8_t ns__meta_order[NS__META_ORDER_LEN];
/* The reference's "Name (vX.Y)" of a meta rule (decidedBy,
** metaScorerActiveRules, currentDecidedBy); "" for -1. */
void ns__meta_rule_label(int rule, char *buf, size_t cap);
/* The two explanation tags of a valence (helpful if want_helpful) or -1;
** returns the number of eligible tags found (capped at 2). */
int ns__top_two_tags(const int32_t *tag_count, int want_helpful, int8_t *first, int8_t *second);

/* Per-rating validity for helpfulness (reference §3.1).  Inputs are by
** universe note (status, note creation, latest non-NMR timestamp). */
typedef struct ns__valid_in {
  const int8_t *note_status;        /* CRH/CRNH count; anything else invalid */
  const int64_t *note_created;      /* NS_TS_NONE = unknown */
  const int64_t *note_latest_nonnmr;/* NS_TS_NONE = NaN */
} ns__valid_in;

/* Counts per rater of valid ratings, judged against note_status. */
typedef struct ns__rater_counts {
  int32_t valid, agree;
  int32_t succ_h, succ_nh, unsucc_h, unsucc_nh;
} ns__rater_counts;

/* The helpfulness filter bit (reference §3.4): 1 or 0. */
int ns__above_threshold(double ratio_diff, double mean_score, double agree,
                        double agree_harassment, const ns_params *p);

/* ---- scorers (engine/scorers.c) ---------------------------------------
** One entry per matrix-factorization (and Gaussian) scorer of the
** reference's final scoring run (run_scoring.py _get_scorers, §4.10).
** Each runs on an index view of the run's one rating array: its scope
** mask over the run's edges (rater's modeling group in the scorer's set,
** note in its topic scope), never a copy of the ratings. */
enum ns__topic_mode {
  NS__TOPICS_INCLUDE = 0,   /* every note (CoreWithTopics, Expansion, ...) */
  NS__TOPICS_EXCLUDE,       /* notes with a topic are out (Core, Gaussian) */
  NS__TOPICS_ONLY           /* only notes of spec->topic (topic scorers) */
};
/* NS__KIND_GAUSSIAN with slot NS_MODEL_TOPIC is the GaussianTopicScorer:
** its prescoring is the topic's MF scorer (round 1 only, the spec's MF
** constants), whose rater factors the Gaussian then reads. */
enum ns__scorer_kind { NS__KIND_MF = 0, NS__KIND_GAUSSIAN };
#define NS__SLOT_CORE (-1)  /* the scorer fills ns_note_score's Core fields */

typedef struct ns__scorer_spec {
  const char *name;          /* reference get_name(): "MFCoreScorer", ... */
  int kind;                  /* ns__scorer_kind */
  int slot;                  /* ns_model, or NS__SLOT_CORE */
  uint64_t groups;           /* bit g: modelingGroup g is included; 0 = every rater */
  uint8_t include_unassigned;/* raters absent from userEnrollment */
  double capture;            /* captureThreshold, NAN = none (every scored note) */
  uint8_t strict;            /* strictInclusion: capture also filters the input */
  int8_t topic_mode;         /* ns__topic_mode */
  int8_t topic;              /* ns_topic for NS__TOPICS_ONLY */
  int32_t group_id;          /* modelingGroup / modelingMultiGroup written, else -1 */
  /* status rule constants (MFBaseScorer.__init__ and the overrides) */
  double crh, crnh, crnh_mult, nm_crnh, factor_thr;
  double firm_reject;        /* NAN = none (filters emit NMR) */
  int min_minority;          /* 0 = MinMinorityRaters / RaterBalance off */
  double min_minority_ratio;
  double min_mean_note_score;
  double thr_no_high_vol, thr_no_correlated, thr_low_diligence;
  int tag_pct;               /* tagFilterPercentile */
  double incorrect_thr;      /* incorrectFilterThreshold */
  uint8_t pseudoraters;      /* pseudo-rater bounds (UcbCRNH) */
  uint8_t round1_only;       /* useReputation=False: no helpfulness filter,
                             ** no final round (topic scorers) */
  uint8_t net_rules;         /* 0: no net-helpful rules (Gaussian) */
  int n_confidence;          /* topic: confident = > n pos and > n neg raters */
  /* MF regularization (0 = mf.h default, < 0 = zero) and the global intercept */
  double l_in, l_iu, l_mu, l_fn, l_fu;
  uint8_t no_mu;             /* useGlobalIntercept=False */
  double crh_super;          /* crhSuperThreshold, < 0 = None (no
                             ** CRHSuperThreshold / ElevatedCRHInertia) */
  uint8_t stable_init;       /* useStableInitialization: round 1 starts from
                             ** a fit on modelingGroup 13's notes */
  double crh_bandwidth;      /* Gaussian: the CRH pass's kernel bandwidth,
                             ** 0 = the default 0.1 (ns_gauss_in) */
} ns__scorer_spec;

extern const ns__scorer_spec ns__scorers[];
extern const int ns__n_scorers;
/* Rater scope: is a rater of modeling group g in spec's populations?  g is
** NS__GROUP_ABSENT for raters absent from userEnrollment (then
** include_unassigned decides), NS__GROUP_NONE for an enrollment row
** without modelingGroup (in no set, as the reference's isin on NaN). */
#define NS__GROUP_ABSENT (-2)
#define NS__GROUP_NONE (-1)
int ns__scorer_rater_in(const ns__scorer_spec *sp, int32_t g);
/* Derives a scorer's params from the run's params (profile, trust, seed,
** threads ... stay; thresholds become the scorer's). */
void ns__scorer_params(const ns__scorer_spec *sp, const ns_params *base, ns_params *out);

/* Coordination weights of the run's edges (trust on), exactly the floats
** ns_coord_weights computes, held as a one-byte code per edge into a table
** of the run's distinct values: 1 for almost every edge, 0 or a share for
** the few ratings of coordinated groups, so a handful of codes and 1 byte
** per rating instead of 4.  More than NS__CW_CODES distinct values (many
** groups on many notes) keep the floats (w) instead: exact either way.
** Read with ns__cw_get() / ns__edge_cw(). */
#define NS__CW_CODES 256
typedef struct ns__cw {
  uint8_t *code;               /* per edge: index into value; NULL = w holds */
  float *w;                    /* per edge: the weight (the fallback), or NULL */
  float value[NS__CW_CODES];   /* value[0] = 1 */
  unsigned n_values;           /* codes in use */
  size_t n_below_one;          /* edges with a weight < 1 (the stats) */
} ns__cw;
/* Takes the weights w (n per-edge floats, allocated by ns_malloc*) into
** cw: codes when the distinct values (by bits) fit the table, w freed;
** otherwise (or when the code array cannot be allocated) w itself is
** kept.  Never fails. */
void ns__cw_take(ns__cw *cw, float *w, size_t n);
/* Frees cw and what it holds (NULL is fine). */
void ns__cw_free(ns__cw *cw);
static inline float ns__cw_get(const ns__cw *cw, size_t e) {
  return cw->code ? cw->value[cw->code[e]] : cw->w[e];
}

/* Per-edge flag bits of a scorer's run (ns__run.flags).  Every writer of a
** run's flags array is that run's own thread: the loops that set bits
** (ns__build_scope, the count filters and their inputs, the stable-init
** subset, a Gaussian scorer's round-2 set) are sequential, the pool's
** loops only read them, and each scorer beside Core -- the small ones run
** side by side -- writes only its own array.  So the bits of one byte are
** never written by two threads at once.  A loop that one day sets bits on
** the pool must keep that: chunks of disjoint edge ranges, or of notes
** (an edge belongs to one note). */
#define NS__EF_SCOPE  0x01u  /* the scorer sees the edge (ns__build_scope) */
#define NS__EF_R1     0x02u  /* in the round-1 training set */
#define NS__EF_R2     0x04u  /* in the round-2 training set */
#define NS__EF_BASE   0x08u  /* scratch: a count filter's input */
#define NS__EF_STABLE 0x10u  /* scratch: the stable-init fit's subset */
static inline int ns__ef_get(const uint8_t *flags, size_t e, unsigned bit) {
  return (flags[e] & bit) != 0;
}
static inline void ns__ef_put(uint8_t *flags, size_t e, unsigned bit, int on) {
  flags[e] = (uint8_t)(on ? flags[e] | bit : flags[e] & ~bit);
}
/* A scorer's flags over its scope only (a small scorer's scope is a group's
** raters or a topic's notes: 0.5 to 28 % of the edges on gen data): a bit
** per edge says whether the edge is in the scope, and the flags byte of a
** scope edge is flags[its rank among the scope's edges] -- 1/8 + 1/16 of a
** byte per edge and one per scope edge instead of one per edge.  Every
** NS__EF_* bit implies the scope, so an edge outside it has them all 0.
** Read through ns__fl_get / ns__fl_put (or the run's accessors below). */
typedef struct ns__scope_ix {
  uint64_t *bits;            /* (n_r + 63) / 64 words: edge e in scope */
  uint32_t *base;            /* per word: the scope edges before it */
} ns__scope_ix;
/* Set bits of a word, inline (the builtin is a libgcc call without
** -mpopcnt, which the build does not assume). */
static inline unsigned ns__popcount64(uint64_t x) {
  x -= (x >> 1) & UINT64_C(0x5555555555555555);
  x = (x & UINT64_C(0x3333333333333333)) + ((x >> 2) & UINT64_C(0x3333333333333333));
  x = (x + (x >> 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
  return (unsigned)((x * UINT64_C(0x0101010101010101)) >> 56);
}
static inline int ns__six_has(const ns__scope_ix *x, size_t e) {
  return (int)((x->bits[e >> 6] >> (e & 63)) & 1u);
}
static inline size_t ns__six_pos(const ns__scope_ix *x, size_t e) {
  uint64_t below = x->bits[e >> 6] & ((UINT64_C(1) << (e & 63)) - 1);
  return x->base[e >> 6] + ns__popcount64(below);
}
/* Bit of edge e's flags, of flags indexed by edge (six NULL) or by scope
** rank; putting on an edge outside six's scope does nothing (it has no
** byte; no caller sets a bit there). */
static inline int ns__fl_get(const uint8_t *flags, const ns__scope_ix *six, size_t e,
                             unsigned bit) {
  if (six) {
    if (!ns__six_has(six, e)) return 0;
    e = ns__six_pos(six, e);
  }
  return ns__ef_get(flags, e, bit);
}
static inline void ns__fl_put(uint8_t *flags, const ns__scope_ix *six, size_t e, unsigned bit,
                              int on) {
  if (six) {
    if (!ns__six_has(six, e)) return;
    e = ns__six_pos(six, e);
  }
  ns__ef_put(flags, e, bit, on);
}

/* The edges whose flags exist, in increasing order, with their flags
** index: every edge (six NULL: p = e) or the scope's (p its rank) -- a
** loop over a small scorer's edges visits its scope only, with no rank to
** compute.  for (ns__edge_it it = ns__edges(six, n_r); ns__edge_next(&it);)
** ... it.e, it.p ... */
typedef struct ns__edge_it {
  const ns__scope_ix *six;
  size_t n_r;
  size_t e, p;               /* the edge and its flags index */
  size_t w, w_e, w_p;        /* ranked: next word; the current word's first edge, next index */
  uint64_t rest;             /* ranked: the current word's edges not yet visited */
} ns__edge_it;
static inline ns__edge_it ns__edges(const ns__scope_ix *six, size_t n_r) {
  ns__edge_it it = {six, n_r, (size_t)-1, (size_t)-1, 0, 0, 0, 0};
  return it;
}
static inline int ns__edge_next(ns__edge_it *it) {
  if (!it->six) {
    it->p = ++it->e;
    return it->e < it->n_r;
  }
  while (!it->rest) {
    if (it->w >= (it->n_r + 63) / 64) return 0;
    it->rest = it->six->bits[it->w];
    it->w_e = it->w * 64;
    it->w_p = it->six->base[it->w];
    it->w++;
  }
  it->e = it->w_e + (size_t)__builtin_ctzll(it->rest);
  it->p = it->w_p++;
  it->rest &= it->rest - 1;
  return 1;
}

/* A per-edge mask for the functions that take one: bit of edge e's flags
** (six: ranked over a scope, as above); flags NULL = every edge. */
typedef struct ns__emask {
  const uint8_t *flags;
  unsigned bit;
  const ns__scope_ix *six;
} ns__emask;
static inline int ns__emask_on(ns__emask m, size_t e) {
  return !m.flags || ns__fl_get(m.flags, m.six, e, m.bit);
}
#define NS__EMASK_ALL ((ns__emask){NULL, 0, NULL})
/* m's bit at flags index p (of ns__edges(m.six, n_r)). */
static inline int ns__emask_at(ns__emask m, size_t p) {
  return !m.flags || (m.flags[p] & m.bit) != 0;
}

/* The run. */
typedef struct ns__run {
  const ns_dataset *ds;
  ns_dataset *take;          /* ds itself when the run may take its rater
                             ** column (ns_pipeline_run_consume), else NULL */
  uint8_t *ds_rated;         /* per participant: rated anything in ds, the
                             ** filter's dropped ratings too (set when the
                             ** run took the column; else read from ds) */
  const ns_params *p;
  ns_pool *pool;
  int k;

  /* universe notes */
  size_t n_notes;
  int64_t *note_id;
  int32_t *note_ds;          /* ds note index or -1 */
  int32_t *note_hist;        /* ds history index or -1 */
  int64_t *note_created;
  uint8_t *note_class;
  int32_t *note_author;
  int64_t *note_latest_nonnmr;
  int32_t *num_ratings;

  /* filtered ratings (edges) */
  size_t n_part;             /* participant table size */
  size_t n_r;
  /* the ds rating index of an edge: read it with ns__r_src().  Stored per
  ** edge (r_src) only when the edges of some note are not one run of
  ** consecutive dataset ratings; otherwise (a normalized dataset: ratings
  ** sorted by noteId, the filter drops whole notes) r_src is NULL and
  ** note_src[n] is the ds index of note n's first edge minus that edge's
  ** id (mod 2^32): 4 bytes per note instead of per rating */
  uint32_t *r_src;
  uint32_t *note_src;        /* per universe note, when r_src is NULL */
  /* the universe note of an edge: read it with ns__edge_note() or, on a
  ** walk in edge order, ns__edge_note_walk().  Stored per edge (r_note,
  ** borrowed by g as its edge_note) only when the edges are not in note
  ** order; otherwise (a normalized dataset, r_src NULL or not) r_note is
  ** NULL and g's note_off gives every edge's note: 4 bytes per rating
  ** saved (docs/architecture.md, "Memory of a scoring run") */
  int32_t *r_note;
  int32_t *r_rater;          /* participant index: ds->r_rater[ns__r_src(e)]
                             ** (a consuming run's is the dataset's own
                             ** column, compacted in place: no copy) */
  /* helpfulNum of an edge: ns__src_value() from the dataset's level, not a
  ** stored column (4 bytes per rating; ns__r_levels() for the levels as an
  ** array) */
  ns_bigraph *g;             /* all filtered ratings: participants x notes */
  /* per edge, the scorer's own (Core's for the whole run, a scorer
  ** beside Core's while it runs): NS__EF_* bits -- its scope, round-1 and
  ** round-2 training sets, a count filter's input, the stable-init subset
  ** -- in one byte instead of a byte array each (docs/architecture.md,
  ** "Memory of a scoring run"); read them with ns__in_scope(),
  ** ns__edge_r1(), ns__edge_r2(), ns__run_mask(), ns__rf_get/put().  A
  ** small scorer's (scope under half the edges) is ranked over its scope
  ** (six non-NULL: ns__scope_ix) */
  uint8_t *flags;
  ns__scope_ix *six;

  /* round 1 */
  double mu1;
  double *icpt1, *fac1;      /* per note; fac* are n x k; NAN = not fitted */
  double *ricpt1, *rfac1;    /* per participant */
  int8_t *prov_status;       /* per note, UNSET if not scored */
  size_t n_r1, n_r1_notes, n_r1_raters;

  /* helpfulness */
  double *agree_ratio, *agree_harass, *ratio_diff, *mean_score;  /* per participant */
  int8_t *above;             /* 1/0, -1 = not assessed */
  double *trust;             /* per participant, NAN when off */
  double *earned;            /* per participant: earned agreement edges */
  int32_t *group_id;         /* per participant: coordinated group, 0 = none */
  ns__cw *cw;                /* per edge: coordination weight, 1/m for a
                             ** rating by one of m members of a group on a
                             ** note, else 1 (ns__edge_cw()); NULL when
                             ** trust is off; the Core run's, shared */
  uint8_t has_w;             /* 1: round 2 ran weighted (trust on); its
                             ** per-edge weight is ns__edge_w(), computed
                             ** on the fly rather than stored (4 bytes per
                             ** rating per scorer; docs/architecture.md,
                             ** "Memory of a scoring run") */
  /* trust / group statistics (reported on stderr with progress) */
  size_t n_seeds, n_groups, n_grouped, n_group_weighted;
  int trust_iters;

  /* round 2 */
  double mu2;
  double *icpt2, *fac2, *ricpt2, *rfac2;
  int32_t *n_final_round;    /* per note */
  size_t n_r2, n_r2_notes, n_r2_raters;

  /* guardrails (pipeline_guard.c), per note; NULL when off */
  double *g_icpt_min, *g_icpt_max, *g_icpt_nohv;
  double *g_icpt_nocorr;     /* NoCorrelated intercept (NAN = none) */
  int32_t *qclique_id;       /* per participant: quasi-clique, 0 = none
                             ** (the "correlated" raters); NULL when off */
  uint32_t *g_tag_fired;
  uint8_t *g_incorrect;
  double *g_dilig;           /* lowDiligenceIntercept (NAN = none) */
  double *g_pop_icpt;        /* population-sampled intercept (NAN = none) */
  int32_t *g_pop_neg, *g_pop_pos;
  int g_stab;                /* 1: stabilization runs (ns__guardrails) */
  double *harass_pen;        /* per participant: harassment penalty, fitted
                             ** once per run (pipeline_help.c) */
  ns_run_stats st;           /* timers and counters, filled by every stage
                             ** and handed to the caller whole */

  /* scoping (engine/scorers.c): shared by every scorer of the run */
  int32_t *rater_group;      /* per participant: modelingGroup, NS__GROUP_* */
  int8_t *note_topic;        /* per universe note: ns_topic */
  /* the scorer this (sub-)run state belongs to; the shared arrays above
  ** are the Core run's, a scorer's own state is the rest */
  const ns__scorer_spec *spec;
  int is_sub;                /* 1: a scorer beside Core (shares Core's
                             ** coordination weights, harassment penalty
                             ** and quasi-cliques; no trust stage) */
  int gauss;                 /* 1: a Gaussian scorer's state (its "round 2"
                             ** is the Gaussian intercepts on Core's raters;
                             ** the guardrails stop before the refits) */
  /* rater-level guardrail inputs over the whole snapshot, the same for
  ** every scorer: found by Core's guardrails, read by the others */
  uint8_t *hv_raters;        /* high-volume raters (NoHighVol) */
  int32_t *inc_cnt, *inc_tot;/* incorrect-tag and total ratings per rater */
  /* the other scorers' rater parameters for the rater rows (Core run
  ** only): per ns_model slot, n_part entries each, NAN = none */
  double *rs_icpt, *rs_fac;  /* [slot * n_part + u] */
  int32_t *rs_group, *rs_multi;  /* per participant, -1 none */
  int32_t *sc_ratings;       /* per note: the scorer's numRatings (scope) */
} ns__run;

/* The universe note of edge e: random access (graph.h
** ns_bigraph_edge_note), and on a walk over the edges in increasing id
** (*cur = 0 before the walk's first edge; ns_bigraph_next_note). */
static inline int32_t ns__edge_note(const ns__run *run, size_t e) {
  return ns_bigraph_edge_note(run->g, e);
}
static inline int32_t ns__edge_note_walk(const ns__run *run, size_t e, size_t *cur) {
  return ns_bigraph_next_note(run->g, e, cur);
}
/* The dataset rating of edge e of note n (an index into ds->r_*): for the
** loops that know the note (a note's range, a walk), no note look-up. */
static inline size_t ns__r_src_n(const ns__run *run, size_t e, int32_t n) {
  return run->r_src ? run->r_src[e] : (uint32_t)((uint32_t)e + run->note_src[n]);
}
/* The dataset rating of edge e (random access). */
static inline size_t ns__r_src(const ns__run *run, size_t e) {
  return run->r_src ? run->r_src[e] : ns__r_src_n(run, e, ns__edge_note(run, e));
}
/* helpfulNum of dataset rating r (0, 0.5, 1), as a float (an edge's:
** r = ns__r_src_n or ns__r_src of the edge). */
static inline float ns__src_value(const ns__run *run, size_t r) {
  return (float)NS_LEVEL_VALUE(ns_r_level(run->ds, r));
}
/* ns__r_src of every edge in a new array (for a guard/ call that takes a
** column: ns_guard_high_volume, the harassment labels and penalty); NULL
** when out of memory.  The caller
** frees it. */
uint32_t *ns__r_src_column(const ns__run *run);
/* The level (ns_level: 0, 1, 2) of every edge in a new array, as the
** graph/ detectors take it (graph.h ns_edge_level: one byte a rating);
** NULL when out of memory.  The caller frees it. */
uint8_t *ns__r_levels(const ns__run *run);

/* The scorer's edge flags (flags NULL: the scope is every edge). */
static inline int ns__rf_get(const ns__run *run, size_t e, unsigned bit) {
  return ns__fl_get(run->flags, run->six, e, bit);
}
static inline void ns__rf_put(ns__run *run, size_t e, unsigned bit, int on) {
  ns__fl_put(run->flags, run->six, e, bit, on);
}
static inline int ns__in_scope(const ns__run *run, size_t e) {
  if (!run->flags) return 1;
  return run->six ? ns__six_has(run->six, e) : ns__ef_get(run->flags, e, NS__EF_SCOPE);
}
static inline int ns__edge_r1(const ns__run *run, size_t e) {
  return ns__rf_get(run, e, NS__EF_R1);
}
static inline int ns__edge_r2(const ns__run *run, size_t e) {
  return ns__rf_get(run, e, NS__EF_R2);
}
static inline ns__emask ns__run_mask(const ns__run *run, unsigned bit) {
  return (ns__emask){run->flags, bit, run->six};
}

/* Coordination weight of edge e: 1 when trust is off. */
static inline float ns__edge_cw(const ns__run *run, size_t e) {
  return run->cw ? ns__cw_get(run->cw, e) : 1.0f;
}

/* Round-2 weight of edge e when run->has_w: the coordination weight on the
** edges round 2 may train on (in the scorer's scope, rater above the
** helpfulness threshold, weight > 0), 0 elsewhere. */
static inline float ns__edge_w(const ns__run *run, size_t e) {
  float w;
  if (!ns__in_scope(run, e) || run->above[run->r_rater[e]] != 1) return 0.0f;
  w = ns__edge_cw(run, e);
  return w > 0 ? w : 0.0f;
}

/* pipeline.c: the run's first stage on a zeroed run with ds set: the
** universe of notes, the edges (r_rater, r_src / note_src, r_note when not
** in note order) and the bigraph g.  Returns 0, NS_ENOMEM, NS_ERANGE or NS_EINVAL.
** ns__run_free releases every array a run owns (and its pool). */
int ns__run_prepare(ns__run *run);
void ns__run_free(ns__run *run);
/* pipeline.c: a scorer's view of the run.  The NS__EF_SCOPE bit of
** flags[e] (n_r entries; the other bits are kept) = 1 iff the scorer
** trains on edge e (rater in its populations, note in its topic
** scope and, with strictInclusion, captured); sc_ratings[n] = its
** numRatings of note n; captured[n] = 1 iff its output keeps note n (the
** share of the note's ratings by in-population raters reaches
** captureThreshold -- any note it rated without one).  Reads g, r_rater,
** rater_group and note_topic.  Returns 0. */
int ns__build_scope(const ns__run *run, const ns__scorer_spec *sp, uint8_t *flags,
                    int32_t *sc_ratings, uint8_t *captured);
/* pipeline_help.c */
int ns__valid_counts(const ns__run *run, const ns__valid_in *in, ns__emask use_edge,
                     ns__rater_counts *out);
int ns__helpfulness(ns__run *run);
/* pipeline_guard.c: pseudo-rater bounds, tag and incorrect filters,
** NoHighVol and NoCorrelated (quasi-clique) intercepts from the round-2
** fit. */
int ns__guardrails(ns__run *run);
/* valid[e] (n_r entries) = 1 iff edge e is used (in use_edge) and valid
** against in->note_status (reference §3.1). */
int ns__valid_flags(const ns__run *run, const ns__valid_in *in, ns__emask use_edge,
                    uint8_t *valid);
/* pipeline_trust.c: the coordination test over all kept ratings (fills
** group_id and cw), and trust propagation on the agreement graph of
** the edges in use_edge judged against prov_status (fills trust and
** earned). */
int ns__groups_stage(ns__run *run);
/* comm[u] (n_part entries) = rater u's community: modelingGroup from
** userEnrollment, -1 when missing (the coordination test and the
** quasi-cliques' null model condition on it). */
void ns__rater_communities(const ns__run *run, int32_t *comm);
int ns__trust_stage(ns__run *run, ns__emask use_edge);
/* Copies note n's guardrail verdicts and stabilization inputs into f (final
** round); frees nothing.  ns__guardrails_free releases the g_* arrays. */
void ns__guard_facts(const ns__run *run, size_t n, ns__note_facts *f);

/* Stable initialization (engine/pipeline.c, reference mf_base_scorer.py:73-141):
** modelingGroupToInitializeForStability, minPercentRatingsFromModelingGroup,
** minNumRatingsToIncludeInStableInitialization. */
#define NS__STABLE_GROUP 13
#define NS__STABLE_MIN_SHARE 0.75
#define NS__STABLE_MIN_RATINGS 5
/* Sets bit out of flags[e] for the training edges (bit train) of the
** stable-init fit, clears it elsewhere; returns how many, or (size_t)-1
** when out of memory.  flags: the run's own (then read through its scope
** index, run->six) or an array of n_r.  Needs run->rater_group, g,
** r_rater, n_r, n_notes. */
size_t ns__stable_init_mask(const ns__run *run, uint8_t *flags, unsigned train, unsigned out);
void ns__guardrails_free(ns__run *run);
/* pipeline_history.c */
void ns__history_update(const ns_nsh *prev, int64_t note_id, int32_t author, int64_t created,
                        const ns_note_score *ns, int64_t now_ms, ns_nsh *out);

/* The reference's name of a rule, "Name (vX.Y)" (output.c); "" for -1. */
const char *ns__rule_ref_name(int rule);
/* Bare name of a rule in the meta context ("MetaInitialNMR" for the legacy
** INITIAL_NMR), "" for -1; ns__meta_rule_label adds the version. */
const char *ns__meta_rule_name(int rule);
/* Is decidedBy a rule whose decisions lock after two weeks (§4.9)? */
int ns__locking_enabled(int rule);

/* Formatting helpers shared by output.c (and the tests). */
/* Deterministic double: "%.9g", "-0" as "0", NaN/inf as "". */
void ns__fmt_double(char *buf, size_t cap, double v);

/* Index of id in the sorted array v[0..n), or -1 (pipeline.c). */
int32_t ns__find_id(const int64_t *v, size_t n, int64_t id);

#endif /* NS_PIPELINE_INT_H */
