/*
** base/dataset.h -- the in-memory shapes every module agrees on.
**
**   ns_dataset : one consistent snapshot of the inputs (notes, ratings,
**                note status history, user enrollment), columnar.  Produced
**                by store/ (from TSV files or from the DB), read by graph/,
**                factorization/ and engine/.
**   ns_scores  : the result of one scoring run (per-note and per-rater
**                score rows plus the updated status history).  Produced by
**                engine/, written by store/ (DB tables, TSV files).
**
** Only inputs and score rows live here, so this header does not change
** with engine features: the rule vocabulary of the rows is base/rules.h,
** a run's timers and counters are engine/pipeline.h (ns_run_stats).
**
** Participant ids are opaque strings interned into ds->participants; every
** *_rater / *_author / participant field below is an index into that table
** (or -1 when absent).  Notes are indexed 0..n_notes-1; ratings refer to
** notes by noteId (int64) because the public data is not referentially
** closed: a rating may name a note that is absent from the notes file.
**
** Thread safety: a dataset is immutable once built; any thread may read it.
*/
#ifndef NS_DATASET_H
#define NS_DATASET_H

#include <math.h>
#include <stdint.h>

#include "base.h"

/* ---- enumerations ------------------------------------------------------ */

/* Note classification (notes.classification). */
enum ns_class {
  NS_CLASS_NONE = 0,        /* unknown / note deleted */
  NS_CLASS_MISLEADING = 1,  /* MISINFORMED_OR_POTENTIALLY_MISLEADING */
  NS_CLASS_NOT_MISLEADING = 2
};

/* Helpfulness level of one rating; value = level / 2.0. */
enum ns_level {
  NS_LEVEL_NOT_HELPFUL = 0,       /* 0.0 */
  NS_LEVEL_SOMEWHAT_HELPFUL = 1,  /* 0.5 */
  NS_LEVEL_HELPFUL = 2            /* 1.0 */
};
#define NS_LEVEL_VALUE(l) ((double)(l) * 0.5)

/* Note statuses.  NS_STATUS_UNSET means "no value" (NaN in the reference). */
enum ns_status {
  NS_STATUS_UNSET = -1,
  NS_STATUS_NMR = 0,          /* NEEDS_MORE_RATINGS */
  NS_STATUS_CRH = 1,          /* CURRENTLY_RATED_HELPFUL */
  NS_STATUS_CRNH = 2,         /* CURRENTLY_RATED_NOT_HELPFUL */
  NS_STATUS_FIRM_REJECT = 3,  /* internal: blocks downstream CRH */
  NS_STATUS_NYH = 4           /* NEEDS_YOUR_HELP (internal) */
};
/* Public string for a status ("" for UNSET); and the reverse (-1 unknown). */
const char *ns_status_name(int status);
int ns_status_parse(const char *s, size_t len);

/* Rating source (ratings.ratingSourceBucketed). */
enum { NS_SOURCE_DEFAULT = 0, NS_SOURCE_POPULATION_SAMPLED = 1 };

/* The 22 rating tags, one bit each, in public TSV column order: 9 helpful
** tags (bits 0..8) then 13 not-helpful tags (bits 9..21). */
#define NS_N_HELPFUL_TAGS 9
#define NS_N_NOT_HELPFUL_TAGS 13
#define NS_N_TAGS 22
extern const char *const ns_tag_names[NS_N_TAGS];
/* The tag names as an X-macro, so that tables keyed by tag (the ratings
** column table, store/format.c) are built from this one list. */
#define NS_TAG_LIST(X)                                                                          \
  X(helpfulOther) X(helpfulInformative) X(helpfulClear) X(helpfulEmpathetic)                     \
  X(helpfulGoodSources) X(helpfulUniqueContext) X(helpfulAddressesClaim)                         \
  X(helpfulImportantContext) X(helpfulUnbiasedLanguage) X(notHelpfulOther)                       \
  X(notHelpfulIncorrect) X(notHelpfulSourcesMissingOrUnreliable)                                 \
  X(notHelpfulOpinionSpeculationOrBias) X(notHelpfulMissingKeyPoints) X(notHelpfulOutdated)      \
  X(notHelpfulHardToUnderstand) X(notHelpfulArgumentativeOrBiased) X(notHelpfulOffTopic)         \
  X(notHelpfulSpamHarassmentOrAbuse) X(notHelpfulIrrelevantSources)                              \
  X(notHelpfulOpinionSpeculation) X(notHelpfulNoteNotNeeded)
/* Tie-break rank of each tag (reference constants): higher wins a tie. */
extern const int ns_tag_rank[NS_N_TAGS];
#define NS_TAG_BIT(i) (1u << (i))
#define NS_TAG_IS_HELPFUL(i) ((i) < NS_N_HELPFUL_TAGS)
/* Index of a tag name, or -1. */
int ns_tag_index(const char *s, size_t len);
enum {
  NS_TAG_NH_OTHER = 9,
  NS_TAG_NH_INCORRECT = 10,
  NS_TAG_NH_SOURCES_MISSING = 11,
  NS_TAG_NH_HARD_TO_UNDERSTAND = 15,
  NS_TAG_NH_SPAM_HARASSMENT = 18,
  NS_TAG_NH_IRRELEVANT_SOURCES = 19
};

/* Enrollment states; the value is the reference's thrift code
** (constants.py enrollmentStateToThrift), which helpfulness_scores.tsv
** writes and the enrollment readers accept in place of the name.  The DB
** keeps the name, so this numbering is not stored. */
enum ns_enroll {
  NS_ENROLL_EARNED_IN = 0, NS_ENROLL_AT_RISK = 1, NS_ENROLL_EARNED_OUT_NO_ACK = 2,
  NS_ENROLL_EARNED_OUT_ACK = 3, NS_ENROLL_NEW_USER = 4, NS_ENROLL_REMOVED = 5,
  NS_ENROLL_API_TEST_USER = 6, NS_ENROLL_API_EARNED_IN = 7, NS_ENROLL_API_EARNED_OUT = 8
};
extern const char *const ns_enroll_names[9];
int ns_enroll_parse(const char *s, size_t len);  /* -1 if unknown */

/* ---- value domains ------------------------------------------------------
** The row rules of the public files live in store/format.c (one validator
** for every reader); these small checks are shared with the places that
** see an id or a header outside a row (GET /v1/notes/{id}, BOM, duplicate
** header names). */

/* NULL when id is a valid public note id (positive), else the reason. */
const char *ns_check_note_id(int64_t id);
/* NULL when ms is a valid createdAtMillis (>= 0), else the reason. */
const char *ns_check_created_ms(int64_t ms);
/* Bytes of a leading UTF-8 byte order mark in s (3 or 0); both readers skip
** it before the header. */
size_t ns_bom_len(const char *s, size_t n);
/* Header fields (names[i], lens[i]) with a name given twice: returns the
** index of the first repeat and sets *first to the earlier occurrence, or
** returns -1.  Empty names are ignored.  Both readers reject such a header
** (which column would count is ambiguous). */
int ns_header_dup(const char *const *names, const size_t *lens, int n, int *first);

/* ---- input snapshot ---------------------------------------------------- */

/* One row of noteStatusHistory (24 columns, reference §1.4).  Timestamps
** that are absent are NS_TS_NONE; statuses absent are NS_STATUS_UNSET. */
#define NS_TS_NONE INT64_MIN
typedef struct ns_nsh {
  /* Fields by size, widest first (no padding: 2.7 M rows in the public
  ** data, read and written once each per run); the TSV column order is
  ** store/format.c's table, not this one. */
  int64_t note_id;
  int64_t created_ms;
  int64_t ts_first_non_nmr;            /* timestampMillisOfFirstNonNMRStatus */
  int64_t ts_current;                  /* timestampMillisOfCurrentStatus */
  int64_t ts_latest_non_nmr;           /* timestampMillisOfLatestNonNMRStatus */
  int64_t ts_lock;                     /* timestampMillisOfStatusLock */
  int64_t ts_retro_lock;               /* timestampMillisOfRetroLock */
  double current_modeling_group;       /* NAN = none */
  int64_t ts_most_recent_change;       /* timestampMillisOfMostRecentStatusChange */
  int64_t ts_nmr_due_to_stable_crh;    /* timestampMillisOfNmrDueToMinStableCrhTime */
  double current_modeling_multi_group; /* NAN = none */
  int64_t ts_minute_final_output;      /* timestampMinuteOfFinalScoringOutput */
  int64_t ts_first_nmr_due_to_stable_crh;
  int64_t above_pcrh_threshold_time;   /* abovePcrhThresholdTime */
  int32_t author;                      /* participant index or -1 */
  int8_t first_non_nmr_status;
  int8_t current_status;
  int8_t most_recent_non_nmr_status;
  int8_t locked_status;
  int8_t current_core_status;
  int8_t current_expansion_status;
  int8_t current_group_status;
  int8_t current_multi_group_status;
  char decided_by[48];                 /* currentDecidedBy ("" = none) */
} ns_nsh;

/* One row of userEnrollment. */
typedef struct ns_enrollment {
  int32_t participant;                 /* participant index */
  int8_t state;                        /* ns_enroll, -1 unknown */
  int64_t successful_needed;           /* successfulRatingNeededToEarnIn */
  int64_t ts_last_state_change;
  int64_t ts_last_earn_out;            /* NS_TS_NONE if absent */
  char modeling_population[16];        /* CORE / EXPANSION / ... */
  int32_t modeling_group;              /* -1 = absent */
  int64_t times_earned_out;
} ns_enrollment;

typedef struct ns_dataset {
  ns_strtab *participants;   /* owned; index <-> participant id string */

  /* notes, one per noteId, in load order */
  size_t n_notes;
  int64_t *note_id;
  int32_t *note_author;      /* participant index or -1 */
  int64_t *note_created_ms;
  int64_t *note_tweet_id;    /* -1 = deleted post */
  uint8_t *note_class;       /* ns_class */
  /* Note summaries (notes.summary; text/topics.c reads them): note i's text
  ** is note_text[note_text_off[i] .. + note_text_len[i]), UTF-8 as read,
  ** not NUL-terminated; length 0 = no summary.  One arena for every note
  ** (the public data has 2.5 M notes): no per-note allocation, and
  ** ns_dataset_normalize only permutes the (offset, length) pairs.  Rows
  ** added without ns_dataset_set_note_text have no summary. */
  char *note_text;
  size_t note_text_size, note_text_cap;  /* bytes used / allocated */
  uint64_t *note_text_off;
  uint32_t *note_text_len;
  size_t note_text_rows;     /* rows the two arrays above hold (capacity) */

  /* ratings, one per (noteId, rater) -- duplicates already resolved */
  size_t n_ratings;
  size_t r_cap;              /* rows the rating columns hold
                             ** (ns_dataset_reserve_ratings) */
  int64_t *r_note_id;        /* noteId (may be absent from notes); NULL
                             ** after ns_dataset_pack_note_ids(), then
                             ** the r_note_run_* fields below hold it */
  int32_t *r_rater;          /* participant index */
  /* A rating's createdAtMillis, level (ns_level), tags (NS_TAG_BIT(i) for
  ** each tag set) and source (NS_SOURCE_*), packed into 8 bytes where
  ** plain columns took 14 (they live for the whole scoring run:
  ** docs/architecture.md, "Memory of a scoring run").  Read them with
  ** ns_r_created() ... ns_r_source() and write them with
  ** ns_dataset_set_rating_meta(), never through these fields.  With
  ** off = createdAtMillis - NS_R_TIME_BASE_MS taken mod 2^64:
  **   r_meta[i]    bits 0..21 tags, 22..23 level, 24 source, 25..31 off's
  **                bits 32..38;
  **   r_time_lo[i] off's bits 0..31;
  **   r_time_hi[i] off's bits 39..63 -- a column only once a time outside
  **                [NS_R_TIME_BASE_MS, NS_R_TIME_BASE_MS + 2^39) (2020-01-01
  **                to 2037-06) has been stored (rows before it 0), NULL
  **                otherwise.
  ** Every int64 round-trips bit for bit. */
  uint32_t *r_meta;
  uint32_t *r_time_lo;
  uint32_t *r_time_hi;

  size_t n_history;
  ns_nsh *history;

  size_t n_enrollment;
  ns_enrollment *enrollment;

  /* The noteId column run-length coded, for a caller that released
  ** r_note_id (ns_dataset_pack_note_ids; all 0 / NULL otherwise): ratings
  ** r_note_run_off[k] .. r_note_run_off[k+1]-1 have noteId
  ** r_note_run_id[k], ids strictly ascending.  16 bytes per rated note
  ** where the column takes 8 per rating. */
  size_t n_note_runs;
  int64_t *r_note_run_id;    /* n_note_runs */
  uint64_t *r_note_run_off;  /* n_note_runs + 1 */

  /* The notes' topics (ns_topic per note, in note order) when a caller
  ** settled them and let the summaries go (ns_dataset_settle_topics); NULL
  ** otherwise, and a run assigns them from the summaries (text/topics.h). */
  int8_t *note_topic;
} ns_dataset;

/* ---- a rating's packed fields (the r_meta layout above) ---------------- */

#define NS_R_TIME_BASE_MS 1577836800000LL  /* 2020-01-01T00:00:00Z */
#define NS_R_TAGS_MASK ((1u << NS_N_TAGS) - 1u)
#define NS_R_LEVEL_SHIFT 22
#define NS_R_SOURCE_SHIFT 24
#define NS_R_TIME_SHIFT 25                 /* r_meta's time bits */
#define NS_R_TIME_HI_SHIFT 39              /* r_time_hi's first bit of off */

/* The fields of one r_meta word.  A view over the dataset's rows (the
** guardrails' ns_guard_fit) reads the word and these; ns_r_meta_make()
** builds a word with no time bits (level < 4, source < 2, tags within
** NS_R_TAGS_MASK). */
static inline uint32_t ns_r_meta_tags(uint32_t m) { return m & NS_R_TAGS_MASK; }
static inline uint8_t ns_r_meta_level(uint32_t m) { return (uint8_t)((m >> NS_R_LEVEL_SHIFT) & 3u); }
static inline uint8_t ns_r_meta_source(uint32_t m) { return (uint8_t)((m >> NS_R_SOURCE_SHIFT) & 1u); }
static inline uint32_t ns_r_meta_make(unsigned level, uint32_t tags, unsigned source) {
  return (tags & NS_R_TAGS_MASK) | (uint32_t)(level & 3u) << NS_R_LEVEL_SHIFT |
         (uint32_t)(source & 1u) << NS_R_SOURCE_SHIFT;
}

/* Rating i's createdAtMillis, level, tags and source (i < n_ratings):
** a shift and a mask each, the time one or two more loads. */
static inline uint8_t ns_r_level(const ns_dataset *ds, size_t i) {
  return ns_r_meta_level(ds->r_meta[i]);
}
static inline uint32_t ns_r_tags(const ns_dataset *ds, size_t i) {
  return ns_r_meta_tags(ds->r_meta[i]);
}
static inline uint8_t ns_r_source(const ns_dataset *ds, size_t i) {
  return ns_r_meta_source(ds->r_meta[i]);
}
static inline int64_t ns_r_created(const ns_dataset *ds, size_t i) {
  uint64_t off = (uint64_t)(ds->r_meta[i] >> NS_R_TIME_SHIFT) << 32 | ds->r_time_lo[i];
  if (ds->r_time_hi) off |= (uint64_t)ds->r_time_hi[i] << NS_R_TIME_HI_SHIFT;
  off += (uint64_t)NS_R_TIME_BASE_MS;
  /* back to int64 without the implementation-defined conversion (the
  ** compiler makes it a move) */
  return off <= (uint64_t)INT64_MAX ? (int64_t)off : -(int64_t)(~off) - 1;
}

/* Empty dataset with its participant table. */
int ns_dataset_new(ns_dataset **out);
void ns_dataset_free(ns_dataset *ds);
/* Capacity management for the columnar arrays (grow-only). */
int ns_dataset_reserve_notes(ns_dataset *ds, size_t n);
int ns_dataset_reserve_ratings(ns_dataset *ds, size_t n);
/* Sets rating i's createdAtMillis (any int64), level (< 4), tags (within
** NS_R_TAGS_MASK) and source (< 2); i < ds->r_cap.  The first time outside
** the r_meta / r_time_lo range allocates the r_time_hi column.  Returns 0,
** NS_ENOMEM, or NS_EINVAL / NS_ERANGE (row / a field out of range: nothing
** written).  The rating's noteId and rater are plain columns, set directly. */
int ns_dataset_set_rating_meta(ns_dataset *ds, size_t i, int64_t created, unsigned level,
                               uint32_t tags, unsigned source);
/* Sets note i's summary (i < the reserved note capacity) to a copy of
** s[0..len); len 0 clears it.  NS_ENOMEM or NS_ERANGE (len >= 4 GiB). */
int ns_dataset_set_note_text(ns_dataset *ds, size_t i, const char *s, size_t len);
/* Note i's summary and its length (0 and "" when none). */
static inline const char *ns_dataset_note_text(const ns_dataset *ds, size_t i, size_t *len) {
  if (i >= ds->note_text_rows || ds->note_text_len[i] == 0) {
    *len = 0;
    return "";
  }
  *len = ds->note_text_len[i];
  return ds->note_text + ds->note_text_off[i];
}
/* Sort ratings by (noteId, rater string) and notes by noteId so that
** snapshots from different sources (TSV, DB) are row-for-row identical;
** for duplicate (noteId, rater) keep the row with the latest createdAtMillis
** (ties: the later row).  Likewise dedupe notes by noteId, history by noteId,
** enrollment by participant. */
int ns_dataset_normalize(ns_dataset *ds);
/* ns_dataset_normalize then ns_dataset_pack_note_ids, in one step that
** never gathers the noteId column: its runs are read through the sort's
** permutation, so the step's peak is the sort's (the score CLI: 8 bytes
** per rating less at that peak; docs/architecture.md, "Memory of a scoring
** run").  The same dataset as the two calls; the same contract as the
** packed form.  NS_EINVAL when already packed. */
int ns_dataset_normalize_pack(ns_dataset *ds);
/* Releases the per-rating noteId column: builds the r_note_run_* form
** and frees r_note_id (NULL after).  The ratings must be sorted by noteId
** (ns_dataset_normalize does it; NS_EINVAL otherwise, the dataset
** unchanged); NS_ENOMEM likewise; 0 also when already packed.
**
** An explicit opt-in for a caller that owns the dataset and hands it only
** to readers of the packed form: ns_pipeline_run and the score output
** writers (engine/output.c) read either form; the store's writers,
** ns_refresh and the server read r_note_id and must not get a packed
** dataset, and it cannot be normalized or grown (NS_EINVAL).  The score
** CLI packs after normalizing: 8 bytes per rating less for the whole run
** (docs/architecture.md, "Memory of a scoring run"). */
int ns_dataset_pack_note_ids(ns_dataset *ds);
/* Takes topic (n_notes entries, ns_topic, from ns_topics_assign on this
** dataset; allocated with ns_malloc*) as the notes' topics and frees the
** summaries, which nothing else in a scoring run reads: their arena is
** the dataset's largest per-note part (the public notes' summaries run to
** 280 characters).  Like ns_dataset_pack_note_ids an opt-in of the score
** CLI, whose dataset goes only to the run (which then uses ds->note_topic)
** and the score writers; the notes cannot be grown after (NS_EINVAL from
** ns_dataset_reserve_notes), normalize keeps the topics with their notes.
** Returns 0. */
int ns_dataset_settle_topics(ns_dataset *ds, int8_t *topic);
/* Fresh NSH row with every optional field absent. */
void ns_nsh_init(ns_nsh *h, int64_t note_id);

/* ---- scoring results --------------------------------------------------- */

/* The scorers beside Core whose per-note columns the reference writes
** (reference §4.10, ../shared/reference-output-columns.md).  Core's own
** values stay in ns_note_score's core fields.  ns_model_prefix[] is the
** column prefix: "coreWithTopics" -> coreWithTopicsNoteIntercept, ... */
enum ns_model {
  NS_MODEL_CORE_WITH_TOPICS = 0,
  NS_MODEL_EXPANSION,
  NS_MODEL_EXPANSION_PLUS,
  NS_MODEL_GROUP,            /* the group model of the note's modelingGroup */
  NS_MODEL_MULTI_GROUP,      /* MultiGroupModel01 */
  NS_MODEL_TOPIC,            /* the topic model of the note's topic */
  NS_MODEL_GAUSSIAN,
  NS_MODEL_GAUSSIAN_CORE_WITH_TOPICS,
  NS_MODEL_COUNT
};
extern const char *const ns_model_prefix[NS_MODEL_COUNT];

/* One scorer's verdict on one note.  status UNSET and intercept NAN when
** the scorer did not score the note (out of its scope). */
typedef struct ns_model_score {
  double intercept, factor;
  double intercept_no_high_vol, intercept_no_correlated;  /* NAN if none */
  uint64_t rules;              /* its ActiveRules: bits 1ull << ns_rule (scorer rules) */
  int32_t n_final_round;       /* NumFinalRoundRatings */
  int8_t status;               /* the scorer's status (may be FIRM_REJECT/NYH) */
} ns_model_score;

/* Note topics (reference enums.Topics); 0 = unassigned. */
enum ns_topic {
  NS_TOPIC_NONE = 0, NS_TOPIC_UKRAINE_CONFLICT = 1, NS_TOPIC_GAZA_CONFLICT = 2,
  NS_TOPIC_MESSI_RONALDO = 3, NS_TOPIC_SCAMS = 4, NS_TOPIC_IN_DIMENSION_TWO = 5,
  NS_TOPIC_COUNT
};
extern const char *const ns_topic_names[NS_TOPIC_COUNT];  /* "" then "UkraineConflict", ... */

typedef struct ns_note_score {
  /* Fields by size, widest first, so the row has no padding: one row per
  ** note lives for a whole run (the public data has 2.5 M notes). */
  int64_t note_id;
  int64_t created_ms;          /* NS_TS_NONE if unknown */
  /* core model (round 2 / final) */
  double intercept, factor;    /* NAN when the note was not scored */
  double intercept_r1, factor_r1;  /* round-1 (provisional) fit */
  double intercept_min, intercept_max;  /* pseudo-rater bounds, NAN if off */
  double intercept_no_high_vol, intercept_no_correlated;  /* NAN if off */
  uint64_t core_rules;         /* coreActiveRules: bits 1ull << ns_rule */
  uint64_t meta_rules;         /* metaScorerActiveRules: bits 1ull << ns_rule */
  int64_t ts_nmr_due_to_stable_crh;  /* new timestampMillisOfNmrDueToMinStableCrhTime
                                        for the history row; 0 = keep the previous */
  double low_diligence_intercept;  /* lowDiligenceIntercept, NAN if off/none */
  /* the other scorers and the note's scopes (reference-parity columns) */
  ns_model_score model[NS_MODEL_COUNT];
  double cwt_intercept_min, cwt_intercept_max;  /* coreWithTopicsNoteIntercept{Min,Max} */
  double intercept_pop;        /* coreNoteInterceptPopulationSampled, NAN if none */
  int32_t note_index;          /* index into ds->note_*, or -1 (deleted) */
  int32_t num_ratings;         /* all ratings on the note (reference numRatings) */
  int32_t num_final_round_ratings;
  uint32_t active_filter_tags; /* tag bits that fired in the tag filter */
  int32_t modeling_group;      /* modelingGroup of the group model that scored it, -1 none */
  int32_t modeling_multi_group;/* modelingMultiGroup, -1 none */
  uint8_t classification;      /* ns_class */
  int8_t core_status;          /* coreRatingStatus (scorer status) */
  int8_t final_status;         /* finalRatingStatus (public statuses only) */
  int8_t decided_by;           /* ns_rule that set the final status (base/rules.h) */
  int8_t first_tag, second_tag;  /* tag index or -1 */
  int8_t provisional_status;   /* round-1 status (used by helpfulness) */
  int8_t topic;                /* noteTopic (ns_topic), 0 none */
  int8_t topic_confident;      /* topicNoteConfident 1/0, -1 = none */
} ns_note_score;

/* Clears s and marks every score "none": NAN intercepts and factors, UNSET
** statuses, no scopes (modeling groups -1, no topic, topicNoteConfident
** unset).  Producers start every row from here. */
void ns_note_score_init(ns_note_score *s, int64_t note_id);

typedef struct ns_rater_score {
  int32_t participant;         /* participant index */
  double intercept, factor;    /* final round, NAN if not in round 2 */
  double intercept_r1, factor_r1;  /* first round, NAN if not fitted */
  double crh_crnh_ratio_diff;  /* NAN if authored no scored note */
  double mean_note_score;      /* NAN likewise */
  double agree_ratio;          /* NAN if no valid rating */
  double agree_ratio_harassment;  /* with the harassment penalty */
  int8_t above_threshold;      /* aboveHelpfulnessThreshold: 1/0, -1 = NaN */
  int32_t successful_helpful, successful_not_helpful;
  int32_t unsuccessful_helpful, unsuccessful_not_helpful;
  int32_t ratings_awaiting;    /* ratingsAwaitingMoreRatings */
  int32_t rated_after_decision;
  int32_t notes_crh, notes_crnh, notes_nmr;  /* as author */
  int32_t num_ratings;         /* all ratings by the rater */
  double trust;                /* raterTrust in [0,1], NAN if off */
  int32_t group_id;            /* coordinatedGroupId, 0 = none */
  int32_t qclique_id;          /* quasiCliqueId, 0 = none (graph/qclique.c) */
  /* the other MF scorers' rater parameters (their final round; NAN where
  ** the rater is not in it), indexed by ns_model: CORE_WITH_TOPICS,
  ** EXPANSION, EXPANSION_PLUS, GROUP (the rater's group model), MULTI_GROUP
  ** -> coreWithTopicsRaterIntercept, expansionRaterFactor1, ...  The other
  ** slots stay NAN. */
  double model_intercept[NS_MODEL_COUNT], model_factor[NS_MODEL_COUNT];
  int32_t modeling_group;       /* modelingGroup of the group model that fit
                                ** the rater, -1 none */
  int32_t modeling_multi_group; /* modelingMultiGroup likewise, -1 none */
} ns_rater_score;

typedef struct ns_scores {
  size_t n_notes;
  ns_note_score *notes;        /* sorted by note_id */
  size_t n_raters;
  ns_rater_score *raters;      /* sorted by participant id string */
  size_t n_history;
  ns_nsh *history;             /* updated status history, sorted by note_id */
  double global_intercept;     /* mu of the final round */
  double global_intercept_r1;
  int64_t now_ms;              /* the run's "now" (--epoch-millis) */
  /* what was scored (kept in the run's row; engine/refresh.c reads the
  ** round-2 counts).  How long it took and how much work it was are the
  ** producer's business: engine/pipeline.h ns_run_stats. */
  size_t n_ratings_in, n_ratings_round1, n_ratings_round2;
  size_t n_raters_round1, n_raters_round2, n_notes_round1, n_notes_round2;
} ns_scores;

void ns_scores_free(ns_scores *s);

#endif /* NS_DATASET_H */
