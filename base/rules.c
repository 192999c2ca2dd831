/*
** base/rules.c -- the reference's names of the status rules (base/rules.h).
*/
#include "rules.h"

const char *const ns_rule_names[NS_RULE_COUNT] = {
    "InitialNMR", "GeneralCRH", "GeneralCRNH", "UcbCRNH", "RatioCRNH", "NmCRNH",
    "GeneralCRHInertia", "TagFilter", "FilterIncorrect", "FilterLowDiligence",
    "FilterLargeFactor", "RejectLowIntercept", "MinMinorityRaters", "RaterBalance",
    "NoHighVolIntercept", "NoCorrelatedIntercept", "PopulationSampledIntercept",
    "NmrDueToMinStableCrhTime", "ScoringDriftGuard", "InsufficientExplanation",
    "CoreModel"};
