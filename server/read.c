/*
** server/read.c -- the read endpoints, answered off the loop thread.
**
** GET /v1/notes/{id}, /v1/runs, /v1/runs/latest and the DB part of
** /metrics run as uv_queue_work items: each opens its own read-only SQLite
** connection (WAL: readers never wait for the writer and see the last
** committed state), runs one parameterized query and renders the rows as
** JSON.  Rows are rendered generically (column name -> value by SQLite
** type), so the answers follow the store's documented views without a
** second copy of their column lists here.
**
** Opening a connection per request costs ~0.1 ms; reads are rare next to
** ingest, so a connection pool would buy nothing worth its locking.
**
** Threads: ns__read_work() runs on a libuv worker; it touches only its
** ns__read.
*/
#include "read.h"

#include "../base/dataset.h"
#include "../base/rules.h"
#include "../dash/dash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

/* The store's schema v1 (store/store.c): note_scores of the current run,
** the run_summary and current_note_status views.  Column aliases are the
** JSON field names of docs/api.md. */
#define SQL_NOTE                                                              \
  "SELECT s.note_id AS noteId, s.run_id AS runId, s.final_status AS status, "  \
  "s.decided_by AS decidedBy, s.core_status AS coreStatus, "                  \
  "s.intercept, s.factor, s.intercept_r1 AS interceptRound1, "               \
  "s.factor_r1 AS factorRound1, s.intercept_min AS interceptMin, "           \
  "s.intercept_max AS interceptMax, s.first_tag AS firstTag, "               \
  "s.second_tag AS secondTag, s.num_ratings AS numRatings, "                 \
  "s.core_rules AS coreRules, s.meta_rules AS metaRules, "                   \
  "r.finished_ms AS scoredAtMillis "                                         \
  "FROM current_run c JOIN note_scores s ON s.run_id = c.run_id "            \
  "JOIN runs r ON r.run_id = c.run_id WHERE s.note_id = ?1"
#define SQL_RUNS "SELECT * FROM run_summary ORDER BY run_id DESC LIMIT 100"
#define SQL_RUN_LATEST "SELECT * FROM run_summary WHERE is_current = 1"
#define SQL_STATUS_COUNTS \
  "SELECT status, count(*) FROM current_note_status GROUP BY 1"
#define SQL_LAST_RUNS \
  "SELECT status, (finished_ms - started_ms) / 1000.0 FROM runs " \
  "WHERE finished_ms IS NOT NULL ORDER BY run_id DESC LIMIT 1"

static json_t *row_json(sqlite3_stmt *st) {
  json_t *o = json_object();
  int n = sqlite3_column_count(st);
  for (int i = 0; o && i < n; i++) {
    const char *name = sqlite3_column_name(st, i);
    json_t *v;
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: {
      /* ids above 2^53 lose precision as JSON numbers in most clients:
      ** columns that hold ids are also given as strings */
      sqlite3_int64 x = sqlite3_column_int64(st, i);
      if ((x > (1LL << 53) || x < -(1LL << 53)) && strstr(name, "Id")) {
        char b[24];
        snprintf(b, sizeof b, "%lld", (long long)x);
        v = json_string(b);
      } else {
        v = json_integer(x);
      }
      break;
    }
    case SQLITE_FLOAT: v = json_real(sqlite3_column_double(st, i)); break;
    case SQLITE_NULL: v = json_null(); break;
    default: v = json_stringn((const char *)sqlite3_column_text(st, i),
                              (size_t)sqlite3_column_bytes(st, i));
             if (!v) v = json_null();   /* not valid UTF-8: show as null */
             break;
    }
    json_object_set_new(o, name, v);
  }
  return o;
}

/* Adds "rules": the names of the bits in coreRules | metaRules. */
static void add_rule_names(json_t *o) {
  json_int_t bits = json_integer_value(json_object_get(o, "coreRules")) |
                    json_integer_value(json_object_get(o, "metaRules"));
  json_t *names = json_array();
  for (int i = 0; names && i < NS_RULE_COUNT; i++)
    if (bits & ((json_int_t)1 << i)) json_array_append_new(names, json_string(ns_rule_names[i]));
  json_object_set_new(o, "rules", names);
}

static int open_ro(const char *path, sqlite3 **db) {
  int rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc == SQLITE_OK) sqlite3_busy_timeout(*db, 2000);
  return rc;
}

static void set_body(ns__read *r, int status, json_t *j) {
  r->status = status;
  r->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (!r->body) {
    r->status = 500;
    r->body = ns_strdup("{\"error\":\"out of memory\"}");
  }
}

static void set_error(ns__read *r, int status, const char *msg) {
  set_body(r, status, json_pack("{s:s}", "error", msg));
}

static void read_json(ns__read *r, sqlite3 *db) {
  const char *sql = r->route == NS_ROUTE_NOTE ? SQL_NOTE
                    : r->route == NS_ROUTE_RUNS ? SQL_RUNS : SQL_RUN_LATEST;
  sqlite3_stmt *st = NULL;
  json_t *arr = NULL, *one = NULL;
  int rc;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    /* no score tables yet (fresh DB before the first run) */
    set_error(r, 503, sqlite3_errmsg(db));
    goto out;
  }
  if (r->route == NS_ROUTE_NOTE) sqlite3_bind_int64(st, 1, r->note_id);
  if (r->route == NS_ROUTE_RUNS) arr = json_array();
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (arr) json_array_append_new(arr, row_json(st));
    else if (!one) one = row_json(st);
  }
  if (one && r->route == NS_ROUTE_NOTE) add_rule_names(one);
  if (rc != SQLITE_DONE) {
    set_error(r, 500, sqlite3_errmsg(db));
    json_decref(arr);
    json_decref(one);
  } else if (arr) {
    set_body(r, 200, json_pack("{s:o}", "runs", arr));
  } else if (one) {
    set_body(r, 200, one);
  } else {
    set_error(r, 404, r->route == NS_ROUTE_NOTE ? "note not scored (or unknown)"
                                                : "no published run yet");
  }
out:
  sqlite3_finalize(st);
}

/* Appends the DB-derived metrics to r->prefix (the loop's counters). */
static void read_metrics(ns__read *r, sqlite3 *db) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  sqlite3_stmt *st = NULL;
  if (!f) {
    set_error(r, 500, "out of memory");
    return;
  }
  fputs(r->prefix ? r->prefix : "", f);
  fputs("# HELP notescore_notes_by_status Notes by final status in the latest published run.\n"
        "# TYPE notescore_notes_by_status gauge\n", f);
  if (db && sqlite3_prepare_v2(db, SQL_STATUS_COUNTS, -1, &st, NULL) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      const char *s = (const char *)sqlite3_column_text(st, 0);
      char clean[64];
      size_t k = 0;
      /* label values: keep [A-Za-z0-9_] only, nothing to escape */
      for (; s && *s && k + 1 < sizeof clean; s++)
        if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')
          clean[k++] = *s;
      clean[k] = '\0';
      fprintf(f, "notescore_notes_by_status{status=\"%s\"} %lld\n", clean,
              (long long)sqlite3_column_int64(st, 1));
    }
  }
  sqlite3_finalize(st);
  st = NULL;
  fputs("# HELP notescore_last_run_seconds Duration of the latest finished scoring run.\n"
        "# TYPE notescore_last_run_seconds gauge\n", f);
  if (db && sqlite3_prepare_v2(db, SQL_LAST_RUNS, -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    fprintf(f, "notescore_last_run_seconds %.3f\n", sqlite3_column_double(st, 1));
  sqlite3_finalize(st);
  fclose(f);
  r->status = 200;
  r->body = buf;
}

/* The cache key of the DB side: current_run and the newest run id (a run
** published or failed by another process changes one of them). */
static void dash_key(sqlite3 *db, int64_t *cur, int64_t *last) {
  sqlite3_stmt *st = NULL;
  *cur = *last = -1;
  if (sqlite3_prepare_v2(db,
                         "SELECT (SELECT run_id FROM current_run), (SELECT max(run_id) FROM runs)",
                         -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    *cur = sqlite3_column_type(st, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 0);
    *last = sqlite3_column_type(st, 1) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 1);
  }
  sqlite3_finalize(st);
}

/* GET /dashboard: the same page as `notescore report` (dash_report.c),
** rendered once per run (see ns__dash_cache). */
static void read_dashboard(ns__read *r, sqlite3 *db) {
  ns__dash_cache *k = r->cache;
  char *buf = NULL;
  size_t len = 0;
  int64_t cur, last;
  FILE *f;
  int rc;
  dash_key(db, &cur, &last);
  if (k && cur >= 0) {
    uv_mutex_lock(&k->mu);
    if (k->html && k->current_run == cur && k->last_run == last &&
        k->generation == r->generation)
      r->body = ns_strdup(k->html);
    uv_mutex_unlock(&k->mu);
    if (r->body) {
      r->status = 200;
      return;
    }
  }
  f = open_memstream(&buf, &len);
  rc = f ? ns_report_html(db, f, NULL) : NS_ENOMEM;
  if (f) fclose(f);
  if (rc != 0) {
    free(buf);
    set_error(r, rc == NS_EBUSY ? 503 : 500, "report failed");
    return;
  }
  if (k && cur >= 0) {
    char *copy = ns_strdup(buf);   /* no memory: simply not cached */
    if (copy) {
      uv_mutex_lock(&k->mu);
      free(k->html);
      k->html = copy;
      k->current_run = cur;
      k->last_run = last;
      k->generation = r->generation;
      uv_mutex_unlock(&k->mu);
    }
  }
  r->status = 200;
  r->body = buf;
  r->rendered = 1;
}

void ns__read_work(ns__read *r) {
  sqlite3 *db = NULL;
  if (r->test_delay_s > 0 && r->route != NS_ROUTE_METRICS)
    uv_sleep((unsigned)(r->test_delay_s * 1000.0));
  if (open_ro(r->db_path, &db) != SQLITE_OK) {
    if (r->route == NS_ROUTE_METRICS) read_metrics(r, NULL);
    else set_error(r, 503, "database not readable");
    goto out;
  }
  if (r->route == NS_ROUTE_METRICS) read_metrics(r, db);
  else if (r->route == NS_ROUTE_DASHBOARD) read_dashboard(r, db);
  else read_json(r, db);
out:
  sqlite3_close(db);
}

void ns__read_free(ns__read *r) {
  if (!r) return;
  free(r->body);
  free(r->prefix);
  free(r);
}
