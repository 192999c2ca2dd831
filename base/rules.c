/*
** base/rules.c -- the reference's names of the status rules (base/rules.h).
*/
#include "dataset.h"
#include "rules.h"

const char *const ns_rule_names[NS_RULE_COUNT] = {
    "InitialNMR", "GeneralCRH", "GeneralCRNH", "UcbCRNH", "RatioCRNH", "NmCRNH",
    "GeneralCRHInertia", "TagFilter", "FilterIncorrect", "FilterLowDiligence",
    "FilterLargeFactor", "RejectLowIntercept", "MinMinorityRaters", "RaterBalance",
    "NoHighVolIntercept", "NoCorrelatedIntercept", "PopulationSampledIntercept",
    "NmrDueToMinStableCrhTime", "ScoringDriftGuard", "InsufficientExplanation",
    "CoreModel", "MetaInitialNMR", "ExpansionPlusModel", "ExpansionModel",
    "CoreWithTopicsModel", "MultiGroupModel01", "GroupModel01", "GroupModel02",
    "GroupModel03", "GroupModel04", "GroupModel05", "GroupModel06", "GroupModel07",
    "GroupModel08", "GroupModel09", "GroupModel10", "GroupModel11", "GroupModel12",
    "GroupModel13", "GroupModel14", "GroupModel33", "GroupModel33NMR", "GroupModel18NMR",
    "GaussianModel", "GaussianCoreWithTopicsModel", "TopicModel01", "TopicModel02",
    "TopicModel03", "TopicModel04", "TopicModel05", "CRHSuperThreshold", "ElevatedCRHInertia"};

/* scoring_rules.py RuleID at the pinned reference commit 08c656b, in the
** order of ns_rule_names */
const char *const ns_rule_versions[NS_RULE_COUNT] = {
    "1.0", "1.0", "1.0", "1.0", "1.0", "1.0", "1.0", "1.0", "1.0", "1.0", "1.0", "1.0", "1.0",
    "1.0", "1.0", "1.0", "1.0", "1.0", "1.0", "1.0", "1.1", "1.0", "1.1", "1.1", "1.1", "1.0",
    "1.1", "1.1", "1.1", "1.1", "1.1", "1.1", "1.1", "1.1", "1.1", "1.1", "1.1", "1.1", "1.1",
    "1.1", "1.1", "1.1", "1.1", "1.0", "1.0", "1.0", "1.0", "1.0", "1.0", "1.0", "1.0", "1.0"};

const int ns_scorer_rule_order[NS_SCORER_RULE_ORDER_LEN] = {
    NS_RULE_INITIAL_NMR,          NS_RULE_GENERAL_CRH,          NS_RULE_GENERAL_CRNH,
    NS_RULE_UCB_CRNH,             NS_RULE_RATIO_CRNH,           NS_RULE_NM_CRNH,
    NS_RULE_CRH_INERTIA,          NS_RULE_TAG_FILTER,           NS_RULE_CRH_SUPER,
    NS_RULE_ELEVATED_CRH_INERTIA, NS_RULE_INCORRECT_FILTER,     NS_RULE_LOW_DILIGENCE,
    NS_RULE_LARGE_FACTOR,         NS_RULE_REJECT_LOW_INTERCEPT, NS_RULE_MIN_MINORITY_RATERS,
    NS_RULE_RATER_BALANCE,        NS_RULE_NO_HIGH_VOL,          NS_RULE_NO_CORRELATED,
    NS_RULE_POPULATION_SAMPLED,   NS_RULE_STABILIZATION,        NS_RULE_DRIFT_GUARD,
    NS_RULE_INSUFFICIENT_EXPL};

/* Column prefixes of enum ns_model (base/dataset.h). */
const char *const ns_model_prefix[NS_MODEL_COUNT] = {
    "coreWithTopics", "expansion", "expansionPlus", "group",
    "multiGroup", "topic", "gaussian", "gaussianCoreWithTopics"};

/* enums.Topics of the reference. */
const char *const ns_topic_names[NS_TOPIC_COUNT] = {
    "", "UkraineConflict", "GazaConflict", "MessiRonaldo", "Scams", "InDimensionTwo"};
