/*
** tools/args.c -- the one argv parser of every subcommand (tools/cli.h).
**
** getopt_long's rules, without its global state and with one set of
** messages for all commands:
**
**   --name VALUE, --name=VALUE     long options; a flag given "=VALUE" is
**                                  an error (never silently ignored)
**   -o VALUE, -oVALUE              short options; flags cluster: -vq
**   --                             ends the options: the rest are arguments
**   -                              an argument (conventionally stdin/stdout)
**   -h, --help / -V, --version     on every command: the help on stdout, or
**                                  "notescore VERSION"; exit 0
**
** Options and arguments may be interleaved; arguments come back in order.
** Long names are matched exactly, never by prefix: `--seed` must not
** become `--seeds` the day an option is added.
**
** Errors print "notescore: CMD: what is wrong" and a pointer to --help on
** stderr, and make the command exit 2 (docs/cli.md: usage errors).
*/
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

void ns_args_init(ns_args *a, const char *cmd, const ns_opt *opts, void (*usage)(FILE *),
                  int argc, char **argv) {
  memset(a, 0, sizeof *a);
  a->cmd = cmd;
  a->opts = opts;
  a->usage = usage;
  a->argc = argc;
  a->argv = argv;
  a->i = 1;   /* argv[0] is the command's name */
}

int ns_args_error(ns_args *a, const char *fmt, ...) {
  va_list ap;
  /* cmd NULL: the top level (tools/main.c) */
  fprintf(stderr, "notescore: %s%s", a->cmd ? a->cmd : "", a->cmd ? ": " : "");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n(`notescore %s%s--help` lists the options)\n", a->cmd ? a->cmd : "",
          a->cmd ? " " : "");
  a->status = 2;
  return NS_ARGS_EXIT;
}

int ns_args_unexpected(ns_args *a) {
  return ns_args_error(a, "unexpected argument '%s'", a->val);
}

/* The built-in options every command has; ids outside any command's. */
enum { BUILTIN_HELP = -100, BUILTIN_VERSION = -101 };
static const ns_opt builtins[] = {
    {"help", 'h', 0, BUILTIN_HELP}, {"version", 'V', 0, BUILTIN_VERSION}, {0, 0, 0, 0}};

static const ns_opt *find_long(const ns_opt *opts, const char *name, size_t len) {
  for (int pass = 0; pass < 2; pass++)
    for (const ns_opt *o = pass ? builtins : opts; o && (o->name || o->short_name); o++)
      if (o->name && strlen(o->name) == len && !memcmp(o->name, name, len)) return o;
  return NULL;
}

static const ns_opt *find_short(const ns_opt *opts, int c) {
  for (int pass = 0; pass < 2; pass++)
    for (const ns_opt *o = pass ? builtins : opts; o && (o->name || o->short_name); o++)
      if (o->short_name == c) return o;
  return NULL;
}

/* What the parser does with a recognised option o: the built-ins end the
** command here, the rest go back to it. */
static int found(ns_args *a, const ns_opt *o) {
  if (o->id == BUILTIN_HELP) {
    if (a->usage) a->usage(stdout);
    a->status = 0;
    return NS_ARGS_EXIT;
  }
  if (o->id == BUILTIN_VERSION) {
    printf("notescore %s\n", NS_VERSION);
    a->status = 0;
    return NS_ARGS_EXIT;
  }
  return o->id;
}

int ns_args_next(ns_args *a) {
  const ns_opt *o;
  const char *s;

  a->val = NULL;
  /* -- the rest of a short-option cluster ("-vq": q) */
  if (a->cluster && *a->cluster) {
    int c = (unsigned char)*a->cluster++;
    snprintf(a->optbuf, sizeof a->optbuf, "-%c", c);
    a->opt = a->optbuf;
    if (!(o = find_short(a->opts, c))) return ns_args_error(a, "unknown option '-%c'", c);
    if (o->has_value) {
      if (*a->cluster) {              /* -oVALUE */
        a->val = a->cluster;
      } else if (a->i < a->argc) {    /* -o VALUE */
        a->val = a->argv[a->i++];
      } else {
        return ns_args_error(a, "option -%c needs a value", c);
      }
      a->cluster = NULL;
    }
    return found(a, o);
  }
  a->cluster = NULL;
  if (a->i >= a->argc) return NS_ARGS_END;
  s = a->argv[a->i++];
  a->opt = s;

  /* -- arguments: after "--", "-" alone, anything not starting with '-',
  ** and "-5" where the command takes negative numbers as arguments */
  if (a->only_args || s[0] != '-' || s[1] == '\0' ||
      (a->numbers_are_args && s[1] >= '0' && s[1] <= '9')) {
    a->val = s;
    a->opt = NULL;
    return NS_ARGS_ARG;
  }
  if (!strcmp(s, "--")) {
    a->only_args = 1;
    return ns_args_next(a);
  }

  /* -- long: --name, --name=VALUE, --name VALUE */
  if (s[1] == '-') {
    const char *name = s + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    if ((size_t)snprintf(a->optbuf, sizeof a->optbuf, "--%.*s", (int)len, name) >= sizeof a->optbuf)
      return ns_args_error(a, "unknown option '%.40s...'", s);
    a->opt = a->optbuf;
    if (!(o = find_long(a->opts, name, len))) return ns_args_error(a, "unknown option '%s'", a->opt);
    if (!o->has_value) {
      if (eq) return ns_args_error(a, "option %s takes no value (got '%s')", a->opt, eq + 1);
    } else if (eq) {
      a->val = eq + 1;
    } else if (a->i < a->argc) {
      a->val = a->argv[a->i++];
    } else {
      return ns_args_error(a, "option %s needs a value", a->opt);
    }
    return found(a, o);
  }

  /* -- short, possibly a cluster */
  a->cluster = s + 1;
  return ns_args_next(a);
}
