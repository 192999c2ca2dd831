/*
** tools/cli.h -- the notescore subcommands.  Each ns_cmd_* parses its argv
** (argv[0] is the subcommand name) with ns_args (tools/args.c), so every
** command takes options the same way, and returns the process exit status
** (0 ok, 1 failure, 2 usage error).  Errors are printed as
** "notescore: FILE:LINE: what is wrong" (or without FILE:LINE when no file
** is involved).
*/
#ifndef NS_CLI_H
#define NS_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "../base/base.h" /* NS_VERSION */
#include "../store/store.h"

int ns_cmd_import(int argc, char **argv);
int ns_cmd_export(int argc, char **argv);
int ns_cmd_score(int argc, char **argv);
int ns_cmd_serve(int argc, char **argv);
int ns_cmd_explain(int argc, char **argv);
int ns_cmd_report(int argc, char **argv);
int ns_cmd_gen(int argc, char **argv);
int ns_cmd_eval(int argc, char **argv);
int ns_cmd_compare(int argc, char **argv);
int ns_cmd_backup(int argc, char **argv);

/* ---- argv (tools/args.c) -------------------------------------------------
** getopt_long's syntax for every command: "--opt VALUE", "--opt=VALUE",
** "-o VALUE", "-oVALUE", flag clusters "-vq", "--" ends the options, "-"
** is an argument; long names match exactly (no abbreviations).  -h/--help
** (prints usage on stdout) and -V/--version are built in.  Typical use:
**
**   ns_args a;
**   ns_args_init(&a, "export", opts, usage, argc, argv);
**   while ((c = ns_args_next(&a)) != NS_ARGS_END)
**     switch (c) {
**     case NS_ARGS_EXIT: return a.status;     (help/version: 0, error: 2)
**     case NS_ARGS_ARG: ... a.val ...; break; (or: return ns_args_unexpected(&a) ...)
**     case O_DB: db = a.val; break;
**     }
*/
typedef struct ns_opt {
  const char *name;   /* long name without "--", or NULL */
  int short_name;     /* 'o', or 0 */
  int has_value;      /* 1: takes a value (a.val), 0: a flag */
  int id;             /* returned by ns_args_next; > 0 */
} ns_opt;             /* an array of them ends with {0} */

#define NS_ARGS_END 0      /* argv is used up */
#define NS_ARGS_ARG (-1)   /* an argument (not an option): a.val */
#define NS_ARGS_EXIT (-2)  /* stop and return a.status: help or version
                           ** printed (0), or a usage error printed (2) */

typedef struct ns_args {
  const char *cmd;              /* the command, for messages (NULL: top level) */
  const ns_opt *opts;
  void (*usage)(FILE *);        /* the --help text */
  int argc;
  char **argv;
  int numbers_are_args;         /* set: "-5" is an argument, not an option */
  const char *val;              /* OUT: the option's value, or the argument */
  const char *opt;              /* OUT: the option as written ("--db", "-o") */
  int status;                   /* OUT: exit status with NS_ARGS_EXIT */
  int i;                        /* next argv index */
  const char *cluster;          /* rest of a short-option cluster */
  int only_args;                /* after "--" */
  char optbuf[64];
} ns_args;

void ns_args_init(ns_args *a, const char *cmd, const ns_opt *opts, void (*usage)(FILE *),
                  int argc, char **argv);
/* The next option's id, NS_ARGS_ARG, NS_ARGS_END, or NS_ARGS_EXIT. */
int ns_args_next(ns_args *a);
/* Prints "notescore: CMD: <fmt>" and the --help hint on stderr; sets
** a.status = 2 and returns NS_ARGS_EXIT, for usage errors the command
** finds itself (a bad value, a missing option). */
int ns_args_error(ns_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* ns_args_error "unexpected argument 'a.val'". */
int ns_args_unexpected(ns_args *a);

/* Helpers shared by the subcommands (tools/cli_util.c). */
/* Parses a non-negative integer option value; returns 0 or prints an error
** naming the option and returns 2. */
int ns_cli_u64(const char *opt, const char *val, unsigned long long *out);
int ns_cli_i64(const char *opt, const char *val, long long *out);
int ns_cli_double(const char *opt, const char *val, double *out);

/* Rejected rows, reported the same way by `score` and `import`: the first
** NS_CLI_REJECTS_SHOWN messages of the whole command (every one with
** verbose), then per file one line "FILE: N more rejected rows not shown".
** ns_cli_reject is the ns_report_fn; ctx is the ns_cli_rejects. */
#define NS_CLI_REJECTS_SHOWN 20
typedef struct ns_cli_rejects {
  int verbose;                   /* 1: print every message */
  unsigned long long n, shown;   /* messages in all, printed in all */
  unsigned long long file_n, file_shown; /* the same for the current file */
} ns_cli_rejects;
void ns_cli_reject(void *ctx, const char *msg);
void ns_cli_rejects_begin(ns_cli_rejects *r);                  /* a file starts */
void ns_cli_rejects_end(ns_cli_rejects *r, const char *file);  /* it ended */

/* Checks, before any work, that path can be the score DB: a directory, a
** file that is not SQLite, or a schema newer than this program supports
** (the message says both versions) are refused; a missing file is refused
** only when must_exist.  Prints "notescore: PATH: reason" and returns 1, or
** returns 0. */
int ns_cli_check_db(const char *path, int must_exist);

/* Makes sure dir can receive output files: an existing directory must be
** writable, a missing one is created (*created = 1: the caller removes it
** again with rmdir() when the command fails), anything else is refused.
** Prints the reason naming dir and returns 1, or returns 0. */
int ns_cli_prepare_outdir(const char *dir, int *created);

/* One input argument of a command: a file or a directory of *.tsv files
** that must all be of one kind. */
typedef struct ns_cli_input {
  const char *path;   /* as given */
  const char *flag;   /* the option it came with, for messages ("-r") */
  int kind;           /* ns_file_kind wanted; NS_FILE_UNKNOWN = any known kind */
  char **files;       /* OUT: the expanded list (ns_tsv_list) */
  size_t n_files;
} ns_cli_input;

/* Expands every input and checks, reading only headers: the path exists,
** a directory has *.tsv / *.tsv.gz / *.zip files, every file's header is
** of the wanted kind, and no file is given twice (by real path, across all
** inputs).  In a directory a file of another kind, not a public TSV, or
** empty is skipped with a warning (the list shrinks); an explicit one is
** an error.  "-" (stdin) is not read here: its kind is checked when read.  Prints the first problem naming the
** file and returns 1, or returns 0.  Free the lists with
** ns_cli_inputs_free() either way. */
int ns_cli_check_inputs(ns_cli_input *in, size_t n);
void ns_cli_inputs_free(ns_cli_input *in, size_t n);

#endif
