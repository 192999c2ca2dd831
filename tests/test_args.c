/*
** tests/test_args.c -- the subcommands' argv parser (tools/args.c): every
** syntax it accepts returns the same options and arguments in order, and
** every usage error stops with status 2.  (Messages and the real commands:
** tests/e2e/cli_args.sh.)
*/
#include <stdio.h>
#include <string.h>

#include "harness.h"

#include "../tools/cli.h"

enum { O_DB = 1, O_JSON, O_OUT, O_QUIET };
static const ns_opt opts[] = {{"db", 0, 1, O_DB},
                              {"json", 0, 0, O_JSON},
                              {"out", 'o', 1, O_OUT},
                              {"quiet", 'q', 0, O_QUIET},
                              {0, 0, 0, 0}};

/* Parses argv (NULL-terminated, argv[0] = "cmd") and renders what came
** back as "id=value ..." ("A=x" for an argument, "EXIT:status" at the end
** when the parser stopped).  Parser messages go to /dev/null. */
static const char *parse(char **argv, int numbers_are_args) {
  static char out[512];
  ns_args a;
  int argc = 0, c;
  size_t n = 0;
  FILE *saved = stderr, *saved_out = stdout;
  while (argv[argc]) argc++;
  stderr = fopen("/dev/null", "w");
  stdout = stderr;
  ns_args_init(&a, "cmd", opts, NULL, argc, argv);
  a.numbers_are_args = numbers_are_args;
  out[0] = '\0';
  while ((c = ns_args_next(&a)) != NS_ARGS_END) {
    if (c == NS_ARGS_EXIT) {
      n += (size_t)snprintf(out + n, sizeof out - n, "EXIT:%d", a.status);
      break;
    }
    if (c == NS_ARGS_ARG) n += (size_t)snprintf(out + n, sizeof out - n, "A=%s ", a.val);
    else if (a.val) n += (size_t)snprintf(out + n, sizeof out - n, "%d=%s ", c, a.val);
    else n += (size_t)snprintf(out + n, sizeof out - n, "%d ", c);
  }
  fclose(stderr);
  stderr = saved;
  stdout = saved_out;
  return out;
}

#define ARGV(...) ((char *[]){"cmd", __VA_ARGS__, NULL})

TEST(args_value_forms) {
  /* --opt VALUE, --opt=VALUE, -o VALUE, -oVALUE: the same option */
  ASSERT_STREQ(parse(ARGV("--db", "x.db", "--db=y.db", "-o", "d1", "-od2"), 0),
               "1=x.db 1=y.db 3=d1 3=d2 ");
  /* a value may start with '-' or be empty; "=" inside a value stays */
  ASSERT_STREQ(parse(ARGV("--db", "-weird", "--db=", "--out=a=b"), 0), "1=-weird 1= 3=a=b ");
}

TEST(args_clusters_and_arguments) {
  /* flags cluster; a value option takes the rest of the cluster or the next word */
  ASSERT_STREQ(parse(ARGV("-qo", "dir", "-qqodir2"), 0), "4 3=dir 4 4 3=dir2 ");
  /* arguments interleave and keep their order; "-" is an argument */
  ASSERT_STREQ(parse(ARGV("a", "--json", "b", "-", "--db", "x"), 0), "A=a 2 A=b A=- 1=x ");
  /* "--" ends the options */
  ASSERT_STREQ(parse(ARGV("--json", "--", "--db", "-q"), 0), "2 A=--db A=-q ");
  /* "-5": an option unless the command takes negative numbers */
  ASSERT_STREQ(parse(ARGV("-5"), 0), "EXIT:2");
  ASSERT_STREQ(parse(ARGV("-5", "--json"), 1), "A=-5 2 ");
}

TEST(args_errors_and_builtins) {
  ASSERT_STREQ(parse(ARGV("--json", "--nope"), 0), "2 EXIT:2");    /* unknown long */
  ASSERT_STREQ(parse(ARGV("-x"), 0), "EXIT:2");                    /* unknown short */
  ASSERT_STREQ(parse(ARGV("-qx"), 0), "4 EXIT:2");                 /* ... inside a cluster */
  ASSERT_STREQ(parse(ARGV("--db"), 0), "EXIT:2");                  /* value missing */
  ASSERT_STREQ(parse(ARGV("-q", "-o"), 0), "4 EXIT:2");
  ASSERT_STREQ(parse(ARGV("--json=1"), 0), "EXIT:2");              /* a flag with a value */
  ASSERT_STREQ(parse(ARGV("--js"), 0), "EXIT:2");                  /* no abbreviations */
  ASSERT_STREQ(parse(ARGV("--jsonx"), 0), "EXIT:2");
  /* -h/--help and -V/--version: status 0, parsing stops there */
  ASSERT_STREQ(parse(ARGV("--json", "-V", "--nope"), 0), "2 EXIT:0");
  ASSERT_STREQ(parse(ARGV("--version"), 0), "EXIT:0");
  ASSERT_STREQ(parse(ARGV("-qh"), 0), "4 EXIT:0");
  ASSERT_STREQ(parse(ARGV("--help=x"), 0), "EXIT:2");
  /* nothing at all */
  ASSERT_STREQ(parse((char *[]){"cmd", NULL}, 0), "");
}
