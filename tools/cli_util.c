/*
** tools/cli_util.c -- helpers shared by the subcommands: option values,
** rejected-row reporting (score and import print the same way), and the
** checks every command makes before its expensive work (the DB file, the
** output directory, the kind of each input file, a file given twice).
*/
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int ns_cli_u64(const char *opt, const char *val, unsigned long long *out) {
  char *end;
  errno = 0;
  if (!val || !*val || *val == '-') goto bad;
  *out = strtoull(val, &end, 10);
  if (errno || *end) goto bad;
  return 0;
bad:
  fprintf(stderr, "notescore: %s: expected a non-negative integer, got '%s'\n", opt, val ? val : "");
  return 2;
}

int ns_cli_i64(const char *opt, const char *val, long long *out) {
  char *end;
  errno = 0;
  if (!val || !*val) goto bad;
  *out = strtoll(val, &end, 10);
  if (errno || *end) goto bad;
  return 0;
bad:
  fprintf(stderr, "notescore: %s: expected an integer, got '%s'\n", opt, val ? val : "");
  return 2;
}

int ns_cli_double(const char *opt, const char *val, double *out) {
  char *end;
  errno = 0;
  if (!val || !*val) goto bad;
  *out = strtod(val, &end);
  if (errno || *end) goto bad;
  return 0;
bad:
  fprintf(stderr, "notescore: %s: expected a number, got '%s'\n", opt, val ? val : "");
  return 2;
}

/* ---- rejected rows ------------------------------------------------------- */

void ns_cli_reject(void *ctx, const char *msg) {
  ns_cli_rejects *r = ctx;
  r->n++;
  r->file_n++;
  if (r->verbose || r->shown < NS_CLI_REJECTS_SHOWN) {
    fprintf(stderr, "notescore: %s\n", msg);
    r->shown++;
    r->file_shown++;
  }
}

void ns_cli_rejects_begin(ns_cli_rejects *r) {
  r->file_n = 0;
  r->file_shown = 0;
}

void ns_cli_rejects_end(ns_cli_rejects *r, const char *file) {
  if (r->file_n > r->file_shown)
    fprintf(stderr, "notescore: %s: %llu more rejected rows not shown (--verbose shows all)\n",
            file, r->file_n - r->file_shown);
}

/* ---- inputs and outputs, checked before the work -------------------------- */

int ns_cli_check_db(const char *path, int must_exist) {
  char msg[PATH_MAX + 256];
  /* a read-only look that leaves the WAL alone (store/db.c) */
  if (ns_store_check_file(path, must_exist, msg, sizeof msg) != 0) {
    fprintf(stderr, "notescore: %s\n", msg);
    return 1;
  }
  return 0;
}

int ns_cli_prepare_outdir(const char *dir, int *created) {
  struct stat sb;
  int rc;
  *created = 0;
  if (stat(dir, &sb) == 0) {
    if (!S_ISDIR(sb.st_mode)) {
      fprintf(stderr, "notescore: %s: exists and is not a directory (-o wants a directory)\n",
              dir);
      return 1;
    }
    if (access(dir, W_OK | X_OK) != 0) {
      fprintf(stderr, "notescore: %s: output directory not writable: %s\n", dir, strerror(errno));
      return 1;
    }
    return 0;
  }
  if ((rc = ns_mkdir_p(dir)) != 0) {
    fprintf(stderr, "notescore: %s: cannot create the output directory: %s\n", dir,
            ns_strerror(rc));
    return 1;
  }
  *created = 1;
  return 0;
}

/* One expanded file of the command line, for the duplicate check. */
typedef struct seen {
  char *real;          /* realpath, or the path as given */
  const char *flag;
} seen;

static int cmp_seen(const void *x, const void *y) {
  return strcmp(((const seen *)x)->real, ((const seen *)y)->real);
}

int ns_cli_check_inputs(ns_cli_input *in, size_t n) {
  size_t total = 0, k = 0;
  seen *all = NULL;
  int ret = 1;

  for (size_t i = 0; i < n; i++) {
    int is_dir;
    int rc = ns_tsv_list(in[i].path, &in[i].files, &in[i].n_files);
    if (rc != 0) {
      fprintf(stderr, "notescore: %s: cannot open (%s): %s\n", in[i].path, in[i].flag,
              ns_strerror(rc));
      goto out;
    }
    {
      struct stat sb;
      is_dir = strcmp(in[i].path, "-") != 0 && stat(in[i].path, &sb) == 0 && S_ISDIR(sb.st_mode);
    }
    for (size_t j = 0; j < in[i].n_files;) {
      int kind = NS_FILE_UNKNOWN, skip = 0;
      char msg[PATH_MAX + 512];
      int rc2;
      if (!strcmp(in[i].files[j], "-")) { /* stdin: read once, its kind checked then */
        j++;
        continue;
      }
      rc2 = ns_tsv_sniff(in[i].files[j], &kind, msg, sizeof msg);
      if (rc2 == NS_EPARSE) {
        /* not a public TSV (or a 0-byte file): in a directory it is only
        ** something else lying there (a README.tsv, an empty shard) */
        if (is_dir) skip = 1;
        else {
          fprintf(stderr, "notescore: %s\n", msg);
          goto out;
        }
      } else if (rc2 != 0) {
        fprintf(stderr, "notescore: %s (%s)\n", msg[0] ? msg : ns_strerror(rc2), in[i].flag);
        goto out;
      } else if (in[i].kind != NS_FILE_UNKNOWN && kind != in[i].kind) {
        if (is_dir) {
          snprintf(msg, sizeof msg, "%s: a %s file, not %s", in[i].files[j],
                   ns_file_kind_name(kind), ns_file_kind_name(in[i].kind));
          skip = 1;
        } else {
          fprintf(stderr, "notescore: %s: given as %s (a %s file) but its header is that of a%s "
                          "%s file\n",
                  in[i].files[j], in[i].flag, ns_file_kind_name(in[i].kind),
                  kind == NS_FILE_UNKNOWN ? "n" : "", ns_file_kind_name(kind));
          goto out;
        }
      }
      if (skip) {
        /* a directory given with -r holds the other kinds too, or junk:
        ** skipped, said once per file */
        ns_log(NS_LOG_WARN, "%s; skipped (in %s, given as %s)", msg, in[i].path, in[i].flag);
        free(in[i].files[j]);
        memmove(&in[i].files[j], &in[i].files[j + 1], (in[i].n_files - j - 1) * sizeof *in[i].files);
        in[i].n_files--;
        continue;
      }
      j++;
    }
    if (in[i].n_files == 0) {
      fprintf(stderr, "notescore: %s: no %s%s files in this directory (%s)\n", in[i].path,
              in[i].kind == NS_FILE_UNKNOWN ? "" : ns_file_kind_name(in[i].kind),
              in[i].kind == NS_FILE_UNKNOWN ? "*.tsv, *.tsv.gz or *.zip" : " (*.tsv, *.tsv.gz, *.zip)",
              in[i].flag);
      goto out;
    }
    total += in[i].n_files;
  }
  if (!(all = calloc(total ? total : 1, sizeof *all))) {
    fprintf(stderr, "notescore: out of memory\n");
    goto out;
  }
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < in[i].n_files; j++) {
      char *r = realpath(in[i].files[j], NULL);
      all[k].real = r ? r : ns_strdup(in[i].files[j]);
      all[k].flag = in[i].flag;
      if (!all[k++].real) {
        fprintf(stderr, "notescore: out of memory\n");
        goto out;
      }
    }
  qsort(all, k, sizeof *all, cmp_seen);
  for (size_t i = 1; i < k; i++)
    if (!strcmp(all[i - 1].real, all[i].real)) {
      fprintf(stderr, "notescore: %s: given twice (%s and %s)\n", all[i].real, all[i - 1].flag,
              all[i].flag);
      goto out;
    }
  ret = 0;
out:
  for (size_t i = 0; i < k; i++) free(all[i].real);
  free(all);
  return ret;
}

void ns_cli_inputs_free(ns_cli_input *in, size_t n) {
  for (size_t i = 0; i < n; i++) {
    ns_tsv_list_free(in[i].files, in[i].n_files);
    in[i].files = NULL;
    in[i].n_files = 0;
  }
}
