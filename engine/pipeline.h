/*
** engine/pipeline.h -- one scoring run: dataset in, scores out.
**
** Stages (design.md §3): count filters and round-1 MF on all ratings ->
** provisional statuses -> rater helpfulness (valid ratings, agree ratio,
** author ratios) -> trust propagation (graph/) -> round-2 MF on the raters
** that pass the helpfulness filter, weighted by trust -> guardrails -> final
** status, explanation tags, status-history update and the two-week lock.
**
** The run is a pure function of (dataset, params): same inputs, same bytes
** out, for any thread count.  "Now" is params->now_ms, never the clock.
**
** Who calls it: tools/ (score CLI on TSVs), engine/score_db.c (`score --db`
** and serve's scheduled runs, on a worker thread).  Threads: the pool
** parallelizes inside; a run never touches the store and opens no file.
*/
#ifndef NS_PIPELINE_H
#define NS_PIPELINE_H

#include <stdatomic.h>
#include <stdint.h>

#include "../base/base.h"
#include "../base/dataset.h"
#include "../base/rules.h"

typedef struct ns_params {
  int64_t now_ms;            /* the run's "now" (--epoch-millis); required */
  uint64_t seed;             /* MF initialization seed (--seed), default 0 */
  int k;                     /* MF factors (1) */
  int min_ratings_note;      /* 5 */
  int min_ratings_rater;     /* 10 (round 1) */
  double crh_threshold;      /* 0.40 */
  double crnh_threshold;     /* -0.05 */
  double crnh_factor_mult;   /* -0.8 */
  double nm_crnh_threshold;  /* -0.15 */
  double factor_threshold;   /* 0.5 */
  double inertia_delta;      /* 0.01 */
  double min_agree_ratio;    /* 0.66 */
  double min_mean_note_score;/* 0.05 */
  double min_crh_vs_crnh;    /* 0.0 */
  double firm_reject_threshold; /* 0.3 (MFCoreScorer); NAN = filters emit NMR */
  int min_minority_net_helpful; /* 4 (MinMinorityRaters); 0 = off */
  double min_minority_net_ratio;/* 0.05 (RaterBalance) */
  int trust;                 /* 1: trust propagation weights round 2 */
  int pseudoraters;          /* 1: pseudo-rater bounds (guardrails) */
  int guardrails;            /* 1: tag/incorrect/diligence/... filters */
  int tag_share_test;        /* 1: TagFilter also needs the share test
                             ** (notescore; 0 = the reference rule) */
  int profile;               /* NS_PROFILE_*: which side of each deliberate
                             ** difference (docs/algorithm.md §9) the run
                             ** takes where it is switchable */
  /* trust seeds: the operator's participant ids (--seeds FILE, read by the
  ** caller with ns_params_load_seeds; the pipeline opens no file).  seeds
  ** NULL = the default established-record rule; non-NULL with n_seeds 0 =
  ** an empty list (no seed: no propagation).  Ids absent from the run are
  ** ignored. */
  const char *const *seeds;
  size_t n_seeds;
  double trust_alpha;        /* damping 0.85 */
  int threads;               /* 0 = ns_default_threads() */
  int progress;              /* 1: progress output on stderr if a tty */
  void *owned;               /* memory this struct owns (the seed list of
                             ** ns_params_load_seeds / ns_params_from_json);
                             ** freed by ns_params_release.  Not a parameter */
} ns_params;

/* Profiles (`--profile`): notescore's defaults, or the reference's choice
** for every deliberate difference that can be switched: trust off, the
** reference tag filter (no share test), stabilization on a bootstrap run.  ns_params_profile sets the
** fields a profile decides; explicit flags applied afterwards override. */
enum { NS_PROFILE_NOTESCORE = 0, NS_PROFILE_REFERENCE = 1 };
void ns_params_default(ns_params *p);
void ns_params_profile(ns_params *p, int profile);
/* "notescore" / "reference" -> NS_PROFILE_*, -1 if unknown. */
int ns_profile_parse(const char *s);
extern const char *const ns_profile_names[2];

/* ---- params as JSON (engine/params.c) ---------------------------------
** The params column of a run (runs.params, docs/dashboards.md "Run
** parameters"): one flat object with the code version, where the run came
** from and every field of ns_params by a camelCase name, e.g.
**   {"version":"0.1.0","source":"score","db":"x.db","nowMs":..,"seed":0,
**    "k":1,..,"crhThreshold":0.4,..,"seeds":null,"trustAlpha":0.85,
**    "threads":0,"progress":1}
** Numbers are written with the fewest digits that read back to the same
** double; NaN is null. */

/* A new malloc'ed JSON text of p.  source ("score", "serve", ...) and db
** (the DB path) may be NULL (then the key is left out).  NULL on ENOMEM. */
char *ns_params_to_json(const ns_params *p, const char *source, const char *db);

/* Reads a params JSON text back: *p starts from ns_params_default() and
** every known key present overrides it, so the params of old runs (other
** or fewer keys: the snake_case keys of notescore <= 0.1.0 are read too)
** come back with defaults for what they did not record.  A "seeds" list is
** copied into memory p owns (ns_params_release).  Returns 0, NS_EPARSE (not
** a JSON object, or a key of the wrong type; msg says which), NS_ENOMEM.
** msg (may be NULL) receives a one-line reason. */
int ns_params_from_json(const char *json, ns_params *p, char *msg, size_t msg_len);

/* Reads a trust seeds file into p->seeds / p->n_seeds (memory p owns):
** participant ids, one a line; blank lines and lines starting with '#' are
** skipped, trailing spaces, tabs and CR are dropped.  A line with a space,
** tab or control byte inside the id, or longer than NS_SEED_ID_MAX bytes,
** is an error "PATH:LINE: reason" in msg.  Returns 0, -errno (cannot open
** or read), NS_EPARSE (bad line), NS_ENOMEM. */
#define NS_SEED_ID_MAX 256
int ns_params_load_seeds(ns_params *p, const char *path, char *msg, size_t msg_len);

/* Frees what p owns (p->owned) and clears the seed list; p stays usable. */
void ns_params_release(ns_params *p);
/* The stages of a run, in order; ns_run_stats.stage_seconds is indexed by
** them and store/ keeps the array as the run's stage_seconds (a JSON array
** in this order).  PUBLISH is timed by the caller (the run does not
** publish). */
#define NS_SCORER_MAX 32
enum ns_stage {
  NS_STAGE_SNAPSHOT = 0,   /* preparing the ratings */
  NS_STAGE_ROUND1,
  NS_STAGE_HELPFULNESS,
  NS_STAGE_TRUST,          /* coordinated groups + propagation */
  NS_STAGE_ROUND2,
  NS_STAGE_GUARDRAILS,
  NS_STAGE_STATUSES,       /* rules, status history, rater rows */
  NS_STAGE_PUBLISH,
  NS_STAGE_COUNT
};
extern const char *const ns_stage_names[NS_STAGE_COUNT];  /* "snapshot", ... */

/* How one run went: timers and work counters, for `score --stats`,
** benchmarks and the runs table.  The engine's own: a new timer is added
** here, never to the score rows (base/dataset.h).  The run fills it as it
** goes (ns__run embeds one) and hands it over whole. */
typedef struct ns_run_stats {
  double seconds;              /* wall time of ns_pipeline_run */
  double stage_seconds[NS_STAGE_COUNT];
  int mf_passes;               /* ALS passes over all rounds */
  double mf_seconds;           /* inside the main ALS fits (both rounds) */
  /* inside the trust stage (0 with --no-trust): */
  double groups_seconds;       /* coordination test */
  double propagation_seconds;  /* ns_trust_propagate, all calls */
  uint64_t propagation_edge_visits;
  /* inside the guardrails stage: */
  double pseudo_seconds;       /* the pseudo-rater refits */
  double qclique_seconds;      /* quasi-cliques and the NoCorrelated refit */
  size_t n_qcliques, n_correlated;  /* quasi-cliques, raters in them */
  double diligence_seconds;    /* low-diligence model */
  int diligence_passes;        /* its passes over the three rounds */
  /* inside the helpfulness stage: */
  double harassment_seconds;   /* harassment fit (once per run) */
  int harassment_passes;       /* its Newton passes */
  /* per scorer (ns_scorer_name(i)), wall time of its whole path; Core's
  ** includes the shared stages it runs (groups, trust, quasi-cliques) */
  double scorer_seconds[NS_SCORER_MAX];
} ns_run_stats;

/* The scorers a run executes, in run order (engine/scorers.c): i in
** 0..ns_scorer_count()-1; "MFCoreScorer", "MFExpansionScorer", ... */
int ns_scorer_count(void);
const char *ns_scorer_name(int i);

/* The default "now" for a dataset: max(createdAtMillis over notes, ratings
** and history) + 1, so that default output is a pure function of the input
** (the reference uses the wall clock).  0 for an empty dataset. */
int64_t ns_pipeline_default_now(const ns_dataset *ds);

/* Scores ds.  *out is a new ns_scores (free with ns_scores_free); on error
** *out is NULL.  Returns 0, NS_EINVAL (bad params), NS_ENODATA (no notes and
** no status history at all), NS_ENOMEM, NS_ECANCELED, or a failed note
** refit solve: NS_ERANGE (a system not positive definite, which needs a zero
** penalty) or NS_ELAPACK (LAPACK rejected a call, k > 1 only).  A dataset
** with notes but too few ratings is not an error: every note is NMR.
** cancel may be NULL; it is another thread's request to stop (the server's
** shutdown): once it reads nonzero, the run stops at the next stage boundary
** with NS_ECANCELED.  stats may be NULL; else it receives the run's timers
** (also on error: what was measured until then; PUBLISH is left 0). */
int ns_pipeline_run(const ns_dataset *ds, const ns_params *p, atomic_int *cancel,
                    ns_scores **out, ns_run_stats *stats);
/* ns_pipeline_run for a caller that owns ds and needs its rating rows
** afterwards only through the score writers (the score CLI): the run takes
** the dataset's rater column as its own edge column, compacted in place,
** instead of copying it (4 bytes per rating less for the whole run:
** docs/architecture.md, "Memory of a scoring run").  On return -- success
** or not -- ds->r_rater is NULL; everything else in ds is unchanged, so
** ns_scores_write_tsv (which reads no raters of ratings) still works, while
** ns_pipeline_run, the store's writers and ns_refresh* must not get it
** again.  The scores are the same as ns_pipeline_run's. */
int ns_pipeline_run_consume(ns_dataset *ds, const ns_params *p, atomic_int *cancel,
                            ns_scores **out, ns_run_stats *stats);

/* Writes scored_notes.tsv, helpfulness_scores.tsv, note_status_history.tsv
** and aux_note_info.tsv into outdir (created if needed), reference column names first, notescore's
** own columns at the end. */
int ns_scores_write_tsv(const ns_scores *sc, const ns_dataset *ds, const char *outdir);

/* ---- note refresh (engine/refresh.c) ----------------------------------
** Between full runs, notes that received ratings are refit with the last
** full run's rater parameters and mu frozen (the final round's per-note
** ridge problem, solved exactly) and their status rules re-applied.
** Skipped by a refresh (kept from the full run or left NaN): rater
** helpfulness, trust, round 1, pseudo-rater bounds (UcbCRNH) and the
** NoHighVol intercept; TagFilter/FilterIncorrect verdicts are carried over.
** Only Core is refit: every other scorer's columns come from the full run
** unchanged and the meta rules run again over them.
** See docs/operations.md "Note refresh". */

/* What a refresh needs of one full run: params, mu, the round-2 ridge
** strength, rater parameters by participant id string, the run's note rows
** and a per-note fingerprint of its ratings.  Self-contained: the run's
** dataset and scores may be freed afterwards. */
typedef struct ns_refresh_base ns_refresh_base;

/* Builds a base from the dataset a full run scored and its result.  p is
** the run's params (copied).  Returns 0, NS_EINVAL, NS_ENOMEM. */
int ns_refresh_base_new(const ns_dataset *ds, const ns_scores *sc, const ns_params *p,
                        ns_refresh_base **out);
void ns_refresh_base_free(ns_refresh_base *b);

/* Note ids of the base whose ratings in ds differ from what the base last
** saw (new, changed or removed ratings), ascending.  *ids is malloc'ed
** (NULL when *n == 0).  Notes unknown to the base (created after the full
** run) are not listed: they wait for the next full run. */
int ns_refresh_changed(const ns_refresh_base *b, const ns_dataset *ds, int64_t **ids,
                       size_t *n);

/* Refits note_ids[0..n) on ds (a newer snapshot of the same store) with the
** base's raters frozen and applies the final-round and meta rules.  *out is
** a new ns_scores holding ONLY the refreshed notes (sorted by note_id) and
** their updated status-history rows (participant indexes of ds), no rater
** rows; ids unknown to the base are skipped.  now_ms stamps the history.
** The base is not modified: call ns_refresh_base_accept() once the result
** is published.  Returns 0, NS_EINVAL, NS_ENOMEM, or a failed refit solve
** (NS_ERANGE, NS_ELAPACK as ns_pipeline_run). */
int ns_pipeline_refresh(const ns_refresh_base *b, const ns_dataset *ds, const int64_t *note_ids,
                        size_t n, int64_t now_ms, ns_scores **out);

/* Records a published refresh in the base: its note rows replace the old
** ones and the notes' rating fingerprints are taken from ds. */
int ns_refresh_base_accept(ns_refresh_base *b, const ns_dataset *ds, const ns_scores *refreshed);

#endif /* NS_PIPELINE_H */
