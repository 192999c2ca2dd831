/*
** tools/cmd_gen.c -- `notescore gen`: option parsing and the summary line
** around ns_gen_run() (tools/gen.c).  Main thread only.
*/
#include <stdio.h>
#include <string.h>

#include "../base/base.h"
#include "cli.h"
#include "gen.h"

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
          "  -q, --quiet              no summary line\n"
          "  -h, --help               this text\n",
          (unsigned long long)d.raters, (unsigned long long)d.notes, (unsigned long long)d.ratings,
          (unsigned long long)d.seed, (long long)d.epoch_ms, d.weeks, d.partisan_frac,
          (unsigned long long)d.ring_targets);
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
  }
  return 0;
}
