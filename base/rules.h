/*
** base/rules.h -- the status rules a score row can name: ns_note_score's
** core_rules / meta_rules are bitmasks of (1ull << ns_rule) and decided_by is
** one ns_rule (base/dataset.h).  The engine decides when a rule fires
** (engine/rules.c); store/ writes the names into the DB (rule_names,
** decided_by), dash/ and server/ print them.  Kept apart from dataset.h so
** that a new rule touches only this vocabulary, and in base/ because store/,
** below the engine, must name the rules too.
**
** The numbering is part of the DB (note_scores.core_rules bits, the
** rule_names table): append new rules before NS_RULE_COUNT, never reorder.
*/
#ifndef NS_RULES_H
#define NS_RULES_H

/* Rules that can fire; a note's rules are a bitmask of (1ull << rule).
** ns_rule_names[] gives the reference's rule names. */
enum ns_rule {
  NS_RULE_INITIAL_NMR = 0,
  NS_RULE_GENERAL_CRH,
  NS_RULE_GENERAL_CRNH,
  NS_RULE_UCB_CRNH,
  NS_RULE_RATIO_CRNH,
  NS_RULE_NM_CRNH,
  NS_RULE_CRH_INERTIA,
  NS_RULE_TAG_FILTER,
  NS_RULE_INCORRECT_FILTER,
  NS_RULE_LOW_DILIGENCE,
  NS_RULE_LARGE_FACTOR,
  NS_RULE_REJECT_LOW_INTERCEPT,
  NS_RULE_MIN_MINORITY_RATERS,
  NS_RULE_RATER_BALANCE,
  NS_RULE_NO_HIGH_VOL,
  NS_RULE_NO_CORRELATED,
  NS_RULE_POPULATION_SAMPLED,
  NS_RULE_STABILIZATION,       /* NmrDueToMinStableCrhTime */
  NS_RULE_DRIFT_GUARD,         /* ScoringDriftGuard (lock) */
  NS_RULE_INSUFFICIENT_EXPL,   /* InsufficientExplanation */
  NS_RULE_CORE_MODEL,          /* meta: CoreModel decided */
  /* meta rules of the other scorers (reference §4.7), in no particular
  ** order (the order they run in is engine/meta.c's) */
  NS_RULE_META_INITIAL_NMR,    /* MetaInitialNMR */
  NS_RULE_EXPANSION_PLUS_MODEL,
  NS_RULE_EXPANSION_MODEL,
  NS_RULE_CORE_WITH_TOPICS_MODEL,
  NS_RULE_MULTI_GROUP_MODEL_01,
  NS_RULE_GROUP_MODEL_01,      /* GroupModel01 .. GroupModel14 are */
  NS_RULE_GROUP_MODEL_14 = NS_RULE_GROUP_MODEL_01 + 13,  /* consecutive */
  NS_RULE_GROUP_MODEL_33,
  NS_RULE_GROUP_MODEL_33_NMR,
  NS_RULE_GROUP_MODEL_18_NMR,
  NS_RULE_GAUSSIAN_MODEL,
  NS_RULE_GAUSSIAN_CORE_WITH_TOPICS_MODEL,
  NS_RULE_TOPIC_MODEL_01,      /* TopicModel01 .. TopicModel05 are */
  NS_RULE_TOPIC_MODEL_05 = NS_RULE_TOPIC_MODEL_01 + 4,   /* consecutive */
  /* scorer rules added after the meta rules (the numbering is stored):
  ** they run between TagFilter and FilterIncorrect (engine/rules.c) */
  NS_RULE_CRH_SUPER,           /* CRHSuperThreshold */
  NS_RULE_ELEVATED_CRH_INERTIA,/* ElevatedCRHInertia */
  NS_RULE_COUNT
};
extern const char *const ns_rule_names[NS_RULE_COUNT];
/* The reference's version of each rule ("1.0", "1.1"): its output names a
** rule "Name (vX.Y)" (scoring_rules.py RuleID). */
extern const char *const ns_rule_versions[NS_RULE_COUNT];
/* The rules fit a 64-bit mask (meta_rules, core_rules, a model's rules:
** the scorer rules CRHSuperThreshold / ElevatedCRHInertia sit above bit 31). */
_Static_assert(NS_RULE_COUNT <= 64, "rule masks are 64-bit");
/* The scorer rules (a scorer's ActiveRules) in the order its chain runs
** them (engine/rules.c ns__rules_final), which is the order the reference
** writes them: the appended ids above break bit order. */
#define NS_SCORER_RULE_ORDER_LEN 22
extern const int ns_scorer_rule_order[NS_SCORER_RULE_ORDER_LEN];

#endif /* NS_RULES_H */
