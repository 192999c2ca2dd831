/*
** tools/cmd_serve.c -- `notescore serve`: option parsing for the daemon
** (server/server.h does the work).  Runs on the main thread, which becomes
** the server's loop thread until SIGTERM/SIGINT.  Before the server starts,
** the DB is checked (tools/cli_util.c) and the exclusive serve lock taken:
** a second `serve` on the same DB exits 1 naming the holder's pid.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "../base/base.h"
#include "../server/server.h"
#include "cli.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: notescore serve --db DB [OPTIONS]\n"
          "\n"
          "The daemon: HTTP ingest of ratings, notes and enrollment (NDJSON or TSV\n"
          "bodies, acknowledged once durable), reads of note statuses and runs,\n"
          "/healthz and /metrics, and scheduled scoring runs.  See docs/api.md.\n"
          "\n"
          "options:\n"
          "  --db DB                 the SQLite database (created if absent); one serve\n"
          "                          per DB (lock file DB.serve.lock)\n"
          "  --listen ADDR:PORT      listen address (127.0.0.1:8080; port 0 = any free port)\n"
          "  --port-file FILE        write the bound port to FILE once listening\n"
          "  --score-every SECONDS   a full scoring run every SECONDS (0 = off)\n"
          "  --refresh-every SECONDS note refresh between runs (0 = off)\n"
          "  --token-file FILE       require 'Authorization: Bearer <token>' on writes;\n"
          "                          the token is the first line of FILE (at most 4096 bytes)\n"
          "  --max-body BYTES        largest request body (8388608)\n"
          "  --queue-max N           ingest requests in flight before 503 (64)\n"
          "  --max-conns N           open connections (256)\n"
          "  --idle-timeout SECONDS  close idle keep-alive connections (60)\n"
          "  --request-timeout SECONDS  a request must arrive within (30)\n"
          "  --header-timeout SECONDS   a new connection must send a byte within (10)\n"
          "  --max-reads N           reads running at once; more are answered 503 (2)\n"
          "  --max-db-bytes BYTES    the DB may not grow past BYTES; ingest then gets 507\n"
          "  --keep-runs N           keep the score rows of the newest N (>= 2) published\n"
          "                          runs; older runs' rows are deleted in the background\n"
          "                          after each run (0 = keep all, the default)\n"
          "  --log-format FORMAT     logfmt (default) or json: one timestamped line per\n"
          "                          run, refresh, error and start/stop on stderr\n"
          "  -v, --verbose           debug lines too\n"
          "  -h, --help              this text\n");
}

/* Takes the exclusive serve lock of db: flock(LOCK_EX) on DB.serve.lock,
** held (fd open) for the life of the process, released by the kernel on
** any exit, crash included.  The file records the holder's pid.  Only
** `serve` takes it: import, score --db, explain and report work beside a
** running server (SQLite WAL).  Returns the fd, or -1 after printing why. */
static int serve_lock(const char *db) {
  char path[4096], pid[32] = "";
  int fd;
  ssize_t n;
  if ((size_t)snprintf(path, sizeof path, "%s.serve.lock", db) >= sizeof path) {
    fprintf(stderr, "notescore: %s: path too long\n", db);
    return -1;
  }
  if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
    fprintf(stderr, "notescore: %s: cannot create the serve lock %s: %s\n", db, path,
            strerror(errno));
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    if (e == EWOULDBLOCK) {
      n = pread(fd, pid, sizeof pid - 1, 0);
      pid[n > 0 ? n : 0] = '\0';
      pid[strcspn(pid, "\n")] = '\0';
      fprintf(stderr, "notescore: %s: already served by another `notescore serve`%s%s%s "
                      "(lock %s); one server per database\n",
              db, pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "", path);
    } else {
      fprintf(stderr, "notescore: %s: cannot lock %s: %s\n", db, path, strerror(e));
    }
    close(fd);
    return -1;
  }
  n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
    ns_warn("serve: %s: cannot record the pid: %s", path, strerror(errno));
  return fd;
}

/* Reads the whole first line of path as the token (trailing whitespace
** cut; no length limit here: ns_server_run() refuses a token that is too
** long, with a message, instead of cutting it). */
static char *read_token(const char *path) {
  FILE *f = fopen(path, "r");
  char *buf = NULL;
  size_t cap = 0;
  ssize_t n;
  if (!f) return NULL;
  n = getline(&buf, &cap, f);
  fclose(f);
  if (n < 0) {
    free(buf);
    return NULL;
  }
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
    buf[--n] = '\0';
  if (n == 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

int ns_cmd_serve(int argc, char **argv) {
  ns_server_opts o;
  const char *token_file = NULL;
  char *token = NULL;
  unsigned long long u;
  double d;
  int rc, lock_fd, log_format = NS_LOG_LOGFMT;

  ns_server_opts_default(&o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE                                                            \
  do {                                                                        \
    if (!v) {                                                                 \
      fprintf(stderr, "notescore: serve: %s needs a value\n", a);             \
      return 2;                                                               \
    }                                                                         \
    i++;                                                                      \
  } while (0)
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
    else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) ns_log_set_level(NS_LOG_DEBUG);
    else if (!strcmp(a, "--log-format")) {
      NEED_VALUE;
      if ((log_format = ns_log_format_parse(v)) < 0 || log_format == NS_LOG_PLAIN) {
        fprintf(stderr, "notescore: serve: --log-format must be logfmt or json, not '%s'\n", v);
        return 2;
      }
    } else if (!strcmp(a, "--keep-runs")) {
      NEED_VALUE;
      if (ns_cli_u64(a, v, &u)) return 2;
      if (u == 1 || u > 1000000) {
        fprintf(stderr, "notescore: serve: --keep-runs must be 0 (keep all) or 2 to 1000000: "
                        "a note refresh compares with the previous published run\n");
        return 2;
      }
      o.keep_runs = (int)u;
    }
    else if (!strcmp(a, "--db")) { NEED_VALUE; o.db_path = v; }
    else if (!strcmp(a, "--listen")) { NEED_VALUE; o.listen = v; }
    else if (!strcmp(a, "--port-file")) { NEED_VALUE; o.port_file = v; }
    else if (!strcmp(a, "--token-file")) { NEED_VALUE; token_file = v; }
    else if (!strcmp(a, "--score-every") || !strcmp(a, "--refresh-every") ||
             !strcmp(a, "--idle-timeout") || !strcmp(a, "--request-timeout") ||
             !strcmp(a, "--header-timeout") || !strcmp(a, "--test-read-delay") ||
             !strcmp(a, "--test-commit-delay")) {
      NEED_VALUE;
      if (ns_cli_double(a, v, &d) || d < 0) {
        if (d < 0) fprintf(stderr, "notescore: serve: %s must be >= 0\n", a);
        return 2;
      }
      if (!strcmp(a, "--score-every")) o.score_every_s = d;
      else if (!strcmp(a, "--refresh-every")) o.refresh_every_s = d;
      else if (!strcmp(a, "--idle-timeout")) o.idle_timeout_s = d;
      else if (!strcmp(a, "--request-timeout")) o.request_timeout_s = d;
      else if (!strcmp(a, "--header-timeout")) o.header_timeout_s = d;
      else if (!strcmp(a, "--test-read-delay")) o.test_read_delay_s = d;   /* hidden: tests */
      else o.test_commit_delay_s = d;   /* hidden: tests of 503 and draining */
    } else if (!strcmp(a, "--max-body") || !strcmp(a, "--queue-max") || !strcmp(a, "--max-conns") ||
               !strcmp(a, "--max-reads") || !strcmp(a, "--max-db-bytes")) {
      NEED_VALUE;
      if (ns_cli_u64(a, v, &u)) return 2;
      if (u == 0) {
        fprintf(stderr, "notescore: serve: %s must be positive\n", a);
        return 2;
      }
      if (!strcmp(a, "--max-body")) o.max_body = (size_t)u;
      else if (!strcmp(a, "--queue-max")) o.queue_max = (size_t)u;
      else if (!strcmp(a, "--max-reads")) o.max_reads = (size_t)u;
      else if (!strcmp(a, "--max-db-bytes")) o.max_db_bytes = u;
      else o.max_conns = (size_t)u;
    } else {
      fprintf(stderr, "notescore: serve: unknown option '%s'\n", a);
      usage(stderr);
      return 2;
    }
#undef NEED_VALUE
  }
  if (!o.db_path) {
    fprintf(stderr, "notescore: serve: --db is required\n");
    usage(stderr);
    return 2;
  }
  if (token_file && !(token = read_token(token_file))) {
    fprintf(stderr, "notescore: %s: cannot read a token from this file\n", token_file);
    return 1;
  }
  if (ns_cli_check_db(o.db_path, 0) != 0 || (lock_fd = serve_lock(o.db_path)) < 0) {
    free(token);
    return 1;
  }
  o.token = token;
  /* from here on the daemon's lines: timestamped, one record per line */
  ns_log_set_format(log_format);
  rc = ns_server_run(&o);
  free(token);
  close(lock_fd);
  if (rc != 0) {
    ns_error("serve: %s", ns_strerror(rc));
    return 1;
  }
  return 0;
}
