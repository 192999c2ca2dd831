/*
** tools/cmd_gen.c -- `notescore gen`: option parsing and the summary line
** around ns_gen_run() (tools/gen/gen.c).  Main thread only.
*/
#include <stdio.h>
#include <string.h>

#include "../base/base.h"
#include "cli.h"
#include "gen/gen.h"

static void gen_usage(FILE *f) {
  ns_gen_opts d;
  ns_gen_default_opts(&d);
  fprintf(f,
          "usage: notescore gen -o DIR [OPTIONS]\n"
          "\n"
          "Writes synthetic data in the public Community Notes layouts (notes-00000.tsv,\n"
          "ratings-00000.tsv, noteStatusHistory-00000.tsv, userEnrollment-00000.tsv) plus\n"
          "the ground truth (truth_notes.tsv, truth_raters.tsv).  Same options and seed\n"
          "give byte-identical files.  See docs/gen.md for the model.\n"
          "\n"
          "options:\n"
          "  -o, --out DIR            output directory (created if missing)\n"
          "  --raters N               honest raters (default %llu)\n"
          "  --notes M                notes (default %llu)\n"
          "  --ratings R              honest ratings (default %llu)\n"
          "  --seed S                 random seed (default %llu)\n"
          "  --epoch-millis T         \"now\": every timestamp is before it (default %lld)\n"
          "  --weeks W                notes are created over W weeks before now (default %g)\n"
          "  --partisan-frac F        fraction of partisan notes (default %g)\n"
          "  --incorrect-popular P    low-quality notes most raters like (default 0)\n"
          "  --ring K                 add K coordinated accounts (default 0)\n"
          "  --ring-targets T         bad notes pushed up, and good notes pushed down (default %llu)\n"
          "  --ring-farm F            honest-looking ratings per ring account first (default 0)\n"
          "  --ring-split             half the ring imitates each camp\n"
          "\n"
          "the shapes real data has (defaults: today's one-community model):\n"
          "  --shape NAME             preset, applied first (explicit options override it):\n"
          "                             one          today's defaults\n"
          "                             communities  --communities 16 --locality 0.9\n"
          "                             heavy        --activity heavy --power-raters 0.005\n"
          "                             bursty       --arrival bursty --notes-per-post 1.5\n"
          "                             cliques      about 2%% of raters in cliques of 3-5\n"
          "                             combined     all of the above\n"
          "  --communities C          C >= 2 communities of unequal size, written to\n"
          "                           modelingGroup (default 0: one community)\n"
          "  --locality L             share of a note's ratings from its own community (default %g)\n"
          "  --activity uniform|heavy heavy: most raters light (median < 10 ratings) (default uniform)\n"
          "  --power-raters P         fraction of raters who rate 5-20%% of all notes\n"
          "                           (default 0.005 with --activity heavy, else 0)\n"
          "  --arrival today|bursty   bursty: the most popular notes get half their ratings\n"
          "                           in the first hour (default today)\n"
          "  --notes-per-post M       mean notes per post (tweetId) (default %g)\n"
          "  --cliques N              benign cliques of friends who rate alike (default 0)\n"
          "  --clique-size S          clique sizes S-1..S+1 (default %u)\n"
          "  --ring-place inside|spread  ring accounts in one community, or across all (default inside)\n"
          "  --ring-community I       0-based community of an inside ring (default 1 with\n"
          "                           >= 2 communities, else 0)\n"
          "  --ring-timing burst|honest|mixed  ring ratings within 15 min of each other, with\n"
          "                           honest delays, or half and half (default burst)\n"
          "\n"
          "  --reference-ready        add what the reference scorer needs to run (docs/gen.md):\n"
          "                           topic seed words in note summaries, locked status history\n"
          "                           for half the notes older than 14 days (some CRH -> NMR flips),\n"
          "                           a 3 h old stabilization clock on the other notes,\n"
          "                           modelingGroup 14 on a larger community, the pinned\n"
          "                           reference's column sets; the same ratings\n"
          "\n"
          "  -q, --quiet              no summary line\n"
          "  -h, --help               this text\n"
          "  -V, --version            print the version\n",
          (unsigned long long)d.raters, (unsigned long long)d.notes, (unsigned long long)d.ratings,
          (unsigned long long)d.seed, (long long)d.epoch_ms, d.weeks, d.partisan_frac,
          (unsigned long long)d.ring_targets, d.locality, d.notes_per_post, d.clique_size);
}

/* Index of val in names[0..n), or -1 with a message. */
static int pick_name(const char *opt, const char *val, const char *const *names, int n) {
  for (int i = 0; i < n; i++)
    if (!strcmp(val, names[i])) return i;
  fprintf(stderr, "notescore: gen: %s: unknown value '%s'\n", opt, val);
  return -1;
}

/* Parses argv (tools/args.c: "--opt VALUE" and "--opt=VALUE"), validates the ranges
** the generator would reject so the user gets a precise message, runs the
** generator and prints a one-line summary on stderr (unless -q).  Exit 0 on
** success, 1 on an I/O or memory failure, 2 on a usage error. */
int ns_cmd_gen(int argc, char **argv) {
  ns_gen_opts o;
  ns_gen_stats st;
  const char *dir = NULL;
  int quiet = 0, rc;
  double t0;

  enum {
    O_OUT = 1, O_RATERS, O_NOTES, O_RATINGS, O_SEED, O_RING, O_RING_FARM, O_RING_TARGETS,
    O_INCORRECT_POPULAR, O_RING_SPLIT, O_EPOCH, O_WEEKS, O_PARTISAN, O_SHAPE, O_COMMUNITIES,
    O_LOCALITY, O_ACTIVITY, O_POWER_RATERS, O_ARRIVAL, O_NOTES_PER_POST, O_CLIQUES,
    O_CLIQUE_SIZE, O_RING_PLACE, O_RING_COMMUNITY, O_RING_TIMING, O_REFERENCE_READY, O_QUIET
  };
  static const ns_opt opts[] = {
      {"out", 'o', 1, O_OUT},
      {"raters", 0, 1, O_RATERS},
      {"notes", 0, 1, O_NOTES},
      {"ratings", 0, 1, O_RATINGS},
      {"seed", 0, 1, O_SEED},
      {"ring", 0, 1, O_RING},
      {"ring-farm", 0, 1, O_RING_FARM},
      {"ring-targets", 0, 1, O_RING_TARGETS},
      {"incorrect-popular", 0, 1, O_INCORRECT_POPULAR},
      {"ring-split", 0, 0, O_RING_SPLIT},
      {"epoch-millis", 0, 1, O_EPOCH},
      {"weeks", 0, 1, O_WEEKS},
      {"partisan-frac", 0, 1, O_PARTISAN},
      {"shape", 0, 1, O_SHAPE},
      {"communities", 0, 1, O_COMMUNITIES},
      {"locality", 0, 1, O_LOCALITY},
      {"activity", 0, 1, O_ACTIVITY},
      {"power-raters", 0, 1, O_POWER_RATERS},
      {"arrival", 0, 1, O_ARRIVAL},
      {"notes-per-post", 0, 1, O_NOTES_PER_POST},
      {"cliques", 0, 1, O_CLIQUES},
      {"clique-size", 0, 1, O_CLIQUE_SIZE},
      {"ring-place", 0, 1, O_RING_PLACE},
      {"ring-community", 0, 1, O_RING_COMMUNITY},
      {"ring-timing", 0, 1, O_RING_TIMING},
      {"reference-ready", 0, 0, O_REFERENCE_READY},
      {"quiet", 'q', 0, O_QUIET},
      {0, 0, 0, 0}};
  ns_args a;
  int c;

  ns_gen_default_opts(&o);
  /* pass 1: --shape first, wherever it is, so explicit options override it
  ** (every syntax error is reported here, once) */
  ns_args_init(&a, "gen", opts, gen_usage, argc, argv);
  while ((c = ns_args_next(&a)) != NS_ARGS_END) {
    if (c == NS_ARGS_EXIT) return a.status;
    if (c == NS_ARGS_ARG) {
      ns_args_unexpected(&a);
      return 2;
    }
    if (c == O_SHAPE && ns_gen_apply_shape(&o, a.val)) {
      fprintf(stderr, "notescore: gen: --shape: unknown preset '%s' (one, communities, heavy, bursty, "
                      "cliques, combined)\n", a.val);
      return 2;
    }
  }
  /* pass 2: the other options, in order */
  ns_args_init(&a, "gen", opts, gen_usage, argc, argv);
  while ((c = ns_args_next(&a)) != NS_ARGS_END) {
    const char *v = a.val, *opt = a.opt;
    unsigned long long u;
    long long ll;
#define U64(field)                                                                \
  do {                                                                            \
    if (ns_cli_u64(opt, v, &u)) return 2;                                         \
    o.field = u;                                                                  \
  } while (0)
    switch (c) {
    case O_OUT: dir = v; break;
    case O_RATERS: U64(raters); break;
    case O_NOTES: U64(notes); break;
    case O_RATINGS: U64(ratings); break;
    case O_SEED: U64(seed); break;
    case O_RING: U64(ring); break;
    case O_RING_FARM: U64(ring_farm); break;
    case O_RING_TARGETS: U64(ring_targets); break;
    case O_INCORRECT_POPULAR: U64(incorrect_popular); break;
    case O_RING_SPLIT: o.ring_split = 1; break;
    case O_EPOCH:
      if (ns_cli_i64(opt, v, &ll)) return 2;
      o.epoch_ms = ll;
      break;
    case O_WEEKS:
      if (ns_cli_double(opt, v, &o.weeks)) return 2;
      break;
    case O_PARTISAN:
      if (ns_cli_double(opt, v, &o.partisan_frac)) return 2;
      break;
    case O_SHAPE: break;   /* applied in pass 1 */
    case O_COMMUNITIES:
      if (ns_cli_u64(opt, v, &u)) return 2;
      if (u > NS_GEN_MAX_COMMUNITIES) {
        fprintf(stderr, "notescore: gen: --communities must be at most %d\n", NS_GEN_MAX_COMMUNITIES);
        return 2;
      }
      o.communities = (uint32_t)u;
      break;
    case O_LOCALITY:
      if (ns_cli_double(opt, v, &o.locality)) return 2;
      break;
    case O_ACTIVITY: {
      static const char *const names[] = {"uniform", "heavy"};
      if ((o.activity = pick_name(opt, v, names, 2)) < 0) return 2;
      break;
    }
    case O_POWER_RATERS:
      if (ns_cli_double(opt, v, &o.power_raters)) return 2;
      if (!(o.power_raters >= 0 && o.power_raters <= 0.5)) {
        fprintf(stderr, "notescore: gen: --power-raters must be in [0, 0.5]\n");
        return 2;
      }
      break;
    case O_ARRIVAL: {
      static const char *const names[] = {"today", "bursty"};
      if ((o.arrival = pick_name(opt, v, names, 2)) < 0) return 2;
      break;
    }
    case O_NOTES_PER_POST:
      if (ns_cli_double(opt, v, &o.notes_per_post)) return 2;
      break;
    case O_CLIQUES:
      U64(cliques);
      o.clique_share = 0;
      break;
    case O_CLIQUE_SIZE:
      if (ns_cli_u64(opt, v, &u)) return 2;
      if (u < 2 || u > 63) {
        fprintf(stderr, "notescore: gen: --clique-size must be between 2 and 63\n");
        return 2;
      }
      o.clique_size = (uint32_t)u;
      break;
    case O_RING_PLACE: {
      static const char *const names[] = {"inside", "spread"};
      if ((o.ring_place = pick_name(opt, v, names, 2)) < 0) return 2;
      break;
    }
    case O_RING_COMMUNITY:
      if (ns_cli_u64(opt, v, &u)) return 2;
      if (u > NS_GEN_MAX_COMMUNITIES) {
        fprintf(stderr, "notescore: gen: --ring-community is too large\n");
        return 2;
      }
      o.ring_community = (int32_t)u;
      break;
    case O_RING_TIMING: {
      static const char *const names[] = {"burst", "honest", "mixed"};
      if ((o.ring_timing = pick_name(opt, v, names, 3)) < 0) return 2;
      break;
    }
    case O_REFERENCE_READY: o.reference_ready = 1; break;
    case O_QUIET: quiet = 1; break;
    }
#undef U64
  }
  if (!dir) {
    ns_args_error(&a, "-o DIR is required");
    return 2;
  }
  if (!o.raters || !o.notes) {
    fprintf(stderr, "notescore: gen: --raters and --notes must be at least 1\n");
    return 2;
  }
  if (!(o.weeks >= 1.0 / 7 && o.weeks <= 520)) {
    fprintf(stderr, "notescore: gen: --weeks must be between 1/7 and 520\n");
    return 2;
  }
  if (!(o.partisan_frac >= 0 && o.partisan_frac <= 1)) {
    fprintf(stderr, "notescore: gen: --partisan-frac must be in [0, 1]\n");
    return 2;
  }

  if (o.communities > o.raters) {
    fprintf(stderr, "notescore: gen: --communities must not exceed --raters\n");
    return 2;
  }
  if (!(o.locality >= 0 && o.locality <= 1)) {
    fprintf(stderr, "notescore: gen: --locality must be in [0, 1]\n");
    return 2;
  }
  if (!(o.notes_per_post >= 1 && o.notes_per_post <= 50)) {
    fprintf(stderr, "notescore: gen: --notes-per-post must be between 1 and 50\n");
    return 2;
  }
  if (o.cliques > o.raters) {
    fprintf(stderr, "notescore: gen: --cliques must not exceed --raters\n");
    return 2;
  }
  if (o.ring_community >= 0 && (uint32_t)o.ring_community >= (o.communities >= 2 ? o.communities : 1)) {
    fprintf(stderr, "notescore: gen: --ring-community must be below --communities (0 with one community)\n");
    return 2;
  }

  t0 = ns_monotonic_s();
  rc = ns_gen_run(&o, dir, &st);
  if (rc) {
    fprintf(stderr, "notescore: gen: %s: %s\n", dir, ns_strerror(rc));
    return rc == NS_EINVAL ? 2 : 1;
  }
  if (!quiet) {
    double dt = ns_monotonic_s() - t0;
    fprintf(stderr,
            "gen: %llu notes, %llu raters + %llu ring, %llu ratings (%llu ring, %llu dropped "
            "duplicates), %llu truly helpful, %llu partisan, %llu incorrect-popular, "
            "%llu+%llu targets, %.2fs (%.0f ratings/s) -> %s\n",
            (unsigned long long)st.n_notes, (unsigned long long)st.n_raters,
            (unsigned long long)st.n_ring, (unsigned long long)st.n_ratings,
            (unsigned long long)st.n_ring_ratings, (unsigned long long)st.n_dropped,
            (unsigned long long)st.n_true_helpful, (unsigned long long)st.n_partisan,
            (unsigned long long)st.n_incorrect_popular, (unsigned long long)st.n_bad_targets,
            (unsigned long long)st.n_good_targets, dt, dt > 0 ? (double)st.n_ratings / dt : 0.0, dir);
    if (st.n_communities > 1 || st.n_power || st.n_cliques || st.n_posts != st.n_notes)
      fprintf(stderr, "gen: shapes: %llu communities, %llu power raters, %llu cliques (%llu raters), %llu posts\n",
              (unsigned long long)st.n_communities, (unsigned long long)st.n_power,
              (unsigned long long)st.n_cliques, (unsigned long long)st.n_clique_raters,
              (unsigned long long)st.n_posts);
    if (o.reference_ready)
      fprintf(stderr, "gen: reference-ready: %llu notes with topic words, %llu locked (%llu CRH -> NMR flips), "
              "%llu more NOT_MISLEADING on their posts\n",
              (unsigned long long)st.n_topic_notes, (unsigned long long)st.n_locked,
              (unsigned long long)st.n_flips, (unsigned long long)st.n_ref_not_misleading);
  }
  return 0;
}
