/*
** tests/runner.c -- runs every TEST() and every e2e script (tests/e2e, *.sh), each
** in its own process with a timeout, and prints `N passed, N failed` last.
**
**   build/test_runner [-k SUBSTRING]... [-v] [--list]
**
** With -k, only the tests whose name contains one of the SUBSTRINGs run
** (`make check SAN=thread` picks its tests so).
** NS_TEST_TIMEOUT (seconds, default 300) bounds each test; e2e scripts get
** the same bound.  Exit status is 0 only if nothing failed.
*/

#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NS_TEST_ENTRY(name) void ns_test_##name(void);
#include "test-list.h"
#undef NS_TEST_ENTRY

typedef struct { const char *name; void (*fn)(void); } test_entry;
static const test_entry tests[] = {
#define NS_TEST_ENTRY(name) {#name, ns_test_##name},
#include "test-list.h"
#undef NS_TEST_ENTRY
};

static char tmpdir_buf[4096];
static const char *cur_name = "";

const char *ns_test_tmpdir(void) {
  const char *base = getenv("TMPDIR");
  if (!base) base = "/tmp";
  snprintf(tmpdir_buf, sizeof tmpdir_buf, "%s/nstest-%s-%d", base, cur_name, (int)getpid());
  ns_test_sh("rm -rf '%s' && mkdir -p '%s'", tmpdir_buf, tmpdir_buf);
  return tmpdir_buf;
}

const char *ns_test_bin(void) {
  const char *b = getenv("NS_BIN");
  return b ? b : "build/notescore";
}

int ns_test_sh(const char *fmt, ...) {
  char cmd[8192];
  va_list ap;
  int st;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  st = system(cmd);
  if (st == -1) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

char *ns_test_slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  long n;
  if (!f) return NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
      buf[n] = '\0';
      if (len) *len = (size_t)n;
    } else {
      free(buf);
      buf = NULL;
    }
  }
  fclose(f);
  return buf;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Runs fn (a C test) or script (an e2e test) in a child; 1 = pass. */
static int run_one(const char *name, void (*fn)(void), const char *script, int timeout, int verbose) {
  double t0 = now_s();
  pid_t pid = fork();
  int st = 0, pass;
  if (pid == 0) {
    setpgid(0, 0);
    alarm((unsigned)timeout);
    cur_name = name;
    if (!verbose && !getenv("NS_TEST_VERBOSE")) {
      /* keep the output readable: a test's own stdout goes away, stderr stays */
      if (!freopen("/dev/null", "w", stdout)) _exit(99);
    }
    if (fn) {
      fn();
      _exit(0);
    }
    execl("/bin/bash", "bash", script, (char *)NULL);
    _exit(127);
  }
  if (pid < 0) return 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  kill(-pid, SIGKILL); /* reap anything the test left behind */
  pass = WIFEXITED(st) && WEXITSTATUS(st) == 0;
  if (pass)
    printf("PASS %-40s %6.2fs\n", name, now_s() - t0);
  else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
    printf("FAIL %-40s timeout after %ds\n", name, timeout);
  else if (WIFSIGNALED(st))
    printf("FAIL %-40s killed by signal %d\n", name, WTERMSIG(st));
  else
    printf("FAIL %-40s exit %d\n", name, WEXITSTATUS(st));
  fflush(stdout);
  return pass;
}

/* 1 when name matches one of the n filters (or there are none). */
static int selected(const char *name, const char *const *filter, int n) {
  if (n == 0) return 1;
  for (int i = 0; i < n; i++)
    if (strstr(name, filter[i])) return 1;
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  const char *filter[64];
  int n_filter = 0, verbose = 0, list = 0, timeout = 300, passed = 0, failed = 0;
  const char *e = getenv("NS_TEST_TIMEOUT");
  char *scripts[512];
  size_t nscripts = 0;
  DIR *d;
  struct dirent *de;

  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-k") && i + 1 < argc && n_filter < (int)NS_ARRAY_LEN(filter))
      filter[n_filter++] = argv[++i];
    else if (!strcmp(argv[i], "-v")) verbose = 1;
    else if (!strcmp(argv[i], "--list")) list = 1;
    else {
      fprintf(stderr, "usage: %s [-k SUBSTRING]... [-v] [--list]\n", argv[0]);
      return 2;
    }
  }
  if (e && atoi(e) > 0) timeout = atoi(e);
  setenv("NS_NO_PROGRESS", "1", 1);

  if ((d = opendir("tests/e2e")) != NULL) {
    while ((de = readdir(d)) != NULL && nscripts < NS_ARRAY_LEN(scripts)) {
      size_t n = strlen(de->d_name);
      if (n > 3 && !strcmp(de->d_name + n - 3, ".sh")) scripts[nscripts++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(scripts, nscripts, sizeof *scripts, cmp_str);
  }

  for (size_t i = 0; i < NS_ARRAY_LEN(tests); i++) {
    if (!selected(tests[i].name, filter, n_filter)) continue;
    if (list) { printf("%s\n", tests[i].name); continue; }
    if (run_one(tests[i].name, tests[i].fn, NULL, timeout, verbose)) passed++;
    else failed++;
  }
  for (size_t i = 0; i < nscripts; i++) {
    char name[300], path[600];
    snprintf(name, sizeof name, "e2e/%.*s", (int)(strlen(scripts[i]) - 3), scripts[i]);
    snprintf(path, sizeof path, "tests/e2e/%s", scripts[i]);
    if (!selected(name, filter, n_filter)) { free(scripts[i]); continue; }
    if (list) printf("%s\n", name);
    else if (run_one(name, NULL, path, timeout, verbose)) passed++;
    else failed++;
    free(scripts[i]);
  }
  if (list) return 0;
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
