/*
** tools/cmd_score.c -- `notescore score`: one scoring run.
**
**   notescore score -n NOTES -r RATINGS [-s STATUS] [-e ENROLLMENT] -o OUTDIR
**       reproducibility mode: public TSVs in, reference-style TSVs out, no DB.
**   notescore score --db DB [-o OUTDIR]
**       snapshot the DB, score, publish the results as a new run (and
**       optionally also write the TSVs).
**
** Runs on the main thread; the pipeline uses its own pool.  Progress per
** stage goes to stderr when it is a terminal; a one-line summary is always
** printed to stderr at the end.
*/
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../base/dataset.h"
#include "../engine/pipeline.h"
#include "../store/store.h"
#include "cli.h"

static void usage(FILE *f) {
  fputs(
      "usage: notescore score -n NOTES -r RATINGS [-s STATUS] [-e ENROLLMENT] -o OUTDIR [options]\n"
      "       notescore score --db DB [-o OUTDIR] [options]\n"
      "\n"
      "Scores notes the Community Notes way (matrix factorization with intercepts,\n"
      "rater helpfulness, status rules) and writes scored_notes.tsv,\n"
      "helpfulness_scores.tsv and note_status_history.tsv to OUTDIR.\n"
      "\n"
      "inputs (public download format; columns mapped by header name):\n"
      "  -n, --notes FILE          notes-00000.tsv\n"
      "  -r, --ratings PATH        a ratings file or a directory of *.tsv files\n"
      "  -s, --status FILE         noteStatusHistory-00000.tsv (optional)\n"
      "  -e, --enrollment FILE     userEnrollment-00000.tsv (optional)\n"
      "      --db DB               score the SQLite store DB instead and publish a run\n"
      "  -o, --outdir DIR          output directory (required without --db)\n"
      "\n"
      "options:\n"
      "      --epoch-millis T      the run's \"now\" in ms (default: newest createdAtMillis\n"
      "                            in the input + 1, so output depends on input only)\n"
      "      --seed S              factorization seed (default 0)\n"
      "      --threads N           worker threads (default: NS_THREADS or CPU count)\n"
      "      --k K                 number of factors, 1..8 (default 1)\n"
      "      --no-trust            no trust propagation or coordinated-group filter\n"
      "                            (the reference-like Core path)\n"
      "      --reference-tag-filter\n"
      "                            the tag-outlier filter exactly as the reference\n"
      "                            (without notescore's share test, docs/guardrails.md)\n"
      "      --seeds FILE          trust seeds: participant ids, one a line\n"
      "                            (default: the established-record rule)\n"
      "      --stats FILE          write run statistics as \"key value\" lines\n"
      "  -v, --verbose             debug log: per-stage details on stderr\n"
      "  -h, --help                this help\n",
      f);
}

/* Load-time row rejections: "FILE:LINE:COL: reason". */
static void report(void *ctx, const char *msg) {
  (void)ctx;
  fprintf(stderr, "notescore: %s\n", msg);
}

static int load(ns_dataset *ds, const char *path, int want_kind, const char *flag) {
  ns_load_opts o = {0, report, NULL};
  ns_load_stats st;
  int rc;
  memset(&st, 0, sizeof st);
  rc = ns_tsv_load(path, ds, &o, &st);
  if (rc) {
    fprintf(stderr, "notescore: %s: %s\n", path, ns_strerror(rc));
    return 1;
  }
  if (st.kind != want_kind && st.rows_read > 0) {
    fprintf(stderr, "notescore: %s: expected a %s file for %s, found %s\n", path,
            ns_file_kind_name(want_kind), flag, ns_file_kind_name(st.kind));
    return 2;
  }
  return 0;
}

/* --stats FILE: "key value" lines for scripts (tools/bench.sh reads them). */
static int write_stats(const char *path, const ns_scores *sc, double t_load, double total_s) {
  static const char *const stage[8] = {"snapshot", "round1", "helpfulness", "trust",
                                       "round2", "guardrails", "statuses", "publish"};
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "notescore: %s: cannot write: %s\n", path, ns_strerror(-errno));
    return -1;
  }
  fprintf(f, "load_seconds %.3f\n", t_load);
  for (int i = 0; i < 8; i++) fprintf(f, "stage_%s_seconds %.3f\n", stage[i], sc->stage_seconds[i]);
  fprintf(f, "run_seconds %.3f\ntotal_seconds %.3f\nmf_passes %d\n", sc->seconds, total_s,
          sc->mf_passes);
  fprintf(f, "trust_groups_seconds %.3f\ntrust_propagation_seconds %.3f\n"
          "trust_propagation_edge_visits %llu\n", sc->groups_seconds, sc->propagation_seconds,
          (unsigned long long)sc->propagation_edge_visits);
  fprintf(f, "mf_seconds %.3f\n", sc->mf_seconds);
  /* part of stage_guardrails_seconds */
  fprintf(f, "guardrails_pseudo_seconds %.3f\n", sc->pseudo_seconds);
  fprintf(f, "guardrails_qclique_seconds %.3f\nqcliques %zu\ncorrelated_raters %zu\n",
          sc->qclique_seconds, sc->n_qcliques, sc->n_correlated);
  fprintf(f, "harassment_seconds %.3f\nharassment_passes %d\n", sc->harassment_seconds,
          sc->harassment_passes);
  fprintf(f, "diligence_seconds %.3f\ndiligence_passes %d\n", sc->diligence_seconds,
          sc->diligence_passes);
  fprintf(f, "ratings_in %zu\nratings_round1 %zu\nratings_round2 %zu\n", sc->n_ratings_in,
          sc->n_ratings_round1, sc->n_ratings_round2);
  fprintf(f, "notes %zu\nraters %zu\npeak_rss_bytes %zu\n", sc->n_notes, sc->n_raters,
          ns_peak_rss_bytes());
  return fclose(f) == 0 ? 0 : -1;
}

static void summary(const ns_scores *sc, double total_s) {
  size_t crh = 0, crnh = 0, nmr = 0;
  for (size_t i = 0; i < sc->n_notes; i++) {
    if (sc->notes[i].final_status == NS_STATUS_CRH) crh++;
    else if (sc->notes[i].final_status == NS_STATUS_CRNH) crnh++;
    else nmr++;
  }
  fprintf(stderr,
          "notescore: scored %zu ratings (%zu in round 1, %zu in round 2), %zu notes, %zu raters "
          "(%zu in round 2): %zu CRH, %zu CRNH, %zu NMR; %d MF passes; %.2f s\n",
          sc->n_ratings_in, sc->n_ratings_round1, sc->n_ratings_round2, sc->n_notes, sc->n_raters,
          sc->n_raters_round2, crh, crnh, nmr, sc->mf_passes, total_s);
}

int ns_cmd_score(int argc, char **argv) {
  enum { O_DB = 256, O_EPOCH, O_SEED, O_THREADS, O_K, O_NOTRUST, O_STATS, O_SEEDS, O_REFTAG };
  static const struct option longopts[] = {
      {"notes", required_argument, 0, 'n'},      {"ratings", required_argument, 0, 'r'},
      {"status", required_argument, 0, 's'},     {"enrollment", required_argument, 0, 'e'},
      {"outdir", required_argument, 0, 'o'},     {"db", required_argument, 0, O_DB},
      {"epoch-millis", required_argument, 0, O_EPOCH},
      {"seed", required_argument, 0, O_SEED},    {"threads", required_argument, 0, O_THREADS},
      {"k", required_argument, 0, O_K},          {"no-trust", no_argument, 0, O_NOTRUST},
      {"seeds", required_argument, 0, O_SEEDS},
      {"reference-tag-filter", no_argument, 0, O_REFTAG},
      {"stats", required_argument, 0, O_STATS},
      {"verbose", no_argument, 0, 'v'},
      {"help", no_argument, 0, 'h'},             {0, 0, 0, 0}};
  const char *notes = NULL, *ratings = NULL, *status = NULL, *enroll = NULL, *outdir = NULL;
  const char *db = NULL, *seeds = NULL, *stats = NULL;
  long long epoch = -1;
  unsigned long long seed = 0, threads = 0, k = 1;
  int no_trust = 0, ref_tag = 0, c, rc, ret = 1;
  double t0 = ns_monotonic_s(), t_load = 0;
  ns_dataset *ds = NULL;
  ns_scores *sc = NULL;
  ns_store *st = NULL;
  int64_t run_id = -1;
  ns_params p;

  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":n:r:s:e:o:vh", longopts, NULL)) != -1) {
    switch (c) {
    case 'n': notes = optarg; break;
    case 'r': ratings = optarg; break;
    case 's': status = optarg; break;
    case 'e': enroll = optarg; break;
    case 'o': outdir = optarg; break;
    case O_DB: db = optarg; break;
    case O_EPOCH:
      if (ns_cli_i64("--epoch-millis", optarg, &epoch)) return 2;
      break;
    case O_SEED:
      if (ns_cli_u64("--seed", optarg, &seed)) return 2;
      break;
    case O_THREADS:
      if (ns_cli_u64("--threads", optarg, &threads)) return 2;
      break;
    case O_K:
      if (ns_cli_u64("--k", optarg, &k)) return 2;
      if (k < 1 || k > 8) {
        fprintf(stderr, "notescore: score: --k must be between 1 and 8\n");
        return 2;
      }
      break;
    case O_NOTRUST: no_trust = 1; break;
    case O_REFTAG: ref_tag = 1; break;
    case O_STATS: stats = optarg; break;
    case O_SEEDS: seeds = optarg; break;
    case 'v': ns_log_set_level(NS_LOG_DEBUG); break;
    case 'h': usage(stdout); return 0;
    case ':':
      fprintf(stderr, "notescore: score: option %s needs a value\n", argv[optind - 1]);
      return 2;
    default:
      fprintf(stderr, "notescore: score: unknown option %s\n", argv[optind - 1]);
      usage(stderr);
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "notescore: score: unexpected argument %s\n", argv[optind]);
    return 2;
  }
  if (db && (notes || ratings || status || enroll)) {
    fprintf(stderr, "notescore: score: --db cannot be combined with -n/-r/-s/-e\n");
    return 2;
  }
  if (!db && (!notes || !ratings || !outdir)) {
    fprintf(stderr, "notescore: score: -n NOTES, -r RATINGS and -o OUTDIR are required "
                    "(or --db DB)\n");
    usage(stderr);
    return 2;
  }

  /* -- snapshot */
  if (db) {
    if ((rc = ns_store_open(db, 0, &st)) != 0) {
      fprintf(stderr, "notescore: %s: %s\n", db, st ? ns_store_errmsg(st) : ns_strerror(rc));
      goto out;
    }
    if ((rc = ns_store_snapshot(st, &ds)) != 0) {
      fprintf(stderr, "notescore: %s: snapshot: %s\n", db, ns_strerror(rc));
      goto out;
    }
  } else {
    if ((rc = ns_dataset_new(&ds)) != 0) {
      fprintf(stderr, "notescore: %s\n", ns_strerror(rc));
      goto out;
    }
    if ((ret = load(ds, notes, NS_FILE_NOTES, "-n")) != 0) goto out;
    if ((ret = load(ds, ratings, NS_FILE_RATINGS, "-r")) != 0) goto out;
    if (status && (ret = load(ds, status, NS_FILE_HISTORY, "-s")) != 0) goto out;
    if (enroll && (ret = load(ds, enroll, NS_FILE_ENROLLMENT, "-e")) != 0) goto out;
    ret = 1;
    if ((rc = ns_dataset_normalize(ds)) != 0) {
      fprintf(stderr, "notescore: %s\n", ns_strerror(rc));
      goto out;
    }
  }

  t_load = ns_monotonic_s() - t0;
  ns_params_default(&p);
  p.now_ms = epoch >= 0 ? (int64_t)epoch : ns_pipeline_default_now(ds);
  p.seed = seed;
  p.threads = (int)threads;
  p.k = (int)k;
  p.trust = !no_trust;
  p.tag_share_test = !ref_tag;
  p.seeds_file = seeds;
  if (seeds) {
    FILE *sf = fopen(seeds, "r");
    if (!sf) {
      fprintf(stderr, "notescore: %s: cannot open seed file\n", seeds);
      goto out;
    }
    fclose(sf);
  }
  p.progress = 1;

  if (st) {
    char json[512];
    snprintf(json, sizeof json,
             "{\"now_ms\":%" PRId64 ",\"seed\":%llu,\"k\":%d,\"trust\":%d,"
             "\"tag_share_test\":%d,\"version\":\"%s\"}",
             p.now_ms, seed, p.k, p.trust, p.tag_share_test, NS_VERSION);
    if ((rc = ns_store_run_begin(st, json, &run_id)) != 0) {
      fprintf(stderr, "notescore: %s: %s\n", db, ns_store_errmsg(st));
      goto out;
    }
  }

  /* -- score */
  rc = ns_pipeline_run(ds, &p, NULL, &sc);
  if (rc) {
    fprintf(stderr, "notescore: score: %s\n",
            rc == NS_ENODATA ? "no notes in the input" : ns_strerror(rc));
    goto out;
  }

  /* -- publish */
  {
    double tp = ns_monotonic_s();
    if (st) {
      if ((rc = ns_store_run_publish(st, run_id, sc, ds)) != 0) {
        fprintf(stderr, "notescore: %s: publish: %s\n", db, ns_store_errmsg(st));
        goto out;
      }
      run_id = -1; /* published: nothing to mark failed */
    }
    if (outdir && (rc = ns_scores_write_tsv(sc, ds, outdir)) != 0) {
      fprintf(stderr, "notescore: %s: %s\n", outdir, ns_strerror(rc));
      goto out;
    }
    sc->stage_seconds[7] = ns_monotonic_s() - tp;
  }
  summary(sc, ns_monotonic_s() - t0);
  if (stats && write_stats(stats, sc, t_load, ns_monotonic_s() - t0) != 0) goto out;
  ret = 0;

out:
  if (st && run_id >= 0) ns_store_run_fail(st, run_id, "failed");
  ns_scores_free(sc);
  ns_dataset_free(ds);
  ns_store_close(st);
  return ret;
}
