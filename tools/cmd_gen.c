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
          "  -h, --help               this text\n",
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

/* Parses argv (both "--opt VALUE" and "--opt=VALUE"), validates the ranges
** the generator would reject so the user gets a precise message, runs the
** generator and prints a one-line summary on stderr (unless -q).  Exit 0 on
** success, 1 on an I/O or memory failure, 2 on a usage error. */
int ns_cmd_gen(int argc, char **argv) {
  ns_gen_opts o;
  ns_gen_stats st;
  const char *dir = NULL;
  int quiet = 0, rc;
  double t0;

  ns_gen_default_opts(&o);
  /* --shape first, wherever it is: explicit options then override it */
  for (int i = 1; i < argc; i++) {
    const char *v = NULL;
    if (!strcmp(argv[i], "--shape") && i + 1 < argc) v = argv[++i];
    else if (!strncmp(argv[i], "--shape=", 8)) v = argv[i] + 8;
    else if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--out")) i++; /* a value, not an option */
    if (v && ns_gen_apply_shape(&o, v)) {
      fprintf(stderr, "notescore: gen: --shape: unknown preset '%s' (one, communities, heavy, bursty, "
                      "cliques, combined)\n", v);
      return 2;
    }
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *val = NULL;
    char name[64];
    const char *eq = strchr(a, '=');
    unsigned long long u;
    long long ll;

    /* accept both --opt VALUE and --opt=VALUE */
    if (a[0] == '-' && a[1] == '-' && eq && (size_t)(eq - a) < sizeof name) {
      memcpy(name, a, (size_t)(eq - a));
      name[eq - a] = '\0';
      val = eq + 1;
      a = name;
    }
#define NEXT()                                                                    \
  do {                                                                            \
    if (!val) {                                                                   \
      if (i + 1 >= argc) {                                                        \
        fprintf(stderr, "notescore: gen: option %s needs a value\n", a);          \
        return 2;                                                                 \
      }                                                                           \
      val = argv[++i];                                                            \
    }                                                                             \
  } while (0)
#define U64(field)                                                                \
  do {                                                                            \
    NEXT();                                                                       \
    if (ns_cli_u64(a, val, &u)) return 2;                                         \
    o.field = u;                                                                  \
  } while (0)

    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      gen_usage(stdout);
      return 0;
    } else if (!strcmp(a, "-o") || !strcmp(a, "--out")) {
      NEXT();
      dir = val;
    } else if (!strcmp(a, "--raters")) {
      U64(raters);
    } else if (!strcmp(a, "--notes")) {
      U64(notes);
    } else if (!strcmp(a, "--ratings")) {
      U64(ratings);
    } else if (!strcmp(a, "--seed")) {
      U64(seed);
    } else if (!strcmp(a, "--ring")) {
      U64(ring);
    } else if (!strcmp(a, "--ring-farm")) {
      U64(ring_farm);
    } else if (!strcmp(a, "--ring-targets")) {
      U64(ring_targets);
    } else if (!strcmp(a, "--incorrect-popular")) {
      U64(incorrect_popular);
    } else if (!strcmp(a, "--ring-split")) {
      o.ring_split = 1;
    } else if (!strcmp(a, "--epoch-millis")) {
      NEXT();
      if (ns_cli_i64(a, val, &ll)) return 2;
      o.epoch_ms = ll;
    } else if (!strcmp(a, "--weeks")) {
      NEXT();
      if (ns_cli_double(a, val, &o.weeks)) return 2;
    } else if (!strcmp(a, "--partisan-frac")) {
      NEXT();
      if (ns_cli_double(a, val, &o.partisan_frac)) return 2;
    } else if (!strcmp(a, "--shape")) {
      NEXT(); /* applied above */
    } else if (!strcmp(a, "--communities")) {
      NEXT();
      if (ns_cli_u64(a, val, &u)) return 2;
      if (u > NS_GEN_MAX_COMMUNITIES) {
        fprintf(stderr, "notescore: gen: --communities must be at most %d\n", NS_GEN_MAX_COMMUNITIES);
        return 2;
      }
      o.communities = (uint32_t)u;
    } else if (!strcmp(a, "--locality")) {
      NEXT();
      if (ns_cli_double(a, val, &o.locality)) return 2;
    } else if (!strcmp(a, "--activity")) {
      static const char *const names[] = {"uniform", "heavy"};
      NEXT();
      if ((o.activity = pick_name(a, val, names, 2)) < 0) return 2;
    } else if (!strcmp(a, "--power-raters")) {
      NEXT();
      if (ns_cli_double(a, val, &o.power_raters)) return 2;
      if (!(o.power_raters >= 0 && o.power_raters <= 0.5)) {
        fprintf(stderr, "notescore: gen: --power-raters must be in [0, 0.5]\n");
        return 2;
      }
    } else if (!strcmp(a, "--arrival")) {
      static const char *const names[] = {"today", "bursty"};
      NEXT();
      if ((o.arrival = pick_name(a, val, names, 2)) < 0) return 2;
    } else if (!strcmp(a, "--notes-per-post")) {
      NEXT();
      if (ns_cli_double(a, val, &o.notes_per_post)) return 2;
    } else if (!strcmp(a, "--cliques")) {
      U64(cliques);
      o.clique_share = 0;
    } else if (!strcmp(a, "--clique-size")) {
      NEXT();
      if (ns_cli_u64(a, val, &u)) return 2;
      if (u < 2 || u > 63) {
        fprintf(stderr, "notescore: gen: --clique-size must be between 2 and 63\n");
        return 2;
      }
      o.clique_size = (uint32_t)u;
    } else if (!strcmp(a, "--ring-place")) {
      static const char *const names[] = {"inside", "spread"};
      NEXT();
      if ((o.ring_place = pick_name(a, val, names, 2)) < 0) return 2;
    } else if (!strcmp(a, "--ring-community")) {
      NEXT();
      if (ns_cli_u64(a, val, &u)) return 2;
      if (u > NS_GEN_MAX_COMMUNITIES) {
        fprintf(stderr, "notescore: gen: --ring-community is too large\n");
        return 2;
      }
      o.ring_community = (int32_t)u;
    } else if (!strcmp(a, "--ring-timing")) {
      static const char *const names[] = {"burst", "honest", "mixed"};
      NEXT();
      if ((o.ring_timing = pick_name(a, val, names, 3)) < 0) return 2;
    } else if (!strcmp(a, "--reference-ready")) {
      o.reference_ready = 1;
    } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
      quiet = 1;
    } else {
      fprintf(stderr, "notescore: gen: unknown option '%s'\n", argv[i]);
      gen_usage(stderr);
      return 2;
    }
#undef NEXT
#undef U64
  }
  if (!dir) {
    fprintf(stderr, "notescore: gen: -o DIR is required\n");
    gen_usage(stderr);
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
      fprintf(stderr, "gen: reference-ready: %llu notes with topic words, %llu locked (%llu CRH -> NMR flips)\n",
              (unsigned long long)st.n_topic_notes, (unsigned long long)st.n_locked,
              (unsigned long long)st.n_flips);
  }
  return 0;
}
