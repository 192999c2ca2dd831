/*
** tools/cli_util.c -- option-value parsing shared by the subcommands.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

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
