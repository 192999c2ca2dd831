/*
** tests/test_pipeline.c -- engine/: the rule chain, the meta rules, the
** helpfulness computations, the status-history update and whole runs of
** ns_pipeline_run on hand-built datasets.
**
** Rule tests feed hand-made ns__note_facts, so each expected status is
** worked out from the rule definitions (reference §4.1, §4.7) alone.  The
** run tests use a small two-camp world whose outcome is unambiguous
** (bridging notes CRH, one-sided notes not CRH, bad notes CRNH).
*/
#include "harness.h"

#include "../base/dataset.h"
#include "../engine/pipeline.h"
#include "../engine/pipeline_int.h"

#define DAY 86400000LL
#define T0 1700000000000LL /* 2023-11-14, a "modern" note time */

/* ---- fact helpers ------------------------------------------------------ */

/* A well-supported misleading note: 6 raters per side, net 5 helpful each. */
static ns__note_facts facts(double icpt, double fac) {
  ns__note_facts f;
  memset(&f, 0, sizeof f);
  f.n_ratings = 12;
  f.cls = NS_CLASS_MISLEADING;
  f.icpt = icpt;
  f.fac = fac;
  f.prev_status = NS_STATUS_UNSET;
  f.locked_status = NS_STATUS_UNSET;
  f.n_neg = f.n_pos = 6;
  f.mean_neg = f.mean_pos = 0.9;
  f.net_neg = f.net_pos = 5;
  return f;
}

static ns__rule_out final_rules(const ns__note_facts *f) {
  ns_params p;
  ns__rule_out o;
  ns_params_default(&p);
  ns__rules_final(f, &p, &o);
  return o;
}

#define HAS(mask, rule) (((mask) >> (rule)) & 1u)

TEST(rules_general_crh_threshold) {
  ns__note_facts f = facts(0.40, 0.1);
  ns__rule_out o = final_rules(&f);
  ASSERT_EQ(o.status, NS_STATUS_CRH);
  ASSERT(HAS(o.rules, NS_RULE_INITIAL_NMR) && HAS(o.rules, NS_RULE_GENERAL_CRH));
  f.icpt = 0.3999;  /* just below: NMR, and not low enough for FIRM_REJECT */
  o = final_rules(&f);
  ASSERT_EQ(o.status, NS_STATUS_NMR);
  ASSERT(!HAS(o.rules, NS_RULE_GENERAL_CRH));
  ASSERT(!HAS(o.rules, NS_RULE_REJECT_LOW_INTERCEPT));
  f.icpt = 0.29;    /* below firmReject 0.3 -> FIRM_REJECT */
  o = final_rules(&f);
  ASSERT_EQ(o.status, NS_STATUS_FIRM_REJECT);
  ASSERT(HAS(o.rules, NS_RULE_REJECT_LOW_INTERCEPT));
  /* fewer than 5 ratings: no CRH however high */
  f = facts(0.9, 0.0);
  f.n_ratings = 4;
  ASSERT_EQ(final_rules(&f).status, NS_STATUS_NMR);
  /* NOT_MISLEADING notes never reach CRH */
  f = facts(0.9, 0.0);
  f.cls = NS_CLASS_NOT_MISLEADING;
  ASSERT_EQ(final_rules(&f).status, NS_STATUS_NMR);
  /* deleted notes (no classification) are eligible */
  f.cls = NS_CLASS_NONE;
  ASSERT_EQ(final_rules(&f).status, NS_STATUS_CRH);
}

TEST(rules_diamond_crnh) {
  /* threshold -0.05 - 0.8 * 0.5 = -0.45 */
  ns__note_facts f = facts(-0.45, 0.5);
  ns__rule_out o = final_rules(&f);
  ASSERT_EQ(o.status, NS_STATUS_CRNH);
  ASSERT(HAS(o.rules, NS_RULE_GENERAL_CRNH));
  ASSERT(!HAS(o.rules, NS_RULE_REJECT_LOW_INTERCEPT)); /* CRNH is exempt */
  f.icpt = -0.44;
  o = final_rules(&f);
  ASSERT_EQ(o.status, NS_STATUS_FIRM_REJECT);
  f.fac = -0.5;   /* |f| counts, not f */
  f.icpt = -0.46;
  ASSERT_EQ(final_rules(&f).status, NS_STATUS_CRNH);
}

TEST(rules_nm_crnh) {
  ns__note_facts f = facts(-0.16, 0.2);  /* diamond would need <= -0.21 */
  f.cls = NS_CLASS_NOT_MISLEADING;
  ns__rule_out o = final_rules(&f);
  ASSERT_EQ(o.status, NS_STATUS_CRNH);
  ASSERT(HAS(o.rules, NS_RULE_NM_CRNH));
  ASSERT(!HAS(o.rules, NS_RULE_GENERAL_CRNH));
  f.icpt = -0.14;
  o = final_rules(&f);
  ASSERT(!HAS(o.rules, NS_RULE_NM_CRNH));
  ASSERT_EQ(o.status, NS_STATUS_FIRM_REJECT);
  /* misleading notes are not subject to NmCRNH */
  f = facts(-0.16, 0.2);
  ASSERT_EQ(final_rules(&f).status, NS_STATUS_FIRM_REJECT);
}

TEST(rules_ratio_crnh) {
  ns__note_facts f = facts(0.1, 0.0);
  f.n_neg = f.n_pos = 3;
  f.mean_neg = 0.3;
  f.mean_pos = 0.2;  /* both <= 0.4, average 0.25 <= 0.3 */
  ns__rule_out o = final_rules(&f);
  ASSERT_EQ(o.status, NS_STATUS_CRNH);
  ASSERT(HAS(o.rules, NS_RULE_RATIO_CRNH));
  f.mean_neg = 0.45;  /* one side above 0.4 */
  f.mean_pos = 0.1;
  ASSERT(!HAS(final_rules(&f).rules, NS_RULE_RATIO_CRNH));
  f.mean_neg = 0.4;   /* average 0.35 > 0.3 */
  f.mean_pos = 0.3;
  ASSERT(!HAS(final_rules(&f).rules, NS_RULE_RATIO_CRNH));
  f.mean_neg = f.mean_pos = 0.0;
  f.n_pos = 2;        /* too few on one side */
  ASSERT(!HAS(final_rules(&f).rules, NS_RULE_RATIO_CRNH));
  /* not in the provisional (round-1) chain */
  {
    ns_params p;
    ns__rule_out r;
    ns_params_default(&p);
    f.n_pos = 3;
    ns__rules_provisional(&f, &p, &r);
    ASSERT_EQ(r.status, NS_STATUS_NMR);
  }
}

TEST(rules_inertia) {
  ns__note_facts f = facts(0.395, 0.1);
  f.prev_status = NS_STATUS_CRH;
  ns__rule_out o = final_rules(&f);
  ASSERT_EQ(o.status, NS_STATUS_CRH);
  ASSERT(HAS(o.rules, NS_RULE_CRH_INERTIA));
  ASSERT(!HAS(o.rules, NS_RULE_GENERAL_CRH));
  f.icpt = 0.389;  /* more than inertiaDelta below */
  ASSERT_EQ(final_rules(&f).status, NS_STATUS_NMR);
  f.icpt = 0.395;
  f.prev_status = NS_STATUS_NMR;
  ASSERT_EQ(final_rules(&f).status, NS_STATUS_NMR);
  /* inertia does not fire on a note that is CRH anyway */
  f = facts(0.5, 0.1);
  f.prev_status = NS_STATUS_CRH;
  ASSERT(!HAS(final_rules(&f).rules, NS_RULE_CRH_INERTIA));
}

TEST(rules_large_factor) {
  ns__note_facts f = facts(0.5, 0.51);
  ns__rule_out o = final_rules(&f);
  ASSERT_EQ(o.status, NS_STATUS_FIRM_REJECT);
  ASSERT(HAS(o.rules, NS_RULE_LARGE_FACTOR));
  f.fac = -0.51;
  ASSERT_EQ(final_rules(&f).status, NS_STATUS_FIRM_REJECT);
  f.fac = 0.5;     /* |f| > 0.5 is strict */
  ASSERT_EQ(final_rules(&f).status, NS_STATUS_CRH);
  /* without a firm-reject threshold the filter emits NMR */
  {
    ns_params p;
    ns__rule_out r;
    ns_params_default(&p);
    p.firm_reject_threshold = NAN;
    f.fac = 0.6;
    ns__rules_final(&f, &p, &r);
    ASSERT_EQ(r.status, NS_STATUS_NMR);
  }
}

TEST(rules_net_helpful_minimums) {
  ns__note_facts f = facts(0.5, 0.0);
  f.net_neg = 3;   /* weaker side has net 3 < 4 */
  ns__rule_out o = final_rules(&f);
  ASSERT_EQ(o.status, NS_STATUS_NYH);
  ASSERT(HAS(o.rules, NS_RULE_MIN_MINORITY_RATERS));
  f.net_neg = -2;  /* negative nets clip to 0 */
  ASSERT_EQ(final_rules(&f).status, NS_STATUS_NYH);
  /* RaterBalance: netMin 5 of 120 signed ratings = 0.0417 < 0.05 */
  f = facts(0.5, 0.0);
  f.net_neg = 5;
  f.net_pos = 50;
  f.n_neg = 20;
  f.n_pos = 100;
  o = final_rules(&f);
  ASSERT_EQ(o.status, NS_STATUS_NYH);
  ASSERT(HAS(o.rules, NS_RULE_RATER_BALANCE));
  ASSERT(!HAS(o.rules, NS_RULE_MIN_MINORITY_RATERS));
  f.n_pos = 70;    /* 5 / 90 = 0.0556 >= 0.05 */
  ASSERT_EQ(final_rules(&f).status, NS_STATUS_CRH);
  f.n_pos = 1000;  /* netMin 10 is never balanced-out */
  f.net_neg = 10;
  ASSERT_EQ(final_rules(&f).status, NS_STATUS_CRH);
  /* only CRH notes are affected */
  f = facts(0.35, 0.0);
  f.net_neg = 0;
  ASSERT_EQ(final_rules(&f).status, NS_STATUS_NMR);
}

/* ---- explanation tags and meta ----------------------------------------- */

TEST(tags_top_two_and_tiebreak) {
  int32_t cnt[NS_N_TAGS] = {0};
  int8_t a, b;
  int hi = ns_tag_index("helpfulInformative", 18), hc = ns_tag_index("helpfulClear", 12);
  int hg = ns_tag_index("helpfulGoodSources", 18);
  int no = ns_tag_index("notHelpfulOutdated", 18), ni = ns_tag_index("notHelpfulIncorrect", 19);
  /* a three-way tie at 2: ranks Informative 8 > Clear 7 > GoodSources 4 */
  cnt[hg] = 2;
  cnt[hc] = 2;
  cnt[hi] = 2;
  ASSERT_EQ(ns__top_two_tags(cnt, 1, &a, &b), 2);
  ASSERT_EQ(a, hi);
  ASSERT_EQ(b, hc);
  /* counts beat ranks */
  cnt[hg] = 3;
  ns__top_two_tags(cnt, 1, &a, &b);
  ASSERT_EQ(a, hg);
  ASSERT_EQ(b, hi);
  /* a tag used once does not count; not-helpful side is separate */
  memset(cnt, 0, sizeof cnt);
  cnt[hi] = 5;
  cnt[hc] = 1;
  ASSERT_EQ(ns__top_two_tags(cnt, 1, &a, &b), 1);
  cnt[no] = 2;
  cnt[ni] = 2;  /* tie: Outdated (12) beats Incorrect (8) */
  ASSERT_EQ(ns__top_two_tags(cnt, 0, &a, &b), 2);
  ASSERT_EQ(a, no);
  ASSERT_EQ(b, ni);
}

TEST(meta_rules) {
  ns__note_facts f = facts(0.5, 0.0);
  ns__meta_out m;
  int hi = ns_tag_index("helpfulInformative", 18), hc = ns_tag_index("helpfulClear", 12);
  int nh = ns_tag_index("notHelpfulIncorrect", 19), no = ns_tag_index("notHelpfulOutdated", 18);

  /* not scored by Core: MetaInitialNMR decides */
  ns__rules_meta_core(&f, NS_STATUS_UNSET, &m);
  ASSERT_EQ(m.status, NS_STATUS_NMR);
  ASSERT_EQ(m.decided_by, NS_RULE_META_INITIAL_NMR);
  ASSERT_STREQ(ns__meta_rule_name(m.decided_by), "MetaInitialNMR");

  /* CRH with two tags */
  f.tag_count[hi] = 4;
  f.tag_count[hc] = 2;
  ns__rules_meta_core(&f, NS_STATUS_CRH, &m);
  ASSERT_EQ(m.status, NS_STATUS_CRH);
  ASSERT_EQ(m.decided_by, NS_RULE_CORE_MODEL);
  ASSERT_EQ(m.first_tag, hi);
  ASSERT_EQ(m.second_tag, hc);

  /* CRH without enough helpful tags -> InsufficientExplanation */
  f.tag_count[hc] = 1;
  f.tag_count[nh] = 5;
  f.tag_count[no] = 5;
  ns__rules_meta_core(&f, NS_STATUS_CRH, &m);
  ASSERT_EQ(m.status, NS_STATUS_NMR);
  ASSERT_EQ(m.decided_by, NS_RULE_INSUFFICIENT_EXPL);
  ASSERT(HAS(m.rules, NS_RULE_CORE_MODEL) && HAS(m.rules, NS_RULE_INSUFFICIENT_EXPL));
  ASSERT_EQ(m.first_tag, -1);

  /* the same tags explain a CRNH */
  ns__rules_meta_core(&f, NS_STATUS_CRNH, &m);
  ASSERT_EQ(m.status, NS_STATUS_CRNH);
  ASSERT_EQ(m.first_tag, no);
  ASSERT_EQ(m.second_tag, nh);

  /* internal statuses are shown as NMR */
  ns__rules_meta_core(&f, NS_STATUS_FIRM_REJECT, &m);
  ASSERT_EQ(m.status, NS_STATUS_NMR);
  ASSERT_EQ(m.decided_by, NS_RULE_CORE_MODEL);
  ns__rules_meta_core(&f, NS_STATUS_NYH, &m);
  ASSERT_EQ(m.status, NS_STATUS_NMR);

  /* a locked CRNH stays CRNH even though Core now says NMR */
  f.locked_status = NS_STATUS_CRNH;
  ns__rules_meta_core(&f, NS_STATUS_NMR, &m);
  ASSERT_EQ(m.status, NS_STATUS_CRNH);
  ASSERT_EQ(m.decided_by, NS_RULE_DRIFT_GUARD);
  /* ... but a locked CRH without helpful tags is unset by the explanation rule */
  f.locked_status = NS_STATUS_CRH;
  ns__rules_meta_core(&f, NS_STATUS_NMR, &m);
  ASSERT_EQ(m.status, NS_STATUS_NMR);
  ASSERT_EQ(m.decided_by, NS_RULE_INSUFFICIENT_EXPL);
  ASSERT(HAS(m.rules, NS_RULE_DRIFT_GUARD));
}

TEST(above_threshold_bit) {
  ns_params p;
  ns_params_default(&p);
  /* non-author (both NaN) with a good agree ratio */
  ASSERT_EQ(ns__above_threshold(NAN, NAN, 0.66, 0.66, &p), 1);
  ASSERT_EQ(ns__above_threshold(NAN, NAN, 0.659, 0.659, &p), 0);
  ASSERT_EQ(ns__above_threshold(NAN, NAN, NAN, NAN, &p), 0);
  /* author: ratio difference >= 0 and mean note score >= 0.05 */
  ASSERT_EQ(ns__above_threshold(0.0, 0.05, 0.9, 0.9, &p), 1);
  ASSERT_EQ(ns__above_threshold(-0.1, 0.3, 0.9, 0.9, &p), 0);
  ASSERT_EQ(ns__above_threshold(0.5, 0.04, 0.9, 0.9, &p), 0);
  /* harassment-penalised ratio is checked too */
  ASSERT_EQ(ns__above_threshold(NAN, NAN, 0.9, 0.5, &p), 0);
}

/* ---- status history ---------------------------------------------------- */

TEST(history_update_fields_and_lock) {
  ns_note_score s;
  ns_nsh h1, h2, h3, h4;
  int64_t now = T0 + 20 * DAY;
  memset(&s, 0, sizeof s);
  s.final_status = NS_STATUS_CRH;
  s.core_status = NS_STATUS_CRH;
  s.decided_by = NS_RULE_CORE_MODEL;

  /* a new note, 1 day old, becomes CRH */
  ns__history_update(NULL, 7, 3, now - DAY, &s, now, &h1);
  ASSERT_EQ(h1.note_id, 7);
  ASSERT_EQ(h1.author, 3);
  ASSERT_EQ(h1.current_status, NS_STATUS_CRH);
  ASSERT_EQ(h1.ts_current, now);
  ASSERT_EQ(h1.first_non_nmr_status, NS_STATUS_CRH);
  ASSERT_EQ(h1.ts_first_non_nmr, now);
  ASSERT_EQ(h1.most_recent_non_nmr_status, NS_STATUS_CRH);
  ASSERT_EQ(h1.ts_latest_non_nmr, now);
  ASSERT_EQ(h1.ts_most_recent_change, now);
  ASSERT_EQ(h1.locked_status, NS_STATUS_UNSET); /* too young to lock */
  ASSERT_STREQ(h1.decided_by, "CoreModel (v1.1)");

  /* next run, same status: the last change stays, first/latest untouched */
  ns__history_update(&h1, 7, 3, now - DAY, &s, now + 1000, &h2);
  ASSERT_EQ(h2.ts_most_recent_change, now);
  ASSERT_EQ(h2.ts_first_non_nmr, now);
  ASSERT_EQ(h2.ts_latest_non_nmr, now);

  /* flip to CRNH: latest moves, first stays */
  s.final_status = NS_STATUS_CRNH;
  ns__history_update(&h2, 7, 3, now - DAY, &s, now + 2000, &h3);
  ASSERT_EQ(h3.first_non_nmr_status, NS_STATUS_CRH);
  ASSERT_EQ(h3.most_recent_non_nmr_status, NS_STATUS_CRNH);
  ASSERT_EQ(h3.ts_latest_non_nmr, now + 2000);
  ASSERT_EQ(h3.ts_most_recent_change, now + 2000);

  /* 15 days later the CoreModel decision locks */
  ns__history_update(&h3, 7, 3, now - DAY, &s, now - DAY + 15 * DAY, &h4);
  ASSERT_EQ(h4.locked_status, NS_STATUS_CRNH);
  ASSERT_EQ(h4.ts_lock, now - DAY + 15 * DAY);

  /* a decision by ScoringDriftGuard never (re)locks */
  s.decided_by = NS_RULE_DRIFT_GUARD;
  ns__history_update(&h3, 7, 3, now - DAY, &s, now - DAY + 15 * DAY, &h4);
  ASSERT_EQ(h4.locked_status, NS_STATUS_UNSET);
}

/* ---- dataset builders -------------------------------------------------- */

static int32_t part(ns_dataset *ds, const char *name) {
  int32_t idx;
  ASSERT_OK(ns_strtab_intern(ds->participants, name, strlen(name), &idx));
  return idx;
}

static void add_note(ns_dataset *ds, int64_t id, const char *author, int64_t created, int cls) {
  size_t i = ds->n_notes;
  ASSERT_OK(ns_dataset_reserve_notes(ds, i + 1));
  ds->note_id[i] = id;
  ds->note_author[i] = part(ds, author);
  ds->note_created_ms[i] = created;
  ds->note_tweet_id[i] = 1000 + id;
  ds->note_class[i] = (uint8_t)cls;
  ds->n_notes++;
}

static void add_rating_src(ns_dataset *ds, int64_t note, const char *rater, int64_t t, int level,
                           uint32_t tags, int source) {
  size_t i = ds->n_ratings;
  ASSERT_OK(ns_dataset_reserve_ratings(ds, i + 1));
  ds->r_note_id[i] = note;
  ds->r_rater[i] = part(ds, rater);
  ASSERT_OK(ns_dataset_set_rating_meta(ds, i, t, (unsigned)level, tags, (unsigned)source));
  ds->n_ratings++;
}

static void add_rating(ns_dataset *ds, int64_t note, const char *rater, int64_t t, int level,
                       uint32_t tags) {
  add_rating_src(ds, note, rater, t, level, tags, NS_SOURCE_DEFAULT);
}

/* ---- valid ratings ----------------------------------------------------- */

/* A run skeleton over every rating of ds (no filtering). */
static void mini_run(ns__run *run, const ns_dataset *ds, int64_t *ids, size_t n_notes) {
  memset(run, 0, sizeof *run);
  run->ds = ds;
  run->k = 1;
  run->n_notes = n_notes;
  run->note_id = ids;
  run->n_part = ns_strtab_count(ds->participants);
  run->n_r = ds->n_ratings;
  run->r_src = calloc(run->n_r, sizeof *run->r_src);
  run->r_note = calloc(run->n_r, sizeof *run->r_note);
  run->r_rater = calloc(run->n_r, sizeof *run->r_rater);
  for (size_t e = 0; e < run->n_r; e++) {
    run->r_src[e] = (uint32_t)e;
    run->r_rater[e] = ds->r_rater[e];
    for (size_t n = 0; n < n_notes; n++)
      if (ids[n] == ds->r_note_id[e]) run->r_note[e] = (int32_t)n;
  }
  ASSERT_OK(ns_pool_new(2, &run->pool));
  ASSERT_OK(ns_bigraph_build(run->n_part, n_notes, run->n_r, run->r_rater, run->r_note, &run->g));
}

static void mini_free(ns__run *run) {
  free(run->r_src);
  free(run->r_note);
  free(run->r_rater);
  ns_bigraph_free(run->g);
  ns_pool_free(run->pool);
}

TEST(valid_ratings_counts) {
  ns_dataset *ds;
  ns__run run;
  int64_t ids[4] = {1, 2, 3, 4};
  int8_t status[4] = {NS_STATUS_CRH, NS_STATUS_CRNH, NS_STATUS_NMR, NS_STATUS_CRH};
  int64_t old = 1600000000000LL; /* 2020: historical first-5 rule */
  int64_t created[4] = {T0, T0, T0, old};
  int64_t latest[4] = {T0 + 10 * 3600000LL, NS_TS_NONE, NS_TS_NONE, NS_TS_NONE};
  ns__valid_in in = {status, created, latest};
  ns__rater_counts c[16];
  int32_t a, b;
  char name[16];

  ASSERT_OK(ns_dataset_new(&ds));
  a = part(ds, "a");
  b = part(ds, "b");
  /* rater a on CRH note 1: helpful at +1h (valid, agree), and on CRNH note 2:
  ** helpful (valid, disagree), on NMR note 3 (never valid) */
  add_rating(ds, 1, "a", T0 + 3600000LL, NS_LEVEL_HELPFUL, 0);
  add_rating(ds, 2, "a", T0 + 3600000LL, NS_LEVEL_HELPFUL, 0);
  add_rating(ds, 3, "a", T0 + 3600000LL, NS_LEVEL_HELPFUL, 0);
  /* rater b: note 1 after its latest non-NMR time (invalid), note 2 not
  ** helpful (valid, agree), note 2 somewhat... (one rating per note, so
  ** use note 3 for nothing), and a rating 49 h late on note 2 is covered
  ** by rater c below */
  add_rating(ds, 1, "b", T0 + 11 * 3600000LL, NS_LEVEL_NOT_HELPFUL, 0);
  add_rating(ds, 2, "b", T0 + 7200000LL, NS_LEVEL_NOT_HELPFUL, 0);
  add_rating(ds, 2, "c", T0 + 49 * 3600000LL, NS_LEVEL_NOT_HELPFUL, 0);  /* > 48 h */
  add_rating(ds, 1, "d", T0 + 3600000LL, NS_LEVEL_SOMEWHAT_HELPFUL, 0);  /* never valid */
  /* historical note 4: 7 raters r0..r6 at increasing times; only the first
  ** 5 are valid.  Even raters not helpful (disagree with CRH). */
  for (int i = 0; i < 7; i++) {
    snprintf(name, sizeof name, "r%d", i);
    add_rating(ds, 4, name, old + (7 - i) * 1000, i % 2 ? NS_LEVEL_HELPFUL : NS_LEVEL_NOT_HELPFUL, 0);
  }
  ASSERT(ns_strtab_count(ds->participants) <= 16);
  mini_run(&run, ds, ids, 4);
  ASSERT_OK(ns__valid_counts(&run, &in, NS__EMASK_ALL, c));

  ASSERT_EQ(c[a].valid, 2);
  ASSERT_EQ(c[a].agree, 1);
  ASSERT_EQ(c[a].succ_h, 1);
  ASSERT_EQ(c[a].unsucc_h, 1);
  ASSERT_EQ(c[b].valid, 1);
  ASSERT_EQ(c[b].agree, 1);
  ASSERT_EQ(c[b].succ_nh, 1);
  ASSERT_EQ(c[part(ds, "c")].valid, 0);
  ASSERT_EQ(c[part(ds, "d")].valid, 0);
  /* times are old + (7 - i) s, so r6..r2 are the first five */
  for (int i = 0; i < 7; i++) {
    snprintf(name, sizeof name, "r%d", i);
    ASSERT_EQ(c[part(ds, name)].valid, i >= 2 ? 1 : 0);
  }
  ASSERT_EQ(c[part(ds, "r3")].succ_h, 1);
  ASSERT_EQ(c[part(ds, "r2")].unsucc_nh, 1);

  /* with a mask only the selected ratings count */
  {
    uint8_t mask[32] = {0};
    mask[0] = NS__EF_R1; /* a on note 1; another bit selects nothing */
    for (int e = 1; e < 32; e++) mask[e] = NS__EF_R2;
    ASSERT_OK(ns__valid_counts(&run, &in, (ns__emask){mask, NS__EF_R1}, c));
    ASSERT_EQ(c[a].valid, 1);
    ASSERT_EQ(c[b].valid, 0);
  }
  mini_free(&run);
  ns_dataset_free(ds);
}

/* ---- per-edge state: coordination-weight codes, flag bits -------------- */

static uint32_t fbits(float v) {
  uint32_t b;
  memcpy(&b, &v, sizeof b);
  return b;
}

/* A few distinct weights become codes into a table of exactly those
** floats (by bits: -0 is not 0), 1 is code 0, and the floats are freed. */
TEST(pipeline_cw_codes_exact) {
  static const float vals[6] = {1.0f, 0.0f, 0.25f, 1.0f / 3.0f, -0.0f, 0.2f / 7.0f};
  enum { N = 1000 };
  float *w = malloc(N * sizeof *w);
  ns__cw cw;
  size_t below = 0;
  for (size_t e = 0; e < N; e++) {
    w[e] = vals[(e * 7 + e / 13) % 6];
    below += w[e] < 1.0f;
  }
  float want[N];
  memcpy(want, w, sizeof want);
  memset(&cw, 0, sizeof cw);
  ns__cw_take(&cw, w, N);  /* takes w: ASan would flag a leak or a double free */
  ASSERT(cw.code != NULL);
  ASSERT(cw.w == NULL);
  ASSERT_EQ(cw.n_values, 6);
  ASSERT_EQ(fbits(cw.value[0]), fbits(1.0f));
  ASSERT_EQ(cw.n_below_one, below);
  for (size_t e = 0; e < N; e++) {
    ASSERT_EQ(fbits(ns__cw_get(&cw, e)), fbits(want[e]));
    if (want[e] == 1.0f) ASSERT_EQ(cw.code[e], 0);
  }
  /* -0 and 0 keep their own codes */
  ASSERT(cw.code[1] != cw.code[4] || fbits(want[1]) == fbits(want[4]));
  free(cw.code);
}

/* Up to NS__CW_CODES distinct values (1 among them) are codes; one more
** keeps the floats themselves, and either way every weight reads back
** bit for bit. */
TEST(pipeline_cw_codes_fallback) {
  for (int extra = 0; extra < 2; extra++) {
    size_t n = 3 * (NS__CW_CODES + 1);
    unsigned distinct = NS__CW_CODES + (unsigned)extra;  /* with 1 */
    float *w = malloc(n * sizeof *w), *want = malloc(n * sizeof *want);
    ns__cw *cw = calloc(1, sizeof *cw);
    for (size_t e = 0; e < n; e++) {
      size_t v = (e * 31) % distinct;  /* every value appears */
      w[e] = v == 0 ? 1.0f : 1.0f / (float)(v + 1);
    }
    memcpy(want, w, n * sizeof *w);
    ns__cw_take(cw, w, n);
    if (extra == 0) {
      ASSERT(cw->code != NULL && cw->w == NULL);
      ASSERT_EQ(cw->n_values, NS__CW_CODES);
    } else {
      ASSERT(cw->code == NULL && cw->w == w);  /* the floats, kept */
    }
    ASSERT_EQ(cw->n_below_one, n - (n + distinct - 1) / distinct);
    for (size_t e = 0; e < n; e++) ASSERT_EQ(fbits(ns__cw_get(cw, e)), fbits(want[e]));
    ns__cw_free(cw);
    free(want);
  }
  ns__cw_free(NULL);
}

/* Flags ranked over a scope (ns__scope_ix, a small scorer's): edge e's
** byte is flags[its rank among the scope's edges]; an edge outside the
** scope reads 0 on every bit and takes no write; the run's accessors and
** masks go through the index. */
TEST(pipeline_scope_ranked_flags) {
  enum { NE = 200 };
  uint64_t bits[(NE + 63) / 64] = {0};
  uint32_t base[(NE + 63) / 64];
  uint8_t fl[NE], dense[NE] = {0};
  size_t nin = 0;
  ns__scope_ix six = {bits, base};
  ns__run run;
  /* scope: every third edge and the whole second word (64..127) */
  for (size_t e = 0; e < NE; e++)
    if (e % 3 == 0 || (e >= 64 && e < 128)) bits[e >> 6] |= UINT64_C(1) << (e & 63);
  for (size_t w = 0; w < (NE + 63) / 64; w++) {
    base[w] = (uint32_t)nin;
    nin += (size_t)ns__popcount64(bits[w]);
  }
  ASSERT_EQ(nin, 67 - 21 + 64);  /* 67 multiples of 3 below 200, 21 of them in 64..127 */
  memset(fl, NS__EF_SCOPE, nin);
  for (size_t e = 0, r = 0; e < NE; e++) {
    int in = e % 3 == 0 || (e >= 64 && e < 128);
    ASSERT_EQ(ns__six_has(&six, e), in);
    if (in) ASSERT_EQ(ns__six_pos(&six, e), r++);
    if (in) dense[e] = NS__EF_SCOPE;
  }
  memset(&run, 0, sizeof run);
  run.n_r = NE;
  run.flags = fl;
  run.six = &six;
  /* the same writes on the ranked and a dense array read the same */
  for (size_t e = 0; e < NE; e++) {
    int on = e % 5 == 0, in = ns__in_scope(&run, e);
    ns__rf_put(&run, e, NS__EF_R1, on);
    if (in) ns__ef_put(dense, e, NS__EF_R1, on);
    ns__rf_put(&run, e, NS__EF_R2, e % 2);
    if (in) ns__ef_put(dense, e, NS__EF_R2, (int)(e % 2));
  }
  ns__rf_put(&run, 1, NS__EF_R1, 0);  /* outside: nothing to clear */
  ns__emask m = ns__run_mask(&run, NS__EF_R2), md = {dense, NS__EF_R2, NULL};
  for (size_t e = 0; e < NE; e++) {
    ASSERT_EQ(ns__edge_r1(&run, e), ns__ef_get(dense, e, NS__EF_R1));
    ASSERT_EQ(ns__edge_r2(&run, e), ns__ef_get(dense, e, NS__EF_R2));
    ASSERT_EQ(ns__emask_on(m, e), ns__emask_on(md, e));
    ASSERT_EQ(ns__in_scope(&run, e), ns__ef_get(dense, e, NS__EF_SCOPE));
  }
  ASSERT(ns__edge_r1(&run, 0) && !ns__edge_r1(&run, 5) && ns__edge_r2(&run, 65));
  ASSERT(!ns__edge_r2(&run, 1) && !ns__emask_on(m, 1));  /* outside: every bit 0 */
  ASSERT_EQ(fl[nin - 1], NS__EF_SCOPE);  /* edge 198: even, not a multiple of 5 */
  /* the iterator: the scope's edges in order with their ranks; without an
  ** index, every edge with p = e */
  {
    size_t r = 0, last = 0, all = 0;
    for (ns__edge_it it = ns__edges(&six, NE); ns__edge_next(&it);) {
      ASSERT(ns__six_has(&six, it.e));
      ASSERT_EQ(it.p, r);
      ASSERT(r == 0 || it.e > last);
      last = it.e, r++;
    }
    ASSERT_EQ(r, nin);
    ASSERT_EQ(last, 198);
    for (ns__edge_it it = ns__edges(NULL, NE); ns__edge_next(&it);) {
      ASSERT_EQ(it.e, all);
      ASSERT_EQ(it.p, all);
      all++;
    }
    ASSERT_EQ(all, NE);
    ASSERT(!ns__emask_at(m, ns__six_pos(&six, 0)) && ns__emask_at(NS__EMASK_ALL, 7));
  }
}

/* The flag bits of one byte are independent; a mask reads one bit (flags
** NULL: every edge); the run's accessors read its own array; the round-2
** weight is the coded coordination weight on the edges round 2 may use. */
TEST(pipeline_edge_flags) {
  uint8_t fl[4] = {0};
  ns__ef_put(fl, 1, NS__EF_R1, 1);
  ns__ef_put(fl, 1, NS__EF_SCOPE, 1);
  ns__ef_put(fl, 1, NS__EF_R2, 1);
  ns__ef_put(fl, 1, NS__EF_R1, 0);
  ASSERT_EQ(fl[1], NS__EF_SCOPE | NS__EF_R2);
  ns__ef_put(fl, 2, NS__EF_BASE, 1);
  ns__ef_put(fl, 2, NS__EF_STABLE, 1);
  ns__ef_put(fl, 2, NS__EF_BASE, 1);  /* idempotent */
  ASSERT_EQ(fl[2], NS__EF_BASE | NS__EF_STABLE);
  ASSERT_EQ(fl[0], 0);
  ASSERT_EQ(fl[3], 0);
  ASSERT(ns__ef_get(fl, 1, NS__EF_R2));
  ASSERT(!ns__ef_get(fl, 1, NS__EF_R1));
  ASSERT(!ns__ef_get(fl, 2, NS__EF_R2));
  /* the bits are distinct */
  ASSERT_EQ(NS__EF_SCOPE | NS__EF_R1 | NS__EF_R2 | NS__EF_BASE | NS__EF_STABLE, 0x1f);

  ns__emask m = {fl, NS__EF_R2};
  ASSERT(!ns__emask_on(m, 0) && ns__emask_on(m, 1) && !ns__emask_on(m, 2));
  for (size_t e = 0; e < 4; e++) ASSERT(ns__emask_on(NS__EMASK_ALL, e));

  /* a run: edge e by rater e; rater 3 below the helpfulness threshold */
  ns__run run;
  int32_t rr[4] = {0, 1, 2, 3};
  int8_t above[4] = {1, 1, 1, 0};
  float *w = malloc(4 * sizeof *w);
  ns__cw cw;
  memset(&run, 0, sizeof run);
  run.n_r = 4;
  run.r_rater = rr;
  run.above = above;
  ASSERT(ns__in_scope(&run, 2));  /* no flags: every edge in scope */
  ASSERT_EQ(ns__edge_cw(&run, 2), 1.0f);  /* trust off: 1 */
  for (size_t e = 0; e < 4; e++) fl[e] = NS__EF_SCOPE;
  fl[1] = 0;
  run.flags = fl;
  ns__ef_put(fl, 2, NS__EF_R1, 1);
  ASSERT(ns__edge_r1(&run, 2) && !ns__edge_r2(&run, 2) && !ns__in_scope(&run, 1));
  ASSERT_EQ(ns__run_mask(&run, NS__EF_R1).bit, NS__EF_R1);
  w[0] = 0.5f, w[1] = 0.5f, w[2] = 0.0f, w[3] = 1.0f;
  memset(&cw, 0, sizeof cw);
  ns__cw_take(&cw, w, 4);
  run.cw = &cw;
  ASSERT_EQ(ns__edge_cw(&run, 1), 0.5f);
  ASSERT_EQ(ns__edge_w(&run, 0), 0.5f);  /* in scope, above, weight > 0 */
  ASSERT_EQ(ns__edge_w(&run, 1), 0.0f);  /* out of scope */
  ASSERT_EQ(ns__edge_w(&run, 2), 0.0f);  /* weight 0 */
  ASSERT_EQ(ns__edge_w(&run, 3), 0.0f);  /* rater below the threshold */
  free(cw.code);
}

/* ---- whole runs -------------------------------------------------------- */

/*
** A two-camp world.  40 raters: L0..L19 (left) and R0..R19 (right).
**   notes 100..109  bridging good: everyone HELPFUL with two helpful tags
**   notes 200..209  left-partisan: left HELPFUL, right NOT_HELPFUL
**   notes 300..309  right-partisan: the mirror image
**   notes 400..404  bad: everyone NOT_HELPFUL with two not-helpful tags
**   note  500       only 4 ratings (too few for any status)
**   note  600       NOT_MISLEADING, created 2022-01-01: its ratings are dropped
**   note  700       deleted (only in history, 10 days before), rated helpful
** Every rater rates every note except 500; rating times are within 1 h.
*/
static ns_dataset *two_camps(void) {
  ns_dataset *ds;
  char r[16];
  uint32_t htags = NS_TAG_BIT(1) | NS_TAG_BIT(2);   /* informative, clear */
  uint32_t ntags = NS_TAG_BIT(10) | NS_TAG_BIT(14); /* incorrect, outdated */
  int64_t ids[] = {100, 101, 102, 103, 104, 105, 106, 107, 108, 109,
                   200, 201, 202, 203, 204, 205, 206, 207, 208, 209,
                   300, 301, 302, 303, 304, 305, 306, 307, 308, 309,
                   400, 401, 402, 403, 404, 600, 700};
  ASSERT_OK(ns_dataset_new(&ds));
  for (size_t i = 0; i < NS_ARRAY_LEN(ids); i++) {
    if (ids[i] == 700) continue;
    add_note(ds, ids[i], ids[i] >= 400 && ids[i] < 500 ? "BAD" : ids[i] >= 300 ? "R0" : "L0",
             ids[i] == 600 ? 1641000000000LL : T0 + (int64_t)i * 1000,
             ids[i] == 600 ? NS_CLASS_NOT_MISLEADING : NS_CLASS_MISLEADING);
  }
  add_note(ds, 500, "L1", T0, NS_CLASS_MISLEADING);
  ds->history = calloc(1, sizeof *ds->history);
  ns_nsh_init(&ds->history[0], 700);
  ds->history[0].created_ms = T0 - 10 * DAY;
  ds->history[0].author = part(ds, "R1");
  ds->n_history = 1;
  for (int side = 0; side < 2; side++)
    for (int u = 0; u < 20; u++) {
      snprintf(r, sizeof r, "%c%d", side ? 'R' : 'L', u);
      for (size_t i = 0; i < NS_ARRAY_LEN(ids); i++) {
        int64_t id = ids[i], t = (id == 700 ? T0 - 10 * DAY : T0) + 60000 + u * 1000;
        int lvl = NS_LEVEL_HELPFUL;
        uint32_t tags = htags;
        if (id >= 200 && id < 300 && side == 1) lvl = NS_LEVEL_NOT_HELPFUL, tags = ntags;
        if (id >= 300 && id < 400 && side == 0) lvl = NS_LEVEL_NOT_HELPFUL, tags = ntags;
        if (id >= 400 && id < 500) lvl = NS_LEVEL_NOT_HELPFUL, tags = ntags;
        add_rating(ds, id, r, t, lvl, tags);
      }
      if (u < 2) add_rating(ds, 500, r, T0 + 60000, NS_LEVEL_HELPFUL, htags);
    }
  ASSERT_OK(ns_dataset_normalize(ds));
  return ds;
}

static const ns_note_score *find_note(const ns_scores *sc, int64_t id) {
  for (size_t i = 0; i < sc->n_notes; i++)
    if (sc->notes[i].note_id == id) return &sc->notes[i];
  return NULL;
}

TEST(pipeline_two_camps) {
  ns_dataset *ds = two_camps();
  ns_params p;
  ns_scores *sc;
  const ns_note_score *s;

  ns_params_default(&p);
  p.now_ms = ns_pipeline_default_now(ds);
  p.threads = 2;
  /* Every rater rates every note within a minute of the others: the world
  ** is one coordinated group by construction, so the group filter would
  ** (rightly) collapse it.  This test pins the Core path: trust off. */
  p.trust = 0;
  ASSERT_OK(ns_pipeline_run(ds, &p, NULL, &sc, NULL));
  ASSERT_EQ(sc->n_notes, 38); /* 37 notes + deleted note 700 */
  for (int64_t id = 100; id < 110; id++) {
    s = find_note(sc, id);
    ASSERT(s && s->final_status == NS_STATUS_CRH);
    ASSERT_EQ(s->decided_by, NS_RULE_CORE_MODEL);
    ASSERT_EQ(s->first_tag, 1);
    ASSERT_EQ(s->second_tag, 2);
    ASSERT(s->intercept > 0.4);
  }
  for (int64_t id = 200; id < 310; id++) {
    if (id % 100 >= 10) continue;
    s = find_note(sc, id);
    ASSERT(s && s->final_status != NS_STATUS_CRH);
    ASSERT(fabs(s->factor) > fabs(find_note(sc, 100)->factor));
  }
  /* partisan notes of the two sides get opposite factors */
  ASSERT(find_note(sc, 200)->factor * find_note(sc, 300)->factor < 0);
  for (int64_t id = 400; id < 405; id++) {
    s = find_note(sc, id);
    ASSERT_EQ(s->final_status, NS_STATUS_CRNH);
    ASSERT_EQ(s->first_tag, 14); /* notHelpfulOutdated outranks Incorrect */
  }
  s = find_note(sc, 500);
  ASSERT_EQ(s->num_ratings, 4);
  ASSERT(isnan(s->intercept));
  ASSERT_EQ(s->final_status, NS_STATUS_NMR);
  ASSERT_EQ(s->core_status, NS_STATUS_NMR);
  s = find_note(sc, 600);
  ASSERT_EQ(s->num_ratings, 0);          /* old NOT_MISLEADING: ratings dropped */
  ASSERT_EQ(s->core_status, NS_STATUS_UNSET);
  ASSERT_EQ(s->decided_by, NS_RULE_META_INITIAL_NMR);
  s = find_note(sc, 700);
  ASSERT_EQ(s->num_ratings, 40);         /* deleted but in history: kept */
  ASSERT_EQ(s->note_index, -1);
  ASSERT_EQ(s->final_status, NS_STATUS_CRH);
  /* history: 700 is 10 days old, no lock; all rows carry now */
  ASSERT_EQ(sc->n_history, 38);
  for (size_t i = 0; i < sc->n_history; i++) {
    ASSERT_EQ(sc->history[i].ts_current, p.now_ms);
    ASSERT_EQ(sc->history[i].locked_status, NS_STATUS_UNSET);
  }
  /* raters: everyone passes the helpfulness filter in this clean world;
  ** BAD (author of the CRNH notes, no ratings) is listed but not assessed */
  ASSERT_EQ(sc->n_raters, 41);
  for (size_t i = 0; i < sc->n_raters; i++) {
    const ns_rater_score *r = &sc->raters[i];
    const char *name = ns_strtab_str(ds->participants, r->participant);
    if (strcmp(name, "BAD") == 0) {
      ASSERT_EQ(r->above_threshold, -1);
      ASSERT_EQ(r->notes_crnh, 5);
      ASSERT_NEAR(r->crh_crnh_ratio_diff, -5.0, 1e-12);
      continue;
    }
    if (r->above_threshold != 1)
      fprintf(stderr, "%s agree %g diff %g mean %g\n", name, r->agree_ratio,
              r->crh_crnh_ratio_diff, r->mean_note_score);
    ASSERT_EQ(r->above_threshold, 1);
    ASSERT(!isnan(r->intercept));
  }
  ASSERT_EQ(sc->n_ratings_round2, sc->n_ratings_round1);
  ns_scores_free(sc);
  ns_dataset_free(ds);
}

/* InDimensionTwo is scored by the GaussianTopicScorer (its MF topic fit
** only gives the rater factors): two_camps with notes 100-109 (helpful to
** both camps) and 200-209 (helpful to the L camp only) in InDimensionTwo
** and 300-309 (helpful to R only) in Scams, an MF topic scorer. */
TEST(pipeline_gaussian_topic_in_dimension_two) {
  ns_dataset *ds = two_camps();
  ns_params p;
  ns_scores *sc, *sc1;
  ASSERT(!ds->note_topic);
  ds->note_topic = calloc(ds->n_notes, 1);
  ASSERT(ds->note_topic);
  for (size_t i = 0; i < ds->n_notes; i++) {
    int64_t id = ds->note_id[i];
    if (id >= 100 && id < 110) ds->note_topic[i] = NS_TOPIC_IN_DIMENSION_TWO;
    if (id >= 200 && id < 210) ds->note_topic[i] = NS_TOPIC_IN_DIMENSION_TWO;
    if (id >= 300 && id < 310) ds->note_topic[i] = NS_TOPIC_IN_DIMENSION_TWO;
    if (id >= 400 && id < 405) ds->note_topic[i] = NS_TOPIC_SCAMS;
  }
  ns_params_default(&p);
  p.now_ms = ns_pipeline_default_now(ds);
  p.threads = 2;
  p.trust = 0;  /* as pipeline_two_camps: the camps rate in lockstep */
  ASSERT_OK(ns_pipeline_run(ds, &p, NULL, &sc, NULL));
  p.threads = 1;
  ASSERT_OK(ns_pipeline_run(ds, &p, NULL, &sc1, NULL));
  const ns_model_score *m100 = &find_note(sc, 100)->model[NS_MODEL_TOPIC];
  for (int64_t id = 100; id < 110; id++) {
    const ns_note_score *s = find_note(sc, id);
    const ns_model_score *m = &s->model[NS_MODEL_TOPIC];
    ASSERT_EQ(s->topic, NS_TOPIC_IN_DIMENSION_TWO);
    /* the Gaussian's ratings: all 40, every rater has a topic-fit factor */
    ASSERT_EQ(m->n_final_round, 40);
    /* a pure function of the (value, rater factor) pairs, which are the
    ** same on these ten notes: the same bits (an MF fit's intercepts of
    ** notes with identical ratings agree only to its tolerance) */
    ASSERT(memcmp(&m->intercept, &m100->intercept, sizeof(double)) == 0);
    /* helpful to everyone, yet -0.25: the two camps sit in two tight
    ** factor clusters, and with the 0.05 CRH kernel the points between
    ** and beyond them get no kernel mass (< weightLim), so the CRH pass
    ** scores 0; the CRNH pass (kernel 0.2) sees no unhelpful rating, every
    ** v_k clips at its floor 0.25, and -0.25 wins: at or below
    ** crnhThreshold -0.05 (factor about 0), so the topic model says CRNH. */
    ASSERT_NEAR(m->intercept, -0.25, 1e-12);
    /* no high-volume or correlated raters: the reruns are the score */
    ASSERT(memcmp(&m->intercept_no_high_vol, &m->intercept, sizeof(double)) == 0);
    ASSERT(memcmp(&m->intercept_no_correlated, &m->intercept, sizeof(double)) == 0);
    /* confident at > 0 raters a side (numConfidenceRatings=0) */
    ASSERT_EQ(s->topic_confident, 1);
    ASSERT_EQ(m->status, NS_STATUS_CRNH);
    /* meta reads the intercept: confident and below 0.51, TopicModel05
    ** holds the CRH the MF scorers give it at NMR */
    ASSERT_EQ(s->model[NS_MODEL_CORE_WITH_TOPICS].status, NS_STATUS_CRH);
    ASSERT_EQ(s->final_status, NS_STATUS_NMR);
    ASSERT_EQ(s->decided_by, NS_RULE_TOPIC_MODEL_05);
  }
  for (int64_t id = 200; id < 310; id++) {
    if (id % 100 >= 10) continue;
    const ns_model_score *m = &find_note(sc, id)->model[NS_MODEL_TOPIC];
    /* one camp only: the CRNH pass wins, a negative intercept (the
    ** Gaussian's CRNH pass tops out at 0.65), -0.386 here; its factor (the
    ** MF fit's) is large, so the factor-scaled CRNH bound (-0.05 - 0.8|f|,
    ** about -0.65) is not reached: NMR */
    ASSERT(m->intercept < -0.3 && m->intercept >= -0.65);
    ASSERT(fabs(m->factor) > 0.5);
    ASSERT_EQ(m->status, NS_STATUS_NMR);
  }
  /* the camps' notes mirror each other: opposite factors */
  ASSERT(find_note(sc, 200)->model[NS_MODEL_TOPIC].factor *
             find_note(sc, 300)->model[NS_MODEL_TOPIC].factor < 0);
  for (int64_t id = 400; id < 405; id++) {
    const ns_note_score *s = find_note(sc, id);
    /* Scams keeps the MF topic scorer, whose count filter (10 ratings a
    ** rater) leaves nobody for 5 notes: no fit, no topic verdict */
    ASSERT_EQ(s->topic, NS_TOPIC_SCAMS);
    ASSERT(isnan(s->model[NS_MODEL_TOPIC].intercept));
  }
  /* notes of no topic: no topic model */
  ASSERT(isnan(find_note(sc, 500)->model[NS_MODEL_TOPIC].intercept));
  /* the thread count changes no bit */
  ASSERT_EQ(sc->n_notes, sc1->n_notes);
  for (size_t i = 0; i < sc->n_notes; i++) {
    const ns_model_score *a = &sc->notes[i].model[NS_MODEL_TOPIC];
    const ns_model_score *b = &sc1->notes[i].model[NS_MODEL_TOPIC];
    ASSERT(memcmp(&a->intercept, &b->intercept, sizeof(double)) == 0);
    ASSERT(memcmp(&a->factor, &b->factor, sizeof(double)) == 0);
    ASSERT_EQ(a->status, b->status);
    ASSERT_EQ(sc->notes[i].final_status, sc1->notes[i].final_status);
  }
  ns_scores_free(sc);
  ns_scores_free(sc1);
  ns_dataset_free(ds);
}

TEST(pipeline_lock_and_inertia_from_history) {
  ns_dataset *ds = two_camps();
  ns_params p;
  ns_scores *sc;
  const ns_note_score *s;
  size_t h;

  /* note 200 (partisan) was CRH and locked; note 700 is > 14 days old at
  ** "now" + 5 days, so its CoreModel decision locks this run */
  ds->history = realloc(ds->history, 2 * sizeof *ds->history);
  ns_nsh_init(&ds->history[1], 200);
  ds->history[1].created_ms = T0 + 10000;
  ds->history[1].current_status = NS_STATUS_CRH;
  ds->history[1].locked_status = NS_STATUS_CRH;
  ds->history[1].ts_lock = T0;
  ds->n_history = 2;
  ASSERT_OK(ns_dataset_normalize(ds));
  ns_params_default(&p);
  p.now_ms = ns_pipeline_default_now(ds) + 5 * DAY;
  p.trust = 0; /* the two-camp world is one co-rating group, see above */
  /* a history row with a currentStatus turns stabilization on: note 700's
  ** clock started 2 h ago, so its CRH is released (> 60 min) by CoreModel */
  for (h = 0; h < ds->n_history && ds->history[h].note_id != 700; h++) {}
  ASSERT(h < ds->n_history);
  ds->history[h].ts_nmr_due_to_stable_crh = p.now_ms - 2 * 3600000LL;
  ASSERT_OK(ns_pipeline_run(ds, &p, NULL, &sc, NULL));
  s = find_note(sc, 200);
  ASSERT(s->core_status != NS_STATUS_CRH);
  ASSERT_EQ(s->final_status, NS_STATUS_CRH);
  ASSERT_EQ(s->decided_by, NS_RULE_DRIFT_GUARD);
  for (h = 0; h < sc->n_history && sc->history[h].note_id != 700; h++) {}
  ASSERT(h < sc->n_history);
  ASSERT_EQ(sc->history[h].locked_status, NS_STATUS_CRH);
  ASSERT_EQ(sc->history[h].ts_lock, p.now_ms);
  ASSERT_EQ(sc->history[h].ts_nmr_due_to_stable_crh, -1);  /* clock cleared */
  ASSERT_EQ(sc->history[h].ts_first_nmr_due_to_stable_crh, NS_TS_NONE);
  ns_scores_free(sc);
  ns_dataset_free(ds);
}

/* The stats come back whole: every stage timed (publish is the caller's),
** the run's wall time covers the stages, ALS passes counted; the guardrail
** sub-timers sit inside their stage. */
TEST(pipeline_run_stats) {
  ns_dataset *ds = two_camps();
  ns_params p;
  ns_scores *sc;
  ns_run_stats rs;
  double sum = 0;
  ns_params_default(&p);
  p.now_ms = ns_pipeline_default_now(ds);
  p.trust = 0;
  memset(&rs, 0xff, sizeof rs);   /* garbage in: every field must be written */
  ASSERT_OK(ns_pipeline_run(ds, &p, NULL, &sc, &rs));
  ASSERT(rs.mf_passes > 0);
  ASSERT_EQ(rs.stage_seconds[NS_STAGE_PUBLISH], 0.0);
  ASSERT_EQ(rs.groups_seconds, 0.0);          /* trust off: no coordination test */
  ASSERT_EQ(rs.propagation_edge_visits, 0);
  for (int i = 0; i < NS_STAGE_COUNT; i++) {
    ASSERT(rs.stage_seconds[i] >= 0);
    sum += rs.stage_seconds[i];
  }
  ASSERT(rs.seconds >= sum);
  ASSERT(rs.stage_seconds[NS_STAGE_GUARDRAILS] >= rs.pseudo_seconds);
  ASSERT_STREQ(ns_stage_names[NS_STAGE_ROUND2], "round2");
  ASSERT_STREQ(ns_stage_names[NS_STAGE_PUBLISH], "publish");
  ns_scores_free(sc);
  ns_dataset_free(ds);
}

/* A cancel flag already set (another thread's request) stops the run at
** the first stage boundary: NS_ECANCELED, no scores. */
TEST(pipeline_cancel) {
  ns_dataset *ds = two_camps();
  ns_params p;
  ns_scores *sc = (ns_scores *)1;
  atomic_int cancel;
  atomic_init(&cancel, 1);
  ns_params_default(&p);
  p.now_ms = ns_pipeline_default_now(ds);
  ASSERT_ERR(ns_pipeline_run(ds, &p, &cancel, &sc, NULL), NS_ECANCELED);
  ASSERT(sc == NULL);
  atomic_store(&cancel, 0);
  ASSERT_OK(ns_pipeline_run(ds, &p, &cancel, &sc, NULL));
  ASSERT(sc != NULL && sc->n_notes == 38);
  ns_scores_free(sc);
  ns_dataset_free(ds);
}

/* prepare() on ds: every edge maps back (ns__r_src) to a dataset rating of
** its note and rater, the ds indexes ascending; *n_edges the edges,
** *note_list 1 if the bigraph stores its note list; returns 1 when the run
** keeps the ds index per edge (r_src), 0 when per note (note_src). */
static int check_edges(const ns_dataset *ds, size_t *n_edges, int *note_list) {
  ns__run run;
  int per_edge;
  size_t cur = 0;
  memset(&run, 0, sizeof run);
  run.ds = ds;
  ASSERT_OK(ns__run_prepare(&run));
  per_edge = run.r_src != NULL;
  ASSERT((run.r_src == NULL) != (run.note_src == NULL));
  /* a note column only when the edges are out of note order */
  ASSERT((run.r_note == NULL) == (run.g->note_edges == NULL));
  ASSERT(run.g->edge_note == run.r_note);
  for (size_t e = 0; e < run.n_r; e++) {
    size_t i = ns__r_src(&run, e);
    int32_t n = ns__edge_note(&run, e);
    int64_t id = -1;
    ASSERT(i < ds->n_ratings);
    ASSERT(n >= 0 && (size_t)n < run.n_notes);
    ASSERT_EQ(ns__edge_note_walk(&run, e, &cur), n);
    ASSERT_EQ(ns__r_src_n(&run, e, n), i);
    if (ds->r_note_id) {
      id = ds->r_note_id[i];
    } else {
      for (size_t k = 0; k < ds->n_note_runs; k++)
        if (ds->r_note_run_off[k] <= i && i < ds->r_note_run_off[k + 1]) id = ds->r_note_run_id[k];
    }
    ASSERT_EQ(id, run.note_id[n]);
    ASSERT_EQ(ds->r_rater[i], run.r_rater[e]);
    if (e) ASSERT(i > ns__r_src(&run, e - 1));  /* edges keep the ds order */
  }
  *n_edges = run.n_r;
  *note_list = run.g->note_edges != NULL;
  ns__run_free(&run);
  return per_edge;
}

/* The run's edges of a normalized dataset are in note order, each note's
** one block of consecutive ratings: neither the ds index per edge, nor a
** note per edge, nor the bigraph's note list is stored.  Any other order
** keeps all three (a rating dropped inside a block: the ds index only). */
TEST(pipeline_edges_note_order) {
  ns_dataset *ds = two_camps();
  size_t ne;
  int list;
  /* note 600 (NOT_MISLEADING, 2022-01) loses its 40 ratings: a gap
  ** between two notes, not inside one */
  ASSERT_EQ(check_edges(ds, &ne, &list), 0);
  ASSERT_EQ(ne, ds->n_ratings - 40);
  ASSERT_EQ(list, 0);
  /* the noteIds packed: the same edges */
  ASSERT_OK(ns_dataset_pack_note_ids(ds));
  ASSERT(ds->r_note_id == NULL && ds->n_note_runs == 38);
  ASSERT_EQ(check_edges(ds, &ne, &list), 0);
  ASSERT_EQ(ne, ds->n_ratings - 40);
  ASSERT_ERR(ns_dataset_normalize(ds), NS_EINVAL);
  ns_dataset_free(ds);

  ASSERT_OK(ns_dataset_new(&ds));
  add_note(ds, 1, "x", T0, NS_CLASS_MISLEADING);
  add_note(ds, 2, "x", T0, NS_CLASS_MISLEADING);
  add_rating(ds, 2, "a", T0, NS_LEVEL_HELPFUL, 0);
  add_rating(ds, 1, "a", T0, NS_LEVEL_HELPFUL, 0);
  add_rating(ds, 2, "b", T0, NS_LEVEL_HELPFUL, 0);
  add_rating(ds, 1, "b", T0, NS_LEVEL_HELPFUL, 0);
  add_rating(ds, 1, "c", T0, NS_LEVEL_HELPFUL, 0);
  add_rating(ds, 3, "b", T0, NS_LEVEL_HELPFUL, 0); /* note 3 unknown: dropped */
  ASSERT_EQ(check_edges(ds, &ne, &list), 1);   /* not in note order */
  ASSERT_EQ(ne, 5);
  ASSERT_EQ(list, 1);
  ASSERT_ERR(ns_dataset_pack_note_ids(ds), NS_EINVAL);  /* not sorted */
  ASSERT(ds->r_note_id != NULL);
  ASSERT_OK(ns_dataset_normalize(ds));
  ASSERT_EQ(check_edges(ds, &ne, &list), 0);
  ASSERT_EQ(ne, 5);
  ASSERT_EQ(list, 0);
  /* a rating dropped inside note 1's block (1a 1b 1c: a rater out of the
  ** table on 1b) */
  ds->r_rater[1] = 99;
  ASSERT_EQ(check_edges(ds, &ne, &list), 1);
  ASSERT_EQ(ne, 4);
  ASSERT_EQ(list, 0);
  ns_dataset_free(ds);
}

/* ns_dataset_normalize_pack (the score CLI's) = ns_dataset_normalize then
** ns_dataset_pack_note_ids, field for field: ratings out of order, a
** duplicate (note, rater) whose later createdAt wins, three notes. */
static ns_dataset *unsorted_ds(void) {
  ns_dataset *ds;
  ASSERT_OK(ns_dataset_new(&ds));
  add_note(ds, 7, "x", T0, NS_CLASS_MISLEADING);
  add_note(ds, 3, "y", T0, NS_CLASS_MISLEADING);
  add_rating(ds, 7, "b", T0 + 5, NS_LEVEL_HELPFUL, 0);
  add_rating(ds, 3, "a", T0 + 1, NS_LEVEL_NOT_HELPFUL, 0);
  add_rating(ds, 9, "c", T0 + 2, NS_LEVEL_HELPFUL, 0);
  add_rating(ds, 7, "a", T0 + 3, NS_LEVEL_SOMEWHAT_HELPFUL, 0);
  add_rating(ds, 3, "a", T0 + 9, NS_LEVEL_HELPFUL, 0);  /* the duplicate that wins */
  add_rating(ds, 3, "c", T0 + 4, NS_LEVEL_HELPFUL, 0);
  return ds;
}

TEST(pipeline_normalize_pack_same_dataset) {
  ns_dataset *a = unsorted_ds(), *b = unsorted_ds(), *e;
  ASSERT_OK(ns_dataset_normalize(a));
  ASSERT_OK(ns_dataset_pack_note_ids(a));
  ASSERT_OK(ns_dataset_normalize_pack(b));
  ASSERT(b->r_note_id == NULL);
  ASSERT_EQ(b->n_ratings, 5);
  ASSERT_EQ(a->n_ratings, b->n_ratings);
  ASSERT_EQ(b->n_note_runs, 3);
  ASSERT_EQ(a->n_note_runs, b->n_note_runs);
  for (size_t r = 0; r < b->n_note_runs; r++) {
    ASSERT_EQ(a->r_note_run_id[r], b->r_note_run_id[r]);
    ASSERT_EQ(a->r_note_run_off[r + 1], b->r_note_run_off[r + 1]);
  }
  ASSERT_EQ(b->r_note_run_id[0], 3);
  ASSERT_EQ(b->r_note_run_off[1], 2);  /* note 3: a (the later row), c */
  ASSERT_EQ(ns_r_created(b, 0), T0 + 9);
  ASSERT_EQ(ns_r_level(b, 0), NS_LEVEL_HELPFUL);
  for (size_t i = 0; i < b->n_ratings; i++) {
    ASSERT_EQ(a->r_rater[i], b->r_rater[i]);
    ASSERT_EQ(a->r_meta[i], b->r_meta[i]);
    ASSERT_EQ(a->r_time_lo[i], b->r_time_lo[i]);
  }
  ASSERT_EQ(b->n_notes, 2);
  ASSERT_EQ(b->note_id[0], 3);
  ASSERT_ERR(ns_dataset_normalize_pack(b), NS_EINVAL);  /* packed already */
  /* no ratings: the empty runs */
  ASSERT_OK(ns_dataset_new(&e));
  add_note(e, 1, "x", T0, NS_CLASS_MISLEADING);
  ASSERT_OK(ns_dataset_normalize_pack(e));
  ASSERT_EQ(e->n_note_runs, 0);
  ns_dataset_free(a);
  ns_dataset_free(b);
  ns_dataset_free(e);
}

/* Same input, 1 vs 2 threads, twice, then as the score CLI runs it (noteIds
** packed; the run taking the rater column): byte-identical files.  Note 600
** is NOT_MISLEADING from before the cut-off, so the run's filter drops its
** ratings and the consuming run compacts the column around them. */
TEST(pipeline_deterministic_output) {
  ns_dataset *ds = two_camps();
  ns_params p;
  const char *dir = ns_test_tmpdir();
  const char *files[] = {"scored_notes.tsv", "helpfulness_scores.tsv", "note_status_history.tsv",
                         "aux_note_info.tsv"};
  char path[5][4][512];

  ns_params_default(&p);
  p.now_ms = ns_pipeline_default_now(ds);
  for (int run = 0; run < 5; run++) {
    ns_scores *sc;
    char out[400];
    p.threads = run == 1 ? 2 : 1;
    /* the 4th run on the noteIds packed, as the score CLI does */
    if (run == 3) ASSERT_OK(ns_dataset_pack_note_ids(ds));
    snprintf(out, sizeof out, "%s/run%d", dir, run);
    if (run == 4) {
      ASSERT_OK(ns_pipeline_run_consume(ds, &p, NULL, &sc, NULL));
      ASSERT(ds->r_rater == NULL);
    } else {
      ASSERT_OK(ns_pipeline_run(ds, &p, NULL, &sc, NULL));
    }
    ASSERT_OK(ns_scores_write_tsv(sc, ds, out));
    for (int f = 0; f < 4; f++) snprintf(path[run][f], sizeof path[run][f], "%s/%s", out, files[f]);
    ns_scores_free(sc);
  }
  for (int f = 0; f < 4; f++) {
    size_t l0, l1, l2, l3, l4;
    char *a = ns_test_slurp(path[0][f], &l0), *b = ns_test_slurp(path[1][f], &l1);
    char *c = ns_test_slurp(path[2][f], &l2), *d = ns_test_slurp(path[3][f], &l3);
    char *e = ns_test_slurp(path[4][f], &l4);
    ASSERT(a && b && c && d && e);
    ASSERT_EQ(l0, l1);
    ASSERT_EQ(l0, l2);
    ASSERT_EQ(l0, l3);
    ASSERT_EQ(l0, l4);
    ASSERT(memcmp(a, b, l0) == 0 && memcmp(a, c, l0) == 0 && memcmp(a, d, l0) == 0 &&
           memcmp(a, e, l0) == 0);
    free(a);
    free(b);
    free(c);
    free(d);
    free(e);
  }
  /* header and one known row */
  {
    size_t len;
    char *t = ns_test_slurp(path[0][0], &len);
    ASSERT(strncmp(t, "noteId\tcoreNoteIntercept\tcoreNoteFactor1\tfinalRatingStatus\t", 59) == 0);
    ASSERT(strstr(t, "\n600\t\t\tNEEDS_MORE_RATINGS\t\t\t\t\tNOT_MISLEADING\t1641000000000\t\t"
                     "MetaInitialNMR (v1.0)\tMetaInitialNMR (v1.0)\t") != NULL);
    free(t);
    t = ns_test_slurp(path[0][2], &len);
    ASSERT(strncmp(t, "noteId\tnoteAuthorParticipantId\tcreatedAtMillis\t", 47) == 0);
    free(t);
    /* aux_note_info.tsv: note 600 is NMR (awaitingBool True), has no prior
    ** history (currentStatus empty) */
    t = ns_test_slurp(path[0][3], &len);
    ASSERT(strncmp(t, "noteId\tratingWeight\tcreatedAtMillis\tnoteAuthorParticipantId\t"
                      "awaitingBool\t", 70) == 0);
    ASSERT(strstr(t, "\n600\t\t1641000000000\t") != NULL);
    ASSERT(strstr(strstr(t, "\n600\t"), "\tTrue\t") != NULL);
    free(t);
  }
  ns_dataset_free(ds);
}

/* The reference's rule strings: "Name (vX.Y)"; INITIAL_NMR as a meta rule is
** the meta-scorer's MetaInitialNMR. */
TEST(output_rule_ref_names) {
  ASSERT_STREQ(ns__rule_ref_name(NS_RULE_INITIAL_NMR), "InitialNMR (v1.0)");
  ASSERT_STREQ(ns__rule_ref_name(NS_RULE_CORE_MODEL), "CoreModel (v1.1)");
  ASSERT_STREQ(ns__rule_ref_name(NS_RULE_GROUP_MODEL_14), "GroupModel14 (v1.1)");
  ASSERT_STREQ(ns__rule_ref_name(NS_RULE_TOPIC_MODEL_05), "TopicModel05 (v1.0)");
  ASSERT_STREQ(ns__rule_ref_name(NS_RULE_COUNT), "");
  ASSERT_STREQ(ns__rule_ref_name(NS_RULE_META_INITIAL_NMR), "MetaInitialNMR (v1.0)");
  ASSERT_STREQ(ns__meta_rule_name(NS_RULE_INITIAL_NMR), "MetaInitialNMR");
  ASSERT_STREQ(ns__meta_rule_name(-1), "");
}

TEST(fmt_double_rules) {
  char b[40];
  ns__fmt_double(b, sizeof b, NAN);
  ASSERT_STREQ(b, "");
  ns__fmt_double(b, sizeof b, -0.0);
  ASSERT_STREQ(b, "0");
  ns__fmt_double(b, sizeof b, 0.1);
  ASSERT_STREQ(b, "0.1");
  ns__fmt_double(b, sizeof b, -1.0 / 3.0);
  ASSERT_STREQ(b, "-0.333333333");
}

/* ---- output layout: hand-made scores through ns_scores_write_tsv --------- */

/* Field `col` (by header name) of the row whose first field is `key` in the
** TSV text t, copied to out; 0 if found. */
static int tsv_field(const char *t, const char *key, const char *col, char *out, size_t cap) {
  const char *line = t, *nl;
  int want = -1, k = 0;
  size_t klen = strlen(key);
  /* header: index of col */
  for (const char *p = t, *e; *p && *p != '\n'; p = *e == '\t' ? e + 1 : e, k++) {
    for (e = p; *e && *e != '\t' && *e != '\n'; e++) {}
    if ((size_t)(e - p) == strlen(col) && !memcmp(p, col, (size_t)(e - p))) want = k;
    if (*e != '\t') break;
  }
  if (want < 0) return -1;
  while ((nl = strchr(line, '\n')) != NULL) {
    line = nl + 1;
    if (strncmp(line, key, klen) == 0 && line[klen] == '\t') {
      const char *p = line, *e;
      for (k = 0; k < want; k++) p = strchr(p, '\t') + 1;
      for (e = p; *e && *e != '\t' && *e != '\n'; e++) {}
      snprintf(out, cap, "%.*s", (int)(e - p), p);
      return 0;
    }
  }
  return -1;
}

#define FIELD_IS(text, key, col, want)                                           \
  do {                                                                           \
    char v_[256];                                                                \
    ASSERT_EQ(tsv_field((text), (key), (col), v_, sizeof v_), 0);                \
    ASSERT_STREQ(v_, (want));                                                    \
  } while (0)

/* Every kind of value the writer formats: another scorer's columns, the
** note's scopes, the meta rules in run order, ints as floats, NaN, and
** aux_note_info.tsv's counts from the ratings and the input history. */
TEST(output_columns_from_scores) {
  const int64_t now = T0 + 40 * DAY;
  ns_dataset *ds;
  ns_scores sc;
  ns_note_score notes[2];
  ns_nsh hist[2];
  ns_rater_score rater;
  char out[400], path[512];
  char *t;
  size_t len;

  ASSERT_OK(ns_dataset_new(&ds));
  add_note(ds, 10, "A", T0, NS_CLASS_MISLEADING);
  add_note(ds, 20, "B", T0 + 1000, NS_CLASS_NOT_MISLEADING);
  add_rating_src(ds, 10, "a", now - 30 * DAY, NS_LEVEL_HELPFUL, NS_TAG_BIT(2) | NS_TAG_BIT(4),
                 NS_SOURCE_POPULATION_SAMPLED);
  add_rating(ds, 10, "b", now - DAY, NS_LEVEL_HELPFUL, NS_TAG_BIT(2));
  add_rating_src(ds, 10, "c", now - 2 * DAY, NS_LEVEL_NOT_HELPFUL, NS_TAG_BIT(NS_TAG_NH_INCORRECT),
                 NS_SOURCE_POPULATION_SAMPLED);
  ds->history = calloc(1, sizeof *ds->history);
  ns_nsh_init(&ds->history[0], 10);
  ds->history[0].current_status = NS_STATUS_CRNH;
  ds->n_history = 1;
  ds->enrollment = calloc(1, sizeof *ds->enrollment);
  ds->enrollment[0].participant = part(ds, "a");
  ds->enrollment[0].state = NS_ENROLL_NEW_USER;
  ds->enrollment[0].successful_needed = 5;
  ds->enrollment[0].ts_last_state_change = 77;
  ds->enrollment[0].ts_last_earn_out = 0;
  ds->enrollment[0].modeling_group = 7;
  ds->enrollment[0].times_earned_out = 1;
  ds->n_enrollment = 1;
  ASSERT_OK(ns_dataset_normalize(ds));

  ns_note_score_init(&notes[0], 10);
  notes[0].note_index = 0;
  notes[0].created_ms = T0;
  notes[0].classification = NS_CLASS_MISLEADING;
  notes[0].num_ratings = 3;
  notes[0].num_final_round_ratings = 3;
  notes[0].intercept = 0.25;
  notes[0].factor = -0.5;
  notes[0].core_status = NS_STATUS_NMR;
  notes[0].core_rules = 1u << NS_RULE_INITIAL_NMR;
  notes[0].final_status = NS_STATUS_CRH;
  notes[0].decided_by = NS_RULE_EXPANSION_MODEL;
  notes[0].meta_rules = (1ull << NS_RULE_META_INITIAL_NMR) | (1ull << NS_RULE_EXPANSION_MODEL) |
                        (1ull << NS_RULE_CORE_MODEL) | (1ull << NS_RULE_EXPANSION_PLUS_MODEL);
  notes[0].model[NS_MODEL_EXPANSION].intercept = 0.41;
  notes[0].model[NS_MODEL_EXPANSION].factor = 0.125;
  notes[0].model[NS_MODEL_EXPANSION].status = NS_STATUS_CRH;
  notes[0].model[NS_MODEL_EXPANSION].rules = (1u << NS_RULE_INITIAL_NMR) | (1u << NS_RULE_GENERAL_CRH);
  notes[0].model[NS_MODEL_EXPANSION].n_final_round = 3;
  notes[0].model[NS_MODEL_MULTI_GROUP].status = NS_STATUS_NYH;
  notes[0].model[NS_MODEL_MULTI_GROUP].intercept = 0.5;
  notes[0].modeling_group = 13;
  notes[0].modeling_multi_group = 1;
  notes[0].topic = NS_TOPIC_GAZA_CONFLICT;
  notes[0].topic_confident = 0;
  notes[0].low_diligence_intercept = -0.75;
  ns_note_score_init(&notes[1], 20);
  notes[1].note_index = 1;
  notes[1].created_ms = T0 + 1000;
  notes[1].classification = NS_CLASS_NOT_MISLEADING;
  notes[1].final_status = NS_STATUS_NMR;
  notes[1].decided_by = NS_RULE_META_INITIAL_NMR;
  notes[1].meta_rules = 1ull << NS_RULE_META_INITIAL_NMR;
  ns_nsh_init(&hist[0], 10);
  hist[0].ts_nmr_due_to_stable_crh = -1;
  hist[0].ts_current = now;
  hist[0].current_modeling_group = 13;
  ns_nsh_init(&hist[1], 20);
  memset(&rater, 0, sizeof rater);
  rater.participant = part(ds, "a");
  rater.intercept = rater.factor = rater.intercept_r1 = rater.factor_r1 = NAN;
  rater.crh_crnh_ratio_diff = rater.mean_note_score = rater.agree_ratio = NAN;
  rater.agree_ratio_harassment = rater.trust = NAN;
  rater.above_threshold = -1;
  memset(&sc, 0, sizeof sc);
  sc.n_notes = 2;
  sc.notes = notes;
  sc.n_history = 2;
  sc.history = hist;
  sc.n_raters = 1;
  sc.raters = &rater;
  sc.now_ms = now;

  snprintf(out, sizeof out, "%s/layout", ns_test_tmpdir());
  ASSERT_OK(ns_scores_write_tsv(&sc, ds, out));

  snprintf(path, sizeof path, "%s/scored_notes.tsv", out);
  t = ns_test_slurp(path, &len);
  ASSERT(t != NULL);
  FIELD_IS(t, "10", "decidedBy", "ExpansionModel (v1.1)");
  FIELD_IS(t, "10", "metaScorerActiveRules",
           "MetaInitialNMR (v1.0),ExpansionPlusModel (v1.1),ExpansionModel (v1.1),CoreModel (v1.1)");
  FIELD_IS(t, "10", "coreActiveRules", "InitialNMR (v1.0)");
  FIELD_IS(t, "10", "expansionNoteIntercept", "0.41");
  FIELD_IS(t, "10", "expansionNoteFactor1", "0.125");
  FIELD_IS(t, "10", "expansionRatingStatus", "CURRENTLY_RATED_HELPFUL");
  FIELD_IS(t, "10", "expansionActiveRules", "InitialNMR (v1.0),GeneralCRH (v1.0)");
  FIELD_IS(t, "10", "expansionNumFinalRoundRatings", "3.0");
  FIELD_IS(t, "10", "coreNumFinalRoundRatings", "3.0");
  FIELD_IS(t, "10", "multiGroupRatingStatus", "NEEDS_YOUR_HELP");
  FIELD_IS(t, "10", "multiGroupActiveRules", "");
  FIELD_IS(t, "10", "groupRatingStatus", "");
  FIELD_IS(t, "10", "groupNumFinalRoundRatings", "");
  FIELD_IS(t, "10", "modelingGroup", "13.0");
  FIELD_IS(t, "10", "modelingMultiGroup", "1.0");
  FIELD_IS(t, "10", "noteTopic", "GazaConflict");
  FIELD_IS(t, "10", "topicNoteConfident", "False");
  FIELD_IS(t, "10", "coverageNoteIntercept", "");
  FIELD_IS(t, "10", "rescoringActiveRules", "");
  FIELD_IS(t, "10", "timestampMillisOfNmrDueToMinStableCrhTime", "-1.0");
  FIELD_IS(t, "10", "lowDiligenceIntercept", "-0.75");
  FIELD_IS(t, "20", "decidedBy", "MetaInitialNMR (v1.0)");
  FIELD_IS(t, "20", "coreNumFinalRoundRatings", "");
  FIELD_IS(t, "20", "modelingGroup", "");
  FIELD_IS(t, "20", "topicNoteConfident", "");
  free(t);

  snprintf(path, sizeof path, "%s/aux_note_info.tsv", out);
  t = ns_test_slurp(path, &len);
  ASSERT(t != NULL);
  FIELD_IS(t, "10", "noteAuthorParticipantId", "A");
  FIELD_IS(t, "10", "helpfulClear", "2");
  FIELD_IS(t, "10", "helpfulGoodSources", "1");
  FIELD_IS(t, "10", "notHelpfulIncorrect", "1");
  FIELD_IS(t, "10", "helpfulOther", "0");
  FIELD_IS(t, "10", "numRatingsLast28", "2");          /* the 30-day-old rating is out */
  FIELD_IS(t, "10", "numPopulationSampledRatings", "2");
  FIELD_IS(t, "10", "currentStatus", "CURRENTLY_RATED_NOT_HELPFUL"); /* the input's */
  FIELD_IS(t, "10", "crhBool", "True");
  FIELD_IS(t, "10", "awaitingBool", "False");
  FIELD_IS(t, "10", "lowDiligenceIntercept", "-0.75");
  FIELD_IS(t, "10", "ratingWeight", "");
  FIELD_IS(t, "20", "numRatingsLast28", "0");
  FIELD_IS(t, "20", "currentStatus", "");
  FIELD_IS(t, "20", "awaitingBool", "True");
  free(t);

  snprintf(path, sizeof path, "%s/note_status_history.tsv", out);
  t = ns_test_slurp(path, &len);
  {
    char want[40];
    snprintf(want, sizeof want, "%lld.0", (long long)now); /* a float, as the reference's */
    FIELD_IS(t, "10", "timestampMillisOfCurrentStatus", want);
  }
  FIELD_IS(t, "10", "createdAtMillis", "");                /* absent in the row */
  FIELD_IS(t, "10", "currentModelingGroup", "13.0");
  FIELD_IS(t, "10", "timestampMillisOfNmrDueToMinStableCrhTime", "-1.0");
  free(t);

  snprintf(path, sizeof path, "%s/helpfulness_scores.tsv", out);
  t = ns_test_slurp(path, &len);
  FIELD_IS(t, "a", "enrollmentState", "4");            /* newUser's thrift code */
  FIELD_IS(t, "a", "successfulRatingNeededToEarnIn", "5");
  FIELD_IS(t, "a", "timestampOfLastEarnOut", "0.0");
  FIELD_IS(t, "a", "modelingGroup", "7.0");
  FIELD_IS(t, "a", "numberOfTimesEarnedOut", "1");
  FIELD_IS(t, "a", "notesCurrentlyRatedHelpful", "");  /* authored no note */
  FIELD_IS(t, "a", "aboveHelpfulnessThreshold", "");
  FIELD_IS(t, "a", "crhTotal14d", "");
  free(t);
  ns_dataset_free(ds);
}
