/*
** tools/eval/compare.h -- `notescore compare A B`: how far two sets of note
** statuses agree, and where they do not.
**
** A side is read from any of three kinds of input, detected from what the
** path is and from the header (columns mapped by name):
**   - a notescore output directory (OUTDIR/scored_notes.tsv, which has
**     notescore's own columns such as coreNoteInterceptRound1);
**   - the reference scorer's output directory (same file name, reference
**     columns only: shared reference-output-columns.md);
**   - a noteStatusHistory TSV file (the public download, or a
**     note_status_history.tsv): currentStatus, currentDecidedBy and
**     currentCoreStatus are the published truth; it has no intercepts.
** A scored_notes.tsv file given directly is read like its directory.
**
** The figures (ns_cmp_compute) are over the notes in both sides: status
** agreement, the 4x4 confusion matrix over CRH / CRNH / NMR / other, the
** CRH Jaccard index, agreement grouped by each side's deciding scorer,
** Pearson correlation of intercepts and of factors where both sides have
** them, and the disagreeing notes ranked worst first.  For reference
** parity (issue #14) also: decidedBy agreement on the rule names without
** their " (vX.Y)" suffix, the status disagreements broken down by B's
** decidedBy (B is the reference by convention), the pairs of differing
** rule names, and per-scorer status agreement for every <model>RatingStatus
** column both sides have.  ns_cmp_locked_load + ns_cmp_side_exclude
** restrict a comparison to the notes without a lockedStatus in an input
** history (a locked note's status is the locked one on both sides).
**
** Who calls it: tools/cmd_compare.c, tools/cmd_report.c (report
** --compare) and the unit tests.  Single-threaded; no global state; no
** exit(): errors are negative NS_E* / -errno codes with a message naming
** the file.
*/
#ifndef NS_COMPARE_H
#define NS_COMPARE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "../../dash/dash.h" /* NS_SCLASS_* status classes */

/* The per-scorer status columns compared when both sides have them:
** ns_cmp_model_names[k] + "RatingStatus". */
#define NS_CMP_MODELS 9
extern const char *const ns_cmp_model_names[NS_CMP_MODELS];

/* What a side was read from. */
enum ns_cmp_kind {
  NS_CMP_NOTESCORE = 1, /* notescore's scored_notes.tsv */
  NS_CMP_REFERENCE,     /* the reference scorer's scored_notes.tsv */
  NS_CMP_HISTORY        /* a noteStatusHistory file */
};
const char *ns_cmp_kind_name(int kind);

/* One side, one row per distinct note, ascending by note id.  Strings in
** strs are interned (a side has few distinct statuses and deciders);
** per-note text (rules) lives in one arena.  All owned by the side. */
typedef struct ns_cmp_side {
  char *path;             /* the file actually read */
  int kind;               /* ns_cmp_kind */
  int has_model;          /* intercept and factor columns present */
  size_t n;               /* notes */
  size_t n_dup;           /* rows dropped: same note id again (last row kept) */
  size_t n_bad;           /* rows dropped: no parsable noteId */
  size_t n_unpublished;   /* history rows dropped: empty currentStatus
                          ** (no status published yet) */
  int64_t *note_id;       /* [n] ascending, distinct */
  uint8_t *cls;           /* [n] NS_SCLASS_* of the status */
  uint16_t *status;       /* [n] index into strs: status text */
  uint16_t *core_status;  /* [n] index into strs: coreRatingStatus / currentCoreStatus */
  uint16_t *decided_by;   /* [n] index into strs: decidedBy / currentDecidedBy */
  double *intercept;      /* [n] coreNoteIntercept, NAN when absent */
  double *factor;         /* [n] coreNoteFactor1, NAN when absent */
  uint32_t *rules;        /* [n] offset into arena of "core | meta" rules text */
  uint16_t *model_status[NS_CMP_MODELS]; /* [n] index into strs of <model>RatingStatus;
                          ** NULL when the side has no such column */
  size_t n_locked;        /* notes dropped by ns_cmp_side_exclude */
  char **strs;            /* interned strings; strs[0] = "" */
  uint16_t *rule;         /* [n_strs] index into strs of the string without its
                          ** " (vX.Y)" suffix (ns_cmp_rule_len) */
  size_t n_strs;
  char *arena;            /* NUL-terminated rule texts */
  size_t arena_len, arena_cap;
} ns_cmp_side;

/* Reads one side from path (a directory, a scored_notes.tsv or a
** noteStatusHistory file).  On success *out is a new side (free with
** ns_cmp_side_free).  On failure *out is NULL, msg (msg_len bytes, may be
** NULL) says what is wrong naming the file, and the return value is
** -errno (missing/unreadable file), NS_EPARSE (unknown kind: the header has
** neither finalRatingStatus nor currentStatus; or no noteId column),
** NS_ENODATA (no rows), NS_ERANGE (more distinct status/decider strings
** than a side can hold) or NS_ENOMEM. */
int ns_cmp_side_load(const char *path, ns_cmp_side **out, char *msg, size_t msg_len);
void ns_cmp_side_free(ns_cmp_side *s);

/* Reads the note ids that have a lockedStatus from a noteStatusHistory
** file, or from DIR/noteStatusHistory-00000.tsv when path is a directory
** (a gen / public-download data directory).  *ids is a new ascending,
** distinct array (free()), *n its length (may be 0).  Errors as
** ns_cmp_side_load; NS_EPARSE when the header lacks noteId or
** lockedStatus. */
int ns_cmp_locked_load(const char *path, int64_t **ids, size_t *n, char *msg, size_t msg_len);

/* Drops from s every note whose id is in ids (ascending, n of them);
** adds the count to s->n_locked. */
void ns_cmp_side_exclude(ns_cmp_side *s, const int64_t *ids, size_t n);

/* Length of a decidedBy value without its version suffix: "CoreModel
** (v1.1)" -> 9, "CoreModel" -> 9.  The reference appends the rule's
** version, notescore may not; both name the same rule. */
size_t ns_cmp_rule_len(const char *decided_by);

/* Index of note_id in s, or -1. */
long ns_cmp_side_find(const ns_cmp_side *s, int64_t note_id);

/* Agreement of one deciding scorer's notes. */
typedef struct ns_cmp_group {
  const char *decided_by; /* borrowed from its side ("" when empty) */
  size_t notes, agree;
} ns_cmp_group;

/* The common notes that B's decidedBy rule (without version) decided:
** how many, how many disagree in status, and the status class pairs. */
typedef struct ns_cmp_rule_group {
  const char *rule;       /* borrowed from B ("" when empty) */
  size_t notes, disagree;
  size_t pairs[NS_SCLASS_COUNT][NS_SCLASS_COUNT]; /* [class in A][class in B], off-diagonal */
} ns_cmp_rule_group;

/* Common notes whose decidedBy rules differ: A's rule, B's rule, count. */
typedef struct ns_cmp_rule_pair {
  const char *a, *b;      /* borrowed, without version suffix */
  size_t notes;
} ns_cmp_rule_pair;

/* One scorer's status column over the common notes: notes with a
** non-empty status on each side, on both, and the same text on both. */
typedef struct ns_cmp_model {
  int present;            /* the column is in both files */
  size_t scored_a, scored_b, scored_both, agree;
} ns_cmp_model;

/* A note both sides have: row indexes into a and b. */
typedef struct ns_cmp_pair {
  size_t ia, ib;
} ns_cmp_pair;

typedef struct ns_cmp_result {
  size_t n_common;                 /* notes in both */
  size_t n_only_a, n_only_b;
  size_t n_agree;                  /* same status class */
  double agreement;                /* n_agree / n_common; NAN when none */
  size_t matrix[NS_SCLASS_COUNT][NS_SCLASS_COUNT]; /* [class in A][class in B] */
  size_t crh_both, crh_either;     /* over the common notes */
  double crh_jaccard;              /* crh_both / crh_either; NAN when 0 */
  ns_cmp_group *by_a, *by_b;       /* per decidedBy of A, of B; most notes first */
  size_t n_by_a, n_by_b;
  size_t n_intercept, n_factor;    /* common notes with both values finite */
  double r_intercept, r_factor;    /* Pearson; NAN when < 2 values or no variance */
  ns_cmp_pair *disagree;           /* every disagreeing note, worst first */
  size_t n_disagree;
  size_t n_rule_agree;             /* same decidedBy rule (ns_cmp_rule_len; both
                                   ** empty counts as the same) */
  double rule_agreement;           /* n_rule_agree / n_common; NAN when none */
  ns_cmp_rule_group *by_rule;      /* per B rule: most disagreeing first, then
                                   ** most notes, then name */
  size_t n_by_rule;
  ns_cmp_rule_pair *rule_pairs;    /* differing rule pairs, most notes first */
  size_t n_rule_pairs;
  ns_cmp_model models[NS_CMP_MODELS];
} ns_cmp_result;

/* Computes every figure of a against b.  "Worst first": a CRH/CRNH swap
** before any other disagreement, then the larger |intercept A - intercept
** B| (when only one side has an intercept: its distance from the CRH
** threshold 0.40), then ascending note id.  The sides must outlive *out.
** Returns 0 or NS_ENOMEM (*out NULL). */
int ns_cmp_compute(const ns_cmp_side *a, const ns_cmp_side *b, ns_cmp_result **out);
void ns_cmp_result_free(ns_cmp_result *r);

/* The result as one JSON object (fields: docs/cli.md), with the worst top
** disagreeing notes in full.  New reference, or NULL on NS_ENOMEM. */
json_t *ns_cmp_to_json(const ns_cmp_side *a, const ns_cmp_side *b, const ns_cmp_result *r,
                       size_t top);

/* Short class names "CRH", "CRNH", "NMR", "other". */
extern const char *const ns_cmp_class_names[NS_SCLASS_COUNT];

#endif /* NS_COMPARE_H */
