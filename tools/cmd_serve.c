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
          "  -h, --help              this text\n"
          "  -V, --version           print the version\n");
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

  enum {
    O_DB = 1, O_LISTEN, O_PORT_FILE, O_TOKEN_FILE, O_VERBOSE, O_LOG_FORMAT, O_KEEP_RUNS,
    /* seconds, >= 0 */
    O_SCORE_EVERY, O_REFRESH_EVERY, O_IDLE_TIMEOUT, O_REQUEST_TIMEOUT, O_HEADER_TIMEOUT,
    O_TEST_READ_DELAY, O_TEST_COMMIT_DELAY,
    /* counts and sizes, > 0 */
    O_MAX_BODY, O_QUEUE_MAX, O_MAX_CONNS, O_MAX_READS, O_MAX_DB_BYTES
  };
  static const ns_opt opts[] = {
      {"db", 0, 1, O_DB},
      {"listen", 0, 1, O_LISTEN},
      {"port-file", 0, 1, O_PORT_FILE},
      {"token-file", 0, 1, O_TOKEN_FILE},
      {"verbose", 'v', 0, O_VERBOSE},
      {"log-format", 0, 1, O_LOG_FORMAT},
      {"keep-runs", 0, 1, O_KEEP_RUNS},
      {"score-every", 0, 1, O_SCORE_EVERY},
      {"refresh-every", 0, 1, O_REFRESH_EVERY},
      {"idle-timeout", 0, 1, O_IDLE_TIMEOUT},
      {"request-timeout", 0, 1, O_REQUEST_TIMEOUT},
      {"header-timeout", 0, 1, O_HEADER_TIMEOUT},
      {"test-read-delay", 0, 1, O_TEST_READ_DELAY},       /* hidden: tests of slow reads */
      {"test-commit-delay", 0, 1, O_TEST_COMMIT_DELAY},   /* hidden: tests of 503 and draining */
      {"max-body", 0, 1, O_MAX_BODY},
      {"queue-max", 0, 1, O_QUEUE_MAX},
      {"max-conns", 0, 1, O_MAX_CONNS},
      {"max-reads", 0, 1, O_MAX_READS},
      {"max-db-bytes", 0, 1, O_MAX_DB_BYTES},
      {0, 0, 0, 0}};
  ns_args a;
  int c;

  ns_server_opts_default(&o);
  ns_args_init(&a, "serve", opts, usage, argc, argv);
  while ((c = ns_args_next(&a)) != NS_ARGS_END) {
    if (c == NS_ARGS_EXIT) return a.status;
    if (c == NS_ARGS_ARG) {
      ns_args_unexpected(&a);
      return 2;
    }
    if (c >= O_SCORE_EVERY && c <= O_TEST_COMMIT_DELAY) {
      if (ns_cli_double(a.opt, a.val, &d)) return 2;
      if (d < 0) {
        fprintf(stderr, "notescore: serve: %s must be >= 0\n", a.opt);
        return 2;
      }
    } else if (c >= O_MAX_BODY) {
      if (ns_cli_u64(a.opt, a.val, &u)) return 2;
      if (u == 0) {
        fprintf(stderr, "notescore: serve: %s must be positive\n", a.opt);
        return 2;
      }
    }
    switch (c) {
    case O_DB: o.db_path = a.val; break;
    case O_LISTEN: o.listen = a.val; break;
    case O_PORT_FILE: o.port_file = a.val; break;
    case O_TOKEN_FILE: token_file = a.val; break;
    case O_VERBOSE: ns_log_set_level(NS_LOG_DEBUG); break;
    case O_LOG_FORMAT:
      if ((log_format = ns_log_format_parse(a.val)) < 0 || log_format == NS_LOG_PLAIN) {
        fprintf(stderr, "notescore: serve: --log-format must be logfmt or json, not '%s'\n", a.val);
        return 2;
      }
      break;
    case O_KEEP_RUNS:
      if (ns_cli_u64(a.opt, a.val, &u)) return 2;
      if (u == 1 || u > 1000000) {
        fprintf(stderr, "notescore: serve: --keep-runs must be 0 (keep all) or 2 to 1000000: "
                        "a note refresh compares with the previous published run\n");
        return 2;
      }
      o.keep_runs = (int)u;
      break;
    case O_SCORE_EVERY: o.score_every_s = d; break;
    case O_REFRESH_EVERY: o.refresh_every_s = d; break;
    case O_IDLE_TIMEOUT: o.idle_timeout_s = d; break;
    case O_REQUEST_TIMEOUT: o.request_timeout_s = d; break;
    case O_HEADER_TIMEOUT: o.header_timeout_s = d; break;
    case O_TEST_READ_DELAY: o.test_read_delay_s = d; break;
    case O_TEST_COMMIT_DELAY: o.test_commit_delay_s = d; break;
    case O_MAX_BODY: o.max_body = (size_t)u; break;
    case O_QUEUE_MAX: o.queue_max = (size_t)u; break;
    case O_MAX_CONNS: o.max_conns = (size_t)u; break;
    case O_MAX_READS: o.max_reads = (size_t)u; break;
    case O_MAX_DB_BYTES: o.max_db_bytes = u; break;
    }
  }
  if (!o.db_path) {
    ns_args_error(&a, "--db is required");
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
