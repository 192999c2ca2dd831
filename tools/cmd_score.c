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
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../base/dataset.h"
#include "../engine/pipeline.h"
#include "../engine/score_db.h"
#include "../store/store.h"
#include "../text/topics.h"
#include "cli.h"

static void usage(FILE *f) {
  fputs(
      "usage: notescore score -n NOTES -r RATINGS [-s STATUS] [-e ENROLLMENT] -o OUTDIR [options]\n"
      "       notescore score --db DB [-o OUTDIR] [options]\n"
      "\n"
      "Scores notes the Community Notes way (matrix factorization with intercepts,\n"
      "rater helpfulness, status rules) and writes scored_notes.tsv,\n"
      "helpfulness_scores.tsv, note_status_history.tsv and aux_note_info.tsv to\n"
      "OUTDIR, with the reference's columns in its order (notescore's own last).\n"
      "\n"
      "inputs (public download format; columns mapped by header name):\n"
      "  -n, --notes FILE          notes-00000.tsv\n"
      "  -r, --ratings PATH        a ratings file or a directory (its *.tsv, *.tsv.gz and\n"
      "                            *.zip in name order; files of another kind in it are\n"
      "                            skipped with a warning); -r and -n may be repeated\n"
      "                            (every one is read; a file given twice, or an explicit\n"
      "                            file of the wrong kind by its header, is an error)\n"
      "                            Any input may be gzip'd or a zip of one file, and one\n"
      "                            of them may be '-' (standard input).  No ratings or\n"
      "                            no notes read at all is an error.\n"
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
      "      --profile NAME        notescore (default) or reference: the reference's\n"
      "                            side of every switchable deliberate difference\n"
      "                            (docs/algorithm.md §9: trust off, reference tag\n"
      "                            filter, stabilization on a first run); flags\n"
      "                            given too still apply\n"
      "      --no-trust            no trust propagation or coordinated-group filter\n"
      "                            (the reference-like Core path)\n"
      "      --reference-tag-filter\n"
      "                            the tag-outlier filter exactly as the reference\n"
      "                            (without notescore's share test, docs/guardrails.md)\n"
      "      --seeds FILE          trust seeds: participant ids, one a line\n"
      "                            (default: the established-record rule)\n"
      "      --stats FILE          write run statistics as \"key value\" lines\n"
      "  -v, --verbose             debug log: per-stage details on stderr, and every\n"
      "                            rejected input row (else the first 20, then a count)\n"
      "  -h, --help                this help\n"
      "  -V, --version             print the version\n",
      f);
}

/* What load() learns per file, in file order (ns_load_done_fn). */
typedef struct load_ctx {
  ns_cli_rejects *rj;
  const char *flag;
  int kind, failed;
  uint64_t ok;
} load_ctx;

static void load_done(void *ctx, size_t i, const char *path, int rc, const ns_load_stats *st,
                      uint64_t dropped) {
  load_ctx *L = ctx;
  (void)i;
  /* messages past the first NS_CLI_REJECTS_SHOWN of a file were only counted */
  L->rj->n += dropped;
  L->rj->file_n += dropped;
  ns_cli_rejects_end(L->rj, path);
  ns_cli_rejects_begin(L->rj);
  if (rc) {
    fprintf(stderr, "notescore: %s: %s\n", path, ns_strerror(rc));
    L->failed = 1;
    return;
  }
  if (!L->failed && st->kind != L->kind) { /* stdin: not checked before (it is read once) */
    fprintf(stderr, "notescore: %s: given as %s (a %s file) but its header is that of a %s file\n",
            path, L->flag, ns_file_kind_name(L->kind), ns_file_kind_name(st->kind));
    L->failed = 1;
  }
  L->ok += st->rows_ok;
}

/* Loads every file of the checked inputs of one kind, in the order given,
** shards in parallel (ns_tsv_load_files: the dataset is that of a
** sequential read).  *ok receives the rows accepted.  Returns 0, or 1
** after printing the reason naming the file. */
/* The notes' topics now, from their summaries, and the summaries let go:
** nothing after the topic assignment reads them, and they are the
** dataset's largest per-note part (ns_dataset_settle_topics). */
static int settle_topics(ns_dataset *ds, int threads) {
  ns_pool *pool = NULL;
  int8_t *topic;
  int rc;
  if (ds->n_notes == 0) return 0;
  if (!(topic = ns_calloc(ds->n_notes, 1))) return NS_ENOMEM;
  if ((rc = ns_pool_new(threads > 0 ? threads : ns_default_threads(), &pool)) != 0 ||
      (rc = ns_topics_assign(ds, pool, topic)) != 0) {
    ns_pool_free(pool);
    free(topic);
    return rc;
  }
  ns_pool_free(pool);
  return ns_dataset_settle_topics(ds, topic);
}

static int load(ns_dataset *ds, const ns_cli_input *in, size_t n_in, int kind, int threads,
                ns_cli_rejects *rj, uint64_t *ok) {
  ns_load_opts o = {0, ns_cli_reject, rj, NULL};
  load_ctx L = {rj, NULL, kind, 0, 0};
  const char **paths;
  size_t n = 0, k = 0;
  int rc;
  *ok = 0;
  for (size_t i = 0; i < n_in; i++)
    if (in[i].kind == kind) {
      n += in[i].n_files;
      L.flag = in[i].flag;
    }
  if (n == 0) return 0;
  if (!(paths = calloc(n, sizeof *paths))) {
    fprintf(stderr, "notescore: out of memory\n");
    return 1;
  }
  for (size_t i = 0; i < n_in; i++)
    if (in[i].kind == kind)
      for (size_t j = 0; j < in[i].n_files; j++) paths[k++] = in[i].files[j];
  ns_cli_rejects_begin(rj);
  rc = ns_tsv_load_files(paths, n, threads, rj->verbose ? SIZE_MAX : NS_CLI_REJECTS_SHOWN, ds, &o,
                         load_done, &L);
  free(paths);
  *ok = L.ok;
  return rc || L.failed ? 1 : 0;
}

/* "PATH" or "PATH, PATH, ..." of the inputs given with one flag. */
static void paths_of(const ns_cli_input *in, size_t n, const char *flag, char *buf, size_t cap) {
  size_t len = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < n && len < cap; i++)
    if (!strcmp(in[i].flag, flag)) {
      int w = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", in[i].path);
      if (w < 0) break;
      len += (size_t)w;
    }
}

/* --stats FILE: "key value" lines for scripts (tools/bench.sh reads them). */
static int write_stats(const char *path, const ns_scores *sc, const ns_run_stats *rs,
                       double t_load, double total_s) {
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "notescore: %s: cannot write: %s\n", path, ns_strerror(-errno));
    return -1;
  }
  fprintf(f, "load_seconds %.3f\n", t_load);
  for (int i = 0; i < NS_STAGE_COUNT; i++)
    fprintf(f, "stage_%s_seconds %.3f\n", ns_stage_names[i], rs->stage_seconds[i]);
  fprintf(f, "run_seconds %.3f\ntotal_seconds %.3f\nmf_passes %d\n", rs->seconds, total_s,
          rs->mf_passes);
  fprintf(f, "trust_groups_seconds %.3f\ntrust_propagation_seconds %.3f\n"
          "trust_propagation_edge_visits %llu\n", rs->groups_seconds, rs->propagation_seconds,
          (unsigned long long)rs->propagation_edge_visits);
  fprintf(f, "mf_seconds %.3f\n", rs->mf_seconds);
  /* part of stage_guardrails_seconds */
  fprintf(f, "guardrails_pseudo_seconds %.3f\n", rs->pseudo_seconds);
  fprintf(f, "guardrails_qclique_seconds %.3f\nqcliques %zu\ncorrelated_raters %zu\n",
          rs->qclique_seconds, rs->n_qcliques, rs->n_correlated);
  fprintf(f, "harassment_seconds %.3f\nharassment_passes %d\n", rs->harassment_seconds,
          rs->harassment_passes);
  fprintf(f, "diligence_seconds %.3f\ndiligence_passes %d\n", rs->diligence_seconds,
          rs->diligence_passes);
  /* each scorer's whole path (Core's stages above are inside its own) */
  for (int i = 0; i < ns_scorer_count(); i++)
    fprintf(f, "scorer_%s_seconds %.3f\n", ns_scorer_name(i), rs->scorer_seconds[i]);
  fprintf(f, "ratings_in %zu\nratings_round1 %zu\nratings_round2 %zu\n", sc->n_ratings_in,
          sc->n_ratings_round1, sc->n_ratings_round2);
  fprintf(f, "notes %zu\nraters %zu\npeak_rss_bytes %zu\n", sc->n_notes, sc->n_raters,
          ns_peak_rss_bytes());
  return fclose(f) == 0 ? 0 : -1;
}

static void summary(const ns_scores *sc, const ns_run_stats *rs, double total_s) {
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
          sc->n_raters_round2, crh, crnh, nmr, rs->mf_passes, total_s);
}

int ns_cmd_score(int argc, char **argv) {
  enum { O_DB = 256, O_EPOCH, O_SEED, O_THREADS, O_K, O_NOTRUST, O_STATS, O_SEEDS, O_REFTAG, O_PROFILE };
  static const ns_opt opts[] = {
      {"notes", 'n', 1, 'n'},          {"ratings", 'r', 1, 'r'},
      {"status", 's', 1, 's'},         {"enrollment", 'e', 1, 'e'},
      {"outdir", 'o', 1, 'o'},         {"db", 0, 1, O_DB},
      {"epoch-millis", 0, 1, O_EPOCH}, {"seed", 0, 1, O_SEED},
      {"threads", 0, 1, O_THREADS},    {"k", 0, 1, O_K},
      {"no-trust", 0, 0, O_NOTRUST},   {"seeds", 0, 1, O_SEEDS},
      {"reference-tag-filter", 0, 0, O_REFTAG}, {"profile", 0, 1, O_PROFILE},
      {"stats", 0, 1, O_STATS},        {"verbose", 'v', 0, 'v'},
      {0, 0, 0, 0}};
  ns_args a;
  const char *val;   /* the current option's value */
  const char *notes = NULL, *ratings = NULL, *status = NULL, *enroll = NULL, *outdir = NULL;
  ns_cli_input in[64];
  size_t n_in = 0;
  ns_cli_rejects rj = {0};
  int out_created = 0;
  const char *db = NULL, *seeds = NULL, *stats = NULL;
  long long epoch = -1;
  unsigned long long seed = 0, threads = 0, k = 1;
  int no_trust = 0, ref_tag = 0, profile = NS_PROFILE_NOTESCORE, c, rc, ret = 1;
  double t0 = ns_monotonic_s(), t_load = 0;
  ns_dataset *ds = NULL;
  ns_scores *sc = NULL;
  ns_run_stats rs;
  ns_params p;

  ns_args_init(&a, "score", opts, usage, argc, argv);
  while ((c = ns_args_next(&a)) != NS_ARGS_END) {
    val = a.val;
    switch (c) {
    case NS_ARGS_EXIT: return a.status;
    case NS_ARGS_ARG: ns_args_unexpected(&a); return 2;
    case 'n': case 'r': case 's': case 'e': {
      /* -n and -r may repeat (all are read); -s and -e are one file each */
      const char *flag = c == 'n' ? "-n" : c == 'r' ? "-r" : c == 's' ? "-s" : "-e";
      if ((c == 's' && status) || (c == 'e' && enroll)) {
        fprintf(stderr, "notescore: score: %s given twice ('%s' and '%s'): one file only\n", flag,
                c == 's' ? status : enroll, val);
        return 2;
      }
      if (n_in == NS_ARRAY_LEN(in)) {
        fprintf(stderr, "notescore: score: too many input arguments\n");
        return 2;
      }
      in[n_in++] = (ns_cli_input){val, flag,
                                  c == 'n'   ? NS_FILE_NOTES
                                  : c == 'r' ? NS_FILE_RATINGS
                                  : c == 's' ? NS_FILE_HISTORY
                                             : NS_FILE_ENROLLMENT,
                                  NULL, 0};
      if (c == 'n') notes = val;
      else if (c == 'r') ratings = val;
      else if (c == 's') status = val;
      else enroll = val;
      break;
    }
    case 'o': outdir = val; break;
    case O_DB: db = val; break;
    case O_EPOCH:
      if (ns_cli_i64("--epoch-millis", val, &epoch)) return 2;
      break;
    case O_SEED:
      if (ns_cli_u64("--seed", val, &seed)) return 2;
      break;
    case O_THREADS:
      if (ns_cli_u64("--threads", val, &threads)) return 2;
      break;
    case O_K:
      if (ns_cli_u64("--k", val, &k)) return 2;
      if (k < 1 || k > 8) {
        fprintf(stderr, "notescore: score: --k must be between 1 and 8\n");
        return 2;
      }
      break;
    case O_NOTRUST: no_trust = 1; break;
    case O_REFTAG: ref_tag = 1; break;
    case O_PROFILE:
      if ((profile = ns_profile_parse(val)) < 0) {
        fprintf(stderr, "notescore: score: --profile must be notescore or reference, not '%s'\n", val);
        return 2;
      }
      break;
    case O_STATS: stats = val; break;
    case O_SEEDS: seeds = val; break;
    case 'v': ns_log_set_level(NS_LOG_DEBUG); rj.verbose = 1; break;
    }
  }
  if (db && (notes || ratings || status || enroll)) {
    fprintf(stderr, "notescore: score: --db cannot be combined with -n/-r/-s/-e\n");
    return 2;
  }
  if (!db && (!notes || !ratings || !outdir)) {
    ns_args_error(&a, "-n NOTES, -r RATINGS and -o OUTDIR are required (or --db DB)");
    return 2;
  }

  /* Memory: a fixed mmap threshold (glibc raises it up to 32 MB on each
  ** free otherwise) so the run's per-rating arrays, allocated and freed
  ** stage by stage, go back to the system when freed instead of staying
  ** in the heap: the peak is what is live, not what once was
  ** (docs/architecture.md, "Memory of a scoring run"). */
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  ns_params_default(&p);
  p.seed = seed;
  p.threads = (int)threads;
  p.k = (int)k;
  ns_params_profile(&p, profile);  /* first: explicit flags override it */
  if (no_trust) p.trust = 0;
  if (ref_tag) p.tag_share_test = 0;
  p.progress = 1;

  /* -- checks before any work: the DB, every input's kind, the seeds (read
  ** here: the pipeline opens no file), the outputs */
  if (db && ns_cli_check_db(db, 1) != 0) goto out;
  if (ns_cli_check_inputs(in, n_in) != 0) goto out;
  if (seeds) {
    char msg[PATH_MAX + 128];
    if (ns_params_load_seeds(&p, seeds, msg, sizeof msg) != 0) {
      fprintf(stderr, "notescore: %s\n", msg);
      goto out;
    }
  }
  if (outdir && ns_cli_prepare_outdir(outdir, &out_created) != 0) goto out;

  if (db) {
    /* -- snapshot, score, publish: the path `serve` takes too */
    ns_score_db_opts so = {"score", epoch >= 0 ? NS_SCORE_NOW_GIVEN : NS_SCORE_NOW_DATA, 1, NULL,
                           1};
    ns_score_db_result res;
    if (epoch >= 0) p.now_ms = (int64_t)epoch;
    t_load = ns_monotonic_s() - t0; /* the checks */
    rc = ns_score_db(db, &p, &so, &res);
    t_load += res.load_seconds;
    if (rc) {
      fprintf(stderr, "notescore: %s\n", res.msg);
      goto out;
    }
    ds = res.ds;
    sc = res.sc;
    rs = res.stats;
  } else {
    /* -- load */
    uint64_t got[5] = {0};  /* rows accepted per ns_file_kind */
    char which[1024];
    if ((rc = ns_dataset_new(&ds)) != 0) {
      fprintf(stderr, "notescore: %s\n", ns_strerror(rc));
      goto out;
    }
    /* notes, ratings, history, enrollment -- each kind's inputs in the order
    ** given -- whatever the order on the command line */
    for (int kind = NS_FILE_NOTES; kind <= NS_FILE_ENROLLMENT; kind++)
      if (load(ds, in, n_in, kind, (int)threads, &rj, &got[kind]) != 0) goto out;
    /* an input mistake is never a silent "0 ratings scored" */
    if (got[NS_FILE_NOTES] == 0 || got[NS_FILE_RATINGS] == 0) {
      int kind = got[NS_FILE_NOTES] == 0 ? NS_FILE_NOTES : NS_FILE_RATINGS;
      paths_of(in, n_in, kind == NS_FILE_NOTES ? "-n" : "-r", which, sizeof which);
      fprintf(stderr, "notescore: %s: no %s read (%llu rows rejected in all)\n", which,
              kind == NS_FILE_NOTES ? "notes" : "ratings", rj.n);
      goto out;
    }
    ns_memtrace("inputs: reading");
    /* this dataset is ours and goes only to the run and the TSV writers,
    ** which read noteIds in runs and no summaries: the per-rating noteId
    ** column (8 bytes per rating, for the whole run) is released once
    ** sorted, the summaries once the topics are settled */
    if ((rc = ns_dataset_normalize_pack(ds)) != 0 ||
        (rc = settle_topics(ds, (int)threads)) != 0) {
      fprintf(stderr, "notescore: %s\n", ns_strerror(rc));
      goto out;
    }
    ns_memtrace("inputs: normalizing");
    t_load = ns_monotonic_s() - t0;
    p.now_ms = epoch >= 0 ? (int64_t)epoch : ns_pipeline_default_now(ds);

    /* -- score */
    /* the run takes the dataset's rater column (the writers read none) */
    rc = ns_pipeline_run_consume(ds, &p, NULL, &sc, &rs);
    if (rc) {
      fprintf(stderr, "notescore: score: %s\n",
              rc == NS_ENODATA ? "no notes in the input" : ns_strerror(rc));
      goto out;
    }
  }

  /* -- outputs (the publication, with --db, is done and timed already) */
  if (outdir) {
    double tp = ns_monotonic_s();
    if ((rc = ns_scores_write_tsv(sc, ds, outdir)) != 0) {
      fprintf(stderr, "notescore: %s: %s\n", outdir, ns_strerror(rc));
      goto out;
    }
    rs.stage_seconds[NS_STAGE_PUBLISH] += ns_monotonic_s() - tp;
  }
  summary(sc, &rs, ns_monotonic_s() - t0);
  if (stats && write_stats(stats, sc, &rs, t_load, ns_monotonic_s() - t0) != 0) goto out;
  ret = 0;

out:
  if (ret != 0 && out_created) rmdir(outdir); /* nothing half-written is left */
  ns_cli_inputs_free(in, n_in);
  ns_scores_free(sc);
  ns_dataset_free(ds);
  ns_params_release(&p);
  return ret;
}
