/*
** tools/cli.h -- the notescore subcommands.  Each ns_cmd_* parses its own
** argv (argv[0] is the subcommand name), prints `--help`, and returns the
** process exit status (0 ok, 1 failure, 2 usage error).  Errors are printed
** as "notescore: FILE:LINE: what is wrong" (or without FILE:LINE when no
** file is involved).
*/
#ifndef NS_CLI_H
#define NS_CLI_H

#include <stddef.h>

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
** a directory has *.tsv files (compressed files are named as such), every
** file's header is of the wanted kind, and no file is given twice (by
** real path, across all inputs).  Prints the first problem naming the
** file and returns 1, or returns 0.  Free the lists with
** ns_cli_inputs_free() either way. */
int ns_cli_check_inputs(ns_cli_input *in, size_t n);
void ns_cli_inputs_free(ns_cli_input *in, size_t n);

#endif
