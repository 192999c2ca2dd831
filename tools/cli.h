/*
** tools/cli.h -- the notescore subcommands.  Each ns_cmd_* parses its own
** argv (argv[0] is the subcommand name), prints `--help`, and returns the
** process exit status (0 ok, 1 failure, 2 usage error).  Errors are printed
** as "notescore: FILE:LINE: what is wrong" (or without FILE:LINE when no
** file is involved).
*/
#ifndef NS_CLI_H
#define NS_CLI_H

#include "../base/base.h" /* NS_VERSION */

int ns_cmd_import(int argc, char **argv);
int ns_cmd_export(int argc, char **argv);
int ns_cmd_score(int argc, char **argv);
int ns_cmd_serve(int argc, char **argv);
int ns_cmd_explain(int argc, char **argv);
int ns_cmd_report(int argc, char **argv);
int ns_cmd_gen(int argc, char **argv);
int ns_cmd_eval(int argc, char **argv);
int ns_cmd_compare(int argc, char **argv);

/* Helpers shared by the subcommands (tools/cli_util.c). */
/* Parses a non-negative integer option value; returns 0 or prints an error
** naming the option and returns 2. */
int ns_cli_u64(const char *opt, const char *val, unsigned long long *out);
int ns_cli_i64(const char *opt, const char *val, long long *out);
int ns_cli_double(const char *opt, const char *val, double *out);

#endif
